"""Reading TOML files into `Settings`, collecting every problem with its place."""

from __future__ import annotations

import glob
import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pydantic

from monitor.config.schema import (
    ConfigModel,
    FeedModel,
    IncludedModel,
    MonitorModel,
    RuleModel,
    _Model,
)
from monitor.config.settings import ChannelSettings, FeedSettings, MonitorSettings, Settings
from monitor.config.values import parse_listen, without_userinfo
from monitor.errors import ConfigError
from monitor.models import Person, Rule

CONFIG_SEARCH_ENV = "NEWSMONITOR_CONFIG"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SECRET_KEYS = {"url", "urls", "database", "http_token"}


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
    """`data` minus each list entry, channel or [monitor] key an error points
    into (the whole [monitor] table if it is not a table): the valid keys of
    [monitor] stay, so that the cross-checks see the user's default_channels."""
    drop: dict[str, set[Any]] = {}
    for loc in locations:
        if len(loc) >= 2 and loc[0] in ("feeds", "rules", "channels", "monitor"):
            drop.setdefault(loc[0], set()).add(loc[1])
        elif len(loc) == 1 and loc[0] == "monitor":
            drop["monitor"] = {None}
        else:
            return None  # an error at the top level: nothing sensible to keep
    pruned = dict(data)
    for key, bad in drop.items():
        value = pruned.get(key)
        if key == "monitor" and (None in bad or not isinstance(value, dict)):
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
    return FeedSettings(url=url, name=model.name or without_userinfo(model.url),
                        interval=model.interval
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
    try:
        token = substitute_env(m.http_token, env)
    except KeyError as missing:
        problems.append(f"{path}: monitor.http_token: environment variable "
                        f"{missing.args[0]} is not set")
        token = ""
    channels_file = str((path.parent / m.channels_file).resolve()) if m.channels_file else ""
    values = m.model_dump()
    values.update(database=database, channels_file=channels_file, http_token=token,
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
    if monitor.http and not monitor.http_token and not _loopback(monitor.http):
        # The page shows rules, feeds and alerts: not to a network without a token.
        problems.append(f"{path}: monitor.http: {monitor.http!r} is not a loopback address; "
                        "set monitor.http_token")
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


def _loopback(listen: str) -> bool:
    host = parse_listen(listen)[0]
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


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
