"""The feeds' schedule and state: one row per configured feed.

A feed's row holds what its next poll needs (URL after redirects, validators,
failures) and when that poll is due; `due_feeds` claims the due ones for one
dispatcher, and `save_feed` stores a poll's outcome. Each function runs in the
caller's transaction (the `Store` facade opens one per call).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.models import FeedState
from monitor.store.schema import chunks, feeds_t

# Built once, as the statements of the poll path are (see seen.py). A poll's
# result lands only while the feed still has the URL it was polled at: a
# reload that changed the URL meanwhile wins (the old poll is dropped).
# An UPDATE without .values() sets the columns named in the parameters.
_SAVE_FEED = feeds_t.update().where(feeds_t.c.name == sa.bindparam("b_name"),
                                    feeds_t.c.url == sa.bindparam("b_url"))

# FeedState's fields, not the table's columns: the claim columns
# (claimed_by, ...) belong to the store, not to the poll.
_FEED_COLUMNS = tuple(f.name for f in fields(FeedState) if f.name != "name")
_STATE = sa.select(*(feeds_t.c[f.name] for f in fields(FeedState)))


async def sync_feeds(conn: AsyncConnection,
                     feeds: Iterable[tuple[str, str, float, float]]) -> None:
    """Make sure each (name, url, interval, first_poll) has a row.

    A known feed keeps its state and schedule; a feed whose configured URL
    changed starts again from the new URL (its items stay seen), and its
    first poll there records the backlog without alerting, as for a new feed.
    """
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
                polled_once=False, claimed_by=None, hub=None, hub_topic=None))


async def feeds(conn: AsyncConnection, names: Iterable[str] | None = None) -> list[FeedState]:
    """The feeds of `names` (every feed when None), by name."""
    query = _STATE.order_by(feeds_t.c.name)
    if names is not None:
        query = query.where(feeds_t.c.name.in_(list(names)))
    return [FeedState(**row._asdict()) for row in (await conn.execute(query)).all()]


async def due_feeds(conn: AsyncConnection, now: float, names: Iterable[str],
                    lease: float, instance: str | None = None,
                    limit: int | None = None) -> list[FeedState]:
    """The feeds of `names` due at `now`, claimed by `instance`: their
    next_poll moves to now + lease so that a second dispatcher (or instance)
    skips them; the holder renews the lease while the poll runs (`renew`).
    At most `limit`, the most overdue first."""
    query = (_STATE.where(feeds_t.c.name.in_(list(names)),
                          feeds_t.c.next_poll <= now,
                          feeds_t.c.disabled.is_(None))
             .order_by(feeds_t.c.next_poll).limit(limit))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    due = [FeedState(**r._asdict()) for r in (await conn.execute(query)).all()]
    for chunk in chunks([f.name for f in due]):
        await conn.execute(feeds_t.update().where(feeds_t.c.name.in_(chunk))
                           .values(next_poll=now + lease, claimed_by=instance))
    return due


async def renew(conn: AsyncConnection, names: Sequence[str], until: float,
                instance: str) -> None:
    """Extend `instance`'s claim on the feeds of `names` (polls still running)
    to `until`: a slow feed is never polled by a second instance meanwhile."""
    for chunk in chunks(list(names)):
        mine = sa.select(feeds_t.c.name).where(
            feeds_t.c.name.in_(chunk), feeds_t.c.claimed_by == instance,
            feeds_t.c.next_poll < until)
        if conn.dialect.name == "postgresql":
            # A row locked now is being saved by its poll (its claim ends):
            # skipped, not waited for (no lock-order deadlock with the polls).
            mine = mine.with_for_update(skip_locked=True)
        await conn.execute(feeds_t.update().where(feeds_t.c.name.in_(mine.scalar_subquery()))
                           .values(next_poll=until))


async def poll_now(conn: AsyncConnection, names: Sequence[str], now: float,
                   enable: bool = False, held: Mapping[str, float] | None = None) -> list[str]:
    """Make the feeds of `names` due at `now` (`poll-now`): one in backoff
    is polled at the next tick; one disabled by a 410 only with `enable`;
    one in `held` (its host's Retry-After) at that time instead. Returns
    the names made due (now or at their hold)."""
    held = held or {}
    found: list[str] = []
    for chunk in chunks(list(names)):
        query = sa.select(feeds_t.c.name).where(feeds_t.c.name.in_(chunk))
        if not enable:
            query = query.where(feeds_t.c.disabled.is_(None))
        due = [r.name for r in await conn.execute(query)]
        await conn.execute(feeds_t.update().where(feeds_t.c.name.in_(
            [name for name in due if name not in held])).values(next_poll=now, disabled=None))
        for name in (name for name in due if name in held):
            await conn.execute(feeds_t.update().where(feeds_t.c.name == name)
                               .values(next_poll=held[name], disabled=None))
        found += due
    return sorted(found)


async def save_feed(conn: AsyncConnection, state: FeedState) -> None:
    """Store `state`, unless the feed's configured URL changed since the poll."""
    await conn.execute(_SAVE_FEED, _feed_params(state))


async def count_pushed(conn: AsyncConnection, state: FeedState, fresh: int,
                       now: float) -> None:
    """A pushed body's mark on its feed's row: the title and the `fresh`
    items counted on the row as it is now. The poll's columns (schedule,
    validators, health, claim) are not written: a poll of the feed, here or
    by another instance, may be under way, and its claim must hold."""
    values: dict[str, Any] = {"title": state.title,
                              "items_seen": feeds_t.c.items_seen + fresh}
    if fresh:
        values["last_new_item"] = now
    await conn.execute(feeds_t.update().where(feeds_t.c.name == state.name,
                                              feeds_t.c.url == state.url).values(values))


async def save_feeds(conn: AsyncConnection, states: Sequence[FeedState]) -> None:
    """`save_feed` of each state, as one executemany."""
    if states:
        await conn.execute(_SAVE_FEED, [_feed_params(state) for state in states])


def _feed_params(state: FeedState) -> dict[str, Any]:
    """The parameters of _SAVE_FEED: every column of the feeds table but its
    key, from `state` (and no claim); the key as b_name and the polled URL
    as b_url."""
    params = {name: getattr(state, name) for name in _FEED_COLUMNS}
    params["b_name"], params["b_url"] = state.name, state.url
    params["claimed_by"] = None  # the poll is over: the claim with it
    return params


async def release_all(conn: AsyncConnection, now: float) -> None:
    """At the start of a single daemon (SQLite: the store's lock), every
    feed claim is a dead daemon's: its feeds are due at once, not when the
    claim would have run out (issue 14)."""
    await conn.execute(feeds_t.update().where(feeds_t.c.claimed_by.is_not(None))
                       .values(next_poll=now, claimed_by=None))
