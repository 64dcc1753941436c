"""A user's Jinja2 template for a channel's alerts, compiled in a sandbox.
The only module that imports jinja2; the rest of the program holds an opaque
`Template`.

`load_template` is the one function in render that reads a file (at config
load); a template's syntax and runtime errors are ConfigErrors naming it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from monitor.errors import ConfigError
from monitor.models import Alert
from monitor.render.facts import (
    Limits,
    alert_excerpt,
    clip,
    combined,
    evidence,
    feed_name,
    matched_terms,
    safe_link,
    show_time,
)
from monitor.render.markdown import escape_markdown, md_link


@dataclass(frozen=True, slots=True)
class Template:
    """A compiled user template (opaque outside render)."""

    path: str
    _compiled: jinja2.Template


def alert_context(alerts: Sequence[Alert], fmt: str, tz: tzinfo | None,
                  limits: Limits) -> dict[str, object]:
    """The variables a user template sees (documented in the README), for the
    alerts of one item (one per rule that matched it).

    Values are unescaped text: an HTML template is autoescaped; a markdown
    template must pipe stranger text through the `md` filter
    (`{{ title | md }}`). `title`, `summary` and `feed` are cut to `limits`;
    `excerpt` is the default layout's keyword in context, as plain text.
    `alert`, `rule`, `score` and `terms` stand for every rule at once (rule
    names joined); `rules` has each rule's `name`, `score` and `terms`.
    """
    alert = combined(alerts)
    rules = [{"name": case.rule, "score": case.score, "terms": list(case.terms)}
             for case in evidence(alerts)]
    excerpt = "".join(piece for piece, _ in alert_excerpt(alerts))
    return {"rules": rules, "excerpt": excerpt, **_values(alert, fmt, tz, limits)}


def _values(alert: Alert, fmt: str, tz: tzinfo | None, limits: Limits) -> dict[str, object]:
    return {
        "alert": alert, "item": alert.item, "format": str(fmt),
        "title": clip(alert.item.title, limits.title), "link": safe_link(alert.item.link) or "",
        "summary": clip(alert.item.summary, limits.summary), "feed": feed_name(alert, limits),
        "published": show_time(alert.item.published, tz), "rule": alert.match.rule,
        "score": alert.match.score, "terms": matched_terms(alert),
        "priority": str(alert.priority),
    }


def render_user(template: Template, context: dict[str, object], ceiling: int) -> str:
    """A user template's output; its runtime errors (unknown variable, unsafe
    attribute under the sandbox) are ConfigErrors, like its syntax errors.

    So is output over `ceiling` characters: it cannot be cut without knowing
    its markup, and the caller falls back to the default layout, which fits.
    """
    try:
        body = template._compiled.render(context)
    except jinja2.TemplateError as exc:
        raise ConfigError(f"{template.path}: template failed: {exc}") from exc
    if len(body) > ceiling:
        raise ConfigError(f"{template.path}: template output too long: {len(body)} "
                          f"characters, at most {ceiling}")
    return body


def _environment(autoescape: bool) -> SandboxedEnvironment:
    env = SandboxedEnvironment(autoescape=autoescape, undefined=jinja2.StrictUndefined,
                               keep_trailing_newline=False)
    env.filters["md"] = escape_markdown
    env.filters["md_link"] = md_link
    return env


def load_template(path: str | Path) -> Template:
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
        compiled = env.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: template syntax error: {exc.message}") from exc
    return Template(str(path), compiled)
