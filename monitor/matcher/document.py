"""An item's fields as the matcher reads them: folded once, tokenized once.

`FieldView` holds one field (title or summary): the plain text, the folded
words, and lazily the word positions and the map back to
the original spelling (only firing rules need those). `Document` is the
item: its views plus the fuzzy near-matches of its words (filled by the
index, see index.py).
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate, chain

from monitor.matcher.fold import fold, original_span, tokens
from monitor.models import Item
from monitor.text import html_to_text

FIELDS = ("title", "summary")


class Tokenizer:
    """`words(text)` is `tokens(fold(text))`, memoised per whitespace-separated
    chunk: no word spans whitespace and folding maps each character on its
    own, so chunks fold and split independently. News vocabulary repeats, so
    most chunks are a dict lookup; the memo is cleared when it is full."""

    def __init__(self, limit: int = 300_000) -> None:
        self._memo: dict[str, tuple[str, ...]] = {}
        self._limit = limit

    def words(self, text: str) -> list[str]:
        """`tokens(fold(text))`."""
        return list(chain.from_iterable(self.chunks(text)[1]))

    def chunks(self, text: str) -> tuple[list[str], list[tuple[str, ...]]]:
        """The whitespace-separated chunks of `text` and the words of each."""
        chunks = text.split()
        known = list(map(self._memo.get, chunks))  # the hot path stays in C
        if None in known:
            known = [self.chunk(chunk) for chunk in chunks]
        return chunks, known  # type: ignore[return-value]

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

    __slots__ = ("_chunks", "_ends", "_joined", "_words", "name", "original", "tokens",
                 "tokset")

    def __init__(self, name: str, raw: str, tokenizer: Tokenizer) -> None:
        # Feeds parsed by monitor.parser are plain text already; JSONL items
        # (the eval set) still carry HTML, so only those pay for the parser.
        self.name = name
        self.original = html_to_text(raw) if ("<" in raw or "&" in raw) else raw
        self._chunks, self._words = tokenizer.chunks(self.original)
        self.tokens = list(chain.from_iterable(self._words))
        self._ends: list[int] | None = None  # token count up to each chunk, on demand
        self._joined: str | None = None
        self.tokset = set(self.tokens)

    @property
    def joined(self) -> str:
        """" word word ... ": phrases and prefixes are substrings of it."""
        if self._joined is None:
            self._joined = " " + " ".join(self.tokens) + " "
        return self._joined

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
        """The text of tokens[start:end] as written in the item (runs of
        whitespace inside it shown as one space)."""
        if self._ends is None:
            self._ends = list(accumulate(map(len, self._words)))
        first, last = self._locate(start), self._locate(end - 1)
        text = " ".join(self._chunks[first[0]:last[0] + 1])
        tail = len(self._chunks[last[0]]) - last[2]
        return text[first[1]:len(text) - tail]

    def _locate(self, index: int) -> tuple[int, int, int]:
        """(chunk number, start, end in that chunk) of token `index`."""
        assert self._ends is not None
        number = bisect_right(self._ends, index)
        before = self._ends[number - 1] if number else 0
        start, end = original_span(self._chunks[number], index - before)
        return number, start, end


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
