"""Issue 14.5, inflicted on the daemon as a real subprocess: a slow (6 s) and
a trickling receiver (one byte every 2 s) beside a fast one. Each alert
arrives once; the fast channel's alerts are not held by the others; SIGTERM
ends the process in time while a send still trickles."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import configs
from tests.daemon_proc import DaemonProcess
from tests.loopback import LoopbackServer, loopback
from tests.servers import rss
from tests.waiting import wait_for

SEND_TIMEOUT = 30  # seconds: the trickling send is still in flight at SIGTERM


@pytest.fixture
def receivers() -> Iterator[dict[str, LoopbackServer]]:
    with loopback() as fast, loopback() as slow, loopback() as trickle:
        slow.delay, trickle.trickle = 6, 2
        yield {"fast": fast, "slow": slow, "trickle": trickle}


def config(tmp: Path, feed: LoopbackServer, receivers: dict[str, LoopbackServer]) -> Path:
    return configs.write(
        tmp, monitor={"database": tmp / "state.sqlite3",
                      "default_channels": ["fast", "slow", "trickle"], "jitter": 0.0},
        channels={name: {"url": r.webhook(f"/{name}"), "send_timeout": f"{SEND_TIMEOUT}s"}
                  for name, r in receivers.items()},
        feeds=[{"name": "news", "url": feed.url("/f"), "interval": "1s"}],
        rules=[configs.AMPERE])

def titles(receiver: LoopbackServer) -> list[str]:
    return [p["title"] for p in receiver.posts()]


def test_slow_and_trickling_receivers_hold_no_other_channel_nor_shutdown(
        tmp_path: Path, receivers: dict[str, LoopbackServer]) -> None:
    fast, slow, trickle = receivers["fast"], receivers["slow"], receivers["trickle"]
    with loopback() as feed:
        items = [("x0", "Rien")]
        feed.route("/f", body=rss(items))
        daemon = DaemonProcess(config(tmp_path, feed, receivers), tmp_path)
        try:
            daemon.wait_notify("READY=1")
            daemon.wait_log("new items feed=news new=1")
            items.insert(0, ("a1", "Ampere 1"))
            feed.route("/f", body=rss(items))
            wait_for(lambda: trickle.attempts() == 1 and len(titles(fast)) == 1)
            # Both slow sends are in flight; a new alert reaches the fast
            # channel at once, not after them (the poll and tick take ~3 s).
            items.insert(0, ("a2", "Ampere 2"))
            feed.route("/f", body=rss(items))
            published = time.monotonic()
            wait_for(lambda: len(titles(fast)) == 2, timeout=SEND_TIMEOUT)
            assert time.monotonic() - published < 6
            wait_for(lambda: len(titles(slow)) == 2, timeout=20)
            assert trickle.cut == 0  # its first send still trickles
            code, took = daemon.stop()
            assert code == 0 and took < 10, daemon.log
        finally:
            daemon.close()
    expected = ["[newsmonitor] ampere: Ampere 1", "[newsmonitor] ampere: Ampere 2"]
    assert titles(fast) == expected and titles(slow) == expected
    assert slow.attempts() == 2
    assert titles(trickle) == expected[:1] and trickle.attempts() == 1
    assert "Traceback" not in daemon.log
