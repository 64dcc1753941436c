"""A store filled by real daemon runs, and the web page served over it.

Three `run --once` passes of a real Daemon, one a day (an injected clock),
against a loopback feed that grows each day, a feed that always fails, a
webhook that accepts and one that refuses: alerts per day and per rule,
polls by result, a retrying then dead outbox, hostile titles and links.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from monitor.service.daemon import Daemon
from monitor.service.runtime import Runtime, build_runtime, snapshot
from monitor.store import Store
from monitor.web import Snapshot, WebServer
from tests import configs
from tests.loopback import LoopbackServer, loopback

T = TypeVar("T")
DAY0 = datetime(2026, 11, 10, 9, 30, tzinfo=UTC)
XSS_TITLE = "<img src=x onerror=alert(1)>"
XSS_LINK = "javascript:alert(1)"
# (guid, title, link) of the news feed, as it reads on each of the three days.
DAYS = [
    [("a1", "Ampère et Renault signent", "https://example.org/a1"),
     ("x1", XSS_TITLE, XSS_LINK), ("n1", "Rien à voir", "https://example.org/n1")],
    [("a2", "Ampère encore", "https://example.org/a2"),
     ("a3", "Renault et Ampère, suite", "https://example.org/a3")],
    [("a4", "Ampère: la fin", "data:text/html,<script>alert(1)</script>"),
     ("x2", "onerror et alert, encore", "https://example.org/x2")],
]


def _escape(text: str) -> str:
    # Escaped twice: the feed says the title is the literal text "<img …>"
    # (escaped once it would be markup, which the parser turns into text).
    return text.replace("&", "&amp;").replace("<", "&amp;lt;").replace(">", "&amp;gt;")


def news(day: int) -> bytes:
    items = [entry for d in range(day + 1) for entry in DAYS[d]]
    body = "".join(
        f"<item><title>{_escape(t)}</title><link>{_escape(link)}</link>"
        f'<guid isPermaLink="false">{g}</guid><description>Résumé {g}.</description></item>'
        for g, t, link in reversed(items))
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            "<title>Les nouvelles</title><link>https://example.org/</link>"
            f"<description>d</description>{body}</channel></rss>").encode()


def write_config(path: Path, feed: LoopbackServer, hook: LoopbackServer, down_port: int,
                 http: str = "127.0.0.1:0", token: str = "", database: str = "") -> Path:
    return configs.write(
        path,
        monitor={"database": database or path / "db.sqlite3", "http": http, "http_token": token,
                 "jitter": 0.0, "interval": "1s", "max_failures": 2, "retry_for": "1d"},
        channels={"hook": hook.webhook("/h"),
                  "down": f"json://127.0.0.1:{down_port}/secret-path-token"},
        feeds=[{"name": "news", "url": feed.url("/news"), "alert_existing": True},
               {"name": "broken", "url": feed.url("/broken?key=hush")}],
        rules=[{"name": "ampere", "any": ["Ampère"], "channels": ["hook", "down"]},
               {"name": "xss", "any": ["x1", "x2"], "channels": ["hook"]}])

@dataclass
class Site:
    runtime: Runtime
    database: str
    now: float  # the clock of the page: the last run's day, an hour later
    ids: dict[str, int]  # an alert of each rule (on "hook"), and a dead one

    def snapshot(self, token: str = "") -> Snapshot:
        settings = self.runtime.settings
        settings = replace(settings, monitor=settings.monitor.model_copy(
            update={"http_token": token}))
        return snapshot(self.runtime, settings)

    def server(self, token: str = "") -> WebServer:
        return WebServer("127.0.0.1:0", self.database, lambda: self.snapshot(token),
                         time.monotonic, lambda: b"# metrics\n", clock=lambda: self.now)


def fill(path: Path, database: str = "") -> Site:
    """Three daily daemon runs into `database` (default: path/db.sqlite3)."""
    with loopback() as feed, loopback() as hook, loopback() as down:
        down_port = down.port
        down.statuses.extend([500] * 100)  # the "down" webhook refuses everything
        feed.route("/broken", body=b"oops", status=500)
        config = write_config(path, feed, hook, down_port, database=database)
        runtime = build_runtime(config)
        for day in range(3):
            feed.route("/news", body=news(day))
            moment = DAY0 + timedelta(days=day)
            daemon = Daemon(config, runtime, clock=lambda m=moment: m)  # type: ignore[misc]
            run(daemon.run_once())
    database = runtime.settings.monitor.database
    return Site(runtime, database, (DAY0 + timedelta(days=2, hours=1)).timestamp(),
                run(_alert_ids(database)))


def run(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run in a thread of its own: playwright's sync API holds a loop
    in the test's thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _alert_ids(database: str) -> dict[str, int]:
    store = await Store.open(database)
    try:
        history = await store.history(limit=100)
    finally:
        await store.close()
    ids = {a.alert.match.rule: a.alert.id for a in history  # newest first: the oldest wins
           if a.alert.channel == "hook"}
    return ids | {"dead": next(a.alert.id for a in history if a.state == "dead")}


def serving(site: Site, token: str = "") -> Iterator[str]:
    server = site.server(token)
    port = server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
