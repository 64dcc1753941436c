"""One conditional GET of a feed URL; with hubclient.py (WebSub's requests to
hubs), the only modules of poll/ that import aiohttp.

Contract of `Fetcher.fetch`:
- sends If-None-Match / If-Modified-Since when given (RFC 9110 section 13.1);
  a 304 is a `FetchResult` with `not_modified=True` and an empty body;
- follows redirects itself (at most `max_redirects`), so that a chain made only
  of 301/308 hops yields `permanent_url` (RFC 9110 section 15.4: only those
  two are permanent) while 302/303/307 never do;
- bounds every poll: global concurrency (one slot for the whole poll) and
  per-host concurrency (each request, redirect hops included, takes a slot of
  the host it goes to, only for as long as it talks to that host),
  connect/read timeouts, a total deadline covering every hop and the body (a
  server trickling one byte a second is cut there; waits for a host's slot
  are not counted: they are not the server's time), and a cap on the decoded
  body (a gzip bomb stops there: the body is streamed and counted after
  decompression);
- never lets a stranger's server point it at the user's network (issue 14;
  Miniflux's ErrPrivateNetworkHost): a redirect to another host than the
  configured feed's is followed only to public addresses (`is_public`), unless
  `allow_private_networks`. A feed configured on a private address stays
  allowed, with its redirects inside that same host (the user's intent). The
  address is checked where the socket is made for it, so the one checked is
  the one connected to (no DNS rebinding: poll/addresses.py), and such a hop
  never reuses a pooled connection made for a feed on a private host;
- raises only `monitor.errors.FetchError` subclasses, translated here where
  aiohttp's exceptions enter; messages carry the URL without credentials.
It never sleeps or retries: pacing belongs to `schedule` and the pipeline.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import aiohttp

from monitor import USER_AGENT
from monitor.config import FetchLimits
from monitor.config.policies import FeedRequest
from monitor.config.values import without_userinfo as mask_url
from monitor.errors import (
    ConnectionFailedError,
    FetchError,
    FetchTimeoutError,
    HTTPStatusError,
    RedirectError,
    TLSFailedError,
    TooLargeError,
)
from monitor.poll.addresses import GUARD, Guard, NotPublicError, checked_socket, is_public_address
from monitor.poll.hostslots import HostSlots
from monitor.retry import parse_retry_after

_PERMANENT = frozenset({301, 308})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024
DEFAULT_LIMITS = FetchLimits()
NO_EXTRAS = FeedRequest()


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one poll gave. `headers` are lower-case names, as feedparser wants.

    On 304, `etag`/`last_modified` are the server's new validators if it sent
    any, else the ones we sent: keep sending them. `elapsed` is the seconds
    since `fetch` was called, the waits for a slot included (what a poll
    took, unlike the total timeout, which counts only the server's time).
    """

    status: int
    body: bytes
    headers: dict[str, str]
    etag: str | None
    last_modified: str | None
    not_modified: bool
    permanent_url: str | None
    final_url: str
    elapsed: float


def make_session(limits: FetchLimits = DEFAULT_LIMITS, user_agent: str = USER_AGENT,
                 resolver: aiohttp.abc.AbstractResolver | None = None) -> aiohttp.ClientSession:
    """The session the daemon injects: our User-Agent, gzip/deflate accepted.
    `resolver`: aiohttp's default (tests give names their own answers).

    Decompression is ours (`_Decoder`), not aiohttp's: aiohttp inflates each
    network chunk whole, and 64 KiB of a gzip bomb is 64 MiB of zeros, so its
    memory peak depends on how the bytes happen to arrive. Ours inflates at
    most `_CHUNK` bytes per step and stops at the cap.
    Must be called inside a running loop; the caller closes it.
    """
    connector = aiohttp.TCPConnector(limit=limits.concurrency, limit_per_host=limits.per_host,
                                     socket_factory=checked_socket, resolver=resolver)
    return aiohttp.ClientSession(
        connector=connector,
        headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"},
        auto_decompress=False,
    )


class Fetcher:
    """Conditional GETs through an injected session, within `FetchLimits`."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        limits: FetchLimits = DEFAULT_LIMITS,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        is_public: Guard | None = None,
    ) -> None:
        """`is_public` says which addresses a stranger's redirect may reach
        (tests name a loopback address as a stand-in public server)."""
        self._session, self._limits, self._now = session, limits, now
        self._is_public = is_public or is_public_address
        self._slots = asyncio.Semaphore(limits.concurrency)
        self._hosts = HostSlots(limits.per_host)  # only hosts in use
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=limits.connect_timeout, sock_read=limits.read_timeout
        )

    async def fetch(
        self, url: str, *, etag: str | None, last_modified: str | None,
        request: FeedRequest = NO_EXTRAS, origin: str = "", trusted: str = "",
    ) -> FetchResult:
        """GET `url` once (following redirects); raises FetchError subclasses.
        `request`: the feed's own headers, basic auth and proxy; its headers
        and auth go only to the host of `origin` (default: `url`).
        `trusted`: the URL whose host may be private (default: `url`); an
        article names its feed's, so that a public feed's link to a private
        address is refused like a redirect there (issue 13)."""
        started = time.monotonic()
        async with self._slots:
            try:
                # Armed only while a request talks to its server (_follow):
                # waiting for a host's slot is not the server's time.
                async with asyncio.timeout(None) as deadline:
                    return await self._follow(url, etag, last_modified, started, deadline,
                                              (request, origin or url), trusted or url)
            except TimeoutError as exc:
                raise FetchTimeoutError(f"timed out: {mask_url(url)}", url=mask_url(url)) from exc

    async def _follow(
        self, url: str, etag: str | None, last_modified: str | None, started: float,
        deadline: asyncio.Timeout, request: tuple[FeedRequest, str], trusted: str,
    ) -> FetchResult:
        headers = _conditional_headers(etag, last_modified)
        current, seen, permanent = url, {url}, True
        budget = self._limits.total_timeout  # what the hops may still spend, in seconds
        loop = asyncio.get_running_loop()
        for _ in range(self._limits.max_redirects + 1):
            # This hop's host slot, released before the next hop takes its
            # own: a feed moved to another host counts against that host,
            # and a redirect to the same host never waits on itself.
            async with self._hosts.hold(current):
                hop_started = loop.time()
                deadline.reschedule(hop_started + budget)
                try:
                    async with self._get(current, headers, self._guard(trusted, current),
                                         _extras_for(*request, current)) as resp:
                        target = _redirect_target(current, resp)
                        if target is None:
                            moved = current if permanent and current != url else None
                            return await self._result(resp, etag, last_modified, moved,
                                                      started)
                finally:
                    if not deadline.expired():
                        deadline.reschedule(None)  # disarmed while the next hop waits
                    budget -= loop.time() - hop_started
            permanent = permanent and resp.status in _PERMANENT
            if target in seen:
                raise RedirectError(f"redirect loop at {mask_url(target)}", url=mask_url(url))
            seen.add(target)
            current = target
        raise RedirectError(
            f"more than {self._limits.max_redirects} redirects", url=mask_url(url)
        )

    def _guard(self, feed_url: str, url: str) -> Guard | None:
        """The addresses `url` may be fetched from, as a hop of `feed_url`'s
        chain: any (None) on the configured feed's own host, else public ones."""
        if self._limits.allow_private_networks:
            return None
        same_host = urlsplit(url).hostname == urlsplit(feed_url).hostname
        return None if same_host else self._is_public

    @asynccontextmanager
    async def _get(
        self, url: str, headers: dict[str, str], guard: Guard | None,
        extras: FeedRequest = NO_EXTRAS,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """session.get with aiohttp's errors translated into ours; with
        `guard`, only from addresses it accepts (see addresses.checked_socket)."""
        masked = mask_url(url)
        # A guarded request gets its own pool (server_hostname is part of
        # aiohttp's connection key; it is the name TLS uses anyway): it never
        # reuses a connection made unguarded for a feed on a private host.
        pool = (urlsplit(url).hostname or "").rstrip(".") if guard else None
        token, pending = GUARD.set(guard), True
        try:
            # A proxy's user:password (in its URL) becomes Proxy-Authorization,
            # on the request (http) or on the CONNECT (https): aiohttp's own work.
            async with self._session.get(
                url, headers={**_sent_headers(extras), **headers}, allow_redirects=False,
                timeout=self._timeout, server_hostname=pool, proxy=extras.proxy or None,
            ) as resp:
                GUARD.reset(token)
                pending = False
                yield resp
        except FetchError:
            raise
        except TimeoutError as exc:  # aiohttp's connect/read timeouts subclass it
            raise FetchTimeoutError(f"timed out: {masked}", url=masked) from exc
        except (aiohttp.ClientSSLError, aiohttp.ServerFingerprintMismatch) as exc:
            raise TLSFailedError(f"TLS failed: {masked}: {type(exc).__name__}", url=masked) from exc
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            if isinstance(exc, aiohttp.ClientConnectorError) and isinstance(
                    exc.os_error, NotPublicError):
                raise _refused(masked) from exc
            raise ConnectionFailedError(
                f"connection failed: {masked}: {type(exc).__name__}", url=masked
            ) from exc
        except (aiohttp.ClientError, ValueError) as exc:
            # InvalidURL, bad headers from the server, ...: still this feed's problem.
            raise ConnectionFailedError(f"request failed: {masked}: {type(exc).__name__}",
                                        url=masked) from exc
        finally:
            if pending:
                GUARD.reset(token)

    async def _result(
        self,
        resp: aiohttp.ClientResponse,
        etag: str | None,
        last_modified: str | None,
        moved: str | None,
        started: float,
    ) -> FetchResult:
        final = str(resp.url)
        if resp.status >= 400 or (300 <= resp.status < 400 and resp.status != 304):
            retry = parse_retry_after(resp.headers.get("Retry-After"), self._now())
            raise HTTPStatusError(resp.status, url=mask_url(final), retry_after=retry)
        headers = {name.lower(): value for name, value in resp.headers.items()}
        not_modified = resp.status == 304
        body = b"" if not_modified else await self._read(resp, final)
        return FetchResult(
            status=resp.status,
            body=body,
            headers=headers,
            etag=headers.get("etag") or (etag if not_modified else None),
            last_modified=headers.get("last-modified") or (last_modified if not_modified else None),
            not_modified=not_modified,
            permanent_url=moved,
            final_url=final,
            elapsed=time.monotonic() - started,
        )

    async def _read(self, resp: aiohttp.ClientResponse, url: str) -> bytes:
        """The decoded body, refused past `max_body` bytes (after decompression)."""
        cap, size, chunks = self._limits.max_body, 0, []
        decoder = _Decoder(resp.headers.get("Content-Encoding", ""), url)
        async for raw in resp.content.iter_chunked(_CHUNK):
            for chunk in decoder.feed(raw):
                size += len(chunk)
                if size > cap:
                    raise TooLargeError(f"body over {cap} bytes: {mask_url(url)}",
                                        url=mask_url(url))
                chunks.append(chunk)
        chunks += decoder.flush()
        if sum(map(len, chunks)) > cap:
            raise TooLargeError(f"body over {cap} bytes: {mask_url(url)}", url=mask_url(url))
        return b"".join(chunks)


class _Decoder:
    """Content-Encoding gzip/deflate inflated in steps of at most `_CHUNK` bytes."""

    def __init__(self, encoding: str, url: str) -> None:
        encoding = encoding.strip().lower()
        self._url = url
        self._raw_deflate = False
        if encoding in ("", "identity"):
            self._zlib: zlib._Decompress | None = None
        elif encoding in ("gzip", "x-gzip", "deflate"):
            # wbits 32+15: a gzip or zlib header, detected. "deflate" is
            # meant to be zlib-wrapped (RFC 9110 8.4.1.2), but some servers
            # send raw deflate; `feed` retries that way on a header error.
            self._zlib = zlib.decompressobj(32 + zlib.MAX_WBITS)
            self._raw_deflate = encoding == "deflate"
        else:
            raise FetchError(f"unsupported Content-Encoding {encoding!r}: {mask_url(url)}",
                             url=mask_url(url))

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Inflated pieces of `data`, lazily: the caller's size check runs
        between pieces, so one chunk of a bomb never inflates whole."""
        if self._zlib is None:
            yield data
            return
        first = True
        while data:
            try:
                piece = self._zlib.decompress(data, _CHUNK)
            except zlib.error as exc:
                if self._raw_deflate and first:
                    self._zlib, self._raw_deflate = zlib.decompressobj(-zlib.MAX_WBITS), False
                    continue
                raise FetchError(f"corrupt compressed body: {mask_url(self._url)}",
                                 url=mask_url(self._url)) from exc
            first, data = False, self._zlib.unconsumed_tail
            yield piece

    def flush(self) -> list[bytes]:
        return [self._zlib.flush(_CHUNK)] if self._zlib is not None else []


def _extras_for(request: FeedRequest, origin: str, url: str) -> FeedRequest:
    """What a hop to `url` carries of the feed's `request`: everything on the
    host of `origin` (the configured feed URL); elsewhere (a redirect to
    another host) only the proxy: its headers and password are for that
    publisher alone (RFC 9110 section 15.4: on a redirect, consider removing
    Authorization and Cookie)."""
    if urlsplit(url).hostname == urlsplit(origin).hostname:
        return request
    return FeedRequest(proxy=request.proxy)


def _sent_headers(extras: FeedRequest) -> dict[str, str]:
    """The feed's own headers, and its basic auth (RFC 7617) as one of them."""
    sent = dict(extras.headers)
    if extras.username:
        sent["Authorization"] = aiohttp.encode_basic_auth(extras.username, extras.password)
    return sent


def _conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def _redirect_target(current: str, resp: aiohttp.ClientResponse) -> str | None:
    """The absolute URL a redirect points to, or None if `resp` is not one."""
    location = resp.headers.get("Location")
    if resp.status not in _REDIRECTS or not location:
        return None
    target = urljoin(current, location)
    if urlsplit(target).scheme not in ("http", "https"):
        raise RedirectError(f"redirect to a non-HTTP URL from {mask_url(current)}",
                            url=mask_url(current))
    return target


def _refused(masked: str) -> RedirectError:
    # A redirect, or a full-text article's own link: where a stranger points.
    return RedirectError(f"non-public address refused: {masked} (a public feed's redirect "
                         "or article link; see allow_private_networks)", url=masked)
