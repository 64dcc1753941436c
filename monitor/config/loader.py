"""Reading TOML files into `Settings`, collecting every problem with its place."""

from __future__ import annotations

import glob
import ipaddress
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from monitor.config.channelsfile import channel_names
from monitor.config.pacing import check_bounds, check_pace
from monitor.config.policies import FeedRequest, Pace, RetryPolicy, fetch_limits, poll_policy
from monitor.config.schema import (
    ChannelModel,
    ConfigModel,
    FeedModel,
    IncludedModel,
    MonitorModel,
    RuleModel,
)
from monitor.config.settings import ChannelSettings, FeedSettings, MonitorSettings, Settings
from monitor.config.source import read_toml, resolved
from monitor.config.validate import M, Validated, toml_key, validate
from monitor.config.values import check_public_url, parse_listen, without_userinfo
from monitor.errors import ConfigError
from monitor.models import Person, Rule

CONFIG_SEARCH_ENV = "NEWSMONITOR_CONFIG"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def load(path: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Read, validate and freeze the config at `path` and its includes.

    Raises ConfigError listing every problem found, each with file and key.
    """
    settings, problems = read_config(path, environ)
    if problems or settings is None:
        raise ConfigError(problems)
    return settings


def read_config(path: Path, environ: Mapping[str, str] | None = None
         ) -> tuple[Settings | None, list[str]]:
    """The settings built from the valid rest of the config, and every problem.

    For `check`, which goes on to check the rules' queries and the channels'
    URLs of these settings, so that one run lists every independent error.
    With problems, the settings lack what they point into (and the second
    rule of a duplicate name); None when the main file has no usable table.
    """
    env = os.environ if environ is None else environ
    path = resolved(path)
    problems: list[str] = []
    main = _validate(path, ConfigModel, problems)
    if main is None:
        return None, problems
    feeds, rules = _feeds(main, path, main.model.monitor, env, problems), _rules(main, path)
    files, dropped = [path], {k: set(v) for k, v in main.dropped.items()}
    for extra in _included_files(path, main.model.include, problems):
        included = _validate(extra, IncludedModel, problems)
        if included is not None:
            files.append(extra)
            feeds += _feeds(included, extra, main.model.monitor, env, problems)
            rules += _rules(included, extra)
            dropped["feeds"] |= included.dropped["feeds"]
    channels, broken = _channels(main.model, path, env, problems)
    monitor = _monitor(main.model.monitor, path, env, problems)
    channels |= _file_only_channels(main.model, path, monitor.channels_file, channels)
    known = _Known(set(channels) | dropped["channels"],
                   {f.name for _, f in feeds} | dropped["feeds"])
    _cross_check(path, monitor, known, feeds, rules, problems)
    includes = tuple(str(path.parent / pattern) for pattern in main.model.include)
    sound = {name: ch for name, ch in channels.items() if name not in broken}
    return Settings(path, monitor, sound, tuple(f for _, f in feeds), _first_of_each_name(rules),
                    tuple(files), includes), problems


def load_rules_file(path: Path) -> tuple[Rule, ...]:
    """Only the `[[rules]]` of a file (and its includes): for `test-rules`.

    Other tables are ignored here, so a full config file works too.
    """
    path = resolved(path)
    problems: list[str] = []
    data = read_toml(path, problems)
    if data is None:
        raise ConfigError(problems)
    subset: dict[str, Any] = {k: data[k] for k in ("rules", "include") if k in data}
    main = validate(path, subset, ConfigModel, problems)
    rules: list[Rule] = []
    if main is not None:
        rules = _rules(main, path)
        for extra in _included_files(path, main.model.include, problems):
            data = read_toml(extra, problems)
            sub = {"rules": data.get("rules", [])} if data is not None else None
            included = validate(extra, sub, IncludedModel, problems) if sub else None
            if included is not None:
                rules += _rules(included, extra)
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


def _validate(path: Path, model: type[M], problems: list[str]) -> Validated[M] | None:
    data = read_toml(path, problems)
    return None if data is None else validate(path, data, model, problems)


def _included_files(path: Path, patterns: Sequence[str], problems: list[str]) -> list[Path]:
    files: list[Path] = []
    for i, pattern in enumerate(patterns):
        found = sorted(glob.glob(str(path.parent / pattern)))
        folder = Path(pattern).parent  # rules.d of rules.d/*.toml: may be empty, not absent
        if not found and not glob.has_magic(pattern):
            problems.append(f"{path}: include[{i}]: no file {pattern!r}")
        elif not found and not glob.has_magic(str(folder)) and not (path.parent / folder).is_dir():
            problems.append(f"{path}: include[{i}]: no folder {str(folder)!r} for {pattern!r}")
        files += [resolved(Path(f)) for f in found if resolved(Path(f)) != path]
    return files


def _feeds(validated: Validated[ConfigModel] | Validated[IncludedModel], source: Path,
           monitor: MonitorModel, env: Mapping[str, str], problems: list[str]
           ) -> list[tuple[str, FeedSettings]]:
    """Each feed with its place, `file: feeds[i] (name="x")`, for messages."""
    out = []
    for i, model in enumerate(validated.model.feeds):
        feed = _feed(model, source, monitor)
        name = json.dumps(feed.name, ensure_ascii=False)  # one line, whatever it holds
        where = f'{source}: feeds[{validated.index("feeds", i)}] (name={name})'
        request = _request(model, where, env, problems)
        check_bounds(where, model, feed, problems)
        out.append((where, feed.model_copy(update={
            "request": request, "headers": request.headers, "username": request.username,
            "password": request.password, "proxy": request.proxy})))
    return out


def _request(model: FeedModel, where: str, env: Mapping[str, str],
             problems: list[str]) -> FeedRequest:
    """The feed's headers, auth and proxy with `${ENV_VAR}` substituted; a
    missing variable or a proxy that is no http:// URL is a problem."""
    def value(key: str, raw: str) -> str:
        try:
            return substitute_env(raw, env)
        except KeyError as missing:
            problems.append(f"{where}.{key}: environment variable {missing.args[0]} is not set")
            return ""
    headers = tuple((name, value(f"headers.{name}", raw)) for name, raw in model.headers)
    proxy = value("proxy", model.proxy)
    if proxy and not (urlsplit(proxy).scheme in ("http", "https") and urlsplit(proxy).hostname):
        problems.append(f"{where}.proxy: {without_userinfo(proxy)!r} is not an http:// URL")
    return FeedRequest(headers, value("username", model.username),
                       value("password", model.password), proxy)


def _feed(model: FeedModel, source: Path, m: MonitorModel) -> FeedSettings:
    url = model.url
    if url.startswith("file:"):
        raw = url.removeprefix("file://") if url.startswith("file://") else url[5:]
        url = "file:" + str(resolved(source.parent / raw))
    pace = Pace(model.interval or m.interval, m.adaptive if model.adaptive is None
                else model.adaptive, model.min_interval or m.min_interval,
                model.max_interval or m.max_interval)
    policy = poll_policy(pace, m.jitter, m.honor_cache_headers, m.max_backoff,
                         m.max_failures)
    return FeedSettings.model_construct(**dict(model) | {
        "url": url, "name": model.name or without_userinfo(model.url),
        "interval": pace.interval, "adaptive": pace.adaptive,
        "min_interval": pace.min_interval, "max_interval": pace.max_interval,
        "source": str(source), "policy": policy,
        "fulltext": m.fulltext if model.fulltext is None else model.fulltext})


def _rules(validated: Validated[ConfigModel] | Validated[IncludedModel],
           source: Path) -> list[Rule]:
    return [_rule(model, source, validated.index("rules", i))
            for i, model in enumerate(validated.model.rules)]


def _rule(model: RuleModel, source: Path, index: int) -> Rule:
    people = tuple(Person(p) if isinstance(p, str) else Person(p.name, p.aliases)
                   for p in model.people)
    return Rule(name=model.name, query=model.query, any=model.any, all=model.all,
                not_=model.not_, people=people, fuzzy=model.fuzzy, fields=model.fields,
                feeds=model.feeds, tags=model.tags, min_score=model.min_score,
                priority=model.priority, channels=model.channels,
                description=model.description, source=str(source), index=index)


def substitute_env(value: str, environ: Mapping[str, str]) -> str:
    """Replace each `${NAME}` by the variable; KeyError(NAME) when it is unset."""
    return _ENV_REF.sub(lambda m: environ[m[1]], value)


def _channels(main: ConfigModel, path: Path, env: Mapping[str, str],
              problems: list[str]) -> tuple[dict[str, ChannelSettings], set[str]]:
    """Every channel, and the names of those with a problem (kept, so that
    rules naming them are not also told they do not exist)."""
    out: dict[str, ChannelSettings] = {}
    broken: set[str] = set()
    for name, ch in main.channels.items():
        urls: list[str] = []
        for i, raw in enumerate(([ch.url] if ch.url else []) + list(ch.urls)):
            try:
                urls.append(substitute_env(raw, env))
            except KeyError as missing:
                key = "url" if ch.url and i == 0 else "urls"
                problems.append(f"{path}: channels.{toml_key(name)}.{key}: environment variable "
                                f"{missing.args[0]} is not set")
                broken.add(name)
        if not (ch.url or ch.urls or main.monitor.channels_file):
            problems.append(f"{path}: channels.{toml_key(name)}: a channel needs `url` or `urls` "
                            "(or a line in [monitor] channels_file)")
            broken.add(name)
        out[name] = _channel(name, ch, main, path, tuple(urls))
    return out, broken


def _channel(name: str, ch: ChannelModel, main: ConfigModel, path: Path,
             urls: tuple[str, ...]) -> ChannelSettings:
    template = resolved(path.parent / ch.template) if ch.template else None
    return ChannelSettings.model_construct(**dict(ch) | {
        "name": name, "urls": urls, "template": template,
        "timezone": ch.timezone or main.monitor.timezone, "catch_up": main.monitor.catch_up})


def _file_only_channels(main: ConfigModel, path: Path, channels_file: str,
                        defined: Mapping[str, ChannelSettings]) -> dict[str, ChannelSettings]:
    """The channels `channels_file` names that have no `[channels.NAME]`
    table: channels with every default (`console = console://` in the file
    is enough); their URLs are read from the file with the others'."""
    names = channel_names(channels_file) if channels_file else set()
    return {name: _channel(name, ChannelModel.model_validate({}), main, path, ())
            for name in sorted(names - set(defined))}


def _monitor(m: MonitorModel, path: Path, env: Mapping[str, str],
             problems: list[str]) -> MonitorSettings:
    try:
        database = resolve_database(substitute_env(m.database, env), path, env)
    except KeyError as missing:
        problems.append(f"{path}: monitor.database: environment variable "
                        f"{missing.args[0]} is not set")
        database = ""
    http, token, instance, public_url = (
        _substituted(m, key, env, path, problems)
        for key in ("http", "http_token", "instance", "public_url"))
    channels_file = str(resolved(path.parent / m.channels_file)) if m.channels_file else ""
    limits = fetch_limits(m.concurrency, m.per_host_concurrency, m.connect_timeout, m.timeout,
                          m.max_body, m.allow_private_networks)
    return MonitorSettings.model_construct(**dict(m) | {
        "database": database, "channels_file": channels_file, "fetch_limits": limits,
        "retry": RetryPolicy(retry_for=m.retry_for.total_seconds()),
        "http": http, "http_token": token, "instance": instance, "public_url": public_url})


def _substituted(m: MonitorModel, key: str, env: Mapping[str, str], path: Path,
                 problems: list[str]) -> str:
    """A [monitor] value with `${ENV_VAR}` substituted; `http` and
    `public_url` checked after (several instances share one config with a
    port each: `${NEWSMONITOR_HTTP}`, and WebSub on one of them)."""
    try:
        value: str = substitute_env(getattr(m, key), env)
        if key == "http" and value:
            parse_listen(value)
        if key == "public_url":
            check_public_url(value)
    except KeyError as missing:
        problems.append(f"{path}: monitor.{key}: environment variable "
                        f"{missing.args[0]} is not set")
        return ""
    except ValueError as exc:
        problems.append(f"{path}: monitor.{key}: {exc}")
        return ""
    return value


def resolve_database(value: str, config_path: Path, env: Mapping[str, str]) -> str:
    """A database URL: postgresql:// as given, else a SQLite file (relative paths are
    relative to the config file; empty means the state directory)."""
    if "://" in value:
        return value
    if value:
        return str(resolved(config_path.parent / value))
    state = env.get("STATE_DIRECTORY", "").split(":")[0]
    base = Path(state) if state else Path(env.get("XDG_STATE_HOME") or
                                          Path.home() / ".local" / "state") / "newsmonitor"
    return str(base / "newsmonitor.sqlite3")


@dataclass(frozen=True, slots=True)
class _Known:
    """Names a rule or [monitor] may refer to: those defined, bad entries included."""

    channels: set[str]
    feeds: set[str]


def _cross_check(path: Path, monitor: MonitorSettings, known: _Known,
                 feeds: list[tuple[str, FeedSettings]], rules: list[Rule],
                 problems: list[str]) -> None:
    for key in ("default_channels", "admin_channels"):
        for name in getattr(monitor, key):
            if name not in known.channels:
                problems.append(f"{path}: monitor.{key}: unknown channel {name!r}")
    if monitor.http and not monitor.http_token and not _loopback(monitor.http):
        # The page shows rules, feeds and alerts: not to a network without a token.
        problems.append(f"{path}: monitor.http: {monitor.http!r} is not a loopback address; "
                      "set monitor.http_token")
    if monitor.public_url and not monitor.http:
        # The hub's verification and pushes come to the web endpoint.
        problems.append(f"{path}: monitor.public_url: WebSub needs the http endpoint; "
                        "set monitor.http")
    check_pace(path, monitor, [f for _, f in feeds], problems)
    _check_unique_feeds(feeds, problems)
    _check_unique_rules(rules, problems)
    for rule in rules:
        for name in rule.channels:
            if name not in known.channels:
                problems.append(f"{rule.where}.channels: unknown channel {name!r}")
        for name in rule.feeds:
            if name not in known.feeds:
                problems.append(f"{rule.where}.feeds: unknown feed {name!r}")
        tags = {tag for _, feed in feeds for tag in feed.tags}
        for tag in rule.tags:  # the rule would never fire on it
            if tag not in tags:
                problems.append(f"{rule.where}.tags: no feed has tag {tag!r}"
                                f"{'; tags: ' + ', '.join(sorted(tags)) if tags else ''}")
        if not rule.channels and not monitor.default_channels:
            problems.append(f"{rule.where}.channels: no channel, and [monitor] "
                            "default_channels is empty")


def _loopback(listen: str) -> bool:
    host = parse_listen(listen)[0]
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _check_unique_feeds(feeds: list[tuple[str, FeedSettings]], problems: list[str]) -> None:
    seen: set[str] = set()
    for place, feed in feeds:
        if feed.name in seen:
            problems.append(f"{place}.name: duplicate feed name")
        seen.add(feed.name)


def _first_of_each_name(rules: list[Rule]) -> tuple[Rule, ...]:
    seen: set[str] = set()
    firsts = []
    for rule in rules:
        if rule.name not in seen:
            firsts.append(rule)
        seen.add(rule.name)
    return tuple(firsts)


def _check_unique_rules(rules: list[Rule], problems: list[str]) -> None:
    seen: set[str] = set()
    for rule in rules:
        if rule.name in seen:
            problems.append(f"{rule.where}.name: duplicate rule name")
        seen.add(rule.name)
