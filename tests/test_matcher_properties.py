"""Properties of compiled rules over generated queries and items (hypothesis)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz

from monitor.errors import RuleError
from monitor.matcher import compile_rules
from monitor.matcher.compile import compile_rule
from monitor.matcher.document import Document, Tokenizer
from monitor.matcher.index import _sizes
from monitor.models import Item, Rule

VOCAB = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
         "india", "juliet"]

leaf = st.one_of(
    st.sampled_from(VOCAB),
    st.sampled_from(VOCAB).map(lambda w: w[:4] + "*"),
    st.tuples(st.sampled_from(VOCAB), st.sampled_from(VOCAB)).map(lambda p: f'"{p[0]} {p[1]}"'),
)
query = st.recursive(leaf, lambda inner: st.one_of(
    st.tuples(inner, st.sampled_from(["AND", "OR"]), inner).map(lambda t: f"({' '.join(t)})"),
    st.tuples(inner, inner).map(lambda t: f"({t[0]} AND NOT {t[1]})"),
    st.tuples(st.sampled_from(VOCAB), st.sampled_from(VOCAB), st.integers(1, 4))
    .map(lambda t: f"({t[0]} NEAR/{t[2]} {t[1]})"),
), max_leaves=8)
rules = st.builds(lambda q, anys, nots: Rule("r", query=q, any=tuple(anys), not_=tuple(nots)),
                  query, st.lists(st.sampled_from(VOCAB), max_size=2),
                  st.lists(st.sampled_from(VOCAB), max_size=2))
texts = st.lists(st.sampled_from(VOCAB), max_size=12)


def positive_words(rule: Rule) -> set[str]:
    compiled = compile_rule(rule)
    return {word.text for leaf, negated in compiled.node.leaves() if not negated
            for pattern in leaf.patterns() for word in pattern.words}


def fires(rule: Rule, title: list[str], summary: list[str]) -> bool:
    item = Item(feed="f", id="1", title=" ".join(title), summary=" ".join(summary))
    return bool(compile_rules([rule]).match(item))


@settings(max_examples=200)
@given(rules, texts, texts)
def test_never_fires_without_a_positive_term(rule: Rule, title: list[str],
                                             summary: list[str]) -> None:
    try:
        positive = positive_words(rule)
    except RuleError:
        assume(False)
        return
    keep = [w for w in VOCAB if not any(w.startswith(p) for p in positive)]
    title = [w for w in title if w in keep]
    summary = [w for w in summary if w in keep]
    assert not fires(rule, title, summary)


@settings(max_examples=200)
@given(rules, texts.filter(bool), texts, st.data())
def test_a_not_term_in_the_item_stops_the_rule(rule: Rule, title: list[str],
                                               summary: list[str], data: st.DataObject) -> None:
    word = data.draw(st.sampled_from(title + summary))
    blocked = replace(rule, not_=(*rule.not_, word))
    try:
        compile_rule(blocked)
    except RuleError:
        assume(False)
    assert not fires(blocked, title, summary)


@settings(max_examples=100)
@given(rules, texts, texts)
def test_matching_is_the_same_through_the_index(rule: Rule, title: list[str],
                                                summary: list[str]) -> None:
    """The candidate index never hides a firing rule: compare with testing
    the compiled tree on every item directly."""
    try:
        compiled = compile_rule(rule)
    except RuleError:
        assume(False)
        return
    item = Item(feed="f", id="1", title=" ".join(title), summary=" ".join(summary))
    direct = compiled.node.test(Document(item, Tokenizer()), rule.fields)
    assert fires(rule, title, summary) == direct


@given(st.text("abcé", min_size=1, max_size=40), st.text("abcé", min_size=1, max_size=40),
       st.integers(1, 100))
def test_the_length_filter_keeps_every_word_that_reaches_the_threshold(
        token: str, word: str, threshold: int) -> None:
    """index._sizes bounds the lengths compared; a pair it leaves out never
    reaches the ratio (rapidfuzz's own figure, floating point included)."""
    if fuzz.ratio(token, word) >= threshold:
        assert len(word) in _sizes(len(token), float(threshold))


@given(st.integers(1, 120), st.integers(1, 120), st.integers(1, 100))
def test_the_length_filter_is_the_bound_on_the_ratio(size: int, other: int, threshold: int) -> None:
    """A word as long as the ratio's bound allows (one a subsequence of the
    other) is kept, however close to the threshold."""
    reachable = 200 * min(size, other) / (size + other) >= threshold
    assert reachable == (other in _sizes(size, float(threshold)))
