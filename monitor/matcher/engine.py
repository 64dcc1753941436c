"""The Matcher: compiled rules + index, item → matches.

`compile_rules` compiles every rule once (RuleError on the first bad one);
`Matcher.match` splits the item's fields at whitespace, asks the index for
candidate rules (none for most items: done), folds the item into words,
tests only the candidates, and scores the ones that fire. Pure apart from
bounded memos that never change an answer: the words of each chunk
(document.Tokenizer), the rules each chunk hits and the fuzzy comparisons
(index.py).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from types import MappingProxyType

from monitor.errors import RuleError
from monitor.matcher.compile import CompiledRule, compile_rule, rule_errors
from monitor.matcher.document import FIELDS, Document, Tokenizer, plain_fields
from monitor.matcher.explain import explain_rule
from monitor.matcher.index import MEMO_LIMIT, Index
from monitor.matcher.score import score_match
from monitor.models import Item, Match, Rule


def compile_rules(rules: Sequence[Rule], memo_limit: int = MEMO_LIMIT) -> Matcher:
    """A Matcher for `rules`; raises RuleError on the first bad rule.
    `memo_limit`: see Matcher."""
    compiled: list[CompiledRule] = []
    seen: set[str] = set()
    for rule in rules:
        if rule.name in seen:
            raise RuleError(rule.where, "name", f"duplicate rule name {rule.name!r}")
        seen.add(rule.name)
        compiled.append(compile_rule(rule))
    return Matcher(compiled, memo_limit)


def check_rules(rules: Sequence[Rule]) -> list[RuleError]:
    """Every problem of every rule, in order (for `newsmonitor check`)."""
    errors: list[RuleError] = []
    seen: set[str] = set()
    for rule in rules:
        if rule.name in seen:
            errors.append(RuleError(rule.where, "name", f"duplicate rule name {rule.name!r}"))
        seen.add(rule.name)
        errors.extend(rule_errors(rule))
    return errors


class Matcher:
    """Matches items against compiled rules; build it with compile_rules."""

    def __init__(self, compiled: Sequence[CompiledRule], memo_limit: int = MEMO_LIMIT) -> None:
        """`memo_limit` bounds each memo (entries); answers never depend on it."""
        self._compiled = tuple(compiled)
        self._by_name = {c.rule.name: c for c in self._compiled}
        # Built once: the pipeline looks up the rule of every match here.
        self._rules = MappingProxyType({name: c.rule for name, c in self._by_name.items()})
        self._tokenizer = Tokenizer(memo_limit)
        self._index = Index(self._compiled, self._tokenizer, memo_limit)
        # The fields some rule reads: the only ones read of an item (a 100 kB
        # content costs nothing where no rule looks at it).
        self._fields = tuple(name for name in FIELDS
                             if any(name in c.rule.fields for c in self._compiled))

    @property
    def rules(self) -> Mapping[str, Rule]:
        """The rules by name, in the order given (read-only)."""
        return self._rules

    def match(self, item: Item, feed_tags: Collection[str] = ()) -> list[Match]:
        """The rules that fire on `item` with score >= their min_score, in
        rule order. `feed_tags` are the tags of the item's feed."""
        fields = plain_fields(item, self._fields)
        numbers = self._index.candidates(fields)
        if not numbers:
            return []
        doc = Document(item, self._tokenizer, fields)
        self._index.near(doc, numbers)
        found = []
        for number in sorted(numbers):
            compiled = self._compiled[number]
            if not _applies(compiled.rule, item.feed, feed_tags):
                continue
            read = doc.filled(compiled.rule.fields)  # those with words
            if compiled.node.test(doc, read):
                match = score_match(compiled, doc, read)
                if match.score >= compiled.rule.min_score:
                    found.append(match)
        return found

    def explain(self, rule_name: str, item: Item, feed_tags: Collection[str] = ()) -> str:
        """Why `rule_name` fires on `item` or not, as multi-line text.
        Raises KeyError for an unknown rule name."""
        compiled = self._by_name[rule_name]
        doc = Document(item, self._tokenizer)
        self._index.near(doc)
        return explain_rule(compiled, doc, _applies(compiled.rule, item.feed, feed_tags))


def _applies(rule: Rule, feed: str, feed_tags: Collection[str]) -> bool:
    """`feeds` and `tags` limits: the item's feed is listed / carries a tag."""
    if rule.feeds and feed not in rule.feeds:
        return False
    return not rule.tags or any(tag in feed_tags for tag in rule.tags)
