"""Plain text: for the console and any target without markup. Nothing needs
escaping; links are shown bare, and only when they are http(s); the
excerpt's matched words stand between guillemets («Julia»), the one mark
of emphasis plain text has that a feed's text rarely carries."""

from __future__ import annotations

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


class TextRenderer:
    name = "text"
    title_in_body = False
    # Text goes to the console and to targets without markup (SMS gateways,
    # pagers, ...): the chat ceiling, for want of a better one.
    limits = Limits(body=4000, entries=30)

    def escape(self, text: str) -> str:
        return text

    def highlight(self, segments: Segments) -> str:
        return "".join(f"«{piece}»" if matched else piece for piece, matched in segments)

    def link(self, text: str, url: str) -> str:
        target = safe_link(url)
        return f"{text} <{target}>" if target else text

    def alert(self, alerts: Sequence[Alert], tz: tzinfo | None) -> str:
        alert = alerts[0]
        link = safe_link(alert.item.link)
        lines = [title(alert, self.limits), *([link] if link else [])]
        lines += [f"{label}: {value}" for label, value in facts(alerts, tz, self.limits)]
        text = self.highlight(alert_excerpt(alerts))
        blocks = [lines[0], *(f"\n{line}" for line in lines[1:])]
        return fit([*blocks, f"\n\n{text}"] if text else blocks, self.limits.body)

    def entry(self, alert: Alert, tz: tzinfo | None) -> str:
        facts_ = entry_facts(alert, tz, self.limits)
        return f"- {self.link(title(alert, self.limits), alert.item.link)} ({facts_})"

    def group(self, rule: str, count: int, entries: Sequence[str]) -> str:
        return "\n".join([f"{rule} ({count})", *entries])

    def more(self, hidden: int) -> str:
        return more_text(hidden)

    def closing(self, alerts: Sequence[Alert]) -> str:
        return ""  # chat: the rule of each group is its heading, and that is enough

    def digest(self, title: str, groups: Sequence[str]) -> str:
        return "\n\n".join(groups)

    def test(self, title: str, text: str) -> str:
        return text
