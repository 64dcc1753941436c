"""Seen items: which ids each feed has already listed (deduplication).

An item's row is written the first time a parse lists it (`record`) and its
`last_seen` moved at every later parse that lists it again (`touch`):
retention keeps an item while it may still appear in its feed (see
retention.py). Each function runs in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.models import Item
from monitor.store.archive import SUMMARY, TITLE, columns
from monitor.store.schema import chunks, items_t, ts

# The statements of the poll path, built once: SQLAlchemy caches a
# statement's compiled form, but building the statement and computing its
# cache key on every call cost more than SQLite's own work for 50 items.
# Values come as bound parameters at execution.
_UNSEEN = sa.select(items_t.c.item_id).where(
    items_t.c.feed == sa.bindparam("b_feed"),
    items_t.c.item_id.in_(sa.bindparam("b_ids", expanding=True)))
_TOUCH = items_t.update().where(
    items_t.c.feed == sa.bindparam("b_feed"),
    items_t.c.item_id.in_(sa.bindparam("b_ids", expanding=True)),
).values(last_seen=sa.bindparam("b_now"))
# One per dialect: ON CONFLICT is the dialect's own. RETURNING, not
# rowcount: drivers disagree on rowcount for ON CONFLICT.
_INSERT_PG = postgresql.insert(items_t).on_conflict_do_nothing().returning(items_t.c.item_id)
_INSERT_SQLITE = sqlite.insert(items_t).on_conflict_do_nothing().returning(items_t.c.item_id)


async def unseen(conn: AsyncConnection, feed: str, item_ids: Sequence[str],
                 texts: Mapping[str, tuple[str, str]] | None = None) -> set[str]:
    """The ids among `item_ids` that this feed has never recorded; with
    `texts` (id → its title and summary now), also those recorded with
    another text (a publisher's edit, which the poll must parse to see)."""
    seen: set[str] = set()
    for chunk in chunks(list(item_ids)):
        if texts is None:
            rows = await conn.execute(_UNSEEN, {"b_feed": feed, "b_ids": chunk})
            seen.update(r.item_id for r in rows)
            continue
        rows = await conn.execute(sa.select(
            items_t.c.item_id, items_t.c.title, items_t.c.summary).where(
            items_t.c.feed == feed, items_t.c.item_id.in_(chunk)))
        seen.update(r.item_id for r in rows if _same(r, texts.get(r.item_id)))
    return set(item_ids) - seen


def _same(row: Any, text: tuple[str, str] | None) -> bool:
    """Whether a stored item still reads `text` (stored before summaries
    were kept, its summary is not compared)."""
    if text is None:
        return True
    title, summary = text
    return bool(row.title == title[:TITLE] and row.summary in (None, summary[:SUMMARY]))


async def record(conn: AsyncConnection, feed: str, items: Sequence[Item],
                 now: float) -> set[str]:
    """Record the items of `items` this feed had not recorded yet (a
    concurrent instance may have recorded some first); returns their ids."""
    if not items:
        return set()
    # With what `rules backtest` reads back (archive.columns): the poll's
    # transaction keeps the item as the daemon matched it.
    rows = [{"feed": feed, "item_id": item.id, "published": ts(item.published),
             "first_seen": now, "last_seen": now, "story_id": item.story_id,
             **columns(item)} for item in items]
    # One executemany; SQLAlchemy batches it into multi-row INSERTs
    # ("insertmanyvalues") on SQLite and psycopg alike.
    insert_ = _INSERT_PG if conn.dialect.name == "postgresql" else _INSERT_SQLITE
    result = await conn.execute(insert_, rows)
    return {row.item_id for row in result}


async def touch(conn: AsyncConnection, feed: str, ids: Sequence[str], now: float) -> None:
    """Items still present in the document: dedup still needs them (see retention)."""
    for chunk in chunks(list(ids)):
        await conn.execute(_TOUCH, {"b_feed": feed, "b_ids": chunk, "b_now": now})


async def edited(conn: AsyncConnection, feed: str, items: Sequence[Item]) -> list[Item]:
    """The items of `items` whose title or summary changed since recorded,
    each with its stored story. An item recorded before summaries were kept
    (NULL) is compared by title only."""
    known = {item.id: item for item in items}
    found: list[Item] = []
    for chunk in chunks(list(known)):
        rows = await conn.execute(sa.select(
            items_t.c.item_id, items_t.c.title, items_t.c.summary, items_t.c.story_id).where(
            items_t.c.feed == feed, items_t.c.item_id.in_(chunk)))
        for row in rows:
            item = known[row.item_id]
            if (row.title != item.title[:TITLE]
                    or row.summary not in (None, item.summary[:SUMMARY])):
                found.append(replace(item, story_id=row.story_id))
    return found


async def revise(conn: AsyncConnection, feed: str, items: Sequence[Item]) -> None:
    """Edited items: their new text, so that the edit is told once."""
    for item in items:
        await conn.execute(items_t.update().where(
            items_t.c.feed == feed, items_t.c.item_id == item.id).values(
            **columns(item)))
