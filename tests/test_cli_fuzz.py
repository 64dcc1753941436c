"""Fuzzing (issue 14): every subcommand on arbitrary arguments, and the JSON
item readers on arbitrary bytes, end in a result or a clean error, never a
traceback, a hang or a crash. In process, on a small real workspace (a
config with a bundled feed, the console channel, a SQLite file, item and
OPML files); about 4,500 cases in all, some 15 s of CPU.

Clean means: argparse's SystemExit (2, wrong usage; 0 after --help) or an
exit code of main, with every `error:` on one line. Arbitrary text never
holds NUL, which no argv can; lone surrogates come only as argv's
undecodable bytes do (U+DC80-U+DCFF, os.fsdecode's surrogateescape).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.cli import _parser, main
from monitor.cli.items import KEYS, ItemRecord, parse_item, parse_items
from monitor.errors import ConfigError
from tests import configs
from tests.waiting import at_most

CONFIG = configs.text(
    monitor={"database": "state.sqlite3", "default_channels": ["console"]},
    channels={"console": "console://"},
    feeds=[{"name": "sample", "url": "builtin:sample.xml", "tags": ["auto"]}],
    rules=[{"name": "ampere", "query": "Ampere AND (Renault OR liquid*)"}])
FILES = {
    "monitor.toml": CONFIG,
    "items.jsonl": '{"id": "a", "title": "Renault liquide Ampère", "expect": ["ampere"]}\n',
    "item.json": '{"title": "Ampère", "tags": ["auto"]}',
    # Nothing an import would add: the run --once of a later case stays offline.
    "feeds.opml": '<opml version="2.0"><body><outline text="sample" '
                  'xmlUrl="builtin:sample.xml"/><outline text="x"/></body></opml>',
    "broken.toml": "[monitor\n",
    "inline.toml": 'feeds = [{name = "a", url = "builtin:sample.xml"}]\n',
}


def subcommands() -> dict[str, argparse.ArgumentParser]:
    action = _parser()._subparsers._group_actions[0]  # type: ignore[union-attr]
    assert isinstance(action, argparse._SubParsersAction)
    return dict(action.choices)


COMMANDS = sorted(subcommands())
# Cases per command (300): `check` and `run --once` build the whole runtime (~0.1 s).
EXAMPLES = {"check": 60, "run": 60}


NAMES = ["ampere", "feed-health", "sample", "console", *FILES]  # of the workspace
WORDS = [*NAMES, "explain", "list", "--", "-", "json", "text", "0", "5", "-1"]
TEXT = st.text(st.characters(blacklist_characters="\x00")
               | st.sampled_from([chr(c) for c in range(0xDC80, 0xDD00)]), max_size=12)
VALUE = st.sampled_from(WORDS) | TEXT


def arguments(command: str) -> st.SearchStrategy[list[str]]:
    """Mostly well-formed: each option of the command at most once, with a
    value from the workspace's names or arbitrary text; else any tokens."""
    parts: list[st.SearchStrategy[list[str]]] = []
    for action in subcommands()[command]._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if not action.option_strings:  # a positional: mostly the number it takes
            values = (st.sampled_from(sorted(action.choices)) if action.choices
                      else st.sampled_from(NAMES) | st.sampled_from(NAMES) | TEXT)
            least, most = {"?": (0, 1), "*": (0, 3)}.get(str(action.nargs), (1, 1))
            parts.append(st.lists(values, min_size=least, max_size=most))
        elif action.nargs == 0:  # a flag
            parts.append(st.lists(st.sampled_from(action.option_strings), max_size=1))
        else:
            values = (st.sampled_from(sorted(action.choices or FILES)) | VALUE
                      if action.type or action.choices else VALUE)
            given_ = st.tuples(st.sampled_from(action.option_strings), values).map(list)
            parts.append(st.just([]) | given_)
    formed = st.tuples(*parts).map(lambda lists: [token for part in lists for token in part])
    options = [o for action in subcommands()[command]._actions for o in action.option_strings]
    return formed | st.lists(st.sampled_from([*options, *WORDS]) | TEXT, max_size=6)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")




def run_cli(argv: list[str]) -> tuple[int | str | None, str]:
    """main(argv) with a strict UTF-8 stdout, as a terminal's; (code, stderr)."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="backslashreplace")
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), at_most(30):
        try:
            code: int | str | None = main(argv)
        except SystemExit as exc:
            code = exc.code
    err.seek(0)
    return code, err.read()


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_on_arbitrary_arguments(workspace: Path, command: str) -> None:
    tail = ["--once"] if command == "run" else []  # without it, the daemon runs on

    @settings(max_examples=EXAMPLES.get(command, 300), deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(arguments(command))
    def case(args: list[str]) -> None:
        for name, text in FILES.items():
            (workspace / name).write_text(text, encoding="utf-8")
        with contextlib.chdir(workspace):
            code, err = run_cli(["--config", "monitor.toml", command, *args, *tail])
        assert code in (0, 1, 2), err
        assert "Traceback" not in err, err
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert code == 0 or errors or "usage:" in err, err

    case()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8)
RECORDS = st.dictionaries(st.sampled_from(sorted(KEYS)) | TEXT, JSON | TEXT, max_size=5)
LINES = (RECORDS.map(json.dumps) | JSON.map(json.dumps) | TEXT
         | RECORDS.map(lambda r: json.dumps(r, ensure_ascii=False)))
FILE_BYTES = (st.lists(LINES, max_size=5).map(
    lambda lines: "\n".join(lines).encode("utf-8", "surrogatepass")) | st.binary(max_size=200))


def clean(error: ConfigError, source: str) -> bool:
    return all(p.startswith(f"{source}") and "\n" not in p for p in error.problems)


@settings(max_examples=1000, deadline=None)
@given(FILE_BYTES)
def test_the_jsonl_reader_on_arbitrary_bytes(data: bytes) -> None:
    try:
        records = parse_items(data, "items.jsonl")
    except ConfigError as exc:
        assert clean(exc, "items.jsonl:"), exc.problems
    else:
        assert all(isinstance(r, ItemRecord) and r.item.title.encode() for r in records
                   if r.item.title)


@settings(max_examples=500, deadline=None)
@given(FILE_BYTES)
def test_the_json_item_reader_on_arbitrary_bytes(data: bytes) -> None:
    try:
        record = parse_item(data, "item.json")
    except ConfigError as exc:
        assert clean(exc, "item.json"), exc.problems
    else:
        assert isinstance(record.item.title, str) and isinstance(record.tags, tuple)


def test_what_a_terminal_cannot_show_is_escaped(tmp_path: Path) -> None:
    """An undecodable byte of argv (a surrogate) printed to a UTF-8 stdout."""
    code, err = run_cli(["check", "--config", str(tmp_path / "\udcff.toml")])
    assert code == 1 and "file not found" in err and "Traceback" not in err
