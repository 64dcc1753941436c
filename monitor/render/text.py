"""Plain text: for the console and any target without markup. Nothing needs
escaping; links are shown bare, and only when they are http(s)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo

from monitor.models import Alert
from monitor.render.facts import Segments, alert_excerpt, entry_facts, facts, safe_link


class TextRenderer:
    name = "text"
    title_in_body = False

    def escape(self, text: str) -> str:
        return text

    def highlight(self, segments: Segments) -> str:
        return "".join(piece for piece, _ in segments)

    def link(self, text: str, url: str) -> str:
        target = safe_link(url)
        return f"{text} <{target}>" if target else text

    def alert(self, alert: Alert, tz: tzinfo | None) -> str:
        lines = [alert.item.title]
        link = safe_link(alert.item.link)
        if link:
            lines.append(link)
        lines += [f"{label}: {value}" for label, value in facts(alert, tz)]
        text = self.highlight(alert_excerpt(alert))
        return "\n".join([*lines, "", text] if text else lines)

    def entry(self, alert: Alert, tz: tzinfo | None) -> str:
        return f"- {self.link(alert.item.title, alert.item.link)} ({entry_facts(alert, tz)})"

    def group(self, rule: str, count: int, entries: Sequence[str]) -> str:
        return "\n".join([f"{rule} ({count})", *entries])

    def digest(self, title: str, groups: Sequence[str]) -> str:
        return "\n\n".join(groups)

    def test(self, title: str, text: str) -> str:
        return text
