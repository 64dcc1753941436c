"""Which of a changed body's items the store holds: the pre-scan's parse
of the new and edited items only (parser.prescan, in the parse pool), and
ONE query of the store per poll, whose answer serves both the pre-scan and
the dedup and edits after the parse (issue 17).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from monitor.models import FeedState
from monitor.poll.fetcher import FetchResult
from monitor.poll.parser import ParsedFeed
from monitor.poll.parser.pool import ParsePool
from monitor.poll.parser.prescan import fingerprint
from monitor.store import Known, Store
from monitor.store.archive import SUMMARY, TITLE
from monitor.store.seen import edits

__all__ = ["Asked", "edits", "parse", "stored"]


@dataclass(frozen=True, slots=True)
class Asked:
    """The store's answer for the items a pre-scan listed (store.story.known)."""

    ids: frozenset[str]
    stored: Mapping[str, Known]


async def parse(store: Store, pool: ParsePool, feed: str, state: FeedState,
                result: FetchResult) -> tuple[ParsedFeed, Asked | None]:
    """The parse of a changed body: of its new items only, when the
    pre-scan can tell them (parser.prescan), else of all of it.

    A feed with nothing recorded yet has only new items (a first poll):
    it is parsed whole. With the parse comes what the store holds of the
    items the scan listed (None: not asked yet), for `stored` to use.
    """
    listed = None
    if state.items_seen:
        listed = await pool.listing(result.body, result.headers, TITLE, SUMMARY)
    if listed is None:
        return await pool.parse(result.body, result.headers, feed), None
    stored = await store.story.known(feed, listed.ids)
    # An item whose title or summary changed is parsed too: it may be the
    # publisher's edit (the pipeline matches it again). A text the scan reads
    # otherwise than the parser only costs that item's parse.
    known = frozenset(i for i, marks in zip(listed.ids, listed.marks, strict=True)
                      if i in stored and _reads(stored[i], marks))
    parsed = await pool.parse_listed(result.body, result.headers, listed, known, feed)
    return parsed, Asked(frozenset(listed.ids), stored)


def _reads(known: Known, marks: tuple[bytes, bytes]) -> bool:
    """Known.reads, told by the fingerprints of the listed title and summary
    (prescan.Listing); a summary stored before summaries were kept is not
    compared."""
    title, summary = marks
    return fingerprint(known.title) == title and (
        known.summary is None or fingerprint(known.summary) == summary)


async def stored(store: Store, feed: str, old: FeedState, ids: list[str],
                 asked: Asked | None) -> Mapping[str, Known]:
    """What the store holds of the items `ids`: ONE query per poll (the
    pre-scan's answer serves the dedup and the edits), none where the
    answer is known: a feed that never recorded an item (a first poll) has
    only new ones. An id the scan did not list (it read an identity
    otherwise than the parser) is asked after it."""
    if not old.items_seen:
        return {}
    if asked is None:
        return await store.story.known(feed, ids)
    rest = [i for i in ids if i not in asked.ids]
    return {**asked.stored, **await store.story.known(feed, rest)} if rest else asked.stored
