"""The shipped default config: valid, and useful offline on a fresh machine."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO
from tests.daemon_proc import DaemonProcess

CONFIG = REPO / "config" / "monitor.toml"


def test_default_config_checks_clean(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "monitor", "check", "--config", str(CONFIG)],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "ok: " in done.stdout


def test_daemon_on_default_config_prints_the_sample_alert_and_keeps_running(
        tmp_path: Path) -> None:
    """Offline (CI has no route to the real feeds): the bundled sample's items
    reach the console channel as one digest (a new feed's backlog), each
    unreachable feed logs one line, and the daemon is still running until
    SIGTERM, then exits 0."""
    daemon = DaemonProcess(CONFIG, tmp_path, {"XDG_STATE_HOME": str(tmp_path)})
    try:
        deadline = time.monotonic() + 60
        # The sample's Ampere item fires ampere, liquidation and renault-ceo,
        # its de Meo item renault-ceo: one digest of the two items, by rule.
        needle = "[newsmonitor] 2 items already in a newly added feed"
        while needle not in daemon.out and time.monotonic() < deadline:
            assert daemon.proc.poll() is None, daemon.log
            time.sleep(0.1)
        assert needle in daemon.out, f"stdout:\n{daemon.out}\nlog:\n{daemon.log}"
        assert daemon.out.count(needle) == 1
        assert "Renault va liquider sa filiale Ampere" in daemon.out
        assert "(newsmonitor sample · " in daemon.out
        for rule in ["ampere (1)", "liquidation (1)", "renault-ceo (2)"]:
            assert daemon.out.count(f"\n{rule}\n") == 1, daemon.out
        time.sleep(1)
        assert daemon.proc.poll() is None, "the daemon stopped"
        code, _ = daemon.stop(timeout=20)
    finally:
        daemon.close()
    assert code == 0, daemon.log
    assert "started config=" in daemon.log and "stopped" in daemon.log
    assert "Traceback" not in daemon.log
