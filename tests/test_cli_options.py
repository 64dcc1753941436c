"""Global options before or after the command, and a reader that goes away
(`newsmonitor check | head -1`) ends the command quietly (issue 11)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.cli import main
from tests import configs
from tests.conftest import REPO

SAMPLE = {"monitor": {"database": "state.sqlite3", "default_channels": ["console"]},
          "channels": {"console": "console://"},
          "rules": [{"name": "ampere", "query": "Ampere"}]}
SAMPLE_FEED = {"name": "sample", "url": "builtin:sample.xml"}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return configs.write(tmp_path / "my.toml", **SAMPLE, feeds=[SAMPLE_FEED])


def around(command: list[str], option: list[str], before: bool) -> list[str]:
    return [*option, *command] if before else [*command, *option]


@pytest.mark.parametrize("before", [True, False], ids=["before", "after"])
def test_config_before_or_after_the_command(tmp_path: Path, before: bool,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """`newsmonitor --config my.toml check` checked ./config/monitor.toml."""
    bad = tmp_path / "bad.toml"
    configs.write(bad, monitor={"no_such_key": 1})
    assert main(around(["check"], ["--config", str(bad)], before)) == 1
    captured = capsys.readouterr()
    assert f"config: {bad}" in captured.out and str(bad) in captured.err


@pytest.mark.parametrize("before", [True, False], ids=["before", "after"])
def test_log_format_before_or_after_the_command(config: Path, before: bool,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """`newsmonitor --log-format json run` logged text."""
    assert main(around(["run", "--once"], ["--log-format", "json", "--config", str(config)],
                       before)) == 0
    lines = capsys.readouterr().err.splitlines()
    assert lines and all(json.loads(line)["level"] for line in lines)


@pytest.mark.parametrize("before", [True, False], ids=["before", "after"])
def test_verbose_before_or_after_the_command(config: Path, before: bool) -> None:
    assert main(around(["rules", "list"], ["-v", "--config", str(config)], before)) == 0
    assert logging.getLogger().level == logging.DEBUG
    assert main(["rules", "list", "--config", str(config)]) == 0
    assert logging.getLogger().level == logging.INFO


def test_the_option_after_the_command_wins(config: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(tmp_path / "absent.toml"), "check",
                 "--config", str(config)]) == 0
    assert f"config: {config}" in capsys.readouterr().out


def test_an_empty_config_path_is_refused_not_ignored(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--config", "", "check"])
    assert exit_info.value.code == 2
    assert "--config: an empty path" in capsys.readouterr().err


def newsmonitor(args: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "monitor", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.parametrize("args", [
    ["check"], ["rules", "list"], ["export-opml"], ["status"], ["history"], ["--help"],
    ["test-rules", "--items", "items.jsonl"],
], ids=lambda args: " ".join(args))
def test_a_reader_gone_away_ends_the_command_quietly(config: Path, args: list[str]) -> None:
    """`newsmonitor check | head -1` ended in a BrokenPipeError traceback.
    The pipe is closed before the command has written anything."""
    (config.parent / "items.jsonl").write_text('{"title": "Ampère"}\n' * 10, encoding="utf-8")
    argv = [*args, "--config", str(config)] if args != ["--help"] else args
    with newsmonitor(argv, config.parent) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        err = proc.stderr.read()
        # 128 + SIGPIPE, as for a C program; argparse prints --help itself and
        # ignores the error (ArgumentParser._print_message): 0.
        assert proc.wait(timeout=60) == (0 if args == ["--help"] else 141), err
    assert err == b""


def test_head_reads_one_line_of_a_long_output(tmp_path: Path) -> None:
    """A real `| head -1` over more than a pipe's buffer of output."""
    feeds = [{"name": f"feed {n}", "url": f"https://example.org/{n}.xml"} for n in range(3000)]
    config = configs.write(tmp_path / "big.toml", **SAMPLE, feeds=[SAMPLE_FEED, *feeds])
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        f"{sys.executable} -m monitor export-opml --config {config} | head -1",
        shell=True, cwd=tmp_path, env=env, capture_output=True, timeout=60, check=False)
    assert done.stdout == b'<?xml version="1.0" encoding="UTF-8"?>\n'
    assert done.stderr == b""
