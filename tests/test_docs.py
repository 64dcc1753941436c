"""The README documents every config option, every command and both quick-start
commands; an option added without its documentation fails here."""

from __future__ import annotations

import re

import pytest

from monitor.cli import _parser
from monitor.config import ChannelModel, FeedModel, MonitorModel, RuleModel
from monitor.config.docs import BEGIN, END, option_tables
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
SECTIONS = {"[monitor]": MonitorModel, "[channels.NAME]": ChannelModel,
            "[[feeds]]": FeedModel, "[[rules]]": RuleModel}


def section(title: str) -> str:
    start = README.index(f"#### `{title}`")
    end = README.find("####", start + 5)
    return README[start:end if end > 0 else None]


@pytest.mark.parametrize("title", SECTIONS)
def test_every_option_is_in_the_reference(title: str) -> None:
    table = section(title)
    for name, field in SECTIONS[title].model_fields.items():
        key = field.alias or name
        assert re.search(rf"^\| `{re.escape(key)}` \|", table, re.M), f"{title} {key}"


def test_the_option_tables_are_generated_from_the_schema() -> None:
    """The help text is written once, in the schema: regenerate the tables
    with `python -m monitor.config.docs` after changing an option."""
    generated = README.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert generated == option_tables()


def test_every_command_is_documented() -> None:
    commands = _parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name in commands:
        assert f"`newsmonitor {name}" in README, name


def test_quick_start_is_two_commands_and_ci_runs_the_test_one() -> None:
    block = README.split("## Quick start", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make run", "make test"]
    assert "make test" in (REPO / ".ci" / "run").read_text(encoding="utf-8")
