"""`test-rules --items` and `rules explain --item|--json`: the item format is
checked (an unknown key is an error with file:line), every bad input file is
one located line and exit 1, the config's rules serve without --rules
(issues 11 and 14)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.cli.items import ITEM_FORMAT, KEYS
from tests.conftest import REPO

CONFIG = str(REPO / "config" / "monitor.toml")
AMPERE = {"id": "a1", "title": "Renault va liquider sa filiale l’Ampère"}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--config", CONFIG])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_test_rules_uses_the_config_rules_without_rules_option(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps(AMPERE, ensure_ascii=False) + "\n", encoding="utf-8")
    code, out, _ = run(capsys, "test-rules", "--items", str(items))
    assert code == 0 and out.startswith("a1\tampere (")


def test_every_key_of_the_format_is_documented() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for key in KEYS:
        assert key in ITEM_FORMAT and f"`{key}`" in readme, key


ITEMS = [
    ('{"titl": "Ampère"}', "{path}:1: unknown key 'titl'"),
    ('{"title": "a"}\n\n[1, 2]', "{path}:3: an item is a JSON object {{...}}, not list"),
    ('{"title": "a"}\n{"title": 3}', "{path}:2: title: a string, not int"),
    ('{"summary": ""}', "{path}:1: an item needs a title or a summary"),
    ('{"title": "a", "tags": "auto"}', "{path}:1: tags: a list of strings"),
    ('{"title": "a", "published": "yesterday"}', "{path}:1: published: an ISO 8601 date"),
    ('{"title": "\\ud800"}', "{path}:1: title: a lone surrogate"),
    ('{"title": "a", "tags": ["b\\uDFFF"]}', "{path}:1: tags: a lone surrogate"),
    ('{"title": "a"}\n{"id": "\\ud83d", "title": "a"}', "{path}:2: id: a lone surrogate"),
    ('{"title": "a"}\n{"title": "a",}', "{path}:2: not a JSON item: "),
    ("[" * 100_000, "{path}:1: not a JSON item: "),
]


@pytest.mark.parametrize(("text", "error"), ITEMS, ids=[e for _, e in ITEMS])
def test_a_bad_items_file_is_one_located_line(tmp_path: Path, text: str, error: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    items = tmp_path / "items.jsonl"
    items.write_text(text, encoding="utf-8")
    code, _, err = run(capsys, "test-rules", "--items", str(items))
    assert code == 1 and err.startswith("error: " + error.format(path=items)), err
    assert err.count("\n") == 1


def test_items_not_in_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    items = tmp_path / "items.jsonl"
    items.write_bytes('{"title": "a"}\n{"title": "Ampère"}\n'.encode("latin-1"))
    code, _, err = run(capsys, "test-rules", "--items", str(items))
    assert (code, err) == (1, f"error: {items}:2: not UTF-8 text (column 15)\n")


def test_a_missing_items_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "test-rules", "--items", str(tmp_path / "none.jsonl"))
    assert (code, err) == (1, f"error: {tmp_path / 'none.jsonl'}: cannot read: "
                              "No such file or directory\n")


@pytest.mark.parametrize("command", ["test-rules", "test-stories"])
def test_an_items_path_no_system_can_open(command: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    # A lone surrogate cannot be encoded for the system call (the fuzzer's find).
    code, _, err = run(capsys, command, "--items", "\ud800")
    assert (code, err) == (1, "error: '\\ud800': not a file name this system can open\n")


def test_items_with_feed_tags_expect_and_notes(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """Every key of the format is taken; `expect` brings the scores."""
    record = {**AMPERE, "feed": "Les Echos", "tags": ["auto"], "link": "https://e.org/1",
              "author": "AFP", "published": "2026-11-26T07:35:00+01:00", "lang": "fr",
              "why": "elision", "expect": ["ampere"]}
    items = tmp_path / "items.jsonl"
    items.write_text("\ufeff" + json.dumps(record) + "\n", encoding="utf-8")
    code, out, _ = run(capsys, "test-rules", "--items", str(items))
    assert code == 0 and "OVERALL" in out and out.startswith("a1\tampere (")


@pytest.mark.parametrize(("content", "error"), [
    (None, "{path}: cannot read: No such file or directory"),
    ('{"title": "Ampère",\n "summary": x}', "{path}:2: not a JSON item: Expecting value"),
    ('[{"title": "Ampère"}]', "{path}: an item is a JSON object {{...}}, not list"),
    ('{"title": "Ampère"}\n\xff', "{path}:2: not UTF-8 text"),
    ('{"title": "Ampère", "text": "x"}', "{path}: unknown key 'text'"),
])
def test_explain_a_bad_item_file_is_one_located_line(
        tmp_path: Path, content: str | None, error: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    item = tmp_path / "item.json"
    if content is not None:
        item.write_bytes(content.encode("utf-8").replace(b"\xc3\xbf", b"\xff"))
    code, _, err = run(capsys, "rules", "explain", "ampere", "--item", str(item))
    assert code == 1 and err.startswith("error: " + error.format(path=item)), err
    assert err.count("\n") == 1


def test_explain_an_item_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    item = tmp_path / "item.json"
    item.write_text(json.dumps(AMPERE, indent=2), encoding="utf-8")
    code, out, _ = run(capsys, "rules", "explain", "ampere", "--item", str(item))
    assert code == 0 and "verdict: fires" in out


def test_explain_an_item_with_content_and_categories(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 13: an item file gives `content` and `categories`; the default
    fields read the content, and the explanation names it."""
    item = tmp_path / "item.json"
    item.write_text(json.dumps({"title": "Salon de l'auto", "categories": ["Automobile"],
                                "content": "<p>Plus loin, Renault liquide sa filiale Ampère.</p>"}),
                    encoding="utf-8")
    code, out, _ = run(capsys, "rules", "explain", "ampere", "--item", str(item))
    assert code == 0 and "verdict: fires" in out
    assert "Ampere: content 'Ampère' (exact)" in out


def test_explain_text_and_item_together_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "rules", "explain", "ampere", "--text", "x",
                       "--item", str(tmp_path / "item.json"))
    assert code == 1 and "not both" in err


def test_explain_json(capsys: pytest.CaptureFixture[str]) -> None:
    """`rules explain --json` printed text."""
    code, out, _ = run(capsys, "rules", "explain", "ampere", "--json",
                       "--text", AMPERE["title"])
    report = json.loads(out)
    assert code == 0 and report["rule"] == "ampere" and report["fires"] is True
    assert report["match"]["hits"][0]["matched"] == "Ampère"
    assert report["explanation"][-1].startswith("verdict: fires")
    code, out, _ = run(capsys, "rules", "explain", "ampere", "--json", "--text", "Ampère")
    report = json.loads(out)
    assert (report["fires"], report["match"]) == (False, None)


@pytest.mark.parametrize(("argv", "error"), [
    (["rules", "list", "ampere"], "rules list: takes no RULE 'ampere'"),
    (["rules", "list", "--text", "x"], "rules list: takes no --text 'x'"),
    (["rules", "explain", "--text", "x"], "rules explain: name a rule; known: ampere, "),
    (["rules", "explain", "ampere", "--summary", "x", "--item", "i.json"], "not both"),
])
def test_rules_arguments_are_used_or_refused(argv: list[str], error: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """`rules list ampere` listed every rule, ignoring the name."""
    code, _, err = run(capsys, *argv)
    assert code == 1 and error in err, err
