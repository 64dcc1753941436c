"""The candidate index: which few rules might fire on an item.

Each compiled rule has anchors (nodes.Anchor): words such as `renault` or
`cessation` (standing for the phrase "cessation de paiements"), or prefixes
such as `liquid` (the wildcard liquid*), of which an item must contain at
least one for the rule to fire. Whole words are found by intersecting the
item's word set with the anchor words (a C set operation); prefixes by one
Aho-Corasick automaton (pyahocorasick) run over the item's folded words
joined by spaces, each prefix keyed with a leading space so that it only
matches at the start of a word.

Typos cannot be found by exact search, so the index also keeps the
vocabulary of words that rules allow to be misspelt, bucketed by length. Each
distinct word of the items is compared to the buckets of compatible length
once (rapidfuzz.process.extract) and the result memoised: news vocabulary
repeats, so after warm-up the fuzzy step is a set difference per item. The
memo is bounded (cleared when full), never part of the matcher's answers.
"""

from __future__ import annotations

from collections.abc import Sequence

import ahocorasick
from rapidfuzz import fuzz, process

from monitor.matcher.compile import CompiledRule
from monitor.matcher.document import Document

MEMO_LIMIT = 200_000


class Index:
    """Candidate rules (by position in `compiled`) for a Document."""

    def __init__(self, compiled: Sequence[CompiledRule]) -> None:
        self._words: dict[str, set[int]] = {}
        self._fuzzy_rules: dict[str, set[int]] = {}
        prefixes: dict[str, set[int]] = {}
        self._threshold: dict[str, float] = {}  # fuzzy word -> lowest threshold
        for number, rule in enumerate(compiled):
            for anchor in rule.anchors:
                keys = prefixes if anchor.prefix else self._words
                keys.setdefault(anchor.word, set()).add(number)
                if anchor.fuzzy:
                    self._fuzzy_rules.setdefault(anchor.word, set()).add(number)
            self._collect_fuzzy(rule)
        self._automaton = ahocorasick.Automaton()
        for prefix, numbers in prefixes.items():
            self._automaton.add_word(" " + prefix, tuple(sorted(numbers)))
        if prefixes:
            self._automaton.make_automaton()
        self._buckets: dict[int, list[str]] = {}
        for word in self._threshold:
            self._buckets.setdefault(len(word), []).append(word)
        self._lowest = min(self._threshold.values(), default=100.0)
        self._memo: dict[str, dict[str, float]] = {}
        self._near: set[str] = set()  # memoised tokens with some near-match

    def _collect_fuzzy(self, rule: CompiledRule) -> None:
        for leaf, _ in rule.node.leaves():
            for pattern in leaf.patterns():
                for word in pattern.words:
                    if word.fuzzy is not None:
                        old = self._threshold.get(word.text, 101.0)
                        self._threshold[word.text] = min(old, float(word.fuzzy))

    def candidates(self, doc: Document) -> set[int]:
        """Rules that may fire; fills `doc.fuzzy` for the typo-tolerant ones."""
        found: set[int] = set()
        words = doc.views["title"].tokset | doc.views["summary"].tokset
        for word in self._words.keys() & words:
            found.update(self._words[word])
        if len(self._automaton):
            for _, numbers in self._automaton.iter(doc.joined):
                found.update(numbers)
        if self._threshold:
            self._fuzzy(doc, words, found)
        return found

    def _fuzzy(self, doc: Document, words: set[str], found: set[int]) -> None:
        unseen = words.difference(self._memo)
        if unseen:
            if len(self._memo) + len(unseen) > MEMO_LIMIT:
                self._memo.clear()
                self._near.clear()
                unseen = words
            for token in unseen:
                self._remember(token)
        for token in words & self._near:
            for word, ratio in self._memo[token].items():
                doc.fuzzy.setdefault(word, {})[token] = ratio
                found.update(self._fuzzy_rules.get(word, ()))

    def _remember(self, token: str) -> None:
        near: dict[str, float] = {}
        for size in _sizes(len(token), self._lowest):
            bucket = self._buckets.get(size)
            if not bucket:
                continue
            for word, ratio, _ in process.extract(token, bucket, scorer=fuzz.ratio,
                                                  score_cutoff=self._lowest, limit=None):
                if ratio >= self._threshold[word] and word != token:
                    near[word] = ratio
        self._memo[token] = near
        if near:
            self._near.add(token)


def _sizes(length: int, lowest: float) -> range:
    """Word lengths that can reach `lowest` against a token of `length`:
    ratio = 2·matches / (len1 + len2) is at most 2·min / (len1 + len2)."""
    if lowest <= 0:
        return range(1, 10_000)
    shortest = int(length * lowest / (200 - lowest))
    longest = int(length * (200 - lowest) / lowest) + 1
    return range(max(shortest, 1), longest + 1)
