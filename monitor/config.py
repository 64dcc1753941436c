"""TOML → validated, frozen settings.

Every option is declared once below, with its default and help text (the
`Field(description=...)`); `tests/test_docs.py` fails when one of them is
missing from the README. Loading validates everything and reports every
problem at once, each as `file: key.path: message`, e.g.
`config/monitor.toml: rules[2] (name="ampere").query: ...`. Nothing is skipped
silently. Secrets are written `${ENV_VAR}` and substituted here; error
messages never echo a channel URL or the database URL.

The result is a tree of frozen dataclasses (`Settings`) passed down to every
other module; nothing reads the TOML again at the point of use.
"""

from __future__ import annotations

import glob
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pydantic
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from monitor import PROJECT_URL, __version__
from monitor.errors import ConfigError
from monitor.models import Person, Priority, Rule

DEFAULT_USER_AGENT = f"newsmonitor/{__version__} (+{PROJECT_URL})"
CONFIG_SEARCH_ENV = "NEWSMONITOR_CONFIG"
_DURATION_PART = re.compile(r"(\d+)\s*(ms|s|m|h|d|w)")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SIZE = re.compile(r"(\d+)\s*(B|KiB|MiB|GiB|KB|MB|GB)?", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kib": 1024, "mib": 1024**2, "gib": 1024**3,
               "kb": 1000, "mb": 1000**2, "gb": 1000**3}
_SECRET_KEYS = {"url", "urls", "database"}


# ---------------------------------------------------------------- value types


def parse_duration(value: object) -> timedelta:
    """`30s`, `15m`, `1h`, `1d`, `1h30m` (or a number of seconds) → timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if not isinstance(value, str):
        raise ValueError("a duration is a string such as '30s', '15m', '1h' or '1d'")
    text = value.strip().lower()
    parts = _DURATION_PART.findall(text)
    if not parts or _DURATION_PART.sub("", text).strip():
        raise ValueError(f"{value!r} is not a duration; write e.g. '30s', '15m', '1h', '1d'")
    return timedelta(seconds=sum(int(n) * _DURATION_UNITS[u] for n, u in parts))


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
    count, _, period = str(value).partition("/")
    if not count.strip().isdigit() or not period:
        raise ValueError(f"{value!r} is not a rate; write e.g. '20/10m'")
    return int(count), parse_duration(period)


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
    if value:
        parse_listen(value)
    return value


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}") from None
    return value


def _check_feed_url(value: str) -> str:
    scheme = urlsplit(value).scheme.lower()
    if scheme in ("http", "https"):
        if not urlsplit(value).hostname:
            raise ValueError(f"{value!r} has no host")
        return value
    if scheme in ("file", "builtin"):
        return value
    raise ValueError(f"{value!r} is not an http(s), file: or builtin: URL")


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Size = Annotated[int, BeforeValidator(parse_size)]
Rate = Annotated[tuple[int, timedelta], BeforeValidator(parse_rate)]
QuietHours = Annotated[tuple[time, time], BeforeValidator(parse_quiet_hours)]
TimeZone = Annotated[str, pydantic.AfterValidator(_check_timezone)]
FeedURL = Annotated[str, pydantic.AfterValidator(_check_feed_url)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Listen = Annotated[str, pydantic.AfterValidator(_check_listen)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# ------------------------------------------------------------- the schema


class MonitorModel(_Model):
    database: str = Field(
        "", description="SQLite file path (relative to the config file) or a postgresql:// URL. "
        "Empty: $STATE_DIRECTORY/newsmonitor.sqlite3 under systemd, else "
        "~/.local/state/newsmonitor/newsmonitor.sqlite3.")
    interval: Duration = Field(timedelta(minutes=15), description="Default poll interval.")
    jitter: float = Field(0.1, ge=0, le=0.5, description="Random spread of each poll, as a "
                          "fraction of the interval.")
    concurrency: int = Field(50, ge=1, le=1000, description="Polls in flight at once.")
    per_host_concurrency: int = Field(4, ge=1, le=100, description="Polls in flight per host.")
    user_agent: str = Field(DEFAULT_USER_AGENT, description="User-Agent of every request.")
    timeout: Duration = Field(timedelta(seconds=60), description="Total time one poll may take.")
    connect_timeout: Duration = Field(timedelta(seconds=10), description="Time to connect.")
    max_body: Size = Field(10 * 1024**2, description="Largest decoded feed body accepted.")
    max_backoff: Duration = Field(timedelta(hours=24), description="Longest wait between polls "
                                  "of a failing feed.")
    max_failures: int = Field(10, ge=1, description="Consecutive failures after which a feed is "
                              "polled at the slowest backoff and reported.")
    honor_cache_headers: bool = Field(True, description="Treat Cache-Control/Expires/<ttl> as a "
                                      "lower bound on a feed's interval.")
    default_channels: list[Name] = Field(default_factory=list, description="Channels of rules "
                                         "that name none.")
    admin_channels: list[Name] = Field(default_factory=list, description="Channels that receive "
                                       "feed-health alerts.")
    timezone: TimeZone = Field("UTC", description="Time zone for digests, quiet hours, display.")
    catch_up: Duration = Field(timedelta(hours=24), description="Items published longer than "
                               "this before they were seen go into one digest.")
    retry_for: Duration = Field(timedelta(hours=24), description="How long a failed delivery "
                                "is retried before the alert is marked dead.")
    retention: Duration = Field(timedelta(days=90), description="Age after which items and "
                                "delivered alerts are pruned.")
    http: Listen = Field("", description="host:port of the /healthz and /metrics endpoint; empty: "
                      "off.")
    channels_file: str = Field("", description="An apprise text config (`tag = url` lines) "
                               "holding channel URLs; must not be readable by group/others.")


class ChannelModel(_Model):
    url: str = Field("", description="One apprise URL; `${ENV_VAR}` is substituted.")
    urls: list[str] = Field(default_factory=list, description="Several apprise URLs.")
    format: Literal["text", "markdown", "html"] | None = Field(
        None, description="Message format; default: html for email, markdown for chat.")
    min_priority: Priority = Field(Priority.LOW, description="Lowest rule priority sent here.")
    rate_limit: Rate = Field((20, timedelta(minutes=10)), description="At most N messages per "
                             "period; the overflow is folded into one summary.")
    quiet_hours: QuietHours | None = Field(None, description="Hold alerts during these hours "
                                           "and send one digest after (high priority passes).")
    digest: str | None = Field(None, description="Send one digest per period ('1h') or on a "
                               "cron schedule ('0 8 * * *') instead of single alerts.")
    timezone: TimeZone | None = Field(None, description="Time zone of quiet hours and cron "
                                      "digests; default: [monitor] timezone.")
    template: str | None = Field(None, description="A Jinja2 template file for this channel.")


class FeedModel(_Model):
    url: FeedURL = Field(description="http(s):// URL, file:PATH or builtin:NAME.")
    name: Name | None = Field(None, description="Name shown in alerts; default: the URL.")
    interval: Duration | None = Field(None, description="Poll interval; default [monitor].")
    tags: list[Name] = Field(default_factory=list, description="Tags that rules can select.")
    alert_existing: bool = Field(False, description="Alert on the items present at the first "
                                 "poll (default: record them silently).")
    enabled: bool = Field(True, description="Poll this feed.")
    expect_every: Duration | None = Field(None, description="Raise a health alert when the "
                                          "feed has no new item for this long.")


class PersonModel(_Model):
    name: Name
    aliases: list[Name] = Field(default_factory=list)


class RuleModel(_Model):
    name: Name = Field(description="Unique rule name.")
    description: str = Field("", description="Free text.")
    query: str | None = Field(None, description="Boolean query: terms, \"phrases\", wild*, "
                              "AND, OR, NOT, NEAR/n, parentheses.")
    any: list[str] = Field(default_factory=list, description="At least one must occur.")
    all: list[str] = Field(default_factory=list, description="Every one must occur.")
    not_: list[str] = Field(default_factory=list, alias="not", description="None may occur.")
    people: list[PersonModel | str] = Field(default_factory=list, description="Persons; one "
                                            "matching is enough.")
    fuzzy: int | None = Field(None, ge=0, le=100, description="Typo tolerance (rapidfuzz ratio) "
                              "for words of 6+ letters.")
    fields: list[Literal["title", "summary"]] = Field(["title", "summary"], min_length=1)
    feeds: list[Name] = Field(default_factory=list, description="Only items of these feeds.")
    tags: list[Name] = Field(default_factory=list, description="Only feeds with one of these "
                             "tags.")
    min_score: int = Field(0, ge=0, le=100, description="Drop matches scoring below this.")
    priority: Priority = Field(Priority.NORMAL, description="low, normal or high.")
    channels: list[Name] = Field(default_factory=list, description="Where alerts go; default "
                                 "[monitor] default_channels.")

    @pydantic.model_validator(mode="after")
    def _has_positive_terms(self) -> RuleModel:
        if not (self.query or self.any or self.all or self.people):
            raise ValueError("a rule needs at least one of query, any, all or people")
        return self


class ConfigModel(_Model):
    include: list[str] = Field(default_factory=list, description="Glob patterns of more files "
                               "with [[rules]] and [[feeds]], relative to this file.")
    monitor: MonitorModel = Field(default_factory=MonitorModel)  # type: ignore[arg-type]
    channels: dict[Name, ChannelModel] = Field(default_factory=dict)
    feeds: list[FeedModel] = Field(default_factory=list)
    rules: list[RuleModel] = Field(default_factory=list)


class IncludedModel(_Model):
    feeds: list[FeedModel] = Field(default_factory=list)
    rules: list[RuleModel] = Field(default_factory=list)


# ------------------------------------------------------- the frozen result


@dataclass(frozen=True, slots=True)
class MonitorSettings:
    database: str
    interval: timedelta
    jitter: float
    concurrency: int
    per_host_concurrency: int
    user_agent: str
    timeout: timedelta
    connect_timeout: timedelta
    max_body: int
    max_backoff: timedelta
    max_failures: int
    honor_cache_headers: bool
    default_channels: tuple[str, ...]
    admin_channels: tuple[str, ...]
    timezone: str
    catch_up: timedelta
    retry_for: timedelta
    retention: timedelta
    http: str
    channels_file: str


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    name: str
    urls: tuple[str, ...]
    format: str | None
    min_priority: Priority
    rate_limit: tuple[int, timedelta]
    quiet_hours: tuple[time, time] | None
    digest: str | None
    timezone: str
    template: Path | None


@dataclass(frozen=True, slots=True)
class FeedSettings:
    url: str
    name: str
    interval: timedelta
    tags: tuple[str, ...]
    alert_existing: bool
    enabled: bool
    expect_every: timedelta | None
    source: str = ""


@dataclass(frozen=True, slots=True)
class Settings:
    path: Path
    monitor: MonitorSettings
    channels: Mapping[str, ChannelSettings]
    feeds: tuple[FeedSettings, ...]
    rules: tuple[Rule, ...]
    files: tuple[Path, ...] = field(default=())
    includes: tuple[str, ...] = field(default=())  # absolute glob patterns, for reload

    def feed(self, name: str) -> FeedSettings | None:
        return next((f for f in self.feeds if f.name == name), None)


# ------------------------------------------------------------- loading


def load(path: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Read, validate and freeze the config at `path` and its includes.

    Raises ConfigError listing every problem found, each with file and key.
    """
    env = os.environ if environ is None else environ
    path = path.resolve()
    problems: list[str] = []
    main = _validate(path, ConfigModel, problems)
    if main is None:
        raise ConfigError(problems)
    assert isinstance(main, ConfigModel)
    feeds = [_feed(f, path) for f in main.feeds]
    rules = [_rule(r, path, i) for i, r in enumerate(main.rules)]
    files = [path]
    for extra in _included_files(path, main.include, problems):
        included = _validate(extra, IncludedModel, problems)
        if isinstance(included, IncludedModel):
            files.append(extra)
            feeds += [_feed(f, extra) for f in included.feeds]
            rules += [_rule(r, extra, i) for i, r in enumerate(included.rules)]
    channels = _channels(main, path, env, problems)
    monitor = _monitor(main.monitor, path, env, problems)
    _cross_check(path, monitor, channels, feeds, rules, problems)
    if problems:
        raise ConfigError(problems)
    includes = tuple(str(path.parent / pattern) for pattern in main.include)
    return Settings(path, monitor, channels, tuple(feeds), tuple(rules), tuple(files), includes)


def load_rules_file(path: Path) -> tuple[Rule, ...]:
    """Only the `[[rules]]` of a file (and its includes): for `test-rules`.

    Other tables are ignored here, so a full config file works too.
    """
    path = path.resolve()
    problems: list[str] = []
    data = _read_toml(path, problems)
    if data is None:
        raise ConfigError(problems)
    subset: dict[str, Any] = {k: data[k] for k in ("rules", "include") if k in data}
    model = _validate_data(path, subset, ConfigModel, problems)
    rules: list[Rule] = []
    if isinstance(model, ConfigModel):
        rules = [_rule(r, path, i) for i, r in enumerate(model.rules)]
        for extra in _included_files(path, model.include, problems):
            data = _read_toml(extra, problems)
            sub = {"rules": data.get("rules", [])} if data is not None else None
            inc = _validate_data(extra, sub, IncludedModel, problems) if sub else None
            if isinstance(inc, IncludedModel):
                rules += [_rule(r, extra, i) for i, r in enumerate(inc.rules)]
    _check_unique_rules(rules, problems)
    if problems:
        raise ConfigError(problems)
    return tuple(rules)


def find_config(explicit: str | None, environ: Mapping[str, str] | None = None) -> Path:
    """The config file to use: --config, $NEWSMONITOR_CONFIG, ./config/monitor.toml,
    $XDG_CONFIG_HOME/newsmonitor/monitor.toml, /etc/newsmonitor/monitor.toml."""
    env = os.environ if environ is None else environ
    if explicit:
        return Path(explicit)
    if env.get(CONFIG_SEARCH_ENV):
        return Path(env[CONFIG_SEARCH_ENV])
    xdg = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    candidates = [Path("config/monitor.toml"), xdg / "newsmonitor" / "monitor.toml",
                  Path("/etc/newsmonitor/monitor.toml")]
    return next((c for c in candidates if c.is_file()), candidates[0])


def _read_toml(path: Path, problems: list[str]) -> dict[str, Any] | None:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        problems.append(f"{path}: file not found")
    except OSError as exc:
        problems.append(f"{path}: cannot read: {exc.strerror}")
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"{path}: TOML syntax error: {exc}")
    return None


def _validate(path: Path, model: type[_Model], problems: list[str]) -> _Model | None:
    data = _read_toml(path, problems)
    return None if data is None else _validate_data(path, data, model, problems)


def _validate_data(path: Path, data: dict[str, Any], model: type[_Model],
                   problems: list[str]) -> _Model | None:
    """Validate; on errors, record them and go on with the valid rest (the bad
    feed, rule or channel left out), so that one run reports every problem
    (the later cross-checks included). Returns None only when nothing is left."""
    for _ in range(3):
        try:
            return model.model_validate(data)
        except pydantic.ValidationError as exc:
            problems += [f"{path}: {_error_line(err, data)}" for err in exc.errors()]
            pruned = _without_bad_entries(data, [err["loc"] for err in exc.errors()])
            if pruned is None:
                return None
            data = pruned
    return None


def _without_bad_entries(data: dict[str, Any],
                         locations: list[tuple[Any, ...]]) -> dict[str, Any] | None:
    """`data` minus each list entry, channel or table an error points into."""
    drop: dict[str, set[Any]] = {}
    for loc in locations:
        if len(loc) >= 2 and loc[0] in ("feeds", "rules", "channels"):
            drop.setdefault(loc[0], set()).add(loc[1])
        elif len(loc) >= 1 and loc[0] == "monitor":
            drop["monitor"] = set()
        else:
            return None  # an error at the top level: nothing sensible to keep
    pruned = dict(data)
    for key, bad in drop.items():
        value = pruned.get(key)
        if key == "monitor":
            pruned.pop("monitor", None)
        elif isinstance(value, list):
            pruned[key] = [v for i, v in enumerate(value) if i not in bad]
        elif isinstance(value, dict):
            pruned[key] = {k: v for k, v in value.items() if k not in bad}
    return pruned


def _error_line(err: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    """One pydantic error as `rules[2] (name="x").query: message`; never the value of a
    secret-bearing key."""
    loc = [part for part in err["loc"] if not _is_union_tag(part)]
    path = _key_path(loc, data)
    message = str(err["msg"])
    if err["type"] == "extra_forbidden":
        message = "unknown key"
    elif err["type"].startswith("value_error"):
        message = message.removeprefix("Value error, ")
    if _SECRET_KEYS & {str(p) for p in loc}:
        message = message.split(":")[0].split(" '")[0]
    return f"{path}: {message}" if path else message


def _is_union_tag(part: object) -> bool:
    return part in ("PersonModel", "str") or (isinstance(part, str) and "[" in part)


def _key_path(loc: list[Any], data: Mapping[str, Any]) -> str:
    out, node = "", data
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else {}
            if isinstance(node, dict) and isinstance(node.get("name"), str):
                out += f' (name="{node["name"]}")'
        else:
            out += f".{part}" if out else str(part)
            node = node.get(part, {}) if isinstance(node, dict) else {}
    return out


def _included_files(path: Path, patterns: list[str], problems: list[str]) -> list[Path]:
    files: list[Path] = []
    for i, pattern in enumerate(patterns):
        found = sorted(glob.glob(str(path.parent / pattern)))
        if not found and not glob.has_magic(pattern):
            problems.append(f"{path}: include[{i}]: no file {pattern!r}")
        files += [Path(f).resolve() for f in found if Path(f).resolve() != path]
    return files


def _feed(model: FeedModel, source: Path) -> FeedSettings:
    url = model.url
    if url.startswith("file:"):
        raw = url.removeprefix("file://") if url.startswith("file://") else url[5:]
        url = "file:" + str((source.parent / raw).resolve())
    return FeedSettings(url=url, name=model.name or model.url, interval=model.interval
                        or timedelta(0), tags=tuple(model.tags),
                        alert_existing=model.alert_existing, enabled=model.enabled,
                        expect_every=model.expect_every, source=str(source))


def _rule(model: RuleModel, source: Path, index: int) -> Rule:
    people = tuple(Person(p) if isinstance(p, str) else Person(p.name, tuple(p.aliases))
                   for p in model.people)
    return Rule(name=model.name, query=model.query, any=tuple(model.any),
                all=tuple(model.all), not_=tuple(model.not_), people=people,
                fuzzy=model.fuzzy, fields=tuple(model.fields), feeds=tuple(model.feeds),
                tags=tuple(model.tags), min_score=model.min_score, priority=model.priority,
                channels=tuple(model.channels), description=model.description,
                source=str(source), index=index)


def substitute_env(value: str, environ: Mapping[str, str]) -> str:
    """Replace each `${NAME}` by the variable; KeyError(NAME) when it is unset."""
    return _ENV_REF.sub(lambda m: environ[m[1]], value)


def _channels(main: ConfigModel, path: Path, env: Mapping[str, str],
              problems: list[str]) -> dict[str, ChannelSettings]:
    out: dict[str, ChannelSettings] = {}
    for name, ch in main.channels.items():
        urls: list[str] = []
        for i, raw in enumerate(([ch.url] if ch.url else []) + ch.urls):
            try:
                urls.append(substitute_env(raw, env))
            except KeyError as missing:
                key = "url" if ch.url and i == 0 else "urls"
                problems.append(f"{path}: channels.{name}.{key}: environment variable "
                                f"{missing.args[0]} is not set")
        if not urls and not main.monitor.channels_file:
            problems.append(f"{path}: channels.{name}: a channel needs `url` or `urls` "
                            "(or a line in [monitor] channels_file)")
        template = (path.parent / ch.template).resolve() if ch.template else None
        out[name] = ChannelSettings(name, tuple(urls), ch.format, ch.min_priority,
                                    ch.rate_limit, ch.quiet_hours, ch.digest,
                                    ch.timezone or main.monitor.timezone, template)
    return out


def _monitor(m: MonitorModel, path: Path, env: Mapping[str, str],
             problems: list[str]) -> MonitorSettings:
    try:
        database = resolve_database(substitute_env(m.database, env), path, env)
    except KeyError as missing:
        problems.append(f"{path}: monitor.database: environment variable "
                        f"{missing.args[0]} is not set")
        database = ""
    channels_file = str((path.parent / m.channels_file).resolve()) if m.channels_file else ""
    values = m.model_dump()
    values.update(database=database, channels_file=channels_file,
                  default_channels=tuple(m.default_channels),
                  admin_channels=tuple(m.admin_channels))
    return MonitorSettings(**values)


def resolve_database(value: str, config_path: Path, env: Mapping[str, str]) -> str:
    """A database URL: postgresql:// as given, else a SQLite file (relative paths are
    relative to the config file; empty means the state directory)."""
    if "://" in value:
        return value
    if value:
        return str((config_path.parent / value).resolve())
    state = env.get("STATE_DIRECTORY", "").split(":")[0]
    base = Path(state) if state else Path(env.get("XDG_STATE_HOME") or
                                          Path.home() / ".local" / "state") / "newsmonitor"
    return str(base / "newsmonitor.sqlite3")


def _cross_check(path: Path, monitor: MonitorSettings, channels: Mapping[str, Any],
                 feeds: list[FeedSettings], rules: list[Rule], problems: list[str]) -> None:
    for key in ("default_channels", "admin_channels"):
        for name in getattr(monitor, key):
            if name not in channels:
                problems.append(f"{path}: monitor.{key}: unknown channel {name!r}")
    feed_names = {f.name for f in feeds}
    _check_unique(path, "feeds", [f.name for f in feeds], problems)
    _check_unique_rules(rules, problems)
    for rule in rules:
        for name in rule.channels:
            if name not in channels:
                problems.append(f"{rule.where}.channels: unknown channel {name!r}")
        for name in rule.feeds:
            if name not in feed_names:
                problems.append(f"{rule.where}.feeds: unknown feed {name!r}")
        if not rule.channels and not monitor.default_channels:
            problems.append(f"{rule.where}.channels: no channel, and [monitor] "
                            "default_channels is empty")


def _check_unique(path: Path, key: str, names: list[str], problems: list[str]) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            problems.append(f"{path}: {key}[{i}]: duplicate name {name!r}")
        seen.add(name)


def _check_unique_rules(rules: list[Rule], problems: list[str]) -> None:
    seen: set[str] = set()
    for rule in rules:
        if rule.name in seen:
            problems.append(f"{rule.where}.name: duplicate rule name")
        seen.add(rule.name)
