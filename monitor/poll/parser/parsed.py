"""`ParsedFeed`: what every reader of a document (feedparser's for RSS and
Atom, parser.jsonfeed's for JSON Feed) hands to the poll, and the limits
each keeps its items' fields to. It pickles: it crosses back from the parse
pool."""

from __future__ import annotations

from dataclasses import dataclass

from monitor.models import Item


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """One parsed document. `bozo` is feedparser's complaint when it still
    found something usable; `ttl` (RSS <ttl>) and `update_period`
    (sy:updatePeriod / sy:updateFrequency) are seconds, or None if absent."""

    title: str
    link: str
    items: tuple[Item, ...]
    bozo: str | None = None
    ttl: float | None = None
    update_period: float | None = None
    # Ids of the items the document listed but that were not parsed because
    # the store had them all (parser.prescan): the poll touches them.
    known: tuple[str, ...] = ()
    # The feed's WebSub hub and its own URL (`<link rel="hub">` and
    # `rel="self"`, Atom or atom:link in RSS), or "" (poll/websub.py).
    hub: str = ""
    self_url: str = ""

    @property
    def cache_hint(self) -> float | None:
        """The longer of the two feed-level hints, for schedule.cache_hint."""
        hints = [h for h in (self.ttl, self.update_period) if h]
        return max(hints) if hints else None


# The most of an entry's content kept, in characters of text (a long article
# is ~100,000: the matcher reads no more, monitor.matcher.document.MAX_CHARS);
# markup is cut at four times that before conversion, so that a 10 MB
# <content:encoded> costs no more than a long article.
CONTENT_CHARS = 100_000
MAX_CATEGORIES = 100  # a podcast feed repeats its 30 iTunes keywords on each entry


def cut_text(text: str, limit: int) -> str:
    """At most `limit` characters of `text`, ended at whitespace (no stump of
    a word for a wildcard to take)."""
    if len(text) <= limit:
        return text
    kept = text[:limit + 1].rsplit(None, 1)
    return kept[0] if len(kept) == 2 else text[:limit]
