"""Alerts → `Message`s: picks the format's renderer and does what every
format shares (the subject, a digest's grouping, a user's template)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import tzinfo

from monitor.models import Alert
from monitor.render.facts import clip, digest_title, send_test_text, subject
from monitor.render.protocol import Renderer
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
    alert: Alert | Sequence[Alert], fmt: Format, template: Template | None = None, *,
    tz: tzinfo | None = None,
) -> Message:
    """One item's message in `fmt`, from its alert, or its alerts when several
    rules matched it (each rule's evidence shown once); `template` (see
    `load_template`) replaces the default body."""
    alerts = [alert] if isinstance(alert, Alert) else list(alert)
    if not alerts or len({(a.item.feed, a.item.id) for a in alerts}) > 1:
        raise ValueError("render_alert: the alerts of exactly one item")
    r = renderer(fmt)
    if template is not None:
        context = alert_context(alerts, fmt, tz, r.limits)
        return Message(subject(alerts), render_user(template, context, r.limits.body), fmt)
    return Message(subject(alerts), r.alert(alerts, tz), fmt)


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
    closing = r.closing(alerts)
    shown = _entries_that_fit(r, title, groups, tz, closing)
    sections = [r.group(clip(rule, r.limits.rule), len(groups[rule]), entries)
                for rule, entries in shown.items()]
    hidden = len(alerts) - sum(map(len, shown.values()))
    if hidden:
        sections.append(r.more(hidden))
    return Message(title, r.digest(title, [*sections, closing] if closing else sections), fmt)


def _entries_that_fit(r: Renderer, title: str, groups: dict[str, list[Alert]],
                      tz: tzinfo | None, closing: str) -> dict[str, list[str]]:
    """Each rule's rendered entries, in order, as many as `r.limits` allow: at
    most `entries` of them, and room left in `body` for the rest's "… and N
    more" and the `closing`. Counted from the pieces' lengths; each separator
    is below 3."""
    total = sum(map(len, groups.values()))
    budget = r.limits.body - len(r.digest(title, [r.more(total), closing])) - 3
    shown: dict[str, list[str]] = {}
    count = 0
    for rule, group in groups.items():
        heading = len(r.group(clip(rule, r.limits.rule), len(group), [])) + 3
        for alert in group:
            entry = r.entry(alert, tz)
            cost = len(entry) + 3 + (0 if rule in shown else heading)
            if count == r.limits.entries or cost > budget:
                return shown
            shown.setdefault(rule, []).append(entry)
            budget, count = budget - cost, count + 1
    return shown


def render_test(channel: str, fmt: Format = Format.TEXT) -> Message:
    """The message `send-test` sends, naming the channel."""
    title, text = send_test_text(channel)
    return Message(title, renderer(fmt).test(title, text), fmt)
