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
- `HostBackoff`: a 429/503 Retry-After blocks the whole host (every feed on
  it), because the server rate-limits by client, not by URL.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from monitor.config import PollPolicy
from monitor.retry import backoff as backoff_delay
from monitor.retry import http_date


def first_poll(now: datetime, policy: PollPolicy, rng: random.Random) -> datetime:
    """A random time within min(interval, start_spread) from `now`."""
    return now + timedelta(seconds=rng.uniform(0.0, min(policy.interval, policy.start_spread)))


def after_success(
    now: datetime, policy: PollPolicy, rng: random.Random, hint: float | None = None
) -> datetime:
    """Next poll after a good fetch (200 or 304); `hint` comes from `cache_hint`."""
    delay = _jittered(policy.interval, policy.jitter, rng)
    if policy.use_cache_hints and hint is not None and hint > 0:
        delay = max(delay, min(hint, policy.hint_cap))
    return now + timedelta(seconds=delay)


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
    hints = [h for h in (_http_freshness(headers, now), feed_ttl) if h is not None and h > 0]
    return max(hints) if hints else None


def _http_freshness(headers: Mapping[str, str], now: datetime) -> float | None:
    control = headers.get("cache-control", "")
    if _NO_CACHE.search(control):
        return None
    if match := _MAX_AGE.search(control):
        return float(match.group(1))
    expires = http_date(headers.get("expires", ""))
    return (expires - now).total_seconds() if expires else None


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
