"""Stories in the store: the items the story index is rebuilt from, each
item's story, the sources of a story, and a channel's follow-up.

The grouping itself is pure (monitor.stories) and lives in memory; what it
decided is written here, with the items, in the poll's transaction
(`items.story_id`, and the outbox's `story` key: one alert per story, rule
and channel). Each function runs in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence, Set
from dataclasses import dataclass, replace

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.models import Alert, Item, StoredAlert
from monitor.store import outbox
from monitor.store.outbox import alert_from_row
from monitor.store.schema import alerts_t, chunks, dt, items_t

FOLLOW_UP = "follow-up"


@dataclass(frozen=True, slots=True)
class StoredItem:
    """An item as the store holds it, with when it was first seen."""

    item: Item
    first_seen: float


@dataclass(frozen=True, slots=True)
class Story:
    """A story of `newsmonitor stories`: its items (oldest first), and the
    rules and channels it alerted."""

    id: str
    items: tuple[StoredItem, ...]
    alerted: tuple[tuple[str, str], ...]  # (rule, channel)

    @property
    def sources(self) -> list[str]:
        return list(dict.fromkeys(i.item.feed for i in self.items))


def _item(row: sa.Row[tuple[object, ...]]) -> StoredItem:
    item = Item(feed=row.feed, id=row.item_id, title=row.title, summary=row.summary or "",
                link=row.link, published=dt(row.published), story_id=row.story_id)
    return StoredItem(item, row.first_seen)


# Not the kept content (archive.py): the index reads title and summary.
_WINDOW = [c for c in items_t.columns if c.name not in ("content", "overflow")]
_ORDER = (items_t.c.first_seen, items_t.c.published, items_t.c.feed, items_t.c.item_id)


async def window(conn: AsyncConnection, since: float,
                 skip: Callable[[str, str], bool] | None = None) -> list[StoredItem]:
    """The items first seen since `since`, in the order they were seen; but
    those `skip` names by (feed, id): their keys are read first, and only
    the others' text (a catch-up reads back mostly items it knows)."""
    recent = items_t.c.first_seen >= since
    if skip is None:
        query = sa.select(*_WINDOW).where(recent).order_by(*_ORDER)
        return [_item(r) for r in (await conn.execute(query)).all()]
    keys = (await conn.execute(sa.select(items_t.c.feed, items_t.c.item_id).where(recent))).all()
    wanted = [(feed, item_id) for feed, item_id in keys if not skip(feed, item_id)]
    rows: list[sa.Row[tuple[object, ...]]] = []
    for chunk in chunks(wanted):
        pairs = sa.tuple_(items_t.c.feed, items_t.c.item_id).in_(chunk)
        rows += (await conn.execute(sa.select(*_WINDOW).where(recent, pairs))).all()
    return sorted((_item(r) for r in rows),
                  key=lambda s: (s.first_seen, s.item.feed, s.item.id))


async def rebuild(conn: AsyncConnection, since: float,
                  attach: Callable[[list[StoredItem]], Awaitable[list[str]]],
                  skip: Callable[[str, str], bool] | None = None) -> int:
    """The items of the window (`window`, without those `skip` names)
    through `attach`, which returns their stories; items recorded before
    stories take theirs (`assign`). Returns how many items."""
    found = await window(conn, since, skip)
    ids = await attach(found)
    await assign(conn, [(s.item.feed, s.item.id, story) for s, story in zip(found, ids, strict=True)
                        if s.item.story_id is None])
    return len(found)


async def assign(conn: AsyncConnection, assigned: Sequence[tuple[str, str, str]]) -> None:
    """(feed, item id, story id) for items recorded before stories (the
    rebuild attached them): the items take their story, and so does each of
    their alerts, unless another alert already holds that story for its rule
    and channel (then the story was alerted there already: nothing changes)."""
    other = sa.alias(alerts_t, "other")
    taken = sa.exists().where(other.c.rule == alerts_t.c.rule,
                              other.c.channel == alerts_t.c.channel,
                              other.c.story == sa.bindparam("b_story"))
    for feed, item_id, story in assigned:
        await conn.execute(items_t.update().where(
            items_t.c.feed == feed, items_t.c.item_id == item_id,
            items_t.c.story_id.is_(None)).values(story_id=story))
        await conn.execute(alerts_t.update().where(
            alerts_t.c.feed == feed, alerts_t.c.item_id == item_id, ~taken,
        ).values(story=sa.bindparam("b_story")), {"b_story": story})


async def sourced(conn: AsyncConnection,
                  found: Awaitable[list[StoredAlert]]) -> list[StoredAlert]:
    """The alerts `found` with their sources (the facade's reads)."""
    return await sources(conn, await found)


async def sources(conn: AsyncConnection, alerts: Sequence[StoredAlert]) -> list[StoredAlert]:
    """`alerts` with the other feeds of each one's story (Alert.sources)."""
    ids = sorted({s.alert.item.story_id for s in alerts if s.alert.item.story_id})
    feeds: dict[str, list[str]] = {}
    for chunk in chunks(ids):
        query = (sa.select(items_t.c.story_id, items_t.c.feed)
                 .where(items_t.c.story_id.in_(chunk))
                 .order_by(items_t.c.first_seen, items_t.c.feed))
        for row in (await conn.execute(query)).all():
            feeds.setdefault(row.story_id, []).append(row.feed)
    return [_with_sources(s, feeds) for s in alerts]


def _with_sources(stored: StoredAlert, feeds: Mapping[str, list[str]]) -> StoredAlert:
    alert = stored.alert
    found = feeds.get(alert.item.story_id or "", [])
    others = tuple(dict.fromkeys(f for f in found if f != alert.item.feed))
    return replace(stored, alert=replace(alert, sources=others)) if others else stored


async def follow(conn: AsyncConnection, items: Sequence[Item], fresh: Set[str],
                 thresholds: Mapping[str, int], now: float) -> list[int]:
    """Queue the follow-ups the `fresh` items of a poll made due."""
    joined = sorted({i.story_id for i in items if i.id in fresh and i.story_id})
    return await outbox.queue(conn, await follow_ups(conn, joined, thresholds), now)


async def follow_ups(conn: AsyncConnection, stories: Sequence[str],
                     thresholds: Mapping[str, int]) -> list[Alert]:
    """The follow-ups due for `stories`, which items just joined: one per
    alert of the story on a channel once `story_updates` (here `thresholds`)
    further sources (feeds not in the story when it alerted) have joined.
    The outbox key of a follow-up (`<story>:follow-up`) makes it the only one."""
    if not stories or not thresholds:
        return []
    query = sa.select(alerts_t).where(alerts_t.c.story.in_(list(stories)),
                                      alerts_t.c.channel.in_(list(thresholds)))
    due: list[Alert] = []
    for row in (await conn.execute(query)).all():
        first = alert_from_row(row)
        members = (await conn.execute(sa.select(items_t).where(
            items_t.c.story_id == row.story).order_by(items_t.c.first_seen))).all()
        # Further sources: feeds that joined after the alert, not before it.
        before = {m.feed for m in members if m.first_seen <= row.created} | {first.item.feed}
        further = {m.feed for m in members if m.feed not in before}
        if len(further) >= thresholds[first.channel]:
            # The newest item carries it: (feed, item, rule, channel) is
            # free there, since the story's key kept that item from alerting.
            # It shows that item, and the story's other sources beside it.
            latest = replace(_item(members[-1]).item, story_id=row.story)
            beside = tuple(dict.fromkeys(m.feed for m in members if m.feed != latest.feed))
            # Not the first alert's backlog flag: a follow-up is news now.
            due.append(replace(first, item=latest, feed_title=latest.feed, id=0,
                               note=FOLLOW_UP, sources=beside, backlog=False))
    return due


async def recent(conn: AsyncConnection, since: float, rule: str | None) -> list[Story]:
    """The stories with an item first seen since `since` (of those `rule`
    alerted, with a rule), newest first."""
    items = [i for i in await window(conn, since) if i.item.story_id]
    alerted: dict[str, list[tuple[str, str]]] = {}
    ids = sorted({i.item.story_id or "" for i in items})
    for chunk in chunks(ids):
        query = sa.select(alerts_t.c.story, alerts_t.c.rule, alerts_t.c.channel).where(
            alerts_t.c.story.in_(chunk)).order_by(alerts_t.c.id)
        for row in (await conn.execute(query)).all():
            alerted.setdefault(row.story, []).append((row.rule, row.channel))
    grouped: dict[str, list[StoredItem]] = {}
    for stored in items:
        grouped.setdefault(stored.item.story_id or "", []).append(stored)
    found = [Story(sid, tuple(members), tuple(alerted.get(sid, ())))
             for sid, members in grouped.items()]
    if rule is not None:
        found = [s for s in found if any(r == rule for r, _ in s.alerted)]
    return sorted(found, key=lambda s: s.items[-1].first_seen, reverse=True)
