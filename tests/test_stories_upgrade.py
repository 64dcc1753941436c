"""Upgrade to stories: a database made by the release before them (755d0b9)
keeps working, its alerted items count as stories, and nothing alerted
before the upgrade alerts again; on both backends.

tests/data/upgrade_755d0b9.json holds the rows that release wrote (its
`run --once` over two feeds: Les Echos alerted on rule carrefour, Le Monde's
item matched nothing). The old tables are today's without the columns
stories added (items.summary, items.story_id), which are dropped here after
creating today's; the rows are then written back, moved to the present.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from monitor.cli import main
from monitor.store import Store
from tests import configs
from tests.conftest import REPO
from tests.loopback import LoopbackServer
from tests.test_stories_flow import ECHOS, MONDE, WEATHER, cli_json, rss

DUMP = json.loads((REPO / "tests" / "data" / "upgrade_755d0b9.json").read_text("utf-8"))
ADDED = {"items": ("summary", "story_id")}  # the columns stories added
TIMES = {"first_seen", "last_seen", "published", "created", "next_attempt", "delivered",
         "at", "next_poll", "last_poll", "last_success", "last_new_item"}
OUTLETS = {"Les Echos": "/echos.xml", "Le Monde": "/monde.xml"}


def old_database(url: str, feeds: LoopbackServer) -> None:
    """The database as the release before stories left it, ten minutes ago."""
    asyncio.run(_create(url))
    engine = sa.create_engine(_sync_url(url))
    shift = time.time() - 600 - DUMP["base"]
    with engine.begin() as conn:
        conn.execute(sa.text("DROP INDEX IF EXISTS ix_items_story_id"))
        for table, columns in ADDED.items():
            for column in columns:
                conn.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN {column}"))
        for table, rows in DUMP["tables"].items():
            if rows:
                conn.execute(_old_table(table, conn).insert(),
                             [_moved(table, row, shift, feeds) for row in rows])
    engine.dispose()


async def _create(url: str) -> None:
    await (await Store.open(url)).close()


def _sync_url(url: str) -> str:
    return f"sqlite:///{url}" if "://" not in url else url.replace(
        "postgresql://", "postgresql+psycopg://", 1)


def _old_table(name: str, conn: sa.Connection) -> sa.Table:
    """The table as it is now in the database (the old columns)."""
    return sa.Table(name, sa.MetaData(), autoload_with=conn)


def _moved(table: str, row: dict[str, Any], shift: float,
           feeds: LoopbackServer) -> dict[str, Any]:
    moved = {k: v + shift if k in TIMES and v is not None else v for k, v in row.items()}
    if table == "feeds":
        moved["url"] = moved["current_url"] = feeds.url(OUTLETS[row["name"]])
        moved["polled_once"] = bool(row["polled_once"])
        moved["next_poll"] = 0.0  # due now
    return moved


def test_an_old_database_keeps_its_alerts_as_stories_and_alerts_nothing_again(
        tmp_path: Path, feed: LoopbackServer, receiver: LoopbackServer,
        database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    old_database(database_url, feed)
    config = configs.write(
        tmp_path, monitor={"database": database_url},
        channels={"hook": receiver.webhook("/hook")},
        feeds=[{"name": name, "url": feed.url(path), "alert_existing": True}
               for name, path in OUTLETS.items()],
        rules=[{"name": "carrefour", "any": ["Carrefour"], "channels": ["hook"]}])
    # Le Monde now reports the story Les Echos alerted before the upgrade.
    feed.route("/echos.xml", body=rss(ECHOS))
    feed.route("/monde.xml", body=rss(MONDE, WEATHER))
    assert main(["run", "--once", "--config", str(config)]) == 0
    assert receiver.posts() == []

    (story,) = cli_json("stories", "--config", str(config), "--rule", "carrefour",
                        capsys=capsys)
    assert story["sources"] == ["Les Echos", "Le Monde"]
    assert [i["title"] for i in story["items"]] == [ECHOS[1], MONDE[1]]
    (alert,) = cli_json("history", "--config", str(config), capsys=capsys)
    assert (alert["title"], alert["state"], alert["sources"]) == (ECHOS[1], "sent",
                                                                  ["Le Monde"])
    # And again after a restart: still nothing.
    assert main(["run", "--once", "--config", str(config)]) == 0
    assert receiver.posts() == []
