"""Our own network goes down and comes back: the feeds that could not
connect meanwhile are polled at once, not after their backoff."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from monitor.cli import main
from monitor.models import FeedState
from monitor.poll.outage import OutageWatch, victims
from monitor.service.daemon import Daemon
from monitor.service.runtime import build_runtime
from monitor.store import Store
from tests import configs
from tests.loopback import LoopbackServer, loopback
from tests.servers import Gate, rss
from tests.waiting import until

T = 1_800_000_000.0


def state(name: str, host: str, *, failures: int = 1, category: str | None = "connection",
          last_poll: float = T, last_success: float | None = None,
          disabled: str | None = None) -> FeedState:
    return FeedState(name=name, url=f"https://{host}/f", current_url=f"https://{host}/f",
                     failures=failures, error_category=category if failures else None,
                     last_poll=last_poll, last_success=last_success, disabled=disabled)


def url(host: str) -> str:
    return f"https://{host}/feed"


def test_a_run_of_unreachable_hosts_ended_by_any_answer_is_an_outage() -> None:
    watch = OutageWatch(min_hosts=3, min_span=2)
    # Polls end in any order: the run starts with the earliest poll start.
    for started, host in [(T + 1, "a"), (T, "b"), (T + 2, "a"), (T + 3, "c")]:
        assert watch.observe(url(host), "error", "connection", started) is None
    assert watch.observe(url("d"), "skipped", None, T + 5) is None  # no request made
    # The first poll that reaches a server, any feed's, ends it.
    assert watch.observe(url("healthy"), "not_modified", None, T + 9) == T
    assert watch.observe(url("e"), "new", None, T + 10) is None  # over: reset


def test_what_is_not_an_outage_of_ours() -> None:
    watch = OutageWatch(min_hosts=3, min_span=0)
    watch.observe(url("a"), "error", "connection", T)
    watch.observe(url("b"), "error", "timeout", T + 1)
    assert watch.observe(url("c"), "new", None, T + 2) is None  # two hosts: theirs
    watch.observe(url("a"), "error", "connection", T + 3)
    watch.observe(url("b"), "error", "connection", T + 4)
    # A server answered (with an error): the network was up.
    assert watch.observe(url("c"), "error", "http", T + 5) is None
    watch.observe(url("d"), "error", "connection", T + 6)
    assert watch.observe(url("e"), "new", None, T + 7) is None  # d alone since


def test_dead_publishers_failing_together_are_not_an_outage_nor_swept_in_a_loop() -> None:
    watch = OutageWatch(min_hosts=3, min_span=120, quiet=3600)
    for host in "abc":  # a restart polls three dead domains at once
        watch.observe(url(host), "error", "connection", T)
    assert watch.observe(url("ok"), "new", None, T + 1) is None  # a burst, not an outage
    for minute, host in enumerate("abcd"):  # a real outage: four minutes of failures
        watch.observe(url(host), "error", "connection", T + 60 * minute)
    assert watch.observe(url("ok"), "new", None, T + 300) == T
    for minute, host in enumerate("abcd"):  # the dead ones fail again after the sweep
        watch.observe(url(host), "error", "connection", T + 301 + 60 * minute)
    assert watch.observe(url("ok"), "new", None, T + 600) is None  # within `quiet`
    for minute, host in enumerate("abcd"):
        watch.observe(url(host), "error", "connection", T + 3900 + 60 * minute)
    assert watch.observe(url("ok"), "new", None, T + 4200) == T + 3900


def test_an_outage_a_restart_interrupted_is_picked_up() -> None:
    states = [state("a", "a.example", last_poll=T + 5, last_success=T - 900),
              state("b", "b.example", last_poll=T + 3), state("c", "c.example", last_poll=T + 9),
              state("ok", "d.example", failures=0, last_success=T)]
    watch = OutageWatch(min_hosts=3, min_span=1)
    watch.seed(states)
    assert watch.observe(url("x"), "new", None, T + 60) == T + 3
    later = [*states, state("fresh", "e.example", failures=0, last_success=T + 6)]
    watch = OutageWatch(min_hosts=3, min_span=1)
    watch.seed(later)  # a feed succeeded after two of the failures: no outage in progress
    assert watch.observe(url("x"), "new", None, T + 60) is None


def test_victims_are_the_feeds_that_could_not_connect_since() -> None:
    states = [state("b", "b.example", last_poll=T + 1), state("c", "c.example", last_poll=T),
              state("old", "c.example", last_poll=T - 1),
              state("http", "d.example", category="http"),
              state("gone", "e.example", disabled="410 Gone"),
              state("ok", "f.example", failures=0)]
    assert victims(states, T) == ["b", "c"]


def write_config(tmp_path: Path, gates: dict[str, Gate], hook: str) -> Path:
    """Feeds a, b, c polled hourly and d every second, each behind its gate."""
    return configs.write(
        tmp_path,
        monitor={"database": tmp_path / "db.sqlite3", "default_channels": ["hook"],
                 "jitter": 0.0, "connect_timeout": "2s"},
        channels={"hook": hook},
        feeds=[{"name": name, "url": f"http://127.0.0.1:{gate.port}/{name}",
                "interval": "1s" if name == "d" else "1h"} for name, gate in gates.items()],
        rules=[configs.NEVER])


@asynccontextmanager
async def network(tmp_path: Path) -> AsyncIterator[tuple[LoopbackServer, dict[str, Gate], Path]]:
    """Feeds a to d on one origin server, each behind a gate of its own (down
    at first), and their config."""
    with loopback() as hook:
        async with LoopbackServer() as origin:
            port = origin.port
            gates = {name: Gate(port) for name in "abcd"}
            for name in gates:
                origin.route(f"/{name}", body=rss([(f"{name}1", f"Item {name}")]))
            try:
                yield origin, gates, write_config(tmp_path, gates, hook.webhook("/hook"))
            finally:
                for gate in gates.values():
                    await gate.down()


@asynccontextmanager
async def running(config: Path) -> AsyncIterator[Daemon]:
    """The daemon, with an outage counted after one second (not two minutes)."""
    daemon = Daemon(config, build_runtime(config), outage=OutageWatch(min_hosts=3, min_span=1.0))
    task = asyncio.create_task(daemon.run())
    try:
        yield daemon
    finally:
        daemon.stop()
        await asyncio.wait_for(task, 15)


async def test_feeds_that_could_not_connect_are_polled_when_the_network_is_back(
        tmp_path: Path) -> None:
    """The network goes down under a running daemon: a, b and c fail to
    connect and back off for an hour, d keeps failing every few seconds;
    when the network is back, d's first success brings a, b and c at once."""
    async with network(tmp_path) as (origin, gates, config):
        for gate in gates.values():
            await gate.up()
        async with running(config) as daemon:
            await until(lambda: daemon.store is not None)
            assert daemon.store is not None
            await daemon.store.poll_now(list("abcd"), time.time())
            await until(lambda: all(s.last_success for s in asyncio.run(_states(tmp_path))
                                    if s.name in "abc"))  # polled and recorded
            for gate in gates.values():
                await gate.down()  # the network is gone
            await daemon.store.poll_now(list("abc"), time.time())
            await until(lambda: all(s.failures for s in asyncio.run(_states(tmp_path))
                                    if s.name in "abc"))
            # d fails again later: the run lasts longer than min_span.
            await until(lambda: any(s.name == "d" and s.failures >= 2
                                    for s in asyncio.run(_states(tmp_path))))
            for gate in gates.values():
                await gate.up()  # the network is back
            await until(lambda: all(origin.count(f"/{n}") == 2 for n in "abc"), timeout=15)


async def _states(tmp_path: Path) -> list[FeedState]:
    store = await Store.open(str(tmp_path / "db.sqlite3"))
    try:
        return await store.feeds()
    finally:
        await store.close()


async def test_an_outage_the_daemon_restarted_in_is_picked_up(tmp_path: Path) -> None:
    """Every feed failed to connect before the daemon started (a laptop
    booting offline): the outage is read from the store, and d's first
    success brings a, b and c at once instead of in an hour."""
    async with network(tmp_path) as (origin, gates, config):
        assert await asyncio.to_thread(main, ["run", "--once", "--config", str(config)]) == 0
        assert origin.count() == 0
        async with running(config):
            await asyncio.sleep(1.5)  # d fails again in the daemon
            for gate in gates.values():
                await gate.up()  # the network is back
            await until(lambda: all(origin.count(f"/{n}") == 1 for n in "abc"), timeout=15)
