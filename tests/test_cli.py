"""The command line: test-rules on the eval set, rules explain/list, help and
exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.cli import _parser, main
from tests.conftest import REPO


def test_test_rules_json_on_the_eval_set(shared: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """`test-rules --json` over shared/eval, scored against the `expect` labels:
    precision and recall at least 0.98 overall (issue 3); misses are printed."""
    items = shared / "eval" / "dev.jsonl"
    assert main(["test-rules", "--rules", str(shared / "eval" / "rules.toml"),
                 "--items", str(items), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    expected = {rec["id"]: set(rec["expect"]) for rec in
                map(json.loads, items.read_text(encoding="utf-8").splitlines())}
    assert [line["id"] for line in lines] == list(expected)
    tp = fp = fn = 0
    misses = []
    for line in lines:
        fired = {m["rule"] for m in line["matches"]}
        want = expected[line["id"]]
        tp, fp, fn = tp + len(fired & want), fp + len(fired - want), fn + len(want - fired)
        misses += [f"FP {line['id']} {r}" for r in fired - want]
        misses += [f"FN {line['id']} {r}" for r in want - fired]
        for match in line["matches"]:
            assert 0 < match["score"] <= 100 and match["terms"]
    print("\n".join(misses) or "no false positive or negative")
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    print(f"precision {precision:.3f} recall {recall:.3f}")
    assert precision >= 0.98 and recall >= 0.98, misses


def test_rules_explain_shows_why(capsys: pytest.CaptureFixture[str]) -> None:
    config = str(REPO / "config" / "monitor.toml")
    assert main(["rules", "explain", "ampere", "--config", config,
                 "--text", "Renault va liquider sa filiale l’Ampère"]) == 0
    out = capsys.readouterr().out
    assert "Ampere: title 'Ampère' (exact)" in out and "verdict: fires" in out
    assert main(["rules", "explain", "ampere", "--config", config,
                 "--text", "Ampère Computing lève des fonds"]) == 0
    assert "verdict: does not fire" in capsys.readouterr().out
    assert main(["rules", "explain", "nope", "--config", config, "--text", "x"]) == 1
    assert "unknown rule 'nope'" in capsys.readouterr().err


def test_rules_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "list", "--json", "--config",
                 str(REPO / "config" / "monitor.toml")]) == 0
    rules = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["name"] for r in rules] == ["ampere", "liquidation", "renault-ceo"]
    # A rule without channels of its own sends to default_channels: listed so.
    assert all(r["channels"] == ["console"] for r in rules)
    assert main(["rules", "list", "--config", str(REPO / "config" / "monitor.toml")]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("ampere\thigh\tconsole\t")


def test_bad_items_file_names_the_line(tmp_path: Path, shared: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    items = tmp_path / "items.jsonl"
    items.write_text('{"id": "a", "title": "x"}\n{not json\n', encoding="utf-8")
    assert main(["test-rules", "--rules", str(shared / "eval" / "rules.toml"),
                 "--items", str(items)]) == 1
    assert f"{items}:2: not a JSON item" in capsys.readouterr().err


def test_every_subcommand_has_help_with_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    commands = _parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name in commands:
        with pytest.raises(SystemExit) as exit_info:
            main([name, "--help"])
        assert exit_info.value.code == 0
        assert "example:" in capsys.readouterr().out, name
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "exit codes:" in capsys.readouterr().out


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--no-such-option"])
    assert exit_info.value.code == 2
