"""The compiled form of a rule: a tree of nodes that test a Document.

Leaves are `Pattern` (a term, a wildcard or a phrase: a sequence of folded
words) and `Person` (the name forms of one person). Inner nodes are `And`,
`Or`, `Not` and `Near`. Every node answers three questions:

- `test(doc, fields)`: does it hold when the listed fields are read
  together? A leaf holds when it occurs in any one of them; a phrase or a
  NEAR pair never spans two fields (../shared/eval/README.md).
- `anchors()`: a set of index keys at least one of which an item must
  contain for the node to hold, or None when no such set exists (`NOT x`);
  index.py uses it to find the few candidate rules of an item.
- `text()`: the node re-printed with explicit parentheses, for `explain`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from monitor.matcher.document import BREAK_TOKEN, Document, FieldView

FUZZY_MIN_LETTERS = 6  # README: typo tolerance applies to words of 6+ letters


@dataclass(frozen=True, slots=True)
class Anchor:
    """An index key: a folded `word` the item must contain, or a word that
    starts with it when `prefix`; `fuzzy` also accepts a near-match."""

    word: str
    prefix: bool = False
    fuzzy: bool = False

    @property
    def cost(self) -> int:
        """How often the key is expected to occur: short words are common,
        and a prefix occurs in many words."""
        size = len(self.word)
        base = 1 if size >= 5 else 3 if size >= 3 else 10
        return base + 2 * self.prefix + self.fuzzy


@dataclass(frozen=True, slots=True)
class Word:
    """One word of a pattern: folded text, prefix (wildcard) or whole word,
    and the fuzzy threshold when typos are allowed for it."""

    text: str
    prefix: bool = False
    fuzzy: int | None = None

    @property
    def anchor(self) -> Anchor:
        return Anchor(self.text, self.prefix, self.fuzzy is not None)

    def quality(self, token: str, doc: Document) -> float:
        """100 for an exact (or prefix) match, the ratio for a typo, else 0."""
        if self.prefix:
            return 100 if token.startswith(self.text) else 0
        if token == self.text:
            return 100
        if self.fuzzy is not None:
            ratio = doc.fuzzy.get(self.text, {}).get(token, 0.0)
            return ratio if ratio >= self.fuzzy else 0
        return 0


Occurrence = tuple[int, int, float]  # start token, end token (exclusive), quality


class Node:
    """Base of the compiled tree (see the module docstring)."""

    pos: int = 0

    def test(self, doc: Document, fields: Sequence[str]) -> bool:
        raise NotImplementedError

    def anchors(self) -> list[Anchor] | None:
        raise NotImplementedError

    def text(self) -> str:
        raise NotImplementedError

    def leaves(self, negated: bool = False) -> Iterator[tuple[Leaf, bool]]:
        """Every leaf with whether it sits under a NOT."""
        raise NotImplementedError


class Leaf(Node):
    """A node that occurs at places of a field: Pattern or Person."""

    label: str

    def occurrences(self, view: FieldView, doc: Document) -> list[Occurrence]:
        raise NotImplementedError

    def present(self, view: FieldView, doc: Document) -> bool:
        """Whether it occurs in this field (cheaper than `occurrences`)."""
        raise NotImplementedError

    def leaves(self, negated: bool = False) -> Iterator[tuple[Leaf, bool]]:
        yield self, negated

    def text(self) -> str:
        return self.label

    def patterns(self) -> tuple[Pattern, ...]:
        raise NotImplementedError


class Pattern(Leaf):
    """A term, wildcard or phrase: words that must follow each other."""

    __slots__ = ("_pivot", "_single", "exact", "key", "label", "pos", "words")

    def __init__(self, label: str, words: Sequence[Word], pos: int = 0) -> None:
        self.label, self.words, self.pos = label, tuple(words), pos
        self.exact = all(not w.prefix and w.fuzzy is None for w in self.words)
        # One exact word, the most common term: it occurs where it is a token.
        self._single = self.words[0].text if self.exact and len(self.words) == 1 else None
        self.key = " " + " ".join(w.text for w in self.words) + " "
        # The pivot is the rarest-looking word: occurrences are looked up
        # from it, and it is the pattern's index anchor.
        ranks = [(w.anchor.cost, -len(w.text)) for w in self.words]
        self._pivot = ranks.index(min(ranks))

    def test(self, doc: Document, fields: Sequence[str]) -> bool:
        # Plain loops rather than any(generator) here and below: these run
        # for every candidate rule, and a generator costs more than the test.
        views, single = doc.views, self._single
        if single is not None:
            for name in fields:  # noqa: SIM110
                if single in views[name].tokset:
                    return True
            return False
        for name in fields:  # noqa: SIM110
            if self.present(views[name], doc):
                return True
        return False

    def present(self, view: FieldView, doc: Document) -> bool:
        if self._single is not None:
            return self._single in view.tokset
        if self.exact:
            return self.key in view.joined
        for word in self.words:
            if not self._may_occur(word, view, doc):
                return False
        return len(self.words) == 1 or bool(self.occurrences(view, doc))

    @staticmethod
    def _may_occur(word: Word, view: FieldView, doc: Document) -> bool:
        """Whether the word occurs somewhere in the field (exact for a single
        word; a cheap necessary test before the phrase scan)."""
        if word.prefix:
            return " " + word.text in view.joined
        if word.text in view.tokset:
            return True
        near = doc.fuzzy.get(word.text)
        threshold = word.fuzzy
        if not near or threshold is None:
            return False
        return any(ratio >= threshold and token in view.tokset for token, ratio in near.items())

    def occurrences(self, view: FieldView, doc: Document) -> list[Occurrence]:
        if self._single is not None:  # the common case, kept short
            return [(at, at + 1, 100.0) for at in view.positions(self._single)]
        toks, words = view.tokens, self.words
        size, offset = len(words), self._pivot
        found = []
        for position in self._pivot_positions(view, doc):
            start = position - offset
            if start < 0 or start + size > len(toks):
                continue
            quality = 100.0
            for i, word in enumerate(words):
                quality = min(quality, word.quality(toks[start + i], doc))
                if not quality:
                    break
            else:
                found.append((start, start + size, quality))
        return found

    def _pivot_positions(self, view: FieldView, doc: Document) -> list[int]:
        """Where the pivot word (the most selective one) may stand."""
        word = self.words[self._pivot]
        if word.prefix:
            return [i for i, token in enumerate(view.tokens) if token.startswith(word.text)]
        found = view.positions(word.text)
        near = doc.fuzzy.get(word.text) if word.fuzzy is not None else None
        if near:
            found = sorted(found + [i for token in near for i in view.positions(token)])
        return found

    def patterns(self) -> tuple[Pattern, ...]:
        return (self,)

    def anchors(self) -> list[Anchor] | None:
        # One word stands for the phrase: the pivot, exact and long if any.
        return [self.words[self._pivot].anchor]


class Person(Leaf):
    """A person: fires when any of its name forms occurs."""

    __slots__ = ("forms", "label", "pos")

    def __init__(self, label: str, forms: Sequence[Pattern], pos: int = 0) -> None:
        self.label, self.forms, self.pos = label, tuple(forms), pos

    def test(self, doc: Document, fields: Sequence[str]) -> bool:
        for form in self.forms:  # noqa: SIM110 (see Pattern.test)
            if form.test(doc, fields):
                return True
        return False

    def occurrences(self, view: FieldView, doc: Document) -> list[Occurrence]:
        return [occ for form in self.forms for occ in form.occurrences(view, doc)]

    def present(self, view: FieldView, doc: Document) -> bool:
        for form in self.forms:  # noqa: SIM110 (see Pattern.test)
            if form.present(view, doc):
                return True
        return False

    def patterns(self) -> tuple[Pattern, ...]:
        return self.forms

    def anchors(self) -> list[Anchor] | None:
        return [anchor for form in self.forms for anchor in form.anchors() or ()]

    def text(self) -> str:
        return "person(" + " | ".join(form.label for form in self.forms) + ")"


class And(Node):
    __slots__ = ("children", "pos")

    def __init__(self, children: Sequence[Node], pos: int = 0) -> None:
        self.children, self.pos = tuple(children), pos

    def test(self, doc: Document, fields: Sequence[str]) -> bool:
        for child in self.children:  # noqa: SIM110 (see Pattern.test)
            if not child.test(doc, fields):
                return False
        return True

    def anchors(self) -> list[Anchor] | None:
        options = [a for a in (child.anchors() for child in self.children) if a is not None]
        if not options:
            return None
        return min(options, key=lambda anchors: sum(a.cost for a in anchors))

    def text(self) -> str:
        return "(" + " AND ".join(child.text() for child in self.children) + ")"

    def leaves(self, negated: bool = False) -> Iterator[tuple[Leaf, bool]]:
        for child in self.children:
            yield from child.leaves(negated)


class Or(And):
    __slots__ = ()

    def test(self, doc: Document, fields: Sequence[str]) -> bool:
        for child in self.children:  # noqa: SIM110 (see Pattern.test)
            if child.test(doc, fields):
                return True
        return False

    def anchors(self) -> list[Anchor] | None:
        found: list[Anchor] = []
        for child in self.children:
            anchors = child.anchors()
            if anchors is None:
                return None
            found.extend(anchors)
        return found

    def text(self) -> str:
        return "(" + " OR ".join(child.text() for child in self.children) + ")"


class Not(Node):
    __slots__ = ("child", "pos")

    def __init__(self, child: Node, pos: int = 0) -> None:
        self.child, self.pos = child, pos

    def test(self, doc: Document, fields: Sequence[str]) -> bool:
        return not self.child.test(doc, fields)

    def anchors(self) -> list[Anchor] | None:
        return None

    def text(self) -> str:
        return "NOT " + self.child.text()

    def leaves(self, negated: bool = False) -> Iterator[tuple[Leaf, bool]]:
        yield from self.child.leaves(not negated)


class Near(Node):
    """Two patterns in the same field, in either order, with at most
    `distance` words between them (`a NEAR/1 b`: "a b" or "a x b")."""

    __slots__ = ("distance", "left", "pos", "right")

    def __init__(self, left: Pattern, right: Pattern, distance: int, pos: int = 0) -> None:
        self.left, self.right, self.distance, self.pos = left, right, distance, pos

    def test(self, doc: Document, fields: Sequence[str]) -> bool:
        return any(self.within(doc.views[name], doc) for name in fields)

    def within(self, view: FieldView, doc: Document) -> bool:
        lefts = self.left.occurrences(view, doc)
        rights = self.right.occurrences(view, doc) if lefts else []
        if not rights:
            return False
        if BREAK_TOKEN not in view.tokset:
            return _any_close(lefts, rights, self.distance)
        # Categories: the two must be in one category (document.BREAK).
        breaks = view.positions(BREAK_TOKEN)
        lefts_in, rights_in = _by_segment(lefts, breaks), _by_segment(rights, breaks)
        return any(_any_close(occs, rights_in[key], self.distance)
                   for key, occs in lefts_in.items() if key in rights_in)

    def anchors(self) -> list[Anchor] | None:
        options = [self.left.anchors() or [], self.right.anchors() or []]
        return min(options, key=lambda anchors: sum(a.cost for a in anchors))

    def text(self) -> str:
        return f"({self.left.text()} NEAR/{self.distance} {self.right.text()})"

    def leaves(self, negated: bool = False) -> Iterator[tuple[Leaf, bool]]:
        yield self.left, negated
        yield self.right, negated


def _by_segment(occurrences: list[Occurrence],
                breaks: list[int]) -> dict[int, list[Occurrence]]:
    """The occurrences grouped by the run of words between two breaks they
    stand in (a pattern never spans a break: its token is no rule word)."""
    found: dict[int, list[Occurrence]] = {}
    for occ in occurrences:
        found.setdefault(bisect_right(breaks, occ[0]), []).append(occ)
    return found


def _any_close(lefts: list[Occurrence], rights: list[Occurrence], distance: int) -> bool:
    """Whether some a, b have at most `distance` words between them, i.e.
    b.start <= a.end + distance and a.start <= b.end + distance.

    Linear after sorting (issue 14: comparing every pair froze the event
    loop 27 s on an item of 12,000 × alpha and 12,000 × beta): take the a's
    by end; the b's that satisfy the first inequality for one a are a prefix
    of the b's by start that only grows, so keep the largest b.end seen."""
    by_start = sorted(rights)  # occurrences come sorted (Timsort: linear then)
    furthest, taken = -1, 0
    for start, end, _ in sorted(lefts, key=lambda occ: occ[1]):
        while taken < len(by_start) and by_start[taken][0] <= end + distance:
            furthest = max(furthest, by_start[taken][1])
            taken += 1
        if taken and start <= furthest + distance:
            return True
    return False
