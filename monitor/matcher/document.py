"""An item's fields as the matcher reads them: split once, folded once.

`plain_fields` gives each field as plain text and its whitespace-separated
chunks; the index rules out most items from those alone (index.py), so an
item that no rule can fire on is never folded word by word. `FieldView`
holds one field read in full: the folded words, their set, and lazily the
joined form and the map back to the original spelling (only firing rules
need those). `Document` is the item: its views plus the fuzzy near-matches
of its words (filled by the index).

The fields (FIELDS) are the item's title, summary, content, author,
categories and url (its link). Two are read in a way of their own:
- `categories`: each category is its own run of words, with BREAK between
  two, so that a phrase or a NEAR never runs from one category into the
  next (as one never runs from one field into another);
- `url`: the link percent-decoded and cut at its punctuation (`/ . - _ ?
  = & # + : ~ ,`), so that `lemonde`, `economie` or "2025 02 10" meet the
  host's and path's segments (`https://www.lemonde.fr/economie/...`).

`Tokenizer` memoises the folding and splitting of each chunk: news
vocabulary repeats, so after warm-up reading a field is dict lookups.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Collection, Mapping
from itertools import accumulate, chain
from urllib.parse import unquote

from monitor.matcher.fold import fold, original_spans, tokens, visible
from monitor.models import Item
from monitor.text import has_markup, html_to_text

FIELDS = ("title", "summary", "content", "author", "categories", "url")
# The chunk between two categories: whitespace, so no text's chunk is it
# (chunks are str.split()'s); its one token is no word of any rule (words are
# runs of letters and digits, fold.tokens), so no phrase runs across it.
BREAK, BREAK_TOKEN = " ", "\x00"
_URL_PUNCTUATION = re.compile(r"[/.\-_?=&#+:~,;@!$*'()\[\]%]+")
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
            words = (BREAK_TOKEN,) if chunk == BREAK else tuple(tokens(fold(chunk)))
            self._memo[chunk] = words
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
# is a long article (~15,000 words) given in full as a summary or content;
# what comes after is not read. Markup is cut at four times that before
# conversion. Authors, categories and links are lines too.
MAX_CHARS = {"title": 2_000, "summary": 100_000, "content": 100_000, "author": 2_000,
             "categories": 10_000, "url": 4_000}


def plain_fields(item: Item, names: Collection[str] = FIELDS) -> dict[str, Chunked]:
    """The fields `names` as plain text and whitespace-separated chunks: all
    the index needs to rule out an item (index.py).

    A content equal to the summary (Atom feeds that give the text twice,
    <summary> and <content>) is read once: the two fields are then the same
    object, which the index and Document read once too."""
    if not item.content or item.content != item.summary:  # the common case, at C speed
        return {name: _READERS[name](item) for name in names}
    fields: dict[str, Chunked] = {}
    for name in names:
        if name == "content" and "summary" in fields and item.content == item.summary:
            fields[name] = fields["summary"]
        else:
            fields[name] = _READERS[name](item)
    return fields


def shared(fields: Mapping[str, Chunked]) -> bool:
    """Whether the content is the summary's very text (plain_fields)."""
    return "content" in fields and fields["content"] is fields.get("summary")


def _categories(item: Item) -> Chunked:
    """The categories' chunks with BREAK between two; the categories past
    MAX_CHARS in all are not read."""
    kept: list[list[str]] = []
    size = 0
    for category in item.categories:
        words = category.split()
        size += sum(map(len, words)) + len(words)
        if size > MAX_CHARS["categories"]:
            break
        if words:
            kept.append(words)
    chunks = [chunk for words in kept for chunk in (BREAK, *words)][1:]
    return " | ".join(" ".join(words) for words in kept), chunks


def _url(item: Item) -> Chunked:
    """The link's words: percent-decoded, cut at its punctuation."""
    link = item.link[:MAX_CHARS["url"]]
    text = " ".join(_URL_PUNCTUATION.sub(" ", unquote(link) if "%" in link else link).split())
    return text, text.split()


_READERS = {
    "title": lambda item: _chunked(item.title, MAX_CHARS["title"]),
    "summary": lambda item: _chunked(item.summary, MAX_CHARS["summary"]),
    "content": lambda item: _chunked(item.content, MAX_CHARS["content"]),
    "author": lambda item: _chunked(item.author, MAX_CHARS["author"]),
    "categories": _categories,
    "url": _url,
}


def _chunked(raw: str, limit: int) -> Chunked:
    # Feeds parsed by monitor.poll.parser are plain text already ("Procter &
    # Gamble" included); JSONL items (the eval set) still carry HTML, so only
    # those pay for the parser.
    if not raw:
        return "", []  # most items have no content or author: nothing to pay
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

    def named(self, name: str) -> FieldView:
        """The same words as field `name`: a field equal to another is
        folded and split once (plain_fields)."""
        view = object.__new__(FieldView)
        for slot in FieldView.__slots__:
            setattr(view, slot, getattr(self, slot))
        view.name = name
        return view

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

    __slots__ = ("_filled", "feed", "fuzzy", "views")

    def __init__(self, item: Item, tokenizer: Tokenizer,
                 fields: Mapping[str, Chunked] | None = None) -> None:
        """`fields` is plain_fields(item, names): the fields the rules tested
        read (by default all of them)."""
        if fields is None:
            fields = plain_fields(item)
        self.feed = item.feed
        if not shared(fields):
            self.views = {name: FieldView(name, chunked, tokenizer)
                          for name, chunked in fields.items()}
        else:
            self.views = {}
            for name, chunked in fields.items():
                self.views[name] = (self.views["summary"].named(name) if name == "content"
                                    else FieldView(name, chunked, tokenizer))
        self.fuzzy: dict[str, dict[str, float]] = {}
        self._filled: dict[tuple[str, ...], tuple[str, ...]] = {}

    def filled(self, fields: tuple[str, ...]) -> tuple[str, ...]:
        """Those of `fields` that hold some word: no term occurs in the others,
        so a rule's test and score read only these (most items have no
        content or author) and answer the same."""
        found = self._filled.get(fields)
        if found is None:
            found = self._filled[fields] = tuple(name for name in fields
                                                 if self.views[name].tokens)
        return found
