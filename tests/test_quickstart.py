"""The README's quick start: `make run` installs only what running needs,
`make test` the test tools too (issue 11: a cold `make run` spent 30 s
installing pytest, mypy and ruff before the daemon could start)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def planned(target: str, tmp: Path) -> list[str]:
    """The commands `make TARGET` would run from scratch (a dry run)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    # Not the settings of a make we run under (CI runs the tests from `make test`).
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    done = subprocess.run(["make", "--no-print-directory", "-n", "-B", target,
                           f"VENV={tmp / 'venv'}"], cwd=REPO, env=env,
                          capture_output=True, text=True, check=True)
    return done.stdout.splitlines()


def test_make_run_installs_the_daemon_without_the_test_tools(tmp_path: Path) -> None:
    installs = [line for line in planned("run", tmp_path) if "pip install" in line]
    assert installs[-1].endswith("pip install --quiet -e .")
    assert not any("[test]" in line for line in installs)
    assert planned("run", tmp_path)[-1].endswith("newsmonitor run --config config/monitor.toml")


def test_make_test_installs_the_test_extra(tmp_path: Path) -> None:
    lines = planned("test", tmp_path)
    assert any("pip install" in line and "'.[test]'" in line for line in lines)
    assert lines[-1].endswith("python -m pytest")
