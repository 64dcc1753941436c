"""HTML (or plain text) → the plain text a browser would show.

Feeds put HTML in titles (Google Alerts wraps keywords in `<b>`) and in
summaries. Block elements separate words, inline elements do not
(../shared/eval/README.md): `<b>Re</b>nault` is "Renault", `x<br>y` is "x y".
Entities are decoded by the HTML parser; whitespace is collapsed.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser

_BLOCK_TAGS = frozenset((
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
    "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header",
    "hr", "img", "li", "main", "nav", "ol", "p", "pre", "section", "table", "td",
    "th", "tr", "ul",
))
_DROPPED_TAGS = ["script", "style", "template", "noscript", "iframe", "object"]
_MARKUP_HINT = re.compile(r"<[A-Za-z!/]|&(#\d+|#x[0-9A-Fa-f]+|[A-Za-z]+);?")


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment, whitespace collapsed and stripped.

    Text without any tag or entity is only whitespace-normalised, which keeps
    the common case (plain titles) cheap.
    """
    if not html:
        return ""
    if not has_markup(html):
        return normalize_space(html)
    tree = LexborHTMLParser(html)
    tree.strip_tags(_DROPPED_TAGS)
    if tree.root is None:
        return ""
    # One walk over the (small) tree: a CSS selector list of 33 tag names
    # costs twice the parse itself. Collected first: the loop inserts nodes.
    blocks = [node for node in tree.root.traverse() if node.tag in _BLOCK_TAGS]
    for node in blocks:
        node.insert_before(" ")
        node.insert_after(" ")
    root = tree.body or tree.root
    return normalize_space(root.text(deep=True, separator=""))


def has_markup(text: str) -> bool:
    """Whether `text` may hold a tag or an entity (else it is plain text)."""
    # Both need a '<' or a '&': looking for them first (C substring search)
    # spares the regex scan of nearly every text (issue 17).
    return ("<" in text or "&" in text) and _MARKUP_HINT.search(text) is not None


# C0 control characters and DEL become spaces: feeds carry NULs (`&#x0;`)
# that PostgreSQL refuses to store and that no reader wants to see. Those
# that str.split() does not already take for whitespace (it does \t-\r and
# \x1c-\x1f) are replaced by a regex: `str.translate` with a table looks up
# every character of a non-ASCII text one by one, and cost 40 % of
# `test-rules` (issue 17).
_CONTROLS_NOT_SPACE = re.compile("[\x00-\x08\x0e-\x1b\x7f]")
_CONTROLS_ALL = re.compile("[\x00-\x1f\x7f]")


# Invisible format characters publishers leave inside words: soft hyphens
# (U+00AD) from hyphenating CMSs, zero-width space, non-joiner and joiner
# (U+200B-U+200D), word joiner (U+2060), a BOM (U+FEFF) pasted mid-text.
# Words are compared without them (monitor.matcher.fold); the text keeps
# them (a joiner belongs in an emoji sequence), so a search of the text for a
# word as a reader sees it must allow them between its letters.
INVISIBLE = "\u00ad\u200b\u200c\u200d\u2060\ufeff"


def normalize_space(text: str) -> str:
    """Collapse every run of whitespace (NBSP included) into one space; control
    characters count as whitespace."""
    # Text already normalised is the common case (a feed parser's output):
    # str.isprintable() is false for every control character and every
    # whitespace but the ASCII space, so a printable text with no double,
    # leading or trailing space is returned as it is, with three C-level scans.
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text
    # str.split() and a `\s+` regex use the same test (Py_UNICODE_ISSPACE),
    # and split/join is three times faster: this runs on every title and summary.
    return " ".join(_CONTROLS_NOT_SPACE.sub(" ", text).split())


def strip_controls(text: str) -> str:
    """`text` without control characters (for links and ids, where spaces
    would be wrong too)."""
    return _CONTROLS_ALL.sub("", text)
