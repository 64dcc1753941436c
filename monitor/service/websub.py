"""The daemon's WebSub subscriber: subscriptions kept, pushes recorded.

With `[monitor] public_url` (and `http`), a feed whose poll found a hub
(poll/websub.discover) is subscribed at that hub with a callback of its own,
`<public_url>/websub/<random id>`, and a random secret, both stored
(store/websub.py) before the request goes out: the hub may verify before it
answers. The `websub` tick (every few seconds, and after each reload) does
what `poll.websub.next_step` says for each subscription: renew before the
lease ends, ask again after a failure, unsubscribe a feed that left the
config, forget what the hub no longer holds.

The web thread's callback (web/websub.py) hands each verification and
push to this object's loop (`Bridge`: asyncio.run_coroutine_threadsafe):
the store, the secret and the pipeline are used only here. A push is
answered 2xx only once `pipeline.push_feed` recorded it (items, story,
alerts in one transaction): a hub that got no answer pushes again, and the
store's keys make that harmless. A feed being pushed is still polled, at its
safety-net interval (`paced`), in case the hub goes quiet.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from monitor.config import FeedSettings
from monitor.config.values import without_userinfo as mask_url
from monitor.errors import FetchError, NewsmonitorError
from monitor.models import Subscription
from monitor.poll import websub as spec
from monitor.poll.hubclient import ask_hub
from monitor.poll.pipeline import push_feed

if TYPE_CHECKING:
    from monitor.service.daemon import Daemon
    from monitor.service.metrics import Metrics
    from monitor.store import Store

log = logging.getLogger(__name__)
T = TypeVar("T")


def safety_interval(feed: FeedSettings) -> float:
    """How often a pushed feed is still polled, in seconds: at its
    `max_interval` (issue 18), never more often than it would be polled
    without WebSub (a feed configured slower keeps its `interval`)."""
    return max(feed.max_interval.total_seconds(), feed.policy.interval)


class WebSub:
    """One daemon's subscriptions; every method runs on the daemon's loop."""

    def __init__(self, daemon: Daemon) -> None:
        self._daemon = daemon
        monitor = daemon.runtime.settings.monitor
        # Read once: the callbacks the hubs hold are made from it (restart-only).
        self.public_url = monitor.public_url.rstrip("/") if monitor.http else ""
        self.subs: dict[str, Subscription] = {}  # by feed, as last read or written
        self.session: Any = None  # the daemon's HTTP client session, once open

    @property
    def metrics(self) -> Metrics:
        return self._daemon.metrics

    @property
    def enabled(self) -> bool:
        return bool(self.public_url)

    def callbacks(self) -> Bridge | None:
        """What the web thread calls (None: WebSub off); on the running loop."""
        if not self.enabled:
            return None
        return Bridge(self, asyncio.get_running_loop(),
                      lambda: self._daemon.runtime.settings.monitor.max_body)

    def callback_url(self, sub: Subscription) -> str:
        return f"{self.public_url}/websub/{sub.callback}"

    def paced(self, feed: FeedSettings) -> FeedSettings:
        """`feed` as it is polled now: at its safety-net interval while pushed."""
        sub = self.subs.get(feed.name)
        if sub is None or not spec.pushed(sub, self._now()):
            return feed
        # Not adaptive while pushed: the hub's pushes are its news, the
        # polls only a net (an adaptive pace would follow the pushed items).
        policy = replace(feed.policy, interval=safety_interval(feed), adaptive=False)
        return feed.model_copy(update={"policy": policy})

    # ------------------------------------------------------------ subscribing

    async def discovered(self, feed: FeedSettings, link: spec.HubLink | None) -> None:
        """A poll of `feed` found `link`: subscribe if we are not already."""
        if not self.enabled or link is None:
            return
        sub = self.subs.get(feed.name)
        if sub is not None and (sub.hub, sub.topic) == (link.hub, link.topic):
            return  # the tick takes care of it
        new = Subscription(feed.name, link.hub, link.topic, spec.new_callback(),
                           spec.new_secret(), "requested", self._now())
        await self._request(new, "subscribe")

    async def tick(self) -> None:
        """Each subscription's `next_step` (see the module's docstring)."""
        store = self._daemon.store
        assert store is not None
        settings = self._daemon.runtime.settings
        wanted = {f.name for f in settings.feeds if f.enabled} if self.enabled else set()
        subs = await store.websub.all()
        self.subs, now = {s.feed: s for s in subs}, self._now()
        due = [(sub, step) for sub in subs
               if (step := spec.next_step(sub, now, sub.feed in wanted)) != "none"]
        # Together: leases taken on one day end on one day, and a slow hub
        # must not hold the others' renewals (the session bounds each host).
        for failure in await asyncio.gather(*(self._step(sub, step) for sub, step in due),
                                            return_exceptions=True):
            if isinstance(failure, NewsmonitorError):  # the store: next tick
                log.error("websub step failed error=%s", failure)
            elif isinstance(failure, BaseException):
                raise failure

    async def _step(self, sub: Subscription, step: spec.Step) -> None:
        now = self._now()
        if step == "subscribe":
            await self._request(replace(sub, state="requested", requested=now), "subscribe")
        elif step == "renew":  # pushes go on meanwhile: still active
            await self._request(replace(sub, requested=now), "subscribe")
        elif step == "unsubscribe":
            await self._request(replace(sub, state="unsubscribing", requested=now),
                                "unsubscribe")
        elif step == "forget":
            assert self._daemon.store is not None
            await self._daemon.store.websub.forget(sub.callback, states=(sub.state,))
            self.subs.pop(sub.feed, None)
            log.info("websub subscription dropped feed=%s hub=%s", sub.feed, mask_url(sub.hub))

    async def _request(self, sub: Subscription, mode: str) -> None:
        """Store `sub`, then ask its hub; a failure is logged and kept in the
        row (asked again after spec.RETRY)."""
        store = self._daemon.store
        assert store is not None
        sub = replace(sub, pending=mode)  # until the hub verifies (spec.expected)
        await store.websub.save(sub)
        self.subs[sub.feed] = sub
        form = {"hub.mode": mode, "hub.topic": sub.topic, "hub.callback": self.callback_url(sub)}
        if mode == "subscribe":
            form |= {"hub.secret": sub.secret,
                     "hub.lease_seconds": str(int(spec.LEASE_ASKED))}
        feed = self._daemon.runtime.settings.feed(sub.feed)
        limits = self._daemon.runtime.settings.monitor.fetch_limits
        try:
            await ask_hub(self.session, sub.hub, form,
                          feed_url=feed.url if feed else sub.topic, limits=limits)
        except FetchError as exc:
            log.warning("websub request failed feed=%s hub=%s mode=%s error=%s", sub.feed,
                        mask_url(sub.hub), mode, exc)
            await store.websub.save(replace(sub, error=str(exc)[:500]))
            return
        log.info("websub requested feed=%s hub=%s mode=%s", sub.feed, mask_url(sub.hub), mode)

    # ------------------------------------------------------------ the callback

    async def verify(self, callback: str, mode: str, topic: str, lease: str | None,
                     reason: str) -> bool:
        """The hub's verification of intent: True only for what we asked and
        it did not verify yet (spec.expected), once; a subscription's lease
        a positive integer (spec.granted_lease)."""
        store = self._daemon.store
        assert store is not None
        sub, now = await store.websub.by_callback(callback), self._now()
        granted = spec.granted_lease(lease) if mode == "subscribe" else None
        ok = sub is not None and spec.expected(sub, mode, topic, now)
        if ok and mode == "subscribe" and granted is None:
            log.warning("websub verification refused, bad lease feed=%s lease=%r",
                        sub.feed if sub else "", (lease or "")[:24])
            self.metrics.verification("bad lease")
            return False
        if ok and sub is not None:
            ok = await _answered(store, sub, mode, topic, now + (granted or 0.0), reason)
        if not ok:  # not asked, asked and verified already, or changed meanwhile
            log.warning("websub verification refused, not asked mode=%s topic=%s feed=%s",
                        mode, mask_url(topic), sub.feed if sub else "")
            self.metrics.verification("not asked")
            return False
        assert sub is not None
        await self.load()  # the dispatcher paces the feed from now on
        log.info("websub %s feed=%s hub=%s%s", _DONE[mode], sub.feed, mask_url(sub.hub),
                 f" lease={granted:.0f}" if granted is not None else "")
        self.metrics.verification(mode)
        return True

    async def push(self, callback: str, body: bytes, headers: dict[str, str]) -> int:
        """A hub's push: 404 for no such subscription or topic, 403 unsigned
        or wrongly signed, else recorded through the pipeline and 200."""
        store, ctx = self._daemon.store, self._daemon.context
        assert store is not None and ctx is not None
        sub = await store.websub.by_callback(callback)
        feed = self._daemon.runtime.settings.feed(sub.feed) if sub else None
        if sub is None or feed is None or not feed.enabled or not spec.pushed(sub, self._now()):
            log.warning("websub push refused reason=unknown subscription size=%d", len(body))
            self._daemon.metrics.push("unknown subscription")
            return 404
        # The signature first: nothing about the subscription is told to
        # whoever cannot sign for it.
        verdict = spec.check_signature(sub.secret, headers.get("x-hub-signature"), body)
        if verdict != "ok":
            log.warning("websub push refused reason=%s feed=%s size=%d",
                        "unsigned" if verdict == "unsigned" else f"{verdict} signature",
                        sub.feed, len(body))
            self._daemon.metrics.push(verdict)
            return 403
        topic = spec.link_header(headers.get("link", "")).get("self", sub.topic)
        if topic != sub.topic:  # section 7: the hub names the topic it distributes
            log.warning("websub push refused reason=unknown topic feed=%s topic=%s", sub.feed,
                        mask_url(topic))
            self._daemon.metrics.push("unknown topic")
            return 404
        async with _holding(self._daemon.ticks.in_flight, feed.name):
            state = await store.feed(feed.name)
            if state is None:  # its row went with a reload meanwhile
                log.warning("websub push refused reason=unknown subscription feed=%s",
                            feed.name)
                self._daemon.metrics.push("unknown subscription")
                return 404
            outcome = await push_feed(ctx, self.paced(feed), state, body, headers)
        log.info("websub push recorded feed=%s result=%s new=%d", feed.name, outcome.result,
                 outcome.new_items)
        self._daemon.metrics.push("recorded", outcome.new_items, outcome.rules)
        if outcome.alerts or outcome.notices:
            self._daemon.spawn(self._daemon.ticks.deliver())
        return 200

    async def open(self, session: Any) -> None:
        """At start, before the endpoint opens: the daemon's HTTP session
        (poll/fetcher.make_session) for the hubs, the subscriptions held."""
        self.session = session
        await self.load()

    async def load(self) -> None:
        """The subscriptions as stored (at start; after each change)."""
        assert self._daemon.store is not None
        self.subs = {s.feed: s for s in await self._daemon.store.websub.all()}

    def _now(self) -> float:
        return self._daemon.clock().timestamp()


_DONE = {"subscribe": "subscribed", "unsubscribe": "unsubscribed", "denied": "denied"}


async def _answered(store: Store, sub: Subscription, mode: str, topic: str, until: float,
                    reason: str) -> bool:
    """Record the hub's answer to our pending request (a subscription
    active `until`): False when it was answered already (the store takes
    each request once, in one statement)."""
    if mode == "subscribe":
        return await store.websub.verified(sub.callback, topic, until)
    if mode == "unsubscribe":
        return await store.websub.forget(sub.callback, topic, pending="unsubscribe")
    return await store.websub.denied(sub.callback, topic, reason or "denied")


@asynccontextmanager
async def _holding(in_flight: set[str], name: str) -> AsyncIterator[None]:
    """Feed `name` as if being polled (in the dispatcher's `in_flight`),
    once no poll of it runs: its poll and a push never write its state at
    once, and no poll of it starts meanwhile."""
    while name in in_flight:
        await asyncio.sleep(0.05)
    in_flight.add(name)
    try:
        yield
    finally:
        in_flight.discard(name)


class Bridge:
    """`WebSub` as the web thread's `Callbacks` (web/websub.py): each call
    runs on the daemon's loop, awaited from the web thread's own. A store
    failure there comes back as the StoreError it is: the web app answers
    503, and the hub tries again later."""

    def __init__(self, websub: WebSub, loop: asyncio.AbstractEventLoop,
                 max_body: Callable[[], int]) -> None:
        self._websub, self._loop, self.max_body = websub, loop, max_body

    def holds(self, callback: str) -> bool:
        # From the web thread: a read of the dict the daemon's loop replaces
        # whole or updates one key at a time (atomic under the GIL).
        return any(s.callback == callback for s in list(self._websub.subs.values()))

    def refused(self, reason: str) -> None:
        # From the web thread: prometheus_client's counters take a lock.
        self._websub.metrics.push(reason)

    async def verify(self, callback: str, mode: str, topic: str, lease: str | None,
                     reason: str) -> bool:
        return await self._on_daemon(self._websub.verify(callback, mode, topic, lease, reason))

    async def push(self, callback: str, body: bytes, headers: dict[str, str]) -> int:
        return await self._on_daemon(self._websub.push(callback, body, headers))

    async def _on_daemon(self, work: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self._loop))
