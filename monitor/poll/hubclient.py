"""Subscription requests to a WebSub hub (W3C WebSub section 5.1): one form
POST each; with aiohttp, like the fetcher (tests/test_architecture.py).

`ask_hub` sends `hub.mode`, `hub.topic`, `hub.callback`, `hub.secret` and
`hub.lease_seconds`; a hub answers 202 Accepted (any 2xx is taken) and then
verifies our intent by a GET to the callback. Like the fetcher, it never
lets a stranger point it at the user's network: the hub named by a feed is
reached on a private address only when it is on the feed's own host (or
`allow_private_networks`), and never follows a redirect (a 3xx is the
hub's error). A form with `hub.secret` goes only over TLS, or to this
machine: over plain http anyone on the way would read the secret and could
sign pushes of their own (WebSub section 5.1: "SHOULD only be specified when
the request was made over HTTPS"); such a hub is not subscribed to, and its
feed is polled as before. Errors are FetchError subclasses; messages carry
the hub's URL masked, never the secret.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from urllib.parse import urlsplit

import aiohttp

from monitor.config import FetchLimits
from monitor.config.values import without_userinfo as mask_url
from monitor.errors import ConnectionFailedError, FetchTimeoutError, HTTPStatusError
from monitor.poll.addresses import GUARD, NotPublicError, is_public_address


async def ask_hub(session: aiohttp.ClientSession, hub: str, form: Mapping[str, str], *,
                  feed_url: str, limits: FetchLimits) -> int:
    """POST `form` to `hub`; returns the hub's 2xx status, else raises."""
    masked = mask_url(hub)
    if "hub.secret" in form and not _private_channel(hub):
        raise ConnectionFailedError(f"hub over plain http not used (the secret would travel "
                                    f"in clear): {masked}", url=masked)
    private_ok = (limits.allow_private_networks
                  or urlsplit(hub).hostname == urlsplit(feed_url).hostname)
    token = GUARD.set(None if private_ok else is_public_address)
    timeout = aiohttp.ClientTimeout(total=limits.total_timeout,
                                    sock_connect=limits.connect_timeout)
    try:
        # A guarded request never reuses a connection made for a private host
        # (server_hostname is part of aiohttp's connection key; see fetcher).
        pool = None if private_ok else (urlsplit(hub).hostname or "").rstrip(".")
        async with session.post(hub, data=dict(form), allow_redirects=False, timeout=timeout,
                                server_hostname=pool) as resp:
            # Only the status counts: the answer, whatever its size (a hub is
            # named by the feed's publisher), is not read.
            resp.release()
            if not 200 <= resp.status < 300:
                raise HTTPStatusError(resp.status, url=masked)
            return resp.status
    except TimeoutError as exc:
        raise FetchTimeoutError(f"hub timed out: {masked}", url=masked) from exc
    except aiohttp.ClientConnectorError as exc:
        if isinstance(exc.os_error, NotPublicError):
            raise ConnectionFailedError(f"hub on a non-public address refused: {masked}",
                                        url=masked) from exc
        raise ConnectionFailedError(f"hub request failed: {masked}: {type(exc).__name__}",
                                    url=masked) from exc
    except (aiohttp.ClientError, ValueError) as exc:
        raise ConnectionFailedError(f"hub request failed: {masked}: {type(exc).__name__}",
                                    url=masked) from exc
    finally:
        GUARD.reset(token)


def _private_channel(hub: str) -> bool:
    """Whether what is sent to `hub` stays between it and us: TLS, or a
    loopback address (the hub runs on this machine)."""
    parts = urlsplit(hub)
    if parts.scheme == "https":
        return True
    host = (parts.hostname or "").rstrip(".")
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
