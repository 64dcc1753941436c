"""`newsmonitor add URL`: a site's feed found, checked and added to the config.

The URL may be a feed or any page of the site (poll.discover finds the
feeds it announces, else tries the usual paths). Each feed found is shown
with its latest titles; the first (or, with --all, every one) is appended
to the config's [[feeds]] (cli.configfile: comments kept, the config
replaced only by one that loads).
"""

from __future__ import annotations

import argparse
import asyncio
from urllib.parse import urlsplit

from monitor.cli.common import EXIT_OK, config_path
from monitor.cli.configfile import NewFeed, add_feeds
from monitor.config import Settings, load
from monitor.config.values import without_userinfo
from monitor.errors import ConfigError, FetchError
from monitor.poll.discover import Found, discover
from monitor.poll.fetcher import Fetcher, make_session


def cmd_add(args: argparse.Namespace) -> int:
    path = config_path(args)
    settings = load(path)
    parts = urlsplit(args.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"add: {without_userinfo(args.url)!r} is not an http(s) URL "
                          "(write it as https://www.example.org/)")
    try:
        found = asyncio.run(_discover(settings, args.url))
    except FetchError as exc:  # the URL the user gave: input to fix, not a fault of ours
        raise ConfigError(f"add: {exc}") from None
    if not found:
        raise ConfigError(f"add: {without_userinfo(args.url)}: no feed found (the page is not "
                          "a feed, announces none with <link rel=\"alternate\">, and none "
                          "of the usual paths answers with one)")
    for feed in found:
        print(f"found: {feed.url}  {feed.title}")
        for title in feed.latest:
            print(f"    - {title}")
    chosen = found if args.all else found[:1]
    tags = tuple(t.strip() for t in (args.tags or "").split(",") if t.strip())
    result = add_feeds(path, [NewFeed(f.url, args.name or f.title or f.url, tags)
                              for f in chosen], "add")
    for new in result.added:
        print(f"added: {new.name} <{new.url}>")
    for name, reason in result.skipped:
        print(f"skipped: {name}: {reason}")
    return EXIT_OK


async def _discover(settings: Settings, url: str) -> list[Found]:
    from monitor.service.runtime import limits_of

    limits = limits_of(settings)
    session = make_session(limits, settings.monitor.user_agent)
    try:
        return await discover(Fetcher(session, limits), url)
    finally:
        await session.close()
