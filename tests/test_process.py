"""The daemon as a process a new user and systemd see: the start-up line, the
first polls at once, the STATUS line, a taken port, and no orphan left
behind by a SIGKILL (issue 11)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests import configs
from tests.daemon_proc import DaemonProcess
from tests.loopback import LoopbackServer, loopback
from tests.servers import rss
from tests.waiting import wait_for

REPO = Path(__file__).resolve().parents[1]
FEEDS = 25  # more than service.ticks.FIRST_CYCLE_REPORTED


def write_config(tmp: Path, feed: LoopbackServer, http: str = "") -> Path:
    for n in range(FEEDS):
        feed.route(f"/f{n}", body=rss([(f"g{n}", f"Item {n}")]))
    return configs.write(
        tmp, monitor={"database": tmp / "state.sqlite3", "default_channels": ["out"],
                      "http": http},
        channels={"out": "json://127.0.0.1:9/none"},
        feeds=[{"name": f"f{n}", "url": feed.url(f"/f{n}"), "interval": "15m"}
               for n in range(FEEDS)],
        rules=[{"name": "r", "any": ["Ampere"]}])

def statuses(daemon: DaemonProcess) -> list[str]:
    """The notifications received so far (READY=1 first)."""
    with contextlib.suppress(TimeoutError):
        while True:
            daemon.notifications.append(daemon.sock.recv(4096).decode())
    return daemon.notifications


def descendants(pid: int) -> set[int]:
    """Every live process under `pid` (zombies count as gone)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_start_line_first_polls_status_and_no_orphans_after_sigkill(tmp_path: Path) -> None:
    with loopback() as feed:
        daemon = DaemonProcess(write_config(tmp_path, feed), tmp_path)
        try:
            daemon.wait_notify("READY=1")
            daemon.wait_log("started config=")
            assert f"feeds={FEEDS} rules=1 next_polls=" in daemon.log
            # New feeds are polled within seconds, not spread over minutes,
            # and a first cycle of many feeds reports when it is done.
            daemon.wait_log(f"first polls done feeds={FEEDS}", timeout=30)
            # STATUS follows the polls: not stuck at what it said mid-poll.
            idle = f"STATUS={FEEDS} feeds, 1 rules, 0 polls in flight"
            wait_for(lambda: idle in statuses(daemon)[1:])
            assert any(s.endswith(" polls in flight") and s != idle
                       for s in statuses(daemon))
            pool = descendants(daemon.proc.pid)
            assert pool, "the parse pool's workers run under the daemon"
            os.kill(daemon.proc.pid, signal.SIGKILL)
            daemon.proc.wait(timeout=10)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and any(alive(pid) for pid in pool):
                time.sleep(0.1)
            assert [pid for pid in pool if alive(pid)] == []
        finally:
            daemon.close()


def test_a_taken_port_is_one_line_and_exit_3(tmp_path: Path) -> None:
    with loopback() as feed, socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(tmp_path, feed, http=f"127.0.0.1:{port}")
        done = subprocess.run([sys.executable, "-m", "monitor", "run", "--config", str(config)],
                              capture_output=True, text=True, timeout=60, cwd=tmp_path,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 3, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: [monitor] http: cannot listen on 127.0.0.1:{port}: "
                      "Address already in use"]
    assert "Traceback" not in done.stderr


def test_a_second_daemon_on_one_sqlite_file_is_refused(tmp_path: Path) -> None:
    """Two daemons on one SQLite file each voided the other's claims and sent
    alerts many times over (issue 14); the second is refused at start, and a
    crashed first leaves no stale lock."""
    with loopback() as feed:
        config = write_config(tmp_path, feed)
        first = DaemonProcess(config, tmp_path)
        try:
            first.wait_notify("READY=1")
            second = subprocess.run(
                [sys.executable, "-m", "monitor", "run", "--config", str(config)],
                capture_output=True, text=True, timeout=60, cwd=tmp_path,
                env={**os.environ, "PYTHONPATH": str(REPO)})
            assert second.returncode == 3, second.stderr
            errors = second.stderr.splitlines()  # one line: no "stopping" of what never ran
            assert errors == [f"error: {tmp_path / 'state.sqlite3'} is in use by another "
                              f"newsmonitor daemon (pid {first.proc.pid}); one daemon per "
                              "SQLite file: stop it first, or use PostgreSQL to run several"]
            os.kill(first.proc.pid, signal.SIGKILL)
            first.proc.wait(timeout=10)
        finally:
            first.close()
        (tmp_path / "again").mkdir()
        again = DaemonProcess(config, tmp_path / "again")
        try:
            again.wait_notify("READY=1")
        finally:
            again.close()
