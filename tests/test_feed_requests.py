"""Per-feed request settings: `headers` (a User-Agent too), HTTP basic auth
through `${ENV}` and a proxy, end to end through `run --once` against
loopback servers; sent to the feed's own host only; never shown by any
command or log."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.config import load
from tests.loopback import LoopbackServer, Route, loopback
from tests.servers import rss

PASSWORD, COOKIE, PROXY_PASSWORD = "feed-PW-s3cret", "session=COOKIE-s3cret", "proxy-PW-s3cret"
SECRETS = (PASSWORD, COOKIE, PROXY_PASSWORD)
ITEMS = [("a1", "Renault va liquider sa filiale Ampère")]


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def write(tmp: Path, feed_url: str, receiver: LoopbackServer, extra: str) -> Path:
    path = tmp / "monitor.toml"
    path.write_text(f"""
[monitor]
database = "{tmp / 'state.sqlite3'}"
default_channels = ["hook"]
allow_private_networks = true

[channels.hook]
url = "json://127.0.0.1:{receiver.port}/hook"

[[feeds]]
name = "members only"
url = "{feed_url}"
alert_existing = true
username = "reader"
password = "${{FEED_PASSWORD}}"
{extra}

[[rules]]
name = "ampere"
any = ["Ampère"]
""", encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def secrets_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEED_PASSWORD", PASSWORD)
    monkeypatch.setenv("FEED_COOKIE", COOKIE)
    monkeypatch.setenv("PROXY_PASSWORD", PROXY_PASSWORD)


HEADERS = 'headers = { User-Agent = "Mozilla/5.0 (compatible)", Cookie = "${FEED_COOKIE}" }'


def test_headers_and_auth_reach_the_feed_and_no_other_host(
        tmp_path: Path, feed: LoopbackServer, receiver: LoopbackServer) -> None:
    with loopback() as elsewhere:
        # The publisher moved the feed to another host: that host gets neither
        # the password nor the cookie (they are for the configured host).
        feed.routes["/feed.xml"] = Route(status=302, headers={
            "Location": f"http://localhost:{elsewhere.port}/feed.xml"})
        elsewhere.routes["/feed.xml"] = Route(rss(ITEMS))
        config = write(tmp_path, f"http://127.0.0.1:{feed.port}/feed.xml", receiver, HEADERS)
        assert main(["run", "--once", "--config", str(config)]) == 0
    (own,) = feed.gets("/feed.xml")
    assert own.headers["authorization"] == basic("reader", PASSWORD)
    assert own.headers["cookie"] == COOKIE
    assert own.headers["user-agent"] == "Mozilla/5.0 (compatible)"
    (moved,) = elsewhere.gets("/feed.xml")
    assert "authorization" not in moved.headers and "cookie" not in moved.headers
    assert [p["title"] for p in receiver.posts()] == [
        "[newsmonitor] ampere: Renault va liquider sa filiale Ampère"]


def test_a_feed_behind_its_proxy(tmp_path: Path, receiver: LoopbackServer) -> None:
    """The feed's host does not resolve: only the proxy can reach it."""
    url = "http://feed.example.invalid/feed.xml"
    with loopback() as proxy:
        # A proxy gets the absolute URL in its request line; the server routes
        # on its path, and the Host header says which site was asked for.
        proxy.route("/feed.xml", body=rss(ITEMS))
        extra = f'proxy = "http://relay:${{PROXY_PASSWORD}}@127.0.0.1:{proxy.port}"'
        config = write(tmp_path, url, receiver, extra)
        assert main(["run", "--once", "--config", str(config)]) == 0
    (hit,) = proxy.gets("/feed.xml")
    assert hit.headers["host"] == "feed.example.invalid"
    assert hit.headers.get("proxy-authorization") == basic("relay", PROXY_PASSWORD), hit.headers
    assert hit.headers["proxy-authorization"] == basic("relay", PROXY_PASSWORD)
    assert hit.headers["authorization"] == basic("reader", PASSWORD)
    assert len(receiver.posts()) == 1


def test_no_secret_in_any_output(tmp_path: Path, receiver: LoopbackServer,
                                 capsys: pytest.CaptureFixture[str],
                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with loopback() as closed:
        port = closed.port  # a proxy that is gone: the poll fails, and says so
    extra = f'{HEADERS}\nproxy = "http://relay:${{PROXY_PASSWORD}}@127.0.0.1:{port}"'
    config = write(tmp_path, "http://feed.example.invalid/feed.xml", receiver, extra)
    for command in (["check"], ["run", "--once"], ["status"], ["status", "--json"],
                    ["export-opml"], ["rules", "list", "--json"]):
        main([*command, "--config", str(config)])
    out, err = capsys.readouterr()
    shown = out + err + caplog.text + repr(load(config))
    assert "poll failed" in shown or "connection failed" in shown
    for secret in SECRETS:
        assert secret not in shown


@pytest.mark.parametrize(("extra", "problem"), [
    ('headers = { "Bad Name" = "x" }', "is not a header name"),
    ('headers = { X-Two = "a\\nb" }', "must be one line"),
    ('proxy = "socks5://127.0.0.1:1080"', "is not an http:// URL"),
    ('proxy = "${NO_SUCH_VARIABLE}"', "NO_SUCH_VARIABLE is not set"),
])
def test_bad_request_settings_are_located_errors(
        tmp_path: Path, receiver: LoopbackServer, capsys: pytest.CaptureFixture[str],
        extra: str, problem: str) -> None:
    config = write(tmp_path, "https://example.org/feed.xml", receiver, extra)
    assert main(["check", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert 'feeds[0]' in err and problem in err, err
