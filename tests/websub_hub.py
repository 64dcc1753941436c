"""A WebSub hub written for the tests (W3C WebSub sections 5 to 7), on a
loopback port in a thread of its own, as `loopback()` runs a server:

    with websub_hub(lease=12) as hub:
        feed_body = rss_with_hub(items, hub.url, topic)
        ...                                   # the daemon subscribes at hub.url
        hub.wait_verified(topic)              # it answered our challenge
        assert hub.publish(topic, body) == 200            # signed with its secret
        assert hub.publish(topic, body, sign="wrong") == 403

Subscription requests (POST, form-encoded) are answered 202, then verified
by a GET to the callback with a random hub.challenge, as a real hub does;
only a subscriber that echoes the challenge is kept. `publish` distributes a
body to the topic's subscribers with `Link` (hub, self) and `X-Hub-Signature`
(sha256 of the body with the subscriber's secret; `sign` may make it wrong
or leave it out). `requests` lists every subscription request received.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

import aiohttp
from aiohttp import web

from tests.loopback import LoopbackServer
from tests.waiting import wait_for


@dataclass
class Subscriber:
    topic: str
    callback: str
    secret: str
    verified: bool = False


@dataclass
class Hub:
    loop: asyncio.AbstractEventLoop
    server: LoopbackServer
    lease: int = 864000
    requests: list[dict[str, str]] = field(default_factory=list)
    asked: list[float] = field(default_factory=list)    # monotonic time of each request
    granted: list[float] = field(default_factory=list)  # of each subscription verified
    verifications: list[tuple[str, int, str]] = field(default_factory=list)  # mode, status, body
    subscribers: dict[str, Subscriber] = field(default_factory=dict)  # by callback
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return self.server.url("/hub")

    def modes(self, topic: str) -> list[str]:
        with self.lock:
            return [r["hub.mode"] for r in self.requests if r.get("hub.topic") == topic]

    def wait_verified(self, topic: str, timeout: float = 20) -> Subscriber:
        wait_for(lambda: any(s.verified for s in self._of(topic)), timeout)
        return next(s for s in self._of(topic) if s.verified)

    def publish(self, topic: str, body: bytes, *,
                sign: Literal["right", "wrong", "none"] = "right",
                callback: str | None = None, self_link: str | None = None,
                chunked: bool = False) -> int:
        """Push `body` to the topic's verified subscriber (or to `callback`),
        `chunked` without a Content-Length; the status it answered."""
        sub = self.wait_verified(topic)
        return self._run(self._push(callback or sub.callback, sub.secret, body, sign,
                                    self_link or topic, chunked))

    def verify(self, callback: str, mode: str, topic: str,
               lease: str | None = None) -> tuple[int, str]:
        """A verification of intent the hub sends on its own (not asked by
        the subscriber, or asked and verified already: a replay), with
        `lease` as hub.lease_seconds (default: the hub's): the status and
        body it got."""
        return self._run(self._verify(callback, mode, topic, lease))

    def _of(self, topic: str) -> list[Subscriber]:
        with self.lock:
            return [s for s in self.subscribers.values() if s.topic == topic]

    def _run(self, work: object) -> object:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(30)  # type: ignore[arg-type]

    async def handle(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        with self.lock:
            self.requests.append(form)
            self.asked.append(time.monotonic())
        if form.get("hub.mode") not in ("subscribe", "unsubscribe") or not form.get(
                "hub.callback") or not form.get("hub.topic"):
            return web.Response(status=400)
        # Verified after the answer, as the spec lets a hub do (202 Accepted).
        self.loop.create_task(self._confirm(form))
        return web.Response(status=202)

    async def _confirm(self, form: dict[str, str]) -> None:
        await asyncio.sleep(0.05)
        callback, mode, topic = form["hub.callback"], form["hub.mode"], form["hub.topic"]
        status, _, echoed = await self._ask(callback, mode, topic)
        if status != 200 or not echoed:
            return
        with self.lock:
            if mode == "unsubscribe":
                self.subscribers.pop(callback, None)
            else:
                self.granted.append(time.monotonic())
                self.subscribers[callback] = Subscriber(topic, callback,
                                                        form.get("hub.secret", ""), True)

    async def _verify(self, callback: str, mode: str, topic: str,
                      lease: str | None) -> tuple[int, str]:
        status, body, _ = await self._ask(callback, mode, topic, lease)
        return status, body

    async def _ask(self, callback: str, mode: str, topic: str,
                   lease: str | None = None) -> tuple[int, str, bool]:
        """A verification GET: (status, body, whether the challenge came back)."""
        challenge = secrets.token_hex(16)
        query = {"hub.mode": mode, "hub.topic": topic, "hub.challenge": challenge}
        if mode == "subscribe":
            query["hub.lease_seconds"] = lease if lease is not None else str(self.lease)
        async with aiohttp.ClientSession() as session, session.get(callback,
                                                                   params=query) as resp:
            body = await resp.text()
        with self.lock:
            self.verifications.append((mode, resp.status, body))
        return resp.status, body, body == challenge

    async def _push(self, callback: str, secret: str, body: bytes, sign: str,
                    topic: str, chunked: bool) -> int:
        headers = {"Content-Type": "application/rss+xml",
                   "Link": f'<{self.url}>; rel="hub", <{topic}>; rel="self"'}
        if sign != "none":
            key = secret if sign == "right" else secret + "x"
            digest = hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Hub-Signature"] = f"sha256={digest}"
        async def pieces() -> AsyncIterator[bytes]:
            for start in range(0, len(body), 4096):
                yield body[start:start + 4096]

        async with aiohttp.ClientSession() as session, session.post(
                callback, data=pieces() if chunked else body, headers=headers) as resp:
            await resp.read()
            return resp.status


@contextmanager
def websub_hub(lease: int = 864000) -> Iterator[Hub]:
    """The hub in a thread with its own event loop (see the module docstring)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = LoopbackServer()
    try:
        asyncio.run_coroutine_threadsafe(server.__aenter__(), loop).result()
        hub = Hub(loop, server, lease)
        server.route("/hub", handler=hub.handle)
        yield hub
    finally:
        asyncio.run_coroutine_threadsafe(server.__aexit__(None, None, None), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
