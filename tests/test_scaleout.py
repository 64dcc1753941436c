"""Three `newsmonitor run` processes on the real PostgreSQL, 300 feeds on a
loopback server with new items every cycle (tests/cluster.py): every
matching item alerted exactly once in total, each feed fetched at most once
per interval; one instance killed with SIGKILL again and again: nothing
lost, duplicates only for the deliveries it had in flight, its feeds taken
over within instance_timeout plus a tick; a digest channel shared by the
three sends one digest per period. The long runs are bench/scale.py's."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.cluster import Daemon, Farm, Receivers, write_config

FEEDS, INTERVAL, CYCLES = 300, 2, 10
TIMEOUT = 5.0  # instance_timeout in write_config
TICK = 1.0     # the heartbeat and dispatch ticks


@pytest.fixture
def farm() -> Iterator[Farm]:
    farm = Farm(FEEDS, INTERVAL)
    yield farm
    farm.close()


@pytest.fixture
def receivers() -> Iterator[Receivers]:
    receivers = Receivers()
    yield receivers
    receivers.close()


def settle(farm: Farm, receivers: Receivers, timeout: float = 40) -> None:
    """Freeze the farm and wait until everything it served has arrived."""
    farm.freeze()
    assert farm.served, "no feed was fetched"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if farm.served <= set(receivers.counts()):
            time.sleep(2 * TICK)  # a duplicate in flight would arrive by now
            return
        time.sleep(0.5)
    missing = farm.served - set(receivers.counts())
    raise AssertionError(f"{len(missing)} of {len(farm.served)} items never alerted, "
                         f"e.g. {sorted(missing)[:5]}")


def claims_of(url: str, instance: str) -> tuple[list[int], int]:
    """The feeds (numbers) and the pending alerts `instance` holds."""
    with psycopg.connect(url) as conn:
        feeds = [int(n[1:]) for (n,) in conn.execute(
            "SELECT name FROM feeds WHERE claimed_by = %s", [instance])]
        (alerts,) = conn.execute("SELECT count(*) FROM alerts WHERE claimed_by = %s "
                                 "AND state = 'pending'", [instance]).fetchone() or (0,)
    return feeds, int(alerts)


def test_three_instances_alert_every_item_once(tmp_path: Path, pg_schema_url: str,
                                               farm: Farm, receivers: Receivers) -> None:
    config = write_config(tmp_path, pg_schema_url, farm, receivers, interval=INTERVAL)
    daemons = [Daemon(config, tmp_path / f"d{i}.log").start() for i in range(3)]
    try:
        time.sleep(CYCLES * INTERVAL + 3)
        settle(farm, receivers)
        assert all(d.stop() == 0 for d in daemons)
    finally:
        for d in daemons:
            d.kill()
    got = receivers.counts()
    assert farm.now_cycle() >= CYCLES
    assert set(got) == farm.served and max(got.values()) == 1, \
        [g for g, n in got.items() if n > 1][:5]
    # At most once per interval, counted at the server (jitter = 0).
    assert farm.min_gap() >= INTERVAL * 0.9, farm.min_gap()
    polled = sum(len(times) for times in farm.hits.values())
    assert polled >= FEEDS * CYCLES / 2, polled  # the three kept up


def test_an_instance_killed_again_and_again_loses_nothing(
        tmp_path: Path, pg_schema_url: str, farm: Farm, receivers: Receivers) -> None:
    config = write_config(tmp_path, pg_schema_url, farm, receivers, interval=INTERVAL)
    daemons = [Daemon(config, tmp_path / f"d{i}.log").start() for i in range(3)]
    rng, kills, in_flight, takeovers = random.Random(15), 0, 0, list[float]()
    pending: list[tuple[float, list[int]]] = []
    try:
        time.sleep(3)
        while kills < 20:
            time.sleep(rng.uniform(0.5, 2.0))
            victim = rng.randrange(3)
            instance = daemons[victim].instance
            daemons[victim].kill()
            killed_at = time.monotonic()
            feeds, alerts = claims_of(pg_schema_url, instance)
            kills, in_flight = kills + 1, in_flight + alerts
            pending.append((killed_at, feeds))
            daemons[victim] = Daemon(config, tmp_path / f"d{victim}.log").start()
        settle(farm, receivers)
        for killed_at, feeds in pending:
            takeovers += [(farm.first_hit_after(n, killed_at) or float("inf")) - killed_at
                          for n in feeds]
        assert all(d.stop() == 0 for d in daemons)
    finally:
        for d in daemons:
            d.kill()
    got = receivers.counts()
    duplicates = sum(n - 1 for n in got.values())
    print(f"kills={kills} duplicates={duplicates} in_flight_at_kills={in_flight} "
          f"takeovers={len(takeovers)} max_takeover={max(takeovers, default=0):.2f}s")
    assert set(got) == farm.served  # nothing lost
    assert duplicates <= in_flight
    assert max(takeovers, default=0) <= TIMEOUT + 2 * TICK + 1.0, sorted(takeovers)[-5:]


def test_a_digest_channel_shared_by_three_instances_sends_one_digest_per_period(
        tmp_path: Path, pg_schema_url: str, receivers: Receivers) -> None:
    farm = Farm(30, 1.0, match_every=1, rules=1)
    try:
        config = write_config(tmp_path, pg_schema_url, farm, receivers, interval=1.0,
                              channel_extra='digest = "5s"')
        daemons = [Daemon(config, tmp_path / f"d{i}.log").start() for i in range(3)]
        try:
            time.sleep(18)
            farm.freeze()
            time.sleep(7)
            assert all(d.stop() == 0 for d in daemons)
        finally:
            for d in daemons:
                d.kill()
    finally:
        farm.close()
    got = receivers.counts()
    assert set(got) <= farm.served and max(got.values()) == 1
    # 25 s of 5 s periods: one message each (a period with no alert sends none).
    assert 3 <= receivers.messages <= 6, receivers.messages
