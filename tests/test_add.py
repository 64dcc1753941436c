"""`newsmonitor add URL` on a loopback site (issue 11: a homepage given as a
feed failed with `not a feed: <unknown>:2:1686: not well-formed`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.cli import main
from monitor.config import load
from monitor.errors import ParseError
from monitor.poll.parser import parse_feed
from tests.loopback import LoopbackServer
from tests.servers import rss

HOME = b"""<!doctype html><html><head><title>Auto Actu</title>
<link rel="stylesheet" href="/s.css">
<link rel="alternate" type="application/rss+xml" title="Actualit\xc3\xa9s" href="/rss/actu.xml">
</head><body><h1>Auto Actu</h1></body></html>"""
CONFIG = """# My watch: Renault's plants.
[monitor]
default_channels = ["console"]  # for now

[channels.console]
url = "console://"

[[rules]]
name = "cleon"
any = ["Cléon"]
"""


@pytest.fixture
def site(feed: LoopbackServer) -> LoopbackServer:
    """A publisher's site: a homepage announcing its feed."""
    feed.route("/", body=HOME, headers={"Content-Type": "text/html"})
    feed.route("/rss/actu.xml", body=rss([("b", "Cléon produira le moteur"),
                                          ("a", "Flins ferme")], title="Auto Actu"))
    return feed


def config(tmp: Path) -> Path:
    path = tmp / "monitor.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def test_a_homepage_is_followed_to_its_announced_feed(
        site: LoopbackServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = config(tmp_path)
    assert main(["add", f"{site.base_url}/", "--tags", "auto, usines", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"found: {site.base_url}/rss/actu.xml  Auto Actu" in out
    assert "    - Cléon produira le moteur" in out
    assert f"added: Auto Actu <{site.base_url}/rss/actu.xml>" in out
    text = path.read_text(encoding="utf-8")
    assert "# My watch: Renault's plants." in text and "# for now" in text
    feed = load(path).feeds[0]
    assert (feed.name, feed.url, feed.tags) == ("Auto Actu", f"{site.base_url}/rss/actu.xml",
                                                ("auto", "usines"))
    # Added once: a second add finds it there.
    assert main(["add", f"{site.base_url}/", "--config", str(path)]) == 0
    assert f"skipped: Auto Actu: <{site.base_url}/rss/actu.xml> already in the config" in (
        capsys.readouterr().out)
    assert len(load(path).feeds) == 1


def test_a_page_without_links_is_tried_at_the_usual_paths(
        site: LoopbackServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site.route("/", body=b"<html><body>Bienvenue</body></html>")
    site.route("/feed.xml", body=rss([("x", "Sandouville")], title="Usines"))
    path = config(tmp_path)
    assert main(["add", f"{site.base_url}/", "--name", "Usines", "--config", str(path)]) == 0
    assert load(path).feeds[0].url == f"{site.base_url}/feed.xml"


def test_a_feed_url_is_added_as_it_is(site: LoopbackServer, tmp_path: Path) -> None:
    path = config(tmp_path)
    assert main(["add", f"{site.base_url}/rss/actu.xml", "--config", str(path)]) == 0
    assert load(path).feeds[0].url == f"{site.base_url}/rss/actu.xml"


def test_no_feed_is_one_clear_error(site: LoopbackServer, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    site.route("/", body=b"<html><body>Rien</body></html>")
    path = config(tmp_path)
    assert main(["add", f"{site.base_url}/", "--config", str(path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: add: {site.base_url}/: no feed found")
    assert path.read_text(encoding="utf-8") == CONFIG


@pytest.mark.parametrize(("url", "hint"), [
    ("lemonde.fr", "https://lemonde.fr"), ("ampere", "https://ampere"),
    ("ftp://example.org/feed", "https://example.org/feed"), ("http://[", "https://["),
])
def test_not_a_url_is_a_usage_error_with_the_url_to_write(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str, hint: str) -> None:
    """It was "request failed: lemonde.fr: InvalidUrlClientError", exit 3."""
    path = config(tmp_path)
    assert main(["add", url, "--config", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"is not an http(s) URL; write it whole, e.g. {hint}\n" in err, err
    assert path.read_text(encoding="utf-8") == CONFIG


def test_a_web_page_polled_as_a_feed_says_how_to_find_its_feed() -> None:
    with pytest.raises(ParseError, match=r"web page: `newsmonitor add URL` finds its feeds"):
        parse_feed(HOME, {"content-type": "text/html"}, "home")


@pytest.mark.parametrize(("url", "message"), [
    ("ampere", "error: add: 'ampere' is not an http(s) URL; write it whole, e.g. https://ampere"),
    ("http://127.0.0.1:9/", "error: add: connection failed: http://127.0.0.1:9/"),
])
def test_a_bad_or_unreachable_url_is_one_line_and_exit_1(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str, message: str) -> None:
    assert main(["add", url, "--config", str(config(tmp_path))]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(message)


def test_a_json_feed_announced_by_a_homepage_is_added(
        feed: LoopbackServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    feed.route("/", body=b'<html><head><link rel="alternate" type="application/feed+json" '
               b'title="JSON" href="/feed.json"></head><body>Blog</body></html>')
    feed.route("/feed.json", headers={"Content-Type": "application/feed+json"}, body=(
        '{"version": "https://jsonfeed.org/version/1.1", "title": "Usines en JSON", '
        '"items": [{"id": "1", "title": "Cl\u00e9on produira le moteur"}]}').encode())
    path = config(tmp_path)
    assert main(["add", f"{feed.base_url}/", "--config", str(path)]) == 0
    assert "    - Cl\u00e9on produira le moteur" in capsys.readouterr().out
    added = load(path).feeds[0]
    assert (added.name, added.url) == ("Usines en JSON", f"{feed.base_url}/feed.json")


def test_credentials_in_the_url_become_the_feeds_username_and_password(
        site: LoopbackServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`add https://user:pass@host/`: the feed found keeps them (its URL as
    found has none), so its polls send them too; neither is printed."""
    path = config(tmp_path)
    given = site.base_url.replace("://", "://lecteur:S3cr%40t@") + "/"
    assert main(["add", given, "--config", str(path)]) == 0
    assert "S3cr" not in capsys.readouterr().out
    feed = load(path).feeds[0]
    assert feed.url == f"{site.base_url}/rss/actu.xml"
    assert (feed.request.username, feed.request.password) == ("lecteur", "S3cr@t")
    assert main(["run", "--once", "--config", str(path)]) == 0
    polled = site.gets("/rss/actu.xml")[-1]
    assert polled.headers["authorization"] == "Basic bGVjdGV1cjpTM2NyQHQ="  # lecteur:S3cr@t
