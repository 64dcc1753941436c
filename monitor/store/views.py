"""The read-only queries of the web page (monitor/web), each on one connection.

Contract: nothing here writes. Each function answers one panel of a page with
one or two indexed queries, whatever the size of the database (the page must
render in under 200 ms with 100,000 alerts): windows of time go through
`alerts_created` and `polls_feed_at`, one rule through `alerts_rule_id`, one
alert's siblings through `alerts_item`, an item's list through the items key.
The only scan is the title search (LIKE '%x%' has no index), bounded by LIMIT.
Days are UTC days, numbered from the epoch (day * 86400 is their midnight).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.models import StoredAlert
from monitor.store.outbox import stored as _stored
from monitor.store.polls import Poll, polls_t
from monitor.store.schema import alerts_t, attempts_t, items_t

DAY = 86400.0


@dataclass(frozen=True, slots=True)
class DayCount:
    day: int
    key: str      # a rule, or a poll result
    count: int


@dataclass(frozen=True, slots=True)
class PollDay:
    """One feed's polls of one day with one result."""

    day: int
    result: str
    count: int
    latency_avg: float
    latency_max: float
    new_items: int


@dataclass(frozen=True, slots=True)
class OutboxRow:
    channel: str
    pending: int
    retrying: int     # pending after at least one failed attempt
    dead: int
    oldest: float | None  # created, of the oldest pending alert


@dataclass(frozen=True, slots=True)
class StoredItem:
    feed: str
    item_id: str
    title: str
    link: str
    published: float | None
    first_seen: float


@dataclass(frozen=True, slots=True)
class Attempt:
    alert_id: int
    at: float
    ok: bool
    error: str | None


def _day(conn: AsyncConnection, column: Any) -> Any:
    # CAST rounds on PostgreSQL and truncates on SQLite; floor() is not in
    # every SQLite build. Times are positive, so truncation is the floor.
    if conn.dialect.name == "postgresql":
        return sa.cast(sa.func.floor(column / DAY), sa.Integer)
    return sa.cast(column / DAY, sa.Integer)


async def alerts_per_day(conn: AsyncConnection, since: float,
                         rule: str | None = None) -> list[DayCount]:
    """Items alerted per UTC day and rule since `since` (an item sent to two
    channels counts once: it is one hit of the rule)."""
    day = _day(conn, alerts_t.c.created)
    item = alerts_t.c.feed + "\n" + alerts_t.c.item_id
    query = (sa.select(day.label("day"), alerts_t.c.rule, sa.func.count(sa.distinct(item)))
             .where(alerts_t.c.created >= since).group_by(day, alerts_t.c.rule)
             .order_by(day, alerts_t.c.rule))
    if rule is not None:
        query = query.where(alerts_t.c.rule == rule)
    return [DayCount(int(r[0]), r[1], int(r[2])) for r in await conn.execute(query)]


async def outbox(conn: AsyncConnection) -> list[OutboxRow]:
    """Per channel: pending, retrying and dead alerts, and the oldest pending."""
    retrying = sa.case((alerts_t.c.attempts > 0, 1), else_=0)
    query = (sa.select(alerts_t.c.channel, alerts_t.c.state, sa.func.count(),
                       sa.func.sum(retrying), sa.func.min(alerts_t.c.created))
             .where(alerts_t.c.state.in_(["pending", "dead"]))
             .group_by(alerts_t.c.channel, alerts_t.c.state))
    rows: dict[str, dict[str, Any]] = {}
    for channel, state, count, failed, oldest in await conn.execute(query):
        row = rows.setdefault(channel, {"pending": 0, "retrying": 0, "dead": 0, "oldest": None})
        if state == "dead":
            row["dead"] = int(count)
        else:
            row.update(pending=int(count), retrying=int(failed or 0), oldest=oldest)
    return [OutboxRow(channel, **values) for channel, values in sorted(rows.items())]


async def latest_alerts(conn: AsyncConnection, limit: int,
                        rule: str | None = None) -> list[StoredAlert]:
    query = sa.select(alerts_t).order_by(alerts_t.c.id.desc()).limit(limit)
    if rule is not None:
        query = query.where(alerts_t.c.rule == rule)
    return [_stored(r) for r in await conn.execute(query)]


async def alert_with_siblings(conn: AsyncConnection, alert_id: int
                              ) -> tuple[list[StoredAlert], list[Attempt]]:
    """The alert `alert_id` and the same item's alerts for the same rule on
    other channels (one outbox row per channel), first the asked one; and
    every delivery attempt of them. Nothing when there is no such alert."""
    row = (await conn.execute(sa.select(alerts_t).where(alerts_t.c.id == alert_id))).first()
    if row is None:
        return [], []
    query = sa.select(alerts_t).where(
        alerts_t.c.feed == row.feed, alerts_t.c.item_id == row.item_id,
        alerts_t.c.rule == row.rule, alerts_t.c.id != alert_id).order_by(alerts_t.c.id)
    alerts = [_stored(row)] + [_stored(r) for r in await conn.execute(query)]
    ids = [a.alert.id for a in alerts]
    tried = await conn.execute(sa.select(attempts_t).where(attempts_t.c.alert_id.in_(ids))
                               .order_by(attempts_t.c.at, attempts_t.c.alert_id))
    return alerts, [Attempt(r.alert_id, r.at, bool(r.ok), r.error) for r in tried]


async def polls_per_day(conn: AsyncConnection, feed: str, since: float) -> list[PollDay]:
    day = _day(conn, polls_t.c.at)
    query = (sa.select(day, polls_t.c.result, sa.func.count(), sa.func.avg(polls_t.c.latency),
                       sa.func.max(polls_t.c.latency), sa.func.sum(polls_t.c.new_items))
             .where(polls_t.c.feed == feed, polls_t.c.at >= since)
             .group_by(day, polls_t.c.result).order_by(day, polls_t.c.result))
    return [PollDay(int(d), result, int(n), float(avg), float(top), int(new or 0))
            for d, result, n, avg, top, new in await conn.execute(query)]


async def latest_polls(conn: AsyncConnection, feed: str, limit: int) -> list[Poll]:
    query = (sa.select(polls_t).where(polls_t.c.feed == feed)
             .order_by(polls_t.c.at.desc()).limit(limit))
    return [Poll(r.at, r.result, r.status, r.latency, r.new_items, r.error)
            for r in await conn.execute(query)]


async def feed_items(conn: AsyncConnection, feed: str, limit: int) -> list[StoredItem]:
    query = (sa.select(items_t).where(items_t.c.feed == feed)
             .order_by(items_t.c.first_seen.desc()).limit(limit))
    return [_item(r) for r in await conn.execute(query)]


async def search_items(conn: AsyncConnection, text: str, limit: int) -> list[StoredItem]:
    """Items whose title contains `text` (case-insensitive), newest first."""
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    query = (sa.select(items_t).where(items_t.c.title.ilike(pattern, escape="\\"))
             .order_by(items_t.c.first_seen.desc()).limit(limit))
    return [_item(r) for r in await conn.execute(query)]


@dataclass(frozen=True, slots=True)
class BigStory:
    """A story of the window: its sources (feeds, first first) and items."""

    id: str
    sources: tuple[str, ...]
    items: tuple[StoredItem, ...]


async def biggest_stories(conn: AsyncConnection, since: float,
                          limit: int) -> list[BigStory]:
    """The stories with items first seen since `since`, most sources first
    (then most items): one grouped query through the story index, then the
    items of those few stories."""
    sources = sa.func.count(sa.distinct(items_t.c.feed))
    top = (sa.select(items_t.c.story_id).where(items_t.c.story_id.is_not(None),
                                               items_t.c.first_seen >= since)
           .group_by(items_t.c.story_id).having(sources > 1)
           .order_by(sources.desc(), sa.func.count().desc()).limit(limit))
    ids = [r.story_id for r in await conn.execute(top)]
    rows = await conn.execute(sa.select(items_t).where(items_t.c.story_id.in_(ids))
                              .order_by(items_t.c.first_seen))
    members: dict[str, list[StoredItem]] = {sid: [] for sid in ids}
    for row in rows:
        members[row.story_id].append(_item(row))
    return [BigStory(sid, tuple(dict.fromkeys(i.feed for i in items)), tuple(items))
            for sid, items in members.items()]


def _item(row: Any) -> StoredItem:
    return StoredItem(row.feed, row.item_id, row.title, row.link, row.published,
                      row.first_seen)
