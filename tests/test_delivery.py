"""Outbox → flood control → render → apprise, with an injected clock, a real
SQLite store and a real webhook receiver: rate limit, quiet hours, digests,
catch-up, retries with backoff, dead alerts, per-channel isolation."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.config import load
from monitor.deliver.outbox import deliver_due
from monitor.models import Alert, Item, Match, Priority, TermHit
from monitor.service.runtime import build_runtime
from monitor.store import Store
from tests import configs
from tests.loopback import LoopbackServer, loopback

T0 = datetime(2026, 11, 26, 10, 5, tzinfo=UTC)


@pytest.fixture
def hook(receiver: LoopbackServer) -> LoopbackServer:
    """The receiver of channel `hook`."""
    return receiver


def setup(tmp: Path, hook: LoopbackServer, other: LoopbackServer | None = None, *,
          file: str = "monitor.toml", more: Mapping[str, str] | None = None,
          **hook_options: Any) -> Path:
    """The `hook` channel (url /h on `hook`, unless `urls=` is among its
    options) and `other` (on `other`, else `hook`), plus `more` channels."""
    channel = {"url": hook.webhook("/h"), **hook_options}
    if "urls" in channel:
        del channel["url"]
    return configs.write(
        tmp / file,
        monitor={"database": tmp / "db.sqlite3", "default_channels": ["hook"],
                 "retry_for": "1h"},
        channels={"hook": channel, "other": (other or hook).webhook("/other"), **(more or {})},
        rules=[configs.AMPERE])


def two_urls(tmp: Path, hook: LoopbackServer, second: LoopbackServer,
             **hook_options: Any) -> Path:
    """The `hook` channel with a second URL, on the `second` receiver."""
    return setup(tmp, hook, file="two.toml",
                 urls=[hook.webhook("/h"), second.webhook("/h")], **hook_options)


def alert(n: int, channel: str = "hook", priority: Priority = Priority.NORMAL,
          published: datetime | None = None) -> Alert:
    item = Item(feed="news", id=f"i{n}", title=f"Ampere {n}", link=f"https://x/{n}",
                published=published)
    return Alert(item, Match("ampere", 100, (TermHit("Ampere", "Ampere", "title", 100),)),
                 channel, "News", priority)


class Harness:
    def __init__(self, config: Path, hook: LoopbackServer) -> None:
        self.runtime = build_runtime(config)
        self.hook = hook
        self.database = load(config).monitor.database

    async def __aenter__(self) -> Harness:
        self.store = await Store.open(self.database)
        self.runtime.notifier.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.runtime.notifier.close()
        await self.store.close()

    async def queue(self, alerts: list[Alert], at: datetime) -> None:
        await self.store.queue_alerts(alerts, at.timestamp())

    async def deliver(self, at: datetime) -> list[str]:
        before = len(self.hook.posts())
        await deliver_due(self.store, self.runtime.notifier, self.runtime.channels, at)
        return [p["title"] for p in self.hook.posts()[before:]]


async def test_rate_limit_folds_the_overflow_into_one_summary(tmp_path: Path,
                                                             hook: LoopbackServer) -> None:
    async with Harness(setup(tmp_path, hook), hook) as h:
        await h.queue([alert(i) for i in range(25)], T0)
        sent = await h.deliver(T0)
        assert len(sent) == 20
        assert sent[:19] == [f"[newsmonitor] ampere: Ampere {i}" for i in range(19)]
        assert sent[19] == "[newsmonitor] 6 more alerts (rate limit)"
        await h.queue([alert(i) for i in range(25, 27)], T0 + timedelta(minutes=1))
        assert await h.deliver(T0 + timedelta(minutes=1)) == []  # the window is full
        assert len(await h.deliver(T0 + timedelta(minutes=10, seconds=1))) == 2
        assert (await h.store.outbox_counts())[("hook", "sent")] == 27


async def test_quiet_hours_hold_alerts_and_high_priority_breaks_through(
        tmp_path: Path, hook: LoopbackServer) -> None:
    config = setup(tmp_path, hook, quiet_hours="22:00-07:00", timezone="UTC")
    async with Harness(config, hook) as h:
        night = T0.replace(hour=23)
        await h.queue([alert(1), alert(2), alert(3, priority=Priority.HIGH)], night)
        assert await h.deliver(night) == ["[newsmonitor] ampere: Ampere 3"]
        assert await h.deliver(night + timedelta(hours=3)) == []
        morning = (night + timedelta(hours=8, minutes=1))
        assert await h.deliver(morning) == ["[newsmonitor] 2 alerts held during quiet hours"]
        assert await h.deliver(morning + timedelta(minutes=1)) == []


async def test_hourly_digest_groups_a_period_and_skips_empty_ones(
        tmp_path: Path, hook: LoopbackServer) -> None:
    async with Harness(setup(tmp_path, hook, digest="1h"), hook) as h:
        await h.queue([alert(1)], T0)
        await h.queue([alert(2)], T0 + timedelta(minutes=20))
        assert await h.deliver(T0 + timedelta(minutes=40)) == []
        assert await h.deliver(T0.replace(minute=0) + timedelta(hours=1, seconds=1)) == [
            "[newsmonitor] digest: 2 alerts"]
        assert await h.deliver(T0 + timedelta(hours=3)) == []  # empty periods: nothing
        body = hook.posts()[-1]["message"]
        assert "Ampere 1" in body and "Ampere 2" in body


async def test_a_straggler_committed_long_after_its_period_s_digest_waits(
        tmp_path: Path, hook: LoopbackServer) -> None:
    """A poll that began before the boundary and ended well after it (a slow
    fetch) queues an alert of a period whose digest already went, longer ago
    than the rate-limit window (1 s here): it waits for the next period, not
    a second digest of the first (three instances sent two digests in one
    5 s period when only the window's sends were read)."""
    config = setup(tmp_path, hook, digest="1h", rate_limit="100/1s")
    async with Harness(config, hook) as h:
        boundary = T0.replace(minute=0) + timedelta(hours=1)
        await h.queue([alert(1)], T0)
        assert await h.deliver(boundary + timedelta(seconds=1)) == [
            "[newsmonitor] digest: 1 alerts"]
        await h.queue([alert(2)], boundary - timedelta(seconds=1))  # created at poll start
        assert await h.deliver(boundary + timedelta(seconds=30)) == []
        assert await h.deliver(boundary + timedelta(hours=1, seconds=1)) == [
            "[newsmonitor] digest: 1 alerts"]


async def test_catch_up_sends_old_items_as_one_digest(tmp_path: Path,
                                                      hook: LoopbackServer) -> None:
    async with Harness(setup(tmp_path, hook), hook) as h:
        old = T0 - timedelta(days=3)
        await h.queue([alert(i, published=old) for i in range(5)] + [alert(9, published=T0)],
                      T0)
        sent = await h.deliver(T0)
        assert sorted(sent) == sorted(["[newsmonitor] catch-up: 5 older items",
                                       "[newsmonitor] ampere: Ampere 9"])


async def test_failures_back_off_keep_order_and_end_dead(tmp_path: Path,
                                                         hook: LoopbackServer) -> None:
    with loopback() as other:
        await _failures(tmp_path, hook, other)


async def _failures(tmp_path: Path, hook: LoopbackServer, other: LoopbackServer) -> None:
    async with Harness(setup(tmp_path, hook, other=other), hook) as h:
        await h.queue([alert(1), alert(2), alert(10, channel="other")], T0)
        hook.statuses = [500]  # the hook's first attempt fails
        assert await h.deliver(T0) == []
        assert [p["title"] for p in other.posts()] == ["[newsmonitor] ampere: Ampere 10"]
        assert await h.deliver(T0 + timedelta(seconds=10)) == []  # backing off 30 s
        assert await h.deliver(T0 + timedelta(seconds=31)) == [
            "[newsmonitor] ampere: Ampere 1", "[newsmonitor] ampere: Ampere 2"]

        await h.queue([alert(3)], T0 + timedelta(minutes=1))
        hook.statuses = [500] * 100
        at = T0 + timedelta(minutes=1)
        for _ in range(10):
            await h.deliver(at)
            at += timedelta(hours=1)
        history = await h.store.history(channel="hook")
        dead = [s for s in history if s.state == "dead"]
        assert [s.alert.item.title for s in dead] == ["Ampere 3"]
        assert dead[0].attempts >= 2 and "500" in (dead[0].last_error or "")


async def test_a_retry_goes_only_to_the_urls_that_failed(tmp_path: Path,
                                                         hook: LoopbackServer) -> None:
    with loopback() as second:
        path = two_urls(tmp_path, hook, second)
        async with Harness(path, hook) as h:
            await h.queue([alert(1)], T0)
            second.statuses = [500]
            assert await h.deliver(T0) == ["[newsmonitor] ampere: Ampere 1"]  # the first URL
            assert second.posts() == []
            assert await h.deliver(T0 + timedelta(seconds=31)) == []  # not again to the first
            assert [p["title"] for p in second.posts()] == ["[newsmonitor] ampere: Ampere 1"]
            assert (await h.store.outbox_counts())[("hook", "sent")] == 1


@asynccontextmanager
async def digest_half_sent(tmp_path: Path, hook: LoopbackServer
                           ) -> AsyncIterator[tuple[Harness, LoopbackServer, datetime]]:
    """An hourly digest channel with two URLs: the digest of Ampere 1 has
    reached the first URL and failed on the second (yields the harness, the
    second receiver and the time of that first digest)."""
    with loopback() as second:
        path = two_urls(tmp_path, hook, second, digest="1h")
        async with Harness(path, hook) as h:
            await h.queue([alert(1)], T0)
            second.statuses = [500]
            hour = T0.replace(minute=0) + timedelta(hours=1, seconds=1)
            assert await h.deliver(hour) == ["[newsmonitor] digest: 1 alerts"]
            yield h, second, hour


async def test_a_retry_in_another_grouping_skips_what_each_url_took(
        tmp_path: Path, hook: LoopbackServer) -> None:
    """An hourly digest of Ampere 1 reached the first URL only; its retry is
    folded into the next digest with Ampere 2: the second URL gets both, the
    first only the one it never had."""
    async with digest_half_sent(tmp_path, hook) as (h, second, hour):
        await h.queue([alert(2)], hour + timedelta(minutes=20))
        assert await h.deliver(hour + timedelta(minutes=30)) == [
            "[newsmonitor] digest: 1 alerts"]
        assert "Ampere 2" in hook.posts()[-1]["message"]
        assert "Ampere 1" not in hook.posts()[-1]["message"]
        assert [p["title"] for p in second.posts()] == ["[newsmonitor] digest: 2 alerts"]
        assert all(f"Ampere {n}" in second.posts()[0]["message"] for n in (1, 2))
        assert (await h.store.outbox_counts())[("hook", "sent")] == 2
        assert await h.deliver(hour + timedelta(hours=2)) == []
        assert len(second.posts()) == 1


async def test_the_longest_retry_after_of_any_part_holds(
        tmp_path: Path, hook: LoopbackServer) -> None:
    """The retry of the digest above goes out in two parts (the first URL
    owes one alert, the second both); the first answers 429 Retry-After 600,
    the second 500: the group waits the 600 s, and both errors are kept."""
    async with digest_half_sent(tmp_path, hook) as (h, second, hour):
        await h.queue([alert(2)], hour + timedelta(minutes=20))
        hook.statuses, hook.post_headers = [429], {"Retry-After": "600"}
        second.statuses = [500]
        at = hour + timedelta(minutes=30)
        assert await h.deliver(at) == []
        pending = await h.store.pending_alerts("hook")
        assert len(pending) == 2
        assert all(p.next_attempt >= at.timestamp() + 600 for p in pending)
        assert all("429" in (p.last_error or "") and "500" in (p.last_error or "")
                   for p in pending)


async def test_a_requeued_dead_alert_goes_only_to_the_urls_that_never_took_it(
        tmp_path: Path, hook: LoopbackServer) -> None:
    """`newsmonitor requeue` after an outage of the second URL longer than
    retry_for: the first URL, which took the alert, does not get it again."""
    with loopback() as second:
        async with Harness(two_urls(tmp_path, hook, second), hook) as h:
            await h.queue([alert(1)], T0)
            second.statuses = [500] * 10
            at = T0
            while not await h.store.history(state="dead"):
                await h.deliver(at)
                at += timedelta(minutes=20)
            assert len(hook.posts()) == 1 and second.posts() == []
            assert await h.store.requeue_dead(at.timestamp(), channel="hook") == 1
            second.statuses = []
            assert await h.deliver(at) == []  # nothing to the first URL
            assert [p["title"] for p in second.posts()] == ["[newsmonitor] ampere: Ampere 1"]
            assert (await h.store.outbox_counts())[("hook", "sent")] == 1


async def test_a_url_that_took_everything_is_not_sent_again(
        tmp_path: Path, hook: LoopbackServer) -> None:
    """The first URL took the alert, the second failed, then the user removed
    the second: the alert is recorded as sent without a message."""
    with loopback() as second:
        path = two_urls(tmp_path, hook, second)
        async with Harness(path, hook) as h:
            await h.queue([alert(1)], T0)
            second.statuses = [500]
            assert await h.deliver(T0) == ["[newsmonitor] ampere: Ampere 1"]
        setup(tmp_path, hook, file=path.name, urls=[hook.webhook("/h")])
        async with Harness(path, hook) as h:
            assert await h.deliver(T0 + timedelta(seconds=31)) == []
            assert (await h.store.outbox_counts())[("hook", "sent")] == 1


async def test_alerts_of_a_removed_channel_leave_when_it_is_back_or_end_dead(
        tmp_path: Path, hook: LoopbackServer) -> None:
    path = setup(tmp_path, hook)
    async with Harness(path, hook) as h:
        await h.queue([alert(1, channel="later"), alert(2, channel="gone")], T0)
        assert await h.deliver(T0) == []
        assert {s.last_error for s in await h.store.history(state="pending")} == {
            "channel 'later' is no longer in the config",
            "channel 'gone' is no longer in the config"}
    # The user puts `later` back (a reload): its alert leaves at the next retry.
    setup(tmp_path, hook, more={"later": hook.webhook("/later")})
    async with Harness(path, hook) as h:
        at = T0 + timedelta(seconds=31)
        assert await h.deliver(at) == ["[newsmonitor] ampere: Ampere 1"]
        for _ in range(3):
            at += timedelta(minutes=30)
            assert await h.deliver(at) == []
        dead = await h.store.history(state="dead")
        assert [(s.alert.item.title, s.last_error) for s in dead] == [
            ("Ampere 2", "channel 'gone' is no longer in the config")]
        assert (await h.store.outbox_counts()).get(("gone", "pending")) is None


async def test_each_orphaned_alert_counts_retry_for_from_its_own_first_miss(
        tmp_path: Path, hook: LoopbackServer) -> None:
    async with Harness(setup(tmp_path, hook), hook) as h:
        await h.queue([alert(1, channel="gone")], T0)
        for minutes in (0, 1, 31):
            await h.deliver(T0 + timedelta(minutes=minutes))
        await h.queue([alert(2, channel="gone")], T0 + timedelta(minutes=50))
        await h.deliver(T0 + timedelta(minutes=61))
        states = {s.alert.item.title: s.state for s in await h.store.history(channel="gone")}
        assert states == {"Ampere 1": "dead", "Ampere 2": "pending"}


async def test_user_template_is_used_and_a_failing_one_falls_back(
        tmp_path: Path, hook: LoopbackServer) -> None:
    (tmp_path / "alert.txt").write_text("{{ rule }} | {{ title }} | {{ score }}",
                                        encoding="utf-8")
    (tmp_path / "broken.txt").write_text("{{ no_such_variable }}", encoding="utf-8")
    config = setup(tmp_path, hook, template="alert.txt", format="text")
    async with Harness(config, hook) as h:
        await h.queue([alert(1)], T0)
        await h.deliver(T0)
        assert hook.posts()[-1]["message"] == "ampere | Ampere 1 | 100"
    setup(tmp_path, hook, template="broken.txt", format="text")
    async with Harness(config, hook) as h:
        await h.queue([alert(2)], T0)
        assert await h.deliver(T0) == ["[newsmonitor] ampere: Ampere 2"]
        assert "Ampere 2" in hook.posts()[-1]["message"]


async def test_rules_firing_on_one_item_make_one_message(tmp_path: Path,
                                                         hook: LoopbackServer) -> None:
    async with Harness(setup(tmp_path, hook), hook) as h:
        provost = replace(alert(1), match=Match(
            "renault-ceo", 86, (TermHit("François Provost", "F. Provots", "title", 86),)),
            priority=Priority.HIGH)
        await h.queue([alert(1), provost, alert(2)], T0)
        assert await h.deliver(T0) == ["[newsmonitor] ampere +1: Ampere 1",
                                       "[newsmonitor] ampere: Ampere 2"]
        body = hook.posts()[0]["message"]
        assert "F. Provots" in body and "Ampere" in body
        history = await h.store.history(channel="hook")
        assert {(s.alert.match.rule, s.state) for s in history} == {
            ("ampere", "sent"), ("renault-ceo", "sent")}
        assert len(history) == 3


async def test_retry_for_counts_from_the_first_failure(tmp_path: Path,
                                                       hook: LoopbackServer) -> None:
    """A weekly digest is a week old when first sent: one failure must not kill it."""
    async with Harness(setup(tmp_path, hook), hook) as h:
        await h.queue([alert(1)], T0 - timedelta(days=7))
        hook.statuses = [500]
        assert await h.deliver(T0) == []
        assert await h.deliver(T0 + timedelta(seconds=31)) == ["[newsmonitor] ampere: Ampere 1"]


async def test_partial_retry_survives_an_edited_channel(tmp_path: Path,
                                                        hook: LoopbackServer) -> None:
    """URL 1 took the alert, URL 2 failed; the user then removes URL 1: the
    retry must still reach URL 2 (done URLs are kept by URL, not position)."""
    with loopback() as second:
        path = two_urls(tmp_path, hook, second)
        async with Harness(path, hook) as h:
            await h.queue([alert(1)], T0)
            second.statuses = [500]
            await h.deliver(T0)
        setup(tmp_path, hook, file=path.name, urls=[second.webhook("/h")])
        async with Harness(path, hook) as h:
            await h.deliver(T0 + timedelta(seconds=31))
            assert [p["title"] for p in second.posts()] == ["[newsmonitor] ampere: Ampere 1"]
            assert len(hook.posts()) == 1


async def test_a_message_refused_for_good_goes_dead_and_the_rest_flow(
        tmp_path: Path, hook: LoopbackServer) -> None:
    """Issue 14.3: a 413 for one alert held the channel's later alerts behind
    its retries until retry_for. It is dead at once, with its reason."""
    async with Harness(setup(tmp_path, hook), hook) as h:
        await h.queue([alert(1), alert(2), alert(3)], T0)
        hook.statuses = [413]
        assert await h.deliver(T0) == ["[newsmonitor] ampere: Ampere 2",
                                       "[newsmonitor] ampere: Ampere 3"]
        dead = await h.store.history(state="dead")
        assert [s.alert.item.title for s in dead] == ["Ampere 1"]
        assert "HTTP 413" in (dead[0].last_error or "")
        assert dead[0].attempts == 1


async def test_an_unknown_outcome_is_not_repeated_at_the_retry_rate(
        tmp_path: Path, hook: LoopbackServer) -> None:
    """Issue 14.4: a send that timed out may have arrived; retried every 30 s
    a slow webhook got it three times. It is retried an hour later."""
    async with Harness(setup(tmp_path, hook, read_timeout="1s"), hook) as h:
        await h.queue([alert(1)], T0)
        hook.delay = 2
        await h.deliver(T0)
        hook.delay = 0
        for minutes in (1, 5, 30, 59):
            await h.deliver(T0 + timedelta(minutes=minutes))
        assert hook.attempts() == 1
        await h.deliver(T0 + timedelta(minutes=61))
        assert hook.attempts() == 2


async def test_one_clean_log_line_per_delivery_outcome(
        tmp_path: Path, hook: LoopbackServer, caplog: pytest.LogCaptureFixture) -> None:
    """Issue 11: a failure showed apprise's internals (`json://…?method=POST&
    overflow=upstream&retry=0…: A Connection error occurred…`), a success
    nothing."""
    caplog.set_level(logging.INFO, logger="monitor")
    async with Harness(setup(tmp_path, hook), hook) as h:
        await h.queue([alert(1)], T0)
        hook.statuses = [500]
        await h.deliver(T0)
        await h.deliver(T0 + timedelta(seconds=31))
    lines = [r.getMessage() for r in caplog.records if r.name == "monitor.deliver.outbox"]
    url = hook.webhook("/****")  # a webhook's path is its secret: not logged
    assert lines == [
        f"delivery failed channel=hook rule=ampere item=https://x/1 url={url} error=HTTP 500",
        f"delivered channel=hook rule=ampere item=https://x/1 url={url}"]


async def test_a_connection_failure_is_one_line_without_apprise_internals(
        tmp_path: Path, hook: LoopbackServer, caplog: pytest.LogCaptureFixture) -> None:
    with loopback() as gone:
        config = setup(tmp_path, gone)
    caplog.set_level(logging.INFO, logger="monitor")
    async with Harness(config, hook) as h:
        await h.queue([alert(1)], T0)
        await h.deliver(T0)
    (line,) = [r.getMessage() for r in caplog.records
               if r.getMessage().startswith("delivery failed")]
    assert line.startswith(f"delivery failed channel=hook rule=ampere item=https://x/1 "
                           f"url=json://127.0.0.1:{gone.port}/**** error=")
    assert line.endswith("error=could not connect: Connection refused")
