"""The formats there are: name → renderer. The one list to extend.

Adding a format is a change in this package only: a module with a class
that satisfies `Renderer`, its instance in `_RENDERERS` and its name in
`Format`. The config's `format` choices, the golden tests and apprise's
`body_format` all come from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from monitor.render.html import HtmlRenderer
from monitor.render.markdown import MarkdownRenderer
from monitor.render.protocol import Renderer
from monitor.render.text import TextRenderer

_RENDERERS: tuple[Renderer, ...] = (TextRenderer(), MarkdownRenderer(), HtmlRenderer())


class Format(StrEnum):
    """The body formats a channel can take (apprise's `body_format` names);
    each one a renderer's `name` (checked below)."""

    TEXT = "text"
    MARKDOWN = "markdown"
    HTML = "html"


RENDERERS: Mapping[Format, Renderer] = MappingProxyType(
    {Format(renderer.name): renderer for renderer in _RENDERERS})
FORMAT_NAMES: tuple[str, ...] = tuple(str(fmt) for fmt in RENDERERS)

# Typed callers need `Format.HTML` as a name mypy knows, hence the enum; this
# keeps it from drifting from the renderers (a format without a renderer, or
# one listed twice, fails at import, not at the first message).
if len(_RENDERERS) != len(Format) or set(RENDERERS) != set(Format):
    raise ImportError(f"render: Format {list(Format)} does not match the renderers "
                      f"{[r.name for r in _RENDERERS]}")


def renderer(fmt: Format | str) -> Renderer:
    """The renderer for `fmt`; ValueError for an unknown name."""
    return RENDERERS[Format(fmt)]
