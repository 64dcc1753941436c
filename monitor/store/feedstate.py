"""The feeds' schedule and state: one row per configured feed.

A feed's row holds what its next poll needs (URL after redirects, validators,
failures) and when that poll is due; `due_feeds` claims the due ones for one
dispatcher, and `save_feed` stores a poll's outcome. Each function runs in the
caller's transaction (the `Store` facade opens one per call).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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

# What a FeedState holds: the claim is the store's own (see due_feeds).
_STATE_COLUMNS = tuple(c for c in feeds_t.columns if c.name != "claimed_until")
_FEED_COLUMNS = tuple(c.name for c in _STATE_COLUMNS if c.name != "name")


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
                polled_once=False, claimed_until=None))


async def feeds(conn: AsyncConnection, names: Iterable[str] | None = None) -> list[FeedState]:
    """The feeds of `names` (every feed when None), by name."""
    query = sa.select(*_STATE_COLUMNS).order_by(feeds_t.c.name)
    if names is not None:
        query = query.where(feeds_t.c.name.in_(list(names)))
    return [FeedState(**row._asdict()) for row in (await conn.execute(query)).all()]


async def due_feeds(conn: AsyncConnection, now: float, names: Iterable[str],
                    lease: float) -> list[FeedState]:
    """The feeds of `names` due at `now`, claimed: their next_poll moves to
    now + lease so that a second dispatcher (or instance) skips them, and
    claimed_until says so until the poll's outcome is saved."""
    query = (sa.select(*_STATE_COLUMNS).where(feeds_t.c.name.in_(list(names)),
                                      feeds_t.c.next_poll <= now,
                                      feeds_t.c.disabled.is_(None))
             .order_by(feeds_t.c.next_poll))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    due = [FeedState(**r._asdict()) for r in (await conn.execute(query)).all()]
    if due:
        await conn.execute(feeds_t.update().where(
            feeds_t.c.name.in_([f.name for f in due])).values(next_poll=now + lease,
                                                               claimed_until=now + lease))
    return due


async def release_all(conn: AsyncConnection, now: float) -> None:
    """At the start of a single instance, every claim is a dead daemon's: its
    feeds are due at once, not when the claim would have run out (timeout +
    60 s later: issue 14)."""
    await conn.execute(feeds_t.update().where(feeds_t.c.claimed_until.is_not(None))
                       .values(next_poll=now, claimed_until=None))


async def poll_now(conn: AsyncConnection, names: Sequence[str], now: float, *,
                   enable: bool = False) -> list[str]:
    """Make the feeds of `names` due at `now` (`poll-now`): one in backoff
    is polled at the next tick; one disabled by a 410 only with `enable`.
    Returns the names made due."""
    found: list[str] = []
    for chunk in chunks(list(names)):
        query = sa.select(feeds_t.c.name).where(feeds_t.c.name.in_(chunk))
        if not enable:
            query = query.where(feeds_t.c.disabled.is_(None))
        due = [r.name for r in await conn.execute(query)]
        await conn.execute(feeds_t.update().where(feeds_t.c.name.in_(due))
                           .values(next_poll=now, disabled=None))
        found += due
    return sorted(found)


async def save_feed(conn: AsyncConnection, state: FeedState) -> None:
    """Store `state`, unless the feed's configured URL changed since the poll."""
    await conn.execute(_SAVE_FEED, _feed_params(state))


def _feed_params(state: FeedState) -> dict[str, Any]:
    """The parameters of _SAVE_FEED: every column of the feeds table but its
    key, from `state` (and no claim); the key as b_name and the polled URL
    as b_url."""
    params = {name: getattr(state, name) for name in _FEED_COLUMNS}
    params["b_name"], params["b_url"] = state.name, state.url
    params["claimed_until"] = None  # the poll is over: its claim with it
    return params
