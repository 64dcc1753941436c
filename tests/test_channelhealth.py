"""Channel health: a channel whose sends all fail for longer than
`[monitor] channel_failing_after` raises one notice on the other admin
channels, a reminder at most daily, and one "recovered"; its state survives a
restart. The rules as a table (deliver/health.py), then through the outbox
with a real store and real webhook receivers."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.deliver import health
from monitor.deliver.health import Sent
from monitor.models import ChannelHealth
from monitor.render import Format, render_alert
from monitor.store import Store
from tests.loopback import LoopbackServer, loopback
from tests.test_delivery import Harness, alert

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
t0 = T0.timestamp()


@pytest.mark.parametrize(("state", "sent", "at", "kind", "after"), [
    ("working", Sent(False, "401"), T0, None, ChannelHealth("c", t0, "401")),
    ("failing 30m", None, T0 + HOUR / 2, None, ChannelHealth("c", t0, "401")),
    ("failing 30m", Sent(False, "403"), T0 + HOUR, "failing",
     ChannelHealth("c", t0, "403", (T0 + HOUR).timestamp())),
    ("alerted", Sent(False, "401"), T0 + 20 * HOUR, None, ChannelHealth("c", t0, "401", t0)),
    ("alerted", None, T0 + 24 * HOUR, "reminder",
     ChannelHealth("c", t0, "401", (T0 + 24 * HOUR).timestamp())),
    ("alerted", Sent(True), T0 + 2 * HOUR, "recovered", ChannelHealth("c")),
    ("failing 30m", Sent(True), T0 + HOUR, None, ChannelHealth("c")),
])
def test_the_rules(state: str, sent: Sent | None, at: datetime, kind: str | None,
                   after: ChannelHealth) -> None:
    states = {"working": ChannelHealth("c"), "failing 30m": ChannelHealth("c", t0, "401"),
              "alerted": ChannelHealth("c", t0, "401", t0)}
    notice, new = health.check(health.observe(states[state], sent, at), HOUR, at)
    assert (notice.kind if notice else None) == kind
    assert new == after


def test_a_notice_never_goes_through_the_failing_channel() -> None:
    notice = health.Notice("failing", "every send failed for 1h00m; last error: 401")
    notices = health.alerts(notice, "slack", ("slack", "mail"), T0)
    assert [a.channel for a in notices] == ["mail"]
    body = render_alert(notices, Format.HTML).body
    assert "Channel “slack” is failing" in body and "last error: 401" in body
    # Muted in admin_channels, not in a [[rules]] entry (there is none).
    assert "admin_channels" in body and "[[rules]]" not in body and "Matched by" not in body


def config(tmp: Path, bad: LoopbackServer, good: LoopbackServer) -> Path:
    path = tmp / "monitor.toml"
    path.write_text(f"""
[monitor]
database = "{tmp / 'db.sqlite3'}"
default_channels = ["hook"]
admin_channels = ["hook", "other"]
channel_failing_after = "1h"

[channels.hook]
url = "json://127.0.0.1:{bad.port}/h"

[channels.other]
url = "json://127.0.0.1:{good.port}/other"

[[rules]]
name = "ampere"
any = ["Ampere"]
""", encoding="utf-8")
    return path


async def step(path: Path, bad: LoopbackServer, good: LoopbackServer, n: int,
               at: datetime) -> list[str]:
    """A restart, one alert for the bad channel, two delivery passes (the
    second sends what the first raised): the titles the good channel got."""
    before = len(good.posts())
    async with Harness(path, bad) as h:
        await h.queue([alert(n)], at)
        await h.deliver(at)
        await h.deliver(at + timedelta(seconds=1))
    return [p["title"] for p in good.posts()[before:]]


async def test_a_refusing_channel_is_reported_once_reminded_daily_and_recovers(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with loopback() as bad, loopback() as good:
        path = config(tmp_path, bad, good)
        bad.statuses = [401] * 100  # an expired token: refused for good, every time
        assert await step(path, bad, good, 1, T0) == []
        assert await step(path, bad, good, 2, T0 + HOUR / 2) == []
        assert await step(path, bad, good, 3, T0 + HOUR) == [
            "[newsmonitor] channel-health: Channel “hook” is failing"]
        assert await asyncio.to_thread(main, ["status", "--config", str(path)]) == 0
        assert "failing: hook since 2026-11-26 10:00, told 2026-11-26 11:00 (" in (
            capsys.readouterr().out)
        assert await step(path, bad, good, 4, T0 + 2 * HOUR) == []
        assert await step(path, bad, good, 5, T0 + 25 * HOUR) == [
            "[newsmonitor] channel-health: Channel “hook” is still failing"]
        bad.statuses = []
        assert await step(path, bad, good, 6, T0 + 26 * HOUR) == [
            "[newsmonitor] channel-health: Channel “hook” recovered"]
        assert await step(path, bad, good, 7, T0 + 27 * HOUR) == []
        assert await asyncio.to_thread(main, ["status", "--json", "--config", str(path)]) == 0
        assert json.loads(capsys.readouterr().out)["failing_channels"] == []
        assert "last error" in good.posts()[0]["message"]
        assert not any("channel-health" in p["title"] for p in bad.posts())


async def test_the_state_and_its_notices_are_kept_together(database_url: str) -> None:
    store = await Store.open(database_url)
    try:
        failing = ChannelHealth("slack", t0, "HTTP 401", t0 + 60)
        notice = health.alerts(health.Notice("failing", "x"), "slack", ("mail",), T0)
        assert await store.save_channel_health(failing, notice, t0 + 60) is True
        assert await store.channel_health() == {"slack": failing}
        assert (await store.outbox_counts())[("mail", "pending")] == 1
        # Another instance decided from the row before: its notice is not repeated.
        assert await store.save_channel_health(failing, notice, t0 + 61) is False
        assert (await store.outbox_counts())[("mail", "pending")] == 1
        assert await store.save_channel_health(ChannelHealth("slack"), [], t0 + 120,
                                               failing) is True
        assert await store.channel_health() == {}  # healthy, no notice out: no row
    finally:
        await store.close()
