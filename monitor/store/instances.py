"""Several daemons on one database: who is alive, what each holds, and the
work done once per period across all of them.

- `heartbeat` writes an instance's row (instances_t) and renews the leases
  of the feeds it is polling and the alerts it is sending, so that a slow
  poll or send is never taken over by another instance while its holder
  lives.
- `release_dead` is how the others take over from a dead instance at once:
  an instance whose heartbeat is older than the timeout is dead; its feeds
  are due now and its alerts free, in ONE transaction, by whichever live
  instance notices first (the others then find nothing to release). Without
  it a dead instance's claims would last until each lease ran out.
- `claim_job` makes a periodic job (retention, ...) run once per period:
  the instance that moves the job's row to the current period does it.
  `claim_every` does the same for a job with no calendar period (the
  outage sweep): once per `every` seconds, whichever instance asks first.

On SQLite (one daemon per file, store/lock.py) all of this is trivially
true and costs one small write per heartbeat. Each function runs in the
caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.store import feedstate, outbox
from monitor.store.schema import alerts_t, feeds_t, instances_t, jobs_t


@dataclass(frozen=True, slots=True)
class Instance:
    """One daemon as `status` shows it: its row, and what it holds now."""

    id: str
    host: str
    pid: int
    started: float
    heartbeat: float
    feeds: tuple[str, ...] = ()  # polling now
    alerts: int = 0              # sending now


async def heartbeat(conn: AsyncConnection, me: Instance, polling: Sequence[str],
                    lease_until: float) -> None:
    """`me` is alive at me.heartbeat; renew the claims of what it is doing."""
    values = {"host": me.host, "pid": me.pid, "started": me.started,
              "heartbeat": me.heartbeat}
    insert = (postgresql.insert(instances_t) if conn.dialect.name == "postgresql"
              else sqlite.insert(instances_t))
    await conn.execute(insert.values(id=me.id, **values).on_conflict_do_update(
        index_elements=[instances_t.c.id], set_=values))
    await feedstate.renew(conn, polling, lease_until, me.id)
    await outbox.renew(conn, lease_until, me.id)


async def release_dead(conn: AsyncConnection, now: float, timeout: float) -> list[str]:
    """Release the claims of every instance whose heartbeat is older than
    `timeout`, and forget it; returns their ids. Its alerts are free, and
    its feeds due since it was last heard of (`now - timeout`): they were
    due when it claimed them and have waited since, so they go before the
    feeds due later (the claim takes the most overdue first). Due at `now`,
    they waited behind a backlog of survivors that had fallen behind (27 s
    under load, against instance_timeout + a tick)."""
    query = sa.select(instances_t.c.id).where(instances_t.c.heartbeat < now - timeout)
    if conn.dialect.name == "postgresql":
        # Two instances noticing at once: the second skips the rows.
        query = query.with_for_update(skip_locked=True)
    dead = list((await conn.execute(query)).scalars())
    if dead:
        await release(conn, dead, now - timeout)
        await conn.execute(instances_t.delete().where(instances_t.c.id.in_(dead)))
    return dead


async def release(conn: AsyncConnection, ids: Sequence[str], due: float) -> None:
    """Void the claims held by the instances of `ids` (dead, or this one
    starting again under the same `[monitor] instance` name); their feeds
    due at `due`."""
    await conn.execute(feeds_t.update().where(feeds_t.c.claimed_by.in_(list(ids)))
                       .values(next_poll=due, claimed_by=None))
    await conn.execute(alerts_t.update().where(alerts_t.c.claimed_by.in_(list(ids)))
                       .values(claimed_until=None, claimed_by=None))


async def leave(conn: AsyncConnection, instance: str, now: float) -> None:
    """A clean stop: release what `instance` holds and remove its row."""
    await release(conn, [instance], now)
    await conn.execute(instances_t.delete().where(instances_t.c.id == instance))


async def instances(conn: AsyncConnection) -> list[Instance]:
    """Every instance with a row, and the feeds and alerts each holds now."""
    rows = (await conn.execute(sa.select(instances_t).order_by(instances_t.c.id))).all()
    feeds: dict[str, list[str]] = {}
    for name, holder in await conn.execute(
            sa.select(feeds_t.c.name, feeds_t.c.claimed_by)
            .where(feeds_t.c.claimed_by.is_not(None)).order_by(feeds_t.c.name)):
        feeds.setdefault(holder, []).append(name)
    alerts = {holder: count for holder, count in await conn.execute(
        sa.select(alerts_t.c.claimed_by, sa.func.count())
        .where(alerts_t.c.claimed_by.is_not(None), alerts_t.c.state == "pending")
        .group_by(alerts_t.c.claimed_by))}
    return [Instance(r.id, r.host, r.pid, r.started, r.heartbeat,
                     tuple(feeds.get(r.id, ())), alerts.get(r.id, 0)) for r in rows]


async def claim_job(conn: AsyncConnection, name: str, period: str, instance: str,
                    now: float) -> bool:
    """True when `instance` is the one to run job `name` for `period`
    (a key such as the day, "2026-11-30"): the first to ask, of all
    instances; every later call for that period is False."""
    insert = (postgresql.insert(jobs_t) if conn.dialect.name == "postgresql"
              else sqlite.insert(jobs_t))
    added = await conn.execute(insert.values(name=name, period=period, done_by=instance,
                                             at=now).on_conflict_do_nothing()
                               .returning(jobs_t.c.name))
    if added.first() is not None:
        return True
    # Only the one UPDATE that changes the period counts: a concurrent
    # second one waits on the row lock, then finds the period already set.
    moved = await conn.execute(jobs_t.update().where(
        jobs_t.c.name == name, jobs_t.c.period != period).values(
        period=period, done_by=instance, at=now))
    return bool(moved.rowcount)


async def claim_every(conn: AsyncConnection, name: str, instance: str, now: float,
                      every: float) -> bool:
    """True when `instance` is the one to run job `name` now: no instance
    ran it in the `every` seconds before `now` (an outage sweep: every
    instance sees the network come back, one sweeps)."""
    insert = (postgresql.insert(jobs_t) if conn.dialect.name == "postgresql"
              else sqlite.insert(jobs_t))
    added = await conn.execute(insert.values(name=name, period="", done_by=instance, at=now)
                               .on_conflict_do_nothing().returning(jobs_t.c.name))
    if added.first() is not None:
        return True
    # As in claim_job: a concurrent second UPDATE waits on the row lock,
    # then reads the first one's `at` and changes nothing.
    moved = await conn.execute(jobs_t.update().where(
        jobs_t.c.name == name, jobs_t.c.at <= now - every).values(done_by=instance, at=now))
    return bool(moved.rowcount)
