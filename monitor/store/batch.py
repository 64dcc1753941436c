"""Group commit: the writes of polls that end together, in one transaction.

A thousand feeds polled together end within the same second; one
transaction each (BEGIN, a few statements, COMMIT, and SQLite's one-writer
turn) cost more than the statements themselves, and made the store the
bottleneck of a cycle where most feeds answer 304 (issue 17). `GroupCommit`
runs the writes submitted while a transaction is under way in the next
one, together: each caller still gets its own result, and each poll's
writes are still all or nothing (they share a transaction, they are never
split across two). When a batch fails, its writes are run again one by one,
so that one poll's failure (or bug) is that poll's alone.

What a write is, and how a batch of them becomes one transaction, is the
caller's `combine`: `in_turn` runs functions of a connection one after the
other; the store also batches the writes of quiet polls (nothing new) as one
executemany per statement.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

W = TypeVar("W")  # a write, as `combine` takes it
R = TypeVar("R")  # its result
Batch = Callable[[AsyncConnection], Awaitable[list[Any]]]
Runner = Callable[[Batch], Awaitable[list[Any]]]  # Store._run: one transaction
MAX_BATCH = 200  # writes per transaction: a bounded time holding SQLite's writer turn


class GroupCommit(Generic[W, R]):
    """Submit writes with `run`. `transaction` runs one function in one
    transaction (Store._run: StoreError on a database failure); `combine`
    makes the function that does a list of writes and returns their results."""

    def __init__(self, transaction: Runner, combine: Callable[[Sequence[W]], Batch]) -> None:
        self._transaction, self._combine = transaction, combine
        self._pending: list[tuple[W, asyncio.Future[R]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def run(self, write: W) -> R:
        """`write`'s result, once its transaction has committed."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((write, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return await asyncio.shield(future)

    async def _flush(self) -> None:
        batch: list[tuple[W, asyncio.Future[R]]] = []
        try:
            await asyncio.sleep(0)  # the callers of this turn of the loop join in
            while self._pending:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                await self._commit(batch)
        finally:
            self._flusher = None
            for _, future in batch + self._pending:  # cancelled: the loop is closing
                if not future.done():
                    future.cancel()
            self._pending = []

    async def _commit(self, batch: list[tuple[W, asyncio.Future[R]]]) -> None:
        results = None
        if len(batch) > 1:
            try:
                results = await self._transaction(self._combine([w for w, _ in batch]))
            except Exception:
                results = None  # rolled back: each alone below
        if results is not None:
            for (_, future), result in zip(batch, results, strict=True):
                _settle(future, result, None)
            return
        for write, future in batch:
            try:
                _settle(future, (await self._transaction(self._combine([write])))[0], None)
            except Exception as exc:
                _settle(future, None, exc)


def in_turn(writes: Sequence[Callable[[AsyncConnection], Awaitable[Any]]]) -> Batch:
    """A `combine`: each write, a function of the connection, in turn."""
    async def run(conn: AsyncConnection) -> list[Any]:
        return [await write(conn) for write in writes]
    return run


def _settle(future: asyncio.Future[Any], result: Any, error: Exception | None) -> None:
    if future.done():
        return  # its caller was cancelled: the write stands, nobody reads it
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
