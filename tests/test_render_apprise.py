"""Property: stranger text escaped by render stays inert through apprise's own
CommonMark → HTML conversion (what an email or Matrix target would get)."""

from __future__ import annotations

import re

from apprise.common import NotifyFormat
from apprise.conversion import convert_between
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.render import escape_markdown, md_link

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
