"""The items the store keeps for `rules backtest` (store/archive.py), on both
backends: whole (content compressed, what the columns cut kept in full),
streamed in bounded batches, read-only, pruned with retention, and an older
database's items read as they were before and after its upgrade."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from monitor.errors import StoreError
from monitor.models import Alert, Item, Match, TermHit
from monitor.store import Kept, Store, open_readonly
from monitor.store.schema import engine_url

NOW = 1_800_000_000.0
ARTICLE = ("Le constructeur a confirmé la liquidation de sa filiale Ampère. "
           "Luc Julia, directeur scientifique, quitte le groupe. ") * 40


def item(n: int, feed: str = "f", **fields: object) -> Item:
    """Items with words of their own (near-identical titles are one story)."""
    words = ["Cléon", "Douai", "Maubeuge", "Flins", "Sandouville", "Batilly", "Ruitz"]
    made = Item(feed=feed, id=f"{feed}-{n}", title=f"{words[n % 7]} usine numéro {n} {feed}",
                summary=f"Résumé {n} de l'article sur {words[(n + 3) % 7]}",
                link=f"https://example.org/{feed}/{n}",
                published=datetime(2026, 11, 26, 7, n % 60, tzinfo=UTC))
    return replace(made, **fields)  # type: ignore[arg-type]


WHOLE = [
    item(1, author="Rédaction", categories=("Économie", "Automobile"), content=ARTICLE),
    item(2, title="T" * 1500, summary="Résumé très long. " * 300, link="https://x/" + "a" * 2500),
    item(3, content="Texte avec \u00ad trait d’union et espaces\u202finsécables"),
    item(4),
]


async def feeds(store: Store, *names: str) -> None:
    await store.sync_feeds([(n, f"https://x/{n}", 900.0, NOW) for n in names])


async def record(store: Store, items: list[Item], now: float,
                 alerts: list[Alert] = ()) -> None:  # type: ignore[assignment]
    state = await store.feed(items[0].feed)
    assert state is not None
    await store.record_items(state, items, alerts, now)


async def kept(url: str, since: float = 0.0, **options: object) -> list[Kept]:
    store = await open_readonly(url)
    try:
        return [k async for batch in store.archive.batches(since, **options)  # type: ignore[arg-type]
                for k in batch]
    finally:
        await store.close()


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    running = await Store.open(database_url)
    await feeds(running, "f", "g", "h")
    yield running
    await running.close()


async def test_items_are_kept_whole(store: Store, database_url: str) -> None:
    await record(store, WHOLE, NOW)
    found = {k.item.id: k.item for k in await kept(database_url)}
    assert found == {i.id: i for i in WHOLE}
    # Compare every field, story_id aside (Item equality leaves it out on purpose).
    assert [found[i.id].content for i in WHOLE] == [i.content for i in WHOLE]
    without = {k.item.id: k.item for k in await kept(database_url, content=False)}
    assert without == {i.id: replace(i, content="") for i in WHOLE}


async def test_batches_are_bounded_and_cover_the_window_once(
        store: Store, database_url: str) -> None:
    early = [item(n, feed) for feed in ("f", "g") for n in range(7)]
    late = [item(n, feed) for feed in ("g", "h") for n in range(7, 12)]
    for feed in ("f", "g"):
        await record(store, [i for i in early if i.feed == feed], NOW)
    for feed in ("g", "h"):
        await record(store, [i for i in late if i.feed == feed], NOW + 3600)
    reader = await open_readonly(database_url)
    try:
        sizes, ids = [], []
        async for batch in reader.archive.batches(0.0, size=4):
            sizes.append(len(batch))
            ids += [k.item.id for k in batch]
    finally:
        await reader.close()
    assert max(sizes) == 4 and sorted(ids) == sorted(i.id for i in early + late)
    assert len(ids) == len(set(ids))
    assert {k.item.id for k in await kept(database_url, NOW + 1)} == {i.id for i in late}
    assert ({k.item.id for k in await kept(database_url, feeds=["f", "h"])}
            == {i.id for i in early + late if i.feed != "g"})


async def test_an_alerted_item_names_its_rules(store: Store, database_url: str) -> None:
    items = [item(1), item(2)]
    hit = (TermHit("Cleon", "Cléon", "title", 100),)
    alerts = [Alert(items[0], Match(rule, 90, hit), channel)
              for rule, channel in (("cleon", "mail"), ("cleon", "chat"), ("usines", "mail"))]
    await record(store, items, NOW, alerts)
    assert {k.item.id: k.alerted for k in await kept(database_url)} == {
        "f-1": frozenset({"cleon", "usines"}), "f-2": frozenset()}


async def test_the_readonly_store_refuses_every_write(store: Store, database_url: str) -> None:
    await record(store, [item(1)], NOW)
    reader = await open_readonly(database_url)
    try:
        state = await reader.feed("f")
        assert state is not None
        with pytest.raises(StoreError, match=r"read-only|readonly"):
            await reader.save_feed(replace(state, failures=3))
    finally:
        await reader.close()
    assert (await store.feed("f")) == state


async def test_a_missing_sqlite_file_is_not_created(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "none" / "state.sqlite3"
    with pytest.raises(StoreError, match="no database at"):
        await open_readonly(str(path))
    assert not path.parent.exists()


async def test_retention_forgets_kept_items_with_the_rest(
        store: Store, database_url: str) -> None:
    await record(store, [item(1, content=ARTICLE), item(2)], NOW)
    await record(store, [item(2)], NOW + 10_000)  # item 1 has left the feed
    assert await store.prune(NOW + 5_000) == (0, 1)
    assert [k.item.id for k in await kept(database_url)] == ["f-2"]


NEW_COLUMNS = ("author", "categories", "content", "overflow")


async def _drop_new_columns(url: str) -> None:
    """The items table as the release before this one created it."""
    engine = create_async_engine(engine_url(url))
    async with engine.begin() as conn:
        for column in NEW_COLUMNS:
            await conn.execute(sa.text(f"ALTER TABLE items DROP COLUMN {column}"))
    await engine.dispose()


async def _columns(url: str) -> set[str]:
    engine = create_async_engine(engine_url(url))
    async with engine.connect() as conn:
        names = await conn.run_sync(
            lambda sync: {c["name"] for c in sa.inspect(sync).get_columns("items")})
    await engine.dispose()
    return names


async def test_an_older_database_keeps_what_its_items_had(database_url: str) -> None:
    store = await Store.open(database_url)
    await feeds(store, "f")
    await store.close()
    await _drop_new_columns(database_url)
    store = await Store.open(database_url)  # the upgrade adds them back
    await store.close()
    await _drop_new_columns(database_url)
    # Recorded by the older release: a row without the new columns.
    engine = create_async_engine(engine_url(database_url))
    async with engine.begin() as conn:
        await conn.execute(sa.text(
            "INSERT INTO items (feed, item_id, title, link, published, first_seen, last_seen, "
            "summary) VALUES ('f', 'old', 'Cléon : l''usine ferme', 'https://x/old', NULL, "
            f"{NOW}, {NOW}, 'Un résumé')"))
    await engine.dispose()
    before = [k.item for k in await kept(database_url)]
    assert before == [Item("f", "old", "Cléon : l'usine ferme", "Un résumé", "https://x/old")]
    assert not set(NEW_COLUMNS) & await _columns(database_url)  # read-only: not upgraded
    store = await Store.open(database_url)
    try:
        await record(store, [WHOLE[0]], NOW + 60)
    finally:
        await store.close()
    assert set(NEW_COLUMNS) <= await _columns(database_url)
    after = {k.item.id: k.item for k in await kept(database_url)}
    assert after == {"old": before[0], WHOLE[0].id: WHOLE[0]}


async def test_an_edited_item_is_kept_as_edited(store: Store, database_url: str) -> None:
    """A publisher's edit (seen.revise, in the poll's transaction) replaces
    what is kept: a backtest reads the item as the daemon last matched it."""
    first = item(5, content="Première version de l'article.", categories=("Social",))
    await record(store, [first], NOW)
    edited = replace(first, title="Cléon : l'usine reprend le travail",
                     content=ARTICLE, categories=("Social", "Industrie"), author="AFP")
    state = await store.feed("f")
    assert state is not None
    await store.record_items(state, [edited], [], NOW + 60, edited=[edited])
    assert [k.item for k in await kept(database_url)] == [edited]
