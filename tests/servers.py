"""Loopback server fixtures (a plugin of conftest) and the RSS they serve.

`server` runs in the test's own event loop (async tests); `feed` and
`receiver` run in a thread of their own, for tests that run the CLI or a
daemon subprocess, or call sync code. One implementation: tests/loopback.py."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from tests.loopback import LoopbackServer, loopback


def rss(items: list[tuple[str, str]], title: str = "Test feed") -> bytes:
    """An RSS 2.0 document of (guid, title) items, newest first."""
    entries = "".join(
        f"<item><title>{t}</title><link>https://example.org/{g}</link>"
        f"<guid isPermaLink=\"false\">{g}</guid>"
        f"<pubDate>{format_datetime(datetime.now(UTC))}</pubDate>"
        f"<description>Résumé de l’article {g}.</description></item>"
        for g, t in items)
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>{title}</title><link>https://example.org/</link>"
            f"<description>d</description>{entries}</channel></rss>").encode()


@pytest.fixture
async def server() -> AsyncIterator[LoopbackServer]:
    """A server in the test's event loop."""
    async with LoopbackServer() as running:
        yield running


@pytest.fixture
def feed() -> Iterator[LoopbackServer]:
    """A feed server of the test's own, in its own thread."""
    with loopback() as running:
        yield running


@pytest.fixture
def receiver() -> Iterator[LoopbackServer]:
    """A webhook receiver (json://) of the test's own, in its own thread."""
    with loopback() as running:
        yield running


class Gate:
    """A TCP port that forwards to `target` when up and refuses when down:
    the network between the daemon and one publisher."""

    def __init__(self, target: int) -> None:
        self.target = target
        # Bound but not listening until the first up(): connections are
        # refused, and no other process on a busy machine takes the port.
        self._sock: socket.socket | None = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    async def up(self) -> None:
        if self._sock is not None:
            self._server = await asyncio.start_server(self._pipe, sock=self._sock)
            self._sock = None
        else:
            self._server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)

    async def down(self) -> None:
        """Refuse new connections and cut the open ones (kept-alive too)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._open):
            writer.close()
        self._open.clear()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        self._open.update((writer, up_writer))

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            finally:
                dst.close()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer),
                             return_exceptions=True)
