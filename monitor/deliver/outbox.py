"""outbox → deliver: the one place that wires store, flood control, render
and notifier for the alerts that are due.

Each channel is its own compartment: its sends run concurrently with the
other channels', and its failure (an outage, a 429) only delays its own
alerts. Within a channel, alerts leave in outbox order; when one message
fails, the rest of that channel waits for its retry (`_backing_off`), so that
after an outage everything arrives once and in order.

Retries back off exponentially (30 s, 1 min, 2 min, ... capped at 1 h, or the
service's Retry-After) until `[monitor] retry_for` after the first failure;
then the alert is marked dead and `status` shows it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from monitor.config import Settings
from monitor.deliver import flood
from monitor.deliver.notifier import (
    ChannelSpec,
    DeliveryResult,
    Notifier,
    credentials_dir_urls,
    default_format,
    load_channels_file,
    validate_url,
)
from monitor.errors import ConfigError
from monitor.models import Priority, StoredAlert
from monitor.render import (
    Format,
    Message,
    Template,
    load_template,
    render_alert,
    render_digest,
    render_test,
)
from monitor.retry import backoff
from monitor.store import Store

log = logging.getLogger(__name__)
CLAIM_LEASE = 300.0  # seconds one tick may hold alerts it is sending (see Store)
RETRY_FIRST = 30.0
RETRY_CAP = 3600.0


class Metrics(Protocol):
    """Where delivery counts what it did (service.metrics.Metrics is one)."""

    def delivered(self, channel: str, alerts: int) -> None: ...
    def failed(self, channel: str, alerts: int) -> None: ...


@dataclass(frozen=True, slots=True)
class Channels:
    """Validated channels: spec, body format, optional template, time zone."""

    specs: Mapping[str, ChannelSpec]
    formats: Mapping[str, Format]
    templates: Mapping[str, Template | None]
    retry_for: timedelta


def build_channels(settings: Settings, environ: Mapping[str, str] | None = None) -> Channels:
    """Channel specs with URLs from the config, the channels file and systemd
    credentials; every URL validated by apprise, every template compiled.
    Raises ConfigError naming the channel (never showing a secret)."""
    import os

    env = os.environ if environ is None else environ
    problems: list[str] = []
    from_file: dict[str, list[str]] = {}
    if settings.monitor.channels_file:
        try:
            from_file = load_channels_file(settings.monitor.channels_file)
        except ConfigError as exc:
            problems += exc.problems
    specs, formats, templates = {}, {}, {}
    for name, ch in settings.channels.items():
        try:
            urls = [*ch.urls, *from_file.get(name, []), *credentials_dir_urls(name, env)]
        except ConfigError as exc:
            problems += exc.problems
            continue
        if not urls:
            problems.append(f"{settings.path}: channels.{name}: no URL (not in the config, "
                            "the channels file or the credentials directory)")
        for i, url in enumerate(urls):
            error = validate_url(url)
            if error:
                problems.append(f"{settings.path}: channels.{name}.urls[{i}]: {error}")
        spec = ChannelSpec(name=name, urls=tuple(urls),
                           format=Format(ch.format) if ch.format else None,
                           min_priority=ch.min_priority,
                           rate_limit=(ch.rate_limit[0], int(ch.rate_limit[1].total_seconds())),
                           quiet_hours=ch.quiet_hours, digest=ch.digest, timezone=ch.timezone,
                           template=str(ch.template) if ch.template else None,
                           catch_up=settings.monitor.catch_up)
        if ch.digest:
            try:
                flood.parse_digest(ch.digest, ch.timezone)
            except ConfigError as exc:
                problems.append(f"{settings.path}: channels.{name}.digest: {exc}")
        try:
            templates[name] = load_template(ch.template) if ch.template else None
        except ConfigError as exc:
            problems.append(f"{settings.path}: channels.{name}.template: {exc}")
        specs[name], formats[name] = spec, default_format(spec)
    if problems:
        raise ConfigError(problems)
    return Channels(specs, formats, templates, settings.monitor.retry_for)


async def deliver_due(store: Store, notifier: Notifier, channels: Channels,
                      now: datetime, metrics: Metrics | None = None, *,
                      retry_now: bool = False) -> int:
    """Send what is due on every channel, concurrently; returns messages sent.
    `retry_now` (run --once) also retries alerts still waiting out a backoff."""
    due = await store.claim_due_alerts(now.timestamp(), CLAIM_LEASE, retry_now=retry_now)
    by_channel: dict[str, list[StoredAlert]] = {}
    for stored in due:
        by_channel.setdefault(stored.alert.channel, []).append(stored)
    counts = await asyncio.gather(*(
        _channel(store, notifier, channels, name, alerts, now, metrics, retry_now)
        for name, alerts in by_channel.items()))
    return sum(counts)


async def _channel(store: Store, notifier: Notifier, channels: Channels, name: str,
                   alerts: Sequence[StoredAlert], now: datetime,
                   metrics: Metrics | None, retry_now: bool = False) -> int:
    spec = channels.specs.get(name)
    try:
        if spec is None:
            await _orphaned(store, channels, name, alerts, now)
            return 0
        if not retry_now and await _backing_off(store, name, now):
            return 0
        return await _send_planned(store, notifier, channels, spec, alerts, now, metrics)
    except Exception:  # compartment boundary: one channel's bug never stops the others
        log.exception("delivery crashed channel=%s", name)
        return 0
    finally:
        # What was held (quiet hours, digest, rate limit) or left after a
        # failure is free again for the next tick; sent and failed ones
        # already dropped their claim.
        await store.release([s.alert.id for s in alerts])


async def _send_planned(store: Store, notifier: Notifier, channels: Channels,
                        spec: ChannelSpec, alerts: Sequence[StoredAlert], now: datetime,
                        metrics: Metrics | None) -> int:
    window = now - timedelta(seconds=spec.rate_limit[1])
    sent = [datetime.fromtimestamp(t, UTC) for t in
            await store.sends_since(spec.name, window.timestamp())]
    by_id = {s.alert.id: s for s in alerts}
    siblings = _by_item(alerts)
    pending = [flood.Pending(first, by_id[first].alert.created or now,
                             _priority([by_id[i] for i in ids]),
                             by_id[first].alert.item.published)
               for first, ids in siblings.items()]
    plan = flood.plan(spec, sent, pending, now)
    keys = [url_key(url) for url in spec.urls]
    count = 0
    for unit in plan.deliveries:
        planned = replace(unit, alert_ids=tuple(i for first in unit.alert_ids
                                                for i in siblings[first]))
        group = [by_id[i] for i in planned.alert_ids]
        accepted = {s.alert.id: set(s.done_urls) for s in group}
        failures: list[DeliveryResult] = []
        for ids, indexes in _owed(group, keys):
            part = [by_id[i] for i in ids]
            result = await notifier.send(
                spec.name, _message(channels, spec, replace(planned, alert_ids=ids), part),
                priority=_priority(part), only=indexes)
            for url in result.results:
                if url.ok:
                    for i in ids:
                        accepted[i].add(keys[url.index])
            failures += [] if result.ok else [result]
        if failures:
            waits = [f.retry_after for f in failures if f.retry_after is not None]
            await _failed(store, channels, group, now, accepted,
                          "; ".join(f.error for f in failures if f.error) or "failed",
                          max(waits) if waits else None)
            if metrics:
                metrics.failed(spec.name, len(group))
            break  # keep this channel's order: the rest waits for the retry
        one_item = len({(s.alert.item.feed, s.alert.item.id) for s in group}) == 1
        kind = "single" if one_item and planned.kind != "summary" else planned.kind
        await store.mark_sent(planned.alert_ids, spec.name, kind, now.timestamp())
        if metrics:
            metrics.delivered(spec.name, len(group))
        count += 1
    return count


def _owed(group: Sequence[StoredAlert], keys: Sequence[str]
          ) -> list[tuple[tuple[int, ...], list[int]]]:
    """What each URL of the channel still owes: (alert ids, URL indexes) pairs.

    A URL that took some alerts of this group on an earlier attempt (the
    group was then another one: a single alert now folded into a summary,
    say) gets only the others, so nothing reaches one URL twice. Usually
    every URL owes the whole group and there is one pair; a URL that took
    everything is left out (after a crash between sending and recording,
    or when the URLs that failed were removed from the channel).
    """
    owed: dict[tuple[int, ...], list[int]] = {}
    for index, key in enumerate(keys):
        ids = tuple(s.alert.id for s in group if key not in s.done_urls)
        if ids:
            owed.setdefault(ids, []).append(index)
    return list(owed.items())


async def _backing_off(store: Store, channel: str, now: datetime) -> bool:
    """True while a failed alert of this channel waits for its retry.

    The whole channel waits with it, so that alerts arrive in order after an
    outage (the failed one is retried first). The price: an alert the
    service refuses for good holds its channel until it is dead (retry_for).
    """
    return any(s.attempts and s.next_attempt > now.timestamp()
               for s in await store.pending_alerts(channel))


def _by_item(alerts: Sequence[StoredAlert]) -> dict[int, list[int]]:
    """Alert ids grouped by item, keyed by the group's first id.

    Several rules firing on one item make one message per channel, not one
    per rule (the outbox still records each (item, rule, channel)): flood
    control sees one unit per item, and the message lists every rule.
    """
    groups: dict[tuple[str, str], list[int]] = {}
    for stored in alerts:
        groups.setdefault((stored.alert.item.feed, stored.alert.item.id), []).append(
            stored.alert.id)
    return {ids[0]: ids for ids in groups.values()}


def _message(channels: Channels, spec: ChannelSpec, planned: flood.Planned,
             group: Sequence[StoredAlert]) -> Message:
    fmt, tz = channels.formats[spec.name], ZoneInfo(spec.timezone)
    alerts = [s.alert for s in group]
    same_item = len({(a.item.feed, a.item.id) for a in alerts}) == 1
    if planned.kind == "single" or (same_item and planned.reason == "catch-up"):
        # One message for the item, saying which rule matched what.
        template = channels.templates.get(spec.name)
        try:
            return render_alert(alerts, fmt, template, tz=tz)
        except ConfigError as exc:
            # The template compiled but fails on this alert (an unknown variable,
            # say): the alert still goes out, in the default layout.
            log.warning("template failed, default layout used channel=%s error=%s",
                        spec.name, exc)
            return render_alert(alerts, fmt, None, tz=tz)
    title = {"catch-up": "catch-up: {n} older items", "quiet hours":
             "{n} alerts held during quiet hours", "digest": "digest: {n} alerts",
             "rate limit": "{n} more alerts (rate limit)"}.get(planned.reason, "{n} alerts")
    return render_digest(alerts, fmt, f"[newsmonitor] {title.format(n=len(alerts))}", tz=tz)


def _priority(group: Sequence[StoredAlert]) -> Priority:
    return max((s.alert.priority for s in group), key=lambda p: p.rank)


def url_key(url: str) -> str:
    """A short stable key for a channel URL, stored in the outbox (not the URL:
    it may hold a secret)."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


async def _orphaned(store: Store, channels: Channels, name: str,
                    alerts: Sequence[StoredAlert], now: datetime) -> None:
    """Alerts of a channel removed from the config (or renamed) fail like an
    outage: retried with backoff, so they leave once the channel is back
    (a reload), and dead `retry_for` after the first miss (shown by status
    and history), instead of waiting forever."""
    log.warning("alerts of a channel no longer configured, retried until retry_for "
                "channel=%s pending=%d", name, len(alerts))
    # Not one group: each alert keeps its own count of attempts and first failure.
    histories: dict[tuple[int, float | None], list[StoredAlert]] = {}
    for stored in alerts:
        histories.setdefault((stored.attempts, stored.first_failure), []).append(stored)
    for group in histories.values():
        await _failed(store, channels, group, now, {s.alert.id: set(s.done_urls) for s in group},
                      f"channel {name!r} is no longer in the config", None)


async def _failed(store: Store, channels: Channels, group: Sequence[StoredAlert],
                  now: datetime, accepted: Mapping[int, set[str]], error: str,
                  retry_after: float | None) -> None:
    """Back the group off (or mark it dead), each alert remembering the URLs
    that took it (`accepted`, by url_key) so that its retry skips them."""
    attempts = max(s.attempts for s in group) + 1
    delay = max(backoff(RETRY_FIRST, attempts, RETRY_CAP), retry_after or 0)
    # retry_for counts from the first failure, not from creation: an alert
    # that waited on purpose (a weekly digest, quiet hours) gets its full time.
    first = min((s.first_failure for s in group if s.first_failure is not None),
                default=now.timestamp())
    retry_at: float | None = now.timestamp() + delay
    if now.timestamp() + delay > first + channels.retry_for.total_seconds():
        retry_at = None
        log.error("alert dead after retries channel=%s alerts=%d attempts=%d error=%s",
                  group[0].alert.channel, len(group), attempts, error)
    by_done: dict[frozenset[str], list[int]] = {}
    for alert_id, urls in accepted.items():
        by_done.setdefault(frozenset(urls), []).append(alert_id)
    for done, ids in by_done.items():
        await store.mark_failed(ids, error, now.timestamp(), retry_at, done)


async def send_test(notifier: Notifier, channels: Channels, name: str) -> DeliveryResult:
    """`newsmonitor send-test CHANNEL`: one test message, per-URL results."""
    return await notifier.send(name, render_test(name, channels.formats[name]))

