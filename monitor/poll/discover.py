"""Finding the feeds of a web page, for `newsmonitor add URL`.

A user often has a site's address, not its feed's. In order: the URL itself
if it is a feed; the feeds its HTML announces with `<link rel="alternate">`
(the RSS autodiscovery convention, with the RSS, Atom and JSON Feed media
types); else the paths where publishers' software puts them (WordPress,
Blogger, static site generators). Each candidate is fetched with the same
fetcher and limits as a poll, and kept only if it parses as a feed.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser

from monitor.errors import FetchError, ParseError
from monitor.poll.fetcher import Fetcher
from monitor.poll.parser import ParsedFeed, parse_feed

FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/rdf+xml",
                        "application/feed+json", "application/xml", "text/xml"})
COMMON_PATHS = ("/feed", "/rss", "/rss.xml", "/feed.xml", "/atom.xml", "/index.xml",
                "/feeds/posts/default", "/?feed=rss2", "/feed.json")
MAX_CANDIDATES = 10


@dataclass(frozen=True, slots=True)
class Found:
    """A feed found for a page: its URL, its title and its latest item titles."""

    url: str
    title: str
    latest: tuple[str, ...]


def feed_links(html: bytes, base: str) -> list[str]:
    """The absolute URLs of the feeds a page announces, in page order."""
    tree = LexborHTMLParser(html)
    urls: list[str] = []
    for link in tree.css("link[href]"):
        rel = (link.attributes.get("rel") or "").lower().split()
        kind = (link.attributes.get("type") or "").lower().split(";")[0].strip()
        if "alternate" in rel and kind in FEED_TYPES:
            urls.append(urljoin(base, link.attributes.get("href") or ""))
    return list(dict.fromkeys(urls))


async def discover(fetcher: Fetcher, url: str, latest: int = 5) -> list[Found]:
    """The feeds of `url` (see the module docstring); [] when there are none.
    Raises FetchError when `url` itself cannot be fetched."""
    page = await fetcher.fetch(url, etag=None, last_modified=None)
    parsed = _parsed(page.body, page.headers)
    if parsed is not None:
        return [_found(page.final_url, parsed, latest)]
    candidates = feed_links(page.body, page.final_url) or [
        urljoin(page.final_url, path) for path in COMMON_PATHS]
    found = []
    for candidate in candidates[:MAX_CANDIDATES]:
        try:
            result = await fetcher.fetch(candidate, etag=None, last_modified=None)
        except FetchError:
            continue
        parsed = _parsed(result.body, result.headers)
        if parsed is not None:
            found.append(_found(result.final_url, parsed, latest))
    return found


def _parsed(body: bytes, headers: dict[str, str]) -> ParsedFeed | None:
    try:
        parsed = parse_feed(body, headers, "candidate")
    except ParseError:
        return None
    # A page with a title and no item that is not even well-formed is HTML.
    return parsed if parsed.items or (parsed.title and not parsed.bozo) else None


def _found(url: str, parsed: ParsedFeed, latest: int) -> Found:
    return Found(url, parsed.title, tuple(item.title for item in parsed.items[:latest]))
