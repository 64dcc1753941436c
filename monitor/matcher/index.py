"""The candidate index: which few rules might fire on an item.

Each compiled rule has anchors (nodes.Anchor): words such as `renault` or
`cessation` (standing for the phrase "cessation de paiements"), or prefixes
such as `liquid` (the wildcard liquid*), of which an item must contain at
least one for the rule to fire. A word hits the rules anchored on it, on a
prefix of it (one Aho-Corasick automaton, pyahocorasick, run over the word
with a leading space so that a prefix only matches at its start), and on a
word it nearly matches (see below).

The index works on whitespace-separated chunks (`Renault,`) rather than on
words: the rules a chunk hits are worked out on its first sight and
memoised, so that finding an item's candidates is one C-level pass of dict
lookups over its chunks. Most items hit no rule and cost nothing more: they
are never folded into words (document.py).

Typos cannot be found by exact search, so the index also keeps the
vocabulary of words that rules allow to be misspelt. Each distinct word is
compared once to those of compatible length (one rapidfuzz.process.extract
call) and the result memoised; `near` copies a
document's near-matches into `doc.fuzzy` for the rule tests. The memos are
bounded (cleared when full), never part of the matcher's answers.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence

import ahocorasick
from rapidfuzz import fuzz, process

from monitor.matcher.compile import CompiledRule
from monitor.matcher.document import Chunked, Document, Tokenizer, shared

# Entries per memo (chunk → words, rules, positions), each cleared when full.
# News vocabulary is Zipfian: 50,000 chunks keep the words that recur, and a
# daemon fed ever-new words (names, numbers) stays near 12 MB of memos instead
# of the ~50 MB that 200,000 cost (bench/match.py runs as fast with either).
MEMO_LIMIT = 50_000


class Index:
    """Candidate rules (by position in `compiled`) for a Document."""

    def __init__(self, compiled: Sequence[CompiledRule], tokenizer: Tokenizer,
                 memo_limit: int = MEMO_LIMIT) -> None:
        self._tokenizer, self._limit = tokenizer, memo_limit
        self._words: dict[str, set[int]] = {}
        self._fuzzy_rules: dict[str, set[int]] = {}
        prefixes: dict[str, set[int]] = {}
        self._threshold: dict[str, float] = {}  # fuzzy word -> lowest threshold
        self._typo_rules: set[int] = set()  # rules with some fuzzy word
        for number, rule in enumerate(compiled):
            for anchor in rule.anchors:
                keys = prefixes if anchor.prefix else self._words
                keys.setdefault(anchor.word, set()).add(number)
                if anchor.fuzzy:
                    self._fuzzy_rules.setdefault(anchor.word, set()).add(number)
            if self._collect_fuzzy(rule):
                self._typo_rules.add(number)
        self._automaton = ahocorasick.Automaton()
        for prefix, numbers in prefixes.items():
            self._automaton.add_word(" " + prefix, tuple(sorted(numbers)))
        if prefixes:
            self._automaton.make_automaton()
        self._lowest = min(self._threshold.values(), default=100.0)
        self._by_size: dict[int, list[str]] = {}  # token length -> fuzzy words to compare
        self._chunk_rules: dict[str, tuple[int, ...]] = {}  # chunk -> rules it hits
        self._memo: dict[str, dict[str, float]] = {}  # word -> {rule word: ratio}
        self._near: set[str] = set()  # memoised words with some near-match

    def _collect_fuzzy(self, rule: CompiledRule) -> bool:
        """Note the rule's fuzzy words; whether it has any."""
        found = False
        for leaf, _ in rule.node.leaves():
            for pattern in leaf.patterns():
                for word in pattern.words:
                    if word.fuzzy is not None:
                        old = self._threshold.get(word.text, 101.0)
                        self._threshold[word.text] = min(old, float(word.fuzzy))
                        found = True
        return found

    def candidates(self, fields: Mapping[str, Chunked]) -> set[int]:
        """Rules that may fire on an item with these fields (plain_fields)."""
        # A content that is the summary's very text (plain_fields) is read once.
        skip = "content" if shared(fields) else ""
        hits = self._lookup(fields, skip)
        if None in hits:
            self._learn({chunk for name, (_, chunks) in fields.items() if name != skip
                         for chunk in chunks})
            hits = self._lookup(fields, skip)
        hits.discard(())
        return set().union(*hits)  # type: ignore[arg-type]  # no None left

    def _lookup(self, fields: Mapping[str, Chunked], skip: str) -> set[tuple[int, ...] | None]:
        """The memo's distinct answers for the chunks of `fields` but `skip`
        (None for a chunk not seen yet): one C-level pass of dict lookups
        per field (the memo is large: each lookup is a cache miss), and the
        distinct answers are few: (), None, hits."""
        found: set[tuple[int, ...] | None] = set()
        get = self._chunk_rules.get
        for name, (_, chunks) in fields.items():
            if name != skip:
                found.update(map(get, chunks))
        return found

    def near(self, doc: Document, candidates: Collection[int] | None = None) -> None:
        """Fill `doc.fuzzy` with the near-matches of its words; with
        `candidates`, only if some of those rules allows typos (the others
        never read doc.fuzzy)."""
        if candidates is not None and self._typo_rules.isdisjoint(candidates):
            return
        if not self._threshold:
            return
        words = set().union(*(view.tokset for view in doc.views.values()))
        self._remember(words)
        for token in words & self._near:
            for word, ratio in self._memo[token].items():
                doc.fuzzy.setdefault(word, {})[token] = ratio

    def _learn(self, chunks: set[str]) -> None:
        """Memoise the rules each chunk not seen yet hits."""
        unseen = chunks.difference(self._chunk_rules)
        if len(self._chunk_rules) + len(unseen) > self._limit:
            self._chunk_rules.clear()
            unseen = chunks
        for chunk in unseen:
            self._chunk_rules[chunk] = self._hits(chunk)

    def _hits(self, chunk: str) -> tuple[int, ...]:
        """The rules the chunk hits."""
        found: set[int] = set()
        words = self._tokenizer.chunk(chunk)
        self._remember(set(words))
        for word in words:
            found.update(self._words.get(word, ()))
            if len(self._automaton):
                for _, numbers in self._automaton.iter(" " + word):
                    found.update(numbers)
            for near in self._memo.get(word, ()):
                found.update(self._fuzzy_rules.get(near, ()))
        # Shared (): the empty tuple is a singleton, so the set in
        # `candidates` collapses the chunks that hit nothing to one entry.
        return tuple(sorted(found))

    def _remember(self, words: set[str]) -> None:
        """Compute the near-matches of the words not memoised yet."""
        if not self._threshold:
            return
        unseen = words.difference(self._memo)
        if len(self._memo) + len(unseen) > self._limit:
            self._memo.clear()
            self._near.clear()
            unseen = words
        for token in unseen:
            near = self._compare(token)
            self._memo[token] = near
            if near:
                self._near.add(token)

    def _compare(self, token: str) -> dict[str, float]:
        near: dict[str, float] = {}
        for word, ratio, _ in process.extract(token, self._comparable(len(token)),
                                              scorer=fuzz.ratio, score_cutoff=self._lowest,
                                              limit=None):
            if ratio >= self._threshold[word] and word != token:
                near[word] = ratio
        return near

    def _comparable(self, length: int) -> list[str]:
        """The fuzzy words whose length can reach the lowest threshold
        against a token of `length` (one list per length: one extract call)."""
        words = self._by_size.get(length)
        if words is None:
            sizes = _sizes(length, self._lowest)
            words = self._by_size[length] = [w for w in self._threshold if len(w) in sizes]
        return words


def _sizes(length: int, lowest: float) -> range:
    """Word lengths that can reach `lowest` against a token of `length`:
    ratio = 200·matches / (len1 + len2) is at most 200·min / (len1 + len2),
    so a word of n letters can only if 200·min(length, n) >= lowest·(length + n).
    The bounds are that inequality solved for n, with a hair of slack for
    floating point (a length too many costs comparisons, one too few answers)."""
    if lowest <= 0:
        return range(1, 10_000)
    slack = 1e-6
    shortest = math.ceil(length * lowest / (200 - lowest) - slack)  # n <= length
    longest = math.floor(length * (200 - lowest) / lowest + slack)  # n >= length
    return range(max(shortest, 1), longest + 1)
