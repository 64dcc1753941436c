"""JSON Feed end to end (issue 13): the daemon as a real subprocess polls
malformed JSON Feeds beside a good one; it keeps running, logs each failure
with the feed's name and the located error, and the good feed alerts."""

from __future__ import annotations

import contextlib
import io
import json
import signal
from pathlib import Path
from typing import Any

from monitor.cli import main
from tests import configs
from tests.daemon_proc import DaemonProcess
from tests.loopback import LoopbackServer
from tests.waiting import wait_for

V11 = "https://jsonfeed.org/version/1.1"
JSON = {"Content-Type": "application/feed+json"}
BAD = {
    "items-not-a-list": json.dumps({"version": V11, "title": "B", "items": {"id": "1"}}),
    "truncated": '{"version": "' + V11 + '", "items": [{"id": "1", "title": "Amp',
    "nested": '{"version": "' + V11 + '", "items": ' + "[" * 50_000 + "]" * 50_000 + "}",
}
ERRORS = {"items-not-a-list": "items: not a list", "truncated": "Unterminated string",
          "nested": "nested too deeply"}


def feed_body(items: list[dict[str, Any]]) -> bytes:
    return json.dumps({"version": V11, "title": "Bonne source", "items": items}).encode()


def test_malformed_json_feeds_never_stop_the_good_one(
        tmp_path: Path, feed: LoopbackServer, receiver: LoopbackServer) -> None:
    items = [{"id": "x0", "title": "Rien à voir ce matin", "date_published": "nonsense"}]
    feed.route("/good.json", body=feed_body(items), headers=JSON)
    for name, body in BAD.items():
        feed.route(f"/{name}.json", body=body.encode(), headers=JSON)
    config = configs.write(
        tmp_path, monitor={"database": tmp_path / "state.sqlite3", "jitter": 0.0,
                           "default_channels": ["hook"]},
        channels={"hook": receiver.webhook("/h")},
        feeds=[{"name": name, "url": feed.url(f"/{name}.json"), "interval": "1s"}
               for name in ["good", *BAD]],
        rules=[configs.AMPERE])
    daemon = DaemonProcess(config, tmp_path)
    try:
        daemon.wait_log("new items feed=good new=1")
        for name, error in ERRORS.items():
            daemon.wait_log(f"poll failed feed={name} ")
            line = next(line for line in daemon.log.splitlines()
                        if f"poll failed feed={name} " in line)
            assert error in line and "Traceback" not in daemon.log

        items.insert(0, {"id": "a1", "title": "Ampère\u202f: la filiale de Renault liquid\u00e9e",
                         "content_html": "<p>Le tribunal a tranch\u00e9.</p>",
                         "date_published": "2024-11-21T10:00:00+01:00"})
        feed.route("/good.json", body=feed_body(items), headers=JSON)
        wait_for(lambda: [p["title"] for p in receiver.posts()] == [
            "[newsmonitor] ampere: Ampère : la filiale de Renault liquidée"])
        # A changed body whose only new item matches nothing: the items seen
        # before alert no more (the dedup), and the bad feeds failed again, alone.
        items.insert(0, {"id": "x2", "title": "Météo calme sur la côte"})
        feed.route("/good.json", body=feed_body(items), headers=JSON)
        daemon.wait_log("new items feed=good new=1", count=3)
        for name in BAD:
            daemon.wait_log(f"poll failed feed={name} ", count=3)
        assert len(receiver.posts()) == 1
        daemon.signal(signal.SIGTERM)
        assert daemon.proc.wait(timeout=15) == 0
    finally:
        daemon.close()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["status", "--config", str(config), "--json"]) in (0, 1)
    rows = {row["name"]: row for row in json.loads(out.getvalue())["feeds"]}
    assert rows["good"]["warning"] == "items[2].date_published: not a date"
    for name, error in ERRORS.items():
        assert error in rows[name]["error"]
