"""feedparser alone, for bench/poll.py's floor: its own module so that the
pool's spawned workers import feedparser and nothing of the bench."""

from __future__ import annotations

import io

import feedparser


def feedparser_only(body: bytes) -> int:
    """The least any feedparser-based parse can cost: feedparser itself with
    our options, none of our own work (runs in the pool's workers)."""
    doc = feedparser.parse(io.BytesIO(body), sanitize_html=False, resolve_relative_uris=False)
    return len(doc.entries)
