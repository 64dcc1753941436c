"""What an alert shows, before any format: its facts, subject, excerpt and
the one link policy. Pure; every format module builds on these.

Values here are plain text; each format escapes them when it places them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from monitor.models import Alert, TermHit

SUBJECT_PREFIX = "[newsmonitor]"
EXCERPT_CHARS = 240
# Longer links are left out rather than cut (a cut link leads elsewhere);
# 2048 is the oldest browsers' limit, and real article links stay far below.
LINK_CHARS = 2048

Segments = list[tuple[str, bool]]
"""An excerpt as (piece, is_match) pieces, for a format to highlight."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Most characters a message gives each piece of stranger text, and the
    whole body (a feed once sent a 5 MB title, and it was POSTed as is).

    Pieces are cut as plain text, before escaping, so that no cut falls inside
    an escape or a link; `body` is what the target service takes (Telegram
    4096 characters, Slack 40,000) and is kept by leaving out the excerpt
    (then facts) of an alert, and entries of a digest.
    """

    body: int
    title: int = 300
    feed: int = 100
    rule: int = 100
    terms: int = 300
    summary: int = 1000  # a user template's `summary` (ours shows an excerpt)
    entries: int = 50


# An email subject or chat title: the caps of every format, no body of its own.
SUBJECT_LIMITS = Limits(body=0)


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, "…" marking the cut; never
    between a character and its combining marks or inside a ZWJ sequence."""
    if len(text) <= limit:
        return text
    cut = limit - 1
    while cut > 0 and (unicodedata.category(text[cut]) in {"Mn", "Me"}
                       or "\u200d" in text[cut - 1:cut + 1]):
        cut -= 1
    return text[:cut] + "…"


def fit(blocks: Sequence[str], ceiling: int) -> str:
    """The blocks (each carrying its leading separator) joined, the last ones
    left out while the whole is over `ceiling`; the first always stays (the
    caps on its pieces bound it)."""
    kept = list(blocks)
    while len(kept) > 1 and sum(map(len, kept)) > ceiling:
        kept.pop()
    return "".join(kept)


def safe_link(url: str) -> str | None:
    """`url` if it is an absolute http(s) URL, made safe for `<...>`; else None."""
    url = url.strip()
    # (Length first: encoding only lengthens, and a 5 MB link is not worth a regex.)
    if len(url) > LINK_CHARS or not re.match(r"https?://[^\s/]", url, re.IGNORECASE):
        return None
    # Parentheses too: Telegram's legacy Markdown ends a link target at ")".
    safe = re.sub(r"[\s<>\"\\()]", lambda m: f"%{ord(m[0]):02X}", url)
    return safe if len(safe) <= LINK_CHARS else None


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


def feed_name(alert: Alert, limits: Limits | None = None) -> str:
    return clip(alert.feed_title or alert.item.feed, (limits or SUBJECT_LIMITS).feed)


def title(alert: Alert, limits: Limits) -> str:
    return clip(alert.item.title, limits.title)


def subject(alert: Alert) -> str:
    """`[newsmonitor] <rule>: <title>`, one line (titles may carry newlines)."""
    one_line = " ".join(alert.item.title.split())
    rule = clip(alert.match.rule, SUBJECT_LIMITS.rule)
    return f"{SUBJECT_PREFIX} {rule}: {clip(one_line, SUBJECT_LIMITS.title)}"



def digest_title(count: int) -> str:
    return f"{SUBJECT_PREFIX} {count} alert{'s' if count != 1 else ''}"


def send_test_text(channel: str) -> tuple[str, str]:
    """(title, body) of the message `send-test` sends, naming the channel."""
    return (f"{SUBJECT_PREFIX} test: {channel}",
            f"This is a test message from newsmonitor for channel “{channel}”.")


def facts(alert: Alert, tz: tzinfo | None, limits: Limits) -> list[tuple[str, str]]:
    """(label, plain value) lines shared by every format, empty ones left out."""
    lines = [
        ("Source", feed_name(alert, limits)),
        ("Published", show_time(alert.item.published, tz)),
        ("Rule", clip(alert.match.rule, limits.rule)),
        ("Score", str(alert.match.score)),
        ("Matched", clip(", ".join(matched_terms(alert)), limits.terms)),
    ]
    return [(label, value) for label, value in lines if value]


def entry_facts(alert: Alert, tz: tzinfo | None, limits: Limits) -> str:
    """`Science Daily · 2024-05-01 14:03 UTC · score 93`: one digest entry's facts."""
    parts = [feed_name(alert, limits), show_time(alert.item.published, tz),
             f"score {alert.match.score}"]
    return " · ".join(part for part in parts if part)


def more_text(hidden: int) -> str:
    """The last line of a digest that shows only some of its alerts."""
    return f"… and {hidden} more"


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
