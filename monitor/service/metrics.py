"""Prometheus metrics of one daemon, in its own registry (never the global one,
so that tests and several daemons in a process do not share counters).

Counters are bumped by the daemon as polls and deliveries finish; gauges about
the outbox and the feeds are refreshed from the store on each delivery tick,
so a scrape never waits for the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from monitor.models import FeedState

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.polls = Counter("newsmonitor_polls", "Feed polls by outcome", ["outcome"],
                             registry=r)
        self.fetch_seconds = Histogram("newsmonitor_fetch_seconds", "Time one poll took",
                                       buckets=_LATENCY_BUCKETS, registry=r)
        self.items_new = Counter("newsmonitor_items_new", "New items recorded", registry=r)
        self.matches = Counter("newsmonitor_matches", "Rule matches on new items", ["rule"],
                               registry=r)
        self.alerts_sent = Counter("newsmonitor_alerts_sent", "Alerts delivered", ["channel"],
                                   registry=r)
        self.alerts_failed = Counter("newsmonitor_alerts_failed", "Failed delivery attempts",
                                     ["channel"], registry=r)
        self.alerts_pending = Gauge("newsmonitor_alerts_pending", "Alerts waiting in the outbox",
                                    ["channel"], registry=r)
        self.outbox_depth = Gauge("newsmonitor_outbox_depth", "Pending alerts, all channels",
                                  registry=r)
        self.outbox_oldest = Gauge("newsmonitor_outbox_oldest_age_seconds",
                                   "Age of the oldest pending alert", registry=r)
        self.feeds_backoff = Gauge("newsmonitor_feeds_in_backoff",
                                   "Feeds whose last poll failed", registry=r)
        self.pushes = Counter("newsmonitor_websub_pushes", "WebSub pushes by result "
                              "(recorded, or why refused)", ["result"], registry=r)
        self.verifications = Counter("newsmonitor_websub_verifications",
                                     "WebSub verifications of intent by result (the mode "
                                     "taken, or why refused)", ["result"], registry=r)
        self.feeds_disabled = Gauge("newsmonitor_feeds_disabled", "Feeds disabled (410 Gone)",
                                    registry=r)

    def poll(self, outcome: str, elapsed: float, new_items: int, rules: Iterable[str]) -> None:
        self.polls.labels(outcome).inc()
        self.fetch_seconds.observe(elapsed)
        self.items_new.inc(new_items)
        for rule in rules:
            self.matches.labels(rule).inc()

    def push(self, result: str, new_items: int = 0, rules: Iterable[str] = ()) -> None:
        """A WebSub push: its new items and matches count as a poll's do."""
        self.pushes.labels(result).inc()
        self.items_new.inc(new_items)
        for rule in rules:
            self.matches.labels(rule).inc()

    def verification(self, result: str) -> None:
        """A hub's verification of intent: `subscribe`, `unsubscribe`,
        `denied` taken, or `not asked`, `bad lease` refused."""
        self.verifications.labels(result).inc()

    def delivered(self, channel: str, alerts: int) -> None:
        self.alerts_sent.labels(channel).inc(alerts)

    def failed(self, channel: str, alerts: int) -> None:
        self.alerts_failed.labels(channel).inc(alerts)

    def refresh(self, outbox: Mapping[tuple[str, str], int], oldest_age: float | None,
                feeds: Iterable[FeedState], channels: Iterable[str]) -> None:
        for channel in channels:
            self.alerts_pending.labels(channel).set(outbox.get((channel, "pending"), 0))
        self.outbox_depth.set(sum(n for (_, state), n in outbox.items() if state == "pending"))
        self.outbox_oldest.set(oldest_age or 0.0)
        states = list(feeds)
        self.feeds_backoff.set(sum(1 for f in states if f.failures and not f.disabled))
        self.feeds_disabled.set(sum(1 for f in states if f.disabled))

    def render(self) -> bytes:
        return generate_latest(self.registry)
