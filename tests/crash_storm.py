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

A matching item the receiver never saw named is told apart at the end:
"grouped" when the store put it in a story (issue 12) another item of which
arrived (one alert per story: not a loss of the daemon, but items of the
generator too alike); "summarized" when the store records its alert as sent
and it was counted, not named, in a digest's "… and N more" (a first poll's
backlog goes out as one digest, whose entries are capped: render.Limits),
which `hidden` must cover; "unseen" when the store never had it (it left
the feed's last WINDOW items before any daemon finished a poll: the feed
grew faster than daemons killed this often could poll); else "lost".
Each item carries twelve words of its own so that none is grouped;
`grouped` says if that ever stops being true.

Timings (time.monotonic of this process): an item's delivery delay runs from
its publication to its first receipt; the recovery after a kill is how long
past the kill the last item published before it took to arrive (0 when all
had); a resend is the time between two receipts of one item (a send in
flight at a kill, sent again by a later daemon); a start is from spawning
the daemon to its READY=1. When the feed grows faster than daemons killed
every second or two can deliver, a backlog builds up and delays and
recoveries measure it; resends measure how soon a crashed send is taken up.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import re
import signal
import statistics
import threading
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

from monitor.store import Store
from tests import configs
from tests.daemon_proc import MAIN, DaemonProcess
from tests.loopback import LoopbackServer, loopback
from tests.servers import rss

WINDOW = 400        # items the feed lists, newest first (older ones fall off)
NOT_MATCHING = 4    # every 4th item matches no rule
ITEM = re.compile(r"item (\d{6})")
MORE = re.compile(r"and (\d+) more")  # a digest's last line (render.facts.more_text)


OWN_WORDS = 12
_LETTERS = str.maketrans("0123456789abcdef", "bcdfghjklmnpqrst")


def words(n: int) -> str:
    """Twelve words of item `n`'s own, letters only: each item is an event of
    its own (issue 12 alerts a story once). Letters, because grouping reads
    digits as figures and joins figures across spaces (`1 000`): hex words
    after the item's number ran together into one, and with the few words
    left, items of a cold window (shared `Ampere`, `item`, `Résumé`) scored
    just over the story threshold and were grouped."""
    return " ".join(hashlib.sha256(f"{n}/{k}".encode()).hexdigest()[:10].translate(_LETTERS)
                    for k in range(OWN_WORDS))


@dataclass
class StormResult:
    kills: int
    before_ready: int    # kills that came before the daemon's READY=1
    published: int
    matched: int
    delivered: int       # distinct matching items the receiver accepted
    grouped: int         # matched, not delivered, in a story another item of which was
    summarized: int      # matched, not named, recorded as sent: in a digest's "and N more"
    hidden: int          # the N of every "and N more" received (summarized <= hidden)
    unseen: int          # matched, never stored: left the feed's WINDOW before a poll ended
    lost: int            # matched, stored, never delivered, neither grouped nor summarized
    duplicates: int      # receipts beyond the first, over all items
    in_flight: int       # receipts the store did not record as sent, at a kill
    attributed: int      # duplicates that were sends in flight at a kill
    unexpected: int      # receipts of items that should not have been alerted
    delay: Spread        # publication to first receipt, per delivered item
    recovery: Spread     # per kill: see the module docstring
    resend: Spread       # per duplicate: from the receipt before it
    start: Spread        # per daemon: spawn to READY=1
    seconds: float

    def report(self) -> str:
        return "\n".join(f"{name}: {value:.1f}" if isinstance(value, float)
                         else f"{name}: {value}" for name, value in vars(self).items())


@dataclass(frozen=True)
class Spread:
    """Seconds: median, 95th percentile and maximum of some durations."""

    median: float
    p95: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if not values:
            return cls(0.0, 0.0, 0.0)
        ordered = sorted(values)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        return cls(statistics.median(ordered), p95, ordered[-1])

    def __str__(self) -> str:
        return f"median {self.median:.1f} s, p95 {self.p95:.1f} s, max {self.max:.1f} s"


@dataclass
class GrowingFeed:
    """Publishes one item every `every` seconds on `server` at /feed."""

    server: LoopbackServer
    every: float
    published: list[tuple[int, bool]] = field(default_factory=list)  # (n, matching)
    at: list[float] = field(default_factory=list)  # item n's publication: at[n]
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
            self.server.route("/feed", body=feed_body(self.published[-WINDOW:]))
            self.at.append(time.monotonic())


def feed_body(published: Sequence[tuple[int, bool]]) -> bytes:
    """The feed listing items (n, matching), newest first."""
    return rss([(words(n)[:10], f"{'Ampere' if matching else 'Other'} item {n:06d} {words(n)}")
                for n, matching in reversed(published)])


def write_config(folder: Path, database: str, feed: LoopbackServer,
                 receiver: LoopbackServer, monitor: dict[str, object] | None = None) -> Path:
    return configs.write(
        folder, monitor={"database": database, "default_channels": ["hook"], "jitter": 0.0,
                         "timeout": "10s", "honor_cache_headers": False, **(monitor or {})},
        channels={"hook": {"url": receiver.webhook("/hook"), "rate_limit": "1000000/1s"}},
        rules=[{"name": "r", "any": ["Ampere"]}],
        feeds=[{"name": "grows", "url": feed.url("/feed"), "interval": "1s",
                "alert_existing": True}])


def receipts(receiver: LoopbackServer) -> Counter[int]:
    """Accepted posts per item number."""
    return Counter(int(n) for post in receiver.posts()
                   for n in set(ITEM.findall(str(post))))


def receipt_times(receiver: LoopbackServer) -> dict[int, list[float]]:
    """When each item number was accepted, in order."""
    times: dict[int, list[float]] = {}
    for hit in receiver.accepted():
        for n in set(ITEM.findall(hit.body.decode())):
            times.setdefault(int(n), []).append(hit.at)
    return times


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


async def _stories(database: str) -> dict[int, set[int]]:
    store = await Store.open(database)
    try:
        stories = await store.story.recent(0.0)
    finally:
        await store.close()
    out: dict[int, set[int]] = {}
    for story in stories:
        members = {int(found[0]) for stored in story.items
                   if (found := ITEM.findall(stored.item.title))}
        out.update(dict.fromkeys(members, members))
    return out


def story_members(database: str) -> dict[int, set[int]]:
    """Item number → the item numbers of its story (itself included)."""
    return asyncio.run(_stories(database))


@dataclass
class Storm:
    """`kills` SIGKILLs, each `kill_after` seconds (uniform) after READY; then a
    last daemon runs until every matching item arrived (at most `drain` s).
    With `prestart`, each daemon's interpreter is started (held before
    `main()`) while the one before runs: restarts cost no imports; and with
    `kill_from="main"` the kill's moment counts from `main()`: start-up
    (store opened, claims voided, stories rebuilt) is among the moments hit,
    and a slow, loaded machine does not stretch the storm."""

    folder: Path
    database: str
    kills: int
    seed: int = 0
    every: float = 0.25            # seconds between two published items
    kill_after: tuple[float, float] = (0.0, 2.0)
    send_delay: float = 0.05       # the receiver's answer: sends are in flight a while
    drain: float = 60.0
    prestart: bool = False         # start each daemon held (tests/daemon_proc.py) ahead
    kill_from: str = "ready"       # or "main": kill_after counts from main() (prestart)
    monitor: dict[str, object] = field(default_factory=dict)  # more [monitor] settings
    log: list[str] = field(default_factory=list)
    killed_at: list[float] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)  # spawn (or main()) to READY=1
    before_ready: int = 0          # kills that came before READY=1
    _spare: DaemonProcess | None = None  # the next daemon, started held

    def run(self) -> StormResult:
        started = time.monotonic()
        rng = random.Random(self.seed)
        with ExitStack() as stack:
            feed = stack.enter_context(loopback())
            receiver = stack.enter_context(loopback())
            receiver.delay = self.send_delay
            config = write_config(self.folder, self.database, feed, receiver, self.monitor)
            grows = GrowingFeed(feed, self.every)
            grows.start()
            stack.callback(self._close_spare)
            unrecorded: Counter[int] = Counter()
            for kill in range(self.kills):
                self._kill_one(config, kill, rng)
                got, sent = receipts(receiver), sent_items(self.database)
                unrecorded |= Counter({n: got[n] - sent[n] for n in got if got[n] > sent[n]})
            grows.stop()
            matched = {n for n, m in grows.published if m}
            self._last_run(config, receiver, matched)
            return self._result(grows, matched, receiver, unrecorded,
                                time.monotonic() - started)

    def _next(self, config: Path, name: str, ready: bool = True) -> DaemonProcess:
        """The daemon to run now, READY (or, `ready` False, begun): with
        `prestart`, the one started held while the last one ran (and the one
        after it is started held)."""
        daemon = self._spare or DaemonProcess(config, self._run_folder(name), held=self.prestart)
        self._spare = None
        try:
            if self.prestart:
                daemon.go()
                daemon.wait_log(MAIN, timeout=60)
            begun = time.monotonic()
            if ready:
                daemon.wait_notify("READY=1", timeout=60)
                self.starts.append(time.monotonic() - begun)
        except BaseException:
            daemon.close()
            self.log.append(daemon.log)
            raise
        if self.prestart and name != "last":
            following = len(self.killed_at) + 1
            self._spare = DaemonProcess(config, self._run_folder(
                f"kill{following}" if following < self.kills else "last"), held=True)
        return daemon

    def _close_spare(self) -> None:
        if self._spare is not None:
            self._spare.close()
            self._spare = None

    def _kill_one(self, config: Path, kill: int, rng: random.Random) -> None:
        daemon = self._next(config, f"kill{kill}", ready=self.kill_from == "ready")
        try:
            time.sleep(rng.uniform(*self.kill_after))
            os.killpg(daemon.proc.pid, signal.SIGKILL)
            self.killed_at.append(time.monotonic())
            self.before_ready += not daemon.notified("READY=1")
        finally:
            daemon.close()
            self.log.append(daemon.log)

    def _last_run(self, config: Path, receiver: LoopbackServer, matched: set[int]) -> None:
        daemon = self._next(config, "last")
        try:
            deadline = time.monotonic() + self.drain
            while time.monotonic() < deadline and not self._drained(receiver, matched):
                time.sleep(0.5)
            time.sleep(2 * self.every + 1)  # a resend after the last arrival would show
            daemon.stop()
        finally:
            daemon.close()
            self.log.append(daemon.log)

    def _drained(self, receiver: LoopbackServer, matched: set[int]) -> bool:
        """Every matching item arrived, or is recorded as sent (counted, not
        named, in a digest's "… and N more": the result tells them apart)."""
        missing = matched - set(receipts(receiver))
        return not missing or missing <= set(sent_items(self.database))

    def _run_folder(self, name: str) -> Path:
        folder = self.folder / name
        folder.mkdir()
        return folder

    def _result(self, grows: GrowingFeed, matched: set[int], receiver: LoopbackServer,
                unrecorded: Counter[int], seconds: float) -> StormResult:
        got, times = receipts(receiver), receipt_times(receiver)
        first = {n: at[0] for n, at in times.items()}
        duplicates = sum(count - 1 for count in got.values())
        attributed = sum(min(count - 1, unrecorded[n]) for n, count in got.items())
        missing = matched - set(got)
        stories = story_members(self.database) if missing else {}
        grouped = {n for n in missing if stories.get(n, {n}) & set(got)}
        recorded = sent_items(self.database) if missing else Counter()
        summarized = {n for n in missing - grouped if recorded[n]}
        unseen = {n for n in missing - grouped - summarized if n not in stories}
        return StormResult(
            kills=self.kills, before_ready=self.before_ready,
            published=len(grows.published), matched=len(matched),
            delivered=len(matched & set(got)), grouped=len(grouped),
            summarized=len(summarized),
            hidden=sum(int(n) for post in receiver.posts() for n in MORE.findall(str(post))),
            unseen=len(unseen), lost=len(missing - grouped - summarized - unseen),
            duplicates=duplicates,
            in_flight=sum(unrecorded.values()), attributed=attributed,
            unexpected=len(set(got) - matched),
            delay=Spread.of([first[n] - grows.at[n] for n in matched & set(first)]),
            recovery=Spread.of(recoveries(self.killed_at, grows, matched, first)),
            resend=Spread.of([b - a for at in times.values() for a, b in pairwise(at)]),
            start=Spread.of(self.starts), seconds=seconds)


def recoveries(killed_at: Sequence[float], grows: GrowingFeed, matched: set[int],
               first: dict[int, float]) -> list[float]:
    """Per kill, how long past it the last matching item published before it
    took to arrive (items that never arrived aside: they are counted lost)."""
    out = []
    for kill in killed_at:
        before = [first[n] for n in matched & set(first) if grows.at[n] < kill]
        out.append(max([0.0, *(arrived - kill for arrived in before)]))
    return out
