"""When to poll a feed next: pure arithmetic over `now`, a policy and a `random.Random`.

Nothing here reads a clock, sleeps or does I/O; the pipeline passes `now` (an
aware datetime) and the scheduler acts on the datetimes returned. Durations are
seconds (float).

- success: `interval` ± `jitter`, never sooner than the publisher's cache hints
  (Cache-Control max-age, Expires, RSS <ttl>, sy:updatePeriod) when
  `use_cache_hints` is on; hints are capped at `hint_cap` so that a bogus
  "max-age=31536000" cannot silence a feed for a year.
- failure: capped exponential backoff, `interval * factor**(failures-1)`,
  at most `backoff_cap`; from `max_failures` consecutive failures on, the
  feed is polled at that slowest rate. A Retry-After is a lower bound.
- start: first polls spread over min(interval, `start_spread`) so that a
  restart with 500 feeds is not a thundering herd.
- adaptive (`policy.adaptive`, issue 18): the interval follows the feed's
  expected new items an hour (activity.estimate): `scale / sqrt(rate)`,
  within min_interval and max_interval, jitter included. The square root is
  what minimises the mean delay of all items for a given number of polls
  (Lagrange: d/dI of sum(rate_i * I_i / 2) + mu * sum(1 / I_i)); without a
  budget, `scale` makes the interval the geometric mean of `interval` and
  the feed's mean time between items; with `[monitor] max_requests_per_hour`,
  `budget_scale` solves for the scale that spends the budget.
- `HostBackoff`: a 429/503 Retry-After blocks the whole host (every feed on
  it), because the server rate-limits by client, not by URL.

Each decision comes with why (`Paced.why`), which `status` shows.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from monitor.config import PollPolicy
from monitor.poll.activity import Activity, Estimate
from monitor.retry import backoff as backoff_delay
from monitor.retry import http_date

Hint = tuple[float, str]  # seconds, and whose: "Cache-Control max-age", "feed <ttl>", ...


@dataclass(frozen=True, slots=True)
class Paced:
    """A next poll: when, the interval it stands for (no jitter), and why."""

    when: datetime
    interval: float
    why: str


def first_poll(now: datetime, policy: PollPolicy, rng: random.Random) -> datetime:
    """A random time within min(interval, start_spread) from `now`."""
    return now + timedelta(seconds=rng.uniform(0.0, min(policy.interval, policy.start_spread)))


def after_success(
    now: datetime, policy: PollPolicy, rng: random.Random, hint: float | None = None
) -> datetime:
    """Next poll after a good fetch (200 or 304); `hint` comes from `cache_hint`."""
    return next_success(now, policy, rng, (hint, "hint") if hint else None).when


def next_success(now: datetime, policy: PollPolicy, rng: random.Random,
                 hint: Hint | None = None, estimate: Estimate | None = None,
                 scale: float | None = None) -> Paced:
    """The next poll after a good fetch, by the fixed interval or, for an
    adaptive feed, by its `estimate` and the budget's `scale` (None: no
    budget); the publisher's `hint` (`cache_hint_why`) is a lower bound."""
    if policy.adaptive:
        interval, why = adaptive_interval(policy, estimate or Estimate(0.0, "no history yet"),
                                          scale)
        delay = min(max(_jittered(interval, policy.jitter, rng), policy.min_interval),
                    policy.max_interval)
    else:
        interval, why = policy.interval, "fixed interval"
        delay = _jittered(interval, policy.jitter, rng)
    if policy.use_cache_hints and hint is not None and min(hint[0], policy.hint_cap) > delay:
        delay = min(hint[0], policy.hint_cap)
        interval, why = max(interval, delay), hint[1]
    return Paced(now + timedelta(seconds=delay), interval, why)


def adaptive_interval(policy: PollPolicy, estimate: Estimate,
                      scale: float | None) -> tuple[float, str]:
    """The un-jittered interval of an adaptive feed, and why."""
    lo, hi = policy.min_interval, policy.max_interval
    if estimate.basis == "no history yet":
        return min(max(policy.interval, lo), hi), f"adaptive: {estimate}"
    why = f"adaptive: {estimate}" + ("" if scale is None else ", its share of the budget")
    if scale is None:
        scale = math.sqrt(policy.interval * 3600.0)
    raw = scale / math.sqrt(estimate.rate) if estimate.rate > 0 else math.inf
    if raw <= lo:
        return lo, f"{why}, bounded by min_interval"
    if raw >= hi:
        return hi, f"{why}, bounded by max_interval"
    return raw, why


def budget_scale(feeds: Sequence[tuple[Estimate, PollPolicy]], budget: float) -> float:
    """The scale (see adaptive_interval) at which the feeds poll `budget`
    times an hour together: fixed feeds take theirs first, adaptive feeds
    with nothing to share by theirs, and the rest share what is left, each
    by `scale / sqrt(rate)` within its bounds. 0.0: even all at
    min_interval spend less; inf: even all at max_interval spend more
    (check refuses such a budget for the configured feeds)."""
    left = budget
    free: list[tuple[float, float, float]] = []  # sqrt(rate), min, max
    for estimate, policy in feeds:
        if not policy.adaptive:
            left -= 3600.0 / policy.interval
        elif estimate.rate > 0 and estimate.basis != "no history yet":
            free.append((math.sqrt(estimate.rate), policy.min_interval, policy.max_interval))
        else:
            # Once per max_interval, as `check` counts it: a quiet feed is
            # polled so; a feed without history (no poll has succeeded yet)
            # is not paced by the budget: a new one waits for its first poll
            # (one request; then, nothing counted yet, max_interval), one
            # that only ever failed (a 404) is in backoff, from `interval`
            # doubling past max_interval. Charging it `interval` (60 an
            # hour at 1m) could take more than the whole budget, and every
            # adaptive feed fell back to max_interval under a budget that
            # `check` had accepted.
            left -= 3600.0 / policy.max_interval
    return _solve(free, left)


def share(activity: Activity, policies: Mapping[str, PollPolicy], budget: int,
          now: float) -> None:
    """Share `budget` polls an hour (0: none) among the feeds of `policies`
    (the enabled ones, by name) for the hour around `now`: sets
    `activity.scale`, which every adaptive feed's next poll then uses."""
    if not budget or not any(p.adaptive for p in policies.values()):
        activity.scale = None
    else:
        activity.scale = budget_scale(
            [(activity.estimate(name, now), p) for name, p in policies.items()], budget)
    activity.shared = now


def _solve(free: list[tuple[float, float, float]], target: float) -> float:
    """The c where sum(3600 / clamp(c / s, lo, hi)) == target: that sum
    falls as c grows and is A + B / c between two of the points where a
    feed leaves min_interval or reaches max_interval; walk those points."""
    polls = sum(3600.0 / lo for _, lo, _ in free)  # A: every feed at its bound
    if polls <= target:
        return 0.0
    points = sorted([(lo * s, 0, s, lo) for s, lo, _ in free]
                    + [(hi * s, 1, s, hi) for s, _, hi in free])
    spread = 0.0  # B: 3600 * sqrt(rate) of the feeds between their bounds
    for c, leaves, s, bound in points:
        if c > 0 and polls + spread / c <= target:
            return spread / (target - polls)
        if leaves:
            spread, polls = spread - 3600.0 * s, polls + 3600.0 / bound
        else:
            spread, polls = spread + 3600.0 * s, polls - 3600.0 / bound
    return math.inf


def after_failure(
    now: datetime,
    policy: PollPolicy,
    rng: random.Random,
    failures: int,
    retry_after: float | None = None,
) -> datetime:
    """Next poll after `failures` consecutive failures (1 for the first)."""
    delay = _jittered(backoff(policy, failures), policy.jitter, rng)
    if retry_after is not None and retry_after > 0:
        # Retry-After is the server's explicit wish: never earlier, but not
        # beyond the cap either (a "Retry-After: 1 year" would lose the feed).
        delay = max(delay, min(retry_after, policy.backoff_cap))
    return now + timedelta(seconds=delay)


def backoff(policy: PollPolicy, failures: int) -> float:
    """Un-jittered delay after `failures` consecutive failures."""
    if failures >= policy.max_failures:
        return policy.backoff_cap
    return backoff_delay(policy.interval, failures, policy.backoff_cap, policy.backoff_factor)


def _jittered(seconds: float, jitter: float, rng: random.Random) -> float:
    return seconds * (1.0 + rng.uniform(-jitter, jitter))


_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-)?max-age\s*=\s*\"?(\d+)", re.IGNORECASE)
_NO_CACHE = re.compile(r"(?:^|,)\s*(?:no-cache|no-store)\b", re.IGNORECASE)


def cache_hint(
    headers: Mapping[str, str], now: datetime, feed_ttl: float | None = None
) -> float | None:
    """The longest "do not ask before" the publisher gave, in seconds.

    `headers` are lower-case HTTP response headers; `feed_ttl` is the feed's
    own RSS <ttl> / sy:updatePeriod (parser.ParsedFeed.ttl). max-age wins
    over Expires as RFC 9111 section 5.3 says.
    """
    hint = cache_hint_why(headers, now, feed_ttl)
    return hint[0] if hint else None


def cache_hint_why(headers: Mapping[str, str], now: datetime,
                   feed_ttl: float | None = None) -> Hint | None:
    """`cache_hint`, and which of the hints it is (for `status`)."""
    hints = [h for h in (_http_freshness(headers, now), (feed_ttl, "feed <ttl>"))
             if h[0] is not None and h[0] > 0]
    if not hints:
        return None
    seconds, why = max(hints, key=lambda h: h[0] or 0.0)
    assert seconds is not None
    return seconds, why


def _http_freshness(headers: Mapping[str, str], now: datetime) -> tuple[float | None, str]:
    control = headers.get("cache-control", "")
    if _NO_CACHE.search(control):
        return None, ""
    if match := _MAX_AGE.search(control):
        return float(match.group(1)), "Cache-Control max-age"
    expires = http_date(headers.get("expires", ""))
    return ((expires - now).total_seconds() if expires else None), "Expires"


def host_key(url: str) -> str:
    """The key HostBackoff and the fetcher's per-host limit use: lower-case
    host[:port], no credentials. Never raises: a URL with a bad port (a
    server's redirect can say anything) keys on its host; the fetch itself
    then fails as it should."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        return host
    return f"{host}:{port}" if port else host


class HostBackoff:
    """Per-host "wait until": one 429/503 Retry-After blocks every feed of that host.

    The pipeline records after a 429/503 and asks before each fetch. Pure and
    in memory: a restart forgets it, which costs at most one more 429.
    """

    def __init__(self) -> None:
        self._until: dict[str, datetime] = {}

    def record(self, host: str, until: datetime) -> None:
        """Block `host` until `until`; a later block already recorded stays."""
        current = self._until.get(host)
        if current is None or until > current:
            self._until[host] = until

    def blocked_until(self, host: str, now: datetime) -> datetime | None:
        """When `host` may be asked again, or None if it may be asked now."""
        until = self._until.get(host)
        if until is None or until <= now:
            self._until.pop(host, None)
            return None
        return until
