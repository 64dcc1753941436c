"""The crash storm (issue 14): the daemon as a subprocess, SIGKILLed at random
moments over and over, against a feed that grows while it runs and a webhook
receiver that counts what arrives. Shared by tests/test_crash_storm.py (a
short run in CI) and bench/crash.py (a long one, reported).

What it shows: every matching item arrives (none lost), and an item arrives
twice only when a send was in flight at a kill: the receiver had accepted it
but the daemon died before it recorded it as sent, so the next daemon sent it
again (at-least-once). After each kill, with the daemon dead, the storm reads
the store: a receipt of an item the store does not record as sent is a send
in flight; every duplicate must be one of those ("attributed").
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import re
import signal
import threading
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from monitor.store import Store
from tests import configs
from tests.daemon_proc import DaemonProcess
from tests.loopback import LoopbackServer, loopback
from tests.servers import rss

WINDOW = 400        # items the feed lists, newest first (older ones fall off)
NOT_MATCHING = 4    # every 4th item matches no rule
ITEM = re.compile(r"item (\d{6})")


def words(n: int) -> str:
    """Words of item `n`'s own: each item is a story of its own (issue 12
    alerts a story once, and near-identical titles are one story)."""
    return " ".join(hashlib.sha256(f"{n}/{k}".encode()).hexdigest()[:10] for k in range(8))


@dataclass
class StormResult:
    kills: int
    published: int
    matched: int
    delivered: int       # distinct matching items the receiver accepted
    lost: int            # matched, never delivered
    duplicates: int      # receipts beyond the first, over all items
    in_flight: int       # receipts the store did not record as sent, at a kill
    attributed: int      # duplicates that were sends in flight at a kill
    unexpected: int      # receipts of items that should not have been alerted
    seconds: float

    def report(self) -> str:
        return "\n".join(f"{name}: {value:.1f}" if isinstance(value, float)
                         else f"{name}: {value}" for name, value in vars(self).items())


@dataclass
class GrowingFeed:
    """Publishes one item every `every` seconds on `server` at /feed."""

    server: LoopbackServer
    every: float
    published: list[tuple[int, bool]] = field(default_factory=list)  # (n, matching)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.server.route("/feed", body=rss([]))
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            n = len(self.published)
            matching = n % NOT_MATCHING != NOT_MATCHING - 1
            self.published.append((n, matching))
            entries = [(words(i)[:10], f"{'Ampere' if m else 'Other'} item {i:06d} {words(i)}")
                       for i, m in reversed(self.published[-WINDOW:])]
            self.server.route("/feed", body=rss(entries))


def write_config(folder: Path, database: str, feed: LoopbackServer,
                 receiver: LoopbackServer) -> Path:
    return configs.write(
        folder, monitor={"database": database, "default_channels": ["hook"], "jitter": 0.0,
                         "timeout": "10s", "honor_cache_headers": False},
        channels={"hook": {"url": receiver.webhook("/hook"), "rate_limit": "1000000/1s"}},
        rules=[{"name": "r", "any": ["Ampere"]}],
        feeds=[{"name": "grows", "url": feed.url("/feed"), "interval": "1s",
                "alert_existing": True}])


def receipts(receiver: LoopbackServer) -> Counter[int]:
    """Accepted posts per item number."""
    return Counter(int(n) for post in receiver.posts()
                   for n in set(ITEM.findall(str(post))))


async def _sent_items(database: str) -> Counter[int]:
    store = await Store.open(database)
    try:
        sent = await store.history(state="sent", limit=10**9)
    finally:
        await store.close()
    return Counter(int(ITEM.findall(s.alert.item.title)[0]) for s in sent)


def sent_items(database: str) -> Counter[int]:
    """What the store records as sent, per item number."""
    return asyncio.run(_sent_items(database))


@dataclass
class Storm:
    """`kills` SIGKILLs, each `kill_after` seconds (uniform) after READY; then a
    last daemon runs until every matching item arrived (at most `drain` s)."""

    folder: Path
    database: str
    kills: int
    seed: int = 0
    every: float = 0.25            # seconds between two published items
    kill_after: tuple[float, float] = (0.0, 2.0)
    send_delay: float = 0.05       # the receiver's answer: sends are in flight a while
    drain: float = 60.0
    log: list[str] = field(default_factory=list)

    def run(self) -> StormResult:
        started = time.monotonic()
        rng = random.Random(self.seed)
        with ExitStack() as stack:
            feed = stack.enter_context(loopback())
            receiver = stack.enter_context(loopback())
            receiver.delay = self.send_delay
            config = write_config(self.folder, self.database, feed, receiver)
            grows = GrowingFeed(feed, self.every)
            grows.start()
            unrecorded: Counter[int] = Counter()
            for kill in range(self.kills):
                self._kill_one(config, kill, rng)
                got, sent = receipts(receiver), sent_items(self.database)
                unrecorded |= Counter({n: got[n] - sent[n] for n in got if got[n] > sent[n]})
            grows.stop()
            matched = {n for n, m in grows.published if m}
            self._last_run(config, receiver, matched)
            return self._result(grows, matched, receipts(receiver), unrecorded,
                                time.monotonic() - started)

    def _kill_one(self, config: Path, kill: int, rng: random.Random) -> None:
        daemon = DaemonProcess(config, self._run_folder(f"kill{kill}"))
        try:
            daemon.wait_notify("READY=1", timeout=60)
            time.sleep(rng.uniform(*self.kill_after))
            os.killpg(daemon.proc.pid, signal.SIGKILL)
        finally:
            daemon.close()
            self.log.append(daemon.log)

    def _last_run(self, config: Path, receiver: LoopbackServer, matched: set[int]) -> None:
        daemon = DaemonProcess(config, self._run_folder("last"))
        try:
            deadline = time.monotonic() + self.drain
            while time.monotonic() < deadline and not matched <= set(receipts(receiver)):
                time.sleep(0.2)
            time.sleep(2 * self.every + 1)  # a resend after the last arrival would show
            daemon.stop()
        finally:
            daemon.close()
            self.log.append(daemon.log)

    def _run_folder(self, name: str) -> Path:
        folder = self.folder / name
        folder.mkdir()
        return folder

    def _result(self, grows: GrowingFeed, matched: set[int], got: Counter[int],
                unrecorded: Counter[int], seconds: float) -> StormResult:
        duplicates = sum(count - 1 for count in got.values())
        attributed = sum(min(count - 1, unrecorded[n]) for n, count in got.items())
        return StormResult(
            kills=self.kills, published=len(grows.published), matched=len(matched),
            delivered=len(matched & set(got)), lost=len(matched - set(got)),
            duplicates=duplicates, in_flight=sum(unrecorded.values()), attributed=attributed,
            unexpected=len(set(got) - matched), seconds=seconds)
