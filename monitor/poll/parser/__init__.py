"""Feed bytes + HTTP headers → `ParsedFeed`; pure: no URL is ever fetched.

`parse_feed` runs feedparser 6 on the body as the brief of issue 4 fixes it
(`io.BytesIO`, `response_headers`, no sanitising, no URI resolution), after
two steps of ours:
- charset: feedparser's own `convert_to_utf8` picks the encoding from the
  HTTP Content-Type charset, the XML declaration, a BOM, then utf-8 /
  windows-1252 fallbacks (Le Cercle Psy and UOL send Latin-1 with no
  declaration: with no charset header they decode as windows-1252, a
  superset of Latin-1 for text, and are flagged bozo);
- defuse: every DTD declaration is removed from the UTF-8 text (see
  parser.defuse for exactly which protection applies).
Entries become `models.Item` with plain-text title/summary, a cleaned link,
a stable short id (parser.identity) and a UTC `published` hint
(parser.dates); also, for rules that read them (issue 13), the feed's own
full content as plain text (`content`, see `_content`), every author's name
joined (`author`) and the entry's categories (`categories`). A document
with neither entries nor a feed title raises ParseError. Everything
returned pickles, for `parse_in_pool`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import ctypes.util
import io
import multiprocessing
import os
import signal
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any, Literal

import feedparser

from monitor.errors import ParseError
from monitor.models import Item
from monitor.poll.parser.dates import feed_offset, published
from monitor.poll.parser.decode import Partial, Prepared, prepare
from monitor.poll.parser.identity import Repeats, clean_link, entry_link, identity, short_id
from monitor.poll.parser.jsonfeed import is_json_feed, parse_json_feed
from monitor.poll.parser.parsed import CONTENT_CHARS, MAX_CATEGORIES, ParsedFeed, cut_text
from monitor.text import html_to_text, strip_controls

__all__ = ["CONTENT_CHARS", "ParsedFeed", "make_pool", "parse_feed", "parse_in_pool",
           "parse_partial", "pool_workers"]

# sy:updatePeriod units (RSS 1.0 Syndication module), in seconds.
_PERIODS = {"hourly": 3600, "daily": 86400, "weekly": 604800, "monthly": 2592000,
            "yearly": 31536000}


def parse_feed(body: bytes, headers: Mapping[str, str], feed_name: str) -> ParsedFeed:
    """Parse one document; raises ParseError if it is not a usable feed.
    A JSON Feed (parser.jsonfeed) is read whole by its own reader."""
    if is_json_feed(body, headers):
        return parse_json_feed(body, headers, feed_name)
    return parse_prepared(prepare(body, headers), feed_name)


def parse_partial(partial: Partial, feed_name: str) -> ParsedFeed:
    """Parse what `Scan.partial` kept of a document: the same result as
    `parse_feed` on the whole document minus the items it had seen, which
    come back as `known` (see parser.prescan)."""
    parsed = parse_prepared(partial.prepared, feed_name, partial.offset, bool(partial.known))
    return replace(parsed, known=partial.known)


def parse_prepared(prepared: Prepared, feed_name: str,
                   offset: timedelta | Literal["own"] | None = "own",
                   had_items: bool = False) -> ParsedFeed:
    """feedparser on a prepared document. `offset` is the feed's usual UTC
    offset (parser.dates.feed_offset), by default read from the entries
    parsed; `had_items` says items were cut out of it (not "not a feed")."""
    doc = _feedparse(prepared)
    feed = doc.get("feed", {})
    title = html_to_text(str(feed.get("title", "")))
    if not doc.entries and not title and not had_items:
        reason = doc.get("bozo_exception") or prepared.problem or "no entries and no title"
        hint = ("; this is a web page: `newsmonitor add URL` finds its feeds"
                if b"<html" in prepared.text[:4096].lower() else "")
        raise ParseError(f"{feed_name}: not a feed: {reason}{hint}")
    link = clean_link(str(feed.get("link", "")))
    if doc.get("bozo"):
        exc = doc.get("bozo_exception")
        problem = str(exc) if exc else None
    else:
        problem = prepared.problem
    if offset == "own":
        offset = _offset(doc.entries)
    rss = str(doc.get("version", "")).startswith("rss")
    return ParsedFeed(
        title=title,
        link=link,
        items=tuple(_items(doc.entries, feed_name, link, rss, offset)),
        bozo=problem,
        ttl=_minutes(feed.get("ttl")),
        update_period=_update_period(feed),
        hub=_link(feed, "hub"),
        self_url=_link(feed, "self"),
    )


async def parse_in_pool(
    executor: concurrent.futures.Executor,
    body: bytes,
    headers: Mapping[str, str],
    feed_name: str,
) -> ParsedFeed:
    """`parse_feed` in `executor` (a ProcessPoolExecutor in the daemon)."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, parse_feed, body, dict(headers), feed_name)


def pool_workers() -> int:
    """How many workers `make_pool` starts by default: one per CPU."""
    return os.cpu_count() or 1


def make_pool(workers: int | None = None) -> concurrent.futures.ProcessPoolExecutor:
    """The parse pool: one worker per CPU (parsing is the CPU-bound step),
    started with "spawn".

    Not "fork": the process creating the pool has threads by then
    (aiosqlite runs one per connection), and a forked child inherits a copy
    of whatever lock such a thread held (CPython 3.12 warns about it); it
    also inherits the parent's whole heap, so its memory was the parent's
    plus its own. A spawned worker imports only the parser.
    """
    return concurrent.futures.ProcessPoolExecutor(
        max_workers=workers or pool_workers(),
        mp_context=multiprocessing.get_context("spawn"), initializer=_worker_start)


def _worker_start() -> None:
    # Ctrl-C reaches the whole process group: the daemon handles it and shuts
    # the pool down; a worker that also took it would print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent() -> None:
    """Have the kernel kill this worker when the daemon dies, however it
    dies: a SIGKILLed daemon cannot shut its pool down, and its workers
    (and the multiprocessing resource tracker, which waits for every holder
    of its pipe) would live on as orphans. Linux only; elsewhere a no-op."""
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the daemon died before the request took effect
        os._exit(1)


def _feedparse(prepared: Prepared) -> Any:
    """feedparser on the defused text, with our options."""
    return feedparser.parse(
        io.BytesIO(prepared.text),
        response_headers=prepared.headers,
        sanitize_html=False,
        resolve_relative_uris=False,
    )


def _offset(entries: list[Any]) -> timedelta | None:
    return feed_offset(
        str(dict.get(e, k) or "") for e in entries for k in ("published", "updated")
    )


def _items(entries: list[Any], feed_name: str, base: str, rss: bool,
           offset: timedelta | None) -> Iterator[Item]:
    repeats = Repeats()
    for parsed in entries:
        # A plain copy of the entry (no key is aliased or computed by
        # FeedParserDict for the keys read here): its .get resolves aliases in
        # Python and raises and catches a KeyError for each missing key.
        entry = dict(parsed)
        title = html_to_text(str(entry.get("title", "")))
        link = strip_controls(entry_link(entry, base))
        summary = html_to_text(_summary(entry))
        if not (title or link or summary):
            continue  # an empty <item> (Le Cercle Psy has one): nothing to match or show
        key = repeats.key(identity(entry, link, title), title, link)
        if key is None:
            continue  # the same entry twice in one document
        yield Item(
            feed=feed_name,
            id=short_id(key),
            title=title,
            summary=summary,
            link=link,
            published=published(entry, offset),
            author=_authors(entry),
            content=_content(entry, rss),
            categories=_categories(entry),
        )


def _summary(entry: Mapping[str, Any]) -> str:
    """The summary, else the first content (Atom feeds with only <content>)."""
    if summary := entry.get("summary"):
        return str(summary)
    contents = entry.get("content") or []
    return str(contents[0].get("value", "")) if contents else ""


def _link(feed: Mapping[str, Any], rel: str) -> str:
    """The href of the feed's first link of relation `rel`, or ""."""
    for link in feed.get("links") or []:
        if isinstance(link, Mapping) and str(link.get("rel", "")).lower() == rel:
            return strip_controls(str(link.get("href", "")).strip())
    return ""


_TEXT_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def _content(entry: Mapping[str, Any], rss: bool) -> str:
    """The entry's full content as plain text: the first `content` feedparser
    found (RSS content:encoded, Atom <content>, xhtml:body).

    In RSS only an HTML one: feedparser also files a second description under
    `content` when the entry already has one, as plain text (Le Figaro's and
    Libération's media:description photo captions, the BBC's itunes:summary);
    RSS has no plain-text content element, so those are not the article."""
    for part in entry.get("content") or []:
        value = str(part.get("value") or "")
        if value and (not rss or part.get("type") in _TEXT_TYPES):
            return cut_text(html_to_text(value[:4 * CONTENT_CHARS]), CONTENT_CHARS)
    return ""


def _authors(entry: Mapping[str, Any]) -> str:
    """Every author's name, joined "A, B" (Atom allows several <author>, and
    podcasts add itunes:author); else feedparser's `author` (dc:creator)."""
    names = [html_to_text(str(a.get("name") or "")) for a in entry.get("authors") or []
             if isinstance(a, Mapping)]
    names = list(dict.fromkeys(name for name in names if name))
    return ", ".join(names) if names else html_to_text(str(entry.get("author", "")))


def _categories(entry: Mapping[str, Any]) -> tuple[str, ...]:
    """The entry's categories (RSS <category>, Atom category's term, else its
    label; dc:subject), as plain text, each once, in document order."""
    found: dict[str, None] = {}
    for tag in entry.get("tags") or []:
        if isinstance(tag, Mapping):
            name = html_to_text(str(tag.get("term") or tag.get("label") or ""))
            if name:
                found[name] = None
    return tuple(found)[:MAX_CATEGORIES]


def _minutes(value: object) -> float | None:
    """RSS 2.0 <ttl> is "number of minutes"."""
    try:
        minutes = float(str(value).strip())
    except ValueError:
        return None
    return minutes * 60 if minutes > 0 else None


def _update_period(feed: Mapping[str, Any]) -> float | None:
    period = _PERIODS.get(str(feed.get("sy_updateperiod", "")).strip().lower())
    if period is None:
        return None
    try:
        frequency = max(int(str(feed.get("sy_updatefrequency", "1")).strip()), 1)
    except ValueError:
        frequency = 1
    return period / frequency


