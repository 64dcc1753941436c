"""The linked articles of a `fulltext` feed's new items (issue 13).

`Articles.enrich(feed, items)` gives the items back with their article's
main text added to `content` (after the feed's own content, which a paywall
teaser or a cookie wall must not take away), fetched and extracted within
one deadline (`[monitor] fulltext_timeout`): the articles are fetched
together, each extracted in the parse pool, and whatever is not done at the
deadline is given up, its item matched on what the feed gave. So a poll
waits at most the deadline, and other polls do not wait for it: a host's
articles take at most `per_host_concurrency` - 1 of its request slots
(1 when it is 1), so that its feeds keep one however its articles hang.

Politeness and safety, as for the feeds themselves:
- every request goes through the fetcher (its per-host concurrency,
  timeouts, body cap, and its refusal of a private address unless the
  feed's own host is one, or `allow_private_networks`);
- robots.txt of the article's host is obeyed (poll/robots.py);
- requests to one host are spaced by `fulltext_host_delay`, or the host's
  Crawl-delay if longer (capped at MAX_CRAWL_DELAY), and a 429/503's
  Retry-After holds the host's next article request;
- an article is fetched once: its outcome and text are stored
  (store/articles.py), a later item with the same link reads them there.
Each failure is an `Article` with its category, stored and counted per feed
in `status`; none is raised.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from monitor.config import FeedSettings, MonitorSettings
from monitor.config.values import without_userinfo as mask_url
from monitor.errors import FetchError, HTTPStatusError, ParseError
from monitor.models import Item
from monitor.poll.fetcher import Fetcher
from monitor.poll.hostslots import HostSlots
from monitor.poll.parser.article import MAX_TEXT
from monitor.poll.parser.pool import ParsePool
from monitor.poll.robots import Robots
from monitor.poll.schedule import host_key
from monitor.store import Store
from monitor.store.articles import Article

log = logging.getLogger(__name__)
MAX_CRAWL_DELAY = 60.0  # seconds; a robots.txt asking more is read as this
MAX_HOSTS = 10_000  # pacing entries kept; past ones are dropped beyond this


class Articles:
    """Fetches, extracts and remembers the articles of new items."""

    def __init__(self, fetcher: Fetcher, pool: ParsePool, store: Store,
                 monitor: MonitorSettings,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 bodies: asyncio.Semaphore | None = None) -> None:
        """`bodies`: the slots of bodies held in memory, shared with the
        polls (pipeline.Context.bodies): an article holds one from its
        fetch until it is extracted, so feeds and articles together hold
        at most [monitor] concurrency bodies of up to max_body each."""
        self._fetcher, self._pool, self._store, self._clock = fetcher, pool, store, clock
        self._bodies = bodies or asyncio.Semaphore(monitor.concurrency)
        self._robots = Robots(fetcher)
        self._next: dict[str, float] = {}  # host → loop time its next request may start
        # The articles' share of each host's slots (per_host_concurrency is
        # read at start only, as the fetcher's): its feeds keep one.
        self._hosts = HostSlots(max(1, monitor.per_host_concurrency - 1))
        self.use(monitor)

    def use(self, monitor: MonitorSettings) -> None:
        """Take [monitor]'s deadline and host delay (at start, and at a reload)."""
        self._deadline = monitor.fulltext_timeout.total_seconds()
        self._delay = monitor.fulltext_host_delay.total_seconds()

    async def enrich(self, feed: FeedSettings, items: Sequence[Item]) -> list[Item]:
        """`items` with their article's text as `content` where it was read
        in time (else as they were); returns within the deadline."""
        links = list(dict.fromkeys(i.link for i in items
                                   if i.link.startswith(("http://", "https://"))))
        if not links:
            return list(items)
        articles = await self._store.articles.known(links)
        fetched = await self._fetch_all(feed, [u for u in links if u not in articles])
        await self._store.articles.record(feed.name, fetched, self._clock().timestamp())
        articles.update((a.url, a) for a in fetched)
        return [_with_text(item, articles.get(item.link)) for item in items]

    async def _fetch_all(self, feed: FeedSettings, urls: Sequence[str]) -> list[Article]:
        """Each of `urls` fetched at once; those not done at the deadline
        are cancelled, as timed out."""
        if not urls:
            return []
        until = asyncio.get_running_loop().time() + self._deadline
        tasks = {asyncio.create_task(self._one(feed, url, until)): url for url in urls}
        try:
            done, pending = await asyncio.wait(tasks, timeout=self._deadline)
        finally:  # also when the poll itself is cancelled (the daemon stops)
            for task in tasks:
                task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        late = [Article(tasks[t], "timeout", error=f"not read within {self._deadline:g} s")
                for t in pending]
        articles = [t.result() for t in done] + late
        for a in articles:
            if not a.ok:
                log.info("article not read feed=%s url=%s error=%s: %s", feed.name,
                         mask_url(a.url), a.outcome, a.error)
        return articles

    async def _one(self, feed: FeedSettings, url: str, until: float) -> Article:
        """One article, read or failed; the compartment of one link.
        `until`: the loop time of the deadline."""
        try:
            rules = await self._robots.rules(url, feed.url)
            if not await asyncio.to_thread(rules.allows, url):  # 10 ms on 500 KiB
                if rules.failure is not None:  # robots.txt unreachable: nothing may be
                    return Article(url, rules.failure.category,
                                   error=f"robots.txt: {rules.failure}")
                return Article(url, "robots", error="disallowed by robots.txt")
            if not await self._pace(url, rules.crawl_delay(), until):
                return Article(url, "timeout", error="the host's turn comes after the "
                               "deadline")
            async with self._bodies:
                async with self._hosts.hold(url):
                    result = await self._fetcher.fetch(url, etag=None, last_modified=None,
                                                       trusted=feed.url)
                text = await self._pool.article(result.body, result.final_url)
            return Article(url, "ok", text) if text else Article(url, "empty",
                                                                 error="no main text")
        except FetchError as exc:
            self._retry_after(url, exc)
            return Article(url, exc.category, error=str(exc))
        except ParseError as exc:
            return Article(url, "extract", error=str(exc))
        except Exception as exc:  # a bug: this link fails, the item is matched as it is
            log.exception("article fetch crashed feed=%s url=%s", feed.name, mask_url(url))
            return Article(url, "bug", error=repr(exc))

    async def _pace(self, url: str, crawl_delay: float, until: float) -> bool:
        """Wait for this host's turn: requests to one host start at least
        the delay apart. The turn is taken before the wait, so requests
        made together line up without a lock. False, with no turn taken,
        when it would come after `until`: a turn never used would hold
        back the host's next articles."""
        loop, host = asyncio.get_running_loop(), host_key(url)
        now = loop.time()
        start = max(now, self._next.get(host, now))
        if start >= until:
            return False
        if len(self._next) >= MAX_HOSTS:
            self._next = {h: t for h, t in self._next.items() if t > now}
        self._next[host] = start + max(self._delay, min(crawl_delay, MAX_CRAWL_DELAY))
        if start > now:
            await asyncio.sleep(start - now)
        return True

    def _retry_after(self, url: str, exc: FetchError) -> None:
        """A 429/503 with Retry-After holds the host's next article request."""
        if isinstance(exc, HTTPStatusError) and exc.retry_after:
            host, now = host_key(url), asyncio.get_running_loop().time()
            self._next[host] = max(self._next.get(host, now), now + exc.retry_after)


def _with_text(item: Item, article: Article | None) -> Item:
    """The item with its article's text added to its content: after the
    feed's own content (a paywall teaser, a consent wall or a poor
    extraction must not take away what the feed gave), or in its place when
    one holds the other."""
    if article is None or not article.text:
        return item
    own, text = item.content, article.text
    if not own or own in text:
        return replace(item, content=text)
    if text in own:
        return item
    return replace(item, content=f"{own} {text}"[:MAX_TEXT])
