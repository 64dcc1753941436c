"""The WebSub callback (W3C WebSub sections 5.3 and 7): `/websub/{callback}`,
the one path that is not read-only and needs no token (a hub has neither).

What keeps it safe without a token:
- GET, a hub's verification of intent: the challenge is echoed only for a
  request we made and the hub has not verified yet (its random callback id,
  its topic, the mode we requested, within the hour, and for a subscription
  a positive integer hub.lease_seconds); anything else, a replay too, is
  404 and the hub gives up;
- POST, a push: to a callback id the daemon does not hold, 404 before the
  body is read (a stranger cannot make us read megabytes); the body is read
  up to `max_body` (413 past it); whoever holds the subscription (unknown callback or topic:
  404, a wrong or missing `X-Hub-Signature`: 403) and what is recorded are
  decided by `Callbacks`, on the daemon's event loop, where the secret, the
  store and the poll pipeline are. Each refusal is logged there (here for
  an unknown callback id and a body too large), without the callback id or
  the secret, and counted (`Callbacks.refused`, the daemon's metrics).
The handlers do no database work in this thread: they hand over to the
daemon (service/websub.py) and answer what it decided.
"""

from __future__ import annotations

import logging
from typing import Protocol

from aiohttp import web

log = logging.getLogger(__name__)
PREFIX = "/websub/"
MODES = ("subscribe", "unsubscribe", "denied")


class Callbacks(Protocol):
    """The daemon's side of the callback (service/websub.py)."""

    def max_body(self) -> int: ...

    def holds(self, callback: str) -> bool:
        """Whether `callback` may be a subscription of ours (no I/O: a quick
        first check before a body is read; `push` decides)."""

    def refused(self, reason: str) -> None:
        """Count a push refused here, in the web thread (no I/O)."""

    async def verify(self, callback: str, mode: str, topic: str, lease: str | None,
                     reason: str) -> bool:
        """Whether we asked for this (mode, topic) at `callback`, and the
        hub has not verified it yet; `lease`: hub.lease_seconds as given."""

    async def push(self, callback: str, body: bytes, headers: dict[str, str]) -> int:
        """Record a push; the HTTP status to answer."""


def add_routes(app: web.Application, callbacks: Callbacks) -> None:
    handlers = _Handlers(callbacks)
    app.router.add_get(PREFIX + "{callback}", handlers.verify)
    app.router.add_post(PREFIX + "{callback}", handlers.push)


class _Handlers:
    def __init__(self, callbacks: Callbacks) -> None:
        self._callbacks = callbacks

    async def verify(self, request: web.Request) -> web.Response:
        query = request.query
        mode, topic = query.get("hub.mode", ""), query.get("hub.topic", "")
        challenge = query.get("hub.challenge", "")
        if mode not in MODES or not topic or (mode != "denied" and not challenge):
            raise web.HTTPBadRequest(text="hub.mode, hub.topic and hub.challenge expected\n")
        ok = await self._callbacks.verify(request.match_info["callback"], mode, topic,
                                          query.get("hub.lease_seconds"),
                                          query.get("hub.reason", "")[:200])
        if not ok:
            raise web.HTTPNotFound(text="no such subscription\n")
        return web.Response(text=challenge if mode != "denied" else "ok\n",
                            content_type="text/plain")

    async def push(self, request: web.Request) -> web.Response:
        callback = request.match_info["callback"]
        if not self._callbacks.holds(callback):
            log.warning("websub push refused reason=unknown subscription")
            self._callbacks.refused("unknown subscription")
            raise web.HTTPNotFound(text="no such subscription\n")
        cap = self._callbacks.max_body()
        body = await _read(request, cap)
        if body is None:
            log.warning("websub push refused reason=too large max_body=%d", cap)
            self._callbacks.refused("too large")
            raise web.HTTPRequestEntityTooLarge(cap, request.content_length or cap + 1)
        headers = {name.lower(): value for name, value in request.headers.items()}
        status = await self._callbacks.push(callback, body, headers)
        return web.Response(status=status, text=f"{status}\n")


async def _read(request: web.Request, cap: int) -> bytes | None:
    """The body, or None past `cap` bytes (read no further than that)."""
    if request.content_length is not None and request.content_length > cap:
        return None
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
    return b"".join(chunks)

