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
from urllib.parse import unquote, urlsplit

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
    try:
        found = asyncio.run(_discover(settings, _checked(args.url)))
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
    result = add_feeds(path, [NewFeed(f.url, args.name or f.title or f.url, tags,
                                      *_credentials(args.url, f.url))
                              for f in chosen], "add")
    for new in result.added:
        print(f"added: {new.name} <{new.url}>")
    for name, reason in result.skipped:
        print(f"skipped: {name}: {reason}")
    return EXIT_OK


def _credentials(given: str, feed: str) -> tuple[str, str]:
    """The user and password of the URL the user gave (`https://u:p@host/`),
    for a feed found on that same host: its `username` and `password` (the
    feed's URL as found has none, and its polls would go without them)."""
    parts = urlsplit(given)
    if not (parts.username or parts.password) or urlsplit(feed).hostname != parts.hostname:
        return "", ""
    return unquote(parts.username or ""), unquote(parts.password or "")


def _checked(url: str) -> str:
    """`url` if it is an http(s) URL with a host: a bare `lemonde.fr` was sent
    to aiohttp as is, and failed as a runtime error (exit 3), not a usage one."""
    try:
        parts = urlsplit(url)
        if parts.scheme.lower() in ("http", "https") and parts.hostname:
            return url
    except ValueError:  # "http://[", say
        pass
    shown = url.rsplit("@", 1)[-1]  # no user:password, even unparsable
    raise ConfigError(f"add: {shown!r} is not an http(s) URL; "
                      f"write it whole, e.g. https://{shown.split('://')[-1].lstrip('/')}")


async def _discover(settings: Settings, url: str) -> list[Found]:
    from monitor.service.runtime import limits_of

    limits = limits_of(settings)
    session = make_session(limits, settings.monitor.user_agent)
    try:
        return await discover(Fetcher(session, limits), url)
    finally:
        await session.close()
