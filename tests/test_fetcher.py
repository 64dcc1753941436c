"""Fetcher against a real loopback server: validators, redirects, errors, limits."""

from __future__ import annotations

import asyncio
import gzip
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from ipaddress import ip_address
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from monitor.config import FetchLimits, load
from monitor.errors import (
    ConnectionFailedError,
    FetchError,
    FetchTimeoutError,
    HTTPStatusError,
    RedirectError,
    TooLargeError,
)
from monitor.poll.addresses import is_public_address
from monitor.poll.fetcher import USER_AGENT, Fetcher, FetchResult, make_session
from monitor.service.runtime import limits_of
from tests import configs
from tests.loopback import LoopbackServer

NOW = datetime(2025, 2, 10, 12, 0, tzinfo=UTC)
MIB = 1024 * 1024


async def fetch(
    url: str, limits: FetchLimits | None = None, **validators: str | None
) -> FetchResult:
    limits = limits or FetchLimits()
    async with make_session(limits) as session:
        fetcher = Fetcher(session, limits, now=lambda: NOW)
        return await fetcher.fetch(
            url, etag=validators.get("etag"), last_modified=validators.get("last_modified")
        )


async def test_200_gives_body_lowercase_headers_and_validators(server: LoopbackServer) -> None:
    server.route("/feed", body=b"<rss/>", etag='"v1"',
                 headers={"Last-Modified": "Mon, 10 Feb 2025 10:00:00 GMT",
                          "Content-Type": "application/rss+xml; charset=utf-8"})
    result = await fetch(server.url("/feed"), etag=None, last_modified=None)
    assert (result.status, result.body, result.not_modified) == (200, b"<rss/>", False)
    assert result.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert (result.etag, result.last_modified) == ('"v1"', "Mon, 10 Feb 2025 10:00:00 GMT")
    assert result.final_url == server.url("/feed") and result.permanent_url is None
    assert server.hits[0].headers["user-agent"] == USER_AGENT
    assert USER_AGENT.startswith("newsmonitor/0.") and "(+http" in USER_AGENT


async def test_304_sends_both_validators_and_keeps_them(server: LoopbackServer) -> None:
    server.route("/feed", body=b"<rss/>", etag='"v1"')
    result = await fetch(server.url("/feed"), etag='"v1"',
                         last_modified="Mon, 10 Feb 2025 10:00:00 GMT")
    assert (result.status, result.not_modified, result.body) == (304, True, b"")
    assert result.etag == '"v1"' and result.last_modified == "Mon, 10 Feb 2025 10:00:00 GMT"
    sent = server.hits[0].headers
    assert sent["if-none-match"] == '"v1"'
    assert sent["if-modified-since"] == "Mon, 10 Feb 2025 10:00:00 GMT"


async def test_gzip_body_is_decoded(server: LoopbackServer) -> None:
    server.route("/feed", body=gzip.compress(b"<rss>" + b"x" * 5000 + b"</rss>"),
                 headers={"Content-Encoding": "gzip"})
    result = await fetch(server.url("/feed"))
    assert result.body.startswith(b"<rss>xxx") and len(result.body) == 5011
    assert "gzip" in server.hits[0].headers["accept-encoding"]


def _raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize(("encoding", "pack"), [
    ("deflate", zlib.compress),         # RFC 9110: zlib-wrapped
    ("deflate", _raw_deflate),          # what some servers send instead
    ("x-gzip", gzip.compress),
    ("identity", lambda data: data),
])
async def test_other_encodings_are_decoded(server: LoopbackServer, encoding: str,
                                           pack: Callable[[bytes], bytes]) -> None:
    body = b"<rss>" + "é".encode() * 3000 + b"</rss>"
    server.route("/feed", body=pack(body), headers={"Content-Encoding": encoding})
    assert (await fetch(server.url("/feed"))).body == body


async def test_corrupt_gzip_is_a_fetch_error(server: LoopbackServer) -> None:
    server.route("/feed", body=b"\x1f\x8b\x08\x00garbage" * 10,
                 headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match="corrupt compressed body"):
        await fetch(server.url("/feed"))


@pytest.mark.parametrize(
    ("status", "retry_after", "expected"),
    [
        (429, "120", 120.0),
        (429, "Mon, 10 Feb 2025 12:10:00 GMT", 600.0),
        (503, "3600", 3600.0),
        (503, "Mon, 10 Feb 2025 12:00:30 GMT", 30.0),
        (503, None, None),
        (410, None, None),
        (404, None, None),
        (500, "garbage", None),
    ],
)
async def test_error_status_raises_with_retry_after(
    server: LoopbackServer, status: int, retry_after: str | None, expected: float | None
) -> None:
    server.route("/feed", status=status,
                 headers={"Retry-After": retry_after} if retry_after else {})
    with pytest.raises(HTTPStatusError) as caught:
        await fetch(server.url("/feed"))
    assert (caught.value.status, caught.value.retry_after) == (status, expected)
    assert caught.value.category == "http"


@pytest.mark.parametrize(
    ("chain", "permanent"),
    [
        ([301], True),
        ([308], True),
        ([301, 308, 301], True),
        ([302], False),
        ([307], False),
        ([303], False),
        ([301, 302], False),
        ([302, 301], False),
    ],
)
async def test_redirects_permanent_only_when_every_hop_is(
    server: LoopbackServer, chain: list[int], permanent: bool
) -> None:
    for hop, status in enumerate(chain):
        server.route(f"/r{hop}", status=status, headers={"Location": f"/r{hop + 1}"})
    final = server.url(f"/r{len(chain)}")
    server.route(f"/r{len(chain)}", body=b"<rss/>")
    result = await fetch(server.url("/r0"))
    assert result.final_url == final and result.body == b"<rss/>"
    assert result.permanent_url == (final if permanent else None)


async def test_redirect_loop_raises(server: LoopbackServer) -> None:
    server.route("/a", status=301, headers={"Location": "/b"})
    server.route("/b", status=302, headers={"Location": "/a"})
    with pytest.raises(RedirectError, match="loop"):
        await fetch(server.url("/a"))
    assert server.count() == 2


async def test_more_than_five_redirects_raises(server: LoopbackServer) -> None:
    for hop in range(7):
        server.route(f"/r{hop}", status=302, headers={"Location": f"/r{hop + 1}"})
    server.route("/r7", body=b"<rss/>")
    with pytest.raises(RedirectError, match="more than 5"):
        await fetch(server.url("/r0"))
    assert server.count() == 6
    for hop in range(5):  # exactly five hops is fine
        server.route(f"/s{hop}", status=301, headers={"Location": f"/s{hop + 1}"})
    server.route("/s5", body=b"<rss/>")
    assert (await fetch(server.url("/s0"))).permanent_url == server.url("/s5")


async def test_redirect_to_a_bad_port_is_a_fetch_error(server: LoopbackServer) -> None:
    server.route("/feed", status=302, headers={"Location": "http://127.0.0.1:99999/x"})
    with pytest.raises(FetchError):
        await fetch(server.url("/feed"))


async def test_redirect_to_a_file_url_is_refused(server: LoopbackServer) -> None:
    server.route("/feed", status=302, headers={"Location": "file:///etc/passwd"})
    with pytest.raises(RedirectError):
        await fetch(server.url("/feed"))


async def trickle(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/xml"})
    await response.prepare(request)
    for _ in range(60):
        await response.write(b"<")
        await asyncio.sleep(1)
    return response


async def test_trickling_server_is_cut_at_the_total_timeout(server: LoopbackServer) -> None:
    server.route("/slow", handler=trickle)
    limits = FetchLimits(total_timeout=1.5, read_timeout=30)
    started = time.monotonic()
    with pytest.raises(FetchTimeoutError) as caught:
        await fetch(server.url("/slow"), limits)
    assert 1.4 < time.monotonic() - started < 3
    assert caught.value.category == "timeout"


async def test_waiting_for_a_host_slot_does_not_count_against_the_timeout(
        server: LoopbackServer) -> None:
    """Three feeds of one host, one at a time (per_host=1), each answering in
    0.6 s, with a 1 s total timeout: all three succeed (the third waits 1.2 s
    for its slot, not for its server), and a redirect chain still has one
    budget for all its hops."""
    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.6)
        return web.Response(body=b"<rss/>")

    async def slow_hop(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.6)
        raise web.HTTPFound(server.url("/feed"))

    server.route("/feed", handler=slow)
    server.route("/hop", handler=slow_hop)
    limits = FetchLimits(per_host=1, total_timeout=1.0, read_timeout=30)
    async with make_session(limits) as session:
        fetcher = Fetcher(session, limits)
        results = await asyncio.gather(*(fetcher.fetch(server.url("/feed"), etag=None,
                                                       last_modified=None) for _ in range(3)))
        assert [r.status for r in results] == [200, 200, 200]
        with pytest.raises(FetchTimeoutError):  # 0.6 s + 0.6 s of server time
            await fetcher.fetch(server.url("/hop"), etag=None, last_modified=None)


async def endless(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/xml"})
    await response.prepare(request)
    chunk = b"x" * MIB
    for _ in range(50):  # 50 MB
        await response.write(chunk)
    return response


async def test_50_mb_body_is_cut_at_the_cap(server: LoopbackServer) -> None:
    server.route("/big", handler=endless)
    with pytest.raises(TooLargeError) as caught:
        await fetch(server.url("/big"))
    assert caught.value.category == "too_large"
    small = FetchLimits(max_body=MIB)
    server.route("/ok", body=b"y" * MIB)  # exactly the cap is accepted
    assert len((await fetch(server.url("/ok"), small)).body) == MIB


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_refused_connection_never_shows_credentials() -> None:
    url = f"http://reader:s3cr3t@127.0.0.1:{closed_port()}/feed"
    with pytest.raises(ConnectionFailedError) as caught:
        await fetch(url)
    assert caught.value.category == "connection"
    assert "s3cr3t" not in str(caught.value) and "s3cr3t" not in caught.value.url
    assert "127.0.0.1" in str(caught.value)


class Busiest:
    """An aiohttp handler that answers after 50 ms and records the most
    requests it was answering at once."""

    def __init__(self) -> None:
        self.active = self.peak = 0

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        self.active += 1
        self.peak = max(self.peak, self.active)
        await asyncio.sleep(0.05)
        self.active -= 1
        return web.Response(body=b"<rss/>")


async def test_per_host_concurrency_is_bounded(server: LoopbackServer) -> None:
    slow = Busiest()
    server.route("/feed", handler=slow)
    limits = FetchLimits(per_host=2)
    async with make_session(limits) as session:
        fetcher = Fetcher(session, limits)
        await asyncio.gather(*(fetcher.fetch(server.url("/feed"), etag=None, last_modified=None)
                               for _ in range(8)))
    assert slow.peak == 2 and server.count("/feed") == 8


async def test_a_redirect_hop_counts_against_the_host_it_goes_to(
    server: LoopbackServer,
) -> None:
    """Feeds of three hosts all moved to `server`: per_host=1 holds there."""
    slow = Busiest()
    server.route("/feed", handler=slow)
    limits = FetchLimits(per_host=1)
    async with (LoopbackServer() as a1, LoopbackServer() as a2, LoopbackServer() as a3,
                make_session() as session):  # aiohttp's own per-host limit: 4
        fetcher = Fetcher(session, limits)
        origins = [a1, a2, a3]
        for origin in origins:
            origin.route("/moved", status=302, headers={"Location": server.url("/feed")})
        results = await asyncio.gather(*(
            fetcher.fetch(origin.url("/moved"), etag=None, last_modified=None)
            for origin in origins * 2))
    assert {r.final_url for r in results} == {server.url("/feed")}
    assert slow.peak == 1 and server.count("/feed") == 6


async def test_the_origin_host_slot_is_free_while_the_target_answers(
    server: LoopbackServer,
) -> None:
    answer = asyncio.Event()

    async def held(request: web.Request) -> web.StreamResponse:
        await answer.wait()
        return web.Response(body=b"<rss/>")

    server.route("/feed", handler=held)
    limits = FetchLimits(per_host=1)
    async with LoopbackServer() as origin, make_session(limits) as session:
        fetcher = Fetcher(session, limits)
        origin.route("/moved", status=301, headers={"Location": server.url("/feed")})
        origin.route("/here", status=302, headers={"Location": "/other"})  # same host
        origin.route("/other", body=b"<rss/>")
        moved = asyncio.create_task(
            fetcher.fetch(origin.url("/moved"), etag=None, last_modified=None))
        while not server.count("/feed"):
            await asyncio.sleep(0.01)
        # The moved feed is still talking to `server`; the origin's one slot is free.
        here = await asyncio.wait_for(
            fetcher.fetch(origin.url("/here"), etag=None, last_modified=None), 5)
        assert here.final_url == origin.url("/other") and not moved.done()
        answer.set()
        assert (await moved).permanent_url == server.url("/feed")


async def test_a_host_slot_is_dropped_once_no_request_holds_or_waits_on_it() -> None:
    """Twelve hosts, feeds moved between them, failures and cancelled polls:
    per_host holds at every host, and afterwards no host is kept."""
    hosts = 12
    active, peak = [0] * hosts, [0] * hosts
    hold = asyncio.Event()

    def counting(index: int) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def slow(request: web.Request) -> web.StreamResponse:
            active[index] += 1
            peak[index] = max(peak[index], active[index])
            await asyncio.sleep(0.02)
            active[index] -= 1
            return web.Response(body=b"<rss/>")
        return slow

    async def held(request: web.Request) -> web.StreamResponse:
        await hold.wait()
        return web.Response(body=b"<rss/>")

    limits = FetchLimits(per_host=2)
    async with AsyncExitStack() as stack:
        servers = [await stack.enter_async_context(LoopbackServer()) for _ in range(hosts)]
        session = await stack.enter_async_context(make_session())  # aiohttp's limit: 4
        fetcher = Fetcher(session, limits)
        for index, server in enumerate(servers):
            server.route("/feed", handler=counting(index))
            following = servers[(index + 1) % hosts]
            server.route("/moved", status=301, headers={"Location": following.url("/feed")})
            server.route("/held", handler=held)
        urls = [s.url(path) for s in servers for path in ("/feed", "/moved", "/gone")] * 3
        urls.append(f"http://127.0.0.1:{closed_port()}/feed")
        polls = [fetcher.fetch(url, etag=None, last_modified=None) for url in urls]
        results = await asyncio.gather(*polls, return_exceptions=True)
        assert sum(isinstance(r, FetchResult) for r in results) == hosts * 2 * 3
        assert peak == [2] * hosts
        assert not fetcher._hosts
        # Polls cancelled while holding a slot, or while waiting for one.
        stuck = [asyncio.create_task(fetcher.fetch(servers[0].url("/held"), etag=None,
                                                   last_modified=None)) for _ in range(3)]
        while servers[0].count("/held") < 2:
            await asyncio.sleep(0.01)
        assert len(fetcher._hosts) == 1
        for task in stuck:
            task.cancel()
        await asyncio.gather(*stuck, return_exceptions=True)
        hold.set()
    assert not fetcher._hosts


GZIP_BOMB_SCRIPT = r"""
import asyncio, zlib
from monitor.errors import TooLargeError
from monitor.config import FetchLimits
from monitor.poll.fetcher import Fetcher, make_session
from tests.loopback import LoopbackServer

def peak_kib():
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over execve, so a child of
    # a big pytest process would report its parent's peak.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

def bomb(size):
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    zeros = bytes(1 << 20)
    return b"".join([*(packer.compress(zeros) for _ in range(size >> 20)), packer.flush()])

async def main():
    body = bomb(1 << 30)  # 1 GiB of zeros, about 1 MB on the wire
    async with LoopbackServer() as server:
        server.route("/bomb", body=body, headers={"Content-Encoding": "gzip"})
        before = peak_kib()
        async with make_session() as session:
            try:
                await Fetcher(session, FetchLimits()).fetch(
                    server.url("/bomb"), etag=None, last_modified=None)
            except TooLargeError:
                after = peak_kib()
                print("cut", before, after, len(body))
            else:
                print("not cut")

asyncio.run(main())
"""


def test_gzip_bomb_is_cut_at_the_cap_with_bounded_memory() -> None:
    """1 GiB gzip bomb: cut at 10 MiB; the process never goes past 100 MB."""
    from tests.corpus import REPO

    out = subprocess.run(
        [sys.executable, "-c", GZIP_BOMB_SCRIPT], cwd=REPO, capture_output=True, text=True,
        timeout=60, check=True, env={"PYTHONPATH": str(REPO)},
    ).stdout.split()
    assert out[0] == "cut", out
    peak_kib = int(out[2])  # VmHWM in KiB: this process's peak resident memory
    assert peak_kib < 100 * 1024, f"peak RSS {peak_kib} KiB"


# Issue 14, point 6: where a stranger's server points. Only loopback exists
# here: 127.0.0.2 and 127.0.0.3 stand in for public publishers.
STAND_INS = {"127.0.0.2", "127.0.0.3"}


def stand_in_public(address: object) -> bool:
    return str(address) in STAND_INS


@pytest.fixture
async def publisher() -> AsyncIterator[LoopbackServer]:
    async with LoopbackServer("127.0.0.2") as running:
        yield running


async def fetch_from_stranger(url: str, allow: bool = False,
                              session_first: str | None = None,
                              resolver: AbstractResolver | None = None) -> FetchResult:
    """Fetch `url` as a feed, the stand-ins public; `session_first` is a
    feed fetched before on the same session (its connection pooled)."""
    limits = FetchLimits(allow_private_networks=allow)
    async with make_session(limits, resolver=resolver) as session:
        fetcher = Fetcher(session, limits, is_public=stand_in_public)
        if session_first:
            await fetcher.fetch(session_first, etag=None, last_modified=None)
        return await fetcher.fetch(url, etag=None, last_modified=None)


@pytest.mark.parametrize("target_host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"])
async def test_a_redirect_from_a_public_server_to_a_private_one_is_refused(
    publisher: LoopbackServer, server: LoopbackServer, target_host: str
) -> None:
    server.route("/secret.xml", body=b"<rss>secret</rss>")
    port = server.base_url.rsplit(":", 1)[1]
    publisher.route("/feed", status=302,
                    headers={"Location": f"http://{target_host}:{port}/secret.xml"})
    with pytest.raises(RedirectError, match="non-public address refused"):
        await fetch_from_stranger(publisher.url("/feed"))
    assert server.count() == 0  # refused before connecting: not even a request


async def test_a_pooled_connection_to_a_private_feed_is_not_reused_for_a_stranger(
    publisher: LoopbackServer, server: LoopbackServer
) -> None:
    server.route("/feed", body=b"<rss/>")  # the user's own feed, on a private host
    server.route("/secret.xml", body=b"<rss>secret</rss>")
    publisher.route("/feed", status=302, headers={"Location": server.url("/secret.xml")})
    with pytest.raises(RedirectError, match="non-public address refused"):
        await fetch_from_stranger(publisher.url("/feed"), session_first=server.url("/feed"))
    assert server.count("/secret.xml") == 0


async def test_redirects_to_public_hosts_and_inside_the_configured_host_are_followed(
    publisher: LoopbackServer, server: LoopbackServer
) -> None:
    async with LoopbackServer("127.0.0.3") as other:
        other.route("/feed", body=b"<rss>moved</rss>")
        publisher.route("/feed", status=301, headers={"Location": other.url("/feed")})
        result = await fetch_from_stranger(publisher.url("/feed"))
        assert result.body == b"<rss>moved</rss>" and result.permanent_url == other.url("/feed")
    # A feed the user configured on a private address, redirecting inside it.
    server.route("/old", status=302, headers={"Location": "/new"})
    server.route("/new", body=b"<rss>mine</rss>")
    assert (await fetch_from_stranger(server.url("/old"))).body == b"<rss>mine</rss>"


async def test_a_private_feed_may_not_redirect_to_another_private_host(
    server: LoopbackServer,
) -> None:
    async with LoopbackServer("127.0.0.4") as elsewhere:
        elsewhere.route("/x", body=b"<rss/>")
        server.route("/feed", status=302, headers={"Location": elsewhere.url("/x")})
        with pytest.raises(RedirectError, match="non-public address refused"):
            await fetch_from_stranger(server.url("/feed"))
        assert elsewhere.count() == 0


class Rebinding(AbstractResolver):
    """A stranger's DNS: each lookup of any name gives the next of `answers`
    (the last one again when they run out), each a list of (address, port)."""

    def __init__(self, *answers: list[tuple[str, int]]) -> None:
        self.answers, self.lookups = list(answers), 0

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        answer = self.answers[min(self.lookups, len(self.answers) - 1)]
        self.lookups += 1
        return [ResolveResult(hostname=host, host=address, port=at, family=socket.AF_INET,
                              proto=0, flags=socket.AI_NUMERICHOST) for address, at in answer]

    async def close(self) -> None:
        pass


def serve_behind_a_name(publisher: LoopbackServer, server: LoopbackServer, name: str) -> None:
    """The publisher redirects its feed to `name`'s /x, which both servers
    serve: the public one its feed, the private one a secret."""
    publisher.route("/feed", status=302, headers={"Location": f"http://{name}/x"})
    publisher.route("/x", body=b"<rss>public</rss>")
    server.route("/x", body=b"<rss>secret</rss>")


async def test_a_name_that_rebinds_to_a_private_address_is_refused_where_it_connects(
    publisher: LoopbackServer, server: LoopbackServer
) -> None:
    # DNS rebinding: a stranger's redirect names a host that answers a
    # public address, then a private one. What is checked is the address
    # each socket connects to, not an earlier answer: the second poll never
    # reaches the private server.
    serve_behind_a_name(publisher, server, "rebind.example")
    dns = Rebinding([("127.0.0.2", publisher.port)], [("127.0.0.1", server.port)])
    first = await fetch_from_stranger(publisher.url("/feed"), resolver=dns)
    assert first.body == b"<rss>public</rss>"
    with pytest.raises(RedirectError, match="non-public address refused"):
        await fetch_from_stranger(publisher.url("/feed"), resolver=dns)
    assert dns.lookups == 2 and server.count() == 0


async def test_a_name_with_a_private_and_a_public_address_reaches_only_the_public_one(
    publisher: LoopbackServer, server: LoopbackServer
) -> None:
    serve_behind_a_name(publisher, server, "both.example")
    dns = Rebinding([("127.0.0.1", server.port), ("127.0.0.2", publisher.port)])
    result = await fetch_from_stranger(publisher.url("/feed"), resolver=dns)
    assert result.body == b"<rss>public</rss>" and server.count() == 0


async def test_allow_private_networks_follows_them(
    publisher: LoopbackServer, server: LoopbackServer
) -> None:
    server.route("/secret.xml", body=b"<rss>secret</rss>")
    publisher.route("/feed", status=302, headers={"Location": server.url("/secret.xml")})
    result = await fetch_from_stranger(publisher.url("/feed"), allow=True)
    assert result.body == b"<rss>secret</rss>"


@pytest.mark.parametrize(("address", "public"), [
    ("93.184.215.14", True), ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", True),
    ("127.0.0.1", False), ("10.1.2.3", False), ("172.16.0.1", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("::1", False),
    ("fe80::1", False), ("fd00::1", False), ("::ffff:127.0.0.1", False),
    ("::ffff:93.184.215.14", True), ("224.0.0.1", False), ("255.255.255.255", False),
])
def test_which_addresses_are_public(address: str, public: bool) -> None:
    assert is_public_address(ip_address(address)) is public


@pytest.mark.parametrize(("option", "allowed"), [({}, False),
                                                 ({"allow_private_networks": True}, True)])
def test_allow_private_networks_reaches_the_fetcher(tmp_path: Path, option: dict[str, bool],
                                                    allowed: bool) -> None:
    config = configs.write(tmp_path, monitor={"database": "db.sqlite3", **option})
    assert limits_of(load(config)).allow_private_networks is allowed
