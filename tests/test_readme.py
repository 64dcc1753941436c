"""Every example in the README is true (issue 11: `fuzzy = 90  # tolerate
"Provots"` did not fire, the ratio being 85.7). The rules are read from the
README itself, so an edit there that stops being true fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitor.config import load_rules_file
from monitor.matcher import compile_rules
from monitor.matcher.engine import Matcher
from monitor.models import Item
from tests import configs
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def toml_block(heading: str) -> str:
    """The first ```toml block after `heading`."""
    after = README.split(heading, 1)[1]
    return re.search(r"```toml\n(.*?)```", after, re.S)[1]  # type: ignore[index]


@pytest.fixture
def watch_rules(tmp_path: Path) -> Matcher:
    path = tmp_path / "rules.toml"
    path.write_text(toml_block("## Watch rules"), encoding="utf-8")
    return compile_rules(load_rules_file(path))


def fired(matcher: Matcher, title: str, summary: str = "") -> dict[str, int]:
    item = Item(feed="f", id="1", title=title, summary=summary)
    return {m.rule: m.score for m in matcher.match(item)}


@pytest.mark.parametrize(("title", "rules"), [
    ("Renault va liquider sa filiale Ampère", {"ampere"}),
    ("Ampere Computing lève des fonds auprès de Renault", set()),
    ("André-Marie Ampère et la filiale Renault du musée", set()),
    ("François Provots présente le plan de Renault", {"renault-ceo"}),  # "tolerate Provots"
    ("PROVOST François à Flins", {"renault-ceo"}),
    ("F. Provost à Cléon", {"renault-ceo"}),
    ("Le provost de l'université", set()),
    ("De Meo quitte Renault", {"renault-ceo"}),
])
def test_the_watch_rules_example_does_what_it_says(watch_rules: Matcher, title: str,
                                                   rules: set[str]) -> None:
    assert set(fired(watch_rules, title)) == rules


def test_the_scores_example_gives_its_numbers(tmp_path: Path) -> None:
    path = configs.write(tmp_path / "rules.toml", rules=[
        {"name": "x", "query": "Ampere AND liquid*", "people": [{"name": "François Provost"}],
         "fuzzy": 85},
        {"name": "one", "any": ["Ampere"]}])
    matcher = compile_rules(load_rules_file(path))
    assert fired(matcher, "François Provots liquide d'Ampère")["x"] == 95
    assert fired(matcher, "François Provots", "Ampère liquidée")["x"] == 85
    assert fired(matcher, "Rien", "Ampère")["one"] == 68
    for score in ("**95**", "**85**", "**68**"):
        assert score in README
