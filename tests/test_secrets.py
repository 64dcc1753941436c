"""No secret ever reaches a log line, `status`, `check`, `history`, `send-test`
or an error message, through failures of every channel."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.config.values import without_userinfo
from tests import configs
from tests.loopback import loopback
from tests.servers import rss
from tests.smtp import LoopbackSMTP

SECRETS = {
    "HOOK_PASSWORD": "hookpw-7f3a9c1e5b",
    "SMTP_PASSWORD": "smtppw-0d4e8b2a6c",
    "TOKEN_IN_FILE": "filetoken-91bc37de",
    # A webhook's path (an ntfy topic, a Discord or Slack webhook) is its
    # password too; apprise's privacy mask leaves paths whole.
    "HOOK_PATH": "hookpath-4c8e2f19a0",
}


def test_no_secret_in_any_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    with loopback() as feed, loopback() as hook, LoopbackSMTP(password="the-real-one") as smtp:
        feed.route("/f", body=rss([("a1", "Ampere et Renault")]))
        hook.statuses = [500] * 100
        channels_file = tmp_path / "channels.txt"
        channels_file.write_text(
            f"filed = json://bot:{SECRETS['TOKEN_IN_FILE']}@127.0.0.1:{hook.port}/f\n")
        os.chmod(channels_file, 0o600)
        config = configs.write(
            tmp_path,
            monitor={"database": tmp_path / "db.sqlite3", "channels_file": "channels.txt",
                     "default_channels": ["hook", "mail", "filed"]},
            channels={"hook": f"json://user:${{HOOK_PASSWORD}}@127.0.0.1:{hook.port}"
                              "/h/${HOOK_PATH}",
                      "mail": smtp.mailto_url(password="${SMTP_PASSWORD}"), "filed": {}},
            feeds=[{"name": "news", "url": feed.url("/f"), "alert_existing": True}],
            rules=[configs.AMPERE])
        args = ["--config", str(config)]
        assert main(["check", *args]) == 0
        assert main(["run", "--once", *args]) == 0
        assert main(["run", "--once", *args]) == 0
        for command in (["status"], ["status", "--json"], ["history"], ["history", "--json"]):
            assert main([*command, *args]) == 0
        assert main(["send-test", "hook", *args]) == 3
        assert main(["send-test", "mail", *args]) == 3
        output = capsys.readouterr()
        assert hook.attempts() >= 4 and hook.posts() == []  # the failures really happened
    text = output.out + output.err
    assert "delivery failed" in text and "pending" in text
    for value in SECRETS.values():
        assert value not in text


def test_feed_credentials_stay_out_of_logs_and_status(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Issue 14: a feed URL's ?token= was in WARNING logs and `status --json`,
    # and with -v the database driver's debug records printed SQL parameters,
    # a feed URL's password among them.
    token, password = "feedtoken-5c2e8a71", "feedpw-3b9d04f6"
    # An item's link is a stranger's URL: its password and token stay out of
    # the "delivered" line too.
    link_token, link_password = "itemtoken-77e1c0d2", "ItemPw-91a4"
    body = rss([("a1", "Ampere")]).replace(
        b"https://example.org/a1",
        f"https://reader:{link_password}@example.org/a1?token={link_token}".encode())
    with loopback() as feed, loopback() as hook:
        feed.route("/gone", body=b"down", status=500)
        feed.route("/f", body=body)
        config = configs.write(
            tmp_path,
            monitor={"database": tmp_path / "db.sqlite3", "default_channels": ["hook"]},
            channels={"hook": hook.webhook("/h")},
            feeds=[{"url": feed.url(f"/gone?page=1&access_token={token}")},
                   {"name": "private", "alert_existing": True,
                    "url": f"http://reader:{password}@127.0.0.1:{feed.port}/f?key={token}"}],
            rules=[configs.AMPERE])
        args = ["--config", str(config)]
        assert main(["run", "--once", "-v", *args]) == 0
        for command in (["status"], ["status", "--json"]):
            main([*command, "-v", *args])
        assert any(hit.target.endswith(token) for hit in feed.hits)  # the token was sent
    text = capsys.readouterr()
    assert "page=1&access_token=****" in text.out + text.err
    assert "item=https://example.org/a1?token=****" in text.err
    assert link_password in hook.posts()[0]["message"]  # the alert's link is whole
    for value in (token, password, link_token, link_password):
        assert value not in text.out + text.err


@pytest.mark.parametrize(("url", "masked"), [
    ("https://u:pw@x.org/f?token=t1&page=2", "https://x.org/f?token=****&page=2"),
    ("https://x.org/f?X-Api-Key=k&sig=&Signature=s#top",
     "https://x.org/f?X-Api-Key=****&sig=&Signature=****#top"),
    ("https://x.org/f?access_token=a&apikey=b&key=c&password=d&secret=e&auth=f",
     "https://x.org/f?access_token=****&apikey=****&key=****&password=****&secret=****"
     "&auth=****"),
    ("https://x.org/f?monkey=1&keyword=2&q=token", "https://x.org/f?monkey=1&keyword=2&q=token"),
    ("https://x.org/feed.xml", "https://x.org/feed.xml"),
])
def test_feed_urls_are_masked_like_channel_urls(url: str, masked: str) -> None:
    assert without_userinfo(url) == masked
