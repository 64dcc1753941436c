"""outbox → deliver: the one place that wires store, flood control, render
and notifier for the alerts that are due.

Each channel is its own compartment: its sends run concurrently with the
other channels', and its failure (an outage, a 429) only delays its own
alerts. Within a channel, alerts leave in outbox order; when one message
fails, the rest of that channel waits for its retry (`_backing_off`), so that
after an outage everything arrives once and in order. A message refused for
good (an HTTP 4xx other than 408/429) is dead at once, and the rest flows;
one that got no answer may have arrived, and is retried an hour later.
Each outcome is one log line per URL (channel, rule, item, masked URL).

Retries follow the loader's `RetryPolicy` (config/policies.py): back off
exponentially (30 s, 1 min, 2 min, ... capped at 1 h, or the service's
Retry-After) until `[monitor] retry_for` after the first failure; then the
alert is marked dead and `status` shows it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Mapping, MutableSet, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from monitor.config.values import without_userinfo as mask_url
from monitor.deliver import flood, health
from monitor.deliver.channels import Channel, Channels
from monitor.deliver.notifier import DeliveryResult, Notifier
from monitor.errors import ConfigError, StoreError
from monitor.models import ChannelHealth, Priority, StoredAlert
from monitor.render import Message, render_alert, render_digest, render_test
from monitor.store import Store

log = logging.getLogger(__name__)
# Seconds one tick may hold alerts it is sending (see Store), when nothing
# renews the claim (the daemon passes [monitor] lease and renews it).
CLAIM_LEASE = 300.0
RECORD_RETRY_CAP = 5.0  # seconds between two tries to record a send the store refused
Outcome = Literal["sent", "dead", "retry"]


class Metrics(Protocol):
    """Where delivery counts what it did (service.metrics.Metrics is one)."""

    def delivered(self, channel: str, alerts: int) -> None: ...
    def failed(self, channel: str, alerts: int) -> None: ...


async def deliver_due(store: Store, notifier: Notifier, channels: Channels,
                      now: datetime, metrics: Metrics | None = None, *,
                      retry_now: bool = False, busy: MutableSet[str] | None = None,
                      lease: float = CLAIM_LEASE) -> int:
    """Send what is due on every channel, concurrently; returns messages sent.
    `retry_now` (run --once) also retries alerts still waiting out a backoff.

    `busy` holds the channels some pass is sending on now: the daemon starts
    a pass per tick without waiting for the last one, so that a slow receiver
    delays only its own channel; a busy channel's new alerts are released
    and wait for the next pass (one pass per channel keeps its order and
    rate limit)."""
    due = await store.claim_due_alerts(now.timestamp(), lease, retry_now=retry_now)
    by_channel: dict[str, list[StoredAlert]] = {}
    for stored in due:
        by_channel.setdefault(stored.alert.channel, []).append(stored)
    busy = set() if busy is None else busy
    passes = await asyncio.gather(*(
        _channel(store, notifier, channels, name, alerts, now, metrics, retry_now, busy)
        for name, alerts in by_channel.items()))
    await _watch(store, channels, dict(zip(by_channel, (sent for _, sent in passes),
                                           strict=True)), now, busy)
    return sum(count for count, _ in passes)


async def _watch(store: Store, channels: Channels, passes: Mapping[str, health.Sent | None],
                 now: datetime, busy: MutableSet[str]) -> None:
    """Raise, remind or clear each channel's health notice (see deliver.health):
    from what this pass's sends did, and from the time a failing channel
    that sent nothing now (backing off) has been failing."""
    known = await store.channel_health()
    for name in channels.by_name:
        if name not in passes and (name in busy or name not in known):
            continue  # another pass is on it, or nothing to watch
        state = known.get(name, ChannelHealth(name))
        notice, new = health.check(health.observe(state, passes.get(name), now),
                                   channels.failing_after, now)
        if new == state:
            continue
        notices = health.alerts(notice, name, channels.admin, now) if notice else []
        # Every instance watches every channel: the one whose write finds the
        # row as it was read raises the notice; the others' would repeat it.
        if not await store.save_channel_health(new, notices, now.timestamp(),
                                               known.get(name)):
            continue
        if notice:
            log.warning("channel health channel=%s state=%s notified=%s detail=%s", name,
                        notice.kind, ",".join(a.channel for a in notices) or "nobody",
                        notice.text)


async def _channel(store: Store, notifier: Notifier, channels: Channels, name: str,
                   alerts: Sequence[StoredAlert], now: datetime,
                   metrics: Metrics | None, retry_now: bool, busy: MutableSet[str]
                   ) -> tuple[int, health.Sent | None]:
    """Messages sent, and what the last send did (None: nothing was tried)."""
    if name in busy:
        await store.release([s.alert.id for s in alerts])
        return 0, None
    busy.add(name)
    channel = channels.by_name.get(name)
    try:
        if channel is None:
            await _orphaned(store, channels, name, alerts, now)
            return 0, None
        if not retry_now and await _backing_off(store, name, now):
            return 0, None
        return await _send_planned(store, notifier, channels, channel, alerts, now, metrics)
    except Exception:  # compartment boundary: one channel's bug never stops the others
        log.exception("delivery crashed channel=%s", name)
        return 0, None
    finally:
        busy.discard(name)
        # What was held (quiet hours, digest, rate limit) or left after a
        # failure is free again for the next tick; sent and failed ones
        # already dropped their claim.
        await store.release([s.alert.id for s in alerts])


async def _send_planned(store: Store, notifier: Notifier, channels: Channels,
                        channel: Channel, alerts: Sequence[StoredAlert], now: datetime,
                        metrics: Metrics | None) -> tuple[int, health.Sent | None]:
    policy = channel.settings
    since = now - policy.rate_limit[1]
    if policy.digest:
        # The digest's straggler check (flood._digest_due) needs every send
        # since the oldest alert was created, not only the rate-limit
        # window's: a poll begun before the boundary may commit its alert
        # long after the period's digest went (a slow fetch), and, seeing no
        # send, a second digest of that period went out (three instances,
        # 5 s periods, a 1 s window: two digests in two of four periods).
        since = min([since, *(s.alert.created for s in alerts if s.alert.created)])
    sent = [datetime.fromtimestamp(t, UTC) for t in
            await store.sends_since(channel.name, since.timestamp())]
    by_id = {s.alert.id: s for s in alerts}
    siblings = _by_item(alerts)
    pending = [flood.Pending(first, by_id[first].alert.created or now,
                             _priority([by_id[i] for i in ids]),
                             by_id[first].alert.item.published, by_id[first].alert.backlog)
               for first, ids in siblings.items()]
    count, last = 0, None
    for unit in flood.plan(policy, sent, pending, now).deliveries:
        planned = replace(unit, alert_ids=tuple(i for first in unit.alert_ids
                                                for i in siblings[first]))
        group = [by_id[i] for i in planned.alert_ids]
        outcome, error = await _send_unit(store, notifier, channels, channel, planned, group,
                                          now)
        last = health.Sent(outcome == "sent", error)
        if metrics:
            (metrics.delivered if outcome == "sent" else metrics.failed)(channel.name,
                                                                          len(group))
        if outcome == "retry":
            break  # keep this channel's order: the rest waits for the retry
        count += outcome == "sent"
    return count, last


async def _send_unit(store: Store, notifier: Notifier, channels: Channels, channel: Channel,
                     planned: flood.Planned, group: Sequence[StoredAlert],
                     now: datetime) -> tuple[Outcome, str]:
    """One planned message, to each URL that still owes (part of) it; the
    outcome, and the error when it failed."""
    keys = [url_key(url) for url in channel.urls]
    by_id = {s.alert.id: s for s in group}
    accepted = {s.alert.id: set(s.done_urls) for s in group}
    failures: list[DeliveryResult] = []
    for ids, indexes in _owed(group, keys):
        part = [by_id[i] for i in ids]
        result = await notifier.send(
            channel.name, _message(channel, replace(planned, alert_ids=ids), part),
            priority=_priority(part), only=indexes)
        _log_outcome(channel.name, part, result)
        for url in result.results:
            if url.ok:
                for i in ids:
                    accepted[i].add(keys[url.index])
        failures += [] if result.ok else [result]
    if not failures:
        one_item = len({(s.alert.item.feed, s.alert.item.id) for s in group}) == 1
        kind = "single" if one_item and planned.kind != "summary" else planned.kind
        await _record_sent(store, planned.alert_ids, channel.name, kind, now)
        return "sent", ""
    error = "; ".join(f.error for f in failures if f.error) or "failed"
    if all(f.permanent for f in failures):
        # Refused for good (HTTP 413, say): retrying gets the same answer, and
        # the channel's later alerts would wait behind it until retry_for.
        log.error("alert dead, refused for good channel=%s alerts=%d error=%s",
                  channel.name, len(group), error)
        await _record_failure(store, now, accepted, error, None)
        return "dead", error
    waits = [f.retry_after for f in failures if f.retry_after is not None]
    waits += [channels.retry.unknown] if any(f.unknown for f in failures) else []
    await _failed(store, channels, group, now, accepted, error, max(waits, default=None))
    return "retry", error


async def _record_sent(store: Store, ids: Sequence[int], channel: str, kind: str,
                       now: datetime) -> None:
    """Record that the channel accepted these alerts, however long the store
    refuses it (a full disk): given up, they stayed pending and were sent
    again once it took writes (issue 14). The channel waits meanwhile: its
    later alerts could not be recorded either."""
    wait = 1.0
    while True:
        try:
            return await store.mark_sent(ids, channel, kind, now.timestamp())
        except StoreError as exc:
            log.error("sent but not recorded yet, retrying channel=%s alerts=%d error=%s",
                      channel, len(ids), exc)
        await asyncio.sleep(wait)
        wait = min(wait * 2, RECORD_RETRY_CAP)


def _log_outcome(channel: str, part: Sequence[StoredAlert], result: DeliveryResult) -> None:
    """One line per URL and message: channel, rule, item, masked URL."""
    rules = ",".join(dict.fromkeys(s.alert.match.rule for s in part))
    items = list(dict.fromkeys(s.alert.item.link or s.alert.item.id for s in part))
    # An item's link is a stranger's URL: masked like a feed's (user:password@,
    # ?token=...), as every URL a log line shows.
    item = mask_url(items[0]) if len(items) == 1 else f"{len(items)} items"
    for url in result.results:
        if url.ok:
            log.info("delivered channel=%s rule=%s item=%s url=%s", channel, rules, item,
                     url.url)
        else:
            log.warning("delivery failed channel=%s rule=%s item=%s url=%s error=%s",
                        channel, rules, item, url.url, url.error)


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
    outage (the failed one is retried first). An alert the service refuses
    for good does not wait: it is dead at once (`_send_unit`).
    """
    return any(s.attempts and s.next_attempt > now.timestamp()
               for s in await store.pending_alerts(channel))


def _by_item(alerts: Sequence[StoredAlert]) -> dict[int, list[int]]:
    """Alert ids grouped by item, keyed by the group's first id.

    Several rules firing on one item make one message per channel, not one
    per rule (the outbox still records each (item, rule, channel)): flood
    control sees one unit per item, and the message lists every rule. A
    story's follow-up is a message of its own, even on an item alerted now.
    """
    groups: dict[tuple[str, str, str], list[int]] = {}
    for stored in alerts:
        alert = stored.alert
        groups.setdefault((alert.item.feed, alert.item.id, alert.note), []).append(alert.id)
    return {ids[0]: ids for ids in groups.values()}


def _message(channel: Channel, planned: flood.Planned,
             group: Sequence[StoredAlert]) -> Message:
    fmt, tz = channel.format, ZoneInfo(channel.settings.timezone)
    alerts = [s.alert for s in group]
    same_item = len({(a.item.feed, a.item.id) for a in alerts}) == 1
    if planned.kind == "single" or (same_item and planned.reason in {"catch-up", "backlog"}):
        # One message for the item, saying which rule matched what.
        template = channel.template
        try:
            return render_alert(alerts, fmt, template, tz=tz)
        except ConfigError as exc:
            # The template compiled but fails on this alert (an unknown variable,
            # say): the alert still goes out, in the default layout.
            log.warning("template failed, default layout used channel=%s error=%s",
                        channel.name, exc)
            return render_alert(alerts, fmt, None, tz=tz)
    title = {"catch-up": "catch-up: {items} older items",
             "backlog": "{items} items already in a newly added feed",
             "quiet hours": "{n} alerts held during quiet hours", "digest": "digest: {n} alerts",
             "rate limit": "{n} more alerts (rate limit)"}.get(planned.reason, "{n} alerts")
    # An item several rules matched is one alert per rule: items are counted apart.
    items = len({(a.item.feed, a.item.id) for a in alerts})
    return render_digest(alerts, fmt,
                         f"[newsmonitor] {title.format(n=len(alerts), items=items)}", tz=tz)


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
    delay = channels.retry.delay(attempts, retry_after)
    # retry_for counts from the first failure, not from creation: an alert
    # that waited on purpose (a weekly digest, quiet hours) gets its full time.
    first = min((s.first_failure for s in group if s.first_failure is not None),
                default=now.timestamp())
    retry_at: float | None = now.timestamp() + delay
    if now.timestamp() + delay > first + channels.retry.retry_for:
        retry_at = None
        log.error("alert dead after retries channel=%s alerts=%d attempts=%d error=%s",
                  group[0].alert.channel, len(group), attempts, error)
    await _record_failure(store, now, accepted, error, retry_at)


async def _record_failure(store: Store, now: datetime, accepted: Mapping[int, set[str]],
                          error: str, retry_at: float | None) -> None:
    """Mark the alerts failed (dead when `retry_at` is None), each remembering
    the URLs that took it."""
    by_done: dict[frozenset[str], list[int]] = {}
    for alert_id, urls in accepted.items():
        by_done.setdefault(frozenset(urls), []).append(alert_id)
    for done, ids in by_done.items():
        await store.mark_failed(ids, error, now.timestamp(), retry_at, done)


async def send_test(notifier: Notifier, channels: Channels, name: str) -> DeliveryResult:
    """`newsmonitor send-test CHANNEL`: one test message, per-URL results."""
    return await notifier.send(name, render_test(name, channels.by_name[name].format))

