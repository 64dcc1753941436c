"""Flood control as tables, driven by an injected clock (`now`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import pytest

from monitor.deliver.flood import (
    Pending,
    Plan,
    Planned,
    next_digest,
    parse_digest,
    plan,
    quiet_window,
)
from monitor.errors import ConfigError
from monitor.models import Priority

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)  # a Wednesday, 12:00 UTC
HIGH, NORMAL = Priority.HIGH, Priority.NORMAL
TEN_MINUTES = timedelta(seconds=600)


@dataclass(frozen=True)
class Policy:
    rate_limit: tuple[int, timedelta] = (20, timedelta(seconds=600))
    quiet_hours: tuple[time, time] | None = None
    digest: str | None = None
    timezone: str = "UTC"
    catch_up: timedelta = timedelta(hours=24)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def alerts(n: int, start: int = 1, created: datetime = T0, priority: Priority = NORMAL,
           published: datetime | None = None) -> list[Pending]:
    return [Pending(i, created, priority, published) for i in range(start, start + n)]


def singles(*ids: int) -> tuple[Planned, ...]:
    return tuple(Planned((i,), "single") for i in ids)


QUIET = (time(22, 0), time(7, 0))
NIGHT = datetime(2024, 5, 1, 23, 30, tzinfo=UTC)
MORNING = datetime(2024, 5, 2, 7, 0, tzinfo=UTC)

CASES = [
    # id, policy, sent times, pending, now, expected plan
    ("nothing pending", Policy(), [], [], T0, Plan((), None)),
    ("under the limit: singles, oldest first", Policy(), [],
     [Pending(2, at(1)), Pending(1, at(0))], at(2), Plan(singles(1, 2), None)),
    ("25 at once: 19 singles + 1 summary of 6", Policy(), [], alerts(25), T0,
     Plan((*singles(*range(1, 20)), Planned(tuple(range(20, 26)), "summary", "rate limit")),
          None)),
    ("18 sent in the window: 1 single + summary", Policy(), [at(-5)] * 18, alerts(4), T0,
     Plan((*singles(1), Planned((2, 3, 4), "summary", "rate limit")), None)),
    ("window full: wait for the oldest send to age out", Policy(rate_limit=(3, TEN_MINUTES)),
     [at(-9), at(-8), at(-1)], alerts(2), T0, Plan((), at(1))),
    ("sends older than the window do not count", Policy(rate_limit=(3, TEN_MINUTES)),
     [at(-11), at(-10), at(-10.5)], alerts(3), T0, Plan(singles(1, 2, 3), None)),
    ("high priority takes the first slot", Policy(rate_limit=(2, TEN_MINUTES)), [],
     [*alerts(2, created=at(-1)), Pending(9, T0, HIGH)], T0,
     Plan((*singles(9), Planned((1, 2), "summary", "rate limit")), None)),
    ("quiet hours hold normal alerts until 07:00", Policy(quiet_hours=QUIET), [],
     alerts(3, created=NIGHT), NIGHT, Plan((), MORNING)),
    ("quiet hours: high priority breaks through", Policy(quiet_hours=QUIET), [],
     [*alerts(2, created=NIGHT), Pending(7, NIGHT, HIGH)], NIGHT,
     Plan(singles(7), MORNING)),
    ("after quiet hours: one digest of the night", Policy(quiet_hours=QUIET), [],
     [*alerts(3, created=NIGHT), Pending(8, MORNING + timedelta(minutes=1))],
     MORNING + timedelta(minutes=2),
     Plan((Planned((1, 2, 3), "digest", "quiet hours"), *singles(8)), None)),
    ("quiet hours in the channel's timezone (Paris 22:00 = 20:00 UTC)",
     Policy(quiet_hours=QUIET, timezone="Europe/Paris"), [],
     alerts(1, created=datetime(2024, 5, 1, 20, 30, tzinfo=UTC)),
     datetime(2024, 5, 1, 20, 30, tzinfo=UTC),
     Plan((), datetime(2024, 5, 2, 5, 0, tzinfo=UTC))),
    ("daytime quiet window that does not span midnight",
     Policy(quiet_hours=(time(12, 0), time(13, 0))), [], alerts(1), at(30), Plan((), at(60))),
    ("hourly digest waits for the end of the hour", Policy(digest="1h"), [],
     alerts(2, created=at(5)), at(20), Plan((), at(60))),
    ("hourly digest sends one message at the boundary", Policy(digest="1h"), [],
     [*alerts(2, created=at(5)), Pending(3, at(59))], at(60),
     Plan((Planned((1, 2, 3), "digest", "digest"),), None)),
    ("digest: a straggler of a period already sent waits for the next",
     Policy(digest="1h"), [at(60.01)], [Pending(4, at(59.99))], at(60.02),
     Plan((), at(120))),
    ("digest: a period sent, the next one's end sends the rest", Policy(digest="1h"),
     [at(60.01)], [Pending(4, at(59.99))], at(120), Plan((Planned((4,), "digest", "digest"),),
                                                       None)),
    ("digest: an empty period sends nothing", Policy(digest="1h"), [], [], at(60),
     Plan((), None)),
    ("cron digest at 08:00 next day", Policy(digest="0 8 * * *"), [],
     alerts(1, created=at(5)), at(6), Plan((), datetime(2024, 5, 2, 8, 0, tzinfo=UTC))),
    ("cron digest fires at 08:00", Policy(digest="0 8 * * *"), [],
     alerts(2, created=at(5)), datetime(2024, 5, 2, 8, 0, tzinfo=UTC),
     Plan((Planned((1, 2), "digest", "digest"),), None)),
    ("catch-up: backlog of old items is one digest", Policy(), [],
     [*alerts(5, published=T0 - timedelta(days=3)), Pending(6, T0, NORMAL, T0)], T0,
     Plan((Planned((1, 2, 3, 4, 5), "digest", "catch-up"), *singles(6)), None)),
    ("catch-up threshold is configurable", Policy(catch_up=timedelta(hours=1)), [],
     alerts(1, published=T0 - timedelta(hours=2)), T0,
     Plan((Planned((1,), "digest", "catch-up"),), None)),
    ("a new feed's backlog, old and recent items, is one digest", Policy(), [],
     [Pending(1, T0, NORMAL, T0 - timedelta(days=3), backlog=True),
      Pending(2, T0, NORMAL, T0, backlog=True), Pending(3, T0, NORMAL, None, backlog=True)],
     T0, Plan((Planned((1, 2, 3), "digest", "backlog"),), None)),
    ("a backlog with another feed's old items: one catch-up", Policy(), [],
     [Pending(1, T0, NORMAL, T0, backlog=True), *alerts(1, 2, published=T0 - timedelta(days=3))],
     T0, Plan((Planned((1, 2), "digest", "catch-up"),), None)),
    ("published within catch_up: a single", Policy(), [],
     alerts(1, published=T0 - timedelta(hours=23)), T0, Plan(singles(1), None)),
    ("catch-up digest counts against the rate limit", Policy(rate_limit=(2, TEN_MINUTES)), [],
     [*alerts(2, published=T0 - timedelta(days=2)), *alerts(3, start=3)], T0,
     Plan((Planned((1, 2), "digest", "catch-up"),
           Planned((3, 4, 5), "summary", "rate limit")), None)),
]


@pytest.mark.parametrize(("policy", "sent", "pending", "now", "expected"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_plan(policy: Policy, sent: list[datetime], pending: list[Pending], now: datetime,
              expected: Plan) -> None:
    assert plan(policy, sent, pending, now) == expected


def test_plan_never_drops_an_alert() -> None:
    pending = [*alerts(30, published=T0 - timedelta(days=2)), *alerts(40, start=31)]
    result = plan(Policy(rate_limit=(5, TEN_MINUTES)), [at(-1)], pending, T0)
    planned = [i for unit in result.deliveries for i in unit.alert_ids]
    assert sorted(planned) == list(range(1, 71))
    assert len(result.deliveries) == 4


@pytest.mark.parametrize(("expr", "after", "expected"), [
    ("1h", at(5), at(60)),
    ("30m", at(30), at(60)),
    ("1d", at(0), datetime(2024, 5, 2, tzinfo=UTC)),
    ("*/15 * * * *", at(15), at(30)),
    ("0 8 * * 1", at(0), datetime(2024, 5, 6, 8, tzinfo=UTC)),  # crontab: 1 = Monday
    ("0 8 * * 0", at(0), datetime(2024, 5, 5, 8, tzinfo=UTC)),  # 0 = Sunday
    ("0 8 * * 7", at(0), datetime(2024, 5, 5, 8, tzinfo=UTC)),  # 7 = Sunday too
    ("0 8 * * 1-5", at(0), datetime(2024, 5, 2, 8, tzinfo=UTC)),
    ("0 8 * * 6,0", at(0), datetime(2024, 5, 4, 8, tzinfo=UTC)),  # Saturday
    ("0 8 * * */2", at(0), datetime(2024, 5, 2, 8, tzinfo=UTC)),
])
def test_next_digest(expr: str, after: datetime, expected: datetime) -> None:
    assert next_digest(expr, "UTC", after) == expected


def test_next_digest_in_local_time() -> None:
    # 08:00 in New York (EDT, UTC-4) is 12:00 UTC.
    assert next_digest("0 8 * * *", "America/New_York", at(-300)) == T0


@pytest.mark.parametrize("expr", ["", "often", "1x", "0h", "61 * * * *", "* * *"])
def test_bad_digest_is_a_config_error(expr: str) -> None:
    with pytest.raises(ConfigError, match="digest"):
        parse_digest(expr)


def test_unknown_timezone_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="timezone"):
        parse_digest("0 8 * * *", "Mars/Olympus")


@pytest.mark.parametrize(("when", "end"), [
    (datetime(2024, 5, 1, 21, 59, tzinfo=UTC), None),
    (datetime(2024, 5, 1, 22, 0, tzinfo=UTC), MORNING),
    (datetime(2024, 5, 2, 6, 59, tzinfo=UTC), MORNING),
    (MORNING, None),
])
def test_quiet_window(when: datetime, end: datetime | None) -> None:
    assert quiet_window(QUIET, "UTC", when) == end
