"""The HTML email in a real browser (Debian's Chromium through playwright):
at a desktop mail pane's width and a phone's, in light and dark mode, it
never scrolls sideways, no text is smaller than 12px, and all text keeps a
4.5:1 contrast with what is behind it. Screenshots go to build/screenshots/."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from monitor.models import Match, TermHit
from monitor.render import Format, render_alert, render_digest
from tests.test_render import make_alert, rules_alerts
from tests.test_web import SHOTS

# A mail client's reading pane: it lets the message follow the reader's
# colour scheme (as Apple Mail and Gmail's apps do in dark mode).
PANE = """<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark"></head>
<body style="margin:8px">{body}</body></html>"""

# Every element that shows text: its smallest font, and its worst contrast
# (its colour, faded by its and its ancestors' opacity, over the canvas).
MEASURE = """() => {
  const probe = document.createElement('div');
  probe.style.cssText = 'background:Canvas;color:CanvasText';
  document.body.append(probe);
  const rgb = s => s.match(/[\\d.]+/g).map(Number);
  const canvas = rgb(getComputedStyle(probe).backgroundColor);
  probe.remove();
  const lum = c => { const [r, g, b] = c.slice(0, 3).map(v => { v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  let smallest = 99, worst = 99;
  for (const el of document.body.querySelectorAll('*')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const style = getComputedStyle(el);
    smallest = Math.min(smallest, parseFloat(style.fontSize));
    let alpha = 1;
    for (let e = el; e; e = e.parentElement) alpha *= parseFloat(getComputedStyle(e).opacity);
    const c = rgb(style.color), a = alpha * (c.length > 3 ? c[3] : 1);
    const seen = c.slice(0, 3).map((v, i) => v * a + canvas[i] * (1 - a));
    const [hi, lo] = [lum(seen), lum(canvas)].sort((x, y) => y - x);
    worst = Math.min(worst, (hi + 0.05) / (lo + 0.05));
  }
  const root = document.documentElement;
  return {smallest, worst, canvas, overflow: root.scrollWidth - root.clientWidth};
}"""


def long_alerts() -> list[Any]:
    """Two rules on an item whose link and one word are far wider than a phone."""
    item = replace(rules_alerts()[1].item,
                   link="https://news.example/" + "very-long-path-segment-" * 12,
                   summary="Ampère " + "Unbreakableword" * 12 + " and the Provots committee.")
    return [replace(alert, item=item) for alert in rules_alerts()]


PEOPLE = Match("people", 70, (TermHit("x", "x", "title", 100),))
MESSAGES = {
    "alert": lambda: render_alert(make_alert(), Format.HTML),
    "alert-rules": lambda: render_alert(long_alerts(), Format.HTML),
    "digest": lambda: render_digest(
        [make_alert(alert_id=1), replace(make_alert("Second story", alert_id=2),
                                         match=PEOPLE)],
        Format.HTML),
}


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [600, 390])
@pytest.mark.parametrize("name", list(MESSAGES))
def test_email_reads_on_a_phone_and_in_dark_mode(
        browser: Any, name: str, width: int, scheme: str) -> None:
    context = browser.new_context(viewport={"width": width, "height": 800},
                                  color_scheme=scheme)
    try:
        page = context.new_page()
        page.set_content(PANE.format(body=MESSAGES[name]().body))
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"email-{name}-{width}-{scheme}.png"), full_page=True)
        seen = page.evaluate(MEASURE)
    finally:
        context.close()
    assert seen["overflow"] <= 0, seen
    assert seen["smallest"] >= 12, seen
    assert seen["worst"] >= 4.5, seen
    # The pane really is in the scheme asked for (a dark canvas in dark mode).
    assert (sum(seen["canvas"][:3]) < 150) == (scheme == "dark"), seen
