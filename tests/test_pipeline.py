"""poll_feed end to end, one behaviour of issue 4 per test: a real loopback
HTTP server (tests.loopback), the real Fetcher and aiohttp session, a real
SQLite store in tmp_path, the real matcher; time comes from an injected clock.

Parsing runs in a thread pool that counts its jobs, which is how "nothing was
parsed" is proven (a 304 has no body to poison). What `status --json` prints
is `monitor.cli.status.collect`, read here from the same store.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import web

from monitor.cli import status
from monitor.config import load
from monitor.matcher import compile_rules
from monitor.models import FeedState
from monitor.poll.fetcher import Fetcher, make_session
from monitor.poll.parser.pool import ParsePool
from monitor.poll.parser.prescan import cut_listed
from monitor.poll.pipeline import Context, Outcome, poll_feed
from monitor.poll.schedule import HostBackoff
from monitor.service.daemon import Daemon
from monitor.service.runtime import build_runtime
from monitor.store import Store
from tests import configs
from tests.loopback import LoopbackServer
from tests.waiting import until

T0 = datetime(2025, 2, 10, 12, 0, tzinfo=UTC)
INTERVAL = 900.0     # the config's 15m
MAX_BACKOFF = 86400.0


def rss(*guids: str, title: str = "Feed") -> bytes:
    items = "".join(f"<item><title>Ampère et Renault {g}</title><guid>{g}</guid>"
                    f"<link>https://example.org/{g}</link></item>" for g in guids)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{title}</title>{items}</channel></rss>").encode()


class CountingExecutor(concurrent.futures.ThreadPoolExecutor):
    """A real thread pool that counts the parse jobs it was given."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.jobs = 0
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any,
               **kwargs: Any) -> concurrent.futures.Future[Any]:
        self.jobs += 1
        self.calls.append((fn.__name__, args))
        return super().submit(fn, *args, **kwargs)


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class World:
    """One configured newsmonitor around `server`: config file, store, context."""

    server: LoopbackServer
    config: Path
    ctx: Context
    clock: Clock
    parses: CountingExecutor
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def poll(self, name: str) -> Outcome:
        feed = self.ctx.settings.feed(name)
        assert feed is not None
        return await poll_feed(self.ctx, feed, await self.state(name))

    async def state(self, name: str) -> FeedState:
        state = await self.ctx.store.feed(name)
        assert state is not None
        return state

    async def status(self, name: str) -> dict[str, Any]:
        report = await status.collect(self.ctx.settings, self.ctx.store)
        row: dict[str, Any] = next(f for f in report["feeds"] if f["name"] == name)
        return row


def write_config(tmp: Path, base: str, feeds: Mapping[str, str]) -> Path:
    return configs.write(
        tmp, monitor={"database": tmp / "state.sqlite3", "interval": "15m", "jitter": 0,
                      "max_backoff": "1d", "max_failures": 10, "default_channels": ["console"]},
        channels={"console": "console://"},
        feeds=[{"name": name, "url": base + path} for name, path in feeds.items()],
        rules=[{"name": "ampere", "query": "Ampere"}])

async def open_world(server: LoopbackServer, tmp: Path, feeds: Mapping[str, str]) -> World:
    config = write_config(tmp, server.base_url, feeds)
    settings = load(config, {})
    clock = Clock()
    store = await Store.open(settings.monitor.database)
    await store.sync_feeds([(f.name, f.url, INTERVAL, T0.timestamp()) for f in settings.feeds])
    session = make_session()
    parses = CountingExecutor()
    ctx = Context(settings=settings, store=store, fetcher=Fetcher(session, now=clock),
                  matcher=compile_rules(settings.rules), pool=ParsePool(lambda: parses),
                  hosts=HostBackoff(), clock=clock)

    async def close() -> None:
        await session.close()
        parses.shutdown()
        await store.close()
    return World(server, config, ctx, clock, parses, [close])


WorldFactory = Callable[..., Awaitable[World]]


@pytest.fixture
async def world(server: LoopbackServer, tmp_path: Path) -> AsyncIterator[WorldFactory]:
    """`await world(a="/a.xml", b="/b.xml")`: feeds named a and b on the server."""
    opened: list[World] = []

    async def make(**feeds: str) -> World:
        opened.append(await open_world(server, tmp_path, feeds))
        return opened[-1]
    yield make
    for w in opened:
        for close in w.closers:
            await close()


def later(seconds: float) -> float:
    return (T0 + timedelta(seconds=seconds)).timestamp()


# ------------------------------------------------------------ conditional GET


async def test_304_is_not_modified_and_nothing_is_parsed(world: WorldFactory) -> None:
    w = await world(f="/f.xml")
    route = w.server.route("/f.xml", body=rss("g1"), etag='"v1"')
    assert (await w.poll("f")).result == "new"
    assert w.parses.jobs == 1
    # Had the pipeline parsed anything now, this body would be an error.
    route.body = b"<<< not a feed >>>"
    w.clock.advance(INTERVAL)
    outcome = await w.poll("f")
    assert (outcome.result, outcome.new_items) == ("not_modified", 0)
    assert w.parses.jobs == 1
    assert w.server.hits[1].headers["if-none-match"] == '"v1"'
    state = await w.state("f")
    assert (state.last_status, state.etag, state.items_seen) == (304, '"v1"', 1)
    assert state.next_poll == later(2 * INTERVAL)


class SlowParses(concurrent.futures.ThreadPoolExecutor):
    """A real one-thread pool, slower than the loopback fetches: records the
    most bodies fetched and not yet parsed when a parse starts."""

    def __init__(self, server: LoopbackServer) -> None:
        super().__init__(max_workers=1)
        self.server, self.done, self.peak = server, 0, 0

    def submit(self, fn: Callable[..., Any], /, *args: Any,
               **kwargs: Any) -> concurrent.futures.Future[Any]:
        def job() -> Any:
            self.peak = max(self.peak, self.server.count() - self.done)
            time.sleep(0.05)
            try:
                return fn(*args, **kwargs)
            finally:
                self.done += 1
        return super().submit(job)


async def test_bodies_waiting_for_the_parser_are_bounded(world: WorldFactory) -> None:
    """Twelve feeds fetched at once, parsed one at a time: at most `bodies`
    (3 here; [monitor] concurrency by default) are held in memory."""
    names = [f"f{n}" for n in range(12)]
    w = await world(**{name: f"/{name}.xml" for name in names})
    for name in names:
        w.server.route(f"/{name}.xml", body=rss(f"{name}-1"))
    slow = SlowParses(w.server)
    w.ctx.pool, w.ctx.bodies = ParsePool(lambda: slow), asyncio.Semaphore(3)
    try:
        outcomes = await asyncio.gather(*(w.poll(name) for name in names))
    finally:
        slow.shutdown()
    assert [o.result for o in outcomes] == ["new"] * 12
    assert slow.done == 12 and slow.peak <= 3


async def test_polls_holding_items_are_bounded_while_the_store_stalls(
        world: WorldFactory) -> None:
    """Twelve feeds due at once while another writer holds the database: a
    parsed poll keeps its items until they are recorded, so at most `polls`
    (3 here; [monitor] concurrency by default) are under way; the others
    wait before their fetch, and all are recorded once the writer is done."""
    names = [f"f{n}" for n in range(12)]
    w = await world(**{name: f"/{name}.xml" for name in names})
    for name in names:
        w.server.route(f"/{name}.xml", body=rss(f"{name}-1", f"{name}-2"))
    w.ctx.polls = asyncio.Semaphore(3)
    writer = sqlite3.connect(w.ctx.settings.monitor.database.removeprefix("sqlite:///"),
                             isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        polls = asyncio.gather(*(w.poll(name) for name in names))
        await until(lambda: w.server.count() >= 3)
        await asyncio.sleep(0.5)  # time for more to be fetched, were they let
        fetched_meanwhile = w.server.count()
    finally:
        writer.execute("COMMIT")
        writer.close()
    assert [o.result for o in await polls] == ["new"] * 12
    assert fetched_meanwhile == 3 and w.server.count() == 12


async def test_same_body_without_validators_is_unchanged_and_not_parsed(
        world: WorldFactory) -> None:
    w = await world(f="/f.xml")
    w.server.route("/f.xml", body=rss("g1", "g2"))
    assert (await w.poll("f")).result == "new"
    w.clock.advance(INTERVAL)
    outcome = await w.poll("f")
    assert outcome.result == "unchanged"
    assert w.parses.jobs == 1
    assert "if-none-match" not in w.server.hits[1].headers
    assert (await w.status("f"))["health"] == "ok"


def last_seen(w: World) -> dict[str, float]:
    with sqlite3.connect(w.ctx.settings.monitor.database) as db:
        return dict(db.execute("SELECT title, last_seen FROM items"))


async def test_a_changed_body_parses_only_its_new_items(world: WorldFactory) -> None:
    """The pre-scan (parser.prescan), in the pool: feedparser gets the
    document without the two items the store has; they are touched all the
    same, and the new one is matched and alerted."""
    w = await world(f="/f.xml")
    route = w.server.route("/f.xml", body=rss("g1", "g2", title="Feed v1"))
    assert (await w.poll("f")).new_items == 2
    route.body = rss("g3", "g1", "g2", title="Feed v2")
    w.clock.advance(INTERVAL)
    outcome = await w.poll("f")
    assert (outcome.result, outcome.new_items, outcome.rules) == ("new", 1, ("ampere",))
    assert [name for name, _ in w.parses.calls[-2:]] == ["listing", "parse_listed"]
    body, headers, listed, known, _ = w.parses.calls[-1][1]
    assert len(listed.ids) == 3 and len(known) == 2
    given = cut_listed(body, headers, listed, known)  # what feedparser was given
    assert b"g1" not in given.prepared.text and b"g3" in given.prepared.text
    assert set(last_seen(w).values()) == {later(INTERVAL)}
    assert (await w.state("f")).title == "Feed v2"


async def test_a_changed_poll_asks_the_store_once(world: WorldFactory) -> None:
    """One query of the items per changed poll: the pre-scan's answer (each
    listed item's text and story) serves the dedup and the edits after the
    parse. Here a new item and an edited one are both told apart."""
    w = await world(f="/f.xml")
    route = w.server.route("/f.xml", body=rss("g1", "g2"))
    await w.poll("f")
    route.body = rss("g3", "g1", "g2").replace(b"Renault g1<", b"Renault g1 (corrected)<")
    w.clock.advance(INTERVAL)
    selects: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and " items" in statement:
            selects.append(statement)
    engine = w.ctx.store._engine.sync_engine
    sa.event.listen(engine, "before_cursor_execute", seen)
    outcome = await w.poll("f")
    sa.event.remove(engine, "before_cursor_execute", seen)
    assert (outcome.result, outcome.new_items, outcome.rules) == ("new", 1, ("ampere", "ampere"))
    assert len(selects) == 1, selects
    assert "Ampère et Renault g1 (corrected)" in last_seen(w)


async def test_a_body_with_only_known_items_parses_its_envelope(world: WorldFactory) -> None:
    w = await world(f="/f.xml")
    route = w.server.route("/f.xml", body=rss("g1", "g2"))
    await w.poll("f")
    route.body = rss("g2", "g1", title="Renamed")  # reordered: a new body, nothing new
    w.clock.advance(INTERVAL)
    outcome = await w.poll("f")
    assert (outcome.result, outcome.new_items) == ("no_new_items", 0)
    name, (body, headers, listed, known, _) = w.parses.calls[-1]
    assert name == "parse_listed"
    assert b"<item>" not in cut_listed(body, headers, listed, known).prepared.text
    assert set(last_seen(w).values()) == {later(INTERVAL)}
    assert (await w.state("f")).title == "Renamed"


# ------------------------------------------------------------ rate limits


def retry_after(form: str) -> str:
    """Retry-After meaning one hour from T0, in either form of RFC 9110 10.2.3."""
    return "3600" if form == "seconds" else format_datetime(T0 + timedelta(hours=1),
                                                           usegmt=True)


@pytest.mark.parametrize("code", [429, 503])
@pytest.mark.parametrize("form", ["seconds", "http-date"])
async def test_retry_after_sets_next_poll_and_status(world: WorldFactory, code: int,
                                                     form: str) -> None:
    w = await world(f="/f.xml")
    w.server.route("/f.xml", status=code, headers={"Retry-After": retry_after(form)})
    outcome = await w.poll("f")
    assert outcome.result == "error"
    # The backoff after one failure is the 15 min interval; the server asked for 1 h.
    assert (await w.state("f")).next_poll == later(3600)
    row = await w.status("f")
    assert (row["error_category"], row["last_status"]) == ("http", code)
    assert (row["health"], row["failures"]) == ("backoff", 1)
    assert row["next_poll"] == "2025-02-10T13:00:00+00:00"


async def test_retry_after_holds_every_feed_of_the_host(world: WorldFactory) -> None:
    w = await world(a="/a.xml", b="/b.xml")
    w.server.route("/a.xml", status=429, headers={"Retry-After": "3600"})
    w.server.route("/b.xml", body=rss("b1"))
    assert (await w.poll("a")).result == "error"
    w.clock.advance(60)
    assert (await w.poll("b")).result == "skipped"
    assert w.server.count("/b.xml") == 0
    assert (await w.state("b")).next_poll == later(3600)
    w.clock.advance(3600)
    assert (await w.poll("b")).result == "new"
    assert w.server.count("/b.xml") == 1


# ------------------------------------------------------------ gone and moved


async def test_410_disables_the_feed_for_good(world: WorldFactory) -> None:
    w = await world(f="/f.xml")
    w.server.route("/f.xml", status=410)
    assert (await w.poll("f")).result == "error"
    row = await w.status("f")
    assert row["health"] == "disabled" and "410 Gone" in row["disabled"]
    assert row["last_status"] == 410
    far = later(365 * 86400)
    assert await w.ctx.store.due_feeds(far, ["f"], 60) == []
    # A whole `run --once` polls every enabled feed: not this one.
    daemon = Daemon(w.config, build_runtime(w.config, {}),
                    executor_factory=concurrent.futures.ThreadPoolExecutor)
    assert await daemon.run_once() == []
    assert w.server.count("/f.xml") == 1


async def test_301_moves_the_feed_and_the_next_poll_goes_there(world: WorldFactory) -> None:
    w = await world(f="/old.xml")
    w.server.route("/old.xml", status=301, headers={"Location": "/new.xml"})
    w.server.route("/new.xml", body=rss("g1"), etag='"n1"')
    assert (await w.poll("f")).result == "new"
    state = await w.state("f")
    assert (state.url, state.current_url) == (w.server.url("/old.xml"),
                                              w.server.url("/new.xml"))
    row = await w.status("f")
    assert row["moved"] is True and row["url"] == w.server.url("/new.xml")
    w.clock.advance(INTERVAL)
    assert (await w.poll("f")).result == "not_modified"
    assert [h.path for h in w.server.hits] == ["/old.xml", "/new.xml", "/new.xml"]


async def test_302_keeps_the_stored_url(world: WorldFactory) -> None:
    w = await world(f="/temp.xml")
    w.server.route("/temp.xml", status=302, headers={"Location": "/elsewhere.xml"})
    w.server.route("/elsewhere.xml", body=rss("g1"))
    assert (await w.poll("f")).result == "new"
    assert (await w.state("f")).current_url == w.server.url("/temp.xml")
    assert (await w.status("f"))["moved"] is False
    w.clock.advance(INTERVAL)
    assert (await w.poll("f")).result == "unchanged"
    assert [h.path for h in w.server.hits] == ["/temp.xml", "/elsewhere.xml"] * 2


async def test_redirect_loop_is_a_redirect_error_and_backs_off(world: WorldFactory) -> None:
    w = await world(f="/ping.xml")
    w.server.route("/ping.xml", status=302, headers={"Location": "/pong.xml"})
    w.server.route("/pong.xml", status=301, headers={"Location": "/ping.xml"})
    assert (await w.poll("f")).result == "error"
    state = await w.state("f")
    assert state.current_url == w.server.url("/ping.xml")
    assert (state.failures, state.next_poll) == (1, later(INTERVAL))
    row = await w.status("f")
    assert (row["error_category"], row["health"], row["moved"]) == ("redirect", "backoff",
                                                                    False)


# ------------------------------------------------------------ health


async def failing(request: web.Request) -> web.Response:
    return web.Response(status=500, text="boom")


async def test_ten_failures_poll_at_the_slowest_backoff(world: WorldFactory) -> None:
    w = await world(f="/f.xml")
    w.server.route("/f.xml", handler=failing)
    delays = []
    for _ in range(10):
        assert (await w.poll("f")).result == "error"
        state = await w.state("f")
        delays.append(state.next_poll - w.clock().timestamp())
        w.clock.now = datetime.fromtimestamp(state.next_poll, UTC)
    # 15 min doubling each time, capped at max_backoff; from the 10th on, the cap.
    assert delays == [min(INTERVAL * 2**n, MAX_BACKOFF) for n in range(9)] + [MAX_BACKOFF]
    row = await w.status("f")
    assert (row["health"], row["failures"], row["error_category"]) == ("failing", 10, "http")
    assert row["interval_s"] == MAX_BACKOFF and w.server.count("/f.xml") == 10


async def test_bozo_but_usable_feed_shows_its_warning(world: WorldFactory) -> None:
    w = await world(f="/f.xml")
    # A bare "&" (Le Monde's titles had them): not well-formed XML, still readable.
    body = rss("g1").replace("Ampère et".encode(), b"Ampere &")
    w.server.route("/f.xml", body=body)
    outcome = await w.poll("f")
    assert (outcome.result, outcome.new_items) == ("new", 1)
    row = await w.status("f")
    assert row["health"] == "ok" and row["error"] is None
    assert "not well-formed" in row["warning"]


async def test_the_interval_counts_from_the_fetch_not_from_the_dispatch(
        world: WorldFactory) -> None:
    """A poll that waited 100 s for a fetch slot (hundreds of feeds due at
    once) is next due an interval after its request, so that no feed is
    fetched twice within one interval (issue 15: counted at the server)."""
    w = await world(f="/f.xml")
    w.server.route("/f.xml", body=rss("g1"))
    w.ctx.bodies = asyncio.Semaphore(1)
    await w.ctx.bodies.acquire()  # every slot taken
    poll = asyncio.ensure_future(w.poll("f"))
    await asyncio.sleep(0.05)
    w.clock.advance(100)
    w.ctx.bodies.release()
    assert (await poll).result == "new"
    assert (await w.state("f")).next_poll == later(100 + INTERVAL)
