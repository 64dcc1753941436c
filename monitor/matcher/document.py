"""An item's fields as the matcher reads them: split once, folded once.

`plain_fields` gives each field as plain text and its whitespace-separated
chunks; the index rules out most items from those alone (index.py), so an
item that no rule can fire on is never folded word by word. `FieldView`
holds one field (title or summary) read in full: the folded words, their
set, and lazily the joined form and the map back to the original spelling
(only firing rules need those). `Document` is the item: its views plus the
fuzzy near-matches of its words (filled by the index).

`Tokenizer` memoises the folding and splitting of each chunk: news
vocabulary repeats, so after warm-up reading a field is dict lookups.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from itertools import accumulate, chain

from monitor.matcher.fold import fold, original_spans, tokens, visible
from monitor.models import Item
from monitor.text import has_markup, html_to_text

FIELDS = ("title", "summary")
Span = tuple[int, int]
Chunked = tuple[str, list[str]]  # a field's plain text and its whitespace-separated chunks


class Tokenizer:
    """`words(text)` is `tokens(fold(text))`, memoised per whitespace-separated
    chunk: no word spans whitespace and folding maps each character on its
    own, so chunks fold and split independently. The memos are cleared when
    full, so they bound memory and never change an answer."""

    def __init__(self, limit: int = 300_000) -> None:
        self._memo: dict[str, tuple[str, ...]] = {}
        self._spans: dict[str, tuple[Span, ...]] = {}
        self._limit = limit

    def words(self, text: str) -> list[str]:
        """`tokens(fold(text))`."""
        return list(chain.from_iterable(self.split(text.split())))

    def split(self, chunks: list[str]) -> list[tuple[str, ...]]:
        """The words of each chunk (text without whitespace)."""
        try:
            return list(map(self._memo.__getitem__, chunks))  # the hot path stays in C
        except KeyError:
            return [self.chunk(chunk) for chunk in chunks]

    def chunk(self, chunk: str) -> tuple[str, ...]:
        """The words of one chunk."""
        words = self._memo.get(chunk)
        if words is None:
            if len(self._memo) >= self._limit:
                self._memo.clear()
            words = self._memo[chunk] = tuple(tokens(fold(chunk)))
        return words

    def spans(self, chunk: str) -> tuple[Span, ...]:
        """Where each word of the chunk stands in it, as written."""
        spans = self._spans.get(chunk)
        if spans is None:
            if len(self._spans) >= self._limit:
                self._spans.clear()
            spans = self._spans[chunk] = tuple(original_spans(chunk))
        return spans


# The most of each field the matcher reads, in characters (issue 14: no one
# item may hold the event loop for long). Matching is linear in the text, so
# these bound the time of any item: a title is a line, and 100,000 characters
# is a long article (~15,000 words) given in full as a summary; what comes
# after is not read. Markup is cut at four times that before conversion.
MAX_CHARS = {"title": 2_000, "summary": 100_000}


def plain_fields(item: Item) -> dict[str, Chunked]:
    """Each field as plain text and its whitespace-separated chunks: all the
    index needs to rule out an item (index.py)."""
    return {"title": _chunked(item.title, MAX_CHARS["title"]),
            "summary": _chunked(item.summary, MAX_CHARS["summary"])}


def _chunked(raw: str, limit: int) -> Chunked:
    # Feeds parsed by monitor.poll.parser are plain text already ("Procter &
    # Gamble" included); JSONL items (the eval set) still carry HTML, so only
    # those pay for the parser.
    text = _cut(html_to_text(_cut(raw, 4 * limit)) if has_markup(raw) else raw, limit)
    return text, text.split()


def _cut(text: str, limit: int) -> str:
    """At most `limit` characters of `text`, ended at whitespace so that the
    last word is not a stump that a wildcard or a typo would take."""
    if len(text) <= limit:
        return text
    kept = text[:limit + 1].rsplit(None, 1)  # one word off the end, if any
    return kept[0] if len(kept) == 2 else text[:limit]


class FieldView:
    """One field of an item, folded and split into words."""

    __slots__ = ("_ends", "_joined", "_tokenizer", "chunks", "name", "original", "tokens",
                 "tokset", "words")

    def __init__(self, name: str, field: Chunked, tokenizer: Tokenizer) -> None:
        self.name = name
        self.original, self.chunks = field
        self._tokenizer = tokenizer
        self.words = tokenizer.split(self.chunks)  # the words of each chunk
        self.tokens = list(chain.from_iterable(self.words))
        self.tokset = set(self.tokens)
        self._ends: list[int] | None = None  # token count up to each chunk, on demand
        self._joined: str | None = None

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
        whitespace inside it shown as one space, invisible characters
        removed: fold.visible)."""
        if self._ends is None:
            self._ends = list(accumulate(map(len, self.words)))
        first = self._locate(start)
        if end == start + 1:  # one word: no need to join chunks
            return visible(self.chunks[first[0]][first[1]:first[2]])
        last = self._locate(end - 1)
        text = " ".join(self.chunks[first[0]:last[0] + 1])
        tail = len(self.chunks[last[0]]) - last[2]
        return visible(text[first[1]:len(text) - tail])

    def _locate(self, index: int) -> tuple[int, int, int]:
        """(chunk number, start, end in that chunk) of token `index`."""
        assert self._ends is not None
        number = bisect_right(self._ends, index)
        before = self._ends[number - 1] if number else 0
        start, end = self._tokenizer.spans(self.chunks[number])[index - before]
        return number, start, end


class Document:
    """An item seen by the matcher: one FieldView per field, and `fuzzy`,
    for each rule word some token nearly matches, {token: ratio}."""

    __slots__ = ("feed", "fuzzy", "views")

    def __init__(self, item: Item, tokenizer: Tokenizer,
                 fields: Mapping[str, Chunked] | None = None) -> None:
        """`fields` is plain_fields(item), when the caller has it already."""
        if fields is None:
            fields = plain_fields(item)
        self.feed = item.feed
        self.views = {name: FieldView(name, fields[name], tokenizer) for name in FIELDS}
        self.fuzzy: dict[str, dict[str, float]] = {}
