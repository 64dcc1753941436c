"""Telling an outage of our own network (or DNS) from the publishers' failures.

`OutageWatch` is fed every network poll's outcome by the poll compartment;
when our network comes back after an outage, the feeds that could not
connect meanwhile are polled at once instead of waiting out their backoff.
`victims` names them from the stored states. Pure and in memory, apart from
`seed`, which reads stored states after a restart.
"""

from __future__ import annotations

from collections.abc import Iterable

from monitor.models import FeedState
from monitor.poll.schedule import host_key

# Failures that say "could not reach the server", which a local network or
# DNS outage causes on every feed at once (errors.FetchError categories).
UNREACHABLE = frozenset({"connection", "timeout"})


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
