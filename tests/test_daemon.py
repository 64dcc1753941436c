"""The daemon as a real subprocess: READY=1 on the notify socket, reload on
SIGHUP and on file change, a bad config rejected while the old one runs,
SIGTERM exits 0 in time with nothing lost."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from monitor.cli import main
from tests import configs
from tests.daemon_proc import DaemonProcess
from tests.loopback import LoopbackServer
from tests.servers import rss
from tests.waiting import wait_for


def write_config(tmp: Path, feed: LoopbackServer, hook: LoopbackServer) -> Path:
    """monitor.toml and an empty rules.d/ in `tmp`: feed /f, channel `hook`."""
    (tmp / "rules.d").mkdir()
    return configs.write(
        tmp, include=["rules.d/*.toml"],
        monitor={"database": tmp / "state.sqlite3", "default_channels": ["hook"], "jitter": 0.0},
        channels={"hook": hook.webhook("/h")},
        feeds=[{"name": "news", "url": feed.url("/f"), "interval": "1s"}],
        rules=[configs.AMPERE])


def titles(hook: LoopbackServer) -> list[str]:
    return [p["title"] for p in hook.posts()]



def test_lifecycle_ready_reload_and_stop(tmp_path: Path,
                                         feed: LoopbackServer, receiver: LoopbackServer) -> None:
    hook = receiver
    items = [("x0", "Rien à voir")]
    feed.route("/f", body=rss(items))
    config = write_config(tmp_path, feed, hook)
    daemon = DaemonProcess(config, tmp_path)
    try:
        assert "READY=1" in daemon.wait_notify("READY=1")
        daemon.wait_log("new items feed=news new=1")

        def publish(guid: str, title: str) -> None:
            items.insert(0, (guid, title))
            feed.route("/f", body=rss(items))

        publish("a1", "Ampere : premier article")
        wait_for(lambda: "[newsmonitor] ampere: Ampere : premier article" in titles(hook))

        # A new rule file plus SIGHUP: the new rule fires on the next poll.
        configs.write(tmp_path / "rules.d" / "provost.toml",
                      rules=[{"name": "provost", "people": ["François Provost"]}])
        daemon.signal(signal.SIGHUP)
        daemon.wait_log("reloaded reason=")
        publish("p1", "François Provost présente son plan")
        wait_for(lambda: "[newsmonitor] provost: François Provost présente son plan"
                 in titles(hook))

        # An invalid config plus SIGHUP: rejected with the error logged, old rules fire.
        reloads = daemon.log.count("reloaded reason=")
        configs.write(tmp_path / "rules.d" / "broken.toml",
                      rules=[{"name": "broken", "query": "(Ampere AND"}])
        daemon.signal(signal.SIGHUP)
        daemon.wait_log("reload rejected")
        assert 'rules[0] (name="broken").query' in daemon.log
        publish("p2", "F. Provost et l'Ampère")
        # Two rules on one item: one message, the best rule named, the other counted.
        wait_for(lambda: "[newsmonitor] ampere +1: F. Provost et l'Ampère" in titles(hook))
        assert daemon.log.count("reloaded reason=") == reloads

        # Editing a file without a signal reloads too.
        configs.write(tmp_path / "rules.d" / "broken.toml",
                      rules=[{"name": "drones", "any": ["drone*"]}])
        daemon.wait_log("reloaded reason=file changed")
        publish("d1", "Des drones à Cléon")
        wait_for(lambda: "[newsmonitor] drones: Des drones à Cléon" in titles(hook))

        # A feed added by a reload is polled, with the others' state kept.
        feed.route("/g", body=rss([("g1", "Ampere, deuxième source")]))
        configs.write(tmp_path / "rules.d" / "more-feeds.toml",
                      feeds=[{"name": "second", "url": feed.url("/g"), "interval": "1s",
                              "alert_existing": True}])
        wait_for(lambda: "[newsmonitor] ampere: Ampere, deuxième source" in titles(hook))

        code, took = daemon.stop()
        assert code == 0 and took < 10, daemon.log
        assert "STOPPING=1" in "".join(daemon.notifications) or code == 0
        assert "Traceback" not in daemon.log
    finally:
        daemon.close()
    # Nothing sent twice, nothing left behind.
    sent = titles(hook)
    assert len(sent) == len(set(sent)) == 5


def test_sigterm_during_an_outage_loses_nothing(
        tmp_path: Path, feed: LoopbackServer, receiver: LoopbackServer,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The webhook answers 500: alerts stay pending across a SIGTERM and are
    delivered once, in order, by the next run after recovery."""
    hook = receiver
    items = [("x0", "Rien")]
    feed.route("/f", body=rss(items))
    config = write_config(tmp_path, feed, hook)
    hook.statuses = [500] * 1000
    daemon = DaemonProcess(config, tmp_path)
    try:
        daemon.wait_notify("READY=1")
        daemon.wait_log("new items feed=news new=1")
        for i in range(3):
            items.insert(0, (f"a{i}", f"Ampere numéro {i}"))
        feed.route("/f", body=rss(items))
        daemon.wait_log("delivery failed channel=hook")
        code, _ = daemon.stop()
        assert code == 0
    finally:
        daemon.close()
    assert titles(hook) == []
    failed_attempts = hook.attempts()
    main(["status", "--json", "--config", str(config)])
    status = json.loads(capsys.readouterr().out)
    assert status["outbox"]["hook"]["pending"] == 3

    hook.statuses = []
    hook.hits.clear()
    # `run --once` retries every pending alert, backoff or not.
    assert main(["run", "--once", "--config", str(config)]) == 0
    assert titles(hook) == [f"[newsmonitor] ampere: Ampere numéro {i}" for i in (0, 1, 2)]
    assert failed_attempts >= 1
    assert main(["run", "--once", "--config", str(config)]) == 0
    assert len(titles(hook)) == 3
