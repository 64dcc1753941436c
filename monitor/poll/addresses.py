"""Which addresses a request may connect to (issue 14, point 6).

A stranger's server must not point the fetcher at the user's own network
(Miniflux: ErrPrivateNetworkHost). The fetcher sets `GUARD` to a predicate
for the request it makes; `checked_socket`, aiohttp's socket factory, refuses
an address the predicate rejects. The check is where the socket for one
resolved address is made, so the address checked is the address connected
to, whatever the name resolves to a moment later (no DNS rebinding), and an
IP literal in a URL passes through it too.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from contextvars import ContextVar
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

IPAddress = IPv4Address | IPv6Address
Guard = Callable[[IPAddress], bool]  # whether a request may connect to an address
AddrInfo = tuple[int, int, int, str, tuple[Any, ...]]  # one getaddrinfo() entry

# The guard of the request being made in this task (None: any address). A
# context variable: polls run as tasks of their own, and aiohttp makes the
# socket in the requesting task or in a task that copied its context.
GUARD: ContextVar[Guard | None] = ContextVar("fetch_guard", default=None)


class NotPublicError(OSError):
    """Raised by checked_socket; an OSError so that aiohttp and
    aiohappyeyeballs treat it as this one address failing to connect."""


def is_public_address(address: IPAddress) -> bool:
    """Whether a stranger may point us at `address`: not loopback, private,
    link-local, shared (CGNAT), reserved or multicast (Python's is_global),
    an IPv4-mapped IPv6 address judged as its IPv4 one."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def checked_socket(addr_info: AddrInfo) -> socket.socket:
    """The socket for one address aiohttp is about to connect to; raises
    NotPublicError when the current request's guard rejects the address."""
    family, type_, proto, _, address = addr_info
    guard = GUARD.get()
    if guard is not None and not guard(ip_address(address[0])):
        # One message for every address: aiohappyeyeballs re-raises the error
        # itself when all the attempts failed alike, else a plain OSError.
        raise NotPublicError("not a public address")
    return socket.socket(family=family, type=type_, proto=proto)
