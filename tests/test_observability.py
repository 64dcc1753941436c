"""/metrics and /healthz of a running daemon; the systemd unit; log formats."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitor.service import logs
from monitor.service.daemon import Daemon
from monitor.service.runtime import build_runtime
from tests import configs
from tests.conftest import REPO
from tests.loopback import LoopbackServer, loopback
from tests.servers import rss
from tests.waiting import until


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def test_metrics_count_what_happened_and_healthz_sees_a_blocked_loop(
        tmp_path: Path) -> None:
    with loopback() as hook:
        async with LoopbackServer() as feed:
            items = [("a1", "Ampere et Renault"), ("b1", "Rien"), ("c1", "Autre chose")]
            feed.route("/f", body=rss(items), etag='"v1"')
            config = configs.write(
                tmp_path,
                monitor={"database": tmp_path / "db.sqlite3", "http": "127.0.0.1:0",
                         "default_channels": ["hook"], "jitter": 0.0},
                channels={"hook": hook.webhook("/h")},
                feeds=[{"name": "news", "url": feed.url("/f"), "interval": "1s",
                        "alert_existing": True}],
                rules=[configs.AMPERE])
            daemon = Daemon(config, build_runtime(config))
            daemon.health_stale_after = 1.0
            task = asyncio.create_task(daemon.run())
            try:
                await until(lambda: len(hook.posts()) == 1 and feed.count("/f") >= 3)
                base = f"http://127.0.0.1:{daemon.http_port}"
                status, text = await asyncio.to_thread(get, base + "/metrics")
                hits = feed.count("/f")
                assert status == 200
                values = samples(text)
                assert values[("newsmonitor_polls_total", (("outcome", "new"),))] == 1
                not_modified = values[("newsmonitor_polls_total", (("outcome", "not_modified"),))]
                assert hits - 2 <= not_modified <= hits - 1
                assert values[("newsmonitor_items_new_total", ())] == 3
                assert values[("newsmonitor_matches_total", (("rule", "ampere"),))] == 1
                assert values[("newsmonitor_alerts_sent_total", (("channel", "hook"),))] == 1
                assert values[("newsmonitor_feeds_in_backoff", ())] == 0
                # Gauges are read from the store every 5 s.
                await until(lambda: samples(get(base + "/metrics")[1])[
                    ("newsmonitor_outbox_depth", ())] == 0)

                assert (await asyncio.to_thread(get, base + "/healthz"))[0] == 200
                seen: list[int] = []
                probe = threading.Thread(target=lambda: (time.sleep(2.0),
                                                         seen.append(get(base + "/healthz")[0])))
                probe.start()
                time.sleep(3.0)  # the event loop is blocked: no tick for 3 s
                probe.join()
                assert seen == [503]
                await until(lambda: get(base + "/healthz")[0] == 200)
            finally:
                daemon.stop()
                await asyncio.wait_for(task, 15)



@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_unit_verifies_and_is_hardened(tmp_path: Path) -> None:
    # The unit names /opt/newsmonitor/bin/newsmonitor (the README's install);
    # verify checks that the binary exists, so point it at this checkout's.
    beside = Path(sys.executable).parent / "newsmonitor"
    binary = str(beside) if beside.exists() else shutil.which("newsmonitor")
    if binary is None:
        pytest.skip("the newsmonitor command is not installed (pip install -e .)")
    unit = (REPO / "systemd" / "newsmonitor.service").read_text(encoding="utf-8")
    assert "/opt/newsmonitor/bin/newsmonitor" in unit
    path = tmp_path / "newsmonitor.service"
    path.write_text(unit.replace("/opt/newsmonitor/bin/newsmonitor", binary), encoding="utf-8")
    verify = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True,
                            text=True, timeout=60)
    assert verify.returncode == 0, verify.stderr
    assert "newsmonitor.service" not in verify.stderr, verify.stderr
    security = subprocess.run(["systemd-analyze", "security", "--offline=true", str(path)],
                              capture_output=True, text=True, timeout=60)
    assert "Overall exposure level for newsmonitor.service" in security.stdout
    level = security.stdout.split("Overall exposure level for newsmonitor.service:")[1].split()
    assert float(level[0]) <= 4.0 and level[1] in ("OK", "SAFE"), security.stdout


@pytest.mark.parametrize(("fmt", "expected"), [
    ("journal", "<4>poll failed feed=x error=timeout\n"),
    ("text", "WARNING poll failed feed=x error=timeout\n"),
])
def test_log_lines(fmt: str, expected: str) -> None:
    stream = io.StringIO()
    logs.setup(fmt, stream=stream)
    logging.getLogger("monitor.test").warning("poll failed feed=%s error=%s", "x", "timeout")
    assert stream.getvalue().endswith(expected)
    if fmt == "journal":
        assert not stream.getvalue()[3].isdigit()  # no timestamp: journald adds its own


def test_json_log_lines_split_the_fields() -> None:
    stream = io.StringIO()
    logs.setup("json", stream=stream)
    logging.getLogger("monitor.test").warning("poll failed feed=%s error=%s", "x", "timeout")
    record = json.loads(stream.getvalue())
    assert record["msg"] == "poll failed feed=%s error=%s"
    assert (record["level"], record["feed"], record["error"]) == ("warning", "x", "timeout")
