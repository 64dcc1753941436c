"""`newsmonitor add URL`: a site's feed found, checked and added to the config.

The URL may be a feed or any page of the site (poll.discover finds the
feeds it announces, else tries the usual paths). Each feed found is shown
with its latest titles; the first (or, with --all, every one) is appended
to the config's [[feeds]] with tomlkit, so comments and layout survive, and
the config is loaded again to prove it still validates.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import tomlkit

from monitor.cli.common import EXIT_OK, config_path
from monitor.config import Settings, load
from monitor.config.values import without_userinfo
from monitor.errors import ConfigError
from monitor.poll.discover import Found, discover
from monitor.poll.fetcher import Fetcher, make_session


def cmd_add(args: argparse.Namespace) -> int:
    path = config_path(args)
    settings = load(path)
    found = asyncio.run(_discover(settings, args.url))
    if not found:
        raise ConfigError(f"add: {without_userinfo(args.url)}: no feed found (the page is not "
                          "a feed, announces none with <link rel=\"alternate\">, and none "
                          "of the usual paths answers with one)")
    for feed in found:
        print(f"found: {feed.url}  {feed.title}")
        for title in feed.latest:
            print(f"    - {title}")
    chosen = found if args.all else found[:1]
    tags = [t.strip() for t in (args.tags or "").split(",") if t.strip()]
    added = append_feeds(path, chosen, args.name, tags)
    for name, url in added:
        print(f"added: {name} <{url}>")
    if not added:
        print("nothing added: already in the config")
    load(path)  # what we wrote must load; raises (exit 1) naming the problem otherwise
    return EXIT_OK


async def _discover(settings: Settings, url: str) -> list[Found]:
    from monitor.service.runtime import limits_of

    limits = limits_of(settings)
    session = make_session(limits, settings.monitor.user_agent)
    try:
        return await discover(Fetcher(session, limits), url)
    finally:
        await session.close()


def append_feeds(config: Path, found: list[Found], name: str | None,
                 tags: list[str]) -> list[tuple[str, str]]:
    """Append `found` to the config's [[feeds]] (URLs already there skipped);
    returns (name, url) of each feed added."""
    document = tomlkit.parse(config.read_text(encoding="utf-8"))
    feeds = document.get("feeds")
    if feeds is None:
        feeds = document["feeds"] = tomlkit.aot()
    known = {str(f.get("url")) for f in feeds}
    names = {str(f.get("name")) for f in feeds}
    added = []
    for feed in found:
        if feed.url in known:
            continue
        table = tomlkit.table()
        table["name"] = _unique(name or feed.title or feed.url, names)
        table["url"] = feed.url
        if tags:
            table["tags"] = tags
        feeds.append(table)
        known.add(feed.url)
        names.add(str(table["name"]))
        added.append((str(table["name"]), feed.url))
    tmp = config.with_name(f".{config.name}.tmp")  # a half-written config would stop a reload
    tmp.write_text(tomlkit.dumps(document), encoding="utf-8")
    tmp.replace(config)
    return added


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name} ({n})", n + 1
    return candidate
