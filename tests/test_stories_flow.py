"""Stories end to end (issue 12), through the real CLI on both backends: three
outlets' feeds on a loopback server, json:// webhook receivers, `run --once`
(each run rebuilds the story index from the store, as a restart does),
then `stories`, `history` and a digest channel's next digest."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.cli import main
from monitor.config import load
from monitor.deliver.outbox import deliver_due
from monitor.service.runtime import build_runtime, warn_restart_only
from monitor.store import Store
from tests import configs
from tests.loopback import LoopbackServer, loopback

Entry = tuple[str, str, str, str]  # guid, title, summary, link

ECHOS = ("e1", "Carrefour cède ses activités en Italie au fonds NewPrinces",
         "Le distributeur français vend ses 1 200 magasins italiens au groupe NewPrinces "
         "pour un milliard d'euros.", "https://lesechos.example/carrefour-italie")
MONDE = ("m1", "Carrefour quitte l'Italie et vend ses magasins à NewPrinces",
         "Le groupe Carrefour annonce la cession de son réseau italien de 1 200 magasins "
         "au fonds NewPrinces.", "https://lemonde.example/carrefour")
FRANCEINFO = ("f1", "Carrefour vend ses 1 200 magasins italiens à NewPrinces",
              "Le géant de la distribution se retire d'Italie en cédant son réseau au "
              "groupe NewPrinces.", "https://franceinfo.example/carrefour")
# Les Echos re-titles its article and gives it a new guid (same link).
RETITLED = ("e1-v2", "Carrefour se retire d'Italie : NewPrinces reprend le réseau "
            "pour un milliard", ECHOS[2], ECHOS[3])
WEATHER = ("m0", "Météo : un week-end ensoleillé sur toute la France",
           "Le soleil s'installe de la Bretagne à l'Alsace, avec des températures de saison.",
           "https://lemonde.example/meteo")
# Le Monde edits its weather item: it now names Carrefour (same guid).
WEATHER_EDITED = (*WEATHER[:2], WEATHER[2] + " Les magasins Carrefour ouvriront dimanche.",
                  WEATHER[3])
WEATHER_EDITED_AGAIN = (*WEATHER_EDITED[:2], WEATHER_EDITED[2] + " Sauf en Alsace.",
                        WEATHER[3])
FOOTBALL = ("f0", "Football : le PSG qualifié pour les quarts de finale",
            "Le club parisien a battu Liverpool aux tirs au but mardi soir.",
            "https://franceinfo.example/psg")
OUTLETS = {"Les Echos": "/echos.xml", "Le Monde": "/monde.xml", "franceinfo": "/fi.xml"}


def rss(*entries: Entry) -> bytes:
    """An RSS 2.0 document of `entries`, newest first, published now."""
    now = format_datetime(datetime.now(UTC))
    items = "".join(f"<item><title>{t}</title><link>{link}</link><guid>{g}</guid>"
                    f"<pubDate>{now}</pubDate><description>{s}</description></item>"
                    for g, t, s, link in entries)
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>t</title>{items}</channel></rss>").encode()


def serve(feed: LoopbackServer, echos: list[Entry], monde: list[Entry],
          franceinfo: list[Entry]) -> None:
    for path, entries in zip(OUTLETS.values(), (echos, monde, franceinfo), strict=True):
        feed.route(path, body=rss(*entries))


def cli_json(*argv: str, capsys: pytest.CaptureFixture[str]) -> Any:
    capsys.readouterr()
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def digests() -> Any:
    with loopback() as running:
        yield running


def test_one_story_from_three_outlets_alerts_once_per_channel_and_rule(
        tmp_path: Path, feed: LoopbackServer, receiver: LoopbackServer,
        digests: LoopbackServer, database_url: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    config = configs.write(
        tmp_path, monitor={"database": database_url},
        channels={"hook": {"url": receiver.webhook("/hook"), "story_updates": 2},
                  "daily": {"url": digests.webhook("/daily"), "digest": "1d"}},
        feeds=[{"name": name, "url": feed.url(path), "alert_existing": True}
               for name, path in OUTLETS.items()],
        rules=[{"name": "carrefour", "any": ["Carrefour"], "channels": ["hook", "daily"]},
               # Matches franceinfo's report first (its summary), then the re-titled one.
               {"name": "retrait", "any": ["retire"], "channels": ["hook"]}])
    run = ["run", "--once", "--config", str(config)]

    serve(feed, [ECHOS], [WEATHER], [FOOTBALL])
    assert main(run) == 0
    assert [p["title"] for p in receiver.posts()] == [f"[newsmonitor] carrefour: {ECHOS[1]}"]

    # Within the hour, the two other outlets report it: attached, not
    # alerted; with story_updates = 2, one follow-up once both have.
    serve(feed, [ECHOS], [MONDE, WEATHER], [FOOTBALL])
    assert main(run) == 0
    assert len(receiver.posts()) == 1
    serve(feed, [ECHOS], [MONDE, WEATHER], [FRANCEINFO, FOOTBALL])
    assert main(run) == 0
    # A rule that matches the story for the first time alerts for that rule.
    posts = receiver.posts()
    assert [p["title"] for p in posts[1:]] == [
        f"[newsmonitor] retrait: {FRANCEINFO[1]}", f"[newsmonitor] carrefour: {FRANCEINFO[1]}"]
    assert "follow-up" in posts[2]["message"] and "follow-up" not in posts[1]["message"]
    assert "Les Echos" in posts[2]["message"] and "Le Monde" in posts[2]["message"]

    # A re-titled item with a new guid does not re-alert; the item edited so
    # that it newly matches alerts once, marked updated.
    serve(feed, [RETITLED, ECHOS], [MONDE, WEATHER_EDITED], [FRANCEINFO, FOOTBALL])
    assert main(run) == 0
    serve(feed, [RETITLED, ECHOS], [MONDE, WEATHER_EDITED_AGAIN], [FRANCEINFO, FOOTBALL])
    assert main(run) == 0
    posts = receiver.posts()
    assert [p["title"] for p in posts[3:]] == [f"[newsmonitor] carrefour: {WEATHER[1]}"]
    assert "updated" in posts[3]["message"]

    stories = cli_json("stories", "--config", str(config), "--rule", "carrefour",
                       capsys=capsys)
    carrefour = next(s for s in stories if s["items"][0]["title"] == ECHOS[1])
    assert carrefour["sources"] == ["Les Echos", "Le Monde", "franceinfo"]
    assert [i["title"] for i in carrefour["items"]] == [
        ECHOS[1], MONDE[1], FRANCEINFO[1], RETITLED[1]]
    assert {(a["rule"], a["channel"]) for a in carrefour["alerted"]} == {
        ("carrefour", "hook"), ("carrefour", "daily"), ("retrait", "hook")}
    assert main(["stories", "--config", str(config)]) == 0
    text = capsys.readouterr().out
    assert "sources: Les Echos, Le Monde, franceinfo  rules: carrefour, retrait" in text
    history = cli_json("history", "--config", str(config), "--channel", "hook",
                       capsys=capsys)
    first = next(row for row in history if row["title"] == ECHOS[1])
    assert first["sources"] == ["Le Monde", "franceinfo"]

    # The daily digest: the story once, with the other two outlets.
    assert digests.posts() == []
    asyncio.run(_deliver(config, datetime.now(UTC) + timedelta(days=1, hours=1)))
    (digest,) = digests.posts()
    assert digest["message"].count(ECHOS[1]) == 1
    assert "also reported by Le Monde, franceinfo" in digest["message"]
    assert MONDE[1] not in digest["message"] and FRANCEINFO[1] not in digest["message"]


async def _deliver(config: Path, at: datetime) -> None:
    runtime = build_runtime(config)
    store = await Store.open(load(config).monitor.database)
    runtime.notifier.open()
    try:
        await deliver_due(store, runtime.notifier, runtime.channels, at)
    finally:
        runtime.notifier.close()
        await store.close()


def test_a_reload_that_changes_the_story_settings_says_they_take_a_restart(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The story index is built at start: a reload cannot regroup it."""
    base = {"database": tmp_path / "db.sqlite3"}
    old = load(configs.write(tmp_path / "old.toml", monitor=base))
    new = load(configs.write(tmp_path / "new.toml",
                             monitor={**base, "story_window": "12h", "story_threshold": 0.3}))
    warn_restart_only(old, new)
    assert "takes effect at the next restart key=monitor.story_window" in caplog.text
    assert "key=monitor.story_threshold" in caplog.text
