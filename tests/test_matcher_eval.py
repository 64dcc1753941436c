"""Precision and recall of the matcher on ../shared/eval (target >= 0.98)."""

from __future__ import annotations

from matcher_eval import EVAL_DIR, evaluate, load_items, load_rules

from monitor.matcher import compile_rules


def test_eval_precision_and_recall() -> None:
    matcher = compile_rules(load_rules(EVAL_DIR / "rules.toml"))
    score = evaluate(matcher, load_items(EVAL_DIR / "dev.jsonl"))
    print(f"\nprecision {score.precision:.3f} recall {score.recall:.3f} "
          f"(tp {score.true_pos}, fp {len(score.false_pos)}, fn {len(score.false_neg)})")
    for line in score.false_pos:
        print("false positive:", line)
    for line in score.false_neg:
        print("false negative:", line)
    assert score.precision >= 0.98
    assert score.recall >= 0.98
