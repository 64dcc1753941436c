"""Feed bytes + HTTP headers → the UTF-8 text feedparser's XML stage reads.

The charset step of parser.parse_feed, on its own so that the pre-scan
(parser.prescan) reads exactly what feedparser reads: feedparser's own
`convert_to_utf8` picks the encoding from the HTTP Content-Type charset, the
XML declaration, a BOM, then utf-8 / windows-1252 fallbacks (Le Cercle Psy
and UOL send Latin-1 with no declaration: with no charset header they decode
as windows-1252, a superset of Latin-1 for text, and are flagged bozo); then
every DTD declaration is removed (parser.defuse).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from feedparser.encodings import convert_to_utf8

from monitor.poll.parser.defuse import defuse

_UTF8_XML = "application/xml; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Prepared:
    """A document ready for feedparser: `text` is defused (UTF-8 when the
    charset was found), `headers` what feedparser must be told with it, and
    `problem` the charset complaint, if any (a string: it crosses the pool)."""

    text: bytes
    headers: dict[str, str]
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Partial:
    """What `parse_partial` reads: the document with its known items cut out,
    their ids, and the feed's date offset over all of its items. Made by
    parser.prescan, but defined here: it crosses to the pool, whose workers
    need not import lxml."""

    prepared: Prepared
    known: tuple[str, ...]
    offset: timedelta | None


def prepare(body: bytes, headers: Mapping[str, str]) -> Prepared:
    """Decode once and defuse; see the module docstring."""
    lowered = {k.lower(): v for k, v in headers.items()}
    first: dict[str, Any] = {}
    utf8 = convert_to_utf8(lowered, body, first)
    if first.get("encoding"):
        # Decoded once: tell feedparser so, or it would redo it differently.
        lowered = {**lowered, "content-type": _UTF8_XML}
    problem = first.get("bozo_exception")
    return Prepared(defuse(utf8), lowered, None if problem is None else str(problem))
