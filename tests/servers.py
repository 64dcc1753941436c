"""Real loopback servers in threads, for tests that run the CLI or a daemon
subprocess (which own their event loop): a programmable feed server and a
JSON webhook receiver. Both bind 127.0.0.1 on a free port."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None          # answer 304 when If-None-Match matches


@dataclass
class Hit:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0  # what we answered


class LoopbackServer:
    """Serves `routes[path]`; records every request in `hits`."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: list[Hit] = []
        self.statuses: list[int] = []      # for POST receivers: next answers, else 200
        self.post_headers: dict[str, str] = {}  # sent with every POST answer
        self.delay = 0.0    # seconds a POST waits for its answer (a slow receiver)
        self.get_delay = 0.0  # seconds a GET waits for its answer (a slow feed)
        self.trickle = 0.0  # seconds between the bytes of a POST's answer (from the first)
        self.cut = 0        # trickled answers the client hung up on
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _record(self) -> Hit:
                length = int(self.headers.get("Content-Length") or 0)
                hit = Hit(self.command, self.path, {k.lower(): v for k, v in
                                                    self.headers.items()},
                          self.rfile.read(length) if length else b"")
                with server.lock:
                    server.hits.append(hit)
                return hit

            def do_GET(self) -> None:
                hit = self._record()
                time.sleep(server.get_delay)
                route = server.routes.get(hit.path.split("?")[0])
                if route is None:
                    return self._send(404, b"not found", {})
                if route.etag and hit.headers.get("if-none-match") == route.etag:
                    return self._send(304, b"", {"ETag": route.etag})
                headers = dict(route.headers)
                if route.etag:
                    headers["ETag"] = route.etag
                self._send(route.status, route.body, headers)

            def do_POST(self) -> None:
                hit = self._record()
                with server.lock:
                    status = server.statuses.pop(0) if server.statuses else 200
                    hit.status = status
                time.sleep(server.delay)
                headers = {"Content-Type": "application/json", **server.post_headers}
                if server.trickle:
                    return self._trickle(status, b"{}", headers)
                self._send(status, b"{}", headers)

            def _trickle(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                """The whole answer, status line included, one byte at a time: no
                read ever waits long enough for a read timeout."""
                lines = [f"HTTP/1.1 {status} OK", *(f"{k}: {v}" for k, v in headers.items()),
                         f"Content-Length: {len(body)}", "", ""]
                raw = "\r\n".join(lines).encode() + body
                try:
                    for byte in raw:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(server.trickle)
                except OSError:
                    with server.lock:
                        server.cut += 1
                self.close_connection = True

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def posts(self) -> list[Any]:
        """The JSON bodies of the POSTs we accepted (answered 2xx)."""
        with self.lock:
            return [json.loads(h.body) for h in self.hits
                    if h.method == "POST" and 200 <= h.status < 300]

    def attempts(self) -> int:
        """Every POST received, accepted or not."""
        with self.lock:
            return sum(1 for h in self.hits if h.method == "POST")

    def gets(self, path: str) -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if h.method == "GET" and h.path == path]


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client killed mid-request (the crash storm) is no server error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def loopback() -> Iterator[LoopbackServer]:
    server = LoopbackServer()
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


def rss(items: list[tuple[str, str]], title: str = "Test feed") -> bytes:
    """An RSS 2.0 document of (guid, title) items, newest first."""
    entries = "".join(
        f"<item><title>{t}</title><link>https://example.org/{g}</link>"
        f"<guid isPermaLink=\"false\">{g}</guid>"
        f"<pubDate>{format_datetime(datetime.now(UTC))}</pubDate>"
        f"<description>Résumé de l’article {g}.</description></item>"
        for g, t in items)
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>{title}</title><link>https://example.org/</link>"
            f"<description>d</description>{entries}</channel></rss>").encode()


@pytest.fixture
def feed() -> Iterator[LoopbackServer]:
    """A feed server of the test's own (a plugin of conftest)."""
    with loopback() as server:
        yield server


@pytest.fixture
def receiver() -> Iterator[LoopbackServer]:
    """A webhook receiver (json://) of the test's own."""
    with loopback() as server:
        yield server
