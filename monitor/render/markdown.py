"""CommonMark, for chat targets: apprise translates it into Slack mrkdwn,
Telegram Markdown, Discord, Matrix..., turning our escapes into each
dialect's own.

Stranger text gets CommonMark backslash escapes for the characters that start
markup; link text goes inside `[...]` and link targets inside `<...>` with
`<`, `>` and spaces percent-encoded (`safe_link`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import tzinfo

from monitor.models import Alert
from monitor.render.facts import (
    Limits,
    Segments,
    alert_excerpt,
    entry_facts,
    facts,
    fit,
    more_text,
    safe_link,
    title,
)

# CommonMark lets any ASCII punctuation be backslash-escaped; we escape only
# the characters that start links, emphasis, code, headings or inline HTML,
# because apprise keeps other escapes verbatim for Slack (`\\.` would show its
# backslash) and neither Slack nor Telegram knows lists or block quotes.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]()<>#])")


def escape_markdown(text: str) -> str:
    """`text` as literal CommonMark: no emphasis, link, code, heading or HTML."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def md_link(text: str, url: str) -> str:
    """A CommonMark link whose text and target cannot break out; plain text
    when the URL is not http(s)."""
    target = safe_link(url)
    if not target:
        return escape_markdown(text)
    # Telegram's legacy Markdown (apprise's default for tgram://) honours no
    # escape inside link text, so a "]" there would end the label early and a
    # following "(http://evil)" would become the link: brackets become
    # parentheses in link text.
    # A blank line would end the paragraph, and with it the link.
    label = " ".join(text.replace("[", "(").replace("]", ")").split())
    label = escape_markdown(label)
    return f"[{label}](<{target}>)"


class MarkdownRenderer:
    name = "markdown"
    # Apprise puts a title through each chat dialect unescaped (Telegram makes
    # it bold Markdown, so a feed's title could carry a link): our bodies start
    # with the escaped title instead.
    title_in_body = True
    # Telegram takes 4096 characters (Slack 40,000): room for the smallest.
    limits = Limits(body=4000, entries=30)

    def escape(self, text: str) -> str:
        return escape_markdown(text)

    def highlight(self, segments: Segments) -> str:
        return "".join(f"**{escape_markdown(piece)}**" if bold else escape_markdown(piece)
                       for piece, bold in segments)

    def link(self, text: str, url: str) -> str:
        return md_link(text, url)

    def alert(self, alerts: Sequence[Alert], tz: tzinfo | None) -> str:
        alert = alerts[0]
        blocks = [f"**{md_link(title(alert, self.limits), alert.item.link)}**"]
        blocks += [f"\n{label}: {escape_markdown(value)}"
                   for label, value in facts(alerts, tz, self.limits)]
        text = self.highlight(alert_excerpt(alerts))
        # Two trailing spaces would be a CommonMark hard break; a blank line
        # between facts would waste space in chat, so facts use separate lines
        # and the excerpt its own paragraph.
        return fit([*blocks, f"\n\n{text}"] if text else blocks, self.limits.body)

    def entry(self, alert: Alert, tz: tzinfo | None) -> str:
        facts_ = escape_markdown(entry_facts(alert, tz, self.limits))
        return f"- {md_link(title(alert, self.limits), alert.item.link)} ({facts_})"

    def group(self, rule: str, count: int, entries: Sequence[str]) -> str:
        return "\n".join([f"**{escape_markdown(rule)}** ({count})", *entries])

    def more(self, hidden: int) -> str:
        return escape_markdown(more_text(hidden))

    def closing(self, alerts: Sequence[Alert]) -> str:
        return ""  # chat: the rule of each group is its heading, and that is enough

    def digest(self, title: str, groups: Sequence[str]) -> str:
        return "\n\n".join([self._heading(title), *groups])

    def test(self, title: str, text: str) -> str:
        return f"{self._heading(title)}\n\n{escape_markdown(text)}"

    def _heading(self, title: str) -> str:
        return f"**{escape_markdown(title)}**"
