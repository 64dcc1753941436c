"""`rules backtest` over a store the real daemon filled, on SQLite and PostgreSQL.

The labelled evaluation items (../shared/eval/dev.jsonl, 220 items in 47
feeds) are served as RSS from a loopback server, each with an author,
categories and, for every other one, a content:encoded; `run --once` polls
and alerts them. The same items, written as JSONL for `test-rules --items`,
must give per rule exactly the items the backtest finds in the store, for
the config's rules and for the eval's rules file; the backtest writes
nothing (the SQLite file byte for byte, PostgreSQL's rows counted) and
marks as ALERTED exactly what the outbox holds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
import sqlalchemy as sa

from monitor.cli import main
from monitor.cli.backtest import backtest as backtest_of
from monitor.config import load, load_rules_file
from tests import configs
from tests.loopback import LoopbackServer

# The config's own rules: a feed's tags and a rule's feeds must be applied
# as the daemon applies them (the eval's rules use neither).
RULES = [
    {"name": "ampere", "query": "Ampere AND (Renault OR liquid*)"},
    {"name": "auto-batteries", "any": ["batterie*", "battery", "batteries"], "tags": ["auto"]},
    {"name": "reuters-renault", "any": ["Renault"], "feeds": ["Reuters Autos"]},
    {"name": "unions", "any": ["CFE-CGC", "CGT", "syndicat*", "union*"], "min_score": 30},
]
AUTO = {"Caradisiac", "Les Echos Auto", "Automotive News Europe", "Reuters Autos"}


def records(shared: Path) -> list[dict[str, Any]]:
    """The eval items, each with an author, categories and (one in two) a content."""
    found = []
    for number, line in enumerate((shared / "eval" / "dev.jsonl").read_text("utf-8")
                                  .splitlines()):
        record = json.loads(line)
        extra = {"author": f"Rédaction {record['feed']}",
                 "categories": ["Automobile", record["lang"]]}
        if number % 2:
            extra["content"] = (f"<p>{escape(record['title'])}.</p><p>Article complet "
                                f"numéro {number} : voir aussi nos autres rubriques.</p>")
        found.append({**{k: record[k] for k in ("feed", "title", "summary", "link",
                                                "published")}, "guid": record["id"], **extra})
    return found


def rss(items: list[dict[str, Any]]) -> bytes:
    entries = "".join(
        f"<item><title>{escape(i['title'])}</title><link>{escape(i['link'])}</link>"
        f"<guid isPermaLink=\"false\">{i['guid']}</guid>"
        f"<pubDate>{format_datetime(datetime.fromisoformat(i['published']))}</pubDate>"
        f"<author>{escape(i['author'])}</author>"
        + "".join(f"<category>{escape(c)}</category>" for c in i["categories"])
        + f"<description>{escape(i['summary'])}</description>"
        + (f"<content:encoded>{escape(i['content'])}</content:encoded>"
           if "content" in i else "") + "</item>" for i in items)
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
            f"<title>t</title><link>https://example.org/</link><description>d</description>"
            f"{entries}</channel></rss>").encode()


def serve(feed: LoopbackServer, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One RSS document per feed; the config's [[feeds]]."""
    names = list(dict.fromkeys(i["feed"] for i in items))
    for n, name in enumerate(names):
        feed.route(f"/f{n}.xml", body=rss([i for i in items if i["feed"] == name]))
    return [{"name": name, "url": feed.url(f"/f{n}.xml"), "alert_existing": True,
             "tags": ["auto"] if name in AUTO else ["news"]} for n, name in enumerate(names)]


def jsonl(items: list[dict[str, Any]], path: Path) -> Path:
    """The same items for `test-rules --items`; the id is the link, which
    the backtest prints too."""
    path.write_text("".join(json.dumps(
        {"id": i["link"], "tags": ["auto"] if i["feed"] in AUTO else ["news"],
         **{k: v for k, v in i.items() if k != "guid"}}, ensure_ascii=False) + "\n"
        for i in items), encoding="utf-8")
    return path


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    out: str = capsys.readouterr().out
    return out


def tried(capsys: pytest.CaptureFixture[str], config: Path, items: Path,
               rules: list[str]) -> dict[str, set[str]]:
    out = cli(capsys, "test-rules", "--config", str(config), "--items", str(items), "--json",
              *rules)
    fired: dict[str, set[str]] = {}
    for line in out.splitlines():
        report = json.loads(line)
        for match in report["matches"]:
            fired.setdefault(match["rule"], set()).add(report["id"])
    return fired


def backtest(capsys: pytest.CaptureFixture[str], config: Path,
             rules: list[str]) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(cli(
        capsys, "rules", "backtest", "--config", str(config), "--since", "1h", "--json",
        *rules))
    return report


@pytest.fixture
def filled(tmp_path: Path, feed: LoopbackServer, receiver: LoopbackServer,
           database_url: str, shared: Path) -> Iterator[tuple[Path, Path, str]]:
    """A config whose store the daemon filled, the items as JSONL, the database."""
    items = records(shared)
    config = configs.write(tmp_path, monitor={"database": database_url,
                                              "default_channels": ["hook"]},
                           channels={"hook": receiver.webhook("/hook")},
                           feeds=serve(feed, items), rules=RULES)
    assert main(["run", "--once", "--config", str(config)]) == 0
    assert receiver.posts(), "the daemon alerted nothing: the ALERTED marks test nothing"
    yield config, jsonl(items, tmp_path / "items.jsonl"), database_url


def fingerprint(url: str) -> object:
    """The SQLite file's bytes, or every PostgreSQL table's rows and their text."""
    if "://" not in url:
        return hashlib.sha256(Path(url).read_bytes()).hexdigest()
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        tables = sa.inspect(conn).get_table_names()
        found = {t: conn.execute(sa.text(f"SELECT count(*), md5(string_agg(x::text, ',' "
                                         f"ORDER BY x::text)) FROM {t} x")).one()
                 for t in tables}
    engine.dispose()
    return found


def alerts(url: str) -> set[tuple[str, str]]:
    """(rule, item link) of every outbox row, read with SQL of the test's own."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1)
                              if "://" in url else f"sqlite:///{url}")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT a.rule, i.link FROM alerts a JOIN items i "
                                    "ON a.feed = i.feed AND a.item_id = i.item_id")).all()
    engine.dispose()
    return {(r.rule, r.link) for r in rows}


@pytest.mark.parametrize("rules", [[], ["--rules", "EVAL"]], ids=["config", "eval-rules"])
def test_backtest_fires_on_what_test_rules_fires_on(
        filled: tuple[Path, Path, str], rules: list[str], shared: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    config, items, url = filled
    rules = [str(shared / "eval" / "rules.toml") if r == "EVAL" else r for r in rules]
    before = fingerprint(url)
    report = backtest(capsys, config, rules)
    assert fingerprint(url) == before, "the backtest wrote to the database"
    assert report["scanned"] == len(items.read_text("utf-8").splitlines())
    found = {r["rule"]: {i["link"] for i in r["items"]} for r in report["rules"] if r["items"]}
    expected = tried(capsys, config, items, rules)
    assert found == expected
    assert len(found) >= 4, found  # most rules fire on something: the equality says much
    if not rules:  # the daemon ran these rules: what it alerted is marked, and fires
        marked = {(r["rule"], i["link"]) for r in report["rules"] for i in r["items"]
                  if i["alerted"]}
        assert marked == alerts(url) and marked


def test_explain_a_stored_item_by_id(filled: tuple[Path, Path, str],
                                     capsys: pytest.CaptureFixture[str]) -> None:
    config, _, _ = filled
    report = backtest(capsys, config, ["ampere"])
    fire = report["rules"][0]["items"][0]
    out = cli(capsys, "rules", "explain", "ampere", "--config", str(config),
              "--item", fire["id"], "--feed", fire["feed"], "--json")
    explained = json.loads(out)
    assert (explained["item"], explained["fires"]) == (fire["id"], True)
    assert explained["match"]["score"] == fire["score"]


def test_worker_processes_find_what_one_process_finds(filled: tuple[Path, Path, str],
                                                      shared: Path) -> None:
    config, items, _ = filled
    settings = load(config)
    rules = load_rules_file(shared / "eval" / "rules.toml") + settings.rules

    def found(**options: int) -> tuple[int, dict[str, list[tuple[str, str, int, bool]]]]:
        result = backtest_of(settings, rules, 0.0, **options)
        return result.scanned, {rule: [(f.kept.item.feed, f.kept.item.id, f.match.score,
                                        f.alerted) for f in fires]
                                for rule, fires in result.fires.items()}
    one = found(workers=1)
    assert one[0] == len(items.read_text("utf-8").splitlines())
    assert found(workers=2, per_worker=50) == one


def test_the_text_report_counts_and_marks(filled: tuple[Path, Path, str],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    config, _, _ = filled
    report = backtest(capsys, config, [])
    text = cli(capsys, "rules", "backtest", "--config", str(config))
    for rule in report["rules"]:
        alerted = sum(i["alerted"] for i in rule["items"])
        assert (f"{rule['rule']}: {len(rule['items'])} items would fire, {alerted} of them "
                f"alerted") in text
    assert text.count("ALERTED") == sum(i["alerted"] for r in report["rules"]
                                        for i in r["items"])
    one_feed = json.loads(cli(capsys, "rules", "backtest", "--config", str(config), "--json",
                              "--feed", "Reuters Autos", "--feed", "Caradisiac"))
    assert {i["feed"] for r in one_feed["rules"] for i in r["items"]} == {
        "Reuters Autos", "Caradisiac"}
    assert one_feed["scanned"] < report["scanned"]
    none = json.loads(cli(capsys, "rules", "backtest", "--config", str(config), "--json",
                          "--since", "0s"))  # zero is a duration, not "the default"
    assert none["scanned"] == 0 and report["scanned"] > 0


REFUSED = [
    (["rules", "backtest", "nope"], "rules backtest: unknown rule 'nope'; known: ampere"),
    (["rules", "backtest", "--text", "x"], "rules backtest: takes no --text 'x'"),
    (["rules", "backtest", "--feed", "Reuters Autoz"],
     "rules backtest: unknown feed 'Reuters Autoz'; known: "),
    (["rules", "list", "--since", "1d"], "rules list: takes no --since"),
    (["rules", "explain", "ampere", "--item", "0123abcd"],
     "--item '0123abcd': no such file, and no stored item has this id"),
    (["rules", "explain", "ampere", "--item", "0123abcd", "--feed", "Le Monde"],
     "no stored item in feed 'Le Monde' has this id"),
]


def test_backtest_arguments_are_used_or_refused(
        filled: tuple[Path, Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    config, _, _ = filled
    for argv, error in REFUSED:
        assert main([*argv, "--config", str(config)]) == 1, argv
        assert error in capsys.readouterr().err, argv


def test_no_database_yet_holds_nothing_and_is_not_created(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = configs.write(tmp_path, monitor={"database": tmp_path / "none.sqlite3",
                                              "default_channels": ["hook"]},
                           channels={"hook": "json://127.0.0.1:9/hook"}, rules=[configs.AMPERE])
    report = json.loads(cli(capsys, "rules", "backtest", "--config", str(config), "--json"))
    assert report["scanned"] == 0 and "no database yet" in report["note"]
    assert main(["rules", "explain", "ampere", "--item", "abc", "--config", str(config)]) == 1
    assert "no stored item has this id" in capsys.readouterr().err
    assert not (tmp_path / "none.sqlite3").exists()
    (tmp_path / "none.sqlite3").touch()  # an empty file: a database with no table yet
    report = json.loads(cli(capsys, "rules", "backtest", "--config", str(config), "--json"))
    assert report["scanned"] == 0 and "no database yet" in report["note"]


def test_the_daemon_keeps_what_the_feed_gave(filled: tuple[Path, Path, str]) -> None:
    """Author, categories and content, as the poll parsed them, kept by the store."""
    import asyncio

    from monitor.store import open_readonly

    _, items, url = filled
    served = {json.loads(line)["link"]: json.loads(line)
              for line in items.read_text("utf-8").splitlines()}

    async def read() -> list[Any]:
        store = await open_readonly(url)
        try:
            return [k.item async for batch in store.archive.batches(0.0) for k in batch]
        finally:
            await store.close()
    stored = {i.link: i for i in asyncio.run(read())}
    assert set(stored) == set(served)
    for link, record in served.items():
        kept = stored[link]
        assert (kept.author, kept.categories) == (record["author"],
                                                  tuple(record["categories"])), link
        assert bool(kept.content) == ("content" in record), link
        if "content" in record:
            assert "Article complet" in kept.content and "<p>" not in kept.content
