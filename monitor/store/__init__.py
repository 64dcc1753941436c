"""All persistence; the only package that speaks SQL.

SQLite (a file, the embedded default) and PostgreSQL (when several instances
share the work) sit behind this one facade, `Store`, through SQLAlchemy
Core's async engine (aiosqlite, psycopg). Each of its methods is one
transaction; the SQL lives in one module per concept, as functions taking the
transaction's connection:

- schema.py: the tables, their creation and upgrade, the engine's URL;
- feedstate.py: each feed's schedule and poll state (FeedState);
- seen.py: the items each feed has listed (deduplication);
- record.py: what one poll changes, in one transaction;
- outbox.py: the alerts and their delivery state;
- history.py: the send log, and the outbox as a record (status, history);
- stories.py: each item's story, a story's sources, follow-ups;
- archive.py: the items as kept for `rules backtest` (Store.archive);
- retention.py: what is pruned, and what never is;
- channelhealth.py: each channel's failing run and notices (deliver/health.py).
- articles.py: the articles fetched for `fulltext` feeds (Store.articles);
- instances.py: several daemons on one database (heartbeats, claims of the
  dead released, jobs done once per period);
- websub.py: the WebSub subscriptions (`Store.websub`).

Durability rules, written down here because they are the point of the store:
- `record_items` inserts the new items and their alerts in ONE transaction:
  an item is never marked seen without its alerts being in the outbox, so a
  crash between matching and delivery loses nothing (the next run delivers).
- The outbox has a UNIQUE (feed, item, rule, channel) key and inserts ignore
  conflicts, so no item is alerted twice to a channel for a rule, whatever
  restarts or concurrent instances do; a UNIQUE (rule, channel, story) index
  does the same for a story (its later items are recorded, not alerted).
- Delivery is at-least-once: an alert leaves `pending` only after the channel
  accepted it (`mark_sent`); every attempt is recorded in `attempts`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from monitor.errors import StoreError
from monitor.models import Alert, ChannelHealth, FeedState, Item, StoredAlert
from monitor.store import (
    articles,
    channelhealth,
    feedstate,
    history,
    instances,
    outbox,
    polls,
    record,
    retention,
    schema,
    seen,
    stories,
)
from monitor.store import views as views  # the web page's queries, through Store.view
from monitor.store.archive import Archive, Kept, Span
from monitor.store.batch import GroupCommit, in_turn
from monitor.store.instances import Instance
from monitor.store.lock import FileLock
from monitor.store.seen import Known as Known
from monitor.store.stories import StoredItem as StoredItem
from monitor.store.stories import Story as Story
from monitor.store.websub import Subscriptions

T = TypeVar("T")
Write = Callable[[AsyncConnection], Awaitable[Any]]
Recorded = tuple[list[int], FeedState]  # what record_items returns
__all__ = ["Archive", "Cluster", "Instance", "Kept", "Known", "Span", "Store", "StoryFacade",
           "Subscriptions", "open_readonly", "views"]


class Store:
    """The database. Open with `await Store.open(url)`; every method is one
    transaction and raises StoreError (rolled back) on a database failure.
    `instance`: the id this daemon's claims carry (see instances.py)."""

    def __init__(self, engine: AsyncEngine, lock: FileLock | None = None,
                 instance: str | None = None) -> None:
        self._engine, self._lock, self.instance = engine, lock, instance
        self.cluster = Cluster(self, instance or "")
        self.story, self.archive = StoryFacade(self), Archive(self._run)  # backtests' items
        self.websub, self.articles = Subscriptions(self), articles.Articles(self._run)
        self.statements = 0  # sent to the database (bench/scale.py: queries per poll)
        self.counted = lambda *_: setattr(self, "statements", self.statements + 1)
        # SQLite has one writer: polls queue here, not in its busy handler ("database is locked"
        # when the loop is busy); PostgreSQL has row locks. Polls ending together commit together.
        self._turn = asyncio.Lock() if engine.dialect.name == "sqlite" else None
        self._polls: GroupCommit[Write, Recorded] = GroupCommit(self._run, in_turn)
        self._quiet: GroupCommit[tuple[FeedState, polls.Poll | None], Recorded] = \
            GroupCommit(self._run, _quiet_polls)  # a 304, the same body: in bulk

    @classmethod
    async def open(cls, url: str, *, exclusive: bool = False,
                   instance: str | None = None) -> Store:
        """Connect (creating a SQLite file and its folder if needed) and create tables.
        `exclusive` (the daemon): a SQLite file is refused, with a StoreError, while another
        daemon has it open (see lock.py). `instance`: the daemon's id, carried by its claims."""
        engine, lock = _engine(url, exclusive)
        store = cls(engine, lock, instance)
        sa.event.listen(engine.sync_engine, "before_cursor_execute", store.counted)
        try:
            await store._run(lambda c: c.run_sync(schema.create_or_upgrade))
        except BaseException:
            await store.close()
            raise
        return store

    async def close(self) -> None:
        await self.cluster.close()
        await self._engine.dispose()
        if self._lock is not None:
            self._lock.release()

    async def _run(self, fn: Callable[[AsyncConnection], Awaitable[T]],
                   engine: AsyncEngine | None = None) -> T:
        """`fn` in one transaction (on `engine`, default ours); errors as StoreError."""
        try:
            async with (self._turn or contextlib.nullcontext(),
                        (engine or self._engine).begin() as conn):
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

    async def due_feeds(self, now: float, names: Iterable[str], lease: float,
                        limit: int | None = None) -> list[FeedState]:
        """At most `limit` feeds of `names` due at `now`, claimed until now + lease."""
        return await self._run(lambda c: feedstate.due_feeds(c, now, names, lease,
                                                             self.instance, limit))

    async def poll_now(self, names: Sequence[str], now: float, *, enable: bool = False,
                       held: Mapping[str, float] | None = None) -> list[str]:
        """Make the feeds of `names` due at `now` (those `held`: then); feedstate.poll_now."""
        return await self._run(lambda c: feedstate.poll_now(c, names, now, enable, held))

    async def save_feed(self, state: FeedState) -> None:
        await self._run(lambda c: feedstate.save_feed(c, state))

    async def activity(self, since: float) -> tuple[
            list[tuple[str, float, float]], list[tuple[str, float, float, int]]]:
        """What adaptive pacing learns from, since `since` (polls.activity)."""
        return await self._run(lambda c: polls.activity(c, since))

    # ----------------------------------------------------------- items (seen.py)

    async def unseen(self, feed: str, item_ids: Sequence[str]) -> set[str]:
        """The ids among `item_ids` never recorded (seen.unseen)."""
        return await self._run(lambda c: seen.unseen(c, feed, item_ids))

    async def record_items(self, state: FeedState, items: Sequence[Item],
                           alerts: Sequence[Alert], now: float, *,
                           due_now: Sequence[str] = (), poll: polls.Poll | None = None,
                           touched: Sequence[str] = (), edited: Sequence[Item] = (),
                           follow_up: Mapping[str, int] | None = None,
                           pushed: bool = False) -> tuple[list[int], FeedState]:
        """Everything one poll changes, in ONE transaction: the feed's new
        state, the document's items (new ones inserted, known ones touched),
        the alerts (an item's only if the item really was new here: a
        concurrent instance may have recorded it first; alerts of no listed
        item, such as feed-health notices, always), and the feeds `due_now`
        made due at once (after our own network outage), and the `poll`
        itself (for the web page's charts), `touched`: ids of known items
        the poll did not parse (the pre-scan's), the story follow-ups due
        (`follow_up`: channel → story_updates), and the `edited` items' new
        text (see record.py). Polls that end together share that transaction
        (batch.GroupCommit). Returns the ids of the alerts queued and the
        feed's state as stored. `pushed` (a hub's body): only the feed's
        title and counts are written (record.py)."""
        if not (items or alerts or due_now or touched or edited):
            return ([], state) if pushed else await self._quiet.run((state, poll))
        return await self._polls.run(lambda c: record.record_poll(
            c, state, items, alerts, now, due_now=due_now, poll=poll, touched=touched,
            follow_up=follow_up or {}, edited=edited, pushed=pushed))

    # ----------------------------------------------------------- outbox (outbox.py)

    async def queue_alerts(self, alerts: Sequence[Alert], now: float) -> list[int]:
        """Queue alerts that belong to no item (feed-health and test messages)."""
        return await self._run(lambda c: outbox.queue(c, alerts, now))

    async def claim_due_alerts(self, now: float, lease: float, *,
                               retry_now: bool = False) -> list[StoredAlert]:
        """Pending alerts due at `now` (all with retry_now), claimed until now + lease."""
        return await self._run(lambda c: stories.sourced(c, outbox.claim_due(
            c, now, lease, retry_now=retry_now, instance=self.instance)))

    async def release(self, ids: Sequence[int]) -> None:
        """End the claim on alerts this tick did not send (held, or after a failure)."""
        await self._run(lambda c: outbox.release(c, ids))

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

    async def channel_health(self) -> dict[str, ChannelHealth]:
        """The channels that fail, or have a notice out (channelhealth.py)."""
        return await self._run(channelhealth.load)

    async def save_channel_health(self, state: ChannelHealth, notices: Sequence[Alert],
                                  now: float, read: ChannelHealth | None = None) -> bool:
        """A channel's health and its notices in one transaction (none lost or
        repeated), unless its row is no longer `read` (None: none), the one
        the caller decided from: then another instance did it (False)."""
        return await self._run(lambda c: channelhealth.save(c, state, notices, now, read))

    async def requeue_dead(self, now: float, channel: str | None = None,
                           rule: str | None = None) -> int:
        """Dead alerts (of `channel`, of `rule`) back to pending; returns how many."""
        return await self._run(lambda c: outbox.requeue_dead(c, now, channel, rule))

    # ----------------------------------------------------------- history (history.py)

    async def sends_since(self, channel: str, since: float) -> list[float]:
        return await self._run(lambda c: history.sends_since(c, channel, since))

    async def history(self, rule: str | None = None, channel: str | None = None,
                      limit: int = 50, state: str | None = None) -> list[StoredAlert]:
        return await self._run(lambda c: stories.sourced(
            c, history.history(c, rule, channel, limit, state)))

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


async def open_readonly(url: str) -> Store:
    """A Store on an existing database, to read it (`rules backtest`): nothing is
    created, upgraded or written (schema.readonly_engine)."""
    return Store(schema.readonly_engine(url))


def _quiet_polls(writes: Sequence[tuple[FeedState, polls.Poll | None]]
                 ) -> Callable[[AsyncConnection], Awaitable[list[Recorded]]]:
    """record_items of polls with nothing new (no item, alert, touch or
    feed made due): their states and polls, one executemany each."""
    async def run(conn: AsyncConnection) -> list[Recorded]:
        await feedstate.save_feeds(conn, [state for state, _ in writes])
        await polls.record_many(conn, [(s.name, p) for s, p in writes if p is not None])
        return [([], state) for state, _ in writes]
    return run


def _engine(url: str, exclusive: bool) -> tuple[AsyncEngine, FileLock | None]:
    """The engine of a `database` value, and the SQLite file's lock when
    `exclusive`; StoreError (never showing the URL) when it cannot be had."""
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
    return engine, lock


class Cluster:
    """The instances sharing the store (instances.py): `Store.cluster`."""

    def __init__(self, store: Store, instance: str) -> None:
        self._store, self._instance = store, instance
        # The heartbeat's own connection on PostgreSQL: hundreds of polls
        # waiting for the pool's connections must not delay it past
        # instance_timeout (the others would think us dead and take over).
        engine = store._engine
        self._engine = (create_async_engine(engine.url, pool_size=1, max_overflow=0)
                        if engine.dialect.name == "postgresql" else None)

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()

    async def heartbeat(self, me: Instance, polling: Sequence[str], lease_until: float,
                        timeout: float) -> list[str]:
        """`me` is alive: its row written, the claims of the feeds it is
        `polling` and the alerts it is sending renewed to `lease_until`; the
        claims of instances silent for `timeout` released. Returns the dead."""
        async def go(conn: AsyncConnection) -> list[str]:
            await instances.heartbeat(conn, me, polling, lease_until)
            return await instances.release_dead(conn, me.heartbeat, timeout)
        return await self._store._run(go, self._engine)

    async def release_instance(self, instance: str, now: float, *, leave: bool) -> None:
        """Void `instance`'s claims: at its start (a crash under the same name
        left them), or when it stops (`leave`: its row removed too)."""
        await self._store._run(lambda c: instances.leave(c, instance, now) if leave
                      else instances.release(c, [instance], now))

    async def release_all_claims(self, now: float) -> None:
        """At the start of a single daemon: claims a crash left are void; the
        alerts are due as they were, the feeds at `now`."""
        async def go(conn: AsyncConnection) -> None:
            await outbox.release_all(conn)
            await feedstate.release_all(conn, now)
        await self._store._run(go)

    async def instances(self) -> list[Instance]:
        """The instances with a heartbeat row, and what each holds now."""
        return await self._store._run(instances.instances)

    async def claim_job(self, name: str, period: str, now: float) -> bool:
        """True for the one instance to run job `name` for `period`."""
        return await self._store._run(lambda c: instances.claim_job(
            c, name, period, self._instance, now))

    async def claim_every(self, name: str, now: float, every: float) -> bool:
        """True for the one instance to run job `name` now, at most once per
        `every` seconds across all."""
        return await self._store._run(lambda c: instances.claim_every(
            c, name, self._instance, now, every))


class StoryFacade:
    """The stories of the store (stories.py, seen.known): `Store.story`."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def known(self, feed: str, item_ids: Sequence[str]) -> dict[str, Known]:
        """id → what `feed` recorded of it (its text and story), for the
        ids it recorded: a poll's dedup and edits (seen.known)."""
        return await self._store._run(lambda c: seen.known(c, feed, item_ids))

    async def rebuild(self, since: float, attach: Callable[[list[StoredItem]], Awaitable[
            list[str]]], skip: Callable[[str, str], bool] | None = None) -> int:
        """Each item first seen since `since`, in order, through `attach` (the
        story index), but those `skip` names; see stories.rebuild."""
        return await self._store._run(lambda c: stories.rebuild(c, since, attach, skip))

    async def recent(self, since: float, rule: str | None = None) -> list[Story]:
        """Stories with an item first seen since `since`, newest first."""
        return await self._store._run(lambda c: stories.recent(c, since, rule))
