"""Rendering: golden outputs per format, and hostile titles stay inert.

Golden files live in tests/golden/render/; after an intended change rewrite
them with `NEWSMONITOR_UPDATE_GOLDEN=1 pytest tests/test_render.py` and
review the diff.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pydantic
import pytest

from monitor.config import ChannelModel, load
from monitor.errors import ConfigError
from monitor.matcher import compile_rules
from monitor.models import Alert, Item, Match, Priority, TermHit
from monitor.poll.alerts import make_alerts
from monitor.render import (
    FORMAT_NAMES,
    RENDERERS,
    Format,
    Message,
    describe_hit,
    escape_markdown,
    excerpt,
    load_template,
    md_link,
    render_alert,
    render_digest,
    render_test,
    safe_link,
)

GOLDEN = Path(__file__).parent / "golden" / "render"
HOSTILE = "<b>x</b> [click](http://evil) *bold* _u_ `code` #h & <script>alert(1)</script>"
WHEN = datetime(2024, 5, 1, 14, 3, tzinfo=UTC)


def make_alert(title: str = "Ampère wins the Provots prize", *, rule: str = "physics",
               link: str = "https://news.example/a?id=1&x=(2)", alert_id: int = 1,
               summary: str = "") -> Alert:
    item = Item(feed="https://news.example/feed", id=f"i{alert_id}", title=title,
                summary=summary or "In Lyon, André-Marie Ampère was honoured yesterday; "
                "the Provots committee cited his work on electrodynamics.",
                link=link, published=WHEN)
    hits = (TermHit("Ampere", "Ampère", "title", 100), TermHit("Provost", "Provots", "title", 86))
    return Alert(item=item, match=Match(rule, 93, hits), channel="c", feed_title="Science Daily",
                 priority=Priority.NORMAL, id=alert_id)


def check_golden(name: str, message: Message) -> None:
    path = GOLDEN / name
    text = f"title: {message.title}\nformat: {message.format}\n\n{message.body}\n"
    if os.environ.get("NEWSMONITOR_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("fmt", list(RENDERERS))
def test_alert_golden(fmt: Format) -> None:
    check_golden(f"alert.{fmt}", render_alert(make_alert(), fmt))


@pytest.mark.parametrize("fmt", list(RENDERERS))
def test_digest_golden(fmt: Format) -> None:
    alerts = [make_alert(alert_id=1), make_alert("Second [story]", rule="people", alert_id=2),
              make_alert("Third", alert_id=3, link="")]
    check_golden(f"digest.{fmt}", render_digest(alerts, fmt))


@pytest.mark.parametrize("fmt", list(RENDERERS))
def test_test_message_golden(fmt: Format) -> None:
    check_golden(f"test.{fmt}", render_test("ops", fmt))


def test_every_registered_format_is_a_config_choice() -> None:
    assert [str(ChannelModel(format=name).format) for name in FORMAT_NAMES] == list(FORMAT_NAMES)
    with pytest.raises(pydantic.ValidationError) as error:
        ChannelModel(format="rtf")
    assert all(repr(name) in str(error.value) for name in FORMAT_NAMES)


# --- an item that several rules matched ----------------------------------------


def rules_alerts() -> list[Alert]:
    """One item, matched by two rules that share a term (and repeat hits)."""
    physics = make_alert()
    ampere = TermHit("Ampere", "Ampère", "title", 100)
    companies = Alert(item=physics.item, match=Match("companies", 80, (
        TermHit("Renault", "Renault", "title", 100), ampere, ampere,
        TermHit("liquid*", "liquidation", "summary", 100))),
        channel="c", feed_title="Science Daily", priority=Priority.HIGH, id=2)
    return [companies, physics]


@pytest.mark.parametrize("fmt", list(RENDERERS))
def test_several_rules_golden(fmt: Format) -> None:
    check_golden(f"alert-rules.{fmt}", render_alert(rules_alerts(), fmt))


def test_several_rules_each_say_what_they_matched_once() -> None:
    body = render_alert(rules_alerts(), Format.TEXT).body
    assert body.count("Rule: ") == 2
    assert ("Rule: physics (score 93): Ampère → Ampere in title, Provots ≈ Provost (86) in title"
            "\n") in body
    assert ("Rule: companies (score 80): Renault in title, Ampère → Ampere in title, "
            "liquidation → liquid* in summary\n") in body
    assert "Matched:" not in body and "Score:" not in body


def test_several_rules_keep_the_subject_short() -> None:
    alerts = [replace(make_alert(), match=Match(f"rule-{i}", 50 + i)) for i in range(6)]
    title = render_alert(alerts, Format.HTML).title
    assert title == "[newsmonitor] rule-5 +5: Ampère wins the Provots prize"


def test_render_alert_takes_one_item_only() -> None:
    with pytest.raises(ValueError, match="one item"):
        render_alert([make_alert(alert_id=1), make_alert(alert_id=2)], Format.TEXT)


def test_user_template_sees_each_rule(tmp_path: Path) -> None:
    path = tmp_path / "rules.j2"
    path.write_text("{% for r in rules %}{{ r.name }}={{ r.terms | join('+') }};{% endfor %}"
                    "|{{ rule }}")
    body = render_alert(rules_alerts(), Format.TEXT, load_template(path)).body
    assert body == ("physics=Ampère → Ampere in title+Provots ≈ Provost (86) in title;"
                    "companies=Renault in title+Ampère → Ampere in title+liquidation → liquid* "
                    "in summary;|companies, physics")


def test_alert_shows_every_fact() -> None:
    body = render_alert(make_alert(), Format.TEXT).body
    for fact in ["Ampère wins the Provots prize", "Science Daily", "https://news.example/a",
                 "2024-05-01 14:03 UTC", "physics", "93", "Ampère → Ampere",
                 "Provots ≈ Provost (86)"]:
        assert fact in body


def test_subject() -> None:
    alert = make_alert("Line one\nline two")
    assert render_alert(alert, Format.HTML).title == "[newsmonitor] physics: Line one line two"


def test_time_in_channel_timezone() -> None:
    body = render_alert(make_alert(), Format.TEXT, tz=ZoneInfo("Europe/Paris")).body
    assert "2024-05-01 16:03 CEST" in body


@pytest.mark.parametrize(("hit", "shown"), [
    (TermHit("Ampere", "Ampère", "title", 100), "Ampère → Ampere"),
    (TermHit("Provost", "Provots", "title", 86), "Provots ≈ Provost (86)"),
    (TermHit("Lyon", "Lyon", "title", 100), "Lyon"),
])
def test_describe_hit(hit: TermHit, shown: str) -> None:
    assert describe_hit(hit) == shown


def test_excerpt_highlights_and_cuts() -> None:
    text = "word " * 100 + "the Ampère effect " + "tail " * 100
    segments = excerpt(text, ["ampère"], width=60)
    assert ("Ampère", True) in segments
    assert segments[0] == ("…", False) and segments[-1] == ("…", False)
    assert sum(len(piece) for piece, _ in segments) <= 62


# --- hostile input --------------------------------------------------------------


def markdown_structure(body: str) -> dict[str, list[str]]:
    """Links and emphasis a CommonMark reader would see (unescaped markup)."""
    unescaped = r"(?<!\\)"
    return {
        "links": re.findall(unescaped + r"\]\(<?([^)>]*)", body),
        "code": re.findall(unescaped + r"`", body),
        "html": re.findall(unescaped + r"<(?!https?://)[a-z/]", body),
    }


def test_markdown_hostile_title_is_inert() -> None:
    body = render_alert(make_alert(HOSTILE, summary=HOSTILE), Format.MARKDOWN).body
    found = markdown_structure(body)
    assert found["links"] == ["https://news.example/a?id=1&x=%282%29"]
    assert found["code"] == [] and found["html"] == []
    # Emphasis only where we put it: the title line and the highlighted words.
    assert re.findall(r"(?<!\\)\*\*", body).count("**") % 2 == 0
    assert "\\*bold\\*" in body and "\\_u\\_" in body and "\\#h" in body


def test_markdown_link_text_cannot_close_early() -> None:
    # Telegram's legacy Markdown has no escapes inside link text.
    link = md_link("a] (b)[c", "https://x.example/")
    assert link == "[a\\) \\(b\\)\\(c](<https://x.example/>)"


@pytest.mark.parametrize(("url", "safe"), [
    ("https://x.example/a b", "https://x.example/a%20b"),
    ("https://x.example/<x>", "https://x.example/%3Cx%3E"),
    ("javascript:alert(1)", None),
    ("data:text/html,x", None),
    ("//evil.example/", None),
    ("", None),
])
def test_safe_link(url: str, safe: str | None) -> None:
    assert safe_link(url) == safe


def test_non_http_link_is_not_linked() -> None:
    alert = make_alert(link="javascript:alert(1)")
    for fmt in Format:
        assert "javascript" not in render_alert(alert, fmt).body


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def test_html_hostile_title_is_inert() -> None:
    body = render_alert(make_alert(HOSTILE, summary=HOSTILE), Format.HTML).body
    parser = _Tags()
    parser.feed(body)
    # Our layout's tags only, and no attribute but our links and inline styles.
    assert {tag for tag, _ in parser.tags} <= {"div", "p", "b", "a", "br", "span"}
    assert all(name == "style" for tag, attrs in parser.tags if tag != "a" for name, _ in attrs)
    assert [attrs for tag, attrs in parser.tags if tag == "a"] == [
        [("href", "https://news.example/a?id=1&x=%282%29")]]
    assert "&lt;script&gt;" in body


def test_escape_markdown() -> None:
    assert escape_markdown("a*b_c[d](e)`f`<g>#h\\") == (
        "a\\*b\\_c\\[d\\]\\(e\\)\\`f\\`\\<g\\>\\#h\\\\")


def test_render_test_message() -> None:
    message = render_test("ops", Format.MARKDOWN)
    assert message.title == "[newsmonitor] test: ops" and "ops" in message.body


# --- user templates -------------------------------------------------------------


def test_user_template_markdown(tmp_path: Path) -> None:
    path = tmp_path / "alert.md.j2"
    path.write_text("{{ rule }} | {{ title | md }} | {{ terms | join(', ') }}")
    body = render_alert(make_alert("*x*"), Format.MARKDOWN, load_template(path)).body
    assert body == "physics | \\*x\\* | Ampère → Ampere in title, Provots ≈ Provost (86) in title"


def test_user_template_html_is_autoescaped(tmp_path: Path) -> None:
    path = tmp_path / "alert.html"
    path.write_text('<a href="{{ link }}">{{ title }}</a>')
    body = render_alert(make_alert("<b>x</b>"), Format.HTML, load_template(path)).body
    assert body == '<a href="https://news.example/a?id=1&amp;x=%282%29">&lt;b&gt;x&lt;/b&gt;</a>'


def test_user_template_is_sandboxed(tmp_path: Path) -> None:
    path = tmp_path / "evil.txt"
    path.write_text("{{ item.__class__.__mro__ }}")
    with pytest.raises(ConfigError, match=r"evil\.txt: template failed: .*unsafe"):
        render_alert(make_alert(), Format.TEXT, load_template(path))


@pytest.mark.parametrize(("source", "line"), [
    ("ok\n{% if %}\n", 2),
    ("{{ title }\n", 1),
    ("a\nb\n{% for x in y %}\n", 3),
])
def test_template_syntax_error_names_file_and_line(tmp_path: Path, source: str,
                                                  line: int) -> None:
    path = tmp_path / "bad.j2"
    path.write_text(source)
    with pytest.raises(ConfigError, match=rf"bad\.j2:{line}: template syntax error"):
        load_template(path)


def test_template_unknown_variable_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "typo.j2"
    path.write_text("{{ titel }}")
    with pytest.raises(ConfigError, match=r"typo\.j2: template failed: 'titel' is undefined"):
        render_alert(make_alert(), Format.TEXT, load_template(path))


def test_missing_template_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.j2"):
        load_template(tmp_path / "missing.j2")


def test_html_footer_names_the_rules_and_how_to_mute_one() -> None:
    """Alert and digest alike: which rules sent it to which channel, and the
    config lines that stop one of them there."""
    alert = replace(make_alert(), channel="email")
    digest = [alert, replace(make_alert("Second", rule="people", alert_id=2), channel="email")]
    for body, rules in ((render_alert(alert, Format.HTML).body, "the rule physics"),
                        (render_digest(digest, Format.HTML).body, "the rules physics and people")):
        text = " ".join(re.sub(r"<[^>]+>", "", body).split())
        assert f"Sent to the channel “email” by {rules}." in text
        assert ("To mute a rule here: in its [[rules]] entry, set channels to a list without "
                "“email”" in text)
        assert 'priority = &quot;low&quot; there and min_priority = &quot;normal&quot;' in text
        assert "[channels.email]" in text
    for fmt in (Format.TEXT, Format.MARKDOWN):
        assert "mute" not in render_digest(digest, fmt).body


FOOTER_CONFIG = """
[monitor]
database = "state.sqlite3"
default_channels = ["email", "chat"]

[channels.email]
url = "mailto://me@example.org"
{email}

[channels.chat]
url = "json://127.0.0.1:9/hook"

[[feeds]]
name = "news"
url = "https://news.example/feed"

[[rules]]
name = "physics"
any = ["Ampère"]
{physics}

[[rules]]
name = "people"
any = ["Ampère"]
"""


@pytest.mark.parametrize(("email", "physics"), [
    ("", ""),
    ("", 'channels = ["chat"]'),                          # the footer's first way
    ('min_priority = "normal"', 'priority = "low"'),     # and its second
])
def test_following_the_footers_advice_mutes_the_rule_there(
        tmp_path: Path, email: str, physics: str) -> None:
    path = tmp_path / "monitor.toml"
    path.write_text(FOOTER_CONFIG.format(email=email, physics=physics), encoding="utf-8")
    settings = load(path)
    item = Item(feed="news", id="1", title="Ampère", summary="")
    alerts = make_alerts(settings, compile_rules(settings.rules), settings.feeds[0], [item])
    sent = {(a.match.rule, a.channel) for a in alerts}
    muted = bool(email or physics)
    assert (("physics", "email") in sent) is not muted
    assert {("physics", "chat"), ("people", "email"), ("people", "chat")} <= sent
