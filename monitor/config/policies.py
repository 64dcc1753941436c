"""The runtime policies the loader derives from the options, defaults filled in.

`PollPolicy` paces one feed (poll/schedule reads it); `FetchLimits` bounds
every poll (poll/fetcher reads it). They live here, not in poll/, because the
loader builds them once per load and config may not import poll/. Every
duration is in seconds, every size in bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from monitor.retry import backoff


@dataclass(frozen=True, slots=True, repr=False)
class FeedRequest:
    """What one feed's requests carry besides ours (its [[feeds]] `headers`,
    `username`/`password` and `proxy`, `${ENV_VAR}` substituted). Its repr
    names the headers and says whether auth and a proxy are set, no more:
    any of them may be a secret."""

    headers: tuple[tuple[str, str], ...] = ()
    username: str = ""
    password: str = ""
    proxy: str = ""

    def __repr__(self) -> str:
        names = [name for name, _ in self.headers]
        return (f"FeedRequest(headers={names}, auth={bool(self.username)}, "
                f"proxy={bool(self.proxy)})")


# A read that stalls this long is a dead connection, whatever the total timeout.
_READ_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """How one feed is paced."""

    interval: float = 900.0
    jitter: float = 0.10
    use_cache_hints: bool = True
    hint_cap: float = 24 * 3600.0
    backoff_factor: float = 2.0
    backoff_cap: float = 24 * 3600.0
    max_failures: int = 10
    start_spread: float = 300.0
    # Adaptive pacing (schedule.adaptive_interval): `interval` is then only
    # the pace of a feed with no history yet.
    adaptive: bool = False
    min_interval: float = 120.0
    max_interval: float = 3600.0


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """Bounds of every poll."""

    concurrency: int = 50
    per_host: int = 4
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    total_timeout: float = 60.0
    max_body: int = 10 * 1024 * 1024
    max_redirects: int = 5
    allow_private_networks: bool = False


@dataclass(frozen=True, slots=True)
class Pace:
    """A feed's pacing keys as resolved (its own, else [monitor]'s)."""

    interval: timedelta
    adaptive: bool = False
    min_interval: timedelta = timedelta(minutes=2)
    max_interval: timedelta = timedelta(hours=1)


def poll_policy(pace: Pace, jitter: float, honor_cache_headers: bool,
                max_backoff: timedelta, max_failures: int) -> PollPolicy:
    """A feed's policy: its pace (or [monitor]'s) and [monitor]'s other keys."""
    return PollPolicy(interval=pace.interval.total_seconds(), jitter=jitter,
                      use_cache_hints=honor_cache_headers,
                      backoff_cap=max_backoff.total_seconds(), max_failures=max_failures,
                      adaptive=pace.adaptive, min_interval=pace.min_interval.total_seconds(),
                      max_interval=pace.max_interval.total_seconds())


def fetch_limits(concurrency: int, per_host_concurrency: int, connect_timeout: timedelta,
                 timeout: timedelta, max_body: int,
                 allow_private_networks: bool = False) -> FetchLimits:
    total = timeout.total_seconds()
    return FetchLimits(concurrency=concurrency, per_host=per_host_concurrency,
                       connect_timeout=connect_timeout.total_seconds(),
                       read_timeout=min(total, _READ_TIMEOUT), total_timeout=total,
                       max_body=max_body, allow_private_networks=allow_private_networks)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How an alert a channel did not take is retried: after `first` seconds,
    doubling to `cap` (monitor.retry.backoff, the formula polls use too), or
    the service's Retry-After if longer; after `unknown` seconds when the
    send got no answer (it may have arrived: a slow webhook got one alert
    three times at the retry rate); dead `retry_for` seconds after its first
    failure ([monitor] retry_for)."""

    first: float = 30.0
    cap: float = 3600.0
    unknown: float = 3600.0
    retry_for: float = 86400.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds before attempt `attempt + 1`, after `attempt` failures."""
        return max(backoff(self.first, attempt, self.cap), retry_after or 0.0)
