"""Feed-health alerts for `[monitor] admin_channels`. Pure: states and `now` in,
at most one notice out.

A feed is unhealthy when it failed `max_failures` polls in a row, or when it
has had no new item for longer than its `expect_every`. The first unhealthy
poll raises one alert; while it stays unhealthy, a reminder at most every
`REMIND_EVERY`; the first healthy poll after an alert sends one "recovered".
A feed disabled by 410 Gone gets one "disabled" notice (it is not polled again).
`FeedState.health_alerted` (the time of the last notice, None when healthy)
is the only state this needs, so restarts neither repeat nor lose notices.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from monitor.config import FeedSettings
from monitor.models import FEED_HEALTH, Alert, FeedState, Item, Match, Priority

REMIND_EVERY = timedelta(hours=24)
RULE = FEED_HEALTH


@dataclass(frozen=True, slots=True)
class Notice:
    kind: str      # failing | silent | reminder | recovered | disabled
    text: str


def problem(state: FeedState, feed: FeedSettings, max_failures: int,
            now: datetime) -> str | None:
    """Why the feed is unhealthy now, or None."""
    if state.failures >= max_failures:
        return (f"{state.failures} polls failed in a row; last error: "
                f"{state.error_category}: {state.error}")
    if feed.expect_every and state.polled_once:
        last = state.last_new_item or state.last_success
        if last is not None and now.timestamp() - last > feed.expect_every.total_seconds():
            return f"no new item for more than {feed.expect_every} (expect_every)"
    return None


def check(state: FeedState, feed: FeedSettings, max_failures: int,
          now: datetime) -> tuple[Notice | None, FeedState]:
    """The notice to send after a poll (if any) and the state to store."""
    alerted = state.health_alerted
    if state.disabled:
        # Not polled any more: one notice that says so, and nothing after it
        # (above all not "recovered").
        if alerted is not None and alerted >= (state.last_poll or 0):
            return None, state
        return (Notice("disabled", f"disabled: {state.disabled}"),
                replace(state, health_alerted=now.timestamp()))
    why = problem(state, feed, max_failures, now)
    if why is None:
        if alerted is None:
            return None, state
        return Notice("recovered", "works again"), replace(state, health_alerted=None)
    if alerted is None:
        kind = "failing" if state.failures >= max_failures else "silent"
        return Notice(kind, why), replace(state, health_alerted=now.timestamp())
    if now.timestamp() - alerted >= REMIND_EVERY.total_seconds():
        return Notice("reminder", why), replace(state, health_alerted=now.timestamp())
    return None, state


def alerts(notice: Notice, feed: FeedSettings, channels: tuple[str, ...],
           now: datetime) -> list[Alert]:
    """The notice as outbox alerts, one per admin channel; the item id carries
    the time so that each notice is its own outbox row."""
    title = {"failing": f"Feed “{feed.name}” is failing",
             "silent": f"Feed “{feed.name}” is silent",
             "reminder": f"Feed “{feed.name}” is still unhealthy",
             "recovered": f"Feed “{feed.name}” recovered",
             "disabled": f"Feed “{feed.name}” is gone and disabled"}[notice.kind]
    item = Item(feed=feed.name, id=f"health:{notice.kind}:{int(now.timestamp())}",
                title=title, summary=notice.text, link="", published=now)
    priority = Priority.NORMAL if notice.kind == "recovered" else Priority.HIGH
    match = Match(rule=RULE, score=100)
    return [Alert(item=item, match=match, channel=name, feed_title=feed.name,
                  priority=priority) for name in channels]
