"""The parse pool survives a dead worker and a parse that never ends, and
hands the executor only a few bodies at a time."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from monitor.errors import ParseError
from monitor.poll.parser import make_pool
from monitor.poll.parser.pool import ParsePool
from tests.servers import rss

FEED = rss([("a", "Ampere")])


# in_flight=1 in the next two tests: a slot not given back after the failure
# would leave the next parse waiting for ever (here, until asyncio.timeout).

async def test_a_dead_worker_costs_one_parse_and_the_pool_is_renewed() -> None:
    pool = ParsePool(lambda: make_pool(1), in_flight=1)
    try:
        assert len((await pool.parse(FEED, {}, "f")).items) == 1
        for pid in list(pool._executor._processes):  # type: ignore[attr-defined]
            os.kill(pid, signal.SIGKILL)  # as the OOM killer would
        with pytest.raises(ParseError, match="worker died"):
            await pool.parse(FEED, {}, "f")
        async with asyncio.timeout(30):
            assert len((await pool.parse(FEED, {}, "f")).items) == 1
    finally:
        pool.shutdown()


async def test_a_parse_past_the_timeout_is_abandoned() -> None:
    pool = ParsePool(lambda: make_pool(1), timeout=0.001, in_flight=1)
    try:
        big = rss([(f"g{i}", f"Item {i}") for i in range(3000)])
        with pytest.raises(ParseError, match="longer than"):
            await pool.parse(big, {}, "f")
        pool.timeout = 60
        async with asyncio.timeout(30):
            assert len((await pool.parse(FEED, {}, "f")).items) == 1
    finally:
        pool.shutdown()


class CountingThreads(ThreadPoolExecutor):
    """A real thread pool that records the most jobs it held at once
    (submitted and not finished)."""

    def __init__(self, workers: int) -> None:
        super().__init__(max_workers=workers)
        self.held = self.peak = 0
        self._count = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._count:
            self.held += 1
            self.peak = max(self.peak, self.held)
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._finished)
        return future

    def _finished(self, future: Future[Any]) -> None:
        with self._count:
            self.held -= 1


async def test_at_most_in_flight_bodies_are_in_the_executor() -> None:
    executor = CountingThreads(2)
    pool = ParsePool(lambda: executor, in_flight=3)
    try:
        feeds = [rss([(f"{n}-{i}", f"Item {i}") for i in range(n % 7 + 1)]) for n in range(40)]
        parsed = await asyncio.gather(*(pool.parse(body, {}, f"f{n}")
                                        for n, body in enumerate(feeds)))
    finally:
        pool.shutdown()
    assert [len(p.items) for p in parsed] == [n % 7 + 1 for n in range(40)]
    assert executor.peak == 3


async def test_the_timeout_counts_the_parse_not_the_wait_for_a_slot() -> None:
    """Sixteen parses, each well within the timeout (a fifth of it, when
    the machine is not slower for one of them than for the first), together
    far past it."""
    big = rss([(f"g{i}", f"Item {i}") for i in range(500)])
    pool = ParsePool(lambda: ThreadPoolExecutor(1), in_flight=1)
    try:
        started = time.monotonic()
        await pool.parse(big, {}, "f")
        pool.timeout = max(5 * (time.monotonic() - started), 0.5)
        parsed = await asyncio.gather(*(pool.parse(big, {}, f"f{n}") for n in range(16)))
    finally:
        pool.shutdown()
    assert [len(p.items) for p in parsed] == [500] * 16


async def test_parses_queued_in_a_renewed_pool_fail_as_parse_errors() -> None:
    """A parse past the timeout renews the pool, which cancels the jobs
    queued behind it: those feeds get a ParseError, not a CancelledError
    that would end their poll outside its compartment."""
    # Far past the timeout whatever the machine: were it done just after the
    # timeout, the worker could take the next queued job before the pool
    # is killed.
    big = rss([(f"g{i}", f"Item {i}") for i in range(30000)])
    pool = ParsePool(lambda: make_pool(1), timeout=0.6, in_flight=5)

    async def queued_behind(n: int) -> object:
        await asyncio.sleep(0.3)  # the big one is running by now
        return await pool.parse(FEED, {}, f"small{n}")

    try:
        await pool.parse(FEED, {}, "warm-up")  # the worker is spawned
        results = await asyncio.gather(pool.parse(big, {}, "big"),
                                       *(queued_behind(n) for n in range(4)),
                                       return_exceptions=True)
        assert [type(r) for r in results] == [ParseError] * 5
        # The renewed pool works; its new worker may take more than the short
        # timeout to spawn on a busy machine, which is not what this checks.
        pool.timeout = 30
        async with asyncio.timeout(30):
            assert len((await pool.parse(FEED, {}, "f")).items) == 1
    finally:
        pool.shutdown()
