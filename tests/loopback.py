"""A programmable HTTP server on 127.0.0.1:<free port>, for async tests.

    async with LoopbackServer() as server:
        server.route("/feed", body=b"<rss/>", headers={"ETag": '"v1"'})
        server.route("/slow", handler=my_aiohttp_handler)   # full control
        await fetch(server.url("/feed"))
        assert server.count("/feed") == 1
        assert server.hits[0].headers["user-agent"].startswith("newsmonitor/")

Routes are matched on the path (query ignored); an unknown path is a 404.
`Route.etag` makes the server answer 304 to a matching If-None-Match, as a
polite publisher does. Runs in the test's own event loop (aiohttp.web).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Route:
    """What one path answers; `handler`, when set, replaces the rest."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    handler: Handler | None = None


@dataclass(frozen=True)
class Hit:
    """One request the server received; header names lower-cased."""

    method: str
    path: str
    query: str
    headers: dict[str, str]


class LoopbackServer:
    """See the module docstring. `base_url` is valid inside `async with`."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        """`host`: another loopback address (127.0.0.2) stands in for a
        public server in the private-network tests."""
        self.host = host
        self.routes: dict[str, Route] = {}
        self.hits: list[Hit] = []
        self.base_url = ""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)

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

    def count(self, path: str | None = None) -> int:
        """Requests received for `path` (all paths if None)."""
        return sum(1 for hit in self.hits if path is None or hit.path == path)

    async def __aenter__(self) -> LoopbackServer:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._runner.cleanup()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        headers = {name.lower(): value for name, value in request.headers.items()}
        self.hits.append(Hit(request.method, request.path, request.query_string, headers))
        route = self.routes.get(request.path)
        if route is None:
            return web.Response(status=404, text="no such route")
        if route.handler is not None:
            return await route.handler(request)
        if route.etag is not None and headers.get("if-none-match") == route.etag:
            return web.Response(status=304, headers={"ETag": route.etag})
        extra = {"ETag": route.etag} if route.etag else {}
        return web.Response(status=route.status, body=route.body,
                            headers={**extra, **route.headers})
