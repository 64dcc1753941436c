"""robots.txt of the hosts whose articles we fetch (issue 13), per RFC 9309.

`Robots.allows(url, trusted)` fetches `scheme://host/robots.txt` once per
host through the fetcher (so with its limits and its refusal of private
addresses), caches the parsed rules for `TTL` seconds, and answers with
protego (Scrapy's parser) for our product token. Not urllib.robotparser:
it applies the first rule that matches in file order, so the common
`Allow: /` above `Disallow: /private/` lets it fetch /private/ (RFC 9309
section 2.2.2: the most specific, longest, match wins), and it reads
whole-second Crawl-delays only. What RFC 9309 section 2.3.1 says of each
answer:
- 2xx: the rules apply;
- 4xx ("unavailable"): we may fetch anything;
- 5xx or no answer ("unreachable"): we must fetch nothing; cached for
  `TTL_UNREACHABLE` only, then asked again.
Requests for one host made together share one fetch of its robots.txt.
`crawl_delay` gives the host's Crawl-delay (not in the RFC, but widely
written), which the article fetcher honours on top of its own delay.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from protego import Protego

from monitor.config.values import without_userinfo as mask_url
from monitor.errors import FetchError, HTTPStatusError
from monitor.poll.fetcher import Fetcher

log = logging.getLogger(__name__)
AGENT = "newsmonitor"  # our product token (RFC 9309 section 2.2.1)
TTL = 24 * 3600.0  # RFC 9309 section 2.4: "SHOULD NOT use a cached version for more than 24 hours"
TTL_UNREACHABLE = 600.0
MAX_ROBOTS = 500 * 1024  # bytes of a robots.txt read
MAX_HOSTS = 10_000  # the cache's bound: expired entries go first when it is full


@dataclass(frozen=True, slots=True)
class Rules:
    """One host's robots.txt as understood: parsed rules, or all/none
    allowed; `failure`: why none is (robots.txt unreachable)."""

    parser: Protego | None
    allow_all: bool
    expires: float
    failure: FetchError | None = None

    def allows(self, url: str) -> bool:
        if self.parser is None:
            return self.allow_all
        return self.parser.can_fetch(url, AGENT)

    def crawl_delay(self) -> float:
        delay = self.parser.crawl_delay(AGENT) if self.parser is not None else None
        return delay or 0.0


class Robots:
    """The robots.txt rules of article hosts, fetched once and cached."""

    def __init__(self, fetcher: Fetcher) -> None:
        self._fetcher = fetcher
        self._hosts: dict[str, asyncio.Task[Rules]] = {}

    async def rules(self, url: str, trusted: str) -> Rules:
        """The rules of `url`'s host (`trusted`: whose host may be private)."""
        parts = urlsplit(url)
        root = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
        loop = asyncio.get_running_loop()
        task = self._hosts.get(root)
        if task is None or _stale(task, loop.time()):
            self._forget_expired(loop.time())
            task = self._hosts[root] = loop.create_task(self._fetch(root, trusted))
        # Shielded: a caller giving up at its deadline must not cancel the
        # fetch the other callers of this host wait on.
        return await asyncio.shield(task)

    async def allows(self, url: str, trusted: str) -> bool:
        return (await self.rules(url, trusted)).allows(url)

    async def _fetch(self, root: str, trusted: str) -> Rules:
        now = asyncio.get_running_loop().time()
        try:
            result = await self._fetcher.fetch(f"{root}/robots.txt", etag=None,
                                               last_modified=None, trusted=trusted)
        except HTTPStatusError as exc:
            if 400 <= exc.status < 500:
                return Rules(None, True, now + TTL)
            return self._unreachable(root, now, exc)
        except FetchError as exc:
            return self._unreachable(root, now, exc)
        # RFC 9309 section 2.5: at least 500 KiB parsed. In a thread: 500 KiB
        # of rules take protego a third of a second, the event loop none.
        text = result.body[:MAX_ROBOTS].decode("utf-8", "replace")
        parser = await asyncio.to_thread(Protego.parse, text)
        return Rules(parser, True, now + TTL)

    def _unreachable(self, root: str, now: float, exc: FetchError) -> Rules:
        log.info("robots.txt unreachable, no article fetched url=%s error=%s",
                 mask_url(root), exc)
        return Rules(None, False, now + TTL_UNREACHABLE, exc)

    def _forget_expired(self, now: float) -> None:
        if len(self._hosts) < MAX_HOSTS:
            return
        for root, task in list(self._hosts.items()):
            if _stale(task, now):
                del self._hosts[root]
        while len(self._hosts) >= MAX_HOSTS:  # all fresh: the oldest go
            del self._hosts[next(iter(self._hosts))]


def _stale(task: asyncio.Task[Rules], now: float) -> bool:
    """Whether a host's cached answer must be asked again: expired, or
    ended without one (a bug; its caller logged it)."""
    if not task.done():
        return False
    if task.cancelled() or task.exception() is not None:
        return True
    return task.result().expires <= now
