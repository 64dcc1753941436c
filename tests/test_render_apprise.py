"""Render through apprise: stranger text escaped by render stays inert through
apprise's own CommonMark → HTML conversion (what an email or Matrix target
would get), and what apprise's email plugin derives from our HTML (the
text/plain part) still has what a reader needs."""

from __future__ import annotations

import re

from apprise.common import NotifyFormat
from apprise.conversion import convert_between
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.deliver.notifier import Notifier
from monitor.models import Alert, Item, Match, TermHit
from monitor.render import Format, Message, escape_markdown, md_link, render_alert, render_digest
from tests.smtp import LoopbackSMTP
from tests.test_notifier import channel

# Markup characters weighted up so that hostile combinations are common.
HOSTILE = st.text(alphabet=st.sampled_from(list("ab <>/[]()*_`#!&:\\\"'=hxtps.\n-")), max_size=60)
# (newlines included: a blank line inside link text would end the link)
INLINE = re.compile(r"<(a|img|script|code|em|strong|iframe|b|i)\b", re.IGNORECASE)


@settings(max_examples=300, deadline=None)
@given(HOSTILE)
def test_escaped_text_makes_no_inline_markup(text: str) -> None:
    html = convert_between(NotifyFormat.MARKDOWN, NotifyFormat.HTML, escape_markdown(text))
    assert not INLINE.search(html), html


@settings(max_examples=300, deadline=None)
@given(HOSTILE)
def test_link_text_makes_exactly_one_link(text: str) -> None:
    html = convert_between(NotifyFormat.MARKDOWN, NotifyFormat.HTML,
                           md_link(text, "https://news.example/a"))
    assert re.findall(r"<a\b[^>]*>", html) == ['<a href="https://news.example/a">'], html
    assert not re.search(r"<(img|script|code|em|strong)\b", html), html


# --- the email's text/plain part ------------------------------------------------
# Apprise's email plugin makes it from our HTML, keeping only the text of links.

LINK = "https://news.example/a?id=1&x=(2)"


def news_alert(title: str, alert_id: int = 1) -> Alert:
    item = Item(feed="https://news.example/feed", id=str(alert_id), title=title,
                summary="André-Marie Ampère was honoured.", link=LINK)
    hit = TermHit("Ampere", "Ampère", "title", 100)
    return Alert(item=item, match=Match("physics", 93, (hit,)), channel="mail",
                 feed_title="Science Daily", id=alert_id)


async def plain_part(message: Message) -> str:
    with LoopbackSMTP() as smtp:
        with Notifier([channel("mail", smtp.mailto_url())]) as notifier:
            result = await notifier.send("mail", message)
        assert result.ok, result.error
        part = smtp.wait_for_message().message.get_body(("plain",))
    assert part is not None
    text: str = part.get_content()
    return text


async def test_email_text_part_has_the_article_link() -> None:
    text = await plain_part(render_alert(news_alert("Ampère wins"), Format.HTML))
    assert "https://news.example/a?id=1&x=%282%29" in text


async def test_email_digest_text_part_has_each_article_link() -> None:
    alerts = [news_alert("Ampère wins", 1), news_alert("Ampère again", 2)]
    text = await plain_part(render_digest(alerts, Format.HTML))
    assert text.count("https://news.example/a?id=1&x=%282%29") == 2
