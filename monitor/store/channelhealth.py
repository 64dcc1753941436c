"""Each channel's health, durable: since when its sends fail and when the
last notice about it went out (deliver/health.py decides; this only keeps).

A row per channel that ever failed; a working channel with no notice out has
no row, so the table stays as small as the set of channels in trouble.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.models import Alert, ChannelHealth
from monitor.store import outbox
from monitor.store.schema import metadata

channel_health_t = sa.Table(
    "channel_health", metadata,
    sa.Column("channel", sa.String, primary_key=True),
    sa.Column("failing_since", sa.Float),   # first failure of the current run
    sa.Column("error", sa.String, nullable=False, server_default=""),
    sa.Column("alerted", sa.Float),         # last notice sent about it
)


async def load(conn: AsyncConnection) -> dict[str, ChannelHealth]:
    rows = await conn.execute(sa.select(channel_health_t))
    return {row.channel: ChannelHealth(row.channel, row.failing_since, row.error, row.alerted)
            for row in rows}


_LOCK_SPACE = 7390  # classid of the channel-health advisory locks (see save)


async def save(conn: AsyncConnection, state: ChannelHealth, notices: Sequence[Alert],
               now: float, read: ChannelHealth | None = None) -> bool:
    """Replace the channel's row (a healthy channel with no notice out has
    none) and queue the notices it raises, in the caller's transaction: a
    crash between the two would repeat or lose a notice.

    `read` is the row the caller decided from (None: no row). Several
    instances watch every channel; when the row is no longer `read`,
    another one already moved it (and sent the reminder both were about to
    send): nothing is written, and False returned. On PostgreSQL a lock per
    channel serialises the check and the write."""
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:space, hashtext(:c))"),
                           {"space": _LOCK_SPACE, "c": state.channel})
    row = (await conn.execute(sa.select(channel_health_t).where(
        channel_health_t.c.channel == state.channel))).first()
    now_row = (None if row is None else
               ChannelHealth(row.channel, row.failing_since, row.error, row.alerted))
    if now_row != read:
        return False
    await outbox.queue(conn, notices, now)
    await conn.execute(channel_health_t.delete().where(
        channel_health_t.c.channel == state.channel))
    if state.failing_since is not None or state.alerted is not None:
        await conn.execute(channel_health_t.insert().values(
            channel=state.channel, failing_since=state.failing_since,
            error=state.error[:500], alerted=state.alerted))
    return True
