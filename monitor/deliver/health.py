"""Channel-health notices for `[monitor] admin_channels`. Pure: a channel's
state, what its last sends did, and `now` in; its new state and at most one
notice out.

A channel whose every send has failed (an expired Slack token, a revoked
bot: refused for good, or a receiver down) for longer than
`[monitor] channel_failing_after` raises one notice; while it keeps failing,
a reminder at most every `REMIND_EVERY`; its first accepted send after a
notice raises one "recovered". The notice goes to the admin channels other
than the failing one (a message through a refusing channel reaches nobody).
`ChannelHealth` (kept by the store) is all the state this needs, so
restarts neither repeat nor lose notices.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from monitor.models import CHANNEL_HEALTH, Alert, ChannelHealth, Item, Match, Priority

REMIND_EVERY = timedelta(hours=24)
SOURCE = "newsmonitor"


@dataclass(frozen=True, slots=True)
class Sent:
    """What a channel's sends did in one delivery pass: `ok` when the last
    message was accepted, else the (masked) error of its failure."""

    ok: bool
    error: str = ""


@dataclass(frozen=True, slots=True)
class Notice:
    kind: str      # failing | reminder | recovered
    text: str


def observe(state: ChannelHealth, sent: Sent | None, now: datetime) -> ChannelHealth:
    """The state after a pass: a failure starts (or continues) the failing
    run, an accepted send ends it; no send (nothing due, backing off) keeps it."""
    if sent is None:
        return state
    if sent.ok:
        return replace(state, failing_since=None, error="")
    return replace(state, failing_since=state.failing_since or now.timestamp(),
                   error=sent.error or "failed")


def check(state: ChannelHealth, after: timedelta, now: datetime
          ) -> tuple[Notice | None, ChannelHealth]:
    """The notice due now (if any) and the state to store."""
    if state.failing_since is None:
        if state.alerted is None:
            return None, state
        return Notice("recovered", "sends are accepted again"), replace(state, alerted=None)
    failing = now.timestamp() - state.failing_since
    if failing < after.total_seconds():
        return None, state
    why = f"every send failed for {_duration(failing)}; last error: {state.error}"
    if state.alerted is None:
        return Notice("failing", why), replace(state, alerted=now.timestamp())
    if now.timestamp() - state.alerted >= REMIND_EVERY.total_seconds():
        return Notice("reminder", why), replace(state, alerted=now.timestamp())
    return None, state


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"


def alerts(notice: Notice, channel: str, admin_channels: tuple[str, ...],
           now: datetime) -> list[Alert]:
    """The notice as outbox alerts, one per admin channel but the failing
    one; the item id carries the time so that each notice is its own row."""
    title = {"failing": f"Channel “{channel}” is failing",
             "reminder": f"Channel “{channel}” is still failing",
             "recovered": f"Channel “{channel}” recovered"}[notice.kind]
    item = Item(feed=SOURCE, id=f"channel-health:{channel}:{notice.kind}:{int(now.timestamp())}",
                title=title, summary=notice.text, link="", published=now)
    priority = Priority.NORMAL if notice.kind == "recovered" else Priority.HIGH
    return [Alert(item=item, match=Match(rule=CHANNEL_HEALTH, score=100), channel=name,
                  feed_title=SOURCE, priority=priority)
            for name in admin_channels if name != channel]
