"""Several instances on one database (store/instances.py): heartbeats, the
claims of a dead instance released at once, leases renewed while the work
runs, a channel claimed whole, jobs done once per period. Real SQLite and
real PostgreSQL; the daemons themselves in test_scaleout.py."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.models import Alert, Item, Match, Priority, TermHit
from monitor.store import Instance, Store

NOW = 1_800_000_000.0


def alert(i: str, channel: str = "mail") -> Alert:
    item = Item(feed="f", id=i, title=f"Ampère {i}", summary="s", link=f"https://x/{i}")
    return Alert(item, Match("r", 90, (TermHit("Ampere", "Ampère", "title", 100),)),
                 channel, feed_title="Feed", priority=Priority.NORMAL)


def me(name: str, at: float) -> Instance:
    return Instance(name, "host", 1, NOW, at)


async def two(url: str) -> tuple[Store, Store]:
    a = await Store.open(url, instance="a")
    b = await Store.open(url, instance="b")
    await a.sync_feeds([(n, f"https://x/{n}", 900.0, NOW) for n in ("f", "g")])
    return a, b


async def test_a_dead_instances_claims_are_released_at_once(database_url: str) -> None:
    a, b = await two(database_url)
    try:
        await a.cluster.heartbeat(me("a", NOW), [], NOW + 60, 30)
        await b.cluster.heartbeat(me("b", NOW), [], NOW + 60, 30)
        assert [f.name for f in await a.due_feeds(NOW, ["f"], 60)] == ["f"]
        state = (await a.due_feeds(NOW, ["g"], 60))[0]
        await a.record_items(state, [], [alert("x")], NOW)
        assert len(await a.claim_due_alerts(NOW, 60)) == 1
        held = {i.id: (i.feeds, i.alerts) for i in await b.cluster.instances()}
        assert held == {"a": (("f",), 1), "b": ((), 0)}
        # a falls silent; b's heartbeats within the timeout release nothing.
        assert await b.cluster.heartbeat(me("b", NOW + 30), [], NOW + 90, 30) == []
        assert await b.due_feeds(NOW + 30, ["f"], 60) == []
        # Past it, the first heartbeat of b frees a's feed and alert at once,
        # long before their leases (NOW + 60) run out.
        await b.poll_now(["g"], NOW + 5)  # due after a was last heard of
        assert await b.cluster.heartbeat(me("b", NOW + 31), [], NOW + 91, 30) == ["a"]
        # a's feed has waited since a was last heard of: it goes first.
        assert [f.name for f in await b.due_feeds(NOW + 31, ["f", "g"], 60, 1)] == ["f"]
        assert len(await b.claim_due_alerts(NOW + 31, 60)) == 1
        assert [i.id for i in await b.cluster.instances()] == ["b"]
    finally:
        await a.close()
        await b.close()


async def test_a_slow_poll_or_send_keeps_its_claim_while_its_instance_lives(
        database_url: str) -> None:
    a, b = await two(database_url)
    try:
        await a.due_feeds(NOW, ["f"], 10)
        state = (await a.due_feeds(NOW, ["g"], 10))[0]
        await a.record_items(state, [], [alert("x")], NOW)
        await a.claim_due_alerts(NOW, 10)
        for t in range(5, 60, 5):  # a poll of "f" and a send running for a minute
            await a.cluster.heartbeat(me("a", NOW + t), ["f"], NOW + t + 10, 30)
            assert await b.due_feeds(NOW + t + 1, ["f"], 10) == []
            assert await b.claim_due_alerts(NOW + t + 1, 10) == []
        # Saved: the claim ends with the poll, and is no longer renewed.
        await a.save_feed((await a.feeds(["f"]))[0])
        await a.cluster.heartbeat(me("a", NOW + 60), ["g"], NOW + 70, 30)
        assert (await a.cluster.instances())[0].feeds == ()
    finally:
        await a.close()
        await b.close()


async def test_a_channel_is_claimed_whole(database_url: str) -> None:
    """While one instance holds some of a channel's alerts, no other takes
    the channel's new ones: one instance plans its digest, in order."""
    a, b = await two(database_url)
    try:
        state = (await a.due_feeds(NOW, ["f"], 60))[0]
        await a.record_items(state, [], [alert("x"), alert("y", "chat")], NOW)
        assert len(await a.claim_due_alerts(NOW, 60)) == 2
        await a.queue_alerts([alert("z"), alert("w", "other")], NOW + 1)
        assert [s.alert.channel for s in await b.claim_due_alerts(NOW + 1, 60)] == ["other"]
        assert await b.claim_due_alerts(NOW + 61, 60) != []  # the lease ran out
    finally:
        await a.close()
        await b.close()


async def test_a_job_runs_once_per_period_across_instances(database_url: str) -> None:
    a, b = await two(database_url)
    try:
        claims = await asyncio.gather(*(s.cluster.claim_job("retention", "2026-11-30", NOW)
                                        for s in (a, b, a, b)))
        assert sorted(claims) == [False, False, False, True]
        assert await b.cluster.claim_job("retention", "2026-12-01", NOW) is True
        assert await a.cluster.claim_job("retention", "2026-12-01", NOW) is False
    finally:
        await a.close()
        await b.close()


async def test_a_sweep_runs_once_per_interval_across_instances(database_url: str) -> None:
    a, b = await two(database_url)
    try:
        claims = await asyncio.gather(*(s.cluster.claim_every("outage sweep", NOW, 3600)
                                        for s in (a, b, a, b)))
        assert sorted(claims) == [False, False, False, True]
        assert await a.cluster.claim_every("outage sweep", NOW + 3599, 3600) is False
        assert await b.cluster.claim_every("outage sweep", NOW + 3600, 3600) is True
        assert await a.cluster.claim_every("outage sweep", NOW + 3601, 3600) is False
    finally:
        await a.close()
        await b.close()


def test_status_lists_the_instances_and_what_each_holds(
        tmp_path: Path, pg_schema_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`status --json` and the table: each instance, live or dead (its
    heartbeat older than instance_timeout), the feeds it polls, the alerts
    it sends."""
    now = time.time()

    async def fill() -> None:
        a = await Store.open(pg_schema_url, instance="web-1")
        await a.sync_feeds([("f", "https://x/f", 900.0, now)])
        await a.due_feeds(now, ["f"], 60)
        await a.cluster.heartbeat(Instance("web-1", "web", 11, now - 60, now), ["f"],
                                  now + 60, 3600)
        await a.cluster.heartbeat(Instance("web-2", "web", 12, now - 60, now - 40), [],
                                  now + 60, 3600)
        await a.close()
    asyncio.run(fill())
    config = tmp_path / "monitor.toml"
    config.write_text(f'[monitor]\ndatabase = "{pg_schema_url}"\n'
                      'instance_timeout = "30s"\n', encoding="utf-8")
    assert main(["status", "--json", "--config", str(config)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [(i["id"], i["live"], i["feeds"], i["alerts_sending"])
            for i in report["instances"]] == [("web-1", True, ["f"], 0),
                                              ("web-2", False, [], 0)]
    assert main(["status", "--config", str(config)]) == 0
    table = capsys.readouterr().out
    assert "web-1" in table and "live" in table and "dead" in table
