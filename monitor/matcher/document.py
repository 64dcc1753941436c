"""An item's fields as the matcher reads them: folded once, tokenized once.

`FieldView` holds one field (title or summary): the plain text, the folded
words, and lazily the word positions and the map back to
the original spelling (only firing rules need those). `Document` is the
item: its views plus the fuzzy near-matches of its words (filled by the
index, see index.py).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from itertools import chain

from monitor.matcher.fold import fold, original_span, tokens
from monitor.models import Item
from monitor.text import html_to_text

FIELDS = ("title", "summary")
_CHUNK = re.compile(r"\S+")


class Tokenizer:
    """`words(text)` is `tokens(fold(text))`, memoised per whitespace-separated
    chunk: no word spans whitespace and folding maps each character on its
    own, so chunks fold and split independently. News vocabulary repeats, so
    most chunks are a dict lookup; the memo is cleared when it is full."""

    def __init__(self, limit: int = 300_000) -> None:
        self._memo: dict[str, tuple[str, ...]] = {}
        self._limit = limit

    def words(self, text: str) -> list[str]:
        chunks = text.split()
        known = list(map(self._memo.get, chunks))  # the hot path stays in C
        if None in known:
            known = [self.chunk(chunk) for chunk in chunks]
        return list(chain.from_iterable(known))  # type: ignore[arg-type]

    def chunk(self, chunk: str) -> tuple[str, ...]:
        """The words of one chunk (text without whitespace)."""
        words = self._memo.get(chunk)
        if words is None:
            if len(self._memo) >= self._limit:
                self._memo.clear()
            words = self._memo[chunk] = tuple(tokens(fold(chunk)))
        return words


class FieldView:
    """One field of an item, folded and split into words."""

    __slots__ = ("_chunks", "_tokenizer", "joined", "name", "original",
                 "tokens", "tokset")

    def __init__(self, name: str, raw: str, tokenizer: Tokenizer) -> None:
        # Feeds parsed by monitor.parser are plain text already; JSONL items
        # (the eval set) still carry HTML, so only those pay for the parser.
        self.name = name
        self.original = html_to_text(raw) if ("<" in raw or "&" in raw) else raw
        self.tokens = tokenizer.words(self.original)
        self._tokenizer = tokenizer
        self.joined = " " + " ".join(self.tokens) + " "
        self.tokset = set(self.tokens)
        # (first token index, offset in original, chunk), grown on demand.
        self._chunks: list[tuple[int, int, str]] = [(0, 0, "")]

    def positions(self, word: str) -> list[int]:
        """Indexes of `word` among the tokens (list.index runs in C; a word
        occurs a handful of times at most)."""
        if word not in self.tokset:
            return []
        found = [self.tokens.index(word)]
        while True:
            try:
                found.append(self.tokens.index(word, found[-1] + 1))
            except ValueError:
                return found

    def original_words(self, start: int, end: int) -> str:
        """The original text of tokens[start:end], as written in the item."""
        first, last = self._locate(start), self._locate(end - 1)
        return self.original[first[0]:last[1]]

    def _locate(self, index: int) -> tuple[int, int]:
        """(start, end) in the original text of token `index`. Walks the
        whitespace-separated chunks only as far as needed, and remembers."""
        chunks = self._chunks
        while chunks[-1][0] <= index and self._grow():
            pass
        at = bisect_right(chunks, index, key=lambda row: row[0]) - 1
        first, offset, chunk = chunks[at]
        start, end = original_span(chunk, index - first)
        return offset + start, offset + end

    def _grow(self) -> bool:
        """Add the next chunk with words to `_chunks`; False at the end."""
        count, cursor, chunk = self._chunks[-1]
        cursor += len(chunk)
        count += len(self._tokenizer.chunk(chunk)) if chunk else 0
        while cursor < len(self.original):
            match = _CHUNK.search(self.original, cursor)
            if match is None:
                return False
            cursor, chunk = match.start(), match.group()
            if self._tokenizer.chunk(chunk):
                self._chunks.append((count, cursor, chunk))
                return True
            cursor += len(chunk)
        return False


class Document:
    """An item seen by the matcher: one FieldView per field, and `fuzzy`,
    for each rule word some token nearly matches, {token: ratio}."""

    __slots__ = ("feed", "fuzzy", "views")

    def __init__(self, item: Item, tokenizer: Tokenizer) -> None:
        self.feed = item.feed
        self.views = {"title": FieldView("title", item.title, tokenizer),
                      "summary": FieldView("summary", item.summary, tokenizer)}
        self.fuzzy: dict[str, dict[str, float]] = {}

    @property
    def joined(self) -> str:
        """Both fields' words in one string, for the exact index."""
        return self.views["title"].joined + self.views["summary"].joined
