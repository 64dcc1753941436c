"""`newsmonitor requeue` and `newsmonitor poll-now`: an operator's way back
after a long outage or a feed that returned, through the real CLI, a
loopback feed server and webhook receiver, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.cli import main
from monitor.models import Alert, FeedState, Item, Match, TermHit
from monitor.store import Store
from tests import configs
from tests.loopback import LoopbackServer
from tests.servers import rss
from tests.test_e2e import AMPERE, OTHER, run_once, write_config


def status(config: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    capsys.readouterr()
    assert main(["status", "--json", "--config", str(config)]) == 0
    feeds: list[dict[str, object]] = json.loads(capsys.readouterr().out)["feeds"]
    return feeds[0]


def test_poll_now_brings_back_a_feed_disabled_by_410(
        tmp_path: Path, feed: LoopbackServer, receiver: LoopbackServer, database_url: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    feed.route("/feed.xml", status=410)
    config = write_config(tmp_path, f"{feed.base_url}/feed.xml",
                          {"hook": receiver.webhook("/hook")},
                          database_url, alert_existing=True)
    assert run_once(config) == 0
    assert status(config, capsys)["disabled"]

    feed.route("/feed.xml", body=rss([AMPERE, OTHER]))  # the publisher restored it
    assert run_once(config) == 0
    assert len(feed.gets("/feed.xml")) == 1 and receiver.posts() == []  # still disabled

    capsys.readouterr()
    assert main(["poll-now", "test feed", "--config", str(config)]) == 0
    assert capsys.readouterr().out == "1 feeds due now: test feed\n"
    assert run_once(config) == 0
    assert [p["title"] for p in receiver.posts()] == [
        "[newsmonitor] ampere: Renault va liquider sa filiale Ampère"]
    assert not status(config, capsys)["disabled"]


async def _next_poll(database: str) -> float:
    store = await Store.open(database)
    try:
        states = await store.feeds()
        return states[0].next_poll
    finally:
        await store.close()


def test_poll_now_makes_a_feed_in_backoff_due(
        tmp_path: Path, feed: LoopbackServer, receiver: LoopbackServer,
        capsys: pytest.CaptureFixture[str]) -> None:
    feed.route("/feed.xml", status=500)
    config = write_config(tmp_path, f"{feed.base_url}/feed.xml",
                          {"hook": receiver.webhook("/hook")})
    assert run_once(config) == 0
    database = str(tmp_path / "state.sqlite3")
    assert asyncio.run(_next_poll(database)) > time.time() + 10  # backing off
    before = time.time()
    capsys.readouterr()
    assert main(["poll-now", "--config", str(config)]) == 0  # no name: every feed
    assert capsys.readouterr().out == "1 feeds due now: test feed\n"
    assert before <= asyncio.run(_next_poll(database)) <= time.time()


def test_poll_now_without_names_leaves_a_gone_feed_disabled(
        tmp_path: Path, feed: LoopbackServer, capsys: pytest.CaptureFixture[str]) -> None:
    feed.route("/feed.xml", status=410)
    config = write_config(tmp_path, f"{feed.base_url}/feed.xml", {"hook": "json://127.0.0.1:9/h"})
    assert run_once(config) == 0
    capsys.readouterr()
    assert main(["poll-now", "--config", str(config)]) == 0
    assert capsys.readouterr().out == "0 feeds due now\n"
    assert status(config, capsys)["disabled"]
    config.write_text(config.read_text(encoding="utf-8").replace(
        'name = "test feed"', 'name = "test feed"\nenabled = false'), encoding="utf-8")
    assert main(["poll-now", "test feed", "--config", str(config)]) == 1
    assert "feed 'test feed' has enabled = false in the config" in capsys.readouterr().err


def test_poll_now_names_an_unknown_feed(tmp_path: Path, feed: LoopbackServer,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, f"{feed.base_url}/feed.xml", {"hook": "json://127.0.0.1:9/h"})
    assert main(["poll-now", "Le Monde", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "poll-now: unknown feed 'Le Monde'" in err and "known feeds: test feed" in err


async def _states(database: str) -> dict[str, FeedState]:
    store = await Store.open(database)
    try:
        return {state.name: state for state in await store.feeds()}
    finally:
        await store.close()


def test_poll_now_tells_which_feeds_their_hosts_retry_after_holds(
        tmp_path: Path, feed: LoopbackServer, receiver: LoopbackServer,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A 503 with Retry-After holds its host, every feed of it, and the
    daemon skips them till then: poll-now counted them due now, and a
    restarted daemon asked before the server's time. It says which are
    held and until when (in [monitor] timezone), and makes them due then;
    a feed of another host in backoff is due now."""
    feed.route("/a.xml", status=503, headers={"Retry-After": "3600"})
    feed.route("/b.xml", body=rss([OTHER]))
    receiver.route("/c.xml", status=500)
    database = tmp_path / "state.sqlite3"
    config = configs.write(
        tmp_path, monitor={"database": database, "timezone": "Europe/Paris",
                           "default_channels": ["hook"]},
        channels={"hook": receiver.webhook("/hook")},
        feeds=[{"name": "a", "url": feed.url("/a.xml")}, {"name": "b", "url": feed.url("/b.xml")},
               {"name": "c", "url": receiver.url("/c.xml")}], rules=[configs.NEVER])
    assert run_once(config) == 0
    before = asyncio.run(_states(str(database)))
    assert (before["a"].pace, before["a"].last_status) == ("Retry-After", 503)
    hold = before["a"].next_poll
    assert hold > time.time() + 3000
    until = datetime.fromtimestamp(hold, ZoneInfo("Europe/Paris")).strftime("%Y-%m-%d %H:%M:%S")
    held = f"held by its host's Retry-After until {until} (Europe/Paris); polled then"

    capsys.readouterr()
    assert main(["poll-now", "--config", str(config)]) == 0
    assert capsys.readouterr().out == f"1 feeds due now: c\na: {held}\nb: {held}\n"
    after = asyncio.run(_states(str(database)))
    assert after["a"].next_poll == after["b"].next_poll == hold
    assert after["c"].next_poll <= time.time()
    assert main(["poll-now", "b", "--config", str(config)]) == 0
    assert capsys.readouterr().out == f"0 feeds due now\nb: {held}\n"


async def _dead_alert(database: str, channel: str) -> None:
    store = await Store.open(database)
    try:
        item = Item(feed="test feed", id="x1", title="Ampère : la liquidation confirmée",
                    link="https://example.org/x1")
        alert = Alert(item, Match("ampere", 100, (TermHit("Ampere", "Ampère", "title", 100),)),
                      channel, "test feed")
        ids = await store.queue_alerts([alert], time.time() - 3 * 86400)
        await store.mark_failed(ids, "HTTP 500 for two days", time.time() - 86400, None)
    finally:
        await store.close()


def test_requeue_sends_dead_alerts_once_more(
        tmp_path: Path, feed: LoopbackServer, receiver: LoopbackServer, database_url: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    feed.route("/feed.xml", body=rss([OTHER]))
    config = write_config(tmp_path, f"{feed.base_url}/feed.xml",
                          {"hook": receiver.webhook("/hook")}, database_url)
    assert run_once(config) == 0
    asyncio.run(_dead_alert(database_url, "hook"))
    assert run_once(config) == 0
    assert receiver.posts() == []  # dead alerts are not retried on their own

    capsys.readouterr()
    # A channel no alert has and no config names is a typo, not "0 requeued".
    assert main(["requeue", "--channel", "other", "--config", str(config)]) == 1
    assert "requeue: unknown channel 'other'; known: hook" in capsys.readouterr().err
    assert main(["requeue", "--channel", "hook", "--config", str(config)]) == 0
    assert capsys.readouterr().out == "1 dead alerts back in the outbox\n"
    assert run_once(config) == 0
    assert [p["title"] for p in receiver.posts()] == [
        "[newsmonitor] ampere: Ampère : la liquidation confirmée"]
    assert run_once(config) == 0
    assert main(["requeue", "--config", str(config)]) == 0
    assert capsys.readouterr().out.endswith("0 dead alerts back in the outbox\n")
    assert len(receiver.posts()) == 1
