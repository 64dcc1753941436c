"""The shipped default config: valid, and useful offline on a fresh machine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO

CONFIG = REPO / "config" / "monitor.toml"


def test_default_config_checks_clean(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "monitor", "check", "--config", str(CONFIG)],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "ok: " in done.stdout


def test_daemon_on_default_config_prints_the_sample_alert_and_keeps_running(
        tmp_path: Path) -> None:
    """Offline (CI has no route to the real feeds): the bundled sample's Ampere
    alert reaches the console channel, each unreachable feed logs one line, and
    the daemon is still running until SIGTERM, then exits 0."""
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "run", "--config", str(CONFIG)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=tmp_path)
    try:
        out = _read_until(proc, "[newsmonitor] ampere: Renault va liquider sa filiale Ampere",
                          timeout=60)
        assert "Source: newsmonitor sample" in out
        time.sleep(1)
        assert proc.poll() is None, "the daemon stopped"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "started config=" in err and "stopped" in err
    assert "Traceback" not in err


def _read_until(proc: subprocess.Popen[str], needle: str, timeout: float) -> str:
    assert proc.stdout is not None
    os.set_blocking(proc.stdout.fileno(), False)
    seen, deadline = "", time.monotonic() + timeout
    while time.monotonic() < deadline:
        chunk = proc.stdout.read()
        seen += chunk or ""
        if needle in seen:
            return seen
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"{needle!r} not printed; stdout so far:\n{seen}")
