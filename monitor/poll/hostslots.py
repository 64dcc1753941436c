"""`HostSlots`: at most `size` holders at once per host, for the fetcher's
`per_host_concurrency` and for the articles' share of it (poll/articles.py).

A host's entry lives only while something holds or waits on it: a daemon
meets feeds, article hosts and redirect targets that come and go for months,
and the dict must not keep every host ever seen. The count changes with no
await in between, so no task sees it half-way, and at zero the semaphore is
back at `size`: nothing is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from monitor.poll.schedule import host_key


@dataclass(slots=True)
class _Slot:
    """One host's semaphore and how many hold or wait on it."""

    semaphore: asyncio.Semaphore
    users: int = 0


class HostSlots:
    """At most `size` holders per host (by schedule.host_key)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._hosts: dict[str, _Slot] = {}

    def __len__(self) -> int:
        """How many hosts are held or waited on."""
        return len(self._hosts)

    @contextlib.asynccontextmanager
    async def hold(self, url: str) -> AsyncIterator[None]:
        """Hold one of the slots of `url`'s host."""
        key = host_key(url)
        slot = self._hosts.get(key)
        if slot is None:
            slot = self._hosts[key] = _Slot(asyncio.Semaphore(self._size))
        slot.users += 1
        try:
            async with slot.semaphore:
                yield
        finally:
            slot.users -= 1
            if not slot.users:
                del self._hosts[key]
