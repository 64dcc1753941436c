"""Helpers for the matcher eval test: how ../shared/eval/dev.jsonl items
become models, and how a run is scored (../shared/eval/README.md: an
item/rule pair is a true positive when the rule fired and is expected, a
false positive when it fired and is not, a false negative when expected and
silent). Rules come from monitor.config.load_rules_file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from monitor.matcher import Matcher
from monitor.models import Item


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
