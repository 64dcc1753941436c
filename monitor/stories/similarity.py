"""How close an item is to a story: rarity-weighted cosine of word stems,
helped by a fuzzy title match, discounted with the time between them.

Rarity is inverse document frequency within the window (`Rarity`): a word
every item of the last two days carries (`Renault` in a car feed) says
little, a word only two items carry (`Ampère`, `liquidation`) says a lot.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime

from rapidfuzz import fuzz

from monitor.stories.features import TITLE_WEIGHT, Features
from monitor.stories.settings import StorySettings

NEWS_CYCLE = 12 * 3600.0  # seconds


class Rarity:
    """Document frequencies of stems over the items of the window."""

    def __init__(self) -> None:
        self.items = 0
        self.version = 0  # counts every change, for cached norms (`Vector`)
        self.counts: dict[str, int] = {}

    def add(self, stems: Mapping[str, float], sign: int = 1) -> None:
        """Count (sign 1) or forget (sign -1) one item's stems."""
        self.items += sign
        self.version += 1
        for stem in stems:
            left = self.counts.get(stem, 0) + sign
            if left > 0:
                self.counts[stem] = left
            else:
                self.counts.pop(stem, None)

    def idf(self, stem: str) -> float:
        return math.log(1.0 + (self.items + 1) / (1.0 + self.counts.get(stem, 0)))


class Vector:
    """Stem → weight, with its rarity-scaled norm cached.

    The norm of a story's vector is what costs in scoring (every stem's
    rarity, for each candidate). Rarity drifts slowly as items enter and
    leave the window, so a norm is kept until the counts have changed a
    sixty-fourth as many times as the window holds items (an item in or out
    is one change), then recomputed: scores move by well under a percent.
    """

    __slots__ = ("_norm", "_version", "weights")

    def __init__(self, weights: dict[str, float]) -> None:
        self.weights = weights
        self._norm = 0.0
        self._version = -1

    def norm(self, rarity: Rarity) -> float:
        stale = rarity.version - self._version > rarity.items >> 6
        if self._version < 0 or stale:
            self._norm = math.sqrt(sum((w * rarity.idf(s)) ** 2
                                       for s, w in self.weights.items()))
            self._version = rarity.version
        return self._norm


def cosine(a: Vector, b: Vector, rarity: Rarity) -> float:
    """Cosine of two stem → weight vectors, each weight scaled by rarity."""
    small, large = (a.weights, b.weights) if len(a.weights) <= len(b.weights) \
        else (b.weights, a.weights)
    dot = 0.0
    for stem, weight in small.items():
        other = large.get(stem)
        if other is not None:
            dot += weight * other * rarity.idf(stem) ** 2
    if dot == 0.0:
        return 0.0
    return min(dot / (a.norm(rarity) * b.norm(rarity)), 1.0)


def title_boost(score: float, title: str, other: str, settings: StorySettings) -> float:
    """Two nearly equal titles (a publisher's edit, one wire title in two
    feeds) lift the score halfway to their likeness; word order aside, so
    that `Ampère : Renault arrête` meets `Renault arrête Ampère`."""
    if not title or not other:
        return score
    ratio = fuzz.token_sort_ratio(title, other)
    if ratio < settings.title_ratio:
        return score
    return max(score, (score + ratio / 100.0) / 2.0)


def time_factor(at: datetime, first: datetime, settings: StorySettings) -> float:
    """1 within `stale_after` of the story's first item, then down to half
    over the next news cycle (12 hours): outlets report one event within
    hours, and what comes a day later is likelier a new development (the
    strike called on Monday, the lines stopped on Thursday; the blackout,
    then its cause ruled out) or the next day's market wrap. Nothing joins
    a story more than a window after its first item."""
    gap = abs((at - first).total_seconds())
    fresh = settings.stale_after.total_seconds()
    if gap <= fresh:
        return 1.0
    if gap > settings.window.total_seconds():
        return 0.0  # a story takes items for one window: its size stays bounded
    return 1.0 - 0.5 * min((gap - fresh) / NEWS_CYCLE, 1.0)


SUBJECT_MISSING = 0.6


def subject_factor(item: Features, first: Features) -> float:
    """Less when either headline's subject is absent from the other item:
    another actor doing the same thing (Ryanair's new routes, Easyjet's new
    base) or the whole market beside one company's figures."""
    missing = [a.subject for a, b in ((item, first), (first, item))
               if a.subject is not None and a.subject not in b.terms]
    return SUBJECT_MISSING if missing else 1.0


def headline_coverage(a: Features, b: Features, rarity: Rarity) -> float:
    """How much of either headline the other item tells: the rarity of a's
    title stems found anywhere in b, as a share of them all (or b's in a,
    whichever is more). A rewording with new words for its own headline
    ("Le constructeur au losange met fin à l'aventure de son entité
    électrique") still tells the other's ("Renault va liquider sa filiale
    Ampère") in its summary."""
    return max(_covered(a, b, rarity), _covered(b, a, rarity))


def _covered(a: Features, b: Features, rarity: Rarity) -> float:
    total = found = 0.0
    for stem, weight in a.terms.items():
        if weight == TITLE_WEIGHT:
            idf = rarity.idf(stem)
            total += idf
            found += idf if stem in b.terms else 0.0
    return found / total if total else 0.0
