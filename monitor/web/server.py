"""The web page's server: its own thread, event loop and database connection.

On purpose not the daemon's loop: when that loop is wedged, /healthz here
still answers (503, the dispatch tick is old), and a slow page can never
delay a poll or a delivery. Its own Store (opened from the same database
URL) so that it shares no lock or connection with the daemon: SQLite's WAL
lets it read while the daemon writes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable
from urllib.parse import quote

import jinja2
from aiohttp import web

from monitor.config import parse_listen
from monitor.errors import ListenError
from monitor.render import safe_link
from monitor.store import Store
from monitor.web import charts
from monitor.web.app import Health, make_app
from monitor.web.pages import Pages, Snapshot, age, redact, when
from monitor.web.websub import Callbacks

log = logging.getLogger(__name__)
STALE_AFTER = 10.0  # seconds without a dispatch tick before /healthz says 503


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("monitor.web"), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    env.filters.update(when=when, age=age, link=safe_link, redact=redact,
                       seg=lambda value: quote(str(value), safe=""))
    env.globals.update(bars=charts.bars, peak=charts.peak)
    return env


class WebServer:
    """`start()` binds `listen` and returns the port; `stop()` ends it."""

    def __init__(self, listen: str, database: str, snapshot: Callable[[], Snapshot],
                 last_tick: Callable[[], float], metrics: Callable[[], bytes], *,
                 stale_after: float = STALE_AFTER,
                 clock: Callable[[], float] = time.time,
                 callbacks: Callbacks | None = None) -> None:
        """`callbacks`: the daemon's WebSub side (web/websub.py), or None."""
        self._address = parse_listen(listen)  # validated at load time
        self._database, self._snapshot, self._clock = database, snapshot, clock
        self._callbacks = callbacks
        self._health = Health(last_tick, metrics, stale_after)
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    def start(self, timeout: float = 30.0) -> int:
        self._thread = threading.Thread(target=self._main, name="web", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("the web server did not start")
        if isinstance(self._failure, OSError):
            host, number = self._address
            why = os.strerror(self._failure.errno) if self._failure.errno else self._failure
            raise ListenError(f"[monitor] http: cannot listen on {host}:{number}: "
                              f"{why}") from self._failure
        if self._failure is not None:
            raise self._failure
        return self.port

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    def _main(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported by start(), or logged once running
            if self._ready.is_set():
                log.error("web server stopped error=%s", exc)
            self._failure = exc
            self._ready.set()
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        store = await Store.open(self._database)
        try:
            pages = Pages(store, self._snapshot, environment(), self._clock,
                          asyncio.Semaphore(2))
            runner = web.AppRunner(make_app(pages, self._health, self._callbacks), access_log=None)
            await runner.setup()
            try:
                site = web.TCPSite(runner, self._address[0], self._address[1])
                await site.start()
                self.port = runner.addresses[0][1]
                self._ready.set()
                await self._stop.wait()
            finally:
                await runner.cleanup()
        finally:
            await store.close()
