"""The articles fetched for `fulltext` feeds (issue 13): each URL once.

One row per article URL: the feed that first asked for it, when, how it
ended (`outcome`: "ok", or the failure's category: robots, timeout, http,
too_large, redirect, extract, ...) and, when it was read, its main text,
zlib-compressed (an article's text is 2-20 kB and compresses to a third).
An article in the table is never fetched again (the issue's politeness):
a later item with the same link, in any feed, is matched on the stored text.
`counts` gives each feed's fetched and failed articles for `status`.
"""

from __future__ import annotations

import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.store.schema import chunks, metadata

articles_t = sa.Table(
    "articles", metadata,
    sa.Column("url", sa.String, primary_key=True),
    sa.Column("feed", sa.String, nullable=False),
    sa.Column("fetched", sa.Float, nullable=False),
    sa.Column("outcome", sa.String, nullable=False),
    sa.Column("error", sa.String),
    sa.Column("text", sa.LargeBinary),  # zlib of the UTF-8 text; NULL unless ok
    sa.Index("articles_feed", "feed", "outcome"),
)
Run = Callable[[Callable[[AsyncConnection], Awaitable[Any]]], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Article:
    """One article fetch as recorded; `text` is "" unless `outcome` is ok."""

    url: str
    outcome: str
    text: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


async def known(conn: AsyncConnection, urls: Sequence[str]) -> dict[str, Article]:
    """The articles of `urls` fetched before, by URL."""
    found: dict[str, Article] = {}
    t = articles_t.c
    for part in chunks(list(urls)):
        rows = await conn.execute(sa.select(t.url, t.outcome, t.text, t.error)
                                  .where(t.url.in_(part)))
        for url, outcome, text, error in rows:
            found[url] = Article(url, outcome, _text(text), error or "")
    return found


async def record(conn: AsyncConnection, feed: str, articles: Sequence[Article],
                 now: float) -> None:
    """Store `articles`; one fetched meanwhile by another instance stays as it was."""
    rows = [{"url": a.url, "feed": feed, "fetched": now, "outcome": a.outcome,
             "error": a.error or None,
             "text": zlib.compress(a.text.encode("utf-8")) if a.ok else None}
            for a in articles]
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    await conn.execute(dialect.insert(articles_t).on_conflict_do_nothing(), rows)


async def counts(conn: AsyncConnection) -> dict[str, dict[str, int]]:
    """feed → {"fetched": articles read, "failed": articles not read}."""
    t = articles_t.c
    ok = sa.case((t.outcome == "ok", 1), else_=0)
    rows = await conn.execute(sa.select(t.feed, sa.func.sum(ok), sa.func.count())
                              .group_by(t.feed))
    return {feed: {"fetched": int(good or 0), "failed": int(total - (good or 0))}
            for feed, good, total in rows}


def _text(blob: bytes | None) -> str:
    return zlib.decompress(blob).decode("utf-8") if blob else ""


class Articles:
    """The articles table through the store's transactions: `Store.articles`."""

    def __init__(self, run: Run) -> None:
        self._run = run

    async def known(self, urls: Sequence[str]) -> dict[str, Article]:
        found: dict[str, Article] = await self._run(lambda c: known(c, urls))
        return found

    async def record(self, feed: str, articles: Sequence[Article], now: float) -> None:
        await self._run(lambda c: record(c, feed, articles, now))

    async def counts(self) -> dict[str, dict[str, int]]:
        found: dict[str, dict[str, int]] = await self._run(counts)
        return found
