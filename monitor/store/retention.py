"""Retention: what the store forgets, and what it must never forget.

Delivered and dead alerts go once older than the retention; pending ones
never do. Items go only once they cannot come back (see `prune`). Runs in
the caller's transaction.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.store.articles import articles_t
from monitor.store.polls import polls_t
from monitor.store.schema import alerts_t, attempts_t, items_t, sends_t


async def prune(conn: AsyncConnection, before: float) -> tuple[int, int]:
    """Delete delivered or dead alerts created, and items last seen, before `before`.

    An item is kept while it may still appear in its feed: dedup needs
    its id, or the publisher's old item would alert again. `last_seen` is
    set to the time of every parse whose document lists the item, so the
    items of the latest parse share the feed's highest `last_seen`; an item
    below it has left the feed's document, and once that is older than the
    retention it can go. The items of the latest parse always stay, however
    old: a feed answering 304 for months, or not answering at all, keeps
    them, and never re-alerts them. Returns (alerts, items) deleted.
    """
    alerts = await conn.execute(alerts_t.delete().where(
        alerts_t.c.state.in_(["sent", "dead"]), alerts_t.c.created < before))
    await conn.execute(attempts_t.delete().where(
        attempts_t.c.alert_id.not_in(sa.select(alerts_t.c.id))))
    await conn.execute(sends_t.delete().where(sends_t.c.at < before))
    # A feed's own polls go as it writes new ones (polls.KEEP); these are removed feeds'.
    await conn.execute(polls_t.delete().where(polls_t.c.at < before))
    # An article read before the retention: its items are new no more (a
    # new item linking it again, after that long, has it fetched again).
    await conn.execute(articles_t.delete().where(articles_t.c.fetched < before))
    latest = sa.alias(items_t, "latest")
    latest_parse = (sa.select(sa.func.max(latest.c.last_seen))
                    .where(latest.c.feed == items_t.c.feed).scalar_subquery())
    items = await conn.execute(items_t.delete().where(
        items_t.c.last_seen < before, items_t.c.last_seen < latest_parse,
        items_t.c.item_id.not_in(
            sa.select(alerts_t.c.item_id).where(alerts_t.c.state == "pending"))))
    return alerts.rowcount, items.rowcount
