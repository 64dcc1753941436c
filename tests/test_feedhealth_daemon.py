"""A running daemon: a feed failing 10 polls in a row raises exactly one
health alert on the admin channel, and one recovery message when it is back."""

from __future__ import annotations

import asyncio
from pathlib import Path

from monitor.service.daemon import Daemon
from monitor.service.runtime import build_runtime
from tests import configs
from tests.loopback import LoopbackServer, loopback
from tests.servers import rss
from tests.waiting import until


async def test_ten_failures_one_alert_then_one_recovery(tmp_path: Path) -> None:
    with loopback() as admin:
        async with LoopbackServer() as feed:
            feed.route("/f", status=500, body=b"oops")
            config = configs.write(
                tmp_path,
                monitor={"database": tmp_path / "db.sqlite3", "admin_channels": ["admin"],
                         "default_channels": ["admin"], "max_backoff": "1s", "jitter": 0.0},
                channels={"admin": admin.webhook("/admin")},
                feeds=[{"name": "flaky", "url": feed.url("/f"), "interval": "1s"}],
                rules=[configs.NEVER])
            daemon = Daemon(config, build_runtime(config))
            task = asyncio.create_task(daemon.run())
            try:
                await until(lambda: feed.count("/f") >= 11)
                await asyncio.sleep(2.0)  # room for a wrong second alert
                titles = [p["title"] for p in admin.posts()]
                assert titles == ["[newsmonitor] feed-health: Feed “flaky” is failing"]
                assert "10 polls failed in a row" in admin.posts()[0]["message"]

                feed.route("/f", body=rss([("a", "Back")]))
                await until(lambda: len(admin.posts()) >= 2)
                await asyncio.sleep(1.5)
                titles = [p["title"] for p in admin.posts()]
                assert titles == ["[newsmonitor] feed-health: Feed “flaky” is failing",
                                  "[newsmonitor] feed-health: Feed “flaky” recovered"]
            finally:
                daemon.stop()
                await asyncio.wait_for(task, 15)

