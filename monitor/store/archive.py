"""The items as kept for `rules backtest` and `rules explain --item ID`.

Each item's row (seen.py writes it in the poll's transaction) holds its
title, summary, link, published time, author and categories in columns,
its content zlib-compressed, and `overflow`: zlib JSON of its title,
summary and link in full where the columns cut them (seen.py's limits keep
the columns short for deduplication; a rule tried later must read what the
daemon read). Rows recorded before these columns have NULL there, and give
what they had.

`Archive` reads them back (`Store.archive`), each read its own short
transaction: `batches` streams the items of a window in key order, a batch
at a time, so that a backtest over 100,000 items holds only one batch.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.models import Item
from monitor.store.schema import alerts_t, dt, items_t

Key = tuple[str, str]  # (feed, item id): the items' primary key
Span = tuple[Key | None, Key | None]  # keys after the first, up to the second (None: no end)
Run = Callable[[Callable[[AsyncConnection], Awaitable[Any]]], Awaitable[Any]]
TITLE, SUMMARY, LINK = 1000, 2000, 2000  # characters the columns keep (see seen.py)
LEVEL = 6  # zlib's default level (bench/backtest.py: about 2 KB per item in all)


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
    return {"title": item.title[:TITLE], "summary": item.summary[:SUMMARY],
            "link": item.link[:LINK], "author": item.author,
            "categories": json.dumps(list(item.categories), ensure_ascii=False)
            if item.categories else None,
            "content": _pack(item.content) if item.content else None,
            "overflow": _pack(json.dumps(overflow, ensure_ascii=False)) if overflow else None}


def _pack(text: str) -> bytes:
    return zlib.compress(text.encode("utf-8"), LEVEL)


def _unpack(data: bytes | None) -> str:
    return zlib.decompress(data).decode("utf-8") if data else ""


def _reader(keys: Sequence[str]) -> Callable[[Sequence[Any]], Item]:
    """Row (a tuple of `keys`, the columns `_select` chose) → Item; a column
    the database lacks (an older one, or content not asked for) reads as
    NULL. Positions looked up once per batch: this runs 100,000 times in a
    backtest."""
    at = {key: n for n, key in enumerate(keys)}
    pick = itemgetter(*[at.get(k, len(keys)) for k in _KEYS])  # len(keys): the None added

    def read(values: Sequence[Any]) -> Item:
        (feed, item_id, title, link, published, summary, story_id, author, categories,
         content, overflow) = pick(values)
        full = json.loads(_unpack(overflow)) if overflow else {}
        return Item(feed=feed, id=item_id, title=full.get("title", title),
                    summary=full.get("summary", summary or ""), link=full.get("link", link),
                    published=dt(published), author=author or "",
                    content=_unpack(content),
                    categories=tuple(json.loads(categories)) if categories else (),
                    story_id=story_id)
    return lambda row: read((*row, None))


_KEYS = ("feed", "item_id", "title", "link", "published", "summary", "story_id", "author",
         "categories", "content", "overflow")


async def _present(conn: AsyncConnection) -> frozenset[str]:
    """The items' columns that this database has: a backtest opens the
    store read-only, without upgrading it, so an older database lacks some."""
    return await conn.run_sync(
        lambda sync: frozenset(c["name"] for c in sa.inspect(sync).get_columns("items")))


async def _alerted(conn: AsyncConnection, items: Sequence[Item]
                   ) -> dict[tuple[str, str], set[str]]:
    """(feed, item id) → the rules that alerted it (outbox rows, any state).
    `items` are in key order: one range read of the outbox's unique index
    (feed, item_id, rule, channel) covers them."""
    found: dict[tuple[str, str], set[str]] = {}
    if not items:
        return found
    key = sa.tuple_(alerts_t.c.feed, alerts_t.c.item_id)
    first, last = items[0], items[-1]
    rows = await conn.execute(sa.select(alerts_t.c.feed, alerts_t.c.item_id, alerts_t.c.rule)
                              .where(key >= sa.tuple_(sa.literal(first.feed),
                                                      sa.literal(first.id)),
                                     key <= sa.tuple_(sa.literal(last.feed),
                                                      sa.literal(last.id))))
    for row in rows:
        found.setdefault((row.feed, row.item_id), set()).add(row.rule)
    return found


async def _kept(conn: AsyncConnection, query: sa.Select[Any]) -> list[Kept]:
    result = await conn.execute(query)
    keys = list(result.keys())
    rows = result.all()
    read, first_seen = _reader(keys), keys.index("first_seen")
    items = [read(r) for r in rows]
    alerted = await _alerted(conn, items)
    return [Kept(i, r[first_seen], frozenset(alerted.get((i.feed, i.id), ())))
            for i, r in zip(items, rows, strict=True)]


class Archive:
    """The kept items of the store (`Store.archive`); `run` is Store._run."""

    def __init__(self, run: Run) -> None:
        self._run = run
        self._present: frozenset[str] | None = None

    async def _select(self, conn: AsyncConnection, content: bool = True) -> sa.Select[Any]:
        if self._present is None:
            self._present = await _present(conn)
        return sa.select(*[c for c in items_t.columns if c.name in self._present
                           and (content or c.name != "content")])

    async def batches(self, since: float, feeds: Sequence[str] = (), size: int = 1000,
                      *, content: bool = True, span: Span = (None, None)
                      ) -> AsyncIterator[list[Kept]]:
        """The items first seen since `since` (of `feeds`, all when empty;
        with keys in `span`, see `split`), `size` at a time, in the order of
        the primary key (feed, id), whose index each batch is read from by
        keyset, from where the last ended (first_seen has no index: an
        ORDER BY on it would sort the whole table for each batch). Each
        batch is its own transaction. Without `content`, items come without
        theirs (when no rule reads it, it is neither read nor decompressed)."""
        after, until = span
        while True:
            batch = await self._batch(since, feeds, (after, until), size, content)
            if not batch:
                return
            yield batch
            after = (batch[-1].item.feed, batch[-1].item.id)

    async def _batch(self, since: float, feeds: Sequence[str], span: Span, size: int,
                     content: bool) -> list[Kept]:
        async def go(conn: AsyncConnection) -> list[Kept]:
            key = sa.tuple_(items_t.c.feed, items_t.c.item_id)
            query = (await self._select(conn, content)).where(items_t.c.first_seen >= since)
            if feeds:
                query = query.where(items_t.c.feed.in_(list(feeds)))
            after, until = span
            if after is not None:
                query = query.where(key > sa.tuple_(*map(sa.literal, after)))
            if until is not None:
                query = query.where(key <= sa.tuple_(*map(sa.literal, until)))
            return await _kept(conn, query.order_by(items_t.c.feed, items_t.c.item_id)
                               .limit(size))
        result: list[Kept] = await self._run(go)
        return result

    async def split(self, parts: int) -> list[Span]:
        """The items' keys cut into `parts` spans of about as many items
        (fewer spans when there are fewer items), for workers to read one
        each (`batches(span=...)`)."""
        async def go(conn: AsyncConnection) -> list[Key]:
            count = (await conn.execute(sa.select(sa.func.count()).select_from(items_t))).scalar()
            cuts: list[Key] = []
            for n in range(1, parts):
                row = (await conn.execute(sa.select(items_t.c.feed, items_t.c.item_id)
                                          .order_by(items_t.c.feed, items_t.c.item_id)
                                          .offset(int(count or 0) * n // parts).limit(1))).first()
                if row is not None and (not cuts or cuts[-1] != tuple(row)):
                    cuts.append((row.feed, row.item_id))
            return cuts
        cuts: list[Key] = await self._run(go)
        starts: list[Key | None] = [None, *cuts]
        ends: list[Key | None] = [*cuts, None]
        return list(zip(starts, ends, strict=True))

    async def find(self, item_id: str, feed: str | None = None) -> list[Kept]:
        """The stored items with this id (in `feed` only, when given): an
        id is unique within its feed, not across feeds."""
        async def go(conn: AsyncConnection) -> list[Kept]:
            query = (await self._select(conn)).where(items_t.c.item_id == item_id)
            if feed is not None:
                query = query.where(items_t.c.feed == feed)
            return await _kept(conn, query.order_by(items_t.c.feed))
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
