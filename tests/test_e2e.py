"""End to end through the real CLI: a loopback feed server, a json:// webhook
receiver, a real SMTP server (aiosmtpd), a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from monitor.cli import main
from tests import configs
from tests.loopback import LoopbackServer, loopback
from tests.servers import rss
from tests.smtp import LoopbackSMTP

AMPERE = ("a1", "Renault va liquider sa filiale Ampère")
OTHER = ("o1", "Météo : un week-end ensoleillé")


def write_config(tmp: Path, feed_url: str, channels: dict[str, str],
                 database: str | None = None, **feed_options: Any) -> Path:
    return configs.write(
        tmp, monitor={"database": database or tmp / "state.sqlite3"}, channels=channels,
        feeds=[{"name": "test feed", "url": feed_url, **feed_options}],
        rules=[{"name": "ampere", "query": "Ampere AND (Renault OR liquid*)",
                "channels": list(channels)}])


def run_once(config: Path) -> int:
    return main(["run", "--once", "--config", str(config)])


def test_one_alert_per_channel_new_items_only_and_nothing_twice(
        tmp_path: Path, feed: LoopbackServer, receiver: LoopbackServer,
        database_url: str) -> None:
    """On SQLite and on PostgreSQL."""
    feed.route("/feed.xml", body=rss([AMPERE, OTHER]))
    with LoopbackSMTP() as smtp:
        config = write_config(tmp_path, f"{feed.base_url}/feed.xml", {
            "hook": receiver.webhook("/hook"),
            "mail": smtp.mailto_url(to="reader@example.com")}, database_url, alert_existing=True)
        assert run_once(config) == 0
        assert [p["title"] for p in receiver.posts()] == [
            "[newsmonitor] ampere: Renault va liquider sa filiale Ampère"]
        message = smtp.wait_for_message().message
        assert message["Subject"] == "[newsmonitor] ampere: Renault va liquider sa filiale Ampère"
        assert len(smtp.received) == 1

        new = ("a2", "Ampere : Renault confirme la liquidation")
        feed.route("/feed.xml", body=rss([new, AMPERE, OTHER]))
        assert run_once(config) == 0
        titles = [p["title"] for p in receiver.posts()]
        assert titles[1:] == ["[newsmonitor] ampere: Ampere : Renault confirme la liquidation"]
        assert len(smtp.received) == 2

        # A restart with the same feed: nothing new, nothing sent twice.
        assert run_once(config) == 0
        assert len(receiver.posts()) == 2 and len(smtp.received) == 2


def test_a_story_in_two_section_feeds_is_alerted_once(
        tmp_path: Path, feed: LoopbackServer, receiver: LoopbackServer, shared: Path,
        database_url: str) -> None:
    """Le Figaro's "La Une Éco" and "Sociétés" feeds (corpus) share three
    articles; a rule matching all three alerts each once, not twice."""
    real = shared / "corpus" / "feeds" / "real"
    for name in ("la-une-eco", "societes"):
        body = (real / f"fr_lefigaro_{name}_rss2.xml").read_bytes()
        feed.route(f"/{name}.xml", body=body)
    config = configs.write(
        tmp_path, monitor={"database": database_url, "default_channels": ["hook"]},
        channels={"hook": receiver.webhook("/hook")},
        feeds=[{"name": "Le Figaro La Une Éco", "url": feed.url("/la-une-eco.xml"),
                "alert_existing": True},
               {"name": "Le Figaro Sociétés", "url": feed.url("/societes.xml"),
                "alert_existing": True}],
        rules=[{"name": "transport-sante", "any": ["EasyJet", "Air France", "obésité"]}])
    assert run_once(config) == 0
    # The articles are from 2025: old news, one catch-up digest.
    [post] = receiver.posts()
    assert post["title"] == "[newsmonitor] catch-up: 3 older items"
    for title in ("Acheter des billets de train avec des miles d’Air France est désormais "
                  "possible", "Pilule, médicaments encore plus efficaces: ce que préparent "
                  "les labos contre l’obésité", "Un atterrissage «brutal» : panique sur un "
                  "vol EasyJet après le malaise du pilote"):
        assert post["message"].count(title) == 1, post["message"]
    assert run_once(config) == 0
    assert len(receiver.posts()) == 1


def test_first_run_records_existing_items_without_alerting(
        tmp_path: Path, feed: LoopbackServer, receiver: LoopbackServer) -> None:
    items = [(f"g{i}", f"Ampere et Renault, épisode {i}") for i in range(50)]
    feed.route("/feed.xml", body=rss(items))
    config = write_config(tmp_path, f"{feed.base_url}/feed.xml",
                          {"hook": receiver.webhook("/hook")})
    assert run_once(config) == 0
    assert receiver.posts() == []
    assert main(["status", "--json", "--config", str(config)]) == 0


def test_304_is_not_parsed_again(tmp_path: Path, feed: LoopbackServer,
                                 receiver: LoopbackServer,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    feed.route("/feed.xml", body=rss([AMPERE]), etag='"v1"')
    config = write_config(tmp_path, f"{feed.base_url}/feed.xml",
                          {"hook": receiver.webhook("/hook")})
    assert run_once(config) == 0
    capsys.readouterr()
    assert run_once(config) == 0
    hits = feed.gets("/feed.xml")
    assert hits[0].headers["user-agent"].startswith("newsmonitor/")
    assert hits[1].headers.get("if-none-match") == '"v1"'
    err = capsys.readouterr().err
    assert "poll done feed=test feed result=not_modified new=0 alerts=0" in err
    main(["status", "--json", "--config", str(config)])
    status = json.loads(capsys.readouterr().out)
    assert status["feeds"][0]["last_status"] == 304


async def test_two_instances_on_postgresql_alert_once(tmp_path: Path, pg_schema_url: str) -> None:
    """Two daemons share one PostgreSQL database and poll the same feed at the
    same time: every alert is queued once and delivered once."""
    import asyncio

    from monitor.service.daemon import Daemon
    from monitor.service.runtime import build_runtime

    with loopback() as feed, loopback() as receiver:
        feed.route("/feed.xml", body=rss([(f"a{i}", f"Ampere et Renault {i}")
                                               for i in range(5)]))
        config = write_config(tmp_path, f"{feed.base_url}/feed.xml",
                              {"hook": receiver.webhook("/hook")},
                              pg_schema_url, alert_existing=True)
        first, second = (Daemon(config, build_runtime(config)) for _ in range(2))
        await asyncio.gather(first.run_once(), second.run_once())
        titles = [p["title"] for p in receiver.posts()]
        assert sorted(titles) == [f"[newsmonitor] ampere: Ampere et Renault {i}"
                                  for i in range(5)]
        assert len(feed.gets("/feed.xml")) == 2
