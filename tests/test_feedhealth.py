"""Feed-health notices: one alert after N failures, reminders at most daily,
one recovery message; silence past expect_every."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from monitor.config import FeedSettings
from monitor.models import FeedState
from monitor.poll import health as feedhealth

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
FEED = FeedSettings(url="https://x/feed", name="X", interval=timedelta(minutes=15), tags=(),
                    alert_existing=False, enabled=True, expect_every=None)
EXPECTING = FEED.model_copy(update={"expect_every": timedelta(hours=6)})
OK = FeedState(name="X", url="https://x/feed", current_url="https://x/feed", polled_once=True,
               last_success=NOW.timestamp(), last_new_item=NOW.timestamp())


def failing(n: int, alerted: datetime | None = None) -> FeedState:
    return replace(OK, failures=n, error_category="http", error="HTTP 500",
                   health_alerted=alerted.timestamp() if alerted else None)


@pytest.mark.parametrize(("state", "feed", "now", "kind"), [
    (OK, FEED, NOW, None),
    (failing(9), FEED, NOW, None),
    (failing(10), FEED, NOW, "failing"),
    (failing(11, NOW - timedelta(hours=1)), FEED, NOW, None),
    (failing(50, NOW - timedelta(hours=24)), FEED, NOW, "reminder"),
    (replace(OK, health_alerted=(NOW - timedelta(hours=1)).timestamp()), FEED, NOW,
     "recovered"),
    (OK, EXPECTING, NOW + timedelta(hours=7), "silent"),
    (OK, EXPECTING, NOW + timedelta(hours=5), None),
    (replace(failing(12, NOW - timedelta(hours=1)), disabled="410 Gone",
             last_poll=NOW.timestamp()), FEED, NOW, "disabled"),
    (replace(OK, disabled="410 Gone", last_poll=NOW.timestamp(),
             health_alerted=NOW.timestamp()), FEED, NOW, None),
])
def test_notices(state: FeedState, feed: FeedSettings, now: datetime, kind: str | None) -> None:
    notice, new_state = feedhealth.check(state, feed, 10, now)
    assert (notice.kind if notice else None) == kind
    if kind in ("failing", "silent", "reminder"):
        assert new_state.health_alerted == now.timestamp()
    if kind == "recovered":
        assert new_state.health_alerted is None


def test_ten_failures_then_recovery_give_exactly_two_notices() -> None:
    state, notices = OK, []
    for minute in range(30):
        now = NOW + timedelta(minutes=minute)
        polled = replace(state, failures=state.failures + 1, error="HTTP 500") if minute < 20 \
            else replace(state, failures=0, error=None)
        notice, state = feedhealth.check(polled, FEED, 10, now)
        notices += [notice.kind] if notice else []
    assert notices == ["failing", "recovered"]
    alerts = feedhealth.alerts(feedhealth.Notice("failing", "x"), FEED, ("admin",), NOW)
    assert [a.channel for a in alerts] == ["admin"] and "is failing" in alerts[0].item.title
