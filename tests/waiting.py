"""Waiting for something a daemon does, with a deadline."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable, Iterator
from types import FrameType


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


@contextlib.contextmanager
def at_most(seconds: int) -> Iterator[None]:
    """A hang fails the test (with the stack where it hung) instead of CI."""
    def hung(_signum: int, _frame: FrameType | None) -> None:
        raise TimeoutError(f"no answer after {seconds} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
