"""Scheduling arithmetic: tables over (policy, state) → next poll window."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from monitor.config import PollPolicy
from monitor.models import FeedState
from monitor.poll.schedule import (
    HostBackoff,
    after_failure,
    after_success,
    backoff,
    cache_hint,
    first_poll,
    host_key,
)
from monitor.poll.states import held_hosts
from monitor.retry import parse_retry_after

NOW = datetime(2025, 2, 10, 12, 0, tzinfo=UTC)
POLICY = PollPolicy(interval=600, jitter=0.10, backoff_cap=3600 * 24, max_failures=10)


def seconds(when: datetime) -> float:
    return (when - NOW).total_seconds()


def test_success_jitter_stays_within_ten_percent_and_varies() -> None:
    rng = random.Random(1)
    delays = [seconds(after_success(NOW, POLICY, rng)) for _ in range(2000)]
    assert 540 <= min(delays) < 550 and 650 < max(delays) <= 660
    assert len({round(d) for d in delays}) > 50


@pytest.mark.parametrize(
    ("hint", "use_hints", "low", "high"),
    [
        (None, True, 540, 660),          # no hint: interval ± 10 %
        (60, True, 540, 660),            # a hint shorter than the interval changes nothing
        (3600, True, 3600, 3600),        # a longer hint is a lower bound
        (3600, False, 540, 660),         # ... unless hints are turned off
        (10 * 86400, True, 86400, 86400),  # a bogus week-long hint is capped at hint_cap
    ],
)
def test_cache_hint_is_a_lower_bound(
    hint: float | None, use_hints: bool, low: float, high: float
) -> None:
    policy = PollPolicy(interval=600, use_cache_hints=use_hints)
    rng = random.Random(2)
    for _ in range(200):
        assert low <= seconds(after_success(NOW, policy, rng, hint)) <= high


@pytest.mark.parametrize(
    ("failures", "expected"),
    [(1, 600), (2, 1200), (3, 2400), (5, 9600), (8, 76800), (9, 86400), (10, 86400),
     (50, 86400), (10_000, 86400)],
)
def test_backoff_doubles_up_to_the_cap(failures: int, expected: float) -> None:
    assert backoff(POLICY, failures) == expected


def test_after_n_failures_the_slowest_rate_even_below_the_cap() -> None:
    policy = PollPolicy(interval=60, backoff_cap=7200, max_failures=3)
    assert [backoff(policy, n) for n in (1, 2, 3, 4)] == [60, 120, 7200, 7200]


def test_failure_delay_is_jittered_backoff() -> None:
    rng = random.Random(3)
    delays = [seconds(after_failure(NOW, POLICY, rng, failures=3)) for _ in range(500)]
    assert min(delays) >= 2400 * 0.9 and max(delays) <= 2400 * 1.1


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("Mon, 10 Feb 2025 12:30:00 GMT", 1800.0),
        ("Mon, 10 Feb 2025 11:00:00 GMT", 0.0),   # in the past
        ("Monday, 10-Feb-25 12:01:00 GMT", 60.0),  # obsolete RFC 850 form, still accepted
        ("soon", None),
        ("", None),
        (None, None),
        ("-5", None),
    ],
)
def test_retry_after_both_forms(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, NOW) == expected


@pytest.mark.parametrize(
    ("retry_after", "low", "high"),
    [(None, 540, 660), (5, 540, 660), (7200, 7200, 7200), (10 * 86400, 86400, 86400)],
)
def test_retry_after_is_a_lower_bound_up_to_the_cap(
    retry_after: float | None, low: float, high: float
) -> None:
    rng = random.Random(4)
    for _ in range(100):
        delay = seconds(after_failure(NOW, POLICY, rng, failures=1, retry_after=retry_after))
        assert low <= delay <= high


@pytest.mark.parametrize(
    ("headers", "feed_ttl", "expected"),
    [
        ({}, None, None),
        ({"cache-control": "public, max-age=1800"}, None, 1800),
        ({"cache-control": "s-maxage=10, max-age=300"}, None, 300),
        ({"cache-control": "no-cache, max-age=300"}, None, None),
        ({"expires": "Mon, 10 Feb 2025 13:00:00 GMT"}, None, 3600),
        ({"expires": "0"}, None, None),
        ({"cache-control": "max-age=60", "expires": "Mon, 10 Feb 2025 13:00:00 GMT"}, None, 60),
        ({}, 3600, 3600),
        ({"cache-control": "max-age=60"}, 1800, 1800),
        ({"expires": "Mon, 10 Feb 2025 11:00:00 GMT"}, None, None),  # already stale
    ],
)
def test_cache_hint_from_headers_and_feed(
    headers: dict[str, str], feed_ttl: float | None, expected: float | None
) -> None:
    assert cache_hint(headers, NOW, feed_ttl) == expected


def test_first_polls_are_spread_over_min_interval_and_five_minutes() -> None:
    rng = random.Random(5)
    for interval, spread in [(60, 60), (900, 300), (86400, 300)]:
        policy = PollPolicy(interval=interval)
        delays = [seconds(first_poll(NOW, policy, rng)) for _ in range(1000)]
        assert 0 <= min(delays) < spread * 0.05 and spread * 0.95 < max(delays) <= spread


def test_host_backoff_is_shared_by_every_feed_of_the_host() -> None:
    hosts = HostBackoff()
    until = NOW + timedelta(minutes=5)
    hosts.record(host_key("https://News.Example.com/a.xml"), until)
    assert hosts.blocked_until(host_key("https://news.example.com/b.rss"), NOW) == until
    assert hosts.blocked_until(host_key("https://other.example.com/a.xml"), NOW) is None
    assert hosts.blocked_until(host_key("https://news.example.com/"), until) is None


def test_host_backoff_keeps_the_later_block() -> None:
    hosts = HostBackoff()
    hosts.record("h", NOW + timedelta(minutes=10))
    hosts.record("h", NOW + timedelta(minutes=1))
    assert hosts.blocked_until("h", NOW) == NOW + timedelta(minutes=10)


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://user:secret@Example.com:8443/feed", "example.com:8443"),
        ("http://example.com/feed", "example.com"),
    ],
)
def test_host_key(url: str, key: str) -> None:
    assert host_key(url) == key


def test_the_holds_of_a_hosts_retry_after_are_read_back_from_the_stored_states() -> None:
    """What `poll-now` reads (states.held_hosts): a 429/503's Retry-After
    and the feeds that waited with it hold their host till their next poll;
    another status's Retry-After, a backoff or a hold gone by do not."""
    def state(name: str, url: str, pace: str, status: int | None, next_poll: float) -> FeedState:
        return FeedState(name, url, url, next_poll=next_poll, pace=pace, last_status=status)

    now = 1_000_000.0
    states = [state("a", "https://Example.org/a", "Retry-After", 503, now + 600),
              state("b", "https://example.org/b", "host's Retry-After", None, now + 900),
              state("c", "https://other.example/c", "Retry-After", 500, now + 600),
              state("d", "https://third.example/d", "Retry-After", 429, now - 1),
              state("e", "https://fourth.example/e", "backoff after 2 failures", 503, now + 60)]
    assert held_hosts(states, now) == {"example.org": now + 900}
