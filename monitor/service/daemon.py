"""Builds everything from config and runs it: the scheduler's ticks, signals,
live reload, systemd notifications.

Ticks (APScheduler's asyncio scheduler, each `max_instances=1`):
- dispatch, every second: claims the feeds due in the store and starts one
  poll task each (the fetcher bounds how many run at once);
- deliver, every 2 s: hands due outbox rows to `delivery`;
- watch, every 2 s: reloads when a config or rule file changed;
- gauges, every 5 s: outbox depth and feed health for /metrics;
- retention, daily: prunes old items and alerts (`Store.prune`).
A poll, a delivery or a reload that fails is logged and retried at the next
tick; none of them stops the daemon.
"""

from __future__ import annotations

import asyncio
import glob
import logging
import os
import random
import signal
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor.config import FeedSettings, Settings, load
from monitor.deliver import outbox as delivery
from monitor.deliver.notifier import Notifier
from monitor.errors import ConfigError, NewsmonitorError
from monitor.matcher import Matcher, check_rules, compile_rules
from monitor.models import FeedState
from monitor.poll import health as feedhealth
from monitor.poll.fetcher import Fetcher, FetchLimits, make_session
from monitor.poll.outage import OutageWatch, victims
from monitor.poll.parser import make_pool
from monitor.poll.parser.pool import ParsePool
from monitor.poll.pipeline import Context, Outcome, poll_feed
from monitor.poll.schedule import HostBackoff, PollPolicy, first_poll
from monitor.service import systemd
from monitor.service.metrics import Metrics
from monitor.store import Store
from monitor.web import Snapshot, WebServer

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
STOP_GRACE = 8.0  # seconds in-flight work may take after SIGTERM (systemd waits 10)


@dataclass(frozen=True, slots=True)
class Runtime:
    """Everything derived from one config load; swapped whole on reload."""

    settings: Settings
    matcher: Matcher
    notifier: Notifier
    channels: delivery.Channels


def build_runtime(path: Path, environ: dict[str, str] | None = None) -> Runtime:
    """Load and validate the config, its rules, channels and templates.

    Raises ConfigError listing every problem (config, rules, channel URLs).
    """
    settings = load(path, environ)
    problems = [str(err) for err in check_rules(settings.rules)]
    try:
        channels = delivery.build_channels(settings, environ)
    except ConfigError as exc:
        problems += exc.problems
        channels = None
    if problems or channels is None:
        raise ConfigError(problems)
    notifier = Notifier(list(channels.specs.values()))
    return Runtime(settings, compile_rules(settings.rules), notifier, channels)


def limits_of(settings: Settings) -> FetchLimits:
    m = settings.monitor
    return FetchLimits(concurrency=m.concurrency, per_host=m.per_host_concurrency,
                       connect_timeout=m.connect_timeout.total_seconds(),
                       read_timeout=min(m.timeout.total_seconds(), 30.0),
                       total_timeout=m.timeout.total_seconds(), max_body=m.max_body)


@dataclass
class Daemon:
    """One running newsmonitor. `run()` until stopped; `run_once()` for --once."""

    config_path: Path
    runtime: Runtime
    clock: Clock = lambda: datetime.now(UTC)
    executor_factory: Callable[[], Executor] = make_pool
    store: Store | None = None
    _ctx: Context | None = None
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _fingerprint: tuple[tuple[str, int, int], ...] = ()
    last_tick: float = 0.0  # time.monotonic() of the last dispatch tick
    outcomes: list[Outcome] = field(default_factory=list)
    metrics: Metrics = field(default_factory=Metrics)
    _health: WebServer | None = None
    health_stale_after: float = 10.0  # seconds without a tick before /healthz says 503
    http_port: int = 0                # the port /healthz listens on, once started
    # One delivery pass at a time: two at once would both read the rate-limit
    # window and both send (see delivery); polls only ask for a pass.
    _delivering: asyncio.Lock = field(default_factory=asyncio.Lock)
    _reloading: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Feeds being polled now: a poll still waiting for a fetch slot past its
    # lease must not be dispatched a second time.
    _in_flight: set[str] = field(default_factory=set)
    outage: OutageWatch = field(default_factory=OutageWatch)

    # ---------------------------------------------------------- lifecycle

    async def _open(self) -> Context:
        settings = self.runtime.settings
        self.store = await Store.open(settings.monitor.database)
        if "://" not in settings.monitor.database:
            # A SQLite file has one daemon: claims left by a crash are void.
            # (On PostgreSQL other instances may hold live ones; they expire.)
            await self.store.release_all_claims()
        session = make_session(limits_of(settings), settings.monitor.user_agent)
        ctx = Context(settings=settings, store=self.store,
                      fetcher=Fetcher(session, limits_of(settings), now=self.clock),
                      matcher=self.runtime.matcher, pool=ParsePool(self.executor_factory),
                      hosts=HostBackoff(), clock=self.clock, rng=random.Random())
        self._ctx, self._session = ctx, session
        await self._sync_feeds()
        self._fingerprint = config_fingerprint(settings)
        return ctx

    async def _close(self) -> None:
        """Release what `_open` got, also after it failed halfway."""
        session = getattr(self, "_session", None)
        if session is not None:
            await session.close()
        if self._ctx is not None:
            self._ctx.pool.shutdown()
        if self.store is not None:
            await self.store.close()

    async def run_once(self) -> list[Outcome]:
        """Poll every enabled feed once, deliver what is due, and return."""
        try:
            ctx = await self._open()
            states = {s.name: s for s in await ctx.store.feeds()}
            feeds = [f for f in ctx.settings.feeds if f.enabled and not
                     states[f.name].disabled]
            outcomes = await asyncio.gather(*(poll_feed(ctx, f, states[f.name])
                                              for f in feeds))
            self.outcomes = list(outcomes)
            await self._deliver(retry_now=True)
            return self.outcomes
        finally:
            await self._close()

    async def run(self) -> None:
        """The daemon: ticks until SIGTERM/SIGINT; SIGHUP reloads."""
        scheduler = self._scheduler()
        try:
            await self._open()
            assert self.store is not None
            self.outage.seed(await self.store.feeds())  # an outage a restart interrupted
            self._start_http()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self._stopping.set)
            loop.add_signal_handler(signal.SIGHUP,
                                    lambda: self._spawn(self.reload("SIGHUP")))
            scheduler.start()
            self.last_tick = time.monotonic()
            systemd.notify(f"READY=1\nSTATUS={self._summary()}")
            log.info("started config=%s feeds=%d rules=%d", self.config_path,
                     len(self.runtime.settings.feeds), len(self.runtime.settings.rules))
            await self._stopping.wait()
        finally:
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
        listen = self.runtime.settings.monitor.http
        if not listen:
            return
        self._health = WebServer(listen, self.runtime.settings.monitor.database, self._snapshot,
                                 lambda: self.last_tick, self.metrics.render,
                                 stale_after=self.health_stale_after)
        self.http_port = self._health.start()
        log.info("http endpoint listening address=%s port=%d", listen, self.http_port)

    def _snapshot(self) -> Snapshot:
        """What the web page shows of the running config (read from its thread)."""
        runtime = self.runtime
        return Snapshot(runtime.settings, runtime.channels.formats, runtime.channels.templates)

    async def _drain(self) -> None:
        """Let polls, ticks and deliveries in flight finish, for STOP_GRACE.

        Polls record their items and alerts in one transaction each, so a poll
        cut short loses nothing: it is polled again at the next start. A
        delivery cut short keeps its alerts pending (sent again: at least once).
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
        opts: dict[str, Any] = {"max_instances": 1, "coalesce": True,
                                "misfire_grace_time": None}
        def job(tick: Callable[[], Any], job_id: str, **trigger: Any) -> None:
            scheduler.add_job(self._tracked, "interval", args=[tick], id=job_id,
                              **trigger, **opts)

        job(self._dispatch, "dispatch", seconds=1)
        job(self._deliver, "deliver", seconds=2)
        job(self._watch, "watch", seconds=2)
        job(self._refresh_gauges, "gauges", seconds=5, next_run_time=datetime.now(UTC))
        job(self._retention, "retention", days=1,
            next_run_time=datetime.now(UTC) + timedelta(minutes=1))
        interval = systemd.watchdog_interval()
        if interval:
            job(self._watchdog, "watchdog", seconds=interval)
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

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---------------------------------------------------------- ticks

    async def _dispatch(self) -> None:
        ctx = self._ctx
        assert ctx is not None and self.store is not None
        now = self.clock()
        self.last_tick = time.monotonic()
        enabled = {f.name: f for f in ctx.settings.feeds if f.enabled}
        lease = ctx.settings.monitor.timeout.total_seconds() + 60
        try:
            due = await self.store.due_feeds(now.timestamp(), enabled, lease)
        except NewsmonitorError as exc:
            log.error("dispatch failed error=%s", exc)
            return
        for state in due:
            if state.name not in self._in_flight:
                self._in_flight.add(state.name)
                self._spawn(self._poll(ctx, enabled[state.name], state))

    async def _poll(self, ctx: Context, feed: FeedSettings, state: FeedState) -> None:
        try:
            await self._poll_and_record(ctx, feed, state)
        finally:
            self._in_flight.discard(feed.name)

    async def _poll_and_record(self, ctx: Context, feed: FeedSettings,
                               state: FeedState) -> None:
        try:
            outcome = await poll_feed(ctx, feed, state)
            self.metrics.poll(outcome.result, outcome.elapsed, outcome.new_items,
                              outcome.rules)
            queued = await self._feed_health(ctx, feed, outcome.state)
        except NewsmonitorError as exc:
            # The store itself failed (poll_feed handles the feed's own trouble):
            # the feed's claim expires and it is polled again.
            log.error("poll not recorded feed=%s error=%s", feed.name, exc)
            return
        if outcome.alerts or queued:
            self._spawn(self._deliver())
        if state.current_url.startswith(("http://", "https://")):
            stored = outcome.state
            since = self.outage.observe(
                state.current_url, outcome.result, stored.error_category if stored else None,
                stored.last_poll if stored and stored.last_poll else self.clock().timestamp())
            if since is not None:
                await self._after_outage(ctx, since)

    async def _feed_health(self, ctx: Context, feed: FeedSettings,
                           state: FeedState | None) -> int:
        """Raise, remind or clear the feed's health alert (see feedhealth),
        from the state the poll just stored."""
        m = ctx.settings.monitor
        if state is None:
            return 0
        now = self.clock()
        notice, new_state = feedhealth.check(state, feed, m.max_failures, now)
        if notice is None:
            return 0
        log.warning("feed health feed=%s state=%s detail=%s", feed.name, notice.kind,
                    notice.text)
        await ctx.store.save_feed(new_state)
        alerts = feedhealth.alerts(notice, feed, m.admin_channels, now)
        return len(await ctx.store.queue_alerts(alerts, now.timestamp()))

    async def _after_outage(self, ctx: Context, since: float) -> None:
        """Our network is back (OutageWatch): the feeds that could
        not connect since `since` are polled now, not after their backoff."""
        try:
            names = victims(await ctx.store.feeds(), since)
            if names:
                log.warning("network back, polling now the feeds that could not connect "
                            "feeds=%d", len(names))
                await ctx.store.poll_now(names, self.clock().timestamp())
        except NewsmonitorError as exc:
            log.error("polling after the outage failed error=%s", exc)

    async def _deliver(self, retry_now: bool = False) -> None:
        if self.store is None:
            return
        async with self._delivering:
            try:
                await delivery.deliver_due(self.store, self.runtime.notifier,
                                           self.runtime.channels, self.clock(), self.metrics,
                                           retry_now=retry_now)
            except NewsmonitorError as exc:
                log.error("delivery tick failed error=%s", exc)

    async def _refresh_gauges(self) -> None:
        if self.store is None:
            return
        try:
            await self._read_gauges(self.store)
        except NewsmonitorError as exc:
            log.error("metrics refresh failed error=%s", exc)

    async def _read_gauges(self, store: Store) -> None:
        oldest = await store.oldest_pending()
        age = self.clock().timestamp() - oldest if oldest is not None else None
        self.metrics.refresh(await store.outbox_counts(), age, await store.feeds(),
                             self.runtime.channels.specs)

    async def _watch(self) -> None:
        if config_fingerprint(self.runtime.settings) != self._fingerprint:
            await self.reload("file changed")

    async def _retention(self) -> None:
        assert self.store is not None
        before = self.clock() - self.runtime.settings.monitor.retention
        try:
            alerts, items = await self.store.prune(before.timestamp())
            log.info("pruned alerts=%d items=%d", alerts, items)
        except NewsmonitorError as exc:
            log.error("retention failed error=%s", exc)

    async def _watchdog(self) -> None:
        # Only while the dispatch tick ran recently: a wedged loop stops the
        # pings and systemd restarts us (WatchdogSec=).
        if time.monotonic() - self.last_tick < 30:
            systemd.notify(f"WATCHDOG=1\nSTATUS={self._summary()}")

    # ---------------------------------------------------------- reload

    async def reload(self, reason: str) -> bool:
        """Swap in a new config; on any error keep the old one running.
        Reloads run one at a time, so the last one read the newest files."""
        async with self._reloading:
            return await self._reload(reason)

    async def _reload(self, reason: str) -> bool:
        systemd.notify("RELOADING=1")
        fingerprint = config_fingerprint(self.runtime.settings)
        try:
            runtime = await asyncio.to_thread(build_runtime, self.config_path)
            # The store first: a new feed must have its row before it is in use.
            await self._sync_feeds(runtime.settings)
        except NewsmonitorError as exc:
            problems = exc.problems if isinstance(exc, ConfigError) else [str(exc)]
            for problem in problems:
                log.error("reload rejected, keeping the running config reason=%s error=%s",
                          reason, problem)
            self._fingerprint = fingerprint  # a fixed file is picked up by the watch
            systemd.notify(f"READY=1\nSTATUS=reload rejected: {len(problems)} errors")
            return False
        _warn_restart_only(self.runtime.settings, runtime.settings)
        self.runtime = runtime
        if self._ctx is not None:
            self._ctx.settings, self._ctx.matcher = runtime.settings, runtime.matcher
        self._fingerprint = config_fingerprint(runtime.settings)
        log.info("reloaded reason=%s feeds=%d rules=%d", reason, len(runtime.settings.feeds),
                 len(runtime.settings.rules))
        systemd.notify(f"READY=1\nSTATUS={self._summary()}")
        return True

    async def _sync_feeds(self, settings: Settings | None = None) -> None:
        assert self._ctx is not None and self.store is not None
        now, rng = self.clock(), self._ctx.rng
        rows = []
        for feed in (settings or self._ctx.settings).feeds:
            policy: PollPolicy = self._ctx.policy(feed, settings=settings)
            # Spreading first polls protects servers from a thundering herd;
            # a local file has no server, so it is read at once.
            local = not feed.url.startswith(("http://", "https://"))
            first = now if local else first_poll(now, policy, rng)
            rows.append((feed.name, feed.url, policy.interval, first.timestamp()))
        await self.store.sync_feeds(rows)

    def _summary(self) -> str:
        s = self.runtime.settings
        return f"{len(s.feeds)} feeds, {len(s.rules)} rules, {len(self._tasks)} in flight"


RESTART_ONLY = ("database", "http", "concurrency", "per_host_concurrency", "timeout",
                "connect_timeout", "max_body", "user_agent")


def _warn_restart_only(old: Settings, new: Settings) -> None:
    """These [monitor] keys are read once at start: say so rather than ignore them."""
    for key in RESTART_ONLY:
        if getattr(old.monitor, key) != getattr(new.monitor, key):
            log.warning("setting changed, takes effect at the next restart key=monitor.%s", key)


def config_fingerprint(settings: Settings) -> tuple[tuple[str, int, int], ...]:
    """(path, mtime, size) of the config and every file its includes match now,
    so that a new rule file appearing in rules.d counts as a change."""
    paths = {settings.path, *settings.files}
    for pattern in settings.includes:
        paths.update(Path(p) for p in glob.glob(pattern))
    out = []
    for path in sorted(paths):
        try:
            st = os.stat(path)
            out.append((str(path), st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((str(path), 0, -1))
    return tuple(out)
