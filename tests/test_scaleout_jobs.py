"""The jobs done once per period across all instances, not once per
instance: three daemons on one PostgreSQL schema (in one process here, each
with its own config and `[monitor] instance`, as three machines would run
them) see our network go down and come back, and one of them sweeps; a feed
that stays down raises one feed-health notice; retention runs once a day.
Digests and catch-ups (a channel claimed whole) are test_scaleout.py's, in
three processes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import psycopg
import pytest

from monitor.poll.outage import OutageWatch
from monitor.service.daemon import Daemon
from monitor.service.runtime import build_runtime
from tests import configs
from tests.loopback import LoopbackServer, loopback
from tests.servers import Gate, rss
from tests.waiting import until

FAST = [f"f{n}" for n in range(12)]  # polled every second, each behind its own gate


def write_config(folder: Path, url: str, instance: str, gates: dict[str, Gate],
                 hook: str) -> Path:
    folder.mkdir()
    return configs.write(
        folder,
        monitor={"database": url, "instance": instance, "jitter": 0.0,
                 "connect_timeout": "1s", "admin_channels": ["admin"], "max_failures": 3,
                 "default_channels": ["admin"],
                 # Each claims at most four due feeds (CLAIM_AHEAD): all three poll.
                 "concurrency": 1},
        channels={"admin": hook},
        feeds=[{"name": name, "url": f"http://127.0.0.1:{gate.port}/{name}", "interval": "1s"}
               for name, gate in gates.items()],
        rules=[configs.NEVER])


@asynccontextmanager
async def three(tmp_path: Path, url: str, gates: dict[str, Gate],
                hook: str) -> AsyncIterator[list[Daemon]]:
    """Three daemons, an outage counted from two hosts and no time span (each
    sees only the polls it makes: a third of the feeds)."""
    async with AsyncExitStack() as stack:
        daemons, tasks = [], []
        for k in range(3):
            config = write_config(tmp_path / f"i{k}", url, f"i{k}", gates, hook)
            daemon = Daemon(config, build_runtime(config),
                            outage=OutageWatch(min_hosts=2, min_span=0.0))
            daemons.append(daemon)
            tasks.append(asyncio.create_task(daemon.run()))

        async def stop() -> None:
            for daemon in daemons:
                daemon.stop()
            await asyncio.wait_for(asyncio.gather(*tasks), 20)
        stack.push_async_callback(stop)
        yield daemons


def notices(url: str) -> dict[str, int]:
    """Feed-health notices in the outbox: feed → how many 'failing' ones."""
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT feed FROM alerts WHERE item_id LIKE 'health:failing:%'")
        counts: dict[str, int] = {}
        for (feed,) in rows:
            counts[feed] = counts.get(feed, 0) + 1
        return counts


def lines(caplog: pytest.LogCaptureFixture, start: str) -> int:
    return sum(r.getMessage().startswith(start) for r in caplog.records)


async def test_outage_sweeps_health_notices_and_retention_run_once_across_instances(
        tmp_path: Path, pg_schema_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="monitor")
    with loopback() as hook:
        async with LoopbackServer() as origin:
            gates = {name: Gate(origin.port) for name in [*FAST, "down"]}
            for name in gates:
                origin.route(f"/{name}", body=rss([(f"{name}1", f"Item {name}")]))
            try:
                # Our network is down: every feed fails to connect, and each
                # instance starts with that outage read from the store.
                config = write_config(tmp_path / "once", pg_schema_url, "once", gates,
                                      hook.webhook("/admin"))
                await Daemon(config, build_runtime(config)).run_once()
                async with three(tmp_path, pg_schema_url, gates,
                                 hook.webhook("/admin")) as daemons:
                    await asyncio.sleep(2)
                    for name in FAST:
                        await gates[name].up()  # back ("down" never answers: gone)
                    await until(lambda: lines(caplog, "network back") >= 2, timeout=20)
                    await until(lambda: notices(pg_schema_url).get("down", 0) >= 1,
                                timeout=20)
                    await asyncio.sleep(2)  # a second notice or sweep would come by now
                    await asyncio.gather(*(d.ticks.retention() for d in daemons))
            finally:
                for gate in gates.values():
                    await gate.down()
    # The instances that saw the network come back (two or three, by the
    # polls each made): one swept.
    assert lines(caplog, "network back, polling now") == 1
    assert lines(caplog, "network back, another instance sweeps") >= 1
    # The feed gone for good, polled by all three in turn: one notice.
    assert notices(pg_schema_url)["down"] == 1
    assert max(notices(pg_schema_url).values()) == 1
    assert lines(caplog, "pruned") == 1
