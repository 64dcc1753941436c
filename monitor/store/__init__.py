"""All persistence; the only module that speaks SQL.

SQLite (a file, the embedded default) and PostgreSQL (when several instances
share the work) sit behind this one interface through SQLAlchemy Core's async
engine (aiosqlite, psycopg). Times are stored as UTC epoch seconds (floats):
comparable and identical on both backends.

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
import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.schema import CreateIndex, CreateTable

from monitor.errors import StoreError
from monitor.models import Alert, FeedState, Item, Match, Priority, StoredAlert, TermHit

metadata = sa.MetaData()
T = TypeVar("T")

feeds_t = sa.Table(
    "feeds", metadata,
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("url", sa.String, nullable=False),           # as configured
    sa.Column("current_url", sa.String, nullable=False),   # after 301/308
    sa.Column("title", sa.String, nullable=False, server_default=""),
    sa.Column("etag", sa.String),
    sa.Column("last_modified", sa.String),
    sa.Column("body_hash", sa.String),
    sa.Column("next_poll", sa.Float, nullable=False),
    sa.Column("last_poll", sa.Float),
    sa.Column("last_success", sa.Float),
    sa.Column("last_new_item", sa.Float),
    sa.Column("last_status", sa.Integer),
    sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("error_category", sa.String),
    sa.Column("error", sa.String),
    sa.Column("warning", sa.String),
    sa.Column("items_seen", sa.Integer, nullable=False, server_default="0"),
    sa.Column("interval", sa.Float, nullable=False),
    sa.Column("polled_once", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("disabled", sa.String),                      # reason, e.g. "410 Gone"
    sa.Column("health_alerted", sa.Float),                 # last feed-health alert
)

items_t = sa.Table(
    "items", metadata,
    sa.Column("feed", sa.String, primary_key=True),
    sa.Column("item_id", sa.String, primary_key=True),
    sa.Column("title", sa.String, nullable=False),
    sa.Column("link", sa.String, nullable=False),
    sa.Column("published", sa.Float),
    sa.Column("first_seen", sa.Float, nullable=False),
    sa.Column("last_seen", sa.Float, nullable=False, index=True),
)

alerts_t = sa.Table(
    "alerts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("feed", sa.String, nullable=False),
    sa.Column("item_id", sa.String, nullable=False),
    sa.Column("rule", sa.String, nullable=False),
    sa.Column("channel", sa.String, nullable=False),
    sa.Column("priority", sa.String, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),         # the Alert as JSON
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("state", sa.String, nullable=False),         # pending | sent | dead
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt", sa.Float, nullable=False),
    sa.Column("last_error", sa.String),
    sa.Column("delivered", sa.Float),
    sa.Column("kind", sa.String),                          # single | digest | summary
    # Keys (hashes, see delivery.url_key) of the channel's URLs that already
    # accepted this alert, so that a retry goes only to the URLs that failed;
    # keyed by URL, not position, so that editing the channel cannot skip one.
    sa.Column("done_urls", sa.String, nullable=False, server_default=""),
    # Set while one delivery tick (of one instance) works on the alert: others
    # skip it until then, so two instances never send it at once.
    sa.Column("claimed_until", sa.Float),
    # When delivery first failed: retries go on for retry_for from then.
    sa.Column("first_failure", sa.Float),
    # Item.story: the same article seen in another feed is not alerted again
    # for the same rule and channel (NULL, no link: no such check).
    sa.Column("story", sa.String),
    sa.UniqueConstraint("feed", "item_id", "rule", "channel", name="alerts_once"),
    sa.Index("alerts_due", "state", "next_attempt"),
    sa.Index("alerts_story_once", "rule", "channel", "story", unique=True),
)

attempts_t = sa.Table(
    "attempts", metadata,
    sa.Column("alert_id", sa.Integer, nullable=False, index=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("error", sa.String),
)

sends_t = sa.Table(
    "sends", metadata,
    sa.Column("channel", sa.String, nullable=False, index=True),
    sa.Column("at", sa.Float, nullable=False),
)

# The statements of the poll path, built once: SQLAlchemy caches a
# statement's compiled form, but building the statement and computing its
# cache key on every call cost more than SQLite's own work for 50 items.
# Values come as bound parameters at execution; an UPDATE without .values()
# sets the columns named in the parameters.
_UNSEEN = sa.select(items_t.c.item_id).where(
    items_t.c.feed == sa.bindparam("b_feed"),
    items_t.c.item_id.in_(sa.bindparam("b_ids", expanding=True)))
_TOUCH = items_t.update().where(
    items_t.c.feed == sa.bindparam("b_feed"),
    items_t.c.item_id.in_(sa.bindparam("b_ids", expanding=True)),
).values(last_seen=sa.bindparam("b_now"))
# A poll's result lands only while the feed still has the URL it was polled
# at: a reload that changed the URL meanwhile wins (the old poll is dropped).
_SAVE_FEED = feeds_t.update().where(feeds_t.c.name == sa.bindparam("b_name"),
                                    feeds_t.c.url == sa.bindparam("b_url"))


def ts(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def alert_to_json(alert: Alert) -> str:
    item, match = alert.item, alert.match
    return json.dumps({
        "item": {"feed": item.feed, "id": item.id, "title": item.title,
                 "summary": item.summary, "link": item.link, "author": item.author,
                 "published": ts(item.published)},
        "match": {"rule": match.rule, "score": match.score,
                  "hits": [[h.term, h.matched, h.field, h.score] for h in match.hits]},
        "feed_title": alert.feed_title,
    }, ensure_ascii=False)


def alert_from_row(row: Any) -> Alert:
    data = json.loads(row.payload)
    item = Item(**{**data["item"], "published": dt(data["item"]["published"])})
    match = Match(data["match"]["rule"], data["match"]["score"],
                  tuple(TermHit(*h) for h in data["match"]["hits"]))
    return Alert(item=item, match=match, channel=row.channel, feed_title=data["feed_title"],
                 priority=Priority(row.priority), id=row.id, created=dt(row.created))


class Store:
    """The database. Open with `await Store.open(url)`; every method is one
    transaction and raises StoreError (rolled back) on a database failure."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        dialect = engine.dialect.name
        self._insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        # RETURNING, not rowcount: drivers disagree on rowcount for ON CONFLICT.
        self._insert_items_stmt = self._insert(items_t).on_conflict_do_nothing().returning(
            items_t.c.item_id)
        self._queue_stmt = self._insert(alerts_t).on_conflict_do_nothing().returning(
            alerts_t.c.id, alerts_t.c.feed, alerts_t.c.item_id, alerts_t.c.rule,
            alerts_t.c.channel)
        # SQLite has one writer at a time; concurrent polls each holding a
        # pooled connection would wait on its lock in the busy handler's
        # sleeps, or fail with "database is locked" when the event loop is
        # busy. Queue them here instead (PostgreSQL has row locks: no need).
        self._turn = asyncio.Lock() if dialect == "sqlite" else None

    @classmethod
    async def open(cls, url: str) -> Store:
        """Connect (creating a SQLite file and its folder if needed) and create tables."""
        if "://" not in url:
            Path(url).parent.mkdir(parents=True, exist_ok=True)
        try:
            engine = create_async_engine(engine_url(url))
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            # Not the URL in the message: it may hold a password.
            raise StoreError(f"cannot use this database URL: {type(exc).__name__} "
                             "(install newsmonitor[postgres] for PostgreSQL)") from exc
        if engine.dialect.name == "sqlite":
            sa.event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        store = cls(engine)
        try:
            await store._run(lambda c: c.run_sync(_create_or_upgrade))
        except BaseException:
            await engine.dispose()
            raise
        return store

    async def close(self) -> None:
        await self._engine.dispose()

    async def _run(self, fn: Any) -> Any:
        try:
            async with self._turn or contextlib.nullcontext(), self._engine.begin() as conn:
                return await fn(conn)
        except SQLAlchemyError as exc:
            cause = getattr(exc, "orig", None) or exc
            raise StoreError(f"database error: {type(cause).__name__}: "
                             f"{(str(cause).splitlines() or [''])[0]}") from exc

    # ----------------------------------------------------------- feeds

    async def sync_feeds(self, feeds: Iterable[tuple[str, str, float, float]]) -> None:
        """Make sure each (name, url, interval, first_poll) has a row.

        A known feed keeps its state and schedule; a feed whose configured URL
        changed starts again from the new URL (its items stay seen), and its
        first poll there records the backlog without alerting, as for a new feed.
        """
        async def go(conn: AsyncConnection) -> None:
            rows = {r.name: r for r in (await conn.execute(sa.select(feeds_t))).all()}
            wanted = list(feeds)
            new = [{"name": name, "url": url, "current_url": url, "next_poll": first,
                    "interval": interval} for name, url, interval, first in wanted
                   if name not in rows]
            if new:  # one executemany: a first start with 1,000 feeds is one statement
                await conn.execute(feeds_t.insert(), new)
            for name, url, _interval, first in wanted:
                old = rows.get(name)
                if old is not None and old.url != url:
                    await conn.execute(feeds_t.update().where(feeds_t.c.name == name).values(
                        url=url, current_url=url, etag=None, last_modified=None,
                        body_hash=None, disabled=None, failures=0, next_poll=first,
                        polled_once=False))
        await self._run(go)

    async def feeds(self, names: Iterable[str] | None = None) -> list[FeedState]:
        query = sa.select(feeds_t).order_by(feeds_t.c.name)
        if names is not None:
            query = query.where(feeds_t.c.name.in_(list(names)))
        rows = await self._run(lambda c: c.execute(query))
        return [FeedState(**row._asdict()) for row in rows.all()]

    async def feed(self, name: str) -> FeedState | None:
        found = await self.feeds([name])
        return found[0] if found else None

    async def due_feeds(self, now: float, names: Iterable[str], lease: float) -> list[FeedState]:
        """The feeds of `names` due at `now`, claimed: their next_poll moves to
        now + lease so that a second dispatcher (or instance) skips them."""
        async def go(conn: AsyncConnection) -> list[FeedState]:
            query = (sa.select(feeds_t).where(feeds_t.c.name.in_(list(names)),
                                              feeds_t.c.next_poll <= now,
                                              feeds_t.c.disabled.is_(None))
                     .order_by(feeds_t.c.next_poll))
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            due = [FeedState(**r._asdict()) for r in (await conn.execute(query)).all()]
            if due:
                await conn.execute(feeds_t.update().where(
                    feeds_t.c.name.in_([f.name for f in due])).values(next_poll=now + lease))
            return due
        result: list[FeedState] = await self._run(go)
        return result

    async def poll_now(self, names: Sequence[str], now: float, *,
                       enable: bool = False) -> list[str]:
        """Make the feeds of `names` due at `now` (`poll-now`): one in backoff
        is polled at the next tick; one disabled by a 410 only with `enable`.
        Returns the names made due."""
        async def go(conn: AsyncConnection) -> list[str]:
            found: list[str] = []
            for chunk in _chunks(list(names), 500):
                query = sa.select(feeds_t.c.name).where(feeds_t.c.name.in_(chunk))
                if not enable:
                    query = query.where(feeds_t.c.disabled.is_(None))
                due = [r.name for r in await conn.execute(query)]
                await conn.execute(feeds_t.update().where(feeds_t.c.name.in_(due))
                                   .values(next_poll=now, disabled=None))
                found += due
            return sorted(found)
        result: list[str] = await self._run(go)
        return result

    async def save_feed(self, state: FeedState) -> None:
        await self._run(lambda c: c.execute(_SAVE_FEED, _feed_params(state)))

    # ----------------------------------------------------------- items

    async def unseen(self, feed: str, item_ids: Sequence[str]) -> set[str]:
        """The ids among `item_ids` that this feed has never recorded."""
        async def go(conn: AsyncConnection) -> set[str]:
            seen: set[str] = set()
            for chunk in _chunks(list(item_ids), 500):
                rows = await conn.execute(_UNSEEN, {"b_feed": feed, "b_ids": chunk})
                seen.update(r.item_id for r in rows)
            return set(item_ids) - seen
        result: set[str] = await self._run(go)
        return result

    async def record_items(self, state: FeedState, items: Sequence[Item],
                           alerts: Sequence[Alert], now: float
                           ) -> tuple[list[int], FeedState]:
        """In one transaction: the feed's new state, its new items, and the
        alerts for the items that really were new (a concurrent instance may
        have recorded some first). Returns the ids of the alerts queued and
        the feed's state as stored."""
        async def go(conn: AsyncConnection) -> tuple[list[int], FeedState]:
            fresh = await self._insert_items(conn, state.name, items, now)
            await self._touch_items(conn, state.name, [i.id for i in items if i.id not in fresh],
                                    now)
            seen = state.items_seen + len(fresh)
            new_state = replace(state, items_seen=seen,
                                last_new_item=now if fresh else state.last_new_item)
            await conn.execute(_SAVE_FEED, _feed_params(new_state))
            queued = await self._queue(conn, [a for a in alerts if a.item.id in fresh], now)
            return queued, new_state
        result: tuple[list[int], FeedState] = await self._run(go)
        return result

    async def _insert_items(self, conn: AsyncConnection, feed: str, items: Sequence[Item],
                            now: float) -> set[str]:
        if not items:
            return set()
        rows = [{"feed": feed, "item_id": item.id, "title": item.title[:1000],
                 "link": item.link[:2000], "published": ts(item.published),
                 "first_seen": now, "last_seen": now} for item in items]
        # One executemany; SQLAlchemy batches it into multi-row INSERTs
        # ("insertmanyvalues") on SQLite and psycopg alike.
        return {row.item_id for row in await conn.execute(self._insert_items_stmt, rows)}

    async def _touch_items(self, conn: AsyncConnection, feed: str, ids: list[str],
                           now: float) -> None:
        """Items still present in the document: dedup still needs them (see prune)."""
        for chunk in _chunks(ids, 500):
            await conn.execute(_TOUCH, {"b_feed": feed, "b_ids": chunk, "b_now": now})

    async def _queue(self, conn: AsyncConnection, alerts: Sequence[Alert],
                     now: float) -> list[int]:
        if not alerts:
            return []
        stories = [a.item.story for a in alerts]
        rows = [{"feed": a.item.feed, "item_id": a.item.id, "rule": a.match.rule,
                 "channel": a.channel, "priority": a.priority.value,
                 "payload": alert_to_json(a), "created": now, "state": "pending",
                 "next_attempt": now, "story": story}
                for a, story in zip(alerts, stories, strict=True)]
        buckets = sorted({int(story[:8], 16) % _STORY_LOCKS for story in stories if story})
        if buckets and conn.dialect.name == "postgresql":
            # Two instances polling two feeds that share stories insert into
            # the story index in their own orders and could deadlock; a lock
            # per bucket of stories first, taken in one global order (the
            # array's), serialises them, with at most _STORY_LOCKS locks per
            # transaction. The rows keep their order: alert ids are the
            # delivery order.
            await conn.execute(sa.text(
                "SELECT pg_advisory_xact_lock(:space, bucket) FROM "
                "unnest(CAST(:buckets AS integer[])) AS bucket"),
                {"space": _STORY_LOCK_SPACE, "buckets": buckets})
        # RETURNING order is not the parameters' order in a batch: put the ids
        # back in the order of `alerts` through the outbox's unique key.
        queued = {(r.feed, r.item_id, r.rule, r.channel): r.id
                  for r in await conn.execute(self._queue_stmt, rows)}
        keys = [(r["feed"], r["item_id"], r["rule"], r["channel"]) for r in rows]
        return [queued[k] for k in dict.fromkeys(keys) if k in queued]

    async def queue_alerts(self, alerts: Sequence[Alert], now: float) -> list[int]:
        """Queue alerts that belong to no item (feed-health and test messages)."""
        result: list[int] = await self._run(lambda c: self._queue(c, alerts, now))
        return result

    # ----------------------------------------------------------- outbox

    async def claim_due_alerts(self, now: float, lease: float, *,
                               retry_now: bool = False) -> list[StoredAlert]:
        """Pending alerts whose next attempt is due (every pending one with
        retry_now), claimed until now + lease: another delivery tick or
        instance skips them until they are marked sent or failed, released,
        or the lease runs out (a crash mid-send: delivered again, at least once).
        """
        async def go(conn: AsyncConnection) -> list[StoredAlert]:
            query = (sa.select(alerts_t).where(
                alerts_t.c.state == "pending",
                sa.or_(alerts_t.c.claimed_until.is_(None), alerts_t.c.claimed_until < now))
                .order_by(alerts_t.c.id))
            if not retry_now:
                query = query.where(alerts_t.c.next_attempt <= now)
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            due = [_stored(r) for r in (await conn.execute(query)).all()]
            for chunk in _chunks([s.alert.id for s in due], 500):
                await conn.execute(alerts_t.update().where(alerts_t.c.id.in_(chunk))
                                   .values(claimed_until=now + lease))
            return due
        result: list[StoredAlert] = await self._run(go)
        return result

    async def release(self, ids: Sequence[int]) -> None:
        """End the claim on alerts this tick did not send (held, or after a failure)."""
        async def go(conn: AsyncConnection) -> None:
            for chunk in _chunks(list(ids), 500):
                await conn.execute(alerts_t.update().where(alerts_t.c.id.in_(chunk))
                                   .values(claimed_until=None))
        await self._run(go)

    async def release_all_claims(self) -> None:
        """At the start of a single instance: claims left by a crash are void."""
        await self._run(lambda c: c.execute(alerts_t.update().where(
            alerts_t.c.claimed_until.is_not(None)).values(claimed_until=None)))

    async def pending_alerts(self, channel: str) -> list[StoredAlert]:
        query = (sa.select(alerts_t).where(alerts_t.c.state == "pending",
                                           alerts_t.c.channel == channel)
                 .order_by(alerts_t.c.id))
        rows = await self._run(lambda c: c.execute(query))
        return [_stored(r) for r in rows.all()]

    async def mark_sent(self, ids: Sequence[int], channel: str, kind: str, now: float) -> None:
        """The channel accepted one message carrying these alerts."""
        if not ids:
            return

        async def go(conn: AsyncConnection) -> None:
            await conn.execute(alerts_t.update().where(alerts_t.c.id.in_(list(ids))).values(
                state="sent", delivered=now, attempts=alerts_t.c.attempts + 1, kind=kind,
                last_error=None, claimed_until=None))
            await conn.execute(attempts_t.insert(), [
                {"alert_id": i, "at": now, "ok": True, "error": None} for i in ids])
            await conn.execute(sends_t.insert().values(channel=channel, at=now))
        await self._run(go)

    async def mark_failed(self, ids: Sequence[int], error: str, now: float,
                          retry_at: float | None, done_urls: frozenset[str] = frozenset()
                          ) -> None:
        """An attempt failed: retry at `retry_at`, or mark dead when it is None.
        `done_urls`: the channel URLs that accepted it (a retry skips them)."""
        if not ids:
            return

        async def go(conn: AsyncConnection) -> None:
            values: dict[str, Any] = {"attempts": alerts_t.c.attempts + 1,
                                      "last_error": error[:500],
                                      "done_urls": ",".join(sorted(done_urls)),
                                      "first_failure": sa.func.coalesce(
                                          alerts_t.c.first_failure, now),
                                      "claimed_until": None}
            values.update(state="dead") if retry_at is None else values.update(
                next_attempt=retry_at)
            await conn.execute(alerts_t.update().where(alerts_t.c.id.in_(list(ids)))
                               .values(**values))
            await conn.execute(attempts_t.insert(), [
                {"alert_id": i, "at": now, "ok": False, "error": error[:500]} for i in ids])
        await self._run(go)

    async def requeue_dead(self, now: float, channel: str | None = None,
                           rule: str | None = None) -> int:
        """Dead alerts (of `channel`, of `rule`) back to pending, due at `now`,
        with a fresh retry_for; each keeps the URLs that already took it, so
        nothing reaches a URL twice. Returns how many (`newsmonitor requeue`)."""
        query = alerts_t.update().where(alerts_t.c.state == "dead").values(
            state="pending", attempts=0, next_attempt=now, first_failure=None,
            claimed_until=None)
        if channel:
            query = query.where(alerts_t.c.channel == channel)
        if rule:
            query = query.where(alerts_t.c.rule == rule)
        result = await self._run(lambda c: c.execute(query))
        return int(result.rowcount)

    async def sends_since(self, channel: str, since: float) -> list[float]:
        query = (sa.select(sends_t.c.at).where(sends_t.c.channel == channel,
                                               sends_t.c.at >= since).order_by(sends_t.c.at))
        rows = await self._run(lambda c: c.execute(query))
        return [r.at for r in rows.all()]

    async def history(self, rule: str | None = None, channel: str | None = None,
                      limit: int = 50, state: str | None = None) -> list[StoredAlert]:
        query = sa.select(alerts_t).order_by(alerts_t.c.id.desc()).limit(limit)
        if state:
            query = query.where(alerts_t.c.state == state)
        if rule:
            query = query.where(alerts_t.c.rule == rule)
        if channel:
            query = query.where(alerts_t.c.channel == channel)
        rows = await self._run(lambda c: c.execute(query))
        return [_stored(r) for r in rows.all()]

    async def outbox_counts(self) -> dict[tuple[str, str], int]:
        """(channel, state) → number of alerts."""
        query = sa.select(alerts_t.c.channel, alerts_t.c.state, sa.func.count()).group_by(
            alerts_t.c.channel, alerts_t.c.state)
        rows = await self._run(lambda c: c.execute(query))
        return {(r[0], r[1]): r[2] for r in rows.all()}

    async def oldest_pending(self) -> float | None:
        query = sa.select(sa.func.min(alerts_t.c.created)).where(alerts_t.c.state == "pending")
        rows = await self._run(lambda c: c.execute(query))
        value = rows.scalar()
        return None if value is None else float(value)

    # ----------------------------------------------------------- misc

    async def prune(self, before: float) -> tuple[int, int]:
        """Delete delivered or dead alerts created, and items last seen, before `before`.

        An item is kept while it may still appear in its feed: dedup needs
        its id, or the publisher's old item would alert again. `last_seen` is
        set to the time of every parse whose document lists the item, so the
        items of the latest parse share the feed's highest `last_seen`; an item
        below it has left the feed's document, and once that is older than the
        retention it can go. The items of the latest parse always stay, however
        old: a feed answering 304 for months, or not answering at all, keeps
        them, and never re-alerts them.
        """
        async def go(conn: AsyncConnection) -> tuple[int, int]:
            alerts = await conn.execute(alerts_t.delete().where(
                alerts_t.c.state.in_(["sent", "dead"]), alerts_t.c.created < before))
            await conn.execute(attempts_t.delete().where(
                attempts_t.c.alert_id.not_in(sa.select(alerts_t.c.id))))
            await conn.execute(sends_t.delete().where(sends_t.c.at < before))
            latest = sa.alias(items_t, "latest")
            latest_parse = (sa.select(sa.func.max(latest.c.last_seen))
                            .where(latest.c.feed == items_t.c.feed).scalar_subquery())
            items = await conn.execute(items_t.delete().where(
                items_t.c.last_seen < before, items_t.c.last_seen < latest_parse,
                items_t.c.item_id.not_in(
                    sa.select(alerts_t.c.item_id).where(alerts_t.c.state == "pending"))))
            return alerts.rowcount, items.rowcount
        result: tuple[int, int] = await self._run(go)
        return result

    # ----------------------------------------------------------- polls and the web page

    async def record_poll(self, feed: str, at: float, result: str, status: int | None,
                          latency: float, new_items: int, error: str | None) -> None:
        """One poll, for the web page's charts (store/polls.py)."""
        await self._run(lambda c: polls.record(c, feed, at, result, status, latency,
                                               new_items, error))

    async def view(self, query: Callable[..., Awaitable[T]], *args: Any) -> T:
        """One read-only query of store/views.py, e.g. `view(views.outbox)`."""
        result: T = await self._run(lambda c: query(c, *args))
        return result


def _create_or_upgrade(conn: sa.Connection) -> None:
    """Create missing tables, and add the columns a newer version introduced.

    Schema changes so far are additive; every added column is nullable or has
    a server default, so `ALTER TABLE ... ADD COLUMN` upgrades a database in
    place on both SQLite and PostgreSQL, and an older database keeps working.
    """
    if conn.dialect.name == "postgresql":
        # Instances starting together would race to create the same tables;
        # the first takes this lock for the transaction, the others then find
        # everything in place.
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(7388245910)"))
    # IF NOT EXISTS, and a column another process added meanwhile is no
    # error: two processes opening one SQLite file at once (the daemon
    # starting while `status` runs) must not fail on each other's DDL.
    for table in metadata.sorted_tables:
        conn.execute(CreateTable(table, if_not_exists=True))
    inspector = sa.inspect(conn)
    for table in metadata.sorted_tables:
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present:
                kind = column.type.compile(dialect=conn.dialect)
                default = (f" DEFAULT {column.server_default.arg!r}"  # type: ignore[attr-defined]
                           if column.server_default is not None else "")
                try:
                    conn.execute(sa.text(f'ALTER TABLE {table.name} ADD COLUMN '
                                         f'"{column.name}" {kind}{default}'))
                except sa.exc.OperationalError as exc:
                    if "duplicate column" not in str(exc):
                        raise
        # An index on an added column: every row NULL there, nothing clashes.
        for index in table.indexes:
            conn.execute(CreateIndex(index, if_not_exists=True))


_STORY_LOCKS = 64  # buckets of stories, each an advisory lock (see Store._queue)
_STORY_LOCK_SPACE = 7388  # their classid: the two-key advisory locks of newsmonitor

_FEED_COLUMNS = tuple(c.name for c in feeds_t.columns if c.name != "name")


def _feed_params(state: FeedState) -> dict[str, Any]:
    """The parameters of _SAVE_FEED: every column of the feeds table but its
    key, from `state`; the key as b_name and the polled URL as b_url."""
    params = {name: getattr(state, name) for name in _FEED_COLUMNS}
    params["b_name"], params["b_url"] = state.name, state.url
    return params


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets `status` read while the daemon writes; the busy timeout makes a
    # second process wait for the lock instead of failing at once.
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    # In WAL mode NORMAL syncs at checkpoints, not at every commit: a crash of
    # the process loses nothing; a power cut may undo the last transactions,
    # each whole: a poll's items go with its alerts (polled and alerted again)
    # and a sent mark with its send (sent again, as after any crash mid-send).
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _stored(row: Any) -> StoredAlert:
    done = frozenset(key for key in row.done_urls.split(",") if key)
    return StoredAlert(alert_from_row(row), row.state, row.attempts, row.next_attempt,
                       row.last_error, row.delivered, done, row.first_failure)


def _chunks(values: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def engine_url(url: str) -> str:
    """A config `database` value → an async SQLAlchemy URL."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if "://" in url:
        return url
    return f"sqlite+aiosqlite:///{url}"


# Last: these modules read the tables above (and add the polls table and the
# web page's indexes to `metadata` before any Store.open creates them).
from monitor.store import polls as polls  # noqa: E402
from monitor.store import views as views  # noqa: E402
