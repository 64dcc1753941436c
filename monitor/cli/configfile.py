"""Adding feeds to the user's config file, for `add` and `import-opml`.

The file is edited with tomlkit, so the user's comments and layout survive;
a URL already configured is skipped and said so; names are made unique; the
result is written beside the file and loaded, and replaces it only if it
loads (a half-written config, or a feed the loader refuses, would stop the
next reload).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import tomlkit
from tomlkit.items import AoT

from monitor.config import load
from monitor.errors import ConfigError


@dataclass(frozen=True, slots=True)
class NewFeed:
    url: str
    name: str
    tags: tuple[str, ...] = ()
    username: str = field(default="", repr=False)  # basic auth, from a user:pass@ URL
    password: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class Added:
    """What `add_feeds` did: the feeds added (with the name they got), and
    each one it did not add with the reason."""

    added: list[NewFeed]
    skipped: list[tuple[str, str]]


def add_feeds(config: Path, feeds: Iterable[NewFeed], command: str) -> Added:
    """Append `feeds` to the config's [[feeds]] (see the module docstring)."""
    load(config)  # as it is, first: a missing or invalid config is named as in `check`
    document = tomlkit.parse(config.read_text(encoding="utf-8"))
    tables = document.get("feeds")
    if tables is None:
        tables = document["feeds"] = tomlkit.aot()
    if not isinstance(tables, AoT):
        raise ConfigError(f"{config}: feeds: {command} adds [[feeds]] tables; "
                          "write the feeds as [[feeds]] tables, not an inline array")
    configured = {str(f.get("url")) for f in tables}
    known, names = set(configured), {str(f.get("name")) for f in tables}
    result = Added([], [])
    for feed in feeds:
        if feed.url in known:
            where = "in the config" if feed.url in configured else "listed twice"
            result.skipped.append((feed.name, f"<{feed.url}> already {where}"))
            continue
        table = tomlkit.table()
        table.trivia.indent = "\n"  # a blank line before each [[feeds]] added, as a person writes
        table["name"] = _unique(feed.name, names)
        table["url"] = feed.url
        if feed.tags:
            table["tags"] = list(feed.tags)
        if feed.username or feed.password:
            table["username"], table["password"] = feed.username, feed.password
        tables.append(table)
        known.add(feed.url)
        names.add(str(table["name"]))
        result.added.append(NewFeed(feed.url, str(table["name"]), feed.tags))
    _write_checked(config, tomlkit.dumps(document))
    return result


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name} ({n})", n + 1
    return candidate


def _write_checked(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    try:
        load(tmp)
    except ConfigError as exc:
        tmp.unlink()
        raise ConfigError([p.replace(str(tmp.resolve()), str(path)) for p in exc.problems]
                          + [f"{path}: left unchanged"]) from None
    tmp.replace(path)
