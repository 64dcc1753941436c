"""The composition root: builds everything from config and runs the ticks.

`Daemon` opens the store, the HTTP session, the parse pool and the poll
`Context`, then runs the table of ticks below (APScheduler's asyncio
scheduler, each `max_instances=1`); signals, live reload and systemd
notifications are its other duties. The work itself belongs to the
compartments: a poll is `poll.pipeline.poll_feed` (everything it changes in
one transaction), a delivery pass is `deliver.outbox.deliver_due`.

Ticks:
- dispatch, every second: claims the feeds due in the store and starts one
  poll task each (the fetcher bounds how many run at once);
- deliver, every 2 s: starts a pass over the due outbox rows (`delivery`)
  without waiting for the last one: a slow channel holds only itself;
- watch, every 2 s: reloads when a config or rule file changed;
- gauges, every 5 s: outbox depth and feed health for /metrics;
- pace, every 5 s: adaptive pacing's upkeep by the daemon's clock (the
  feeds' histories rebuilt from the store hourly, the request budget shared
  every 10 minutes; see Ticks.pace);
- heartbeat, every second: this instance's row, the leases of its polls and
  sends in flight renewed, and the claims of dead instances released (several
  daemons on one PostgreSQL database; see store/instances.py);
- retention, daily: prunes old items and alerts (`Store.prune`), once a day
  across all instances;
- websub, every 5 s (with `[monitor] public_url`): subscriptions renewed,
  retried or ended (service/websub.py);
- stories, every 3 s (PostgreSQL): the items other instances recorded join
  this one's story index (poll/stories.py: catch_up);
- watchdog (under systemd with WatchdogSec=): pings while dispatch ticks.
A poll, a delivery or a reload that fails is logged and retried at the next
tick; none of them stops the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import socket
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor.config import Settings
from monitor.errors import NewsmonitorError
from monitor.models import FeedState
from monitor.poll.articles import Articles
from monitor.poll.fetcher import Fetcher, make_session
from monitor.poll.outage import OutageWatch
from monitor.poll.parser import make_pool
from monitor.poll.parser.pool import ParsePool
from monitor.poll.pipeline import Context, Outcome, poll_feed
from monitor.poll.schedule import HostBackoff
from monitor.poll.stories import open_index, story_settings
from monitor.service import systemd
from monitor.service.metrics import Metrics
from monitor.service.reload import Reloader
from monitor.service.runtime import (
    Runtime,
    config_fingerprint,
    feed_rows,
    limits_of,
    snapshot,
)
from monitor.service.ticks import Ticks, load_activity
from monitor.service.websub import WebSub
from monitor.store import Instance, Store
from monitor.web import Snapshot, WebServer

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
STOP_GRACE = 8.0  # seconds in-flight work may take after SIGTERM (systemd waits 10)

# The ticks: (name: the method of `Ticks` and the job id, APScheduler's interval
# trigger, first run in seconds from the start or None for one interval later).
TICKS: tuple[tuple[str, dict[str, float], float | None], ...] = (
    ("heartbeat", {"seconds": 1}, 0.0),
    ("dispatch", {"seconds": 1}, None),
    ("pace", {"seconds": 5}, None),
    ("deliver_tick", {"seconds": 2}, None),
    ("watch", {"seconds": 2}, None),
    ("gauges", {"seconds": 5}, 0.0),
    ("retention", {"days": 1}, 60.0),
    ("websub", {"seconds": 5}, 0.0),
    ("stories", {"seconds": 3}, None),
)


@dataclass
class Daemon:
    """One running newsmonitor. `run()` until stopped; `run_once()` for --once."""

    config_path: Path
    runtime: Runtime
    clock: Clock = lambda: datetime.now(UTC)
    executor_factory: Callable[[], Executor] = make_pool
    outage: OutageWatch = field(default_factory=OutageWatch)
    metrics: Metrics = field(default_factory=Metrics)
    health_stale_after: float = 10.0  # seconds without a tick before /healthz says 503
    store: Store | None = None
    http_port: int = 0                # the port /healthz listens on, once started
    last_tick: float = 0.0            # time.monotonic() of the last dispatch tick
    context: Context | None = None
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    fingerprint: tuple[tuple[str, int, int], ...] = ()  # of the files loaded
    _health: WebServer | None = None
    _status: str = ""  # the last STATUS= sent
    ticks: Ticks = field(init=False)
    _reloader: Reloader = field(init=False)
    instance: Instance = field(init=False)  # this daemon among those sharing the store
    websub: WebSub = field(init=False)      # the WebSub subscriptions (service/websub.py)

    def __post_init__(self) -> None:
        self.ticks, self._reloader, self.websub = Ticks(self), Reloader(self), WebSub(self)
        self.instance = _instance(self.runtime.settings, self.clock().timestamp())

    # ---------------------------------------------------------- lifecycle

    async def _open(self) -> Context:
        settings = self.runtime.settings
        self.runtime.notifier.open()
        self.store = await Store.open(settings.monitor.database, exclusive=True,
                                      instance=self.instance.id)
        await _void_claims(self.store, settings, self.instance.id, self.clock().timestamp())
        self._session = make_session(limits_of(settings), settings.monitor.user_agent)
        self.context = _context(self, self.store, self._session)
        self.context.stories = await open_index(
            self.store, story_settings(settings.monitor), self.clock())
        # What adaptive pacing knows of each feed, kept across restarts in
        # the store's polls.
        self.context.activity = await load_activity(self.store, self.clock().timestamp())
        await self.ticks.pace()
        await self.sync_feeds(settings)
        await self.websub.open(self._session)  # before the endpoint: the callbacks held
        self.fingerprint = config_fingerprint(settings)
        return self.context

    async def _close(self) -> None:
        """Release what `_open` got, also after it failed halfway."""
        self._reloader.close_retired()
        self.runtime.notifier.close()
        session = getattr(self, "_session", None)
        if session is not None:
            await session.close()
        if self.context is not None:
            self.context.pool.shutdown()
        if self.store is not None:
            await _leave(self.store, self.instance.id, self.clock().timestamp())
            log.info("database statements=%d", self.store.statements)
            await self.store.close()

    @contextlib.asynccontextmanager
    async def opened(self) -> AsyncIterator[Context]:
        """The daemon's store, session and poll context, open, without its
        timer: its ticks (`self.ticks`) driven by hand, as a test with an
        injected clock does."""
        try:
            yield await self._open()
        finally:
            await self._close()

    async def run_once(self) -> list[Outcome]:
        """Poll every enabled feed once, deliver what is due, and return."""
        try:
            ctx = await self._open()
            states = {s.name: s for s in await ctx.store.feeds()}
            feeds = [f for f in ctx.settings.feeds if f.enabled and not
                     states[f.name].disabled]
            outcomes = await asyncio.gather(*(poll_feed(ctx, f, states[f.name])
                                              for f in feeds))
            await self.ticks.deliver(retry_now=True)
            return list(outcomes)
        finally:
            await self._close()

    async def run(self) -> None:
        """The daemon: ticks until SIGTERM/SIGINT; SIGHUP reloads."""
        scheduler = self._scheduler()
        await _started(self)
        try:
            assert self.store is not None
            states = await self.store.feeds()
            self.outage.seed(states)  # an outage a restart interrupted
            self._start_http()
            _handle_signals(self, self._stopping)
            scheduler.start()
            self.last_tick = time.monotonic()
            systemd.notify(f"READY=1\nSTATUS={self.summary()}")
            _log_start(self, states)
            await self._stopping.wait()
        finally:
            await self._shutdown(scheduler)

    async def _shutdown(self, scheduler: AsyncIOScheduler) -> None:
        systemd.notify("STOPPING=1")
        log.info("stopping in_flight=%d", len(self._tasks))
        if scheduler.running:
            scheduler.shutdown(wait=False)
        await self._drain()
        if self._health is not None:
            self._health.stop()
        await self._close()
        log.info("stopped")

    def stop(self) -> None:
        self._stopping.set()

    def _start_http(self) -> None:
        if listen := self.runtime.settings.monitor.http:
            server = WebServer(listen, self.runtime.settings.monitor.database, self._snapshot,
                               lambda: self.last_tick, self.metrics.render,
                               stale_after=self.health_stale_after,
                               callbacks=self.websub.callbacks())
            self.http_port = server.start()
            self._health = server
            log.info("http endpoint listening address=%s port=%d", listen, self.http_port)

    def _snapshot(self) -> Snapshot:
        """What the web page shows of the running config (read from its thread)."""
        return snapshot(self.runtime)

    async def _drain(self) -> None:
        """Let polls, ticks and deliveries in flight finish, for STOP_GRACE.

        Polls record everything in one transaction each, so a poll cut short
        loses nothing: it is polled again at the next start. A delivery cut
        short keeps its alerts pending (sent again: at least once).
        """
        deadline = time.monotonic() + STOP_GRACE
        while self._tasks and (left := deadline - time.monotonic()) > 0:
            await asyncio.wait(set(self._tasks), timeout=left)
        pending = set(self._tasks)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def _scheduler(self) -> AsyncIOScheduler:
        scheduler = AsyncIOScheduler(timezone=UTC)
        opts: dict[str, Any] = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
        ticks = list(TICKS)
        interval = systemd.watchdog_interval()
        if interval:
            ticks.append(("watchdog", {"seconds": interval}, None))
        for name, every, first in ticks:
            start = {} if first is None else {
                "next_run_time": datetime.now(UTC) + timedelta(seconds=first)}
            scheduler.add_job(self._tracked, "interval", args=[getattr(self.ticks, name)],
                              id=name, **every, **start, **opts)
        return scheduler

    async def _tracked(self, tick: Callable[[], Any]) -> None:
        """Run a tick as a task that shutdown waits for (see _drain)."""
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await tick()
        finally:
            self._tasks.discard(task)

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---------------------------------------------------------- reload

    async def reload(self, reason: str) -> bool:
        """Swap in a new config, or keep the running one (see Reloader)."""
        return await self._reloader.reload(reason)

    async def sync_feeds(self, settings: Settings) -> None:
        ctx = self.context
        assert ctx is not None and self.store is not None
        await self.store.sync_feeds(feed_rows(ctx, settings, self.clock(), ctx.rng))

    def summary(self) -> str:
        s = self.runtime.settings
        return (f"{len(s.feeds)} feeds, {len(s.rules)} rules, "
                f"{self.ticks.polling} polls in flight")

    def notify_status(self) -> None:
        """Tell systemd the summary when it changed (`systemctl status` shows
        it); the dispatch tick calls it, so it is at most a second old."""
        status = self.summary()
        if status != self._status:
            self._status = status
            systemd.notify(f"STATUS={status}")


def _log_start(daemon: Daemon, states: list[FeedState]) -> None:
    """One line a new user can read: what runs and when the polls come."""
    settings = daemon.runtime.settings
    enabled = {f.name for f in settings.feeds if f.enabled}
    due = sorted(s.next_poll for s in states if s.name in enabled and not s.disabled)
    zone = ZoneInfo(settings.monitor.timezone)
    when = [datetime.fromtimestamp(t, zone).strftime("%H:%M:%S") for t in due[:1] + due[-1:]]
    log.info("started config=%s feeds=%d rules=%d next_polls=%s timezone=%s",
             daemon.config_path, len(settings.feeds), len(settings.rules),
             "..".join(when) or "none", settings.monitor.timezone)
    daemon.ticks.first_cycle([s.name for s in states if s.name in enabled
                             and s.last_poll is None and not s.disabled])


async def _started(daemon: Daemon) -> None:
    """`daemon._open()`; if it fails, what it got is released and the error
    raised: a daemon that never started (its SQLite file in use, say) logs
    no "stopping" and "stopped" around its one error line."""
    try:
        await daemon._open()
    except BaseException:
        await daemon._close()
        raise


def _instance(settings: Settings, now: float) -> Instance:
    """This daemon among the instances sharing the store: `[monitor]
    instance`, or host:pid."""
    host = socket.gethostname()
    name = settings.monitor.instance or f"{host}:{os.getpid()}"
    return Instance(name, host, os.getpid(), now, now)


async def _void_claims(store: Store, settings: Settings, instance: str, now: float) -> None:
    """At the start, the claims a crash left are void: all of them on a
    SQLite file (one daemon: the store's lock says so); on PostgreSQL, ours
    under the same `[monitor] instance` name (other instances hold live
    ones; the heartbeat releases those of dead instances)."""
    if "://" not in settings.monitor.database:
        await store.cluster.release_all_claims(now)
    await store.cluster.release_instance(instance, now, leave=False)


async def _leave(store: Store, instance: str, now: float) -> None:
    """At the stop, hand what we still hold (polls and sends cut short) to
    the other instances now, not after instance_timeout."""
    try:
        await store.cluster.release_instance(instance, now, leave=True)
    except NewsmonitorError as exc:
        log.error("instance not removed error=%s", exc)


def _context(daemon: Daemon, store: Store, session: Any) -> Context:
    """The poll context of `daemon`'s running config."""
    settings = daemon.runtime.settings
    fetcher = Fetcher(session, limits_of(settings), now=daemon.clock)
    pool = ParsePool(daemon.executor_factory)
    bodies = asyncio.Semaphore(settings.monitor.concurrency)  # feeds' and articles'
    return Context(settings=settings, store=store, fetcher=fetcher,
                   matcher=daemon.runtime.matcher, pool=pool,
                   hosts=HostBackoff(), clock=daemon.clock, rng=random.Random(),
                   bodies=bodies, outage=daemon.outage,
                   articles=Articles(fetcher, pool, store, settings.monitor, daemon.clock,
                                     bodies))


def _handle_signals(daemon: Daemon, stopping: asyncio.Event) -> None:
    """SIGTERM and SIGINT stop the daemon; SIGHUP reloads its config."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: daemon.spawn(daemon.reload("SIGHUP")))
