"""Issue 13, full articles through the real CLI and daemon (`run --once`),
on SQLite and on PostgreSQL: a loopback publisher (tests/data/articles),
a json:// webhook receiver."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.cli import main
from tests import articles, configs
from tests.loopback import LoopbackServer

BY_ID = {item.id: item for item in articles.load()}


def publish(feed: LoopbackServer, ids: list[str]) -> None:
    """The feed of `ids` (newest first) and their article pages."""
    chosen = [BY_ID[i] for i in ids]
    for item in chosen:
        feed.route(f"/a/{item.id}.html", body=articles.page(item),
                   headers={"Content-Type": "text/html; charset=utf-8"})
    feed.route("/news.xml", body=articles.feed(articles.entries(chosen, feed.base_url)))


def test_a_fulltext_feed_alerts_on_a_name_only_in_the_article(
        tmp_path: Path, feed: LoopbackServer, receiver: LoopbackServer,
        database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    feed.route("/robots.txt", body=b"User-agent: *\nDisallow: /admin/\n")
    publish(feed, ["fr-ia-salon"])
    config = configs.write(
        tmp_path, monitor={"database": database_url, "fulltext_host_delay": "10ms"},
        channels={"hook": receiver.webhook("/hook")},
        feeds=[{"name": "courrier", "url": feed.url("/news.xml"), "fulltext": True}],
        rules=[{"name": "julia", "people": ["Luc Julia"], "channels": ["hook"]}])
    assert main(["run", "--once", "--config", str(config)]) == 0
    # A first poll's items are history: no alert, so no article is fetched.
    assert feed.count("/a/fr-ia-salon.html") == 0 and receiver.posts() == []
    publish(feed, ["fr-senat-audition", "fr-crue-seine", "fr-ia-salon"])
    assert main(["run", "--once", "--config", str(config)]) == 0
    assert [p["title"] for p in receiver.posts()] == [
        f"[newsmonitor] julia: {BY_ID['fr-senat-audition'].title}"]
    assert feed.count("/a/fr-senat-audition.html") == feed.count("/a/fr-crue-seine.html") == 1
    assert feed.count("/robots.txt") == 1
    message = receiver.posts()[0]["message"]
    assert "Luc Julia in content" in message, message
    assert "services en ligne. «Luc Julia» a estimé devant les sénateurs" in message, message
    capsys.readouterr()
    assert main(["status", "--json", "--config", str(config)]) == 0
    [row] = json.loads(capsys.readouterr().out)["feeds"]
    assert row["articles"] == {"fetched": 2, "failed": 0}
