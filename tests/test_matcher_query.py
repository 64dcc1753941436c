"""The query language: precedence, re-printing, and every load-time error
with its file, rule, key and position."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.errors import RuleError
from monitor.matcher import check_rules, compile_rules
from monitor.matcher.query import parse_query
from monitor.models import Person, Rule

PARSED = [
    # (query, re-printed with explicit parentheses)
    ("Renault", "Renault"),
    ("a OR b AND c", "(a OR (b AND c))"),
    ("a AND b OR c", "((a AND b) OR c)"),
    ("(a OR b) AND c", "((a OR b) AND c)"),
    ("a AND NOT b", "(a AND NOT b)"),
    ("a NOT b", "(a AND NOT b)"),
    ("NOT NOT a", "NOT NOT a"),
    ("a NEAR/5 b", "(a NEAR/5 b)"),
    ("a NEAR/2 b AND c", "((a NEAR/2 b) AND c)"),
    ('"Ampere Energy" OR liquid*', '("Ampere Energy" OR liquid*)'),
    ("CFE-CGC", "CFE-CGC"),
    ("((a))", "a"),
    ("and OR or", "(and OR or)"),
    ("NEARBY", "NEARBY"),
    ("\u201cjoint venture\u201d", "\u201cjoint venture\u201d"),
]


@pytest.mark.parametrize(("query", "printed"), PARSED)
def test_parse(query: str, printed: str) -> None:
    assert parse_query(query).text() == printed


ERRORS = [
    # (query, message fragment, position)
    ("", "empty query", 0),
    ("(Ampere OR Renault", "unbalanced parenthesis: '(' is never closed", 0),
    ("Ampere) OR Renault", "unbalanced parenthesis: ')' without '('", 6),
    ("Ampere AND", "AND needs a term after it", 7),
    ("OR Ampere", "OR needs a term before it", 0),
    ("a OR OR b", "OR needs a term after it", 2),
    ("a AND NOT", "NOT needs a term after it", 6),
    ('a OR ""', "empty phrase", 5),
    ('a OR "  "', "empty phrase", 5),
    ('"abc', "unterminated phrase", 0),
    ("li*", "a wildcard needs at least 3 letters", 0),
    ("a OR l'*", "a wildcard needs at least 3 letters", 5),
    ("li*d", "'*' is only allowed at the end", 2),
    ("()", "empty parentheses", 0),
    ("Ampere Renault", "two terms without an operator", 7),
    ("a and b", "two terms without an operator", 2),
    ("a NEAR b", "NEAR needs a distance", 2),
    ("a NEAR/0 b", "between 1 and 1000", 2),
    ("(a OR b) NEAR/3 c", "NEAR joins two terms or phrases", 9),
    ("a NEAR/3 b NEAR/3 c", "NEAR joins exactly two terms", 11),
    ("a OR ---", "a term needs letters or digits", 5),
    ("(" * 60 + "a" + ")" * 60, "nested deeper than", 51),
]


@pytest.mark.parametrize(("query", "message", "position"), ERRORS)
def test_query_errors(query: str, message: str, position: int) -> None:
    rule = Rule("watch", query=query, source="rules.toml", index=3)
    with pytest.raises(RuleError) as caught:
        compile_rules([rule])
    error = caught.value
    assert message in error.message
    assert error.position == position
    assert (error.where, error.key) == ('rules.toml: rules[3] (name="watch")', "query")
    assert str(error).startswith('rules.toml: rules[3] (name="watch").query: ')
    assert str(error).endswith(f"at position {position}")


RULE_ERRORS = [
    # (rule, key, message fragment)
    (Rule("r", any=("",)), "any[0]", "a term needs letters or digits"),
    (Rule("r", all=("ok", "x*")), "all[1]", "a wildcard needs at least 3 letters"),
    (Rule("r", query="a", not_=('""',)), "not[0]", "a term needs letters or digits"),
    (Rule("r", people=(Person(""),)), "people[0].name", "a person needs a name"),
    (Rule("r", people=(Person("Luca de Meo", ("M*",)),)), "people[0].aliases[0]", "wildcard"),
    (Rule("r", not_=("Ampere",)), "rule", "none of its terms"),
    (Rule("r", query="NOT Ampere"), "query", "none of its terms"),
    (Rule("r", query="a OR NOT b"), "query", "none of its terms"),
    (Rule("r", query="a", fields=("body",)), "fields", "unknown field 'body'"),
    (Rule("r", query="a", fuzzy=101), "fuzzy", "between 0 and 100"),
]


@pytest.mark.parametrize(("rule", "key", "message"), RULE_ERRORS)
def test_rule_errors(rule: Rule, key: str, message: str) -> None:
    with pytest.raises(RuleError) as caught:
        compile_rules([rule])
    assert caught.value.key == key
    assert message in caught.value.message


def test_check_rules_collects_every_error() -> None:
    rules = [Rule("a", query="x AND", source="f.toml"), Rule("b", query="ok"),
             Rule("c", any=("",), all=("y*",), source="f.toml", index=2),
             Rule("b", query="dup", index=3)]
    errors = check_rules(rules)
    assert [(e.where.split(" ")[-1], e.key) for e in errors] == [
        ('(name="a")', "query"), ('(name="c")', "any[0]"), ('(name="c")', "all[0]"),
        ('(name="b")', "name")]


def test_good_rules_have_no_errors() -> None:
    assert check_rules([Rule("a", query="x"), Rule("b", people=(Person("Luc Julia"),))]) == []


@given(st.text(max_size=80))
def test_parser_gives_rule_error_or_a_tree(query: str) -> None:
    try:
        parse_query(query, fuzzy=90)
    except RuleError as exc:
        assert exc.position is None or 0 <= exc.position <= len(query)


@given(st.lists(st.sampled_from(["a", "b*", "abc*", '"x y"', "AND", "OR", "NOT", "(", ")",
                                 "NEAR/2", "NEAR", '"', "''", "-"]), max_size=12))
def test_parser_on_operator_soup(parts: list[str]) -> None:
    query = " ".join(parts)
    try:
        parse_query(query)
    except RuleError as exc:
        assert exc.position is not None and 0 <= exc.position <= len(query)
