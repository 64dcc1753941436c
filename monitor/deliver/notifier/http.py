"""What apprise hides of each HTTP exchange, seen from requests itself, and
the total deadline of one send.

Apprise logs "error=429" or "error=413" but returns only True/False, and a
plugin calls `requests.post` with its own fresh Session, so there is no
session to inject. While a `Notifier` is open, `requests.Session.send` is
wrapped (`observing`, reference-counted: a reload opens the new notifier
before closing the old one; the last close restores it). The wrapper acts
only inside a `Call` (a context variable that `watch` sets in the worker
thread of one URL's send), so every other use of requests is untouched:
- it notes each response's status and Retry-After header;
- it mounts an adapter whose connections register their socket with the
  call, so that `Call.expire()` can shut them down: a receiver that trickles
  a byte every 2 s never trips a read timeout, and only closing the socket
  really ends the send (urllib3's `total` timeout bounds only connect+read
  waits, not the sum of the reads);
- it notes when a request was written but no status came back (a read
  timeout, a reset, the deadline): the receiver may have taken the message,
  so the outcome is unknown, not a plain failure.
"""

from __future__ import annotations

import contextlib
import contextvars
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
import urllib3.connection
import urllib3.connectionpool
from requests.adapters import HTTPAdapter


@dataclass(eq=False)  # compared (and hashed) by identity: notifiers keep sets of them
class Call:
    """One URL's send: the responses seen, and its sockets for `expire`."""

    responses: list[tuple[int, str | None]] = field(default_factory=list)
    unknown: bool = False   # a request was written and no status came back
    failure: str = ""       # why no request could be written, in our words
    expired: bool = False   # the deadline passed (`expire`)
    _sockets: list[socket.socket] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def status(self) -> int | None:
        return self.responses[-1][0] if self.responses else None

    def expire(self) -> None:
        """End the send now, from any thread: its blocked reads return."""
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)

    def track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            late = self.expired
        if late:
            _shut(sock)

    @property
    def connected(self) -> bool:
        with self._lock:
            return bool(self._sockets)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


_CALL: contextvars.ContextVar[Call | None] = contextvars.ContextVar(
    "newsmonitor_http_call", default=None)


@contextlib.contextmanager
def watch(call: Call) -> Iterator[Call]:
    """Make `call` the current one in this thread (see the module docstring)."""
    token = _CALL.set(call)
    try:
        yield call
    finally:
        _CALL.reset(token)


# --- sockets ------------------------------------------------------------------


class _Connection(urllib3.connection.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _register(self.sock)


class _TlsConnection(urllib3.connection.HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _register(self.sock)


def _register(sock: Any) -> None:
    call = _CALL.get()
    if call is not None and sock is not None:
        call.track(sock)


class _Pool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _Connection


class _TlsPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _TlsConnection


class _Adapter(HTTPAdapter):
    """requests' adapter, with connections that report their socket."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _TlsPool}


# --- the wrapper --------------------------------------------------------------


class _Wrap:
    """Reference-counted installation of `_observing_send`."""

    lock = threading.Lock()
    users = 0
    original: Any = None


def _observing_send(session: Any, request: Any, **kwargs: Any) -> Any:
    call = _CALL.get()
    if call is None:
        return _Wrap.original(session, request, **kwargs)
    if not isinstance(session.get_adapter(request.url), _Adapter):
        adapter = _Adapter()
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    try:
        response = _Wrap.original(session, request, **kwargs)
    except Exception as exc:
        if call.connected or call.expired:
            call.unknown = True
        else:
            call.failure = f"could not connect: {_cause(exc)}"
        raise
    call.responses.append((response.status_code, response.headers.get("Retry-After")))
    return response


def _cause(exc: BaseException) -> str:
    """The OS's reason at the root of a requests error ("Connection refused"),
    else the error's type: requests' own text repeats the whole URL."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror
        if isinstance(seen, TimeoutError | socket.timeout):
            return "timed out"
        seen = seen.__cause__ or seen.__context__
    return type(exc).__name__


@contextlib.contextmanager
def observing() -> Iterator[None]:
    """`requests.Session.send` wrapped for as long as this is entered."""
    with _Wrap.lock:
        if _Wrap.users == 0:
            _Wrap.original = requests.Session.send
            requests.Session.send = _observing_send  # type: ignore[method-assign,assignment]
        _Wrap.users += 1
    try:
        yield
    finally:
        with _Wrap.lock:
            _Wrap.users -= 1
            if _Wrap.users == 0:
                requests.Session.send = _Wrap.original  # type: ignore[method-assign]
                _Wrap.original = None
