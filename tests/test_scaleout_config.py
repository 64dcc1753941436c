"""Instances sharing one config, each with its own web endpoint, and their
reloads: `newsmonitor run` processes on the real PostgreSQL, a farm of feeds
with new items every second (tests/cluster.py).

- Two instances from one config file, `http = "${NM_HTTP}"`, each started
  with its own port: each answers on its own; a rule added to the file
  reaches both, each by its own reload (its own /metrics counts the rule's
  matches).
- A rolling reload: each instance has its own copy of the config; A gets a
  new rule set while B still runs the old one, then B: every item alerted
  exactly once all along, the new rule's items once A or B runs it.
"""

from __future__ import annotations

import re
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster import Daemon, Farm, Receivers, write_config
from tests.test_scaleout import recorded, settle
from tests.waiting import wait_for

NEW_RULE = '[[rules]]\nname = "r1"\nquery = "kw1"\nchannels = ["h1"]\n'


@pytest.fixture
def farm() -> Iterator[Farm]:
    # Each item listed for 3 cycles: those listed when a test ends were first
    # seen after its last reload (settle waits for every item listed).
    farm = Farm(40, 1.0, match_every=5, rules=2, keep=3)  # 5: kw0 and kw1 both occur
    yield farm
    farm.close()


def old_rules(path: Path) -> str:
    """The config at `path` without rule r1 (kw1's items match nothing), and
    its text with r1. A feed's first poll alerts nothing: every alert is a
    message of its own (a backlog digest lists only its first items)."""
    text = path.read_text(encoding="utf-8").replace("alert_existing = true",
                                                     "alert_existing = false")
    assert NEW_RULE in text
    path.write_text(text.replace(NEW_RULE, ""), encoding="utf-8")
    return text


def first_new_cycle(farm: Farm) -> int:
    """Wait until every feed was fetched once: the items of the cycles from
    the one returned on are new to their feed's next poll (alerted)."""
    wait_for(lambda: len(farm.hits) == farm.feeds, timeout=30)
    return farm.now_cycle() + 1


def cycle_of(guid: str) -> int:
    return int(guid.split("c")[1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def get(port: int, path: str) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return str(answer.read().decode())
    except OSError:
        return ""


def matches(port: int, rule: str) -> float:
    """newsmonitor_matches_total{rule=...} on the instance at `port`."""
    found = re.search(rf'newsmonitor_matches_total{{rule="{rule}"}} ([0-9.e+]+)',
                      get(port, "/metrics"))
    return float(found[1]) if found else 0.0


def rule_of(farm: Farm, guid: str) -> int | None:
    n, c = (int(x) for x in guid[1:].split("c"))
    return farm.rule_of(n, c)


def test_one_config_a_port_per_instance_and_a_change_reaches_each(
        tmp_path: Path, pg_schema_url: str, farm: Farm, receivers: Receivers) -> None:
    config = write_config(tmp_path, pg_schema_url, farm, receivers, interval=1.0)
    text = config.read_text(encoding="utf-8").replace(
        "[monitor]\n", '[monitor]\nhttp = "${NM_HTTP}"\n', 1)
    config.write_text(text, encoding="utf-8")
    new = old_rules(config)
    ports = [free_port(), free_port()]
    daemons = [Daemon(config, tmp_path / f"d{i}.log",
                      env={"NM_HTTP": f"127.0.0.1:{port}"}).start()
               for i, port in enumerate(ports)]
    try:
        wait_for(lambda: all(get(p, "/healthz") for p in ports), timeout=30)
        first_new_cycle(farm)
        # Which instance polls which feed is theirs to share out (one may
        # claim most of them): the instances' sums are counted, each
        # instance's reload is read in its own log.
        wait_for(lambda: sum(matches(p, "r0") for p in ports) > 0, timeout=30)
        assert all(matches(p, "r1") == 0 for p in ports)
        config.write_text(new, encoding="utf-8")  # rule r1 added
        wait_for(lambda: all(re.search(r"reloaded reason=file changed .* rules=2",
                                       (tmp_path / f"d{i}.log").read_text())
                             for i in range(2)), timeout=30)
        wait_for(lambda: sum(matches(p, "r1") for p in ports) > 0, timeout=30)
        time.sleep(4)
        owed = settle(farm, receivers, pg_schema_url)
        assert all(d.stop() == 0 for d in daemons)
    finally:
        for d in daemons:
            d.kill()
    for i in range(2):
        assert "reloaded reason=file changed" in (tmp_path / f"d{i}.log").read_text()
    got = receivers.counts()
    assert set(got) == owed and max(got.values()) == 1
    assert {rule_of(farm, g) for g in got} == {0, 1}


def test_a_rolling_reload_never_alerts_twice(
        tmp_path: Path, pg_schema_url: str, farm: Farm, receivers: Receivers) -> None:
    configs = []
    for name in "ab":
        (tmp_path / name).mkdir()
        configs.append(write_config(tmp_path / name, pg_schema_url, farm, receivers,
                                    interval=1.0))
    new = [old_rules(path) for path in configs]
    a, b = (Daemon(path, tmp_path / f"{path.parent.name}.log").start() for path in configs)
    try:
        start = first_new_cycle(farm)
        time.sleep(3)
        configs[0].write_text(new[0], encoding="utf-8")  # A runs r0 and r1, B r0 only
        time.sleep(8)
        configs[1].write_text(new[1], encoding="utf-8")  # both run r0 and r1
        time.sleep(5)
        both = farm.now_cycle() + 1  # items first listed from now on: both run r1
        time.sleep(4)
        owed = settle(farm, receivers, pg_schema_url)
        assert a.stop() == 0 and b.stop() == 0
    finally:
        a.kill()
        b.kill()
    got = receivers.counts()
    assert max(got.values()) == 1, [g for g, n in got.items() if n > 1][:5]
    assert set(got) == owed == recorded(pg_schema_url)
    # r0's items all alerted once, whoever polled them with whichever set.
    assert {g for g in farm.served if rule_of(farm, g) == 0 and cycle_of(g) >= start} <= {
        g for g in got if rule_of(farm, g) == 0}
    # r1's: all once both ran it.
    later = {g for g in farm.served if rule_of(farm, g) == 1 and cycle_of(g) >= both}
    assert later and later <= set(got)
