"""Precision and recall of the matcher on ../shared/eval (target >= 0.98)."""

from __future__ import annotations

from pathlib import Path

from monitor.config import load_rules_file
from monitor.matcher import Matcher, compile_rules
from monitor.matcher.compile import compile_rule
from tests.matcher_eval import evaluate, load_items


def test_eval_precision_and_recall(shared: Path) -> None:
    matcher = compile_rules(load_rules_file(shared / "eval" / "rules.toml"))
    score = evaluate(matcher, load_items(shared / "eval" / "dev.jsonl"))
    print(f"\nprecision {score.precision:.3f} recall {score.recall:.3f} "
          f"(tp {score.true_pos}, fp {len(score.false_pos)}, fn {len(score.false_neg)})")
    for line in score.false_pos:
        print("false positive:", line)
    for line in score.false_neg:
        print("false negative:", line)
    assert score.precision >= 0.98
    assert score.recall >= 0.98


def test_tiny_memos_give_the_same_matches(shared: Path) -> None:
    """The memos (chunk words, chunk rules, fuzzy comparisons) are cleared
    when full; a matcher whose memos overflow on every item answers exactly
    as one whose memos never do, on the eval items matched twice."""
    compiled = [compile_rule(rule) for rule in load_rules_file(shared / "eval" / "rules.toml")]
    roomy, tiny = Matcher(compiled), Matcher(compiled, memo_limit=5)
    items = [labelled.item for labelled in load_items(shared / "eval" / "dev.jsonl")] * 2
    assert [tiny.match(item) for item in items] == [roomy.match(item) for item in items]
