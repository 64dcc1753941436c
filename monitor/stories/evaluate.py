"""Pairwise precision, recall and F1 of a grouping against labels.

As ../shared/eval/STORIES.md asks: over all pairs of items, a pair is
positive when both share a story. Counted through group sizes (n choose 2
per cell of the contingency table), not by enumerating pairs. Items whose
label is None are left out, and so are the `ambiguous` pairs (indices into
the sequences): either reading is defensible, so neither is scored.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PairScores:
    true_positives: int
    predicted: int  # pairs put in one story
    expected: int  # pairs labelled as one story

    @property
    def precision(self) -> float:
        return self.true_positives / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.expected if self.expected else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def pairwise(labels: Sequence[str | None], stories: Sequence[str],
             ambiguous: Collection[tuple[int, int]] = ()) -> PairScores:
    """Scores of `stories` (one per item) against `labels` (one per item)."""
    kept = [(label, story) for label, story in zip(labels, stories, strict=True)
            if label is not None]

    def pairs(counts: Counter[object]) -> int:
        return sum(n * (n - 1) // 2 for n in counts.values())

    counts = [pairs(Counter(kept)), pairs(Counter(story for _, story in kept)),
              pairs(Counter(label for label, _ in kept))]
    for first, second in set(map(_ordered, ambiguous)):
        if labels[first] is None or labels[second] is None or first == second:
            continue
        same_label, same_story = labels[first] == labels[second], stories[first] == stories[second]
        counts[0] -= same_label and same_story
        counts[1] -= same_story
        counts[2] -= same_label
    return PairScores(*counts)


def _ordered(pair: tuple[int, int]) -> tuple[int, int]:
    return (min(pair), max(pair))
