"""The score of a firing rule and its evidence (docs/scoring.md).

For each distinct positive term (a leaf not under NOT) that occurs in the
rule's fields, its strength is the best over its occurrences of

    quality * field weight      quality: 100 exact, the rapidfuzz ratio for a typo
                                weight: title 1.0, summary, author and
                                categories 0.85, content and url 0.7

and the score is the mean strength times a coverage factor that grows with
the number n of distinct terms matched: min(1, 0.7 + 0.1·n), so one term
gives 0.8, two 0.9, three or more 1.0. Rounded to an integer 0-100.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter

from monitor.matcher.compile import CompiledRule
from monitor.matcher.document import Document
from monitor.models import Match, TermHit

# A word in paragraph five (content) or in a link's path says less about
# what the item is about than one in its title; an author or a category is
# the publisher's own label, as strong as its teaser.
FIELD_WEIGHT = {"title": 1.0, "summary": 0.85, "content": 0.7, "author": 0.85,
                "categories": 0.85, "url": 0.7}
_QUALITY = itemgetter(2)  # of an occurrence (start, end, quality)


def coverage(terms: int) -> float:
    """The share of the mean strength a match with `terms` terms keeps."""
    return min(1.0, 0.7 + 0.1 * terms)


def score_match(compiled: CompiledRule, doc: Document,
                fields: Sequence[str] | None = None) -> Match:
    """The Match of a rule known to fire on `doc`, with one TermHit per
    (positive term, field) at the term's best place in that field.
    `fields`: the rule's fields to read (by default all; Document.filled
    leaves out those without words, which hold no term)."""
    views = [doc.views[name] for name in (compiled.rule.fields if fields is None else fields)]
    hits: list[TermHit] = []
    strengths: dict[str, float] = {}
    for leaf in compiled.terms:
        if leaf.label in strengths:
            continue
        best = 0.0
        for view in views:
            if not leaf.present(view, doc):
                continue
            found = leaf.occurrences(view, doc)
            if not found:
                continue
            start, end, quality = max(found, key=_QUALITY)
            hits.append(TermHit(leaf.label, view.original_words(start, end), view.name,
                                round(quality)))
            best = max(best, quality * FIELD_WEIGHT[view.name])
        if best:
            strengths[leaf.label] = best
    if not strengths:
        return Match(compiled.rule.name, 0, tuple(hits))
    mean = sum(strengths.values()) / len(strengths)
    return Match(compiled.rule.name, round(mean * coverage(len(strengths))), tuple(hits))
