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
(parser.dates). A document with neither entries nor a feed title raises
ParseError. Everything returned pickles, for `parse_in_pool`.
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
from dataclasses import dataclass
from typing import Any

import feedparser
from feedparser.encodings import convert_to_utf8

from monitor.errors import ParseError
from monitor.models import Item
from monitor.poll.parser.dates import feed_offset, published
from monitor.poll.parser.defuse import defuse
from monitor.poll.parser.identity import clean_link, entry_link, identity, short_id
from monitor.text import html_to_text, strip_controls

__all__ = ["ParsedFeed", "make_pool", "parse_feed", "parse_in_pool", "pool_workers"]

_UTF8_XML = "application/xml; charset=utf-8"
# sy:updatePeriod units (RSS 1.0 Syndication module), in seconds.
_PERIODS = {"hourly": 3600, "daily": 86400, "weekly": 604800, "monthly": 2592000,
            "yearly": 31536000}


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """One parsed document. `bozo` is feedparser's complaint when it still
    found something usable; `ttl` (RSS <ttl>) and `update_period`
    (sy:updatePeriod / sy:updateFrequency) are seconds, or None if absent."""

    title: str
    link: str
    items: tuple[Item, ...]
    bozo: str | None = None
    ttl: float | None = None
    update_period: float | None = None

    @property
    def cache_hint(self) -> float | None:
        """The longer of the two feed-level hints, for schedule.cache_hint."""
        hints = [h for h in (self.ttl, self.update_period) if h]
        return max(hints) if hints else None


def parse_feed(body: bytes, headers: Mapping[str, str], feed_name: str) -> ParsedFeed:
    """Parse one document; raises ParseError if it is not a usable feed."""
    doc, encoding_problem = _feedparse(body, {k.lower(): v for k, v in headers.items()})
    feed = doc.get("feed", {})
    title = html_to_text(str(feed.get("title", "")))
    if not doc.entries and not title:
        reason = doc.get("bozo_exception") or encoding_problem or "no entries and no title"
        hint = ("; this is a web page: `newsmonitor add URL` finds its feeds"
                if b"<html" in body[:4096].lower() else "")
        raise ParseError(f"{feed_name}: not a feed: {reason}{hint}")
    link = clean_link(str(feed.get("link", "")))
    problem = doc.get("bozo_exception") if doc.get("bozo") else encoding_problem
    return ParsedFeed(
        title=title,
        link=link,
        items=tuple(_items(doc.entries, feed_name, link)),
        bozo=str(problem) if problem else None,
        ttl=_minutes(feed.get("ttl")),
        update_period=_update_period(feed),
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


def _feedparse(body: bytes, headers: dict[str, str]) -> tuple[Any, object | None]:
    """feedparser on the defused UTF-8 text; also returns the charset complaint."""
    first: dict[str, Any] = {}
    utf8 = convert_to_utf8(headers, body, first)
    if first.get("encoding"):
        # Decoded once: tell feedparser so, or it would redo it differently.
        headers = {**headers, "content-type": _UTF8_XML}
    doc = feedparser.parse(
        io.BytesIO(defuse(utf8)),
        response_headers=headers,
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    return doc, first.get("bozo_exception")


def _items(entries: list[Any], feed_name: str, base: str) -> Iterator[Item]:
    offset = feed_offset(
        str(dict.get(e, k) or "") for e in entries for k in ("published", "updated")
    )
    seen: dict[str, tuple[str, str]] = {}
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
        key = identity(entry, link, title)
        if key in seen:
            if seen[key] == (title, link):
                continue  # the same entry twice in one document
            # A guid reused for another story (identity rule 5).
            key = f"{key}\n{link}\n{title}"
        seen[key] = (title, link)
        yield Item(
            feed=feed_name,
            id=short_id(key),
            title=title,
            summary=summary,
            link=link,
            published=published(entry, offset),
            author=html_to_text(str(entry.get("author", ""))),
        )


def _summary(entry: Mapping[str, Any]) -> str:
    """The summary, else the first content (Atom feeds with only <content>)."""
    if summary := entry.get("summary"):
        return str(summary)
    contents = entry.get("content") or []
    return str(contents[0].get("value", "")) if contents else ""


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


