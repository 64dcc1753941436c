"""A full disk while the daemon runs (issue 14): the SQLite file on a small
tmpfs, filled by a file of ours. The daemon logs the fault and goes on;
nothing is lost and no item is marked seen without its alert stored (the
items published while the disk is full all arrive later); it resumes within
seconds of the space coming back; and nothing the store records as sent is
sent again (every item arrives exactly once). Sends and a poll are in
flight when the disk fills: their outcomes are recorded once it has room.

Needs to mount a tmpfs (root, or CAP_SYS_ADMIN): skipped, saying so, where
that is not permitted."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import configs
from tests.daemon_proc import DaemonProcess
from tests.loopback import LoopbackServer, loopback
from tests.servers import rss
from tests.waiting import wait_for

RESUMED_WITHIN = 10.0  # seconds from the space coming back to the next alert delivered


@contextlib.contextmanager
def small_disk(folder: Path, size: str = "2m") -> Iterator[Path]:
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(path: Path) -> None:
    """Write `path` until the disk holding it is full."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC, exc
    finally:
        os.close(fd)


def write_config(tmp: Path, disk: Path, feed: LoopbackServer,
                 receiver: LoopbackServer) -> Path:
    return configs.write(
        tmp, monitor={"database": disk / "state.sqlite3", "default_channels": ["hook"],
                      "jitter": 0.0, "timeout": "10s", "honor_cache_headers": False},
        channels={"hook": {"url": receiver.webhook("/hook"), "rate_limit": "1000/1s"}},
        rules=[{"name": "r", "any": ["Ampere"]}],
        feeds=[{"name": "f", "url": feed.url("/feed"), "interval": "1s"}])


def publish(feed: LoopbackServer, count: int) -> None:
    """The feed lists items 0..count-1 (a long title each: pages to write;
    words of its own, so that each item is a story of its own), after an
    item that matches nothing (the first poll records it silently)."""
    items = [(f"g{n:04d}", f"Ampere item {n:04d} " + " ".join(
        hashlib.sha256(f"{n}/{k}".encode()).hexdigest()[:10] for k in range(100)))
             for n in reversed(range(count))]
    feed.route("/feed", body=rss([*items, ("seed", "Rien à signaler")]))


def arrived(receiver: LoopbackServer) -> Counter[str]:
    return Counter(post["title"].split("item ")[1][:4] for post in receiver.posts())


def test_a_full_disk_loses_nothing_and_resumes_within_seconds(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", "4m") as disk, loopback() as feed, \
            loopback() as receiver:
        config = write_config(tmp_path, disk, feed, receiver)
        publish(feed, 0)
        run = tmp_path / "run"
        run.mkdir()
        daemon = DaemonProcess(config, run)
        try:
            daemon.wait_log("new items feed=f new=1 alerts=0", timeout=30)
            publish(feed, 5)
            wait_for(lambda: len(arrived(receiver)) == 5, timeout=30)
            # Sends in flight when the disk fills: their sent marks wait for space.
            receiver.delay = 0.1
            publish(feed, 60)
            wait_for(lambda: len(arrived(receiver)) >= 15, timeout=30)
            # A poll in flight too: its items are recorded once there is space.
            feed.get_delay, polls = 2.0, len(feed.gets("/feed"))
            wait_for(lambda: len(feed.gets("/feed")) > polls, timeout=30)
            fill(disk / "filler")
            publish(feed, 140)
            feed.get_delay = receiver.delay = 0.0
            daemon.wait_log("database or disk is full", timeout=20)
            time.sleep(3)  # more polls and sends on the full disk
            before = len(arrived(receiver))
            os.unlink(disk / "filler")
            freed = time.monotonic()
            wait_for(lambda: len(arrived(receiver)) > before, timeout=60)
            resumed = time.monotonic() - freed
            wait_for(lambda: len(arrived(receiver)) == 140, timeout=60)
            time.sleep(3)  # a resend would show
            assert [n for n, count in arrived(receiver).items() if count > 1] == [], daemon.log
            assert resumed < RESUMED_WITHIN, daemon.log
            assert "poll not recorded" in daemon.log or "dispatch failed" in daemon.log
        finally:
            daemon.close()
