"""Neutralise DTD declarations before feedparser sees a document.

Hostile feeds (corpus malformed/xxe_*) declare entities to blow up memory
(billion laughs, quadratic blowup), read files or fetch URLs (external
entities, external DTD). The protection that applies, in order:

1. Ours, here: every markup declaration in the prolog (`<!DOCTYPE ...>` with
   its internal subset, a stray `<!ENTITY ...>`) is cut out before the first
   element. No entity can then be defined at all: a reference such as `&ee;`
   becomes an undefined entity, which feedparser's strict (expat) pass rejects
   and its loose (sgmllib-style) pass keeps as literal text. Nothing is ever
   expanded, read or fetched, whatever parser feedparser picks.
   The scan is quote-, comment- and bracket-aware, so `<!-- <a -->` inside a
   DTD does not end the prolog early (feedparser's own `replace_doctype` stops
   at the first `<\\w` and only matches declarations at line starts).
   It runs on the UTF-8 text that feedparser's own `convert_to_utf8` made
   (see parser.decode), i.e. exactly what feedparser's XML stage reads, so
   UTF-16/32, UTF-7 or EBCDIC spellings of `<!ENTITY` cannot slip past it.
2. feedparser 6.0 itself (defence in depth, not relied on): `replace_doctype`
   drops ENTITY declarations whose value holds `&` or that are external
   (SYSTEM/PUBLIC) and re-inserts only one-level literal ones; its strict pass
   sets `feature_external_ges` off, so xml.sax's `external_entity_ref`
   returns without resolving; expat >= 2.4 also limits amplification.
"""

from __future__ import annotations

import re

# feedparser's prolog ends at the first `<\\w` (bytes regex): we stop at the same
# place or later, so its `replace_doctype` never sees a declaration.
_ELEMENT_START = re.compile(r"[A-Za-z0-9_]")
# Inside a declaration: what changes the scan state.
_DECL_TOKEN = re.compile(r"<!--|[\"'\[\]>]")


def defuse(body: bytes) -> bytes:
    """`body` with every prolog markup declaration removed (see module doc)."""
    # latin-1 maps each byte to one char, so every kept byte survives as it is
    # (UTF-8 or any other ASCII-compatible encoding).
    return strip_declarations(body.decode("latin-1")).encode("latin-1")


def strip_declarations(text: str) -> str:
    """Remove `<!...>` declarations (not comments) before the first element."""
    kept: list[str] = []
    pos = 0
    while (lt := text.find("<", pos)) >= 0:
        kept.append(text[pos:lt])  # whitespace, BOM or junk text before the root
        if text.startswith("<?", lt):
            end = _after(text, "?>", lt + 2)
        elif text.startswith("<!--", lt):
            end = _after(text, "-->", lt + 4)
        elif text.startswith("<!", lt):
            pos = _declaration_end(text, lt)
            continue  # dropped
        elif _ELEMENT_START.match(text, lt + 1):
            pos = lt  # the first element: the prolog is over
            break
        else:
            end = lt + 1  # a stray "<" in junk text
        kept.append(text[lt:end])
        pos = end
    return "".join(kept) + text[pos:]


def _after(text: str, closer: str, start: int) -> int:
    end = text.find(closer, start)
    return len(text) if end < 0 else end + len(closer)


def _declaration_end(text: str, start: int) -> int:
    """Index after the `>` closing the declaration at `start` (or len(text))."""
    depth, pos = 0, start + 2
    while match := _DECL_TOKEN.search(text, pos):
        token, pos = match.group(), match.end()
        if token == "<!--":
            pos = _after(text, "-->", pos)
        elif token in "\"'":
            pos = _after(text, token, pos)
        elif token == "[":
            depth += 1
        elif token == "]":
            depth = max(depth - 1, 0)
        elif depth == 0:  # ">"
            return pos
    return len(text)
