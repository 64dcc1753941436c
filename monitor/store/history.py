"""What was sent: the send log and the outbox as a record.

The send log holds one row per message a channel accepted (written with the
sent mark, in its transaction: see Store.mark_sent); flood control reads it
back (`sends_since`). `history`, `outbox_counts` and `oldest_pending` read the
outbox for `status`, `history` and the metrics. Each function runs in the
caller's transaction.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.models import StoredAlert
from monitor.store.outbox import stored
from monitor.store.schema import alerts_t, sends_t


async def log_send(conn: AsyncConnection, channel: str, now: float) -> None:
    """The channel accepted one message at `now`."""
    await conn.execute(sends_t.insert().values(channel=channel, at=now))


async def sends_since(conn: AsyncConnection, channel: str, since: float) -> list[float]:
    """When the channel accepted a message since `since`, oldest first."""
    query = (sa.select(sends_t.c.at).where(sends_t.c.channel == channel,
                                           sends_t.c.at >= since).order_by(sends_t.c.at))
    return [r.at for r in (await conn.execute(query)).all()]


async def history(conn: AsyncConnection, rule: str | None, channel: str | None,
                  limit: int, state: str | None) -> list[StoredAlert]:
    """The latest `limit` alerts (of `rule`, `channel`, in `state`), newest first."""
    query = sa.select(alerts_t).order_by(alerts_t.c.id.desc()).limit(limit)
    if state:
        query = query.where(alerts_t.c.state == state)
    if rule:
        query = query.where(alerts_t.c.rule == rule)
    if channel:
        query = query.where(alerts_t.c.channel == channel)
    return [stored(r) for r in (await conn.execute(query)).all()]


async def outbox_counts(conn: AsyncConnection) -> dict[tuple[str, str], int]:
    """(channel, state) → number of alerts."""
    query = sa.select(alerts_t.c.channel, alerts_t.c.state, sa.func.count()).group_by(
        alerts_t.c.channel, alerts_t.c.state)
    return {(r[0], r[1]): r[2] for r in (await conn.execute(query)).all()}


async def oldest_pending(conn: AsyncConnection) -> float | None:
    """When the oldest alert still pending was queued (None: none pending)."""
    query = sa.select(sa.func.min(alerts_t.c.created)).where(alerts_t.c.state == "pending")
    value = (await conn.execute(query)).scalar()
    return None if value is None else float(value)
