"""Publication-to-poll delay: fixed 15-minute polls against adaptive pacing
at the same number of requests (issue 18).

    python bench/latency.py [--feeds 1000] [--days 14] [--seed 1]

A simulation with a fake clock and a fake fetcher, through the daemon's
own scheduling code: `schedule.first_poll`, `schedule.next_success` (the
function `states.scheduled` calls after every good poll), `History.observe`
and `activity.estimate` (what the pipeline learns and asks after each
poll), and `schedule.share` every RESHARE_EVERY (the daemon's pace tick).
A poll at t "fetches" the items its feed published since its last poll;
each item's delay is t minus its publication. The first poll of a feed
finds its backlog: not news, not counted (the daemon alerts none of it).

The feeds (PARAMETERS below; the README's "Adaptive polling" says why
these): each feed's mean rate, items a day, is drawn from a log-normal
(median 0.5 a day, sigma 2.4: half the feeds publish fewer than 3.5 items
a week, about 1.4 % publish 100 or more a day and 0.6 % 200 or more; capped
at 500); 90 % of its items follow a
day/night rhythm (a cosine of amplitude 0.8 peaking at 14:00 in the feed's
zone, zones spread from UTC-8 to UTC+9; weekends at half rate), 10 % come
in bursts (a burst: 1 + a geometric number of items, mean 5, within 30
minutes, bursts themselves following the rhythm).

Two strategies, over the same publications:
- fixed: every feed `interval = 15m`, `adaptive = false` (jitter 10 %);
- adaptive: `adaptive = true` with the default bounds (min_interval 2m,
  max_interval 1h, interval 15m as the pace before any history) and
  `max_requests_per_hour` = what fixed spends (feeds * 4).

It prints, per strategy, requests an hour and the median and p90 delay
over all items (and, for information, the median over feeds of each
feed's median delay), then checks the targets: adaptive halves the median
delay at equal or fewer requests, and no feed waits longer than
max_interval between two polls. Exit 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import bisect
import heapq
import math
import os
import random
import statistics
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root

from monitor.config import PollPolicy
from monitor.poll.activity import RESHARE_EVERY, Activity
from monitor.poll.schedule import first_poll, next_success, share


@dataclass(frozen=True)
class Parameters:
    """The publishers simulated (see the module docstring and the README)."""

    rate_median_per_day: float = 0.5
    rate_sigma: float = 2.4
    rate_cap_per_day: float = 500.0
    rhythm_amplitude: float = 0.8
    rhythm_peak_hour: float = 14.0
    zones: tuple[int, int] = (-8, 9)
    weekend_factor: float = 0.5
    burst_share: float = 0.10
    burst_mean_items: float = 5.0
    burst_minutes: float = 30.0


PARAMETERS = Parameters()
START = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday
FIXED = PollPolicy(interval=900.0)
ADAPTIVE = PollPolicy(interval=900.0, adaptive=True, min_interval=120.0, max_interval=3600.0)


def intensity(t: float, zone: int) -> float:
    """The rhythm's factor at epoch `t` for a feed in UTC+zone (mean ~1)."""
    k, local = PARAMETERS, t + zone * 3600
    hour = (local % 86400) / 3600
    weekday = int((local - START.timestamp()) // 86400) % 7
    day = 1 + k.rhythm_amplitude * math.cos(2 * math.pi * (hour - k.rhythm_peak_hour) / 24)
    return day * (k.weekend_factor if weekday >= 5 else 1.0)


def rhythmic(rng: random.Random, per_day: float, zone: int, start: float, end: float
             ) -> list[float]:
    """Times of a Poisson process of `per_day` a day shaped by the rhythm
    (thinning: candidates at the peak rate, kept by the rhythm's factor)."""
    peak = 1 + PARAMETERS.rhythm_amplitude
    rate = per_day / 86400 * peak
    times: list[float] = []
    t = start
    while rate > 0:
        t += rng.expovariate(rate)
        if t >= end:
            return times
        if rng.random() * peak < intensity(t, zone):
            times.append(t)
    return times


def publications(rng: random.Random, start: float, end: float) -> list[float]:
    """One feed's publication times, sorted."""
    k = PARAMETERS
    per_day = min(rng.lognormvariate(math.log(k.rate_median_per_day), k.rate_sigma),
                  k.rate_cap_per_day)
    zone = rng.randint(*k.zones)
    times = rhythmic(rng, per_day * (1 - k.burst_share), zone, start, end)
    extra = 1 / k.burst_mean_items  # 1 + a geometric count of mean burst_mean_items - 1
    for burst in rhythmic(rng, per_day * k.burst_share / k.burst_mean_items, zone, start, end):
        size = 1 + int(math.log(1.0 - rng.random()) / math.log(1 - extra))
        times += [burst + rng.uniform(0, k.burst_minutes * 60) for _ in range(size)]
    return sorted(t for t in times if t < end)


@dataclass
class Result:
    polls: int = 0
    delays: list[float] = field(default_factory=list)
    feed_medians: list[float] = field(default_factory=list)
    longest_gap: float = 0.0


def simulate(feeds: list[list[float]], policy: PollPolicy, budget: int, start: float,
             end: float, seed: int) -> Result:
    """Every feed polled from `start` to `end` as the daemon would."""
    rng, activity, result = random.Random(seed), Activity(), Result()
    names = [f"f{i}" for i in range(len(feeds))]
    policies = dict.fromkeys(names, policy)
    now = datetime.fromtimestamp(start, UTC)
    queue = [(first_poll(now, policy, rng).timestamp(), i) for i in range(len(feeds))]
    queue.append((start, -1))  # -1: the budget's share
    heapq.heapify(queue)
    last: list[float | None] = [None] * len(feeds)
    found = [0] * len(feeds)
    per_feed: list[list[float]] = [[] for _ in feeds]
    while queue:
        t, i = heapq.heappop(queue)
        if t >= end:
            break
        if i < 0:
            share(activity, policies, budget, t)
            heapq.heappush(queue, (t + RESHARE_EVERY, -1))
            continue
        result.polls += 1
        upto, before = bisect.bisect_right(feeds[i], t), last[i]
        if before is not None:
            per_feed[i] += [t - p for p in feeds[i][found[i]:upto]]
            result.longest_gap = max(result.longest_gap, t - before)
        new = upto - found[i] if before is not None else 0
        found[i], last[i] = upto, t
        activity.history(names[i]).observe(t, new)
        paced = next_success(datetime.fromtimestamp(t, UTC), policy, rng, None,
                             activity.estimate(names[i], t), activity.scale)
        heapq.heappush(queue, (paced.when.timestamp(), i))
    # The wait of each feed since its last poll counts too.
    result.longest_gap = max([result.longest_gap, *(end - t for t in last if t is not None)])
    result.delays = [d for feed in per_feed for d in feed]
    result.feed_medians = [statistics.median(f) for f in per_feed if f]
    return result


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(name: str, r: Result, hours: float) -> str:
    return (f"{name:9} requests/h {r.polls / hours:8.1f}   delay median "
            f"{statistics.median(r.delays) / 60:5.2f} min  p90 {p(r.delays, 0.9) / 60:6.2f} min"
            f"   (feeds' median of medians {statistics.median(r.feed_medians) / 60:5.1f} min;"
            f" longest wait between polls {r.longest_gap / 60:5.1f} min)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--days", type=float, default=14)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    start = START.timestamp()
    end = start + args.days * 86400
    rng = random.Random(args.seed)
    feeds = [publications(rng, start, end) for _ in range(args.feeds)]
    rates = sorted(len(f) / args.days for f in feeds)
    print(f"{args.feeds} feeds, {args.days:g} days, {sum(map(len, feeds))} items; items a day "
          f"per feed: median {statistics.median(rates):.2f}, p90 {p(rates, 0.9):.1f}, "
          f"max {rates[-1]:.0f}; {sum(r >= 100 for r in rates)} feeds >= 100/day, "
          f"{sum(r < 1 for r in rates)} < 1/day")
    print(f"parameters: {PARAMETERS}")
    budget = round(args.feeds * 3600 / FIXED.interval)
    hours = args.days * 24
    fixed = simulate(feeds, FIXED, 0, start, end, args.seed)
    print(report("fixed 15m", fixed, hours))
    adaptive = simulate(feeds, ADAPTIVE, budget, start, end, args.seed)
    print(report("adaptive", adaptive, hours) + f"  [budget {budget}/h]")
    halved = statistics.median(adaptive.delays) <= statistics.median(fixed.delays) / 2
    cheaper = adaptive.polls <= fixed.polls
    fed = adaptive.longest_gap <= ADAPTIVE.max_interval + 1e-6
    print(f"targets: median delay halved: {'yes' if halved else 'NO'}; requests <= fixed: "
          f"{'yes' if cheaper else 'NO'} ({adaptive.polls} vs {fixed.polls}); every feed "
          f"polled at least every max_interval (1h): {'yes' if fed else 'NO'}")
    print(f"load average after: {os.getloadavg()}")
    return 0 if halved and cheaper and fed else 1


if __name__ == "__main__":
    sys.exit(main())
