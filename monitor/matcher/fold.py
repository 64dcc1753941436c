"""Text folding and word tokens: the one definition of "the same word".

Contract (../shared/eval/README.md): text is compared after Unicode NFKC, case
folding, accent removal (é→e), ligature expansion (œ→oe), straight quotes and
apostrophes, and every dash read as a word separator. `fold` maps each
character on its own (a cached per-character table applied with
`str.translate`), so folding is idempotent and a folded offset maps back to
the original character: that is how a hit shows `Ampère` for the term
`Ampere`.

Publishers' text carries invisible format characters inside words: soft
hyphens (U+00AD) from hyphenating CMSs, zero-width spaces and joiners
(U+200B-U+200D), word joiners (U+2060), stray BOMs (U+FEFF). Folding removes
them (`Am\u00adpère` is `ampere`); a folded offset still maps back, and
`visible` takes them out of a quoted original. Every kind of space (no-break
U+00A0, narrow no-break U+202F, thin U+2009, U+2000-U+200A, ideographic
U+3000) is whitespace to `str.split` and folds to a space: it separates words.

A word is a run of letters and digits, optionally joined by apostrophes
(`aujourd'hui`). A French elided article or pronoun in front (`l'`, `qu'`,
...) and an English possessive `'s` behind are not part of the word.
"""

from __future__ import annotations

import re
import unicodedata

from monitor.text import INVISIBLE

# Characters NFKD does not decompose but a reader takes for a base letter.
_SPECIAL = str.maketrans({
    "\u0153": "oe", "\u00e6": "ae", "\u00f8": "o", "\u0111": "d", "\u00f0": "d",  # œ æ ø đ ð
    "\u0142": "l", "\u00fe": "th", "\u0131": "i", "\u0127": "h", "\u0167": "t",  # l th i h t
    "\u014b": "n",  # ŋ
    # Typeset apostrophes, primes and quotes (single, then double); the minus sign.
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u02bc\u02b9\u00b4\uff07", "'"),
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033", '"'),
    "\u2212": "-",
})

# Removed by folding (../shared/eval/README.md: "Invisible format characters").
_INVISIBLE_RE = re.compile(f"[{INVISIBLE}]")

ELISIONS = ("jusqu", "lorsqu", "puisqu", "qu", "l", "d", "j", "m", "n", "s", "t", "c")

# Group 1 is the word; the elided prefix and the possessive `'s` are outside it.
TOKEN_RE = re.compile(
    r"(?:\b(?:" + "|".join(ELISIONS) + r")')?"
    r"([^\W_]+(?:'(?!s(?![^\W_]))[^\W_]+)*)"
    r"(?:'s(?![^\W_]))?"
)


def _transform(char: str) -> str:
    text = unicodedata.normalize("NFKC", char).casefold()
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    text = "".join("-" if unicodedata.category(c) == "Pd" else c for c in text)
    return unicodedata.normalize("NFC", text.translate(_SPECIAL))


def _fold_char(char: str) -> str:
    """The folded form of one character, iterated to a fixed point so that
    folding the output again changes nothing (idempotence)."""
    if char in INVISIBLE:
        return ""
    text = _transform(char)
    for _ in range(4):
        again = "".join(_transform(c) for c in text)
        if again == text:
            break
        text = again
    return text


class _FoldTable(dict[int, str]):
    """`str.translate` table filled on first sight of each character."""

    def __missing__(self, code: int) -> str:
        folded = self[code] = _fold_char(chr(code))
        if len(folded) != 1:
            _RESIZING.add(chr(code))
        return folded


_TABLE = _FoldTable()
_RESIZING: set[str] = set()  # characters whose folded form is not one character


def fold(text: str) -> str:
    """The folded form of `text` (see the module docstring)."""
    if text.isascii():
        return text.lower()
    return text.translate(_TABLE)


def tokens(folded: str) -> list[str]:
    """The words of already folded text, elisions and possessives removed."""
    return TOKEN_RE.findall(folded)


def words(text: str) -> list[str]:
    """The words of raw text: `words("d\u2019Ampère's")` is `["ampere"]`."""
    return tokens(fold(text))


def visible(original: str) -> str:
    """`original` without the invisible characters folding removes: the word
    a hit quotes, as a reader sees it (`Am\u00adpère` shows as `Ampère`)."""
    if original.isascii():
        return original
    return _INVISIBLE_RE.sub("", original)


def original_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) in `text` of each of its words: for `l'Œuvre`, [(2, 7)]."""
    folded = fold(text)
    spans = [match.span(1) for match in TOKEN_RE.finditer(folded)]
    if len(folded) == len(text) and _RESIZING.isdisjoint(text):
        return spans
    offsets = []
    for position, char in enumerate(text):
        offsets.extend([position] * len(_TABLE[ord(char)]))
    offsets.append(len(text))
    return [(offsets[start], _end(text, offsets[start], offsets[end])) for start, end in spans]


def _end(text: str, start: int, end: int) -> int:
    """`end` moved back over invisible characters: they fold to nothing, so
    the next folded offset lies after those behind a word, but they are not
    part of it (combining accents, which fold to nothing too, are)."""
    while end > start and text[end - 1] in INVISIBLE:
        end -= 1
    return end
