"""Live reload: a new config swapped in whole, or rejected with the old kept.

SIGHUP, or any change to the config or a file its includes match (the
watch tick compares `config_fingerprint`s), reloads. The new config is
built and validated off the event loop; new feeds get their store rows
before the swap. A config that fails is rejected with one log line per
error, and the running one stays.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from monitor.deliver.notifier import Notifier
from monitor.errors import ConfigError, NewsmonitorError
from monitor.service import systemd
from monitor.service.runtime import (
    Runtime,
    build_runtime,
    config_fingerprint,
    warn_restart_only,
)

if TYPE_CHECKING:
    from monitor.service.daemon import Daemon

log = logging.getLogger(__name__)
Fingerprint = tuple[tuple[str, int, int], ...]


class Reloader:
    """Reloads one daemon's config, one reload at a time."""

    def __init__(self, daemon: Daemon) -> None:
        self._daemon = daemon
        # Reloads run one at a time, so the last one read the newest files.
        self._lock = asyncio.Lock()
        self._retired: set[Notifier] = set()  # replaced by a reload, still sending

    async def reload(self, reason: str) -> bool:
        """Swap in a new config; on any error keep the old one running."""
        d = self._daemon
        async with self._lock:
            systemd.notify("RELOADING=1")
            fingerprint = config_fingerprint(d.runtime.settings)
            try:
                runtime = await asyncio.to_thread(build_runtime, d.config_path)
                # The store first: a new feed must have its row before it is in use.
                await d.sync_feeds(runtime.settings)
            except NewsmonitorError as exc:
                self._rejected(reason, exc, fingerprint)
                return False
            self._swap(reason, runtime)
            return True

    def _rejected(self, reason: str, exc: NewsmonitorError, fingerprint: Fingerprint) -> None:
        problems = exc.problems if isinstance(exc, ConfigError) else [str(exc)]
        for problem in problems:
            log.error("reload rejected, keeping the running config reason=%s error=%s",
                      reason, problem)
        # The files as they were read: the watch retries once they change again.
        self._daemon.fingerprint = fingerprint
        systemd.notify(f"READY=1\nSTATUS=reload rejected: {len(problems)} errors")

    def _swap(self, reason: str, runtime: Runtime) -> None:
        d = self._daemon
        warn_restart_only(d.runtime.settings, runtime.settings)
        self._retire(d.runtime.notifier)
        runtime.notifier.open()
        d.runtime = runtime
        if d.context is not None:
            d.context.settings, d.context.matcher = runtime.settings, runtime.matcher
            if d.context.articles is not None:  # fulltext_timeout and _host_delay
                d.context.articles.use(runtime.settings.monitor)
            # The budget and the feeds may have changed: shared again at the next pace tick.
            d.context.activity.shared = 0.0
        d.fingerprint = config_fingerprint(runtime.settings)
        log.info("reloaded reason=%s feeds=%d rules=%d", reason, len(runtime.settings.feeds),
                 len(runtime.settings.rules))
        # A feed that left the config is unsubscribed now, not at the next tick.
        d.spawn(d.ticks.websub())
        systemd.notify(f"READY=1\nSTATUS={d.summary()}")

    def _retire(self, notifier: Notifier) -> None:
        """Close a replaced notifier once the sends that passes in flight
        started on it have surely ended (each has its deadline); closing it
        now would cut them off. `close_retired` closes what is left at shutdown."""
        self._retired.add(notifier)

        def close() -> None:
            if notifier in self._retired:
                self._retired.discard(notifier)
                notifier.close()

        asyncio.get_running_loop().call_later(notifier.deadline, close)

    def close_retired(self) -> None:
        for notifier in self._retired:
            notifier.close()
        self._retired.clear()
