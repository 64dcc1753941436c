"""The items as kept for `rules backtest` and `rules explain --item ID`.

Each item's row (seen.py writes it in the poll's transaction) holds its
title, summary, link, published time, author and categories in columns, and
`texts`: zlib-compressed JSON of its content, and of its title, summary and
link in full where the columns cut them (seen.py's limits keep the columns
short for deduplication; a rule tried later must read what the daemon read).
Rows recorded before this upgrade have NULL there and give what they had.

`Archive` reads them back (`Store.archive`), each read its own short
transaction: `batches` streams the items of a window in key order, a batch
at a time, so that a backtest over 100,000 items holds only one batch.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.models import Item
from monitor.store.schema import alerts_t, chunks, dt, items_t

Run = Callable[[Callable[[AsyncConnection], Awaitable[Any]]], Awaitable[Any]]
TITLE, SUMMARY, LINK = 1000, 2000, 2000  # characters the columns keep (see seen.py)
LEVEL = 6  # zlib's default: a 3 KB article to about a third, at 20 MB/s and more


@dataclass(frozen=True, slots=True)
class Kept:
    """A stored item, when it was first seen, and the rules that alerted it."""

    item: Item
    first_seen: float
    alerted: frozenset[str] = frozenset()


def columns(item: Item) -> dict[str, Any]:
    """The item's kept columns, as seen.record and seen.revise write them."""
    overflow = {key: value for key, value, limit in (
        ("title", item.title, TITLE), ("summary", item.summary, SUMMARY),
        ("link", item.link, LINK)) if len(value) > limit}
    if item.content:
        overflow["content"] = item.content
    texts = (zlib.compress(json.dumps(overflow, ensure_ascii=False).encode("utf-8"), LEVEL)
             if overflow else None)
    return {"title": item.title[:TITLE], "summary": item.summary[:SUMMARY],
            "link": item.link[:LINK], "author": item.author,
            "categories": json.dumps(list(item.categories), ensure_ascii=False)
            if item.categories else None, "texts": texts}


def _item(row: Any) -> Item:
    full = json.loads(zlib.decompress(row.texts)) if getattr(row, "texts", None) else {}
    categories = getattr(row, "categories", None)
    return Item(feed=row.feed, id=row.item_id, title=full.get("title", row.title),
                summary=full.get("summary", row.summary or ""),
                link=full.get("link", row.link), published=dt(row.published),
                author=getattr(row, "author", None) or "",
                content=full.get("content", ""),
                categories=tuple(json.loads(categories)) if categories else (),
                story_id=row.story_id)


async def _present(conn: AsyncConnection) -> frozenset[str]:
    """The items' columns that this database has: a backtest opens the
    store read-only, without upgrading it, so an older database lacks some."""
    return await conn.run_sync(
        lambda sync: frozenset(c["name"] for c in sa.inspect(sync).get_columns("items")))


async def _alerted(conn: AsyncConnection, items: Sequence[Item]) -> dict[tuple[str, str], set[str]]:
    """(feed, item id) → the rules that alerted it (outbox rows, any state)."""
    found: dict[tuple[str, str], set[str]] = {}
    for feed in {i.feed for i in items}:
        ids = [i.id for i in items if i.feed == feed]
        for chunk in chunks(ids):
            rows = await conn.execute(sa.select(alerts_t.c.item_id, alerts_t.c.rule).where(
                alerts_t.c.feed == feed, alerts_t.c.item_id.in_(chunk)))
            for row in rows:
                found.setdefault((feed, row.item_id), set()).add(row.rule)
    return found


async def _kept(conn: AsyncConnection, rows: Sequence[Any]) -> list[Kept]:
    items = [_item(r) for r in rows]
    alerted = await _alerted(conn, items)
    return [Kept(i, r.first_seen, frozenset(alerted.get((i.feed, i.id), ())))
            for i, r in zip(items, rows, strict=True)]


class Archive:
    """The kept items of the store (`Store.archive`); `run` is Store._run."""

    def __init__(self, run: Run) -> None:
        self._run = run
        self._present: frozenset[str] | None = None

    async def _select(self, conn: AsyncConnection) -> sa.Select[Any]:
        if self._present is None:
            self._present = await _present(conn)
        return sa.select(*[c for c in items_t.columns if c.name in self._present])

    async def batches(self, since: float, feeds: Sequence[str] = (),
                      size: int = 1000) -> AsyncIterator[list[Kept]]:
        """The items first seen since `since` (of `feeds`, all when empty),
        `size` at a time, in the order of the primary key (feed, id), whose
        index each batch is read from by keyset, from where the last ended
        (first_seen has no index: an ORDER BY on it would sort the whole
        table for each batch). Each batch is its own transaction."""
        after: tuple[str, str] | None = None
        while True:
            batch = await self._batch(since, feeds, after, size)
            if not batch:
                return
            yield batch
            after = (batch[-1].item.feed, batch[-1].item.id)

    async def _batch(self, since: float, feeds: Sequence[str],
                     after: tuple[str, str] | None, size: int) -> list[Kept]:
        async def go(conn: AsyncConnection) -> list[Kept]:
            key = (items_t.c.feed, items_t.c.item_id)
            query = (await self._select(conn)).where(items_t.c.first_seen >= since)
            if feeds:
                query = query.where(items_t.c.feed.in_(list(feeds)))
            if after is not None:
                query = query.where(sa.tuple_(*key) > sa.tuple_(*map(sa.literal, after)))
            rows = (await conn.execute(query.order_by(*key).limit(size))).all()
            return await _kept(conn, rows)
        result: list[Kept] = await self._run(go)
        return result

    async def find(self, item_id: str, feed: str | None = None) -> list[Kept]:
        """The stored items with this id (in `feed` only, when given): an
        id is unique within its feed, not across feeds."""
        async def go(conn: AsyncConnection) -> list[Kept]:
            query = (await self._select(conn)).where(items_t.c.item_id == item_id)
            if feed is not None:
                query = query.where(items_t.c.feed == feed)
            rows = (await conn.execute(query.order_by(items_t.c.feed))).all()
            return await _kept(conn, rows)
        result: list[Kept] = await self._run(go)
        return result
    async def size(self) -> tuple[int, int | None]:
        """How many items are kept, and the bytes the database takes (the
        SQLite file without its log; PostgreSQL: the items table with its
        indexes and TOAST), for the bench's bytes per item."""
        async def go(conn: AsyncConnection) -> tuple[int, int | None]:
            count = (await conn.execute(sa.select(sa.func.count()).select_from(items_t))).scalar()
            if conn.dialect.name == "postgresql":
                used = await conn.execute(sa.text("SELECT pg_total_relation_size('items')"))
            else:
                used = await conn.execute(sa.text(
                    "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"))
            return int(count or 0), used.scalar()
        result: tuple[int, int | None] = await self._run(go)
        return result
