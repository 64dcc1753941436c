"""Loopback server fixtures (a plugin of conftest) and the RSS they serve.

`server` runs in the test's own event loop (async tests); `feed` and
`receiver` run in a thread of their own, for tests that run the CLI or a
daemon subprocess, or call sync code. One implementation: tests/loopback.py."""

from __future__ import annotations

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
