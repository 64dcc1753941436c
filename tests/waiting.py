"""Waiting for something a daemon does, with a deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


def wait_for(predicate: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"condition not met in {timeout} s")


async def until(predicate: Callable[[], bool], timeout: float = 40) -> None:
    """Like wait_for, inside a running loop (the predicate may block: it runs
    in a thread, so the daemon under test keeps running)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(predicate):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"condition not met in {timeout} s")
