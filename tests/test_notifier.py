"""Notifier end to end: a real SMTP server on loopback, apprise's real Slack
and Telegram plugins with their HTTP requests answered at the transport
(`responses`, which replaces requests' HTTPAdapter.send), and real loopback
webhook receivers that refuse, answer slowly or trickle."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import responses

from monitor.config import ChannelSettings
from monitor.deliver.notifier import (
    Notifier,
    credentials_dir_urls,
    default_format,
    load_channels_file,
    mask_url,
    validate_url,
)
from monitor.errors import ConfigError, DeliveryError
from monitor.models import Alert, Item, Match, Priority, TermHit
from monitor.render import Format, render_alert, render_digest, render_test
from tests.loopback import LoopbackServer
from tests.smtp import LoopbackSMTP
from tests.waiting import wait_for

HOSTILE = "<b>x</b> [click](http://evil) *bold* _u_"
SLACK_TOKEN = "xSECRETslackTOKEN123456"
SLACK_URL = f"slack://T0AAA1111/B0BBB2222/{SLACK_TOKEN}/#alerts"
SLACK_HOOK = f"https://hooks.slack.com/services/T0AAA1111/B0BBB2222/{SLACK_TOKEN}"
BOT_TOKEN = "123456789:AAHsecretBotTokenSECRET0123456789"
TGRAM_URL = f"tgram://{BOT_TOKEN}/-1001234567/"
TGRAM_API = f"https://api.telegram.org/bot{BOT_TOKEN}/sendMessage"


def channel(name: str, *urls: str, **options: object
            ) -> tuple[ChannelSettings, tuple[str, ...]]:
    """A channel as the notifier takes it: settings at their defaults, and URLs."""
    settings: dict[str, object] = dict(
        name=name, urls=urls, format=None, min_priority=Priority.LOW,
        rate_limit=(20, timedelta(minutes=10)), quiet_hours=None, digest=None,
        timezone="UTC", template=None, catch_up=timedelta(days=1),
        connect_timeout=timedelta(seconds=10), read_timeout=timedelta(seconds=60),
        send_timeout=timedelta(seconds=90))
    return ChannelSettings(**{**settings, **options}), urls  # type: ignore[arg-type]


_OPENED: list[Notifier] = []


def opened(*channels: tuple[ChannelSettings, tuple[str, ...]]) -> Notifier:
    """An open notifier for `channels`, closed after the test."""
    notifier = Notifier(channels).open()
    _OPENED.append(notifier)
    return notifier


@pytest.fixture(autouse=True)
def _close_notifiers() -> Iterator[None]:
    yield
    while _OPENED:
        _OPENED.pop().close()


def make_alert(title: str = "Ampère wins the Provots prize") -> Alert:
    item = Item(feed="https://news.example/feed", id="1", title=title,
                summary="André-Marie Ampère was honoured by the Provots committee.",
                link="https://news.example/a?id=1", published=datetime(2024, 5, 1, 14, 3,
                                                                        tzinfo=UTC))
    hits = (TermHit("Ampere", "Ampère", "title", 100), TermHit("Provost", "Provots", "title", 86))
    return Alert(item=item, match=Match("physics", 93, hits), channel="c",
                 feed_title="Science Daily", priority=Priority.HIGH, id=1)


@pytest.fixture
def smtp() -> Iterator[LoopbackSMTP]:
    with LoopbackSMTP(user="monitor", password="pw-SECRET-4242") as server:
        yield server


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def payloads(mock: responses.RequestsMock) -> list[dict[str, object]]:
    return [json.loads(call.request.body) for call in mock.calls]


# --- email --------------------------------------------------------------------


async def test_email_is_multipart_html_and_text(smtp: LoopbackSMTP) -> None:
    notifier = opened(channel("mail", smtp.mailto_url(to="reader@example.com")))
    message = render_alert(make_alert(HOSTILE), Format.HTML)
    result = await notifier.send("mail", message)
    assert result.ok, result.error
    received = smtp.wait_for_message()
    assert received.rcpt_tos == ["reader@example.com"]
    mail = received.message
    assert mail["Subject"] == f"[newsmonitor] physics: {HOSTILE}"
    assert mail.get_content_type() == "multipart/alternative"
    html_part, text_part = mail.get_body(("html",)), mail.get_body(("plain",))
    assert html_part is not None and text_part is not None
    html, text = html_part.get_content(), text_part.get_content()
    assert '<a href="https://news.example/a?id=1">&lt;b&gt;x&lt;/b&gt; [click]' in html
    assert "<b>Ampère</b>" in html
    for fact in ["Science Daily · 2024-05-01 14:03 UTC", "https://news.example/a?id=1",
                 "Matched by physics (score 93): Ampère → Ampere in title, Provots ≈ Provost (86) "
                 "in title",
                 'Sent to the channel “c” by the rule physics. To mute a rule here: in its '
                 '[[rules]] entry, set channels to a list without “c”']:
        assert fact in " ".join(text.split()), fact


async def test_email_digest(smtp: LoopbackSMTP) -> None:
    notifier = opened(channel("mail", smtp.mailto_url()))
    alerts = [make_alert(), make_alert("Second")]
    result = await notifier.send("mail", render_digest(alerts, Format.HTML))
    assert result.ok
    mail = smtp.wait_for_message().message
    assert mail["Subject"] == "[newsmonitor] 2 alerts"
    body = mail.get_body(("plain",))
    assert body is not None and "Second" in body.get_content()


async def test_email_wrong_password_fails_without_leaking_it(
        smtp: LoopbackSMTP, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "wrong-SECRET-pw-777"
    notifier = opened(channel("mail", smtp.mailto_url(password=secret)))
    result = await notifier.send("mail", render_test("mail", Format.HTML))
    assert not result.ok and not smtp.received
    assert result.results[0].error
    assert_no_secret(secret, result, caplog)


# --- chat services --------------------------------------------------------------


async def test_slack_gets_mrkdwn_with_linked_title(http: responses.RequestsMock) -> None:
    http.add(responses.POST, SLACK_HOOK, body="ok")
    notifier = opened(channel("chat", SLACK_URL))
    alert = make_alert(HOSTILE)
    result = await notifier.send("chat", render_alert(alert, Format.MARKDOWN),
                                 priority=alert.priority)
    assert result.ok, result.error
    (payload,) = payloads(http)
    assert payload["channel"] == "#alerts" and payload["mrkdwn"] is True
    attachment = payload["attachments"][0]  # type: ignore[index]
    text = attachment["text"]
    assert "title" not in attachment or not attachment["title"]
    # The link is ours; the feed's markup is inert text inside its label.
    assert text.startswith(
        "*<https://news.example/a?id=1|&lt;b&gt;x&lt;/b&gt; (click)(http://evil) "
        "\\*bold\\* \\_u\\_>*\n")
    assert text.count("<http") == 1
    assert "Source: Science Daily" in text and "Score: 93" in text
    assert "*Ampère*" in text  # highlighted in the excerpt
    assert attachment["color"] == "#CACF29"  # high priority → apprise's warning colour


async def test_telegram_gets_markdown_with_linked_title(http: responses.RequestsMock) -> None:
    http.add(responses.POST, TGRAM_API, json={"ok": True, "result": {}})
    notifier = opened(channel("chat", TGRAM_URL))
    result = await notifier.send("chat", render_alert(make_alert(HOSTILE), Format.MARKDOWN))
    assert result.ok, result.error
    (payload,) = payloads(http)
    assert payload["chat_id"] == -1001234567
    assert payload["parse_mode"] == "MARKDOWN"
    text = str(payload["text"])
    assert text.startswith(
        "*[<b>x</b> (click)(http://evil) \\*bold\\* \\_u\\_](https://news.example/a?id=1)*\n")
    assert "](http://evil" not in text  # no second link anywhere
    assert "*Ampère*" in text


async def test_one_failing_url_does_not_stop_the_others(http: responses.RequestsMock) -> None:
    http.add(responses.POST, SLACK_HOOK, status=500, body="boom")
    http.add(responses.POST, TGRAM_API, json={"ok": True, "result": {}})
    notifier = opened(channel("chat", SLACK_URL, TGRAM_URL))
    result = await notifier.send("chat", render_test("chat", Format.MARKDOWN))
    assert not result.ok
    assert [(r.index, r.ok) for r in result.results] == [(0, False), (1, True)]
    assert "500" in result.results[0].error
    # A retry can go to the failed URL only.
    http.replace(responses.POST, SLACK_HOOK, body="ok")
    retry = await notifier.send("chat", render_test("chat", Format.MARKDOWN), only={0})
    assert retry.ok and [r.index for r in retry.results] == [0]


async def test_429_gives_retry_after(http: responses.RequestsMock) -> None:
    http.add(responses.POST, SLACK_HOOK, status=429, headers={"Retry-After": "42"})
    notifier = opened(channel("chat", SLACK_URL))
    result = await notifier.send("chat", render_test("chat", Format.MARKDOWN))
    assert not result.ok and result.retry_after == 42.0


async def test_apprise_makes_one_attempt_even_with_retry_in_url(
        http: responses.RequestsMock) -> None:
    http.add(responses.POST, SLACK_HOOK, status=500)
    notifier = opened(channel("chat", SLACK_URL.replace("#alerts", "#alerts?retry=3")))
    result = await notifier.send("chat", render_test("chat", Format.MARKDOWN))
    assert not result.ok and len(http.calls) == 1


async def test_unknown_channel_is_a_delivery_error() -> None:
    with pytest.raises(DeliveryError, match="nope"):
        await opened().send("nope", render_test("nope"))


# --- secrets --------------------------------------------------------------------


def assert_no_secret(secret: str, result: object, caplog: pytest.LogCaptureFixture) -> None:
    logged = "\n".join(f"{r.getMessage()} {r.args}" for r in caplog.records)
    assert caplog.records, "expected the failure to be logged"
    assert secret not in logged
    assert secret not in repr(result) and secret not in str(result)


async def test_failing_urls_leak_no_secret(http: responses.RequestsMock,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    http.add(responses.POST, SLACK_HOOK, status=403, body=f"invalid_token {SLACK_TOKEN}")
    http.add(responses.POST, TGRAM_API, status=401,
             json={"ok": False, "description": f"Unauthorized {BOT_TOKEN}"})
    notifier = opened(channel("chat", SLACK_URL, TGRAM_URL))
    result = await notifier.send("chat", render_test("chat", Format.MARKDOWN))
    assert not result.ok and all(r.error for r in result.results)
    for secret in (SLACK_TOKEN, BOT_TOKEN, BOT_TOKEN.split(":")[1]):
        assert_no_secret(secret, result, caplog)
        assert secret not in result.error


@pytest.mark.parametrize(("url", "secret"), [
    ("slack://T0AAA1111/B0BBB2222/bad-SECRET/#x", "bad-SECRET"),
    ("tgram://notatoken-SECRET99/", "notatoken-SECRET99"),
    ("mailto://user:pw-SECRET-1@", "pw-SECRET-1"),
])
def test_invalid_url_message_has_no_secret(url: str, secret: str,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    message = validate_url(url)
    assert message is not None and secret not in message
    assert secret not in caplog.text
    with pytest.raises(ConfigError) as info:
        opened(channel("bad", url))
    assert "channels.bad.urls[0]" in str(info.value) and secret not in str(info.value)


def test_validate_and_mask_good_urls() -> None:
    assert validate_url(SLACK_URL) is None
    assert validate_url(TGRAM_URL) is None
    assert validate_url("console://") is None
    assert SLACK_TOKEN not in mask_url(SLACK_URL)
    assert mask_url(SLACK_URL).startswith("slack://T...1/B...2/x...6/")
    assert BOT_TOKEN.split(":")[1] not in mask_url(TGRAM_URL)
    assert mask_url("nonsense://x?token=SECRETtoken") == "nonsense://****"


# --- console ------------------------------------------------------------------


async def test_console_prints_the_alert(capsys: pytest.CaptureFixture[str]) -> None:
    notifier = opened(channel("tty", "console://"))
    result = await notifier.send("tty", render_alert(make_alert(), Format.TEXT))
    assert result.ok
    out = capsys.readouterr().out
    assert out.startswith("[newsmonitor] physics: Ampère wins the Provots prize\n")
    assert "https://news.example/a?id=1" in out


# --- configuration helpers ------------------------------------------------------


@pytest.mark.parametrize(("spec", "fmt"), [
    ((None, ("mailto://u:p@example.com",)), Format.HTML),
    ((None, (SLACK_URL,)), Format.MARKDOWN),
    ((None, (TGRAM_URL,)), Format.MARKDOWN),
    ((None, ("console://",)), Format.TEXT),
    ((None, ("json://example.com",)), Format.TEXT),
    (("text", (SLACK_URL,)), Format.TEXT),
])
def test_default_format(spec: tuple[str | None, tuple[str, ...]], fmt: Format) -> None:
    assert default_format(*spec) == fmt


def write_private(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_load_channels_file(tmp_path: Path) -> None:
    path = write_private(tmp_path / "apprise.txt", "\n".join([
        "# comment", "; also a comment", "",
        f"ops = {SLACK_URL}", f"ops, night = {TGRAM_URL}", "console://",
    ]))
    assert load_channels_file(path) == {
        "ops": [SLACK_URL, TGRAM_URL], "night": [TGRAM_URL], "": ["console://"]}


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_load_channels_file_refuses_shared_file(tmp_path: Path, mode: int) -> None:
    path = write_private(tmp_path / "apprise.txt", f"ops = {SLACK_URL}", mode)
    with pytest.raises(ConfigError, match=r"apprise\.txt: .*readable by group or others"):
        load_channels_file(path)


def test_load_channels_file_reports_every_bad_line(tmp_path: Path) -> None:
    path = write_private(tmp_path / "apprise.txt", "\n".join([
        "ops = slack://T0AAA1111/B0BBB2222/short-SECRET/", "what is this", f"ok = {SLACK_URL}",
    ]))
    with pytest.raises(ConfigError) as info:
        load_channels_file(path)
    problems = info.value.problems
    assert [p.split(": ")[0] for p in problems] == [f"{path}:1", f"{path}:2"]
    assert "short-SECRET" not in str(info.value)


def test_credentials_dir_urls(tmp_path: Path) -> None:
    write_private(tmp_path / "slack", f"# from LoadCredential=\n{SLACK_URL}\n\n")
    env = {"CREDENTIALS_DIRECTORY": str(tmp_path)}
    assert credentials_dir_urls("slack", env) == [SLACK_URL]
    assert credentials_dir_urls("slack", {}) == []
    with pytest.raises(ConfigError, match="missing"):
        credentials_dir_urls("missing", env)


def test_credentials_default_environment() -> None:
    if "CREDENTIALS_DIRECTORY" not in os.environ:
        assert credentials_dir_urls("anything") == []


# --- lifecycle ----------------------------------------------------------------

PROBE = """
import logging, requests
send = requests.Session.send
import monitor.deliver.notifier
print(requests.Session.send is send, logging.getLogger("apprise").filters == [])
"""


def test_importing_the_notifier_changes_nothing_global() -> None:
    """Issue 10: importing it used to wrap `requests.Session.send` for the
    whole process and put a secret filter on apprise's logger."""
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": str(root)}).stdout
    assert out.split() == ["True", "True"]


def test_open_installs_and_close_removes_the_observer_and_the_redactor() -> None:
    send, apprise_log = requests.Session.send, logging.getLogger("apprise")
    before = list(apprise_log.filters)
    first = Notifier([channel("chat", SLACK_URL)])
    second = Notifier([channel("chat", TGRAM_URL)])
    assert requests.Session.send is send and apprise_log.filters == before
    with first:
        assert requests.Session.send is not send and len(apprise_log.filters) == len(before) + 1
        second.open()  # a reload opens the new notifier before closing the old one
    assert requests.Session.send is not send  # still in use by `second`
    second.close()
    assert requests.Session.send is send and apprise_log.filters == before


async def test_a_closed_notifier_does_not_send() -> None:
    with pytest.raises(DeliveryError, match="not open"):
        await Notifier([channel("tty", "console://")]).send("tty", render_test("tty"))


# --- refusals, slow and trickling receivers (issue 14) ----------------------------


@pytest.mark.parametrize(("status", "permanent"), [
    (413, True), (400, True), (404, True), (408, False), (429, False), (500, False),
    (503, False),
])
async def test_a_4xx_is_a_refusal_for_good(receiver: LoopbackServer, status: int,
                                           permanent: bool) -> None:
    receiver.statuses = [status]
    notifier = opened(channel("hook", receiver.webhook("/h")))
    result = await notifier.send("hook", render_test("hook"))
    assert not result.ok and result.permanent is permanent
    assert result.results[0].error == f"HTTP {status}"


async def test_a_slow_receiver_is_waited_for(receiver: LoopbackServer) -> None:
    """A webhook answering after 6 s: apprise's default read timeout (4 s)
    made that a failure, retried three times (issue 14.4)."""
    receiver.delay = 6
    notifier = opened(channel("hook", receiver.webhook("/h")))
    result = await notifier.send("hook", render_test("hook"))
    assert result.ok, result.error
    assert receiver.attempts() == 1


async def test_timeouts_are_channel_settings_and_a_timeout_is_an_unknown_outcome(
        receiver: LoopbackServer) -> None:
    receiver.delay = 1.5
    url = receiver.webhook("/h")
    notifier = opened(channel("short", url, read_timeout=timedelta(seconds=0.5)),
                      channel("url-says", f"{url}?rto=5", read_timeout=timedelta(seconds=0.5)))
    short = await notifier.send("short", render_test("short"))
    assert not short.ok and short.unknown and not short.permanent
    assert "may have it" in short.error
    assert (await notifier.send("url-says", render_test("url-says"))).ok  # ?rto= wins


async def test_a_trickling_receiver_is_cut_off_at_the_send_timeout(
        receiver: LoopbackServer) -> None:
    """One byte every 0.5 s never trips a read timeout; the send timeout
    still ends the send, and really: the receiver sees the connection cut."""
    receiver.trickle = 0.5
    notifier = opened(channel("hook", receiver.webhook("/h"),
                              send_timeout=timedelta(seconds=2)))
    started = time.monotonic()
    result = await notifier.send("hook", render_test("hook"))
    assert time.monotonic() - started < 3
    assert not result.ok and result.unknown
    wait_for(lambda: receiver.cut == 1, timeout=5)
