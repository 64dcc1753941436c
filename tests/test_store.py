"""The store on both backends: dedup, the outbox written with the items,
delivery state, retention. Real SQLite file and real PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import replace
from pathlib import Path

import pytest

from monitor.errors import StoreError
from monitor.models import Alert, Item, Match, Priority, TermHit
from monitor.store import Store, views
from monitor.store.polls import KEEP, Poll

NOW = 1_800_000_000.0


def item(i: str) -> Item:
    return Item(feed="f", id=i, title=f"Ampère {i}", summary="s", link=f"https://x/{i}")


def alert(i: str, channel: str = "mail", rule: str = "r") -> Alert:
    return Alert(item(i), Match(rule, 90, (TermHit("Ampere", "Ampère", "title", 100),)),
                 channel, feed_title="Feed", priority=Priority.HIGH)


async def opened(url: str) -> Store:
    store = await Store.open(url)
    await store.sync_feeds([("f", "https://x/feed", 900.0, NOW)])
    return store


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """A store on both backends with feed "f" synced, closed after the test."""
    running = await opened(database_url)
    yield running
    await running.close()


async def test_items_and_alerts_are_recorded_once(store: Store) -> None:
    state = (await store.due_feeds(NOW, ["f"], 60))[0]
    ids, _ = await store.record_items(state, [item("a"), item("b")],
                                   [alert("a"), alert("a", "chat")], NOW)
    assert len(ids) == 2
    assert await store.unseen("f", ["a", "b", "c"]) == {"c"}
    # The same items again (a restart, a second instance): nothing new.
    assert (await store.record_items(state, [item("a")], [alert("a")], NOW + 1))[0] == []
    due = await store.claim_due_alerts(NOW, 60)
    assert [(d.alert.item.title, d.alert.channel, d.alert.priority) for d in due] == [
        ("Ampère a", "mail", Priority.HIGH), ("Ampère a", "chat", Priority.HIGH)]
    assert due[0].alert.match.hits[0].matched == "Ampère"


async def test_a_story_seen_in_another_feed_is_alerted_once(store: Store) -> None:
    """The same article in two section feeds (same clean link and title) is
    one alert per rule and channel; another rule, another channel, another
    title on the same link (a feed linking every item to its home page) or
    no link at all are alerted as before."""
    await store.sync_feeds([("f", "https://x/feed", 900.0, NOW),
                            ("g", "https://x/other", 900.0, NOW)])
    f, g = await store.due_feeds(NOW, ["f", "g"], 60)
    await store.record_items(f, [item("a")], [alert("a")], NOW)

    def in_g(i: str, title: str, link: str, rule: str = "r",
             channel: str = "mail") -> tuple[Item, Alert]:
        copy = replace(item(i), feed="g", title=title, link=link)
        return copy, replace(alert(i, channel, rule), item=copy)

    cases = [in_g("a", "AMPÈRE  a", "https://x/a"),        # the same story
             in_g("b", "Ampère a", "https://x/a", rule="other"),
             in_g("c", "Ampère a", "https://x/a", channel="chat"),
             in_g("d", "Ampère d", "https://x/a"),          # same link, other title
             in_g("e", "Ampère a", "")]                     # no link
    ids, _ = await store.record_items(g, [c[0] for c in cases], [c[1] for c in cases],
                                      NOW + 1)
    due = await store.claim_due_alerts(NOW + 1, 60)
    assert sorted((d.alert.item.feed, d.alert.item.id) for d in due) == [
        ("f", "a"), ("g", "b"), ("g", "c"), ("g", "d"), ("g", "e")]
    assert len(ids) == 4
    assert await store.unseen("g", ["a"]) == set()  # the item itself is recorded


async def test_claimed_feeds_are_not_due_twice(store: Store) -> None:
    assert [f.name for f in await store.due_feeds(NOW, ["f"], 60)] == ["f"]
    assert await store.due_feeds(NOW + 30, ["f"], 60) == []
    assert [f.name for f in await store.due_feeds(NOW + 61, ["f"], 60)] == ["f"]


async def test_delivery_state_and_retries(store: Store) -> None:
    state = (await store.due_feeds(NOW, ["f"], 60))[0]
    (first, second), _ = await store.record_items(state, [item("a"), item("b")],
                                             [alert("a"), alert("b")], NOW)
    await store.mark_failed([first], "HTTP 500", NOW, NOW + 30)
    assert [d.alert.id for d in await store.claim_due_alerts(NOW + 1, 60)] == [second]
    await store.release([second])
    retried = await store.claim_due_alerts(NOW + 30, 60)
    assert [d.alert.id for d in retried] == [first, second]
    await store.mark_sent([first, second], "mail", "digest", NOW + 31)
    await store.mark_failed([], "nothing", NOW, None)
    history = await store.history(channel="mail")
    assert {(h.state, h.attempts) for h in history} == {("sent", 2), ("sent", 1)}
    assert await store.sends_since("mail", NOW) == [NOW + 31]
    assert await store.outbox_counts() == {("mail", "sent"): 2}


async def test_prune_keeps_what_dedup_needs(store: Store) -> None:
    state = (await store.due_feeds(NOW, ["f"], 60))[0]
    from dataclasses import replace
    state = replace(state, last_success=NOW + 1000)
    await store.record_items(state, [item("old"), item("kept")], [alert("old")], NOW)
    # "kept" is still in the feed's document later; "old" is not.
    await store.record_items(state, [item("kept")], [], NOW + 1000)
    sent = await store.claim_due_alerts(NOW, 60)
    await store.mark_sent([sent[0].alert.id], "mail", "single", NOW)
    assert await store.prune(NOW + 500) == (1, 1)
    assert await store.unseen("f", ["old", "kept"]) == {"old"}


async def test_prune_keeps_items_of_a_feed_that_stopped_answering(
        store: Store) -> None:
    state = (await store.due_feeds(NOW, ["f"], 60))[0]
    from dataclasses import replace
    await store.record_items(replace(state, last_success=NOW), [item("a")], [], NOW)
    assert await store.prune(NOW + 10_000) == (0, 0)
    assert await store.unseen("f", ["a"]) == set()


@pytest.mark.parametrize("url", ["postgresql://nobody@127.0.0.1:1/none"])
async def test_unreachable_database_is_a_store_error(url: str) -> None:
    from monitor.errors import StoreError

    with pytest.raises(StoreError) as info:
        await Store.open(url)
    assert "nobody" not in str(info.value) or "password" not in str(info.value)


async def test_an_older_database_is_upgraded_in_place(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite3"
    store = await opened(str(path))
    state = (await store.due_feeds(NOW, ["f"], 60))[0]
    await store.record_items(state, [item("a")], [alert("a")], NOW)
    await store.close()
    with sqlite3.connect(path) as db:  # as the first release created it
        db.execute("ALTER TABLE alerts DROP COLUMN done_urls")
    with sqlite3.connect(path) as db:
        db.execute("DROP INDEX alerts_story_once")
        db.execute("ALTER TABLE alerts DROP COLUMN story")
    store = await Store.open(str(path))
    try:
        due = await store.claim_due_alerts(NOW, 60)
        assert [d.alert.item.id for d in due] == ["a"] and due[0].done_urls == frozenset()
        # The story index came with the upgrade: one story, two items, one alert.
        twins = [replace(alert(i), item=replace(item(i), link="https://x/z", title="Z"))
                 for i in ("b", "c")]
        ids, _ = await store.record_items(state, [t.item for t in twins], twins, NOW)
        assert len(ids) == 1
    finally:
        await store.close()


def _open_and_close(path: str, start_at: float) -> str:
    """In a process of its own: at `start_at`, open (and so upgrade) the
    store, and close it."""
    import asyncio
    import time

    time.sleep(max(start_at - time.time(), 0))

    async def go() -> None:
        await (await Store.open(path)).close()

    try:
        asyncio.run(go())
    except StoreError as exc:
        return str(exc)
    return "ok"


def test_processes_opening_an_older_database_at_once_all_succeed(tmp_path: Path) -> None:
    """The daemon starting while `status` runs: both upgrade the same file."""
    import asyncio
    import multiprocessing
    import sqlite3
    import time
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(3, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(abs, range(3)))  # the workers are up
        for round_ in range(6):
            path = tmp_path / f"old{round_}.sqlite3"
            asyncio.run(_open_and_close_here(str(path)))
            with sqlite3.connect(path) as db:  # as an older release left it
                db.execute("DROP INDEX alerts_story_once")
                db.execute("ALTER TABLE alerts DROP COLUMN story")
                db.execute("ALTER TABLE alerts DROP COLUMN first_failure")
            start_at = time.time() + 0.3  # all three together
            assert list(pool.map(_open_and_close, [str(path)] * 3, [start_at] * 3)) == [
                "ok"] * 3


async def _open_and_close_here(path: str) -> None:
    await (await Store.open(path)).close()


async def test_claimed_alerts_are_not_handed_out_twice(database_url: str) -> None:
    """Two delivery ticks (or instances) never get the same alert at once."""
    store, other = await opened(database_url), await Store.open(database_url)
    try:
        state = (await store.due_feeds(NOW, ["f"], 60))[0]
        ids, _ = await store.record_items(state, [item("a"), item("b")],
                                       [alert("a"), alert("b")], NOW)
        first = await store.claim_due_alerts(NOW, 60)
        assert [s.alert.id for s in first] == ids
        assert await other.claim_due_alerts(NOW + 1, 60) == []
        assert await other.claim_due_alerts(NOW + 1, 60, retry_now=True) == []
        await store.mark_sent([ids[0]], "mail", "single", NOW + 1)
        await store.release([ids[1]])
        assert [s.alert.id for s in await other.claim_due_alerts(NOW + 2, 60)] == [ids[1]]
        # A claim whose holder died expires with its lease.
        assert [s.alert.id for s in await store.claim_due_alerts(NOW + 63, 60)] == [ids[1]]
    finally:
        await store.close()
        await other.close()


async def test_a_feed_answering_304_for_months_keeps_its_items(store: Store) -> None:
    """Prune must not forget items whose feed has not been parsed since."""
    state = (await store.due_feeds(NOW, ["f"], 60))[0]
    await store.record_items(state, [item("a"), item("b")], [], NOW)
    assert await store.prune(NOW + 100 * 86400) == (0, 0)
    assert await store.unseen("f", ["a", "b"]) == set()


async def test_a_changed_url_starts_like_a_new_feed(store: Store) -> None:
    state = (await store.due_feeds(NOW, ["f"], 60))[0]
    await store.record_items(replace(state, polled_once=True, etag='"x"'), [item("a")],
                             [], NOW)
    await store.sync_feeds([("f", "https://elsewhere/feed", 900.0, NOW)])
    moved = await store.feed("f")
    assert moved is not None
    assert (moved.url, moved.polled_once, moved.etag) == ("https://elsewhere/feed",
                                                          False, None)
    # A poll that started before the change cannot write the old URL back.
    await store.save_feed(replace(state, failures=3))
    after = await store.feed("f")
    assert after is not None and (after.url, after.failures) == ("https://elsewhere/feed", 0)


async def test_polls_ending_together_share_a_transaction_and_fail_alone(
        database_url: str) -> None:
    """batch.GroupCommit: twelve polls recorded at once are all recorded;
    one whose write fails (an item without an id: NOT NULL) gets its
    StoreError, and neither its item nor its alert is written, while the
    others' are, alerts included."""
    store = await opened(database_url)
    names = [f"f{n}" for n in range(12)]
    await store.sync_feeds([(name, f"https://x/{name}", 900.0, NOW) for name in names])
    try:
        states = {s.name: s for s in await store.due_feeds(NOW, names, 60)}

        def poll(n: int) -> Awaitable[object]:
            mine = replace(item(f"i{n}"), feed=f"f{n}", id=None if n == 5 else f"i{n}")
            return store.record_items(states[f"f{n}"], [mine], [replace(alert(f"i{n}"), item=mine)],
                                      NOW, touched=["i0"])
        results = await asyncio.gather(*(poll(n) for n in range(12)), return_exceptions=True)
        assert [isinstance(r, StoreError) for r in results] == [n == 5 for n in range(12)]
        due = await store.claim_due_alerts(NOW, 60)
        assert sorted(d.alert.item.feed for d in due) == sorted(n for n in names if n != "f5")
        seen = {s.name: s.items_seen for s in await store.feeds(names)}
        assert seen == {name: int(name != "f5") for name in names}
    finally:
        await store.close()


async def test_quiet_polls_ending_together_are_written_in_bulk(database_url: str) -> None:
    """Polls with nothing new (a 304, the same body) go through one
    executemany per statement: each feed's state and poll are stored, its
    polls older than KEEP pruned, and a feed whose URL changed since its
    poll began keeps the new URL's state (as save_feed does)."""
    store = await opened(database_url)
    names = [f"q{n}" for n in range(30)]
    await store.sync_feeds([(name, f"https://x/{name}", 900.0, NOW) for name in names])
    try:
        states = {s.name: s for s in await store.due_feeds(NOW, names, 60)}
        old = Poll(NOW - KEEP - 1, "not_modified", 304, 0.1, 0, None)
        await asyncio.gather(*(store.record_items(states[n], [], [], NOW - KEEP - 1, poll=old)
                               for n in names))
        await store.sync_feeds([("q7", "https://x/moved", 900.0, NOW)])  # during the poll
        recorded = await asyncio.gather(*(store.record_items(
            replace(states[n], etag=f'"{n}"'), [], [], NOW,
            poll=Poll(NOW, "not_modified", 304, 0.2, 0, None)) for n in names))
        assert [(ids, s.etag) for ids, s in recorded] == [([], f'"{n}"') for n in names]
        stored = {s.name: s.etag for s in await store.feeds(names)}
        assert stored == {n: None if n == "q7" else f'"{n}"' for n in names}
        latest = await store.view(views.latest_polls, "q3", 10)
        assert [(p.at, p.latency) for p in latest] == [(NOW, 0.2)]  # the old one pruned
    finally:
        await store.close()


async def test_the_biggest_stories_are_those_most_feeds_reported(database_url: str) -> None:
    """The overview's panel (issue 16, now that stories exist): stories of
    the last 48 h reported by two feeds or more, most sources first; a story
    of one feed, or an older one, is not listed."""
    now = time.time()
    store = await Store.open(database_url)
    try:
        await store.sync_feeds([(f, f"https://{f}.example/rss", 900.0, now) for f in "abcd"])
        states = {s.name: s for s in await store.feeds()}
        placed = [("a", "s1", now - 60), ("b", "s1", now - 50), ("c", "s1", now - 40),
                  ("a", "s2", now - 30), ("d", "s2", now - 20), ("b", "s3", now - 10),
                  ("c", "s4", now - 3 * 86400), ("d", "s4", now - 3 * 86400)]
        for n, (feed, story, at) in enumerate(placed):
            item = Item(feed=feed, id=f"i{n}", title=f"<b>{story}</b> {n}",
                        link="javascript:alert(1)" if n == 0 else f"https://x/{n}",
                        story_id=story)
            await store.record_items(states[feed], [item], [], at)
        found = await store.view(views.biggest_stories, now - 48 * 3600, 10)
    finally:
        await store.close()
    assert [(s.id, s.sources) for s in found] == [("s1", ("a", "b", "c")), ("s2", ("a", "d"))]
