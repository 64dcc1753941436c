"""The record of individual polls, for the web page's "polls over time".

The feeds table holds only a feed's current state; one row per poll here
(outcome, HTTP status, latency, new items) lets the page chart a feed's last
weeks. A feed's rows older than KEEP are deleted as it writes a new one, so
the table stays about (feeds × polls per feed in KEEP) rows whatever the
retention, and that delete walks the (feed, at) index. The same rows are
what adaptive pacing learns each feed's publishing from (`activity`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.store.schema import alerts_t, metadata

KEEP = 31 * 86400.0  # seconds of polls kept per feed: the page charts 30 days

polls_t = sa.Table(
    "polls", metadata,
    sa.Column("feed", sa.String, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("result", sa.String, nullable=False),   # pipeline.Outcome.result
    sa.Column("status", sa.Integer),                  # HTTP status, None without a response
    sa.Column("latency", sa.Float, nullable=False),   # seconds the poll took
    sa.Column("new_items", sa.Integer, nullable=False, server_default="0"),
    sa.Column("error", sa.String),
    sa.Index("polls_feed_at", "feed", "at"),
)

# The web page's queries on alerts (store/views.py): per day over a window
# (covering: the count never reads the rows, whose payloads are large), per
# rule, and its latest. Declared here, on the table, so that
# _create_or_upgrade creates them in an existing database too.
sa.Index("alerts_created", alerts_t.c.created, alerts_t.c.rule, alerts_t.c.feed,
         alerts_t.c.item_id)
sa.Index("alerts_rule_id", alerts_t.c.rule, alerts_t.c.id)
sa.Index("alerts_item", alerts_t.c.feed, alerts_t.c.item_id)


@dataclass(frozen=True, slots=True)
class Poll:
    """One poll as recorded: when, how it ended, the HTTP status (None
    without a response), how long it took, and what it found."""

    at: float
    result: str  # poll.pipeline.Outcome.result
    status: int | None
    latency: float
    new_items: int
    error: str | None


_INSERT = polls_t.insert()
_PRUNE = polls_t.delete().where(polls_t.c.feed == sa.bindparam("b_feed"),
                                polls_t.c.at < sa.bindparam("b_before"))


async def record_many(conn: AsyncConnection, polls: Sequence[tuple[str, Poll]]) -> None:
    """`record` of each (feed, poll), as two executemany."""
    if not polls:
        return
    await conn.execute(_INSERT, [
        {"feed": feed, "at": p.at, "result": p.result, "status": p.status,
         "latency": p.latency, "new_items": p.new_items,
         "error": None if p.error is None else p.error[:500]} for feed, p in polls])
    await conn.execute(_PRUNE, [{"b_feed": feed, "b_before": p.at - KEEP} for feed, p in polls])


async def record(conn: AsyncConnection, feed: str, poll: Poll) -> None:
    """One poll of `feed`; drops the feed's polls older than KEEP."""
    await conn.execute(polls_t.insert().values(
        feed=feed, at=poll.at, result=poll.result, status=poll.status, latency=poll.latency,
        new_items=poll.new_items, error=None if poll.error is None else poll.error[:500]))
    await conn.execute(polls_t.delete().where(polls_t.c.feed == feed,
                                              polls_t.c.at < poll.at - KEEP))


# The results of a poll that reached the feed (pipeline.Outcome.result).
_GOOD = ("new", "no_new_items", "unchanged", "not_modified")


async def activity(conn: AsyncConnection, since: float) -> tuple[
        list[tuple[str, float, float]], list[tuple[str, float, float, int]]]:
    """Since `since`: (feed, first, last) good poll of each feed, and
    (feed, poll before, poll, new items) of each good poll that found new
    items after another (the first one's are its backlog), oldest first.
    LAG needs SQLite 3.25 or PostgreSQL; both have had it for years."""
    good = polls_t.c.result.in_(_GOOD) & (polls_t.c.at >= since)
    spans = await conn.execute(
        sa.select(polls_t.c.feed, sa.func.min(polls_t.c.at), sa.func.max(polls_t.c.at))
        .where(good).group_by(polls_t.c.feed))
    before = sa.func.lag(polls_t.c.at).over(partition_by=polls_t.c.feed,
                                            order_by=polls_t.c.at)
    inner = sa.select(polls_t.c.feed, before.label("before"), polls_t.c.at,
                      polls_t.c.new_items).where(good).subquery()
    found = await conn.execute(
        sa.select(inner).where(inner.c.new_items > 0, inner.c.before.is_not(None))
        .order_by(inner.c.at))
    return ([(r[0], r[1], r[2]) for r in spans],
            [(r.feed, r.before, r.at, r.new_items) for r in found])
