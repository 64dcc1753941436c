"""`status` and `history` as a new user reads them (issue 11): times in the
configured zone, messages beside alerts, each feed's interval, titles cut
with an ellipsis, unknown names refused; a database folder that cannot be
created is exit 3 with one line (issue 14)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.models import Alert, Item, Match, TermHit
from monitor.store import Store
from tests import configs

WHY = "adaptive: ~3.2 items/h at this hour"  # a feed's pace (issue 18)

CREATED = datetime(2026, 11, 26, 6, 35, tzinfo=UTC).timestamp()  # 07:35 in Paris
LONG_TITLE = "Renault va liquider sa filiale Ampère, créée il y a moins de deux ans pour l'EV"


def write_config(tmp_path: Path, database: str) -> Path:
    return configs.write(
        tmp_path,
        monitor={"database": database, "timezone": "Europe/Paris", "default_channels": ["mail"]},
        channels={"mail": "json://127.0.0.1:9/hook"},
        feeds=[{"name": "Les Echos", "url": "https://example.org/echos.xml",
                "interval": "1h30m"}],
        rules=[{"name": "ampere", "query": "Ampere"},
               {"name": "liquidation", "query": "liquid*"},
               {"name": "renault", "query": "Renault"}])


async def one_message_three_alerts(database: str) -> None:
    """One item that three rules fire on, sent as one message."""
    store = await Store.open(database)
    try:
        item = Item(feed="Les Echos", id="x1", title=LONG_TITLE, link="https://e.org/x1")
        alerts = [Alert(item, Match(rule, 90, (TermHit(rule, rule, "title", 90),)), "mail")
                  for rule in ("ampere", "liquidation", "renault")]
        ids = await store.queue_alerts(alerts, CREATED)
        await store.mark_sent(ids, "mail", "single", CREATED + 60)
        await store.sync_feeds([("Les Echos", "https://example.org/echos.xml", 5400.0,
                                 CREATED)])
        state = await store.feed("Les Echos")
        assert state is not None
        await store.save_feed(dataclasses.replace(state, pace=WHY))
    finally:
        await store.close()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    database = str(tmp_path / "state.sqlite3")
    asyncio.run(one_message_three_alerts(database))
    return write_config(tmp_path, database)


def output(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_status_counts_messages_beside_alerts_and_shows_intervals(
        config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`status` said SENT 3 after one email: that counts alerts (rule x item)."""
    report = json.loads(output(capsys, "status", "--json", "--config", str(config)))
    assert report["outbox"]["mail"] == {"pending": 0, "sent": 3, "dead": 0, "messages": 1}
    assert report["feeds"][0]["interval_s"] == 5400
    assert report["feeds"][0]["why"] == WHY
    table = output(capsys, "status", "--config", str(config)).splitlines()
    header = next(line for line in table if line.startswith("CHANNEL"))
    assert header.split() == ["CHANNEL", "PENDING", "SENT", "DEAD", "MESSAGES"]
    assert next(line for line in table if line.startswith("mail")).split() == [
        "mail", "0", "3", "0", "1"]
    feed = next(line for line in table if line.startswith("Les Echos"))
    assert "EVERY" in table[2] and " 1h30m " in feed
    assert "WHY" in table[2] and WHY in feed


def test_history_in_the_configured_zone_with_header_score_and_ellipsis(
        config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = output(capsys, "history", "--config", str(config)).splitlines()
    assert lines[0] == "(times in Europe/Paris)"
    assert lines[1].split() == ["CREATED", "STATE", "CHANNEL", "RULE", "SCORE", "TITLE"]
    assert len(lines) == 5
    assert lines[2].startswith("2026-11-26 07:35  sent    mail         renault")
    assert lines[2].endswith(f"   90  {LONG_TITLE[:59]}…")
    rows = json.loads(output(capsys, "history", "--json", "--config", str(config)))
    assert rows[0]["created"] == "2026-11-26T06:35:00+00:00" and rows[0]["score"] == 90


@pytest.mark.parametrize(("option", "error"), [
    (["--rule", "NO_SUCH_RULE"], "history: unknown rule 'NO_SUCH_RULE'; known: ampere, "),
    (["--channel", "slack"], "history: unknown channel 'slack'; known: mail"),
])
def test_history_of_an_unknown_name_is_an_error(config: Path, option: list[str], error: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["history", *option, "--config", str(config)]) == 1
    assert capsys.readouterr().err.startswith(f"error: {error}")


def test_history_of_a_known_rule_without_alerts(config: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    lines = output(capsys, "history", "--rule", "feed-health",
                   "--config", str(config)).splitlines()
    assert len(lines) == 2  # the zone and the header


@pytest.mark.parametrize("limit", ["0", "-1", "x", "10000000000000000000000"])
def test_history_limit_must_be_a_count(config: Path, limit: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["history", "--limit", limit, "--config", str(config)])
    assert exit_info.value.code == 2


@pytest.mark.parametrize("command", [["status"], ["history"], ["run", "--once"],
                                     ["poll-now"], ["requeue"]])
def test_a_database_folder_that_cannot_be_created_is_exit_3(
        tmp_path: Path, command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """A file where the folder should be: the root user passes permissions."""
    (tmp_path / "afile").write_text("", encoding="utf-8")
    config = write_config(tmp_path, str(tmp_path / "afile" / "db" / "state.sqlite3"))
    assert main([*command, "--config", str(config)]) == 3
    assert capsys.readouterr().err == (
        f"error: cannot create the database folder {tmp_path / 'afile' / 'db'}: "
        "Not a directory\n")
