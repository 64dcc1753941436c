"""The one programmable HTTP server of the tests, on a loopback address and a
free port (aiohttp.web). It plays a feed publisher and a webhook receiver.

    async with LoopbackServer() as server:       # in the test's own event loop
        server.route("/feed", body=b"<rss/>", headers={"ETag": '"v1"'})
        server.route("/slow", handler=my_aiohttp_handler)   # full control
        await fetch(server.url("/feed"))
        assert server.count("/feed") == 1
        assert server.hits[0].headers["user-agent"].startswith("newsmonitor/")

    with loopback() as hook:                     # in a thread with its own loop,
        hook.statuses = [500]                    # for the CLI, a daemon subprocess
        run_cli(hook.webhook("/h"))              # or sync code
        assert hook.attempts() == 1

Routes are matched on the path (query ignored); `Route.etag` makes the server
answer 304 to a matching If-None-Match, as a polite publisher does. A POST to
a path without a route is a webhook delivery: answered with the next of
`statuses` (else 200), after `delay` seconds, or one byte every `trickle`
seconds (a trickling receiver: no read waits long enough for a read timeout).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Padding a trickled webhook answer to about the size of a whole HTTP answer
# keeps it trickling long after any send timeout the tests set.
TRICKLED_BODY = b"{}" + b" " * 78


@dataclass
class Route:
    """What one path answers; `handler`, when set, replaces the rest."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    handler: Handler | None = None


@dataclass
class Hit:
    """One request the server received; header names lower-cased."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes = b""
    status: int = 0  # what a webhook delivery was answered
    at: float = field(default_factory=time.monotonic)  # when it was received

    @property
    def target(self) -> str:
        """The path with its query, as the request line had it."""
        return f"{self.path}?{self.query}" if self.query else self.path


class LoopbackServer:
    """See the module docstring. `base_url` and `port` are valid once started."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        """`host`: another loopback address (127.0.0.2) stands in for a
        public server in the private-network tests."""
        self.host = host
        self.routes: dict[str, Route] = {}
        self.hits: list[Hit] = []
        self.base_url = ""
        self.port = 0
        self.statuses: list[int] = []           # next webhook answers, else 200
        self.post_headers: dict[str, str] = {}  # sent with every webhook answer
        self.delay = 0.0    # seconds a webhook delivery waits for its answer
        self.get_delay = 0.0  # seconds a GET waits for its answer (a feed slow to answer)
        self.trickle = 0.0  # seconds between the bytes of a webhook answer
        self.cut = 0        # trickled answers the client hung up on
        # The tests read what the server's thread writes (see loopback()).
        self.lock = threading.Lock()
        self._runner: web.AppRunner | None = None

    def route(
        self,
        path: str,
        *,
        body: bytes = b"",
        status: int = 200,
        headers: dict[str, str] | None = None,
        etag: str | None = None,
        handler: Handler | None = None,
    ) -> Route:
        """Set (or replace) what `path` answers; returns the Route to tweak later."""
        self.routes[path] = Route(body, status, dict(headers or {}), etag, handler)
        return self.routes[path]

    def url(self, path: str) -> str:
        return self.base_url + path

    def webhook(self, path: str) -> str:
        """The apprise json:// URL whose deliveries this server receives at `path`."""
        return f"json://{self.host}:{self.port}{path}"

    def count(self, path: str | None = None) -> int:
        """Requests received for `path` (all paths if None)."""
        return len(self._hits(None, path))

    def gets(self, path: str) -> list[Hit]:
        return self._hits("GET", path)

    def attempts(self) -> int:
        """Every webhook delivery received, accepted or not."""
        return len(self._hits("POST", None))

    def posts(self) -> list[Any]:
        """The JSON bodies of the webhook deliveries accepted (answered 2xx)."""
        return [json.loads(hit.body) for hit in self.accepted()]

    def accepted(self) -> list[Hit]:
        """The webhook deliveries accepted (answered 2xx), in order of arrival."""
        return [hit for hit in self._hits("POST", None) if 200 <= hit.status < 300]

    def _hits(self, method: str | None, path: str | None) -> list[Hit]:
        with self.lock:
            return [hit for hit in self.hits if method in (None, hit.method)
                    and path in (None, hit.path)]

    async def __aenter__(self) -> LoopbackServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        # A short grace at cleanup: a trickling answer would hold it 60 s.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, 0).start()
        host, self.port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{self.port}"
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        headers = {name.lower(): value for name, value in request.headers.items()}
        try:
            body = await request.read()
        except ConnectionError:  # a client killed mid-request (the crash storm)
            return web.Response(status=400, text="client gone")
        hit = Hit(request.method, request.path, request.query_string, headers, body)
        with self.lock:
            self.hits.append(hit)
        if request.method == "GET":
            await asyncio.sleep(self.get_delay)
        route = self.routes.get(request.path)
        if route is None:
            if request.method == "POST":
                return await self._receive(request, hit)
            return web.Response(status=404, text="no such route")
        if route.handler is not None:
            return await route.handler(request)
        if route.etag is not None and headers.get("if-none-match") == route.etag:
            return web.Response(status=304, headers={"ETag": route.etag})
        extra = {"ETag": route.etag} if route.etag else {}
        return web.Response(status=route.status, body=route.body,
                            headers={**extra, **route.headers})

    async def _receive(self, request: web.Request, hit: Hit) -> web.StreamResponse:
        """A webhook delivery: see the module docstring."""
        with self.lock:
            hit.status = self.statuses.pop(0) if self.statuses else 200
        await asyncio.sleep(self.delay)
        headers = {"Content-Type": "application/json", **self.post_headers}
        if not self.trickle:
            return web.Response(status=hit.status, body=b"{}", headers=headers)
        answer = web.StreamResponse(status=hit.status, headers=headers)
        answer.content_length = len(TRICKLED_BODY)
        try:
            await answer.prepare(request)
            for byte in TRICKLED_BODY:
                await asyncio.sleep(self.trickle)
                await answer.write(bytes([byte]))
        except ConnectionError:
            with self.lock:
                self.cut += 1
        return answer


@contextmanager
def loopback(host: str = "127.0.0.1") -> Iterator[LoopbackServer]:
    """The server in a thread with its own event loop, for tests whose code
    under test owns the loop or blocks it (the CLI, a daemon subprocess)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = LoopbackServer(host)
    try:
        asyncio.run_coroutine_threadsafe(server.__aenter__(), loop).result()
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.__aexit__(None, None, None), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
