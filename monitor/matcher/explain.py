"""Human-readable explanation of one rule on one item.

Shows the rule re-printed with explicit parentheses, every term with where
it matched (original spelling, exact or fuzzy ratio), each part of the rule
with whether it holds, and the verdict with the score.
"""

from __future__ import annotations

from monitor.matcher.compile import CompiledRule
from monitor.matcher.document import Document
from monitor.matcher.nodes import Leaf
from monitor.matcher.score import score_match


def explain_rule(compiled: CompiledRule, doc: Document, applies: bool) -> str:
    """The explanation text; `applies` is False when feeds/tags exclude the item."""
    rule = compiled.rule
    lines = [f"rule {rule.name}: looks at {', '.join(rule.fields)}"]
    lines += [f"  {key}: {node.text()}" for key, node in compiled.parts]
    lines.append("terms:")
    seen: set[str] = set()
    for leaf, negated in compiled.node.leaves():
        if leaf.label not in seen:
            seen.add(leaf.label)
            lines.append(_term_line(leaf, negated, compiled, doc))
    lines.append("parts:")
    for key, node in compiled.parts:
        holds = node.test(doc, rule.fields)
        lines.append(f"  {key}: {'holds' if holds else 'fails'}")
    lines.append(_verdict(compiled, doc, applies))
    return "\n".join(lines)


def _term_line(leaf: Leaf, negated: bool, compiled: CompiledRule, doc: Document) -> str:
    places = []
    for field in compiled.rule.fields:
        view = doc.views[field]
        found = leaf.present(view, doc) and leaf.occurrences(view, doc)
        if found:
            start, end, quality = max(found, key=lambda occ: occ[2])
            how = "exact" if quality == 100 else f"fuzzy {quality:.1f}"
            places.append(f"{field} {view.original_words(start, end)!r} ({how})")
    role = " (NOT)" if negated else ""
    return f"  {leaf.label}{role}: " + ("; ".join(places) if places else "not found")


def _verdict(compiled: CompiledRule, doc: Document, applies: bool) -> str:
    rule = compiled.rule
    if not applies:
        return "verdict: does not fire: the item's feed is outside the rule's feeds/tags"
    if not compiled.node.test(doc, rule.fields):
        return "verdict: does not fire: a part above fails"
    score = score_match(compiled, doc).score
    if score < rule.min_score:
        return f"verdict: does not fire: score {score} < min_score {rule.min_score}"
    return f"verdict: fires with score {score}"
