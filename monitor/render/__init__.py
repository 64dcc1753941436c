"""Alerts → message text, per target format (text, CommonMark, HTML). Pure.

Contract: `render_alert`, `render_digest` and `render_test` return a
`Message(title, body, format)`; no clock, network or global state is used
(times are shown in the `tz` the caller passes). `load_template` is the one
function that reads a file: a user's Jinja2 template, compiled in a sandbox.

Everything in an item (title, summary, link, feed name) comes from strangers,
so every piece is escaped for the target format before it is placed:
- markdown: CommonMark backslash escapes for the characters that start markup
  (apprise translates CommonMark into Slack mrkdwn / Telegram Markdown, and
  turns the escapes into each dialect's own), link text inside `[...]` and
  link targets inside `<...>` with `<`, `>` and spaces percent-encoded;
- html: `html.escape` (quotes too, since links go in attributes);
- links are only made for http(s) URLs, so a feed cannot smuggle a
  `javascript:` link.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from enum import StrEnum
from pathlib import Path

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from monitor.errors import ConfigError
from monitor.models import Alert, TermHit

SUBJECT_PREFIX = "[newsmonitor]"
EXCERPT_CHARS = 240


class Format(StrEnum):
    """The body formats a channel can take (apprise's `body_format` names)."""

    TEXT = "text"
    MARKDOWN = "markdown"
    HTML = "html"


@dataclass(frozen=True, slots=True)
class Message:
    """What a channel is asked to send: a plain-text title and a body in `format`."""

    title: str
    body: str
    format: Format


# --- escaping ---------------------------------------------------------------

# CommonMark lets any ASCII punctuation be backslash-escaped; we escape only
# the characters that start links, emphasis, code, headings or inline HTML,
# because apprise keeps other escapes verbatim for Slack (`\\.` would show its
# backslash) and neither Slack nor Telegram knows lists or block quotes.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]()<>#])")


def escape_markdown(text: str) -> str:
    """`text` as literal CommonMark: no emphasis, link, code, heading or HTML."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def safe_link(url: str) -> str | None:
    """`url` if it is an absolute http(s) URL, made safe for `<...>`; else None."""
    url = url.strip()
    if not re.match(r"https?://[^\s/]", url, re.IGNORECASE):
        return None
    # Parentheses too: Telegram's legacy Markdown ends a link target at ")".
    return re.sub(r"[\s<>\"\\()]", lambda m: f"%{ord(m[0]):02X}", url)


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


def html_link(text: str, url: str) -> str:
    target = safe_link(url)
    label = html.escape(text)
    return f'<a href="{html.escape(target)}">{label}</a>' if target else label


# --- the facts an alert shows -------------------------------------------------


def describe_hit(hit: TermHit) -> str:
    """`Ampère → Ampere` (folded), `Provots ≈ Provost (86)` (fuzzy), or the term.

    The text's spelling comes first, the rule's second.
    """
    if hit.score < 100:
        return f"{hit.matched} ≈ {hit.term} ({hit.score})"
    if hit.matched and hit.matched != hit.term:
        return f"{hit.matched} → {hit.term}"
    return hit.term


def matched_terms(alert: Alert) -> list[str]:
    """The distinct hit descriptions, in order of first appearance."""
    return list(dict.fromkeys(describe_hit(hit) for hit in alert.match.hits))


def show_time(when: datetime | None, tz: tzinfo | None) -> str:
    """`2024-05-01 14:03 UTC`; naive times are taken as UTC; "" for None."""
    if when is None:
        return ""
    aware = when if when.tzinfo else when.replace(tzinfo=UTC)
    local = aware.astimezone(tz or UTC)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def excerpt(text: str, words: Iterable[str], width: int = EXCERPT_CHARS) -> list[tuple[str, bool]]:
    """A window of `text` around the first matched word, as (piece, is_match)
    segments; ellipses mark cuts. Matching is case-insensitive."""
    found = sorted({w for w in words if w}, key=len, reverse=True)
    pattern = re.compile("|".join(map(re.escape, found)), re.IGNORECASE) if found else None
    first = pattern.search(text) if pattern else None
    start = max(0, (first.start() if first else 0) - width // 3)
    start = _word_boundary(text, start)
    window = text[start:start + width]
    cut_end = start + width < len(text)
    segments = _split_matches(window, pattern)
    if start > 0:
        segments.insert(0, ("…", False))
    if cut_end:
        segments.append(("…", False))
    return segments


def _word_boundary(text: str, start: int) -> int:
    if start == 0:
        return 0
    space = text.find(" ", start)
    return space + 1 if 0 <= space < start + 20 else start


def _split_matches(text: str, pattern: re.Pattern[str] | None) -> list[tuple[str, bool]]:
    if pattern is None:
        return [(text, False)] if text else []
    out: list[tuple[str, bool]] = []
    pos = 0
    for m in pattern.finditer(text):
        if m.start() > pos:
            out.append((text[pos:m.start()], False))
        out.append((m[0], True))
        pos = m.end()
    if pos < len(text):
        out.append((text[pos:], False))
    return out


def _excerpt_words(alert: Alert) -> list[str]:
    return [hit.matched for hit in alert.match.hits] + [hit.term for hit in alert.match.hits]


def _highlight(segments: Sequence[tuple[str, bool]], fmt: Format) -> str:
    def one(piece: str, bold: bool) -> str:
        if fmt is Format.MARKDOWN:
            return f"**{escape_markdown(piece)}**" if bold else escape_markdown(piece)
        if fmt is Format.HTML:
            return f"<b>{html.escape(piece)}</b>" if bold else html.escape(piece)
        return piece

    return "".join(one(piece, bold) for piece, bold in segments)


# --- messages ---------------------------------------------------------------


def subject(alert: Alert) -> str:
    """`[newsmonitor] <rule>: <title>`, one line (titles may carry newlines)."""
    title = " ".join(alert.item.title.split())
    return f"{SUBJECT_PREFIX} {alert.match.rule}: {title}"


def render_alert(
    alert: Alert, fmt: Format, template: jinja2.Template | None = None, *, tz: tzinfo | None = None
) -> Message:
    """One alert as a message in `fmt`; `template` (see `load_template`)
    replaces the default body."""
    if template is not None:
        return Message(subject(alert), _render_user(template, alert_context(alert, fmt, tz)), fmt)
    body = {Format.TEXT: _text_alert, Format.MARKDOWN: _md_alert, Format.HTML: _html_alert}[fmt]
    return Message(subject(alert), body(alert, tz), fmt)


def _facts(alert: Alert, tz: tzinfo | None) -> list[tuple[str, str]]:
    """(label, plain value) lines shared by every format, empty ones left out."""
    facts = [
        ("Source", alert.feed_title or alert.item.feed),
        ("Published", show_time(alert.item.published, tz)),
        ("Rule", alert.match.rule),
        ("Score", str(alert.match.score)),
        ("Matched", ", ".join(matched_terms(alert))),
    ]
    return [(label, value) for label, value in facts if value]


def _text_alert(alert: Alert, tz: tzinfo | None) -> str:
    lines = [alert.item.title]
    link = safe_link(alert.item.link)
    if link:
        lines.append(link)
    lines += [f"{label}: {value}" for label, value in _facts(alert, tz)]
    text = _highlight(excerpt(alert.item.summary, _excerpt_words(alert)), Format.TEXT)
    return "\n".join([*lines, "", text] if text else lines)


def _md_alert(alert: Alert, tz: tzinfo | None) -> str:
    lines = [f"**{md_link(alert.item.title, alert.item.link)}**"]
    lines += [f"{label}: {escape_markdown(value)}" for label, value in _facts(alert, tz)]
    text = _highlight(excerpt(alert.item.summary, _excerpt_words(alert)), Format.MARKDOWN)
    # Two trailing spaces would be a CommonMark hard break; a blank line
    # between facts would waste space in chat, so facts use separate lines
    # and the excerpt its own paragraph.
    return "\n".join([*lines, "", text] if text else lines)


def _html_alert(alert: Alert, tz: tzinfo | None) -> str:
    # Lines rather than a table: apprise derives the email's text/plain part
    # from this HTML, and a table would put each label and value on its own line.
    facts = "<br>".join(f"<b>{html.escape(label)}:</b> {html.escape(value)}"
                          for label, value in _facts(alert, tz))
    text = _highlight(excerpt(alert.item.summary, _excerpt_words(alert)), Format.HTML)
    title = html_link(alert.item.title, alert.item.link)
    parts = [f"<p><b>{title}</b></p>", f"<p>{facts}</p>"]
    if text:
        parts.append(f"<p>{text}</p>")
    return "\n".join(parts)


def render_digest(
    alerts: Sequence[Alert], fmt: Format, title: str = "", *, tz: tzinfo | None = None
) -> Message:
    """Several alerts in one message, grouped by rule (rules in order of first
    appearance); used for digests, rate-limit summaries, quiet hours, catch-up."""
    title = title or f"{SUBJECT_PREFIX} {len(alerts)} alert{'s' if len(alerts) != 1 else ''}"
    groups: dict[str, list[Alert]] = {}
    for alert in alerts:
        groups.setdefault(alert.match.rule, []).append(alert)
    render_group = {Format.TEXT: _text_group, Format.MARKDOWN: _md_group,
                    Format.HTML: _html_group}[fmt]
    body = "\n\n".join(render_group(rule, group, tz) for rule, group in groups.items())
    return Message(title, _with_md_heading(title, body, fmt), fmt)


def _with_md_heading(title: str, body: str, fmt: Format) -> str:
    """Markdown bodies carry their own bold title line: the notifier sends no
    separate title for markdown (see notifier._title)."""
    return f"**{escape_markdown(title)}**\n\n{body}" if fmt is Format.MARKDOWN else body


def _entry_facts(alert: Alert, tz: tzinfo | None) -> str:
    facts = [alert.feed_title or alert.item.feed, show_time(alert.item.published, tz),
             f"score {alert.match.score}"]
    return " · ".join(fact for fact in facts if fact)


def _text_group(rule: str, alerts: Sequence[Alert], tz: tzinfo | None) -> str:
    lines = [f"{rule} ({len(alerts)})"]
    for alert in alerts:
        link = safe_link(alert.item.link)
        link = f" <{link}>" if link else ""
        lines.append(f"- {alert.item.title}{link} ({_entry_facts(alert, tz)})")
    return "\n".join(lines)


def _md_group(rule: str, alerts: Sequence[Alert], tz: tzinfo | None) -> str:
    lines = [f"**{escape_markdown(rule)}** ({len(alerts)})"]
    lines += [f"- {md_link(a.item.title, a.item.link)} ({escape_markdown(_entry_facts(a, tz))})"
              for a in alerts]
    return "\n".join(lines)


def _html_group(rule: str, alerts: Sequence[Alert], tz: tzinfo | None) -> str:
    items = "".join(
        f"<li>{html_link(a.item.title, a.item.link)} ({html.escape(_entry_facts(a, tz))})</li>"
        for a in alerts
    )
    return f"<h3>{html.escape(rule)} ({len(alerts)})</h3>\n<ul>{items}</ul>"


def render_test(channel: str, fmt: Format = Format.TEXT) -> Message:
    """The message `send-test` sends, naming the channel."""
    body = f"This is a test message from newsmonitor for channel “{channel}”."
    title = f"{SUBJECT_PREFIX} test: {channel}"
    if fmt is Format.MARKDOWN:
        body = _with_md_heading(title, escape_markdown(body), fmt)
    elif fmt is Format.HTML:
        body = f"<p>{html.escape(body)}</p>"
    return Message(title, body, fmt)


# --- user templates -----------------------------------------------------------


def alert_context(alert: Alert, fmt: Format, tz: tzinfo | None = None) -> dict[str, object]:
    """The variables a user template sees (documented in the README).

    Values are raw text: an HTML template is autoescaped; a markdown template
    must pipe stranger text through the `md` filter (`{{ title | md }}`).
    """
    return {
        "alert": alert, "item": alert.item, "format": str(fmt),
        "title": alert.item.title, "link": safe_link(alert.item.link) or "",
        "summary": alert.item.summary, "feed": alert.feed_title or alert.item.feed,
        "published": show_time(alert.item.published, tz), "rule": alert.match.rule,
        "score": alert.match.score, "terms": matched_terms(alert),
        "priority": str(alert.priority),
    }


def _render_user(template: jinja2.Template, context: dict[str, object]) -> str:
    """A user template's output; its runtime errors (unknown variable, unsafe
    attribute under the sandbox) are ConfigErrors, like its syntax errors."""
    try:
        return template.render(context)
    except jinja2.TemplateError as exc:
        name = template.name or "template"
        raise ConfigError(f"{name}: template failed: {exc}") from exc


def _environment(autoescape: bool) -> SandboxedEnvironment:
    env = SandboxedEnvironment(autoescape=autoescape, undefined=jinja2.StrictUndefined,
                               keep_trailing_newline=False)
    env.filters["md"] = escape_markdown
    env.filters["md_link"] = md_link
    return env


def load_template(path: str | Path) -> jinja2.Template:
    """Compile a user's template in Jinja2's sandbox.

    Files ending in .html/.htm are autoescaped. A syntax error or an
    unreadable file is a ConfigError naming the file (and line).
    """
    path = Path(path)
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read template: {exc}") from exc
    env = _environment(autoescape=path.suffix.lower() in {".html", ".htm"})
    try:
        template = env.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: template syntax error: {exc.message}") from exc
    template.name = str(path)
    return template
