"""Rule → CompiledRule: every part of a rule turned into one node tree.

A rule fires when all its parts hold (README: `any`, `all`, `not` and
`people` are combined with `query` by AND):

    query              the parsed query
    people             Or(Person, ...): one person is enough
    any / all          Or / And of the entries (several words: a phrase)
    not                Not(Or(entries))

Compilation also refuses a rule that could fire on an item containing none
of its terms (`NOT x` alone, `a OR NOT b`): such a rule has no index anchor
and would fire on nearly everything. Errors are RuleError naming the file,
the rule, the key and, for the query, the position.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from monitor.errors import RuleError
from monitor.matcher.document import FIELDS
from monitor.matcher.fold import fold, tokens
from monitor.matcher.nodes import (
    FUZZY_MIN_LETTERS,
    Anchor,
    And,
    Leaf,
    Node,
    Not,
    Or,
    Pattern,
    Person,
    Word,
)
from monitor.matcher.query import (
    MAX_PHRASE,
    MAX_WORD,
    _Syntax,
    check_length,
    make_pattern,
    parse_query,
)
from monitor.models import Person as PersonSpec
from monitor.models import Rule


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule ready to test: `node` is the whole rule, `parts` its labelled
    pieces (for explain), `anchors` the index keys (see nodes.Anchor),
    `terms` the leaves not under NOT, in order (the ones that score)."""

    rule: Rule
    node: Node
    parts: tuple[tuple[str, Node], ...]
    anchors: tuple[Anchor, ...]
    terms: tuple[Leaf, ...]


def compile_rule(rule: Rule) -> CompiledRule:
    """The compiled rule; raises the first RuleError found."""
    errors: list[RuleError] = []
    compiled = _compile(rule, errors)
    if errors:
        raise errors[0]
    assert compiled is not None
    return compiled


def rule_errors(rule: Rule) -> list[RuleError]:
    """Every problem of the rule (one per faulty key or entry)."""
    errors: list[RuleError] = []
    _compile(rule, errors)
    return errors


def _compile(rule: Rule, errors: list[RuleError]) -> CompiledRule | None:
    parts: list[tuple[str, Node]] = []

    def part(key: str, build: Callable[[], Node | None]) -> None:
        try:
            node = build()
        except RuleError as exc:
            errors.append(exc)
            return
        if node is not None:
            parts.append((key, node))

    if rule.query is not None:
        part("query", lambda: parse_query(rule.query or "", fuzzy=rule.fuzzy, where=rule.where))
    part("people", lambda: _people(rule))
    part("any", lambda: _entries(rule, "any", rule.any, Or))
    part("all", lambda: _entries(rule, "all", rule.all, And))
    part("not", lambda: _negated(rule))
    errors.extend(_settings_errors(rule))
    if errors:
        return None
    node = parts[0][1] if len(parts) == 1 else And([n for _, n in parts])
    anchors = node.anchors() if parts else None
    if not anchors:
        errors.append(RuleError(rule.where, "query" if rule.query else "rule",
                                "the rule can fire on an item with none of its terms: give it "
                                "a query, any, all or people term that must be present",
                                0 if rule.query else None))
        return None
    terms = tuple(leaf for leaf, negated in node.leaves() if not negated)
    return CompiledRule(rule, node, tuple(parts), tuple(dict.fromkeys(anchors)), terms)


def _entries(rule: Rule, key: str, entries: Sequence[str],
             combine: type[And]) -> Node | None:
    if not entries:
        return None
    patterns = [_entry(rule, f"{key}[{i}]", entry) for i, entry in enumerate(entries)]
    return patterns[0] if len(patterns) == 1 and combine is Or else combine(patterns)


def _negated(rule: Rule) -> Node | None:
    inner = _entries(rule, "not", rule.not_, Or)
    return None if inner is None else Not(inner)


def _entry(rule: Rule, key: str, entry: str) -> Pattern:
    """An `any`/`all`/`not` entry: a term, a wildcard, or a phrase (quotes
    around it are optional)."""
    raw = entry.strip().strip('"“”')
    label = f'"{raw}"' if len(raw.split()) > 1 else raw
    try:
        check_length(raw)
        return make_pattern(raw, label, 0, rule.fuzzy)
    except _Syntax as exc:
        raise RuleError(rule.where, key, exc.message, exc.pos) from None


def _people(rule: Rule) -> Node | None:
    if not rule.people:
        return None
    persons = [_person(rule, f"people[{i}]", p) for i, p in enumerate(rule.people)]
    return persons[0] if len(persons) == 1 else Or(persons)


def _person(rule: Rule, key: str, person: PersonSpec) -> Person:
    """The name forms of a person (README): full name, family name first,
    initial of the given name + family name, and each alias."""
    given_raw, _, family_raw = person.name.strip().partition(" ")
    given, family = _name_words(given_raw, rule.fuzzy), _name_words(family_raw, rule.fuzzy)
    if not given:
        raise RuleError(rule.where, f"{key}.name", "a person needs a name")
    if len(given + family) > MAX_PHRASE or any(len(w.text) > MAX_WORD for w in given + family):
        raise RuleError(rule.where, f"{key}.name",
                        f"a name has at most {MAX_PHRASE} words of at most {MAX_WORD} letters")
    forms = [Pattern(person.name, given + family)]
    if family:
        family_text = family_raw.strip()
        forms.append(Pattern(f"{family_text}, {given_raw}", family + given))
        initial = Word(given[0].text[0])
        forms.append(Pattern(f"{given_raw[0]}. {family_text}", [initial, *family]))
    for i, alias in enumerate(person.aliases):
        forms.append(_entry(rule, f"{key}.aliases[{i}]", alias))
    return Person(person.name, forms)


def _name_words(raw: str, fuzzy: int | None) -> list[Word]:
    return [Word(text, False, fuzzy if len(text) >= FUZZY_MIN_LETTERS else None)
            for text in tokens(fold(raw))]


def _settings_errors(rule: Rule) -> list[RuleError]:
    errors = []
    for field in rule.fields:
        if field not in FIELDS:
            errors.append(RuleError(rule.where, "fields",
                                    f"unknown field {field!r} (known: {', '.join(FIELDS)})"))
    if not rule.fields:
        errors.append(RuleError(rule.where, "fields", "a rule must look at some field"))
    if rule.fuzzy is not None and not 0 <= rule.fuzzy <= 100:
        errors.append(RuleError(rule.where, "fuzzy", "fuzzy must be between 0 and 100"))
    if not 0 <= rule.min_score <= 100:
        errors.append(RuleError(rule.where, "min_score", "min_score must be between 0 and 100"))
    return errors
