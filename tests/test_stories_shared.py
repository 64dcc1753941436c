"""Two instances on one database, each with its own story index (issues 12
and 15): an instance adopts the items the other recorded, with their
stories, so that its own later item of a story joins the same story id, and
the outbox's (story, rule, channel) key alerts the story once. A real store
(SQLite file and PostgreSQL), the real index."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.cli import main
from monitor.models import Item
from monitor.poll.stories import Stories
from monitor.store import Store
from monitor.stories import StorySettings
from tests import configs
from tests.daemon_proc import DaemonProcess
from tests.loopback import LoopbackServer
from tests.test_stories_flow import ECHOS, MONDE, rss

AT = datetime(2026, 3, 10, 9, tzinfo=UTC)
FIRST = "Renault va liquider sa filiale Ampère"
SECOND = "Renault liquide Ampère, sa filiale électrique"


async def test_an_instance_adopts_the_stories_another_recorded(database_url: str) -> None:
    a = await Store.open(database_url, instance="a")
    b = await Store.open(database_url, instance="b")
    try:
        await a.sync_feeds([(f, f"https://{f}.example/rss", 900.0, AT.timestamp())
                            for f in ("lemonde", "echos")])
        on_a, on_b, alone = (Stories(StorySettings()) for _ in range(3))
        await on_b.catch_up(b, AT)  # nothing recorded yet
        [first] = await on_a.attach([Item("lemonde", "1", FIRST, "", "https://lemonde.fr/1",
                                          published=AT)], AT)
        (state,) = await a.due_feeds(AT.timestamp(), ["lemonde"], 60)
        await a.record_items(state, [first], [], AT.timestamp())
        later = AT + timedelta(minutes=30)
        assert await on_b.catch_up(b, later) == 1
        second = Item("echos", "2", SECOND, "", "https://lesechos.fr/2", published=later)
        [joined] = await on_b.attach([second], later)
        [apart] = await alone.attach([second], later)  # an index that never caught up
        assert joined.story_id == first.story_id != apart.story_id
        # Caught up again: its own item, recorded meanwhile, is known: its
        # text is not read back, nor counted twice in the story.
        (state,) = await b.due_feeds(later.timestamp(), ["echos"], 60)
        await b.record_items(state, [joined], [], later.timestamp())
        assert await on_b.catch_up(b, later + timedelta(seconds=3)) == 0
        assert on_b.index.size(first.story_id or "") == 2
    finally:
        await a.close()
        await b.close()


def test_a_story_another_instance_alerted_does_not_alert_again(
        tmp_path: Path, feed: LoopbackServer, receiver: LoopbackServer,
        pg_schema_url: str) -> None:
    """Two daemons on one PostgreSQL database: b, running, polls Le Monde;
    a records Les Echos' report of a story and alerts it. Le Monde's report
    of the same story, a minute later, reaches b, whose index never saw
    the first: caught up, b files it in that story, and the story alerts
    once (without the catch-up, b opened a story of its own and alerted it
    again)."""
    def config(name: str, outlet: str, path: str) -> Path:
        (tmp_path / name).mkdir()
        return configs.write(
            tmp_path / name, monitor={"database": pg_schema_url, "interval": "1s",
                                      "instance": name},
            channels={"hook": receiver.webhook("/hook")},
            feeds=[{"name": outlet, "url": feed.url(path), "alert_existing": True}],
            rules=[{"name": "carrefour", "any": ["Carrefour"], "channels": ["hook"]}])
    feed.route("/echos.xml", body=rss(ECHOS))
    feed.route("/monde.xml", body=rss())
    b = DaemonProcess(config("b", "Le Monde", "/monde.xml"), tmp_path / "b")
    try:
        b.wait_notify("READY=1")
        assert main(["run", "--once", "--config", str(config("a", "Les Echos",
                                                             "/echos.xml"))]) == 0
        assert [p["title"] for p in receiver.posts()] == [f"[newsmonitor] carrefour: {ECHOS[1]}"]
        time.sleep(8)  # b catches up every 3 s: two chances, on a loaded machine too
        feed.route("/monde.xml", body=rss(MONDE))
        b.wait_log("new items feed=Le Monde new=1 alerts=0")
        time.sleep(3)  # b's delivery ticks: nothing to send
        assert len(receiver.posts()) == 1
    finally:
        b.close()
