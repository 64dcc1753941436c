"""The WebSub subscriptions (schema.websub_t): one row per subscribed feed.

`Subscriptions` is the facade (`Store.websub`); each method is one
transaction. The secret is stored as given (it is the HMAC key the hub
signs with: it must be read back), and never leaves the store but for the
signature check and the hub's subscription request.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.models import Subscription
from monitor.store.schema import websub_t

if TYPE_CHECKING:
    from monitor.store import Store

_COLUMNS = tuple(websub_t.c[f.name] for f in fields(Subscription))


class Subscriptions:
    """The store's WebSub subscriptions: `Store.websub`."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def all(self) -> list[Subscription]:
        return await self._store._run(_all)

    async def by_callback(self, callback: str) -> Subscription | None:
        """The subscription whose callback path ends in `callback`."""
        return await self._store._run(lambda c: _one(c, websub_t.c.callback == callback))

    async def save(self, sub: Subscription) -> None:
        """Insert or replace the feed's subscription."""
        async def go(conn: AsyncConnection) -> None:
            await conn.execute(websub_t.delete().where(websub_t.c.feed == sub.feed))
            await conn.execute(websub_t.insert().values(**asdict(sub)))
        await self._store._run(go)

    async def verified(self, callback: str, topic: str, lease_until: float) -> bool:
        """The hub confirmed a subscription we asked for: active until
        `lease_until`, the request answered (`pending` cleared, in the same
        statement: of two verifications at once, one is taken). False when
        no requested or active one with that callback and topic awaits a
        subscribe verification (then we did not ask: the challenge is refused)."""
        return await self._store._run(lambda c: _move(
            c, callback, topic, ("requested", "active"), state="active",
            lease_until=lease_until, error=None))

    async def denied(self, callback: str, topic: str, reason: str) -> bool:
        """The hub refused a subscription we asked for and it never
        verified (hub.mode=denied); one it verified stays until its lease ends."""
        return await self._store._run(lambda c: _move(
            c, callback, topic, ("requested",), state="denied", lease_until=None,
            error=reason[:500]))

    async def forget(self, callback: str, topic: str | None = None,
                     states: tuple[str, ...] = ("unsubscribing",),
                     pending: str | None = None) -> bool:
        """Remove a subscription in one of `states` (after the hub confirmed
        an unsubscription: `topic` and `pending` "unsubscribe" given; or
        once its lease ran out)."""
        async def go(conn: AsyncConnection) -> bool:
            where = [websub_t.c.callback == callback, websub_t.c.state.in_(states)]
            if topic is not None:
                where.append(websub_t.c.topic == topic)
            if pending is not None:
                where.append(websub_t.c.pending == pending)
            result = await conn.execute(websub_t.delete().where(*where))
            return bool(result.rowcount)
        return await self._store._run(go)


async def _all(conn: AsyncConnection) -> list[Subscription]:
    rows = await conn.execute(sa.select(*_COLUMNS).order_by(websub_t.c.feed))
    return [Subscription(**row._asdict()) for row in rows.all()]


async def _one(conn: AsyncConnection, where: sa.ColumnElement[bool]) -> Subscription | None:
    row = (await conn.execute(sa.select(*_COLUMNS).where(where))).first()
    return Subscription(**row._asdict()) if row is not None else None


async def _move(conn: AsyncConnection, callback: str, topic: str, states: tuple[str, ...],
                **values: object) -> bool:
    """A subscribe request of ours answered: moved to `values`, no longer pending."""
    result = await conn.execute(websub_t.update().where(
        websub_t.c.callback == callback, websub_t.c.topic == topic,
        websub_t.c.state.in_(states), websub_t.c.pending == "subscribe")
        .values(pending=None, **values))
    return bool(result.rowcount)
