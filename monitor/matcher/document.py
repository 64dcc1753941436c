"""An item's fields as the matcher reads them: folded once, tokenized once.

`FieldView` holds one field (title or summary): the plain text, its folded
form, the folded words, and lazily the word positions and the map back to
the original spelling (only firing rules need those). `Document` is the
item: its views plus the fuzzy near-matches of its words (filled by the
index, see index.py).
"""

from __future__ import annotations

from monitor.matcher.fold import fold, original_offsets, token_spans, tokens
from monitor.models import Item
from monitor.text import html_to_text

FIELDS = ("title", "summary")


class FieldView:
    """One field of an item, folded and split into words."""

    __slots__ = ("_mapped", "_offsets", "_positions", "_spans", "folded", "joined",
                 "name", "original", "tokens", "tokset")

    def __init__(self, name: str, raw: str) -> None:
        # Feeds parsed by monitor.parser are plain text already; JSONL items
        # (the eval set) still carry HTML, so only those pay for the parser.
        self.name = name
        self.original = html_to_text(raw) if ("<" in raw or "&" in raw) else raw
        self.folded = fold(self.original)
        self.tokens = tokens(self.folded)
        self.joined = " " + " ".join(self.tokens) + " "
        self.tokset = set(self.tokens)
        self._positions: dict[str, list[int]] | None = None
        self._spans: list[tuple[int, int]] | None = None
        self._offsets: list[int] | None = None
        self._mapped = False

    def positions(self, word: str) -> list[int]:
        """Indexes of `word` among the tokens."""
        if self._positions is None:
            self._positions = {}
            for index, token in enumerate(self.tokens):
                self._positions.setdefault(token, []).append(index)
        return self._positions.get(word, [])

    def original_words(self, start: int, end: int) -> str:
        """The original text of tokens[start:end], as written in the item."""
        if self._spans is None:
            self._spans = list(token_spans(self.folded))
        if not self._mapped:
            self._offsets, self._mapped = original_offsets(self.original), True
        first, last = self._spans[start][0], self._spans[end - 1][1]
        offsets = self._offsets
        if offsets is None:
            return self.original[first:last]
        return self.original[offsets[first]:offsets[last]].rstrip()


class Document:
    """An item seen by the matcher: one FieldView per field, and `fuzzy`,
    for each rule word some token nearly matches, {token: ratio}."""

    __slots__ = ("feed", "fuzzy", "views")

    def __init__(self, item: Item) -> None:
        self.feed = item.feed
        self.views = {"title": FieldView("title", item.title),
                      "summary": FieldView("summary", item.summary)}
        self.fuzzy: dict[str, dict[str, float]] = {}

    @property
    def joined(self) -> str:
        """Both fields' words in one string, for the exact index."""
        return self.views["title"].joined + self.views["summary"].joined
