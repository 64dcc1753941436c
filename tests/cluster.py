"""Several `newsmonitor run` processes on one PostgreSQL database, a farm of
feeds with new items every cycle, and webhook receivers that count what
arrived: shared by tests/test_scaleout.py and bench/scale.py.

The farm's feeds list the items of the last few cycles; cycle c of feed n
has one item, `f{n}c{c}`, whose title matches rule `r{k}` (channel `h{k}`)
for one item in `match_every`, else no rule. What the daemons must alert is
what the farm served (`served`): every matching item of a document some
daemon fetched; what they did alert is what the receivers got.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUID = re.compile(r"\bf\d+c\d+\b")


class Farm:
    """Feeds /f/N on `hosts` (127.0.0.x), one new item per feed per cycle."""

    def __init__(self, feeds: int, cycle: float, *, match_every: int = 10, rules: int = 3,
                 hosts: tuple[str, ...] = ("127.0.0.1",), keep: int = 3,
                 slow: dict[int, float] | None = None) -> None:
        self.feeds, self.cycle, self.match_every, self.rules = feeds, cycle, match_every, rules
        self.slow = slow or {}  # feed → seconds it takes to answer (after its document)
        self.keep, self.started = keep, time.time()
        self.frozen_at: int | None = None
        self.hits: dict[int, list[float]] = {}   # feed → times it was fetched
        self.served: set[str] = set()            # matching items some daemon received
        self.lock = threading.Lock()
        # One port on every host: the first server's, chosen by the system.
        self.servers = [self._server(hosts[0], 0)]
        self.port = self.servers[0].server_address[1]
        self.servers += [self._server(host, self.port) for host in hosts[1:]]
        self.hosts = hosts

    def url(self, n: int) -> str:
        return f"http://{self.hosts[n % len(self.hosts)]}:{self.port}/f/{n}"

    def now_cycle(self) -> int:
        if self.frozen_at is not None:
            return self.frozen_at
        return int((time.time() - self.started) / self.cycle)

    def freeze(self) -> None:
        """No new items from now on (the end of a run)."""
        self.frozen_at = self.now_cycle()

    def listed(self) -> set[str]:
        """The matching items every feed lists now (all of them, once frozen)."""
        now = self.now_cycle()
        return {f"f{n}c{c}" for n in range(self.feeds)
                for c in range(max(0, now - self.keep + 1), now + 1)
                if self.rule_of(n, c) is not None}

    def rule_of(self, n: int, c: int) -> int | None:
        return (n + c) % self.rules if (n * 7 + c) % self.match_every == 0 else None

    def document(self, n: int) -> bytes:
        now, entries, served = self.now_cycle(), [], []
        published = format_datetime(datetime.now(UTC))
        for c in range(max(0, now - self.keep + 1), now + 1):
            rule, guid = self.rule_of(n, c), f"f{n}c{c}"
            # Words of its own: near-identical titles would be one story (issue 12).
            own = " ".join("w" + hashlib.sha256(f"{guid}/{k}".encode()).hexdigest()[:9]
                           for k in range(20))
            title = (f"kw{rule} Ampere {guid} {own}" if rule is not None
                     else f"Météo {guid} {own}")
            served += [guid] if rule is not None else []
            entries.append(f"<item><title>{title}</title><link>https://example.org/{guid}</link>"
                           f'<guid isPermaLink="false">{guid}</guid><pubDate>'
                           f"{published}</pubDate></item>")
        with self.lock:
            self.hits.setdefault(n, []).append(time.monotonic())
            self.served.update(served)
        return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
                f"<title>feed {n}</title><link>https://example.org/</link>"
                f"<description>d</description>{''.join(entries)}</channel></rss>").encode()

    def _server(self, host: str, port: int) -> ThreadingHTTPServer:
        farm = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                n = int(self.path.rsplit("/", 1)[1])
                body = farm.document(n)
                time.sleep(farm.slow.get(n, 0.0))
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        server = ThreadingHTTPServer((host, port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()

    def min_gap(self) -> float:
        """The shortest time between two fetches of one feed."""
        with self.lock:
            gaps = [b - a for times in self.hits.values() for a, b in itertools.pairwise(times)]
        return min(gaps, default=float("inf"))

    def first_hit_after(self, n: int, moment: float) -> float | None:
        with self.lock:
            return next((t for t in self.hits.get(n, []) if t > moment), None)


class Receivers:
    """A json:// webhook receiver counting each item it got (by GUID)."""

    def __init__(self) -> None:
        self.got: Counter[str] = Counter()
        self.messages = 0
        self.times: list[float] = []  # time.time() of each message
        self.lock = threading.Lock()
        receivers = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                guids = GUID.findall(f"{body.get('title', '')}\n{body.get('message', '')}")
                with receivers.lock:
                    receivers.messages += 1
                    receivers.times.append(time.time())
                    receivers.got.update(dict.fromkeys(guids, 1))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter(self.got)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def write_config(tmp: Path, database: str, farm: Farm, receivers: Receivers, *,
                 interval: float, concurrency: int = 10, channel_extra: str = "",
                 monitor_extra: str = "") -> Path:
    lines = ["[monitor]", f'database = "{database}"', f'interval = "{interval:g}s"',
             "jitter = 0", 'instance_timeout = "5s"', 'lease = "5s"',
             f"concurrency = {concurrency}", 'timeout = "20s"', monitor_extra, ""]
    for k in range(farm.rules):
        lines += [f"[channels.h{k}]", f'url = "json://127.0.0.1:{receivers.port}/h{k}"',
                  'rate_limit = "100000/1s"', channel_extra, "",
                  "[[rules]]", f'name = "r{k}"', f'query = "kw{k}"', f'channels = ["h{k}"]', ""]
    for n in range(farm.feeds):
        lines += ["[[feeds]]", f'name = "f{n}"', f'url = "{farm.url(n)}"',
                  "alert_existing = true", ""]
    path = tmp / "monitor.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@dataclass
class Daemon:
    """One `newsmonitor run`, in a process group of its own (with its parse
    workers), logging to a file."""

    config: Path
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Daemon:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", **self.env}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "monitor", "run", "--config", str(self.config),
                 "--log-format", "text"], stdout=out, stderr=out, env=env,
                cwd=self.config.parent, start_new_session=True)
        return self

    @property
    def instance(self) -> str:
        assert self.proc is not None
        return f"{socket.gethostname()}:{self.proc.pid}"

    def kill(self) -> None:
        """SIGKILL, to the daemon and its parse workers at once."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self, timeout: float = 15) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.kill()


@pytest.fixture
def receivers() -> Iterator[Receivers]:
    """The webhook receivers of a scale-out run, closed after it."""
    receivers = Receivers()
    yield receivers
    receivers.close()
