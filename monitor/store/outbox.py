"""The outbox: alerts waiting for their channel, and their delivery state.

- The outbox has a UNIQUE (feed, item, rule, channel) key and inserts ignore
  conflicts, so no item is alerted twice to a channel for a rule, whatever
  restarts or concurrent instances do; a UNIQUE (rule, channel, story) index
  does the same for one story (monitor.stories: one event, in any feed, any
  edit) or, without a story, one article seen in several feeds.
- Delivery is at-least-once: an alert leaves `pending` only after the channel
  accepted it (`mark_sent`); every attempt is recorded in `attempts`.
- A delivery tick claims the alerts it works on (`claim_due`) until a lease
  runs out, so two ticks or instances never send one alert at once.

An alert is stored as JSON (`alert_to_json`, `alert_from_row`). Each function
runs in the caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.models import Alert, Item, Match, Priority, StoredAlert, TermHit
from monitor.store.schema import alerts_t, attempts_t, chunks, dt, ts

_STORY_LOCKS = 64  # buckets of stories, each an advisory lock (see queue)
_STORY_LOCK_SPACE = 7388  # their classid: the two-key advisory locks of newsmonitor
_CLAIM_LOCK_SPACE = 7389  # claim_due's lock (key 0)

# Built once, one per dialect (ON CONFLICT is the dialect's own); RETURNING,
# not rowcount: drivers disagree on rowcount for ON CONFLICT.
_QUEUED = (alerts_t.c.id, alerts_t.c.feed, alerts_t.c.item_id, alerts_t.c.rule,
           alerts_t.c.channel)
_QUEUE_PG = postgresql.insert(alerts_t).on_conflict_do_nothing().returning(*_QUEUED)
_QUEUE_SQLITE = sqlite.insert(alerts_t).on_conflict_do_nothing().returning(*_QUEUED)


def alert_to_json(alert: Alert) -> str:
    item, match = alert.item, alert.match
    return json.dumps({
        "item": {"feed": item.feed, "id": item.id, "title": item.title,
                 "summary": item.summary, "link": item.link, "author": item.author,
                 "published": ts(item.published), "story_id": item.story_id,
                 # The window of the content the excerpt shows (poll.alerts).
                 **({"content": item.content} if item.content else {}),
                 **({"categories": list(item.categories)} if item.categories else {})},
        "match": {"rule": match.rule, "score": match.score,
                  "hits": [[h.term, h.matched, h.field, h.score] for h in match.hits]},
        "feed_title": alert.feed_title, "note": alert.note,
        **({"backlog": True} if alert.backlog else {}),
    }, ensure_ascii=False)


def alert_from_row(row: Any) -> Alert:
    data = json.loads(row.payload)
    # An alert queued before stories has its story in the row only (stories.assign).
    story = data["item"].get("story_id") or row.story
    item = Item(**{**data["item"], "published": dt(data["item"]["published"]),
                   "story_id": story,
                   "categories": tuple(data["item"].get("categories", ()))})
    match = Match(data["match"]["rule"], data["match"]["score"],
                  tuple(TermHit(*h) for h in data["match"]["hits"]))
    return Alert(item=item, match=match, channel=row.channel, feed_title=data["feed_title"],
                 priority=Priority(row.priority), id=row.id, created=dt(row.created),
                 backlog=data.get("backlog", False), note=data.get("note", ""))


def stored(row: Any) -> StoredAlert:
    """A row of the alerts table → the alert with its delivery state."""
    done = frozenset(key for key in row.done_urls.split(",") if key)
    return StoredAlert(alert_from_row(row), row.state, row.attempts, row.next_attempt,
                       row.last_error, row.delivered, done, row.first_failure)


async def queue(conn: AsyncConnection, alerts: Sequence[Alert], now: float) -> list[int]:
    """Queue `alerts`, due at `now`, but those already in the outbox (same
    item, rule and channel, or same story, rule and channel); returns the ids
    of the alerts queued, in the order of `alerts`: the delivery order."""
    if not alerts:
        return []
    stories = [story_key(a) for a in alerts]  # a hash each: computed once
    rows = [{"feed": a.item.feed, "item_id": a.item.id, "rule": a.match.rule,
             "channel": a.channel, "priority": a.priority.value,
             "payload": alert_to_json(a), "created": now, "state": "pending",
             "next_attempt": now, "story": story}
            for a, story in zip(alerts, stories, strict=True)]
    if conn.dialect.name == "postgresql":
        await _lock_stories(conn, stories)
    # The rows keep their order: alert ids are the delivery order. But
    # RETURNING order is not the parameters' order in a batch: put the ids
    # back in the order of `alerts` through the outbox's unique key.
    insert = _QUEUE_PG if conn.dialect.name == "postgresql" else _QUEUE_SQLITE
    queued = {(r.feed, r.item_id, r.rule, r.channel): r.id
              for r in await conn.execute(insert, rows)}
    keys = [(r["feed"], r["item_id"], r["rule"], r["channel"]) for r in rows]
    return [queued[k] for k in dict.fromkeys(keys) if k in queued]


def story_key(alert: Alert) -> str | None:
    """The alert's part of the (story, rule, channel) key: a follow-up has
    its own, so that each story sends at most one per rule and channel."""
    key = alert.item.story_key
    return f"{key}:{alert.note}" if key and alert.note == "follow-up" else key


async def _lock_stories(conn: AsyncConnection, stories: Sequence[str | None]) -> None:
    """Two instances polling two feeds that share stories insert into the
    story index in their own orders and could deadlock; a lock per bucket of
    stories first, taken in one global order (the array's), serialises them,
    with at most _STORY_LOCKS locks per transaction (PostgreSQL only)."""
    buckets = sorted({int(story[:8], 16) % _STORY_LOCKS for story in stories if story})
    if buckets:
        await conn.execute(sa.text(
            "SELECT pg_advisory_xact_lock(:space, bucket) FROM "
            "unnest(CAST(:buckets AS integer[])) AS bucket"),
            {"space": _STORY_LOCK_SPACE, "buckets": buckets})


async def claim_due(conn: AsyncConnection, now: float, lease: float, *,
                    retry_now: bool = False, instance: str | None = None
                    ) -> list[StoredAlert]:
    """Pending alerts whose next attempt is due (every pending one with
    retry_now), claimed by `instance` until now + lease: another delivery
    tick or instance skips them until they are marked sent or failed,
    released, or the lease runs out (a crash mid-send: delivered again, at
    least once); the holder renews the lease while it sends (`renew`).

    A channel is claimed whole: a channel with an alert claimed by someone
    else is skipped entirely, so that one instance plans each channel's
    digest, summary or catch-up, and its order and rate limit hold across
    instances. On PostgreSQL the claims of all instances are serialised by
    an advisory lock for this (row locks alone would split a channel).
    """
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:space, 0)"),
                           {"space": _CLAIM_LOCK_SPACE})
    held = (sa.select(alerts_t.c.channel).where(
        alerts_t.c.state == "pending", alerts_t.c.claimed_until >= now)
        .distinct().scalar_subquery())
    query = (sa.select(alerts_t).where(
        alerts_t.c.state == "pending",
        sa.or_(alerts_t.c.claimed_until.is_(None), alerts_t.c.claimed_until < now),
        alerts_t.c.channel.not_in(held))
        .order_by(alerts_t.c.id))
    if not retry_now:
        query = query.where(alerts_t.c.next_attempt <= now)
    due = [stored(r) for r in (await conn.execute(query)).all()]
    for chunk in chunks([s.alert.id for s in due]):
        await conn.execute(alerts_t.update().where(alerts_t.c.id.in_(chunk))
                           .values(claimed_until=now + lease, claimed_by=instance))
    return due


async def renew(conn: AsyncConnection, until: float, instance: str) -> None:
    """Extend `instance`'s claims on the alerts it is sending to `until`."""
    mine = sa.select(alerts_t.c.id).where(
        alerts_t.c.claimed_by == instance, alerts_t.c.state == "pending",
        alerts_t.c.claimed_until.is_not(None))
    if conn.dialect.name == "postgresql":
        # A row locked now is being marked sent or failed (its claim ends):
        # skipped, not waited for, so that this update and a delivery's
        # updates of the same rows in another order never deadlock.
        mine = mine.with_for_update(skip_locked=True)
    await conn.execute(alerts_t.update().where(alerts_t.c.id.in_(mine.scalar_subquery()))
                       .values(claimed_until=until))


async def release(conn: AsyncConnection, ids: Sequence[int]) -> None:
    """End the claim on alerts this tick did not send (held, or after a failure)."""
    for chunk in chunks(list(ids)):
        await conn.execute(alerts_t.update().where(alerts_t.c.id.in_(chunk))
                           .values(claimed_until=None, claimed_by=None))


async def release_all(conn: AsyncConnection) -> None:
    """At the start of a single instance: claims left by a crash are void."""
    await conn.execute(alerts_t.update().where(
        alerts_t.c.claimed_until.is_not(None)).values(claimed_until=None, claimed_by=None))


async def pending(conn: AsyncConnection, channel: str) -> list[StoredAlert]:
    """The channel's pending alerts, in delivery order."""
    query = (sa.select(alerts_t).where(alerts_t.c.state == "pending",
                                       alerts_t.c.channel == channel)
             .order_by(alerts_t.c.id))
    return [stored(r) for r in (await conn.execute(query)).all()]


async def mark_sent(conn: AsyncConnection, ids: Sequence[int], kind: str, now: float) -> None:
    """The channel accepted one message carrying these alerts (`ids` not
    empty); the facade logs the send in the same transaction (history.py)."""
    await conn.execute(alerts_t.update().where(alerts_t.c.id.in_(list(ids))).values(
        state="sent", delivered=now, attempts=alerts_t.c.attempts + 1, kind=kind,
        last_error=None, claimed_until=None, claimed_by=None))
    await conn.execute(attempts_t.insert(), [
        {"alert_id": i, "at": now, "ok": True, "error": None} for i in ids])


async def mark_failed(conn: AsyncConnection, ids: Sequence[int], error: str, now: float,
                      retry_at: float | None, done_urls: frozenset[str]) -> None:
    """An attempt failed (`ids` not empty): retry at `retry_at`, or mark dead
    when it is None. `done_urls`: the channel URLs that accepted it (a retry
    skips them)."""
    values: dict[str, Any] = {"attempts": alerts_t.c.attempts + 1,
                              "last_error": error[:500],
                              "done_urls": ",".join(sorted(done_urls)),
                              "first_failure": sa.func.coalesce(
                                  alerts_t.c.first_failure, now),
                              "claimed_until": None, "claimed_by": None}
    values.update(state="dead") if retry_at is None else values.update(
        next_attempt=retry_at)
    await conn.execute(alerts_t.update().where(alerts_t.c.id.in_(list(ids)))
                       .values(**values))
    await conn.execute(attempts_t.insert(), [
        {"alert_id": i, "at": now, "ok": False, "error": error[:500]} for i in ids])


async def requeue_dead(conn: AsyncConnection, now: float, channel: str | None,
                       rule: str | None) -> int:
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
    return int((await conn.execute(query)).rowcount)
