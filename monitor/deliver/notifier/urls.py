"""Apprise URLs: validation, privacy masking, and keeping their secrets out of
every log record and message (`Redactor`, on the `apprise` logger while
installed). Importing this module changes nothing global."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import re
import sys
import warnings
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import unquote

import apprise
from apprise.decorators import notify as apprise_notify
from apprise.manager_plugins import NotificationManager

from monitor.errors import ConfigError

# --- secrets ------------------------------------------------------------------

_SPLIT = re.compile(r"[/:@?&=#,\s]+")


def url_secrets(url: str) -> set[str]:
    """The pieces of `url` that apprise's privacy mask hides.

    A piece (split on URL delimiters) counts when it is absent from the masked
    form and at least 4 characters long; unparseable URLs count whole.
    """
    # Apprise logs a refused URL's tokens while parsing it, before we know
    # which pieces are secret: its records are dropped during this one call.
    with _muted():
        masked = _privacy_url(url)
    if masked is None:
        return {p for p in _pieces(url) if len(p) >= 4} | {url}
    shown = set(_pieces(masked))
    return {p for p in _pieces(url) if len(p) >= 4 and p not in shown}


def _pieces(url: str) -> Iterator[str]:
    body = url.split("://", 1)[-1]
    for piece in _SPLIT.split(body):
        yield piece
        yield unquote(piece)


_MUTED = contextvars.ContextVar("newsmonitor_apprise_muted", default=False)
_APPRISE_LOG = logging.getLogger("apprise")


class Redactor(logging.Filter):
    """Scrubs the secrets of some URLs from the `apprise` logger's records.

    Apprise sometimes quotes a bad token in its own warnings ("An invalid
    Slack Token (xoxb-...) was specified"); a filter on its logger is the one
    place that sees every such record, including those apprise captures into
    its per-attempt results (the filter runs before any handler). It is on
    the logger only while `installed` (a notifier's lifetime, or one
    validation), and knows only the secrets of the URLs it was given.
    """

    def __init__(self, urls: Iterable[str] = ()) -> None:
        super().__init__()
        known: set[str] = set()
        for url in urls:
            known |= url_secrets(url)
        self._secrets = tuple(sorted(known, key=len, reverse=True))

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "****")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if _MUTED.get():
            return False
        record.msg, record.args = self.scrub(record.getMessage()), None
        return True

    @contextlib.contextmanager
    def installed(self) -> Iterator[Redactor]:
        _APPRISE_LOG.addFilter(self)
        try:
            yield self
        finally:
            _APPRISE_LOG.removeFilter(self)


@contextlib.contextmanager
def _muted() -> Iterator[None]:
    """Drop this thread's apprise records: while we parse a URL we do not
    yet know which of its pieces are secret."""
    token = _MUTED.set(True)
    try:
        with Redactor().installed():
            yield
    finally:
        _MUTED.reset(token)


@functools.cache
def load_plugins() -> None:
    """Load apprise's plugins, and our `console://`, once.

    Apprise loads them lazily on first use; its PGP helper imports `imghdr`,
    deprecated since Python 3.11, and under warnings-as-errors (our tests)
    that import would fail inside whatever call came first. Loading them
    here with that one warning silenced avoids it.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="'imghdr' is deprecated",
                                category=DeprecationWarning)
        NotificationManager().load_modules()  # type: ignore[no-untyped-call]
    apprise_notify(on="console", name="newsmonitor console")(  # type: ignore[no-untyped-call]
        _console)


def _console(body: str, title: str, *args: Any, **kwargs: Any) -> bool:
    """`console://` prints the alert to standard output (for trying rules out)."""
    print(f"{title}\n{body}\n" if title else f"{body}\n", file=sys.stdout, flush=True)
    return True


# --- URLs -------------------------------------------------------------------

# Our outbox retries with backoff; a service-level retry would hide attempts.
ASSET = apprise.AppriseAsset(default_service_retry=0)


def _privacy_url(url: str) -> str | None:
    load_plugins()
    plugin: Any = apprise.Apprise.instantiate(url, asset=ASSET, suppress_exceptions=True)
    return None if plugin is None else str(plugin.url(privacy=True))


def instantiate(url: str, redactor: Redactor) -> Any:
    """The apprise plugin for `url`; raises ConfigError (secret-free) if
    refused. `redactor` must know `url` and be installed."""
    load_plugins()
    try:
        plugin = apprise.Apprise.instantiate(url, asset=ASSET, suppress_exceptions=False)
    except Exception as exc:  # apprise raises its own and TypeError/ValueError
        raise ConfigError(f"{scheme(url)}://…: {redactor.scrub(str(exc))}") from None
    if plugin is None:
        name = scheme(url)
        known = name.lower() in NotificationManager()  # type: ignore[no-untyped-call]
        why = "malformed URL (see apprise's docs for this service)" if known else (
            "unknown URL scheme")
        raise ConfigError(f"{name}://…: {why}")
    return plugin


def scheme(url: str) -> str:
    return url.split("://", 1)[0] if "://" in url else "?"


def validate_url(url: str) -> str | None:
    """None if apprise accepts `url`, else a message without its secrets."""
    redactor = Redactor([url])
    with redactor.installed():
        try:
            instantiate(url, redactor)
        except ConfigError as exc:
            return str(exc)
    return None


def mask_url(url: str) -> str:
    """`url` for logs and output: apprise's privacy form (tokens and passwords
    hidden), see `shown`."""
    with Redactor([url]).installed():
        masked = _privacy_url(url)
    return shown(masked) if masked is not None else f"{scheme(url)}://****"


def shown(privacy_url: str) -> str:
    """A plugin's privacy URL as logs show it: without its query (apprise's
    own defaults, noise in every line) and with each segment of its path
    that apprise left whole as `****`: a webhook's path (json://host/hook/
    SECRET) or an ntfy topic is the channel's password (the tokens of the
    services apprise knows, it shows as `T...1`)."""
    head, sep, path = privacy_url.split("?", 1)[0].partition("://")
    host, slash, rest = path.partition("/")
    return head + sep + host + slash + "/".join(
        part if not part or "..." in part else "****" for part in rest.split("/"))
