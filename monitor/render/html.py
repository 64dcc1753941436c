"""HTML, for email (and Matrix): stranger text through `html.escape`, quotes
too, since links go in attributes; only http(s) links become `<a>`."""

from __future__ import annotations

import html
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


def html_link(text: str, url: str) -> str:
    target = safe_link(url)
    label = html.escape(text)
    return f'<a href="{html.escape(target)}">{label}</a>' if target else label


def shown_url(url: str) -> str:
    """The URL as visible text, after a line break ("" when not http(s)).

    Apprise makes an email's text/plain part from our HTML and keeps only the
    text of a link, not its target: without this the plain part had no link.
    """
    target = safe_link(url)
    return f"<br>{html.escape(target)}" if target else ""


class HtmlRenderer:
    name = "html"
    title_in_body = False
    # Email takes any size, but Matrix (also HTML) refuses events over 64 KiB,
    # which hold this body and apprise's text version of it.
    limits = Limits(body=30_000, entries=200)

    def escape(self, text: str) -> str:
        return html.escape(text)

    def highlight(self, segments: Segments) -> str:
        return "".join(f"<b>{html.escape(piece)}</b>" if bold else html.escape(piece)
                       for piece, bold in segments)

    def link(self, text: str, url: str) -> str:
        return html_link(text, url)

    def alert(self, alerts: Sequence[Alert], tz: tzinfo | None) -> str:
        alert = alerts[0]
        # Lines rather than a table: apprise derives the email's text/plain part
        # from this HTML, and a table would put each label and value on its own line.
        facts_ = "<br>".join(f"<b>{html.escape(label)}:</b> {html.escape(value)}"
                             for label, value in facts(alerts, tz, self.limits))
        text = self.highlight(alert_excerpt(alerts))
        link = html_link(title(alert, self.limits), alert.item.link)
        blocks = [f"<p><b>{link}</b>{shown_url(alert.item.link)}</p>", f"\n<p>{facts_}</p>"]
        return fit([*blocks, f"\n<p>{text}</p>"] if text else blocks, self.limits.body)

    def entry(self, alert: Alert, tz: tzinfo | None) -> str:
        facts_ = html.escape(entry_facts(alert, tz, self.limits))
        link = html_link(title(alert, self.limits), alert.item.link)
        return f"<li>{link} ({facts_}){shown_url(alert.item.link)}</li>"

    def group(self, rule: str, count: int, entries: Sequence[str]) -> str:
        return f"<h3>{html.escape(rule)} ({count})</h3>\n<ul>{''.join(entries)}</ul>"

    def more(self, hidden: int) -> str:
        return f"<p>{html.escape(more_text(hidden))}</p>"

    def digest(self, title: str, groups: Sequence[str]) -> str:
        return "\n\n".join(groups)

    def test(self, title: str, text: str) -> str:
        return f"<p>{html.escape(text)}</p>"
