"""`ParsedFeed`: what every reader of a document (feedparser's for RSS and
Atom, parser.jsonfeed's for JSON Feed) hands to the poll. It pickles: it
crosses back from the parse pool."""

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

    @property
    def cache_hint(self) -> float | None:
        """The longer of the two feed-level hints, for schedule.cache_hint."""
        hints = [h for h in (self.ttl, self.update_period) if h]
        return max(hints) if hints else None
