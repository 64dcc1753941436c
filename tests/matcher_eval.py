"""Helpers for the matcher tests: where ../shared/eval is, how its rules
and items become models, and how a run is scored (../shared/eval/README.md).

Until monitor.config.load_rules_file lands, `load_rules` builds Rule objects
from rules.toml itself (TOML `not` → Rule.not_, people tables → Person).
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from monitor.matcher import Matcher
from monitor.models import Item, Person, Rule


def shared_dir() -> Path:
    """../shared beside the repository, or $NEWSMONITOR_SHARED."""
    beside = Path(__file__).resolve().parents[1].parent / "shared"
    if beside.is_dir():
        return beside
    return Path(os.environ.get("NEWSMONITOR_SHARED", str(beside)))


EVAL_DIR = shared_dir() / "eval"


def load_rules(path: Path) -> tuple[Rule, ...]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return tuple(_rule(table, str(path), i) for i, table in enumerate(data["rules"]))


def _rule(table: dict[str, object], source: str, index: int) -> Rule:
    values = dict(table)
    if "not" in values:
        values["not_"] = values.pop("not")
    people = values.pop("people", [])
    assert isinstance(people, list)
    persons = tuple(Person(p["name"], tuple(p.get("aliases", ()))) for p in people)
    lists = {k: tuple(v) for k, v in values.items() if isinstance(v, list)}
    return Rule(**{**values, **lists}, people=persons, source=source, index=index)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Labelled:
    item: Item
    expect: frozenset[str]
    why: str


def load_items(path: Path) -> list[Labelled]:
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            item = Item(feed=row["feed"], id=row["id"], title=row["title"],
                        summary=row.get("summary", ""), link=row.get("link", ""))
            found.append(Labelled(item, frozenset(row["expect"]), row.get("why", "")))
    return found


@dataclass
class Score:
    true_pos: int = 0
    false_pos: list[str] = field(default_factory=list)
    false_neg: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        fired = self.true_pos + len(self.false_pos)
        return self.true_pos / fired if fired else 1.0

    @property
    def recall(self) -> float:
        expected = self.true_pos + len(self.false_neg)
        return self.true_pos / expected if expected else 1.0


def evaluate(matcher: Matcher, items: list[Labelled]) -> Score:
    score = Score()
    for labelled in items:
        fired = {m.rule for m in matcher.match(labelled.item)}
        score.true_pos += len(fired & labelled.expect)
        score.false_pos += [f"{labelled.item.id} {r}: {labelled.why}"
                            for r in sorted(fired - labelled.expect)]
        score.false_neg += [f"{labelled.item.id} {r}: {labelled.why}"
                            for r in sorted(labelled.expect - fired)]
    return score
