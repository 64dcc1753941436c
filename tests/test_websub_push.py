"""A body a WebSub hub pushes while a poll of its feed is under way (issue
18): the push records its items and alerts, and leaves the feed's row to the
poll (the claim, the schedule, the validators), here or in another
instance. A real loopback server, a real SQLite file (tests.test_pipeline's
world)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from monitor.poll.pipeline import push_feed
from monitor.store import Store
from tests.loopback import LoopbackServer
from tests.test_pipeline import INTERVAL, later, open_world, rss


async def test_a_push_leaves_a_poll_under_way_its_claim(server: LoopbackServer,
                                                        tmp_path: Path) -> None:
    w = await open_world(server, tmp_path, {"f": "/f.xml"})
    try:
        server.route("/f.xml", body=rss("g1"), etag='"v1"')
        assert (await w.poll("f")).result == "new"
        # Another instance claims the feed for its poll, which is under way.
        w.clock.advance(INTERVAL)
        other = await Store.open(w.ctx.settings.monitor.database, instance="other")
        try:
            assert [f.name for f in await other.due_feeds(later(INTERVAL), ["f"], 60)] == ["f"]
        finally:
            await other.close()
        feed = w.ctx.settings.feed("f")
        assert feed is not None
        outcome = await push_feed(w.ctx, feed, await w.state("f"), rss("g1", "g2"), {})
        assert (outcome.result, outcome.new_items, outcome.alerts) == ("new", 1, 1)
        database = w.ctx.settings.monitor.database.removeprefix("sqlite:///")
        with sqlite3.connect(database) as conn:
            row = conn.execute("SELECT claimed_by, next_poll, etag, items_seen "
                               "FROM feeds WHERE name = 'f'").fetchone()
        # The claim and its lease hold: no second poll starts elsewhere.
        assert row == ("other", later(INTERVAL) + 60, '"v1"', 2)
    finally:
        for close in w.closers:
            await close()
