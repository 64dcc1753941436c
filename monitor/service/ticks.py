"""The daemon's periodic work, one method a tick (see `daemon.TICKS`).

Each tick hands its work to a compartment (`poll_feed`, `deliver_due`,
`Store.prune`, ...) and turns a failure into one log line: the next tick
tries again. `Ticks` reads the daemon's current runtime and store at every
call, so a reload takes effect at the next tick.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from monitor.config import FeedSettings
from monitor.deliver import outbox as delivery
from monitor.errors import NewsmonitorError
from monitor.models import FeedState
from monitor.poll import schedule
from monitor.poll.activity import REBUILD_EVERY, RESHARE_EVERY, WINDOW, Activity
from monitor.poll.pipeline import Context, poll_feed
from monitor.service import systemd
from monitor.service.runtime import config_fingerprint
from monitor.store import Store

if TYPE_CHECKING:
    from monitor.service.daemon import Daemon

log = logging.getLogger(__name__)
FIRST_CYCLE_REPORTED = 20  # never-polled feeds at start from which progress is logged
PROGRESS_EVERY = 10.0      # seconds between two progress lines
CLAIM_AHEAD = 4            # polls claimed at most, in [monitor] concurrency


class Ticks:
    """The ticks of one daemon."""

    def __init__(self, daemon: Daemon) -> None:
        self._daemon = daemon
        # Channels a delivery pass is sending on: passes overlap (a slow receiver
        # must not hold the others' alerts), one channel never (see delivery).
        self._busy: set[str] = set()
        # Feeds being polled now: a poll still waiting for a fetch slot past its
        # lease must not be dispatched a second time.
        self._in_flight: set[str] = set()
        # Feeds whose poll the store refused to record (a full disk): due
        # again as soon as it takes writes, not when their claim runs out.
        self._unrecorded: set[str] = set()
        # Feeds not polled yet since the start, while there are many: the
        # first cycle's progress is logged every PROGRESS_EVERY seconds.
        self._unpolled: set[str] = set()
        self._first_total = 0
        self._progress_at = 0.0

    def first_cycle(self, names: list[str]) -> None:
        """Report the progress of these never-polled feeds' first polls."""
        if len(names) >= FIRST_CYCLE_REPORTED:
            self._unpolled, self._first_total = set(names), len(names)
            self._progress_at = time.monotonic()

    @property
    def polling(self) -> int:
        """Polls in flight now."""
        return len(self._in_flight)

    async def dispatch(self) -> None:
        d = self._daemon
        ctx, store = d.context, d.store
        assert ctx is not None and store is not None
        d.last_tick = time.monotonic()
        enabled = {f.name: f for f in ctx.settings.feeds if f.enabled}
        # Renewed every heartbeat while the poll runs (also while it waits
        # for a fetch slot), so it need not cover the slowest poll.
        lease = ctx.settings.monitor.lease.total_seconds()
        # No more than this instance can start soon: a feed claimed waits
        # here, not at another instance with free slots (several instances),
        # and a crash strands few (taken over after instance_timeout).
        room = CLAIM_AHEAD * ctx.settings.monitor.concurrency - len(self._in_flight)
        if room <= 0:
            return
        try:
            await self._release_unrecorded(d.clock().timestamp())
            due = await store.due_feeds(d.clock().timestamp(), enabled, lease, room)
        except NewsmonitorError as exc:
            log.error("dispatch failed error=%s", exc)
            return
        for state in due:
            if state.name not in self._in_flight:
                self._in_flight.add(state.name)
                d.spawn(self._poll(ctx, d.websub.paced(enabled[state.name]), state))
        d.notify_status()

    async def _release_unrecorded(self, now: float) -> None:
        store = self._daemon.store
        if self._unrecorded and store is not None:
            names = set(self._unrecorded)
            await store.poll_now(sorted(names), now)
            self._unrecorded -= names

    async def _poll(self, ctx: Context, feed: FeedSettings, state: FeedState) -> None:
        try:
            outcome = await poll_feed(ctx, feed, state)
        except NewsmonitorError as exc:
            # The store itself failed (poll_feed handles the feed's own trouble):
            # the feed is polled again once the store takes writes.
            log.error("poll not recorded feed=%s error=%s", feed.name, exc)
            self._unrecorded.add(feed.name)
            return
        finally:
            self._in_flight.discard(feed.name)
            self._first_polled(feed.name)
        self._daemon.metrics.poll(outcome.result, outcome.elapsed, outcome.new_items,
                                  outcome.rules)
        if outcome.alerts or outcome.notices:
            self._daemon.spawn(self.deliver())
        if outcome.hub is not None and self._daemon.websub.enabled:
            await _logged("websub subscription", self._daemon.websub.discovered(
                feed, outcome.hub))

    @property
    def in_flight(self) -> set[str]:
        """The feeds being polled now; a WebSub push adds its feed while it runs."""
        return self._in_flight

    def _first_polled(self, name: str) -> None:
        if not self._unpolled:
            return
        self._unpolled.discard(name)
        done = self._first_total - len(self._unpolled)
        if not self._unpolled:
            log.info("first polls done feeds=%d", self._first_total)
        elif time.monotonic() - self._progress_at >= PROGRESS_EVERY:
            self._progress_at = time.monotonic()
            log.info("first polls in progress done=%d of=%d", done, self._first_total)

    async def pace(self) -> None:
        """Adaptive pacing's upkeep, by the daemon's clock: the feeds'
        histories rebuilt from the store's polls every REBUILD_EVERY (the
        window slides, and other instances' polls count), the request
        budget shared out every RESHARE_EVERY (see poll/schedule.py)."""
        d, ctx = self._daemon, self._daemon.context
        if ctx is None or d.store is None:
            return
        now = d.clock().timestamp()
        if now - ctx.activity.built >= REBUILD_EVERY:
            try:
                ctx.activity = await load_activity(d.store, now)
            except NewsmonitorError as exc:
                log.error("pace rebuild failed error=%s", exc)
        if now - ctx.activity.shared >= RESHARE_EVERY:
            policies = {f.name: f.policy for f in ctx.settings.feeds if f.enabled}
            schedule.share(ctx.activity, policies,
                           ctx.settings.monitor.max_requests_per_hour, now)

    async def deliver_tick(self) -> None:
        """Start a pass and return: the next tick starts another even while a
        slow channel holds this one (`_busy` keeps each channel to one pass)."""
        self._daemon.spawn(self.deliver())

    async def deliver(self, retry_now: bool = False) -> None:
        d = self._daemon
        if d.store is None:
            return
        await _logged("delivery tick", delivery.deliver_due(
            d.store, d.runtime.notifier, d.runtime.channels, d.clock(), d.metrics,
            retry_now=retry_now, busy=self._busy,
            lease=d.runtime.settings.monitor.lease.total_seconds()))

    async def heartbeat(self) -> None:
        """This instance is alive: its row written, the claims of its polls and
        sends in flight renewed; instances silent for instance_timeout are
        dead, and their claims released now (see store/instances.py)."""
        d, store = self._daemon, self._daemon.store
        if store is None:
            return
        settings, now = d.runtime.settings.monitor, d.clock().timestamp()
        me = replace(d.instance, heartbeat=now)
        try:
            dead = await store.cluster.heartbeat(me, sorted(self._in_flight),
                                         now + settings.lease.total_seconds(),
                                         settings.instance_timeout.total_seconds())
        except NewsmonitorError as exc:
            log.error("heartbeat failed error=%s", exc)
            return
        for instance in dead:
            log.warning("instance dead, its feeds and alerts released instance=%s", instance)

    async def gauges(self) -> None:
        d, store = self._daemon, self._daemon.store
        if store is None:
            return

        async def read() -> None:
            oldest = await store.oldest_pending()
            age = d.clock().timestamp() - oldest if oldest is not None else None
            d.metrics.refresh(await store.outbox_counts(), age, await store.feeds(),
                              d.runtime.channels.by_name)
        await _logged("metrics refresh", read())

    async def watch(self) -> None:
        d = self._daemon
        if config_fingerprint(d.runtime.settings) != d.fingerprint:
            await d.reload("file changed")

    async def retention(self) -> None:
        d = self._daemon
        assert d.store is not None
        now = d.clock()
        before = now - d.runtime.settings.monitor.retention
        try:
            # Once a day across all instances sharing the database.
            if not await d.store.cluster.claim_job("retention", now.date().isoformat(),
                                           now.timestamp()):
                return
            alerts, items = await d.store.prune(before.timestamp())
            log.info("pruned alerts=%d items=%d", alerts, items)
        except NewsmonitorError as exc:
            log.error("retention failed error=%s", exc)

    async def stories(self) -> None:
        """Other instances' items join the story index (see `_catch_up`)."""
        await _catch_up(self._daemon)

    async def websub(self) -> None:
        """Subscriptions renewed, retried or ended (service/websub.py)."""
        if self._daemon.websub.enabled and self._daemon.store is not None:
            await _logged("websub tick", self._daemon.websub.tick())

    async def watchdog(self) -> None:
        # Only while the dispatch tick ran recently: a wedged loop stops the
        # pings and systemd restarts us (WatchdogSec=).
        if time.monotonic() - self._daemon.last_tick < 30:
            systemd.notify(f"WATCHDOG=1\nSTATUS={self._daemon.summary()}")


async def load_activity(store: Store, now: float) -> Activity:
    """Every feed's publishing history, from the store's polls of WINDOW."""
    starts, found = await store.activity(now - WINDOW)
    activity = Activity.from_polls(starts, found)
    activity.built = now
    return activity


async def _catch_up(d: Daemon) -> None:
    """On PostgreSQL, the items the other instances recorded join this one's
    story index with their stories (poll/stories.py: catch_up)."""
    stories = d.context.stories if d.context is not None else None
    if (d.store is not None and stories is not None
            and "://" in d.runtime.settings.monitor.database):  # a path: SQLite, one daemon
        await _logged("stories catch-up", stories.catch_up(d.store, d.clock()))


async def _logged(what: str, work: Any) -> None:
    """Await a tick's work; a store or delivery error is one log line."""
    try:
        await work
    except NewsmonitorError as exc:
        log.error("%s failed error=%s", what, exc)
