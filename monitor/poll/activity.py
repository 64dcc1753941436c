"""How much each feed publishes, learned from its polls: pure, no clock, no I/O.

A feed's `History` is what its successful polls found: when the first one
was (the start of what we know), and how many new items each later poll
found and since which poll. From it `estimate` tells the expected new items
an hour around `now`, and what that rests on:

- the profile: new items by hour of the week (168 bins, UTC: a publisher's
  rhythm is learned in whatever zone it lives), shrunk toward the same hour
  of any day, and that toward the feed's overall rate, each by one pseudo
  occurrence (Bayesian smoothing: a bin seen once says little, a bin seen on
  four weeks a lot). The next hour counts too, so that a feed that wakes at
  7:00 is not left at its night-time pace until 7:59.
- the recent rate: the items of the last RECENT polls that found any,
  over the time since the poll before the oldest of them. It needs no
  calendar: a feed that starts publishing every minute is seen at once,
  and the estimate falls as 1/silence when it stops.

The larger of the two is the estimate. Items are counted at the middle of
the span they appeared in (between two polls), so a feed polled hourly
lands in the right hour on average. The first poll's items are the feed's
backlog, never counted. `Activity` holds the histories of all feeds and
the budget's current scale (schedule.budget_scale); the daemon rebuilds it
from the store's polls (Store.activity) at start and every REBUILD_EVERY,
which keeps it across restarts and slides the WINDOW.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

WEEK = 168             # hour-of-week bins
WINDOW = 28 * 86400.0  # seconds of polls learned from (the store keeps 31 days)
RECENT = 4             # polls with new items the recent rate looks at
PRIOR = 1.0            # pseudo occurrences each level is shrunk by
REBUILD_EVERY = 3600.0  # seconds between rebuilds from the store (daemon)
RESHARE_EVERY = 600.0   # seconds between two shares of the request budget


@dataclass(frozen=True, slots=True)
class Estimate:
    """Expected new items an hour, and what it rests on (for `status`)."""

    rate: float
    basis: str  # "at this hour" | "lately" | "no history yet"

    def __str__(self) -> str:
        if self.basis == "no history yet":
            return self.basis
        rate = f"{self.rate:.0f}" if self.rate >= 10 else f"{self.rate:.2g}"
        return f"~{rate} items/h {self.basis}"


@dataclass(slots=True)
class History:
    """One feed's successful polls, as counts; see the module docstring."""

    since: float | None = None       # first poll known (its items: the backlog)
    last_poll: float | None = None
    total: int = 0
    bins: list[int] = field(default_factory=lambda: [0] * WEEK)
    # (poll before, poll, new items) of the last RECENT polls that found any.
    recent: deque[tuple[float, float, int]] = field(
        default_factory=lambda: deque(maxlen=RECENT))

    def observe(self, at: float, new_items: int, previous: float | None = None) -> None:
        """A successful poll at `at` found `new_items` new items; `previous`
        is the poll before it (default: the last one observed)."""
        before = self.last_poll if previous is None else previous
        if self.since is None or before is None:
            self.since = at if self.since is None else self.since  # the backlog
        elif new_items > 0:
            self.bins[_bin((before + at) / 2)] += new_items
            self.total += new_items
            self.recent.append((before, at, new_items))
        self.last_poll = at


def estimate(history: History | None, now: float) -> Estimate:
    """The expected new items an hour around `now`."""
    if history is None or history.since is None:
        return Estimate(0.0, "no history yet")
    profile = max(_profile(history, _bin(now)), _profile(history, _bin(now + 3600)))
    recent = _recent(history, now)
    if recent > profile:
        return Estimate(recent, "lately")
    return Estimate(profile, "at this hour")


def _profile(h: History, k: int) -> float:
    assert h.since is not None
    # Exposure ends at the last poll: what came since is not known yet.
    start, hours = h.since / 3600, max((h.last_poll or h.since) - h.since, 0.0) / 3600
    overall = h.total / (hours + PRIOR)
    hour = k % 24
    daily = sum(h.bins[hour::24])
    by_day = (daily + PRIOR * overall) / (_exposure(start, hours, hour, 24) + PRIOR)
    return (h.bins[k] + PRIOR * by_day) / (_exposure(start, hours, k, WEEK) + PRIOR)


def _recent(h: History, now: float) -> float:
    if not h.recent:
        return 0.0
    hours = (now - h.recent[0][0]) / 3600
    return sum(n for _, _, n in h.recent) / hours if hours > 0 else 0.0


def _exposure(start: float, hours: float, k: int, period: int) -> float:
    """Hours of bin `k` (of a cycle of `period` hours) in `hours` from
    `start` (in hours since the epoch)."""
    full, rest = divmod(hours, period)
    a = start % period
    # The rest of a cycle is an arc from `a`; it may wrap past the end.
    over = sum(max(0.0, min(a + rest, k + 1 + shift) - max(a, k + shift))
               for shift in (0, period))
    return full + over


def _bin(epoch: float) -> int:
    return int(epoch // 3600) % WEEK


class Activity:
    """Every feed's History, and the request budget's current scale
    (None: no budget; see schedule.budget_scale)."""

    def __init__(self, histories: dict[str, History] | None = None) -> None:
        self.histories: dict[str, History] = histories or {}
        self.scale: float | None = None
        self.built = 0.0   # when rebuilt from the store
        self.shared = 0.0  # when the budget was last shared

    def history(self, feed: str) -> History:
        return self.histories.setdefault(feed, History())

    def estimate(self, feed: str, now: float) -> Estimate:
        return estimate(self.histories.get(feed), now)

    @classmethod
    def from_polls(cls, starts: Iterable[tuple[str, float, float]],
                   found: Iterable[tuple[str, float, float, int]]) -> Activity:
        """From the store: (feed, first poll, last poll) of each feed, and
        (feed, poll before, poll, new items) of each poll that found any,
        oldest first."""
        histories = {name: History(since=first, last_poll=first) for name, first, _ in starts}
        for name, before, at, count in found:
            if name in histories:
                histories[name].observe(at, count, before)
        for name, _, last in starts:
            histories[name].last_poll = last
        return cls(histories)
