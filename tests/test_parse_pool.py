"""The parse pool survives a dead worker and a parse that never ends."""

from __future__ import annotations

import os
import signal

import pytest

from monitor.errors import ParseError
from monitor.parser import make_pool
from monitor.parser.pool import ParsePool
from tests.servers import rss

FEED = rss([("a", "Ampere")])


async def test_a_dead_worker_costs_one_parse_and_the_pool_is_renewed() -> None:
    pool = ParsePool(lambda: make_pool(1))
    try:
        assert len((await pool.parse(FEED, {}, "f")).items) == 1
        for pid in list(pool._executor._processes):  # type: ignore[attr-defined]
            os.kill(pid, signal.SIGKILL)  # as the OOM killer would
        with pytest.raises(ParseError, match="worker died"):
            await pool.parse(FEED, {}, "f")
        assert len((await pool.parse(FEED, {}, "f")).items) == 1
    finally:
        pool.shutdown()


async def test_a_parse_past_the_timeout_is_abandoned() -> None:
    pool = ParsePool(lambda: make_pool(1), timeout=0.001)
    try:
        big = rss([(f"g{i}", f"Item {i}") for i in range(3000)])
        with pytest.raises(ParseError, match="longer than"):
            await pool.parse(big, {}, "f")
        pool.timeout = 60
        assert len((await pool.parse(FEED, {}, "f")).items) == 1
    finally:
        pool.shutdown()
