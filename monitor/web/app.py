"""The aiohttp application: routes, and the rules every response obeys.

- Read-only: GET and HEAD; any other method is 405 before anything else runs,
  but POST to the WebSub callback (`/websub/…`, web/websub.py: a hub's
  pushes, which carry their own proof, the subscription's signature).
- With a token (`[monitor] http_token`, read at each request: a reload
  may change it) every path but /healthz, /static and the WebSub callback
  needs it: `Authorization: Bearer <token>`, or the cookie that `?token=` sets
  (then redirected to the same page without it, so it leaves the address
  bar). Compared in constant time (hmac.compare_digest); the cookie holds
  an HMAC of the token, never the token.
- Every response carries a strict Content-Security-Policy (nothing but our
  own stylesheet; no script at all), `frame-ancestors 'none'`, nosniff and
  no referrer: a feed's title that slips through escaping still cannot run.
- No access log: a query string may hold the token.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from monitor.errors import StoreError
from monitor.web import websub
from monitor.web.pages import Pages

log = logging.getLogger(__name__)

CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
           "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
           "Cache-Control": "no-store"}
COOKIE = "newsmonitor_token"
OPEN_PATHS = ("/healthz", "/static/", "/favicon.ico", websub.PREFIX)
STATIC = Path(__file__).parent / "static"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Health:
    """/healthz from `last_tick()` (monotonic seconds), /metrics from `metrics()`."""

    def __init__(self, last_tick: Callable[[], float], metrics: Callable[[], bytes],
                 stale_after: float) -> None:
        self.last_tick, self.metrics, self.stale_after = last_tick, metrics, stale_after

    async def healthz(self, request: web.Request) -> web.Response:
        age = time.monotonic() - self.last_tick()
        ok = age < self.stale_after
        text = f"{'ok' if ok else 'stale'}: last tick {age:.1f}s ago\n"
        return web.Response(status=200 if ok else 503, text=text)

    async def prometheus(self, request: web.Request) -> web.Response:
        response = web.Response(body=self.metrics())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response


def make_app(pages: Pages, health: Health,
             callbacks: websub.Callbacks | None = None) -> web.Application:
    def token() -> str:  # the running config's: a reload may change it
        return pages.snapshot().settings.monitor.http_token

    app = web.Application(middlewares=[_read_only, _Guard(token), _store_errors])
    app.on_response_prepare.append(_secure_headers)
    app.router.add_get("/", pages.overview)
    app.router.add_get("/feed/{name:.+}", pages.feed)
    app.router.add_get("/rule/{name:.+}", pages.rule)
    app.router.add_get("/alert/{id}", pages.alert)
    app.router.add_get("/search", pages.search)
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/metrics", health.prometheus)
    app.router.add_static("/static/", STATIC)
    app.router.add_get("/favicon.ico", _icon)
    if callbacks is not None:  # [monitor] public_url: WebSub on
        websub.add_routes(app, callbacks)
    return app


@web.middleware
async def _read_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method not in ("GET", "HEAD") and not (
            request.method == "POST" and request.path.startswith(websub.PREFIX)):
        raise web.HTTPMethodNotAllowed(request.method, ["GET", "HEAD"])
    return await handler(request)


class _Guard:
    """The token check (see the module's docstring)."""

    __middleware_version__ = 1  # what @web.middleware marks: a new-style middleware

    def __init__(self, token: Callable[[], str]) -> None:
        self.token = token  # the current one: a reload may change it

    async def __call__(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        token = self.token()
        if not token or request.path.startswith(OPEN_PATHS):
            return await handler(request)
        cookie = hmac.new(token.encode(), b"newsmonitor web cookie", hashlib.sha256).hexdigest()
        if "token" in request.query:
            raise _from_query(request, token, cookie)
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if _same(bearer, token) or _same(request.cookies.get(COOKIE, ""), cookie):
            return await handler(request)
        raise web.HTTPUnauthorized(text="a token is required: add ?token=… to the address\n",
                                   headers={"WWW-Authenticate": "Bearer"})


def _from_query(request: web.Request, token: str, cookie: str) -> web.HTTPException:
    """?token=: set the cookie and go to the same page without it."""
    if not _same(request.query["token"], token):
        raise web.HTTPUnauthorized(text="wrong token\n", headers={"WWW-Authenticate": "Bearer"})
    rest = request.rel_url.with_query({k: v for k, v in request.query.items() if k != "token"})
    response = web.HTTPSeeOther(str(rest))
    response.set_cookie(COOKIE, cookie, httponly=True, samesite="Strict", path="/")
    return response


async def _icon(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "icon.svg", headers={"Content-Type": "image/svg+xml"})


@web.middleware
async def _store_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The database failing is the page's one expected trouble: 503, one log line."""
    try:
        return await handler(request)
    except StoreError as exc:
        # A WebSub callback's path is its secret id: never in a log.
        path = websub.PREFIX + "…" if request.path.startswith(websub.PREFIX) else request.path
        log.error("web page failed path=%s error=%s", path, exc)
        raise web.HTTPServiceUnavailable(text="the database is not answering\n") from exc


def _same(given: str, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


async def _secure_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(HEADERS)
