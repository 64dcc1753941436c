"""Length caps: every rendered message stays within its format's limits, with
hostile sizes in every piece of stranger text (a feed once sent a 5 MB title),
and no cut falls inside an escape or a link."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.errors import ConfigError
from monitor.models import Alert, Item, Match, TermHit
from monitor.render import (
    RENDERERS,
    Format,
    Message,
    load_template,
    render_alert,
    render_digest,
    safe_link,
)
from monitor.render.facts import clip
from tests.waiting import at_most

HUGE = 5_000_000
# Each character escapes to the longest form its format has (`\*`, `&lt;`).
MARKUP = "<*&[]_"
WHEN = datetime(2024, 5, 1, 14, 3, tzinfo=UTC)


def alert(*, title: str = "A title", summary: str = "Some summary with Ampère in it.",
          link: str = "https://news.example/a", feed: str = "Science Daily",
          rule: str = "physics", hits: int = 1, n: int = 1) -> Alert:
    item = Item(feed="https://news.example/feed", id=f"i{n}", title=title, summary=summary,
                link=link, published=WHEN)
    terms = tuple(TermHit(f"term{i}" * 5, f"word{i}" * 5, "title", 100) for i in range(hits))
    match = Match(rule, 93, (TermHit("Ampere", "Ampère", "summary", 100), *terms))
    return Alert(item=item, match=match, channel="c", feed_title=feed, id=n)


HOSTILE_ALERTS = {
    "title": alert(title="A" * HUGE),
    "markup title": alert(title=MARKUP * (HUGE // len(MARKUP))),
    "summary": alert(summary=("Ampère " + MARKUP) * (HUGE // 13)),
    "link": alert(link="https://news.example/" + "a" * HUGE),
    "feed name": alert(feed=MARKUP * (HUGE // len(MARKUP))),
    "rule name": alert(rule=MARKUP * 100_000),
    "many terms": alert(hits=10_000),
    "all at once": alert(title=MARKUP * 1_000_000, summary=("Ampère " + MARKUP) * 400_000,
                         link="https://news.example/" + "(" * 1000, feed=MARKUP * 100_000,
                         rule=MARKUP * 100_000, hits=10_000),
}


def assert_well_formed(message: Message) -> None:
    """No escape or entity cut in half, no link cut or left open."""
    body = message.body
    if message.format is Format.MARKDOWN:
        # Every backslash escapes one of the characters escape_markdown escapes.
        assert not re.search(r"\\(?![\\`*_\[\]()<>#])", body.replace("\\\\", ""))
        assert body.count("](<") == body.count(">)")
    if message.format is Format.HTML:
        assert not re.search(r"&(?!(lt|gt|amp|quot|#x27);)", body)
        assert body.count("<a ") == body.count("</a>")


@pytest.mark.parametrize("fmt", list(RENDERERS))
@pytest.mark.parametrize("case", HOSTILE_ALERTS)
def test_hostile_alert_fits(case: str, fmt: Format) -> None:
    limits = RENDERERS[fmt].limits
    with at_most(10):  # a render holds its channel's loop: 10,000 hits once took 2 min
        message = render_alert(HOSTILE_ALERTS[case], fmt)
    assert len(message.body) <= limits.body
    assert len(message.title) <= len("[newsmonitor] : ") + limits.rule + limits.title
    assert_well_formed(message)


@pytest.mark.parametrize("fmt", list(RENDERERS))
def test_hostile_content_excerpt_fits(fmt: Format) -> None:
    """Issue 13: the excerpt of a 5 MB content matched in its middle (the
    whole content, as `rules explain` or a user template may see it)."""
    half = MARKUP * (HUGE // 2 // len(MARKUP))
    base = alert()
    item = replace(base.item, content=f"{half} Ampère{MARKUP} {half}")
    hits = (TermHit("Ampere", "Ampère", "content", 100),) * 100
    message = render_alert(replace(base, item=item, match=Match("physics", 93, hits)), fmt)
    assert len(message.body) <= RENDERERS[fmt].limits.body
    assert "Ampère → Ampere in content" in message.body
    assert re.search(r"«Ampère»|\*\*Ampère\*\*|<b>Ampère</b>", message.body)
    assert_well_formed(message)


@pytest.mark.parametrize("fmt", list(RENDERERS))
def test_many_rules_on_one_item_fit(fmt: Format) -> None:
    base = alert(hits=0)
    alerts = [replace(base, match=Match(MARKUP * 50 + str(i), 50, tuple(
        TermHit(f"t{j}" * 40, f"w{j}" * 40, "title", 100) for j in range(20))))
        for i in range(500)]
    message = render_alert(alerts, fmt)
    assert len(message.body) <= RENDERERS[fmt].limits.body
    assert message.title.endswith(" +499: A title")
    assert_well_formed(message)


@pytest.mark.parametrize("fmt", list(RENDERERS))
def test_long_title_is_cut_with_an_ellipsis(fmt: Format) -> None:
    message = render_alert(alert(title="Word " * 1000), fmt)
    limit = RENDERERS[fmt].limits.title
    assert "Word " * ((limit - 1) // 5) in message.body
    assert "Word " * (limit // 5 + 1) not in message.body
    assert "…" in message.body and message.title.endswith("…")


@pytest.mark.parametrize("fmt", list(RENDERERS))
def test_a_short_alert_is_not_cut(fmt: Format) -> None:
    message = render_alert(alert(), fmt)
    assert "…" not in message.body and "Ampère" in message.body


@pytest.mark.parametrize("fmt", list(RENDERERS))
@pytest.mark.parametrize("case", ["title", "markup title", "link", "feed name", "all at once"])
def test_hostile_digest_fits_and_counts_the_rest(case: str, fmt: Format) -> None:
    limits = RENDERERS[fmt].limits
    hostile = HOSTILE_ALERTS[case]
    alerts = [Alert(item=hostile.item, match=hostile.match, channel="c",
                    feed_title=hostile.feed_title, id=i) for i in range(1000)]
    message = render_digest(alerts, fmt)
    assert len(message.body) <= limits.body
    shown = message.body.count("A…") if case == "title" else None
    hidden = int(re.findall(r"… and (\d+) more", message.body)[-1])
    assert 0 < 1000 - hidden <= limits.entries
    if shown is not None:
        assert shown == 1000 - hidden
    assert_well_formed(message)


@pytest.mark.parametrize("fmt", list(RENDERERS))
def test_digest_shows_at_most_its_entries(fmt: Format) -> None:
    limits = RENDERERS[fmt].limits
    alerts = [alert(title=f"Story {i}", n=i) for i in range(limits.entries + 7)]
    body = render_digest(alerts, fmt).body
    assert "Story 0" in body and f"Story {limits.entries - 1}" in body
    assert f"Story {limits.entries} " not in body and "… and 7 more" in body


@pytest.mark.parametrize("fmt", list(RENDERERS))
def test_small_digest_has_no_more_line(fmt: Format) -> None:
    body = render_digest([alert(n=1), alert(n=2)], fmt).body
    assert "more" not in body


@pytest.mark.parametrize(("text", "limit", "cut"), [
    ("abcdef", 6, "abcdef"),
    ("abcdefg", 6, "abcde…"),
    ("e\u0301e\u0301e\u0301e\u0301", 4, "e\u0301…"),  # not between e and its accent
    ("ab\U0001F469\u200d\U0001F52Cxyz", 4, "ab…"),  # not inside a ZWJ emoji
])
def test_clip(text: str, limit: int, cut: str) -> None:
    assert clip(text, limit) == cut


def test_overlong_link_is_left_out_not_cut() -> None:
    assert safe_link("https://news.example/" + "a" * 3000) is None
    assert safe_link("https://news.example/" + "a" * 1000)


def test_template_sees_capped_values(tmp_path: Path) -> None:
    path = tmp_path / "alert.j2"
    path.write_text("{{ title }}|{{ summary }}|{{ feed }}")
    huge = alert(title="T" * HUGE, summary="S" * HUGE, feed="F" * HUGE)
    limits = RENDERERS[Format.TEXT].limits
    body = render_alert(huge, Format.TEXT, load_template(path)).body
    title, summary, feed = body.split("|")
    assert (len(title), len(summary), len(feed)) == (limits.title, limits.summary, limits.feed)


def test_template_output_over_the_ceiling_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "raw.j2"
    path.write_text("{{ item.summary }}")
    with pytest.raises(ConfigError, match=r"raw\.j2: template output too long"):
        render_alert(alert(summary="S" * HUGE), Format.TEXT, load_template(path))
