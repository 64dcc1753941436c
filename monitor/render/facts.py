"""What an alert shows, before any format: its facts, subject, excerpt and
the one link policy. Pure; every format module builds on these.

Values here are plain text; each format escapes them when it places them.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo

from monitor.models import Alert, Match, TermHit
from monitor.text import INVISIBLE

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
    kept, size = list(blocks), sum(map(len, blocks))
    while len(kept) > 1 and size > ceiling:
        size -= len(kept.pop())
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
    """The distinct hits, each with the fields it was found in, in order of
    first appearance: `Ampère → Ampere in title/summary`."""
    return placed_hits(alert.match.hits)


def placed_hits(hits: Iterable[TermHit]) -> list[str]:
    """Each distinct hit description once, with where it was found (the
    item's fields, joined by "/"): `Luc Julia in content`."""
    fields: dict[str, dict[str, None]] = {}
    for hit in hits:
        fields.setdefault(describe_hit(hit), {})[hit.field] = None
    return [f"{text} in {'/'.join(names)}" if any(names) else text
            for text, names in fields.items()]


def show_time(when: datetime | None, tz: tzinfo | None) -> str:
    """`2024-05-01 14:03 UTC`; naive times are taken as UTC; "" for None."""
    if when is None:
        return ""
    aware = when if when.tzinfo else when.replace(tzinfo=UTC)
    local = aware.astimezone(tz or UTC)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def feed_name(alert: Alert, limits: Limits) -> str:
    return clip(alert.feed_title or alert.item.feed, limits.feed)


# What `Alert.note` says in a message (see models.Alert).
NOTES = {"updated": "updated", "follow-up": "follow-up: more sources"}


def also_reported(alert: Alert, limits: Limits) -> str:
    """`Les Echos, Le Monde, franceinfo`: the story's other sources."""
    return clip(", ".join(alert.sources), limits.terms)


def title(alert: Alert, limits: Limits) -> str:
    return clip(alert.item.title, limits.title)


def subject(alerts: Sequence[Alert]) -> str:
    """`[newsmonitor] <rule>: <title>`, one line (titles may carry newlines);
    `<rule> +2` when three rules matched the item (the best one named): a
    subject listing every rule grew with each."""
    rules = evidence(alerts)
    rule = clip(rules[0].rule, SUBJECT_LIMITS.rule)
    rule += f" +{len(rules) - 1}" if len(rules) > 1 else ""
    one_line = " ".join(alerts[0].item.title.split())
    return f"{SUBJECT_PREFIX} {rule}: {clip(one_line, SUBJECT_LIMITS.title)}"


def digest_title(count: int) -> str:
    return f"{SUBJECT_PREFIX} {count} alert{'s' if count != 1 else ''}"


def send_test_text(channel: str) -> tuple[str, str]:
    """(title, body) of the message `send-test` sends, naming the channel."""
    return (f"{SUBJECT_PREFIX} test: {channel}",
            f"This is a test message from newsmonitor for channel “{channel}”.")


# --- the evidence ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Evidence:
    """One rule's case for an item: its score and the distinct terms it matched."""

    rule: str
    score: int
    terms: tuple[str, ...]


def evidence(alerts: Sequence[Alert]) -> list[Evidence]:
    """The alerts of one item (one per rule that matched it) as each rule's
    evidence, once, best score first (ties in the given order)."""
    scores: dict[str, int] = {}
    hits: dict[str, list[TermHit]] = {}
    for alert in alerts:
        rule = alert.match.rule
        scores[rule] = max(scores.get(rule, alert.match.score), alert.match.score)
        hits.setdefault(rule, []).extend(alert.match.hits)
    found = [Evidence(rule, score, tuple(placed_hits(hits[rule])))
             for rule, score in scores.items()]
    return sorted(found, key=lambda case: -case.score)


def combined(alerts: Sequence[Alert]) -> Alert:
    """One alert standing for every rule that fired on the same item (rules
    joined, hits merged, the best score and priority): what a user template
    sees as `alert`."""
    if len(alerts) == 1:
        return alerts[0]
    rules = ", ".join(dict.fromkeys(a.match.rule for a in alerts))
    hits = tuple(dict.fromkeys(hit for a in alerts for hit in a.match.hits))
    match = Match(rules, max(a.match.score for a in alerts), hits)
    return replace(alerts[0], match=match,
                   priority=max((a.priority for a in alerts), key=lambda p: p.rank))


def facts(alerts: Sequence[Alert], tz: tzinfo | None, limits: Limits) -> list[tuple[str, str]]:
    """(label, plain value) lines shared by every format, empty ones left out.

    One rule: its Rule, Score and Matched lines. Several: one Rule line each,
    saying what that rule matched.
    """
    first = alerts[0]
    head = [("Source", feed_name(first, limits)),
            ("Also reported by", also_reported(first, limits)),
            ("Story", NOTES.get(first.note, "")),
            ("Published", show_time(first.item.published, tz))]
    rules = evidence(alerts)
    if len(rules) > 1:
        return [(label, value) for label, value in head if value] + [
            ("Rule", case_text(case, limits)) for case in rules]
    (case,) = rules
    lines = [*head, ("Rule", clip(case.rule, limits.rule)), ("Score", str(case.score)),
             ("Matched", clip(", ".join(case.terms), limits.terms))]
    return [(label, value) for label, value in lines if value]


def case_text(case: Evidence, limits: Limits) -> str:
    """`physics (score 93): Ampère → Ampere, Provots ≈ Provost (86)`."""
    terms = clip(", ".join(case.terms), limits.terms)
    return f"{clip(case.rule, limits.rule)} (score {case.score}){': ' if terms else ''}{terms}"


def source_line(alert: Alert, tz: tzinfo | None, limits: Limits) -> str:
    """`Science Daily · 2024-05-01 14:03 UTC`: where and when, on one line."""
    parts = [feed_name(alert, limits), show_time(alert.item.published, tz)]
    return " · ".join(part for part in parts if part)


def entry_facts(alert: Alert, tz: tzinfo | None, limits: Limits) -> str:
    """`Science Daily · 2024-05-01 14:03 UTC · score 93`: one digest entry's facts."""
    also = also_reported(alert, limits)
    parts = [feed_name(alert, limits), show_time(alert.item.published, tz),
             f"score {alert.match.score}", NOTES.get(alert.note, ""),
             f"also reported by {also}" if also else ""]
    return " · ".join(part for part in parts if part)


def more_text(hidden: int) -> str:
    """The last line of a digest that shows only some of its alerts."""
    return f"… and {hidden} more"


# --- the excerpt ----------------------------------------------------------------


def alert_excerpt(alerts: Sequence[Alert]) -> Segments:
    """Keyword in context: where a rule matched the item's content, a window
    of the content around the first word matched there; else the summary
    (or, without one, the content) around the first word any rule matched."""
    item = alerts[0].item
    hits = [hit for alert in alerts for hit in alert.match.hits]
    in_content = [hit for hit in hits if hit.field == "content"]
    if in_content and item.content:
        return excerpt(item.content, _hit_words(in_content))
    return excerpt(item.summary or item.content, _hit_words(hits))


def _hit_words(hits: Sequence[TermHit]) -> list[str]:
    return [word for hit in hits for word in (hit.matched, hit.term)]


def excerpt(text: str, words: Iterable[str], width: int = EXCERPT_CHARS) -> Segments:
    """A window of `text` around the first matched word, as (piece, is_match)
    segments; ellipses mark cuts. Matching is case-insensitive, of whole
    words (`Julia` is not highlighted in `Julian`)."""
    pattern = _pattern(words)
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


def content_window(content: str, hits: Sequence[TermHit], width: int = EXCERPT_CHARS) -> str:
    """The part of `content` that the excerpt of an alert with `hits` shows,
    with a margin of `width` on either side: what an alert keeps of a long
    content (the outbox stores alerts, not 100 kB articles). Its excerpt is
    the excerpt of the whole content; "" when no hit is in the content."""
    in_content = [hit for hit in hits if hit.field == "content"]
    pattern = _pattern(_hit_words(in_content))
    first = pattern.search(content) if pattern else None
    if first is None:
        return ""
    start = max(0, first.start() - width // 3 - width)
    if start and not content[start - 1].isspace():  # not in a word: it would read as one
        space = content.find(" ", start, first.start() - width // 3)
        start = space + 1 if space >= 0 else start
    end = first.start() + 2 * width
    if start == 0 and end >= len(content):
        return content
    # The ellipses keep the cut ends cut: the excerpt of the window marks
    # them as the excerpt of the whole content does.
    return f"{'… ' if start else ''}{content[start:end]}{' …' if end < len(content) else ''}"


# The most words an excerpt looks for and highlights, the first ones matched,
# and the longest: an alert carrying 10,000 hits made a regex whose compiling
# took two minutes (tests/test_render_limits.py, "many terms").
EXCERPT_WORDS = 32
EXCERPT_WORD_CHARS = 100


def _pattern(words: Iterable[str]) -> re.Pattern[str] | None:
    first = itertools.islice(dict.fromkeys(
        w for w in words if w and len(w) <= EXCERPT_WORD_CHARS), EXCERPT_WORDS)
    found = sorted(first, key=len, reverse=True)
    if not found:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(map(_spelled, found)) + r")(?!\w)",
                      re.IGNORECASE)


_INVISIBLE_RUN = f"[{INVISIBLE}]*"


def _spelled(word: str) -> str:
    """A regex of `word` as the text may spell it: with invisible characters
    between its letters (`Am\u00adpère` for the hit `Ampère`: text.INVISIBLE)."""
    return _INVISIBLE_RUN.join(map(re.escape, word))


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
