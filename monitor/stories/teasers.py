"""Teasers: a summary a feed gives several of its articles.

Le Figaro puts "CONFIDENTIEL BOURSE – Chaque semaine, Le Figaro Patrimoine
et Bourse relaie des informations..." under every market column, whatever
the company; newsletters and podcasts repeat one blurb. Such a summary says
nothing of the event, and two items sharing it would look alike (their
summaries are most of their words): LVMH's column and Eiffage's became one
story, and the Eiffage alert was never sent. `Teasers` counts each feed's
summaries over the window by a fingerprint, with the article (canonical
link, else folded title) that gave each first: a summary that another
article of the same feed gave too is a teaser, and grouping reads that
item without it. The same article seen again (a second section feed is
another feed; an edit keeps its link) keeps its summary.
"""

from __future__ import annotations

import hashlib


class Teasers:
    """The window's summaries, per feed: see the module docstring."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[str, int]] = {}  # key → (first article, items holding it)

    @staticmethod
    def key(feed: str, summary: str) -> str:
        """The fingerprint of `summary` in `feed` ("" for no summary)."""
        text = " ".join(summary.split())
        if not text:
            return ""
        return hashlib.blake2b(f"{feed}\n{text}".encode(), digest_size=16).hexdigest()

    def shared(self, key: str, article: str) -> bool:
        """Whether another article of the feed gave this summary already."""
        found = self._seen.get(key) if key else None
        return found is not None and found[0] != article

    def add(self, key: str, article: str) -> None:
        """Count an item with this summary (`key`), by `article`."""
        if key:
            first, count = self._seen.get(key, (article, 0))
            self._seen[key] = (first, count + 1)

    def drop(self, key: str) -> None:
        """An item counted by `add` left the window."""
        found = self._seen.get(key) if key else None
        if found is None:
            return
        if found[1] > 1:
            self._seen[key] = (found[0], found[1] - 1)
        else:
            del self._seen[key]
