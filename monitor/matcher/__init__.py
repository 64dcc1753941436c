"""The matcher: watch rules compiled once; item → matches with scores and
evidence. Pure: no clock, I/O or globals beyond a bounded memo.

Public API (used by config, pipeline and cli):

    fold(text) -> str                                folded text (fold.py)
    compile_rules(rules) -> Matcher                  RuleError on the first bad rule
    check_rules(rules) -> list[RuleError]            every error, for `check`
    Matcher.match(item, feed_tags=()) -> list[Match] firing rules, score >= min_score
    Matcher.rules                                    Rule objects by name
    Matcher.explain(rule_name, item, feed_tags=())   multi-line explanation

Semantics: ../shared/eval/README.md; scoring: docs/scoring.md. Sub-modules:
fold (folding, words), query (parser), nodes (compiled tree), compile (rule →
tree), document (an item folded once), index (candidate rules), score,
explain, engine (the Matcher).
"""

from monitor.matcher.engine import Matcher, check_rules, compile_rules
from monitor.matcher.fold import fold

__all__ = ["Matcher", "check_rules", "compile_rules", "fold"]
