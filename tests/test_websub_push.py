"""A body a WebSub hub pushes while a poll of its feed is under way (issue
18): the push records its items and alerts, and leaves the feed's row to the
poll (the claim, the schedule, the validators), here or in another
instance. A real loopback server, a real SQLite file (tests.test_pipeline's
world)."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from monitor.poll.pipeline import push_feed
from monitor.poll.websub import HubLink
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


HUB = "https://hub.example/"
TOPIC = "https://news.example/self"


def rss_with_hub(*guids: str) -> bytes:
    """tests.test_pipeline.rss with the channel's hub and self links."""
    links = (f'<atom:link rel="hub" href="{HUB}"/>'
             f'<atom:link rel="self" href="{TOPIC}"/>')
    return rss(*guids).replace(
        b'<rss version="2.0"><channel>',
        f'<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>{links}'
        .encode())


@pytest.mark.parametrize("validators", ["etag", "none"])
async def test_the_hub_is_found_by_a_poll_that_parses_nothing(
        server: LoopbackServer, tmp_path: Path, validators: str) -> None:
    """A feed removed from the config is unsubscribed; added back, its next
    poll must find its hub though the body did not change (304, or the same
    bytes): the hub is remembered with the feed's state, not only read from
    a document parsed."""
    w = await open_world(server, tmp_path, {"f": "/f.xml"})
    try:
        server.route("/f.xml", body=rss_with_hub("g1"),
                     etag='"v1"' if validators == "etag" else None)
        link = HubLink(HUB, TOPIC)
        assert (await w.poll("f")).hub == link
        w.clock.advance(INTERVAL)
        outcome = await w.poll("f")
        assert (outcome.result, outcome.hub) == (
            "not_modified" if validators == "etag" else "unchanged", link)
        assert w.parses.jobs == 1
        state = await w.state("f")
        assert (state.hub, state.hub_topic) == (HUB, TOPIC)
    finally:
        for close in w.closers:
            await close()


async def test_a_hub_not_yet_remembered_is_learnt_at_the_next_poll(
        server: LoopbackServer, tmp_path: Path) -> None:
    """A feed polled before the hub was remembered (a database of an older
    version): its next poll asks without validators and parses, once."""
    w = await open_world(server, tmp_path, {"f": "/f.xml"})
    try:
        server.route("/f.xml", body=rss_with_hub("g1"), etag='"v1"')
        assert (await w.poll("f")).result == "new"
        await w.ctx.store.record_items(replace(await w.state("f"), hub=None, hub_topic=None),
                                       [], [], later(0))
        jobs = []
        for result in ("no_new_items", "not_modified"):
            w.clock.advance(INTERVAL)
            outcome = await w.poll("f")
            assert (outcome.result, outcome.hub) == (result, HubLink(HUB, TOPIC))
            jobs.append(w.parses.jobs)
        assert jobs[0] > 1 and jobs[1] == jobs[0]  # parsed once more, then not again
        assert server.gets("/f.xml")[1].headers.get("if-none-match") is None
        assert server.gets("/f.xml")[2].headers.get("if-none-match") == '"v1"'
    finally:
        for close in w.closers:
            await close()
