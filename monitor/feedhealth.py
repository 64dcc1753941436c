"""Feed-health alerts for `[monitor] admin_channels`. Pure: states and `now` in,
at most one notice out.

A feed is unhealthy when it failed `max_failures` polls in a row, or when it
has had no new item for longer than its `expect_every`. The first unhealthy
poll raises one alert; while it stays unhealthy, a reminder at most every
`REMIND_EVERY`; the first healthy poll after an alert sends one "recovered".
A feed disabled by 410 Gone gets one "disabled" notice (it is not polled again).
`FeedState.health_alerted` (the time of the last notice, None when healthy)
is the only state this needs, so restarts neither repeat nor lose notices.

`OutageWatch` (in memory, fed by the daemon) tells an outage of our own
network from the publishers' failures, so that feeds are not left backing
off once it is over.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from monitor.config import FeedSettings
from monitor.models import Alert, Item, Match, Priority
from monitor.schedule import host_key
from monitor.store import FeedState

REMIND_EVERY = timedelta(hours=24)
# Failures that say "could not reach the server", which a local network or
# DNS outage causes on every feed at once (errors.FetchError categories).
UNREACHABLE = frozenset({"connection", "timeout"})
RULE = "feed-health"


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


class OutageWatch:
    """Tells when our own network (or DNS) came back after an outage.

    During such an outage every feed fails to connect and backs off; without
    this, each would wait out its backoff (up to max_backoff) after the
    network returns, while busy feeds roll items off. A run of polls that
    could not reach their server is taken for our outage, not the
    publishers', when it covers at least `min_hosts` hosts and lasts at
    least `min_span` seconds (from the start of its first poll to the start
    of its last) with no poll reaching any server in between: a few dead
    publishers failing together (a restart polls every overdue feed at once)
    make a short run. The first poll that reaches a server (any feed's, a
    healthy one too; an HTTP error counts: the server answered) ends the run,
    and `observe` returns when it began; the daemon then polls at once the
    feeds that could not connect since (`victims`). Those really down fail
    again, so after a sweep there is none for `quiet` seconds: they back off
    instead of being swept in a loop. Polls of local files are not network
    polls: the daemon does not report them. In memory; `seed` picks up an
    outage a restart interrupted (a laptop booting offline).
    """

    def __init__(self, min_hosts: int = 3, min_span: float = 120.0,
                 quiet: float = 3600.0) -> None:
        self.min_hosts, self.min_span, self.quiet = min_hosts, min_span, quiet
        self._first: float | None = None  # start of the run's earliest poll
        self._last = 0.0                  # start of its latest
        self._hosts: set[str] = set()
        self._swept = float("-inf")

    def seed(self, states: Iterable[FeedState]) -> None:
        """Start from the stored states: feeds that failed to connect after
        the last success of any feed are a run in progress."""
        states = list(states)
        last_ok = max((s.last_success or 0.0 for s in states), default=0.0)
        for state in _unreachable(states):
            if (state.last_poll or 0.0) > last_ok:
                self._failed(state.current_url, state.last_poll or 0.0)

    def observe(self, url: str, result: str, category: str | None,
                started: float) -> float | None:
        """A poll of `url` that started at `started` ended with `result`
        (pipeline.Outcome) and the error `category` if it failed; returns
        the outage's start when this poll ends one, else None."""
        if result == "skipped":
            return None  # no request was made (the host asked us to wait)
        if result == "error" and category in UNREACHABLE:
            self._failed(url, started)
            return None
        since = self._first
        outage = (since is not None and len(self._hosts) >= self.min_hosts
                  and self._last - since >= self.min_span and started - self._swept >= self.quiet)
        self._first, self._last, self._hosts = None, 0.0, set()
        if not outage:
            return None
        self._swept = started
        return since

    def _failed(self, url: str, started: float) -> None:
        self._first = started if self._first is None else min(self._first, started)
        self._last = max(self._last, started)
        self._hosts.add(host_key(url))


def victims(states: Iterable[FeedState], since: float) -> list[str]:
    """The feeds that could not connect since `since` (OutageWatch)."""
    return [s.name for s in _unreachable(states) if (s.last_poll or 0.0) >= since]


def _unreachable(states: Iterable[FeedState]) -> list[FeedState]:
    return [s for s in states
            if s.failures and s.error_category in UNREACHABLE and not s.disabled]
