"""Alerts → message text, per target format. Pure.

Contract: `render_alert`, `render_digest` and `render_test` return a
`Message(title, body, format)`; no clock, network or global state is used
(times are shown in the `tz` the caller passes). `load_template` is the one
function that reads a file: a user's Jinja2 template, compiled in a sandbox.

Everything in an item (title, summary, link, feed name) comes from strangers,
so every piece is escaped for the target format before it is placed, and
links are only made for http(s) URLs, so a feed cannot smuggle a
`javascript:` link.

The rooms:
- `facts`: what an alert shows, format-free (facts, subject, excerpt, links);
- `protocol`: `Renderer`, the shape of a format;
- `text`, `markdown`, `html`: one module per format;
- `registry`: name → renderer, and `Format`, the names;
- `messages`: alerts → `Message` through the format's renderer;
- `templates`: users' Jinja2 templates (the only jinja2 import).
"""

from monitor.render.facts import (
    EXCERPT_CHARS,
    SUBJECT_PREFIX,
    content_window,
    describe_hit,
    excerpt,
    matched_terms,
    safe_link,
    show_time,
    subject,
)
from monitor.render.html import html_link
from monitor.render.markdown import escape_markdown, md_link
from monitor.render.messages import Message, render_alert, render_digest, render_test
from monitor.render.protocol import Renderer
from monitor.render.registry import FORMAT_NAMES, RENDERERS, Format, renderer
from monitor.render.templates import Template, alert_context, load_template

__all__ = [
    "EXCERPT_CHARS", "FORMAT_NAMES", "RENDERERS", "SUBJECT_PREFIX", "Format", "Message",
    "Renderer", "Template", "alert_context", "content_window", "describe_hit",
    "escape_markdown", "excerpt", "html_link", "load_template", "matched_terms", "md_link",
    "render_alert", "render_digest", "render_test", "renderer", "safe_link", "show_time",
    "subject",
]
