"""Fuzzing (issue 14, point 3): nothing a stranger writes stops the daemon.

The query parser on arbitrary input gives a tree or a RuleError, never
another exception, a hang or a crash; the matcher with every rule of the
eval set matches any item within a time budget. Failures hypothesis finds
are kept in its example database (.hypothesis/, replayed first on the next
run) and printed as a blob to reproduce (`@reproduce_failure`); the ones
found so far are `@example` rows, so that every run replays them.
"""

from __future__ import annotations

import time
from functools import cache
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from monitor.config import load_rules_file
from monitor.errors import RuleError
from monitor.matcher import Matcher, compile_rules
from monitor.matcher.compile import compile_rule
from monitor.matcher.query import parse_query
from monitor.models import Item, Rule

# Each test runs a few thousand cases within ~20 s of CI time.
FUZZ = settings(deadline=1000, print_blob=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
BUDGET = 0.5  # seconds per item; an item of the eval set takes well under 1 ms

pieces = st.sampled_from(["a", "abc*", "Renault", '"x y"', '"', "AND", "OR", "NOT", "(", ")",
                          "NEAR/2", "NEAR/", "NEAR", "NEAR/0", "NEAR/1001", "*", "l'*", "-",
                          "\u201c", "\u0665", "\ufdfa", "\u00a0", "\n"])
soups = st.lists(st.one_of(pieces, st.text(max_size=6),
                           st.integers(0, 10**12).map(lambda n: f"NEAR/{n}")),
                 max_size=30).map(" ".join)
# Repeated characters reach the length limits without generating megabytes.
floods = st.tuples(st.sampled_from(["a", "7", "'", "(", "\u00e9", "NEAR/", "a ", "*"]),
                   st.integers(1, 20_000), st.sampled_from(["", "*", " b", ")", '"'])
                   ).map(lambda t: t[0] * t[1] + t[2])


@settings(FUZZ, max_examples=3000)
@given(st.one_of(st.text(max_size=200), soups, floods))
@example("a NEAR/" + "1" * 5000 + " b")  # ValueError from int()
@example("a" * 1_000_000 + "*")  # passed check, then SIGSEGV freeing the automaton
@example("x OR " + "a" * 10_000 + "*")
def test_parser_gives_a_tree_or_a_rule_error(query: str) -> None:
    try:
        parse_query(query, fuzzy=90)
        matcher = compile_rules([Rule("r", query=query, any=(query[:50],), fuzzy=90)])
    except RuleError as exc:
        assert exc.position is None or 0 <= exc.position <= len(query)
        return
    matcher.match(Item(feed="f", id="1", title=query[:2000], summary=query))
    del matcher  # frees the automaton (where the crash was)


@cache
def eval_matcher(shared: Path) -> tuple[Matcher, tuple[str, ...]]:
    """The eval rules compiled once, and every word they contain."""
    rules = load_rules_file(shared / "eval" / "rules.toml")
    words = {word.text for rule in rules for leaf, _ in compile_rule(rule).node.leaves()
             for pattern in leaf.patterns() for word in pattern.words}
    return compile_rules(rules), tuple(sorted(words))


def item_texts(words: tuple[str, ...]) -> st.SearchStrategy[str]:
    """Arbitrary text, and the rules' own words (misspelt, repeated
    thousands of times, in markup): the items that make rules work hardest."""
    spelt = st.sampled_from(words).flatmap(lambda w: st.sampled_from(
        [w, w.upper(), w[:-1], w + "s", w[1:], f"<b>{w}</b>", f"{w}-{w}", f"l'{w}"]))
    repeated = st.tuples(st.lists(spelt, min_size=1, max_size=20), st.integers(1, 5000)
                         ).map(lambda t: " ".join(t[0] * t[1]))
    return st.one_of(st.text(max_size=300), repeated, st.lists(spelt).map(" ".join))


@settings(FUZZ, max_examples=1000)  # an item costs more than a query
@given(data=st.data())
def test_every_eval_rule_matches_any_item_within_a_budget(shared: Path,
                                                           data: st.DataObject) -> None:
    matcher, words = eval_matcher(shared)
    title = data.draw(item_texts(words), "title")
    summary = data.draw(item_texts(words), "summary")
    item = Item(feed="f", id="1", title=title, summary=summary)
    start = time.perf_counter()
    matcher.match(item)
    assert time.perf_counter() - start < BUDGET
