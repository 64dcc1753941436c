"""Flood control: which pending alerts of one channel to send now, and how. Pure.

Contract: `plan(policy, sent, pending, now)` returns the deliveries to make now
and when to look again; it never drops an alert, it only holds or folds them.
`sent` must hold the channel's sends of the rate-limit window and, on a
digest channel, every send since the oldest pending alert was created (the
straggler rule of 3 reads them).
Rules, in order:
1. Catch-up: an alert whose item was published more than `policy.catch_up`
   before the alert was created (first seen) is old news, and so is a new
   feed's backlog (its first poll's items, with `alert_existing`); all such
   alerts go out together in one digest instead of a burst (on a digest
   channel, in its next digest with the rest).
2. Quiet hours (local `start-end` in `policy.timezone`, may span midnight):
   while quiet, only high-priority alerts go out; the rest are held and leave
   as one digest once the quiet window has ended.
3. Digest channels ("1h", "30m", "1d" or a crontab line): alerts wait for the
   first period boundary after the oldest of them was created, then leave as
   one digest. Interval periods are aligned to local midnight; cron times come
   from croniter, which reads crontab(5) as cron does (Sunday is 0 and 7). An
   empty period sends nothing, since no alert is pending to form it.
4. Rate limit (`count` messages per `window`, counting `sent`): when more
   messages are due than slots are free, the last free slot carries a summary
   of all the overflow; with no free slot everything waits for the next one.
   High-priority singles are served first, then digests, then the rest by age.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from monitor.config.values import parse_duration
from monitor.errors import ConfigError
from monitor.models import Priority

Kind = Literal["single", "digest", "summary"]


class FloodPolicy(Protocol):
    """The channel settings flood control reads (config's ChannelSettings)."""

    @property
    def rate_limit(self) -> tuple[int, timedelta]: ...
    @property
    def quiet_hours(self) -> tuple[time, time] | None: ...
    @property
    def digest(self) -> str | None: ...
    @property
    def timezone(self) -> str: ...
    @property
    def catch_up(self) -> timedelta: ...


@dataclass(frozen=True, slots=True)
class Pending:
    """An undelivered alert: outbox id, when it was created (its item first
    seen), its priority, the item's published time (a hint, may be None), and
    whether it is part of a new feed's backlog (see Alert.backlog)."""

    id: int
    created: datetime
    priority: Priority = Priority.NORMAL
    published: datetime | None = None
    backlog: bool = False


@dataclass(frozen=True, slots=True)
class Planned:
    """One message to send: which alerts, rendered as one alert or a digest.
    `reason` says why alerts were grouped (catch-up, quiet, digest, rate)."""

    alert_ids: tuple[int, ...]
    kind: Kind
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Plan:
    deliveries: tuple[Planned, ...]
    next_wakeup: datetime | None


# --- schedules ----------------------------------------------------------------


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"unknown timezone {name!r}") from exc


def parse_digest(expr: str, tz: str = "UTC") -> timedelta | str:
    """"1h"-style interval, or a 5-field crontab line (returned as is, once
    checked); ConfigError otherwise."""
    if len(expr.split()) == 1:  # a duration, written as everywhere in the config
        try:
            period = parse_duration(expr)
        except ValueError as exc:
            raise ConfigError(f"digest {expr!r}: {exc}") from None
        if period <= timedelta(0):
            raise ConfigError(f"digest {expr!r}: the period must be positive")
        return period
    zone(tz)
    fields = len(expr.split())
    # croniter also takes 6- and 7-field lines (seconds, years): not crontab(5).
    why = f"expected 5 fields, got {fields}" if fields != 5 else _cron_error(expr)
    if why:
        raise ConfigError(f"digest {expr!r}: neither a period like 1h nor a crontab "
                          f"line ({why})")
    return expr


def _cron_error(expr: str) -> str:
    try:
        croniter(expr)
    except ValueError as exc:  # croniter's errors are ValueErrors
        return str(exc)
    return ""


def next_digest(expr: str, tz: str, after: datetime) -> datetime:
    """The first digest time strictly after `after`."""
    schedule = parse_digest(expr, tz)
    local = after.astimezone(zone(tz))
    if isinstance(schedule, timedelta):
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        periods = (local - midnight) // schedule + 1
        return (midnight + periods * schedule).astimezone(UTC)
    fire: datetime = croniter(schedule, local).get_next(datetime)
    return fire.astimezone(UTC)


def quiet_window(hours: tuple[time, time], tz: str, at: datetime) -> datetime | None:
    """The end of the quiet window containing `at`, or None if `at` is outside."""
    start, end = hours
    local = at.astimezone(zone(tz))
    now = local.timetz().replace(tzinfo=None)
    spans_midnight = start > end
    inside = (now >= start or now < end) if spans_midnight else start <= now < end
    if not inside:
        return None
    day = local.date() + timedelta(days=1 if spans_midnight and now >= start else 0)
    return datetime.combine(day, end, tzinfo=local.tzinfo).astimezone(UTC)


# --- the plan -------------------------------------------------------------------


def plan(policy: FloodPolicy, sent: Sequence[datetime], pending: Sequence[Pending],
         now: datetime) -> Plan:
    """What to send now for one channel; see the module docstring."""
    wakeups: list[datetime] = []
    quiet_end = _quiet_end(policy, now)
    if quiet_end is not None and any(p.priority is not Priority.HIGH for p in pending):
        wakeups.append(quiet_end)
    ready = [p for p in pending if quiet_end is None or p.priority is Priority.HIGH]
    # On a digest channel they wait for its digest with the rest: the user
    # asked for one message a period, not one more for old news.
    catch_up = [] if policy.digest else [p for p in ready if _is_catch_up(p, policy.catch_up)]
    rest = [p for p in ready if p not in catch_up]
    # A new feed's backlog alone is named so; old items mixed in make it a catch-up.
    reason = "backlog" if all(p.backlog for p in catch_up) else "catch-up"
    units = [_digest(catch_up, reason)] if catch_up else []
    if policy.digest:
        due, fire = _digest_due(policy, rest, sent, now)
        units += [_digest(due, "digest")] if due else []
        wakeups += [fire] if fire else []
    else:
        units += _after_quiet(policy, rest)
    by_id = {p.id: p for p in pending}
    ordered = sorted(units, key=lambda unit: _urgency(unit, by_id))
    deliveries, slot = _rate_limit(policy.rate_limit, sent, ordered, now)
    wakeups += [slot] if slot else []
    return Plan(deliveries, min(wakeups) if wakeups else None)


def _quiet_end(policy: FloodPolicy, now: datetime) -> datetime | None:
    if policy.quiet_hours is None:
        return None
    return quiet_window(policy.quiet_hours, policy.timezone, now)


def _is_catch_up(alert: Pending, catch_up: timedelta) -> bool:
    if alert.backlog:
        return True
    return alert.published is not None and alert.created - alert.published > catch_up


def _digest(alerts: Sequence[Pending], reason: str) -> Planned:
    ordered = sorted(alerts, key=lambda p: (p.created, p.id))
    return Planned(tuple(p.id for p in ordered), "digest", reason)


def _digest_due(policy: FloodPolicy, alerts: Sequence[Pending], sent: Sequence[datetime],
                now: datetime) -> tuple[list[Pending], datetime | None]:
    """All of `alerts` once the period of the oldest has ended, else the time
    it ends. A straggler of a period whose digest already went (a message
    sent at or after the period's end: an alert committed just after the
    digest's claim, by a poll that began before the boundary) waits for the
    next period, so that each period sends one digest, however many
    instances deliver."""
    if not alerts:
        return [], None
    assert policy.digest is not None
    oldest = min(p.created for p in alerts)
    fire = next_digest(policy.digest, policy.timezone, oldest)
    if any(at >= fire for at in sent):
        fire = next_digest(policy.digest, policy.timezone, max(sent))
    return (list(alerts), None) if fire <= now else ([], fire)


def _after_quiet(policy: FloodPolicy, alerts: Sequence[Pending]) -> list[Planned]:
    """Singles, except the non-high alerts created during quiet hours: one digest."""
    hours = policy.quiet_hours
    held = [p for p in alerts if hours and p.priority is not Priority.HIGH
            and quiet_window(hours, policy.timezone, p.created)]
    singles = [Planned((p.id,), "single") for p in alerts if p not in held]
    return singles + ([_digest(held, "quiet hours")] if held else [])


def _rate_limit(limit: tuple[int, timedelta], sent: Sequence[datetime], units: Sequence[Planned],
                now: datetime) -> tuple[tuple[Planned, ...], datetime | None]:
    """Fit `units` (most urgent first) into the free slots; the overflow
    becomes one summary in the last slot, or waits for the next free one."""
    count, window = limit
    recent = sorted(t for t in sent if now - window < t <= now)
    free = max(0, count - len(recent))
    if len(units) <= free:
        return tuple(units), None
    if free == 0:
        # The slot frees when the oldest send that keeps the window full ages out.
        return (), recent[len(recent) - count] + window
    keep, overflow = units[:free - 1], units[free - 1:]
    ids = tuple(i for unit in overflow for i in unit.alert_ids)
    return (*keep, Planned(ids, "summary", "rate limit")), None


def _urgency(unit: Planned, by_id: dict[int, Pending]) -> tuple[int, datetime, int]:
    """High-priority singles first, then digests, then singles; oldest first."""
    first = by_id[unit.alert_ids[0]]
    rank = 0 if unit.kind == "single" and first.priority is Priority.HIGH else (
        1 if unit.kind == "digest" else 2)
    return rank, min(by_id[i].created for i in unit.alert_ids), first.id
