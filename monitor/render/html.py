"""HTML, for email (and Matrix): stranger text through `html.escape`, quotes
too, since links go in attributes; only http(s) links become `<a>`.

Laid out as readers of Google Alerts' emails expect: the title as the link,
source and time on one line, the excerpt with the matched words in bold, the
why per rule in small print, and a footer naming the rules and how to mute
one. Inline CSS only (Gmail drops `<style>`); no colour is fixed, so a mail
client's dark mode keeps its own text and background: secondary text is
dimmed with `opacity`, which reads on either. One column that wraps any long
word, so a phone never scrolls sideways.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import tzinfo

from monitor.models import NOTICE_RULES, Alert
from monitor.render.facts import (
    Limits,
    Segments,
    alert_excerpt,
    case_text,
    clip,
    evidence,
    more_text,
    safe_link,
    source_line,
    title,
)

_BODY = ("font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;"
         "font-size:16px;line-height:1.5;max-width:600px;margin:0 auto;"
         "overflow-wrap:anywhere;word-break:break-word")
_DIM = "opacity:.75"
_SMALL = f"font-size:13px;{_DIM}"
# Rules named in a footer and explained in the why: past this, "and N more".
SHOWN_RULES = 10
_FOOTER = ('<div style="margin-top:16px;padding-top:8px;border-top:1px solid #8888;'
           f'font-size:12px;{_DIM}">')
_LOW, _NORMAL = 'priority = "low"', 'min_priority = "normal"'


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


def _page(inner: str) -> str:
    return f'<div style="{_BODY}">\n{inner}\n</div>'


def _code(text: str) -> str:
    # Not <code>: apprise's text part puts each <code> on a line of its own.
    return f'<span style="font-family:ui-monospace,monospace">{html.escape(text)}</span>'


def _named(names: Sequence[str], limits: Limits) -> str:
    """`physics`, `physics and people`, `a, b, … and 7 more`: escaped."""
    shown = [html.escape(clip(name, limits.rule)) for name in names[:SHOWN_RULES]]
    rest = len(names) - len(shown)
    if rest:
        return f"{', '.join(shown)} and {rest} more"
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"


def footer(alerts: Sequence[Alert], limits: Limits) -> str:
    """Which rules sent this to which channel, and the config lines that mute
    one of them there (true whether or not the rule lists its channels)."""
    rules = [case.rule for case in evidence(alerts)]
    channel = clip(alerts[0].channel, limits.rule)
    who = "rule" if len(rules) == 1 else "rules"
    sent = f"Sent to the channel “{html.escape(channel)}” by the {who} {_named(rules, limits)}."
    if set(rules) <= NOTICE_RULES:
        return (f"{_FOOTER}{sent} newsmonitor's own notices go to "
                f"{_code('[monitor] admin_channels')}: leave “{html.escape(channel)}” out of "
                "that list to stop them here.</div>")
    return (f"{_FOOTER}{sent} To mute a rule here: in its {_code('[[rules]]')}"
            f" entry, set {_code('channels')} to a list without "
            f"“{html.escape(channel)}” (a rule without {_code('channels')} uses "
            f"{_code('[monitor] default_channels')}), or set {_code(_LOW)}"
            f" there and {_code(_NORMAL)} under "
            f"{_code(f'[channels.{channel}]')}.</div>")


def why(alerts: Sequence[Alert], limits: Limits) -> str:
    """Each rule's score and matched words, one small line per rule."""
    cases = evidence(alerts)
    lines = [f"Matched by {html.escape(case_text(case, limits))}"
             for case in cases[:SHOWN_RULES]]
    if len(cases) > SHOWN_RULES:
        lines.append(f"… and {len(cases) - SHOWN_RULES} more rules")
    return f'<div style="margin-top:12px;{_SMALL}">{"<br>".join(lines)}</div>'


def _kept(blocks: Sequence[tuple[int, str]], ceiling: int) -> str:
    """The blocks in order, the least needed ones (highest rank first) left
    out while the whole is over `ceiling`; rank 0 always stays."""
    kept = list(blocks)
    for rank in sorted({rank for rank, _ in blocks if rank}, reverse=True):
        if sum(len(text) for _, text in kept) <= ceiling:
            break
        kept = [(r, text) for r, text in kept if r != rank]
    return "".join(text for _, text in kept)


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
        link = html_link(title(alert, self.limits), alert.item.link)
        source = html.escape(source_line(alert, tz, self.limits))
        head = (f'<div style="font-size:19px;line-height:1.3;font-weight:bold">{link}</div>\n'
                f'<div style="margin-top:4px;font-size:14px;{_DIM}">{source}'
                f"{shown_url(alert.item.link)}</div>")
        text = self.highlight(alert_excerpt(alerts))
        notice = {a.match.rule for a in alerts} <= NOTICE_RULES  # no rule's "why"
        blocks = [(0, head), (3, f'\n<p style="margin:12px 0 0">{text}</p>' if text else ""),
                  (2, "" if notice else f"\n{why(alerts, self.limits)}"),
                  (1, f"\n{footer(alerts, self.limits)}")]
        return _page(_kept(blocks, self.limits.body - len(_page(""))))

    def entry(self, alert: Alert, tz: tzinfo | None) -> str:
        # Lean markup (no style of its own, no score): 200 entries must fit.
        source = html.escape(source_line(alert, tz, self.limits))
        link = html_link(title(alert, self.limits), alert.item.link)
        return f"<li>{link}<br><small>{source}{shown_url(alert.item.link)}</small></li>"

    def group(self, rule: str, count: int, entries: Sequence[str]) -> str:
        return (f'<h3 style="font-size:17px;margin:16px 0 8px">{html.escape(rule)} ({count})'
                f'</h3>\n<ul style="margin:0;padding-left:20px;line-height:1.4">'
                f'{"".join(entries)}</ul>')

    def more(self, hidden: int) -> str:
        return f"<p>{html.escape(more_text(hidden))}</p>"

    def closing(self, alerts: Sequence[Alert]) -> str:
        return f"\n{footer(alerts, self.limits)}"

    def digest(self, title: str, groups: Sequence[str]) -> str:
        return _page("\n\n".join(groups))

    def test(self, title: str, text: str) -> str:
        return _page(f"<p>{html.escape(text)}</p>")
