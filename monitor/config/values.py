"""Value types of the config: durations, sizes, rates, hours, addresses, zones.

Each parser raises ValueError with a message that shows the expected form;
pydantic reports it at the key's path.
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from typing import Annotated
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pydantic
from pydantic import BeforeValidator, Field

_DURATION_PART = re.compile(r"(\d+)\s*(ms|s|m|h|d|w)")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE = re.compile(r"(\d+)\s*(B|KiB|MiB|GiB|KB|MB|GB)?", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kib": 1024, "mib": 1024**2, "gib": 1024**3,
               "kb": 1000, "mb": 1000**2, "gb": 1000**3}
MAX_DURATION = timedelta(days=3650)


def parse_duration(value: object) -> timedelta:
    """`30s`, `15m`, `1h`, `1d`, `1h30m` (or a number of seconds) → timedelta."""
    if isinstance(value, timedelta):
        return value
    seconds = _seconds(value)
    # Checked before timedelta() sees it (which overflows past 999999999d), and
    # low enough that `now + duration` stays a valid datetime for millennia.
    if not abs(seconds) <= MAX_DURATION.total_seconds():  # NaN too
        raise ValueError(f"{value!r} is longer than the longest duration, 3650d")
    return timedelta(seconds=seconds)


def _seconds(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if not isinstance(value, str):
        raise ValueError("a duration is a string such as '30s', '15m', '1h' or '1d'")
    text = value.strip().lower()
    parts = _DURATION_PART.findall(text)
    if not parts or _DURATION_PART.sub("", text).strip():
        raise ValueError(f"{value!r} is not a duration; write e.g. '30s', '15m', '1h', '1d'")
    return sum(int(n) * _DURATION_UNITS[u] for n, u in parts)


def format_duration(value: timedelta) -> str:
    """The inverse of parse_duration: 90 minutes → `1h30m`, 0 → `0s`."""
    seconds, parts = value.total_seconds(), []
    for unit in ("d", "h", "m", "s"):
        count, seconds = divmod(seconds, _DURATION_UNITS[unit])
        if count:
            parts.append(f"{count:.0f}{unit}")
    if seconds:
        parts.append(f"{seconds * 1000:.0f}ms")
    return "".join(parts) or "0s"


def format_size(value: int) -> str:
    """The inverse of parse_size for the binary units: 10485760 → `10MiB`."""
    for unit in ("GiB", "MiB", "KiB"):
        count, rest = divmod(value, _SIZE_UNITS[unit.lower()])
        if count and not rest:
            return f"{count}{unit}"
    return str(value)


def parse_size(value: object) -> int:
    """`10MiB`, `512KiB`, `1000000` → bytes."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _SIZE.fullmatch(str(value).strip())
    if not match:
        raise ValueError(f"{value!r} is not a size; write e.g. '10MiB'")
    return int(match[1]) * _SIZE_UNITS[(match[2] or "b").lower()]


def parse_rate(value: object) -> tuple[int, timedelta]:
    """`20/10m` → (20, 10 minutes): at most 20 messages per 10 minutes."""
    if (isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], int)
            and isinstance(value[1], timedelta)):
        value = f"{value[0]}/{int(value[1].total_seconds())}s"  # built in code: check it too
    count, _, period = str(value).partition("/")
    if not count.strip().isdigit() or not period:
        raise ValueError(f"{value!r} is not a rate; write e.g. '20/10m'")
    if int(count) < 1 or parse_duration(period) <= timedelta(0):
        raise ValueError(f"{value!r}: a rate needs at least 1 message per a positive period")
    return int(count), parse_duration(period)


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than 0s")
    return value


def _a_day_or_more(value: timedelta) -> timedelta:
    # Pruning sooner would forget items their feeds still list between polls.
    if value < timedelta(days=1):
        raise ValueError("must be at least 1d")
    return value


def _check_path(value: str) -> str:
    # The OS cannot take it (ValueError from every path function).
    if "\0" in value:
        raise ValueError("a path cannot hold a NUL character")
    return value


def _check_database(value: str) -> str:
    """A file path (SQLite) or a postgresql:// URL; nothing else is supported."""
    _check_path(value)
    scheme = value.split("://", 1)[0].lower() if "://" in value else ""
    if scheme and scheme not in ("postgresql", "postgres"):
        # No colon or quote in this message: errors on this key are cut there,
        # so that a URL's password can never be echoed (see loader._error_line).
        raise ValueError(f"the {scheme} scheme is not supported; write a file path for "
                         "SQLite or a postgresql URL")
    return value


def parse_quiet_hours(value: object) -> tuple[time, time]:
    """`22:00-07:00` → (22:00, 07:00); the span may cross midnight."""
    start, sep, end = str(value).partition("-")
    try:
        if not sep:
            raise ValueError
        return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a span of hours; write e.g. '22:00-07:00'") from None


def parse_listen(value: str) -> tuple[str, int]:
    """`host:port` (port 0: any free port) → (host, port); `[::1]:9464` works too."""
    host, _, port = value.rpartition(":")
    if not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"{value!r} is not host:port, e.g. '127.0.0.1:9464'")
    return host.strip("[]") or "127.0.0.1", int(port)


def _check_listen(value: str) -> str:
    if value and "${" not in value:  # else checked once substituted (loader)
        parse_listen(value)
    return value


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    # OSError: a name too long for a file name (zoneinfo looks it up as a file).
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {value[:100]!r}") from None
    return value


def _check_feed_url(value: str) -> str:
    scheme = urlsplit(value).scheme.lower()
    if scheme in ("http", "https"):
        if not urlsplit(value).hostname:
            raise ValueError(f"{value!r} has no host")
        return value
    if scheme in ("file", "builtin"):
        return _check_path(value)
    raise ValueError(f"{value!r} is not an http(s), file: or builtin: URL")


def check_public_url(value: str) -> str:
    """`[monitor] public_url`: where hubs reach the callback; an absolute
    http(s) URL with a host, and no query or fragment (paths are appended)."""
    if not value or "${" in value:  # else checked once substituted (loader)
        return value
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an absolute http(s) URL, e.g. "
                         "'https://news.example.org'")
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(f"{value!r}: no user, query or fragment in the public URL")
    return value


# RFC 9110 section 5.1 (a token) and 5.5 (no CR, LF or NUL in a value).
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def header_pairs(value: object) -> tuple[tuple[str, str], ...]:
    """A TOML table of request headers → (name, value) pairs, checked."""
    if isinstance(value, tuple):
        return value
    if not isinstance(value, dict):
        raise ValueError("headers is a table, e.g. { User-Agent = \"Mozilla/5.0\" }")
    for name, text in value.items():
        if not _HEADER_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a header name")
        if not isinstance(text, str) or re.search(r"[\r\n\0]", text):
            raise ValueError(f"header {name}: the value must be one line of text")
    return tuple(value.items())


Headers = Annotated[tuple[tuple[str, str], ...], BeforeValidator(header_pairs)]
Duration = Annotated[timedelta, BeforeValidator(parse_duration),
                     pydantic.AfterValidator(_positive)]
Retention = Annotated[timedelta, BeforeValidator(parse_duration),
                      pydantic.AfterValidator(_a_day_or_more)]
Database = Annotated[str, pydantic.AfterValidator(_check_database)]
Size = Annotated[int, BeforeValidator(parse_size)]
Rate = Annotated[tuple[int, timedelta], BeforeValidator(parse_rate)]
QuietHours = Annotated[tuple[time, time], BeforeValidator(parse_quiet_hours)]
TimeZone = Annotated[str, pydantic.AfterValidator(_check_timezone)]
FeedURL = Annotated[str, pydantic.AfterValidator(_check_feed_url)]
FilePath = Annotated[str, pydantic.AfterValidator(_check_path)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Listen = Annotated[str, pydantic.AfterValidator(_check_listen)]
PublicURL = Annotated[str, pydantic.AfterValidator(check_public_url)]


# Query keys whose values are credentials (issue 14: a feed's `?token=...`
# was shown in WARNING logs and `status --json`): a key naming one of these
# words, whole (`key`, `sig`) or inside it (`access_token`, `X-Api-Key`).
_SECRET_WORDS = ("token", "secret", "passw", "apikey", "auth", "signature", "credential",
                 "session", "private")
_SECRET_PARTS = {"key", "sig", "pass", "pwd", "sid", "jwt", "hash", "code"}


def without_userinfo(url: str) -> str:
    """`url` for names, messages and logs: without user:password@, and with
    the query values of secret-looking keys shown as `****`."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[1] if "@" in parts.netloc else parts.netloc
    query = "&".join(map(_masked_pair, parts.query.split("&"))) if parts.query else ""
    if (netloc, query) == (parts.netloc, parts.query):
        return url
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _masked_pair(pair: str) -> str:
    key, sep, value = pair.partition("=")
    name = key.lower()
    secret = any(word in name for word in _SECRET_WORDS) or not _SECRET_PARTS.isdisjoint(
        re.split(r"[^a-z0-9]+", name))
    return f"{key}=****" if sep and value and secret else pair
