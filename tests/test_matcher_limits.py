"""Issue 14: nothing one stranger can do stops the daemon. A rule is bounded
at load time (a located RuleError that `check` lists), and any one item is
matched in bounded time: NEAR is linear in the positions, and the matcher
reads at most MAX_CHARS of each field."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.errors import RuleError
from monitor.matcher import check_rules, compile_rules
from monitor.matcher.document import MAX_CHARS
from monitor.matcher.nodes import Occurrence, _any_close
from monitor.matcher.query import MAX_NEAR, MAX_PHRASE, MAX_QUERY, MAX_WORD
from monitor.models import Item, Person, Rule

LONG_WORD = "a" * (MAX_WORD + 1)
TOO_LONG = [
    # (rule, key, message fragment, position)
    (Rule("r", query="a" * 1_000_000 + "*"), "query", f"longer than {MAX_QUERY}", MAX_QUERY),
    (Rule("r", query=f"x OR {LONG_WORD}*"), "query", f"at most {MAX_WORD} letters", 5),
    (Rule("r", query=f'"{LONG_WORD}"'), "query", f"at most {MAX_WORD} letters", 1),
    (Rule("r", query='"' + "w " * (MAX_PHRASE + 1) + '"'), "query",
     f"at most {MAX_PHRASE} words", 1 + 2 * MAX_PHRASE),
    (Rule("r", query="a NEAR/" + "1" * 5000 + " b"), "query",
     f"between 1 and {MAX_NEAR}", 2),
    (Rule("r", query=f"a NEAR/{MAX_NEAR + 1} b"), "query", f"between 1 and {MAX_NEAR}", 2),
    (Rule("r", query="a NEAR/" + "0" * 9 + "5 b"), "query", f"between 1 and {MAX_NEAR}", 2),
    (Rule("r", any=(LONG_WORD + "*",)), "any[0]", f"at most {MAX_WORD} letters", 0),
    (Rule("r", any=("a" * 1_000_000 + "*",)), "any[0]", f"longer than {MAX_QUERY}", MAX_QUERY),
    (Rule("r", query="x", not_=("w " * (MAX_PHRASE + 1),)), "not[0]",
     f"at most {MAX_PHRASE} words", 2 * MAX_PHRASE),
    (Rule("r", people=(Person(f"Jo {LONG_WORD}"),)), "people[0].name",
     f"at most {MAX_WORD} letters", None),
    (Rule("r", people=(Person("Jo " + "w " * MAX_PHRASE),)), "people[0].name",
     f"at most {MAX_PHRASE} words", None),
    (Rule("r", people=(Person("Jo", aliases=(LONG_WORD,)),)), "people[0].aliases[0]",
     f"at most {MAX_WORD} letters", 0),
]


@pytest.mark.parametrize(("rule", "key", "message", "position"), TOO_LONG)
def test_oversized_rules_are_located_errors_that_check_lists(
        rule: Rule, key: str, message: str, position: int | None) -> None:
    # A 1,000,000-letter wildcard used to pass `check`, then crash the
    # process (SIGSEGV) when the automaton holding it was freed.
    errors = check_rules([rule])
    assert [(e.key, e.position) for e in errors] == [(key, position)]
    assert message in errors[0].message
    with pytest.raises(RuleError):
        compile_rules([rule])


def test_rules_at_the_limits_compile() -> None:
    at_limit = Rule("r", query=f'{"a" * MAX_WORD}* OR "{"w " * MAX_PHRASE}" '
                              f"OR x NEAR/{MAX_NEAR} y", any=("b" * MAX_WORD + "*",))
    assert check_rules([at_limit]) == []
    matcher = compile_rules([at_limit])
    title = "a" * (MAX_WORD + 5) + " " + "b" * MAX_WORD
    assert matcher.match(Item(feed="f", id="1", title=title))
    del matcher  # frees the automaton


def timed_match(rule: Rule, title: str, summary: str) -> tuple[bool, float]:
    matcher = compile_rules([rule])
    item = Item(feed="f", id="1", title=title, summary=summary)
    start = time.perf_counter()
    fired = bool(matcher.match(item))
    return fired, time.perf_counter() - start


@pytest.mark.parametrize(("summary", "fires"), [
    ("alpha " * 12_000 + "beta " * 12_000, True),
    ("alpha " * 8_000 + "x " * (MAX_NEAR + 1) + "beta " * 8_000, False),
])
def test_near_is_linear_in_the_positions(summary: str, fires: bool) -> None:
    # Comparing every pair froze the event loop ~27 s on the first item.
    fired, seconds = timed_match(Rule("r", query=f"alpha NEAR/{MAX_NEAR} beta"), "", summary)
    assert fired is fires
    assert seconds < 1.0


def test_the_matcher_reads_a_bounded_part_of_each_field() -> None:
    rule = Rule("r", query="Renault OR liquid*")
    words = " ".join(f"w{i}" for i in range(600_000))  # distinct: no memo helps
    assert len(words) > 10 * MAX_CHARS["summary"]
    assert timed_match(rule, "", "Renault " + words)[0]
    fired, seconds = timed_match(rule, "x " * MAX_CHARS["title"] + "Renault", words + " Renault")
    assert not fired
    assert seconds < 1.0
    # The cut falls at whitespace: no stump of a longer word is read.
    stump = "x" * (MAX_CHARS["summary"] - len("liqui")) + " liquid"
    assert not timed_match(rule, "", stump)[0]


occurrences = st.lists(st.tuples(st.integers(0, 60), st.integers(1, 4))
                       .map(lambda t: (t[0], t[0] + t[1], 100.0)), max_size=12)


@given(occurrences, occurrences, st.integers(0, 10))
def test_near_agrees_with_every_pair(lefts: list[Occurrence], rights: list[Occurrence],
                                     distance: int) -> None:
    pairs = any(max(b[0] - a[1], a[0] - b[1]) <= distance for a in lefts for b in rights)
    assert _any_close(lefts, rights, distance) is pairs


FIELD_TEXT = {"content": "content", "author": "author", "url": "link"}


@pytest.mark.parametrize("field", ["content", "author", "categories", "url"])
def test_every_field_of_an_item_is_read_up_to_its_cap(field: str) -> None:
    """Issue 13's fields are bounded as the summary is (issue 14): a term
    past MAX_CHARS of its field is not read, and a field ten times over its
    cap is matched in well under a second."""
    rule = Rule("r", query="Renault OR liquid*", fields=(field,))
    size = 10 * MAX_CHARS[field]
    words = " ".join(f"w{i}" for i in range(size // 7))[:size]  # distinct: no memo helps
    matcher = compile_rules([rule])

    def item(text: str) -> Item:
        if field == "categories":
            return Item(feed="f", id="1", title="", categories=tuple(text.split()))
        return Item(feed="f", id="1", title="", **{FIELD_TEXT[field]: text})

    assert matcher.match(item("Renault " + words))
    start = time.perf_counter()
    assert not matcher.match(item(words + " Renault"))
    assert time.perf_counter() - start < 1.0
