"""The parse pool as the daemon uses it: bounded in time and in bodies
queued, and renewed when it breaks.

Feeds polled together finish their fetches together; only a few parses per
worker are handed to the executor at once, the others wait their turn
before their bodies go in (see `ParsePool`).

A ProcessPoolExecutor whose worker dies (killed for memory, a crash in a C
extension) is broken for good: every later job fails at once. A worker stuck
in a pathological document holds its slot forever. `ParsePool` turns both
into a ParseError for the feeds concerned and starts a fresh pool, so one bad
document costs a failed poll, not the daemon. Jobs still queued in the old
pool are cancelled with it: a ParseError for their feeds too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from monitor.errors import ParseError
from monitor.poll.parser import (
    ParsedFeed,
    make_pool,
    parse_feed,
    pool_workers,
)
from monitor.poll.parser.article import article_text
from monitor.poll.parser.prescan import Listing, listing, parse_listed

log = logging.getLogger(__name__)
PARSE_TIMEOUT = 60.0  # seconds; feedparser takes ~12 s on a 27 MB feed
T = TypeVar("T")


class ParsePool:
    """Parses in an executor made by `factory`, at most `in_flight` at once.

    `in_flight` bounds the jobs handed to the executor and not yet given up:
    each holds a fetched body (up to max_body) in the executor's queue, and
    a thousand feeds polled together would otherwise all park theirs there.
    A parse waits for a slot before its body goes in, and `timeout` starts
    only once it has one. The default, two per worker of `make_pool`'s
    default, keeps each worker busy while the next body is pickled over (so
    a parse may also wait behind one busy worker, within its timeout); pass
    `in_flight` when `factory` makes another number of workers.
    """

    def __init__(self, factory: Callable[[], Executor] = make_pool,
                 timeout: float = PARSE_TIMEOUT, in_flight: int | None = None) -> None:
        if in_flight is not None and in_flight < 1:
            raise ValueError(f"in_flight must be at least 1, not {in_flight}")
        self._factory, self.timeout = factory, timeout
        self._executor = factory()
        self._slots = asyncio.Semaphore(in_flight or 2 * pool_workers())

    async def parse(self, body: bytes, headers: Mapping[str, str],
                    feed_name: str) -> ParsedFeed:
        """Parse in the pool; ParseError if it fails, breaks or takes too long.

        The slot is given back however the parse ends: a parse abandoned at
        the timeout or lost with a dead worker leaves a pool that `_renew`
        replaces, so it holds no worker of the pool that later parses use.
        """
        async with self._slots:
            return await self._parse(parse_feed, body, dict(headers), feed_name)

    async def listing(self, body: bytes, headers: Mapping[str, str], title_max: int,
                      summary_max: int) -> Listing | None:
        """The pre-scan of a changed document (parser.prescan.listing)."""
        async with self._slots:
            return await self._parse(listing, body, dict(headers), title_max, summary_max)

    async def parse_listed(self, body: bytes, headers: Mapping[str, str], listed: Listing,
                           known: frozenset[str], feed_name: str) -> ParsedFeed:
        """`parse` of a listed document without its `known` items."""
        async with self._slots:
            return await self._parse(parse_listed, body, dict(headers), listed, known,
                                     feed_name)

    async def article(self, body: bytes, url: str) -> str:
        """An article page's main text (parser.article), in the pool: the
        event loop never runs trafilatura."""
        async with self._slots:
            return await self._parse(article_text, body, url)

    async def _parse(self, function: Callable[..., T], *args: object) -> T:
        executor = self._executor  # after the wait for a slot: the current pool
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(
                loop.run_in_executor(executor, function, *args), self.timeout)
        except TimeoutError:
            self._renew(executor, f"a parse took over {self.timeout:g} s")
            raise ParseError(f"parsing took longer than {self.timeout:g} s") from None
        except BrokenProcessPool:
            self._renew(executor, "a parse worker died")
            raise ParseError("the parse worker died; the feed is parsed again "
                             "at its next poll") from None
        except asyncio.CancelledError:
            if executor is self._executor or _cancelling():
                raise  # our own task was cancelled
            # `_kill` cancelled this job, queued in the pool another feed's
            # failure replaced: that is this feed's failed parse, not a
            # cancellation of its poll.
            raise ParseError("the parse pool was renewed before this feed was "
                             "parsed; it is parsed again at its next poll") from None

    def _renew(self, broken: Executor, why: str) -> None:
        if broken is not self._executor:
            return  # another feed renewed it already
        log.error("parse pool renewed error=%s", why)
        self._executor = self._factory()
        _kill(broken)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _cancelling() -> bool:
    """Whether someone asked to cancel the running task."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _kill(executor: Executor) -> None:
    """Stop a pool now, its busy workers included (shutdown would wait for them)."""
    executor.shutdown(wait=False, cancel_futures=True)
    if isinstance(executor, ProcessPoolExecutor):
        # No public API ends a busy worker; _processes is how the stdlib's own
        # tests and every pool-recycling library reach them.
        for process in list((executor._processes or {}).values()):
            process.kill()
