"""Alerts → `Message`s: picks the format's renderer and does what every
format shares (the subject, a digest's grouping, a user's template)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import tzinfo

from monitor.models import Alert
from monitor.render.facts import digest_title, send_test_text, subject
from monitor.render.registry import Format, renderer
from monitor.render.templates import Template, alert_context, render_user


@dataclass(frozen=True, slots=True)
class Message:
    """What a channel is asked to send: a plain-text title and a body in `format`."""

    title: str
    body: str
    format: Format

    @property
    def title_in_body(self) -> bool:
        """The body starts with the title: send no separate one."""
        return renderer(self.format).title_in_body


def render_alert(
    alert: Alert, fmt: Format, template: Template | None = None, *, tz: tzinfo | None = None
) -> Message:
    """One alert as a message in `fmt`; `template` (see `load_template`)
    replaces the default body."""
    if template is not None:
        return Message(subject(alert), render_user(template, alert_context(alert, fmt, tz)), fmt)
    return Message(subject(alert), renderer(fmt).alert(alert, tz), fmt)


def render_digest(
    alerts: Sequence[Alert], fmt: Format, title: str = "", *, tz: tzinfo | None = None
) -> Message:
    """Several alerts in one message, grouped by rule (rules in order of first
    appearance); used for digests, rate-limit summaries, quiet hours, catch-up."""
    title = title or digest_title(len(alerts))
    groups: dict[str, list[Alert]] = {}
    for alert in alerts:
        groups.setdefault(alert.match.rule, []).append(alert)
    r = renderer(fmt)
    sections = [r.group(rule, len(group), [r.entry(a, tz) for a in group])
                for rule, group in groups.items()]
    return Message(title, r.digest(title, sections), fmt)


def render_test(channel: str, fmt: Format = Format.TEXT) -> Message:
    """The message `send-test` sends, naming the channel."""
    title, text = send_test_text(channel)
    return Message(title, renderer(fmt).test(title, text), fmt)
