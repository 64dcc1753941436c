"""What an alert shows, before any format: its facts, subject, excerpt and
the one link policy. Pure; every format module builds on these.

Values here are plain text; each format escapes them when it places them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo

from monitor.models import Alert, TermHit

SUBJECT_PREFIX = "[newsmonitor]"
EXCERPT_CHARS = 240

Segments = list[tuple[str, bool]]
"""An excerpt as (piece, is_match) pieces, for a format to highlight."""


def safe_link(url: str) -> str | None:
    """`url` if it is an absolute http(s) URL, made safe for `<...>`; else None."""
    url = url.strip()
    if not re.match(r"https?://[^\s/]", url, re.IGNORECASE):
        return None
    # Parentheses too: Telegram's legacy Markdown ends a link target at ")".
    return re.sub(r"[\s<>\"\\()]", lambda m: f"%{ord(m[0]):02X}", url)


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


def feed_name(alert: Alert) -> str:
    return alert.feed_title or alert.item.feed


def subject(alert: Alert) -> str:
    """`[newsmonitor] <rule>: <title>`, one line (titles may carry newlines)."""
    title = " ".join(alert.item.title.split())
    return f"{SUBJECT_PREFIX} {alert.match.rule}: {title}"


def digest_title(count: int) -> str:
    return f"{SUBJECT_PREFIX} {count} alert{'s' if count != 1 else ''}"


def send_test_text(channel: str) -> tuple[str, str]:
    """(title, body) of the message `send-test` sends, naming the channel."""
    return (f"{SUBJECT_PREFIX} test: {channel}",
            f"This is a test message from newsmonitor for channel “{channel}”.")


def facts(alert: Alert, tz: tzinfo | None) -> list[tuple[str, str]]:
    """(label, plain value) lines shared by every format, empty ones left out."""
    lines = [
        ("Source", feed_name(alert)),
        ("Published", show_time(alert.item.published, tz)),
        ("Rule", alert.match.rule),
        ("Score", str(alert.match.score)),
        ("Matched", ", ".join(matched_terms(alert))),
    ]
    return [(label, value) for label, value in lines if value]


def entry_facts(alert: Alert, tz: tzinfo | None) -> str:
    """`Science Daily · 2024-05-01 14:03 UTC · score 93`: one digest entry's facts."""
    parts = [feed_name(alert), show_time(alert.item.published, tz), f"score {alert.match.score}"]
    return " · ".join(part for part in parts if part)


# --- the excerpt ----------------------------------------------------------------


def alert_excerpt(alert: Alert) -> Segments:
    """The summary's window around the first word that matched."""
    words = [hit.matched for hit in alert.match.hits] + [hit.term for hit in alert.match.hits]
    return excerpt(alert.item.summary, words)


def excerpt(text: str, words: Iterable[str], width: int = EXCERPT_CHARS) -> Segments:
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


def _split_matches(text: str, pattern: re.Pattern[str] | None) -> Segments:
    if pattern is None:
        return [(text, False)] if text else []
    out: Segments = []
    pos = 0
    for m in pattern.finditer(text):
        if m.start() > pos:
            out.append((text[pos:m.start()], False))
        out.append((m[0], True))
        pos = m.end()
    if pos < len(text):
        out.append((text[pos:], False))
    return out
