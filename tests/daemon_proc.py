"""Run `newsmonitor run` as a real subprocess, with a notify socket of our own
(as systemd would give), and read its logs as they come.

`held=True` starts the interpreter and its imports now but holds it before
`main()` until `go()`: the crash storm starts the next daemon while the
current one runs, so that thirty restarts fit in CI time (imports take ~2 s
on a loaded machine; from `main()` on it is the daemon as systemd runs it).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

MAIN = "held daemon: main() begins"  # logged by a `held` daemon at go()

# What `python -m monitor` runs, once stdin gives a line (see `held`); apprise
# loads its hundred-odd plugins at the first URL it reads: ahead, too.
_HELD = ("import sys\n"
         "from monitor.cli import main\n"
         "import monitor.service.daemon, monitor.service.runtime\n"
         "import apprise\n"
         "apprise.Apprise.instantiate('json://127.0.0.1')\n"
         "sys.stdin.readline()\n"
         f"print({MAIN!r}, file=sys.stderr, flush=True)\n"
         "sys.exit(main(sys.argv[1:]))\n")


class DaemonProcess:
    def __init__(self, config: Path, tmp: Path, env: dict[str, str] | None = None,
                 *, held: bool = False) -> None:
        self.notify_path = str(tmp / "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.notify_path)
        self.sock.settimeout(0.2)
        self.notifications: list[str] = []
        self.log = ""
        self.out = ""
        # PYTHONPATH: the daemon runs in tmp, and must run this checkout's code.
        full_env = {**os.environ, "NOTIFY_SOCKET": self.notify_path, "PYTHONUNBUFFERED": "1",
                    "PYTHONPATH": str(Path(__file__).resolve().parents[1]), **(env or {})}
        start = ["-c", _HELD] if held else ["-m", "monitor"]
        self.proc = subprocess.Popen(
            [sys.executable, *start, "run", "--config", str(config), "--log-format", "text"],
            stdin=subprocess.PIPE if held else None, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env=full_env, cwd=tmp, start_new_session=True)
        self._readers = [threading.Thread(target=self._pump, args=(stream, attr), daemon=True)
                         for stream, attr in ((self.proc.stderr, "log"), (self.proc.stdout, "out"))]
        for reader in self._readers:
            reader.start()

    def go(self) -> None:
        """Let a `held` daemon run `main()`."""
        assert self.proc.stdin is not None, "go() is for a daemon started held"
        self.proc.stdin.write("\n")
        self.proc.stdin.close()

    def _pump(self, stream: object, attr: str) -> None:
        for line in stream:  # type: ignore[attr-defined]
            setattr(self, attr, getattr(self, attr) + line)

    def wait_notify(self, needle: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                self.notifications.append(self.sock.recv(4096).decode())
            for message in self.notifications:
                if needle in message:
                    return message
            self._alive()
        raise AssertionError(f"no {needle!r} on the notify socket: {self.notifications}\n"
                             f"log:\n{self.log}")

    def wait_log(self, needle: str, timeout: float = 30, count: int = 1) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log.count(needle) >= count:
                return
            self._alive()
            time.sleep(0.05)
        raise AssertionError(f"{needle!r} not logged {count} times in {timeout} s; "
                             f"log:\n{self.log}")

    def notified(self, needle: str) -> bool:
        """Whether `needle` came on the notify socket (by now: no wait)."""
        self.sock.setblocking(False)
        try:
            while True:
                self.notifications.append(self.sock.recv(4096).decode())
        except BlockingIOError:
            pass
        finally:
            self.sock.settimeout(0.2)
        return any(needle in message for message in self.notifications)

    def _alive(self) -> None:
        if self.proc.poll() is not None:
            raise AssertionError(f"daemon exited {self.proc.returncode}; log:\n{self.log}")

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 10) -> tuple[int, float]:
        """SIGTERM; (exit code, seconds it took)."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=5)
        return code, time.monotonic() - started

    def close(self) -> None:
        # The whole process group: the daemon's parse-pool workers hold our
        # pipes too, and would outlive a daemon killed after a failed test.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        for reader in self._readers:
            reader.join(timeout=5)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None and not stream.closed:
                stream.close()
        self.sock.close()
