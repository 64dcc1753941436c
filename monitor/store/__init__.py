"""All persistence; the only package that speaks SQL.

SQLite (a file, the embedded default) and PostgreSQL (when several instances
share the work) sit behind this one facade, `Store`, through SQLAlchemy
Core's async engine (aiosqlite, psycopg). Each of its methods is one
transaction; the SQL lives in one module per concept, as functions taking the
transaction's connection:

- schema.py: the tables, their creation and upgrade, the engine's URL;
- feedstate.py: each feed's schedule and poll state (FeedState);
- seen.py: the items each feed has listed (deduplication);
- outbox.py: the alerts and their delivery state;
- history.py: the send log, and the outbox as a record (status, history);
- retention.py: what is pruned, and what never is.

Durability rules, written down here because they are the point of the store:
- `record_items` inserts the new items and their alerts in ONE transaction:
  an item is never marked seen without its alerts being in the outbox, so a
  crash between matching and delivery loses nothing (the next run delivers).
- The outbox has a UNIQUE (feed, item, rule, channel) key and inserts ignore
  conflicts, so no item is alerted twice to a channel for a rule, whatever
  restarts or concurrent instances do.
- Delivery is at-least-once: an alert leaves `pending` only after the channel
  accepted it (`mark_sent`); every attempt is recorded in `attempts`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from monitor.errors import StoreError
from monitor.models import Alert, FeedState, Item, StoredAlert
from monitor.store import feedstate, history, outbox, polls, retention, schema, seen
from monitor.store import views as views  # the web page's queries, through Store.view
from monitor.store.lock import FileLock

T = TypeVar("T")


class Store:
    """The database. Open with `await Store.open(url)`; every method is one
    transaction and raises StoreError (rolled back) on a database failure."""

    def __init__(self, engine: AsyncEngine, lock: FileLock | None = None) -> None:
        self._engine, self._lock = engine, lock
        # SQLite has one writer at a time; concurrent polls each holding a
        # pooled connection would wait on its lock in the busy handler's
        # sleeps, or fail with "database is locked" when the event loop is
        # busy. Queue them here instead (PostgreSQL has row locks: no need).
        self._turn = asyncio.Lock() if engine.dialect.name == "sqlite" else None

    @classmethod
    async def open(cls, url: str, *, exclusive: bool = False) -> Store:
        """Connect (creating a SQLite file and its folder if needed) and create
        tables. `exclusive` (the daemon): a SQLite file is refused, with a
        StoreError, while another daemon has it open (see lock.py)."""
        if "://" not in url:
            try:
                Path(url).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # read-only, or a file where a folder should be
                raise StoreError(f"cannot create the database folder "
                                 f"{Path(url).parent}: {exc.strerror or exc}") from exc
        lock = FileLock(url) if exclusive and "://" not in url else None
        try:
            engine = create_async_engine(schema.engine_url(url))
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            if lock:
                lock.release()
            # Not the URL in the message: it may hold a password.
            raise StoreError(f"cannot use this database URL: {type(exc).__name__} "
                             "(install newsmonitor[postgres] for PostgreSQL)") from exc
        if engine.dialect.name == "sqlite":
            sa.event.listen(engine.sync_engine, "connect", schema.sqlite_pragmas)
        store = cls(engine, lock)
        try:
            await store._run(lambda c: c.run_sync(schema.create_or_upgrade))
        except BaseException:
            await store.close()
            raise
        return store

    async def close(self) -> None:
        await self._engine.dispose()
        if self._lock is not None:
            self._lock.release()

    async def _run(self, fn: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """`fn` in one transaction; a database failure as StoreError."""
        try:
            async with self._turn or contextlib.nullcontext(), self._engine.begin() as conn:
                return await fn(conn)
        except SQLAlchemyError as exc:
            cause = getattr(exc, "orig", None) or exc
            raise StoreError(f"database error: {type(cause).__name__}: "
                             f"{(str(cause).splitlines() or [''])[0]}") from exc

    # ----------------------------------------------------------- feeds (feedstate.py)

    async def sync_feeds(self, feeds: Iterable[tuple[str, str, float, float]]) -> None:
        """Make sure each (name, url, interval, first_poll) has a row."""
        await self._run(lambda c: feedstate.sync_feeds(c, feeds))

    async def feeds(self, names: Iterable[str] | None = None) -> list[FeedState]:
        return await self._run(lambda c: feedstate.feeds(c, names))

    async def feed(self, name: str) -> FeedState | None:
        found = await self.feeds([name])
        return found[0] if found else None

    async def due_feeds(self, now: float, names: Iterable[str], lease: float) -> list[FeedState]:
        """The feeds of `names` due at `now`, claimed until now + lease."""
        return await self._run(lambda c: feedstate.due_feeds(c, now, names, lease))

    async def poll_now(self, names: Sequence[str], now: float, *,
                       enable: bool = False) -> list[str]:
        """Make the feeds of `names` due at `now`; returns the names made due."""
        return await self._run(lambda c: feedstate.poll_now(c, names, now, enable=enable))

    async def save_feed(self, state: FeedState) -> None:
        await self._run(lambda c: feedstate.save_feed(c, state))

    # ----------------------------------------------------------- items (seen.py)

    async def unseen(self, feed: str, item_ids: Sequence[str]) -> set[str]:
        """The ids among `item_ids` that this feed has never recorded."""
        return await self._run(lambda c: seen.unseen(c, feed, item_ids))

    async def record_items(self, state: FeedState, items: Sequence[Item],
                           alerts: Sequence[Alert], now: float, *,
                           due_now: Sequence[str] = (), poll: polls.Poll | None = None
                           ) -> tuple[list[int], FeedState]:
        """Everything one poll changes, in ONE transaction: the feed's new
        state, the document's items (new ones inserted, known ones touched),
        the alerts (an item's only if the item really was new here: a
        concurrent instance may have recorded it first; alerts of no listed
        item, such as feed-health notices, always), and the feeds `due_now`
        made due at once (after our own network outage), and the `poll`
        itself (for the web page's charts). Returns the ids of the alerts
        queued and the feed's state as stored."""
        async def go(conn: AsyncConnection) -> tuple[list[int], FeedState]:
            fresh = await seen.record(conn, state.name, items, now)
            await seen.touch(conn, state.name, [i.id for i in items if i.id not in fresh], now)
            new_state = replace(state, items_seen=state.items_seen + len(fresh),
                                last_new_item=now if fresh else state.last_new_item)
            await feedstate.save_feed(conn, new_state)
            listed = {i.id for i in items}
            kept = [a for a in alerts if a.item.id in fresh or a.item.id not in listed]
            queued = await outbox.queue(conn, kept, now)
            await feedstate.poll_now(conn, due_now, now)
            if poll is not None:
                await polls.record(conn, state.name, poll)
            return queued, new_state
        return await self._run(go)

    # ----------------------------------------------------------- outbox (outbox.py)

    async def queue_alerts(self, alerts: Sequence[Alert], now: float) -> list[int]:
        """Queue alerts that belong to no item (feed-health and test messages)."""
        return await self._run(lambda c: outbox.queue(c, alerts, now))

    async def claim_due_alerts(self, now: float, lease: float, *,
                               retry_now: bool = False) -> list[StoredAlert]:
        """Pending alerts due at `now` (all with retry_now), claimed until now + lease."""
        return await self._run(lambda c: outbox.claim_due(c, now, lease, retry_now=retry_now))

    async def release(self, ids: Sequence[int]) -> None:
        """End the claim on alerts this tick did not send (held, or after a failure)."""
        await self._run(lambda c: outbox.release(c, ids))

    async def release_all_claims(self, now: float) -> None:
        """At the start of a single instance: claims left by a crash are void;
        the alerts are due as they were, the feeds at `now`."""
        async def go(conn: AsyncConnection) -> None:
            await outbox.release_all(conn)
            await feedstate.release_all(conn, now)
        await self._run(go)

    async def pending_alerts(self, channel: str) -> list[StoredAlert]:
        return await self._run(lambda c: outbox.pending(c, channel))

    async def mark_sent(self, ids: Sequence[int], channel: str, kind: str, now: float) -> None:
        """The channel accepted one message carrying these alerts."""
        if not ids:
            return

        async def go(conn: AsyncConnection) -> None:
            await outbox.mark_sent(conn, ids, kind, now)
            # With the sent mark: flood control counts exactly what was sent.
            await history.log_send(conn, channel, now)
        await self._run(go)

    async def mark_failed(self, ids: Sequence[int], error: str, now: float,
                          retry_at: float | None, done_urls: frozenset[str] = frozenset()
                          ) -> None:
        """An attempt failed: retry at `retry_at`, or mark dead when it is None."""
        if ids:
            await self._run(lambda c: outbox.mark_failed(c, ids, error, now, retry_at,
                                                         done_urls))

    async def requeue_dead(self, now: float, channel: str | None = None,
                           rule: str | None = None) -> int:
        """Dead alerts (of `channel`, of `rule`) back to pending; returns how many."""
        return await self._run(lambda c: outbox.requeue_dead(c, now, channel, rule))

    # ----------------------------------------------------------- history (history.py)

    async def sends_since(self, channel: str, since: float) -> list[float]:
        return await self._run(lambda c: history.sends_since(c, channel, since))

    async def history(self, rule: str | None = None, channel: str | None = None,
                      limit: int = 50, state: str | None = None) -> list[StoredAlert]:
        return await self._run(lambda c: history.history(c, rule, channel, limit, state))

    async def outbox_counts(self) -> dict[tuple[str, str], int]:
        """(channel, state) → number of alerts."""
        return await self._run(history.outbox_counts)

    async def oldest_pending(self) -> float | None:
        return await self._run(history.oldest_pending)

    # ----------------------------------------------------------- retention (retention.py)

    async def prune(self, before: float) -> tuple[int, int]:
        """Delete delivered or dead alerts created, and items last seen, before
        `before`, but the items a feed may still list (see retention.prune)."""
        return await self._run(lambda c: retention.prune(c, before))

    # ----------------------------------------------------------- the web page (views.py)

    async def view(self, query: Callable[..., Awaitable[T]], *args: Any) -> T:
        """One read-only query of store/views.py, e.g. `view(views.outbox)`."""
        return await self._run(lambda c: query(c, *args))
