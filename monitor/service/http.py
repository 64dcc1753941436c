"""The optional /healthz and /metrics endpoint (`[monitor] http`).

It runs in its own thread with the standard library's HTTP server, on
purpose: when the event loop is wedged, a server inside that loop could not
answer at all, while this one answers 503 because the dispatch tick is old.
Bound to loopback by default; it serves nothing else.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST

from monitor.config import parse_listen
from monitor.errors import ListenError


class _IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


STALE_AFTER = 10.0  # seconds without a dispatch tick before /healthz says 503


class HealthServer:
    """Serves `/healthz` from `last_tick()` (monotonic seconds) and `/metrics`
    from `metrics()`; `start()` binds and returns the port."""

    def __init__(self, listen: str, last_tick: Callable[[], float],
                 metrics: Callable[[], bytes], stale_after: float = STALE_AFTER) -> None:
        self._address = parse_listen(listen)  # validated at load time

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                if path == "/healthz":
                    age = time.monotonic() - last_tick()
                    ok = age < stale_after
                    body = (f"ok: last tick {age:.1f}s ago\n" if ok
                            else f"stale: last tick {age:.1f}s ago\n").encode()
                    self._send(200 if ok else 503, body, "text/plain; charset=utf-8")
                elif path == "/metrics":
                    self._send(200, metrics(), CONTENT_TYPE_LATEST)
                else:
                    self._send(404, b"not found\n", "text/plain")

            def _send(self, status: int, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._handler = Handler
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> int:
        """Bind and serve in a thread; ListenError when the address is taken
        (a second instance on a shared config: see the README) or not ours."""
        server_class = _IPv6Server if ":" in self._address[0] else ThreadingHTTPServer
        try:
            self._server = server_class(self._address, self._handler)
        except OSError as exc:
            host, number = self._address
            raise ListenError(f"[monitor] http: cannot listen on {host}:{number}: "
                              f"{exc.strerror or exc}") from exc
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="health", daemon=True).start()
        port: int = self._server.server_address[1]
        return port

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
