"""Adaptive pacing's pure functions (issue 18), with a fake clock: a feed's
history → its expected items an hour → its interval, within its bounds,
under cache hints and a shared request budget."""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.config import PollPolicy, load
from monitor.errors import ConfigError
from monitor.poll.activity import Activity, Estimate, History, estimate
from monitor.poll.schedule import (
    adaptive_interval,
    after_success,
    budget_scale,
    next_success,
    share,
)
from tests import configs

# A Monday, 00:00 UTC: hour h of day d is MONDAY + d days + h hours.
MONDAY = datetime(2026, 11, 2, tzinfo=UTC).timestamp()
ADAPTIVE = PollPolicy(interval=900, jitter=0.1, adaptive=True, min_interval=60,
                      max_interval=3600)


def office_polls(days: int, per_hour: float = 6, every: float = 300) -> list[tuple[float, int]]:
    """(time, new items) of the polls, every `every` seconds for `days`
    days, of a feed that publishes `per_hour` items an hour from 9:00 to
    17:00 UTC on weekdays, none else."""
    polls, owed, t = [], 0.0, MONDAY
    while t < MONDAY + days * 86400:
        hour, weekday = int(t // 3600) % 24, int((t - MONDAY) // 86400) % 7
        owed += per_hour * every / 3600 if 9 <= hour < 17 and weekday < 5 else 0
        polls.append((t, int(owed)))
        owed -= int(owed)
        t += every
    return polls


def office_hours(days: int, per_hour: float = 6, every: float = 300) -> History:
    h = History()
    for t, n in office_polls(days, per_hour, every):
        h.observe(t, n)
    return h


def at(day: int, hour: float) -> float:
    return MONDAY + day * 86400 + hour * 3600


def test_the_profile_learns_the_hours_and_days_a_feed_publishes() -> None:
    h = office_hours(14)
    monday = estimate(h, at(14, 11))                      # Monday 11:00
    assert monday.rate == pytest.approx(6, rel=0.3) and monday.basis == "at this hour"
    assert estimate(h, at(14, 3)).rate < 0.5              # Monday 03:00
    assert estimate(h, at(12, 11)).rate < monday.rate / 3  # Saturday 11:00
    # The next hour counts: at 8:10 the 9:00 rush is expected already.
    assert estimate(h, at(14, 8.2)).rate > 3


def test_a_feed_that_starts_publishing_is_seen_at_once_and_forgotten_as_it_stops() -> None:
    h = History()
    h.observe(at(0, 0), 5)                  # the first poll: backlog, not counted
    for minute in range(10, 60 * 24, 30):   # a quiet day, polled every 30 minutes
        h.observe(at(0, 0) + minute * 60, 0)
    quiet = estimate(h, at(1, 0))
    start = at(1, 0)
    for k in range(1, 11):                  # then one item a minute, polled every 2
        h.observe(start + k * 120, 2)
    busy = estimate(h, start + 20 * 60)
    assert quiet.rate < 0.1 and busy.basis == "lately"
    assert busy.rate == pytest.approx(60, rel=0.25)
    later = [estimate(h, start + 20 * 60 + s).rate for s in (600, 1800, 3600, 3 * 3600)]
    assert later == sorted(later, reverse=True) and later[-1] < busy.rate / 4


def test_the_interval_follows_the_rate_within_the_bounds_and_says_why() -> None:
    def paced(rate: float, basis: str = "at this hour") -> tuple[float, str]:
        return adaptive_interval(ADAPTIVE, Estimate(rate, basis), None)

    # The geometric mean of `interval` and the time between items.
    assert paced(4)[0] == pytest.approx(900)        # one item per interval: the interval
    assert paced(16)[0] == pytest.approx(450)
    assert paced(1) == (pytest.approx(1800), "adaptive: ~1 items/h at this hour")
    assert paced(3600, "lately") == (60, "adaptive: ~3600 items/h lately, "
                                         "bounded by min_interval")
    assert paced(0.01) == (3600, "adaptive: ~0.01 items/h at this hour, "
                                 "bounded by max_interval")
    assert paced(0.0)[0] == 3600
    assert paced(0.0, "no history yet") == (900, "adaptive: no history yet")


def test_jitter_never_takes_an_adaptive_feed_past_its_bounds() -> None:
    rng = random.Random(3)
    now = datetime.fromtimestamp(MONDAY, UTC)
    for rate in (0.0, 0.01, 4.0, 1000.0):
        for _ in range(300):
            paced = next_success(now, ADAPTIVE, rng, None, Estimate(rate, "lately"))
            assert 60 <= (paced.when - now).total_seconds() <= 3600


def test_cache_hints_stay_lower_bounds_and_are_named() -> None:
    now = datetime.fromtimestamp(MONDAY, UTC)
    busy = Estimate(1000.0, "lately")
    rng = random.Random(4)
    paced = next_success(now, ADAPTIVE, rng, (600.0, "Cache-Control max-age"), busy)
    assert (paced.when - now).total_seconds() == 600
    assert (paced.interval, paced.why) == (600, "Cache-Control max-age")
    # A hint shorter than the adaptive interval changes nothing.
    paced = next_success(now, ADAPTIVE, rng, (30.0, "feed <ttl>"), busy)
    assert paced.why.endswith("bounded by min_interval")


def test_a_fixed_feed_polls_exactly_as_before() -> None:
    """adaptive = false: next_success is after_success, draw for draw."""
    fixed = replace(ADAPTIVE, adaptive=False)
    now = datetime.fromtimestamp(MONDAY, UTC)
    a, b = random.Random(5), random.Random(5)
    for hint in (None, 1200.0, None, 30.0):
        paced = next_success(now, fixed, a, (hint, "x") if hint else None,
                             Estimate(500.0, "lately"), scale=1.0)
        assert paced.when == after_success(now, fixed, b, hint)
    assert next_success(now, fixed, a).why == "fixed interval"


@pytest.mark.parametrize("budget", [1500, 4000, 10_000])
def test_the_budget_is_spent_exactly_and_where_items_are_likely(budget: int) -> None:
    rng = random.Random(budget)
    feeds = [(Estimate(rng.lognormvariate(-1, 2.2), "at this hour"), ADAPTIVE)
             for _ in range(1000)]
    scale = budget_scale(feeds, budget)
    intervals = [adaptive_interval(p, e, scale)[0] for e, p in feeds]
    assert sum(3600 / i for i in intervals) == pytest.approx(budget, rel=1e-9)
    assert all(60 <= i <= 3600 for i in intervals)
    by_rate = [i for _, i in sorted(zip([e.rate for e, _ in feeds], intervals, strict=True))]
    assert by_rate == sorted(by_rate, reverse=True)   # busier feeds, shorter intervals


def test_a_budget_too_large_or_too_small_for_the_bounds() -> None:
    feeds = [(Estimate(r, "at this hour"), ADAPTIVE) for r in (0.5, 5.0, 50.0)]
    assert budget_scale(feeds, 1_000_000) == 0.0      # all at min_interval
    assert budget_scale(feeds, 2) == math.inf        # all at max_interval
    # Fixed feeds take their share first: two at 15m leave 8 polls less.
    fixed = replace(ADAPTIVE, adaptive=False)
    with_fixed = [*feeds, (Estimate(0, "no history yet"), fixed),
                  (Estimate(0, "no history yet"), fixed)]
    scale = budget_scale(with_fixed, 60)
    assert sum(3600 / adaptive_interval(p, e, scale)[0] for e, p in feeds) == pytest.approx(52)


def test_share_sets_the_scale_for_the_enabled_feeds_by_the_clock() -> None:
    activity = Activity({"busy": office_hours(7, per_hour=12), "quiet": office_hours(7, 1)})
    policies = {"busy": ADAPTIVE, "quiet": ADAPTIVE}
    share(activity, policies, 0, at(7, 11))
    assert activity.scale is None and activity.shared == at(7, 11)
    share(activity, policies, 10, at(7, 11))
    scale = activity.scale
    assert scale is not None
    rates = {n: activity.estimate(n, at(7, 11)) for n in policies}
    assert sum(3600 / adaptive_interval(ADAPTIVE, e, scale)[0]
               for e in rates.values()) == pytest.approx(10)
    (busy, why), (quiet, _) = (adaptive_interval(ADAPTIVE, rates[n], scale)
                               for n in ("busy", "quiet"))
    assert busy < quiet and why.endswith("items/h at this hour, its share of the budget")


def test_the_history_rebuilt_from_the_polls_is_the_one_learned() -> None:
    """What the daemon rebuilds from the store's polls at a restart."""
    learned = office_hours(10)
    polls = office_polls(10)
    found = [("f", before, now, n) for (before, _), (now, n) in itertools.pairwise(polls) if n]
    rebuilt = Activity.from_polls([("f", polls[0][0], polls[-1][0])], found)
    now = at(10, 10)
    assert rebuilt.estimate("f", now) == estimate(learned, now)
    assert rebuilt.histories["f"].bins == learned.bins
    assert rebuilt.estimate("unknown", now) == Estimate(0.0, "no history yet")
    assert timedelta(seconds=now - MONDAY).days == 10


# The reviewer's config: interval 1m, bounds 30s..10m, 20 polls an hour.
SMALL = PollPolicy(interval=60, jitter=0.1, adaptive=True, min_interval=30, max_interval=600)


def busy_static_and(*others: Estimate) -> list[tuple[Estimate, PollPolicy]]:
    """A feed with ~180 items/h, one that never changes, and `others`."""
    return [(Estimate(180.0, "lately"), SMALL), (Estimate(0.0, "at this hour"), SMALL),
            *((e, SMALL) for e in others)]


def test_a_feed_without_history_is_charged_once_per_max_interval() -> None:
    """A feed no poll has succeeded on yet (new, or answering 404 since it
    was added: in backoff, not paced by the budget) costs the budget what
    `check` counts it at, once per max_interval; it was charged at its
    `interval` (60 an hour here, more than the whole budget), which sent
    every adaptive feed to max_interval."""
    alone = budget_scale(busy_static_and(), 20)
    assert adaptive_interval(SMALL, Estimate(180.0, "lately"), alone) == pytest.approx(
        (3600 / 14, "adaptive: ~180 items/h lately, its share of the budget"))
    scale = budget_scale(busy_static_and(Estimate(0.0, "no history yet")), 20)
    interval, why = adaptive_interval(SMALL, Estimate(180.0, "lately"), scale)
    # 20 - 6 (static) - 6 (the feed without history) = 8 polls an hour left.
    assert (interval, why) == (pytest.approx(450), "adaptive: ~180 items/h lately, "
                                                   "its share of the budget")


def test_the_scheduler_can_keep_every_budget_check_accepts(tmp_path: Path) -> None:
    """`check` and `share` count the same floor (each adaptive feed once
    per max_interval, a fixed one once per interval): a feed with items
    and a quiet one, two without history (new; answering 404) and a fixed
    one at 15m need 28 polls an hour; of a budget of 36 the busy feed gets
    the 8 over that floor and its own 6, not max_interval. A budget of 27
    check refuses."""
    names = ("busy", "quiet", "new", "404")
    feeds = [{"name": n, "url": f"https://example.org/{n}.xml"} for n in names]
    feeds.append({"name": "fixed", "url": "https://example.org/fixed.xml", "adaptive": False,
                  "interval": "15m"})
    monitor = {"adaptive": True, "interval": "1m", "min_interval": "30s",
               "max_interval": "10m", "default_channels": ["c"]}
    settings = load(configs.write(tmp_path, monitor={**monitor, "max_requests_per_hour": 36},
                                  channels={"c": "console://"}, feeds=feeds), {})
    policies = {f.name: f.policy for f in settings.feeds}
    activity = Activity({n: History(since=at(0, 9), last_poll=at(0, 10)) for n in names[:2]})
    activity.history("busy").observe(at(0, 10.1), 30)
    share(activity, policies, 36, at(0, 10.1))
    busy = adaptive_interval(policies["busy"], activity.estimate("busy", at(0, 10.1)),
                             activity.scale)
    assert busy == (pytest.approx(3600 / 14), "adaptive: ~300 items/h lately, "
                                              "its share of the budget")
    with pytest.raises(ConfigError, match="27 is less than the 28 polls"):
        load(configs.write(tmp_path, monitor={**monitor, "max_requests_per_hour": 27},
                           channels={"c": "console://"}, feeds=feeds), {})
