"""Folding and word tokens (../shared/eval/README.md, "Text is compared after folding")."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.matcher import fold
from monitor.matcher.document import Tokenizer
from monitor.matcher.fold import original_spans, tokens, words

FOLDING = [
    # (case, text, folded)
    ("nfkc ligature fi", "\ufb01nance", "finance"),
    ("nfkc fullwidth", "\uff32\uff45\uff4e\uff41\uff55\uff4c\uff54", "renault"),
    ("casefold", "AMPERE", "ampere"),
    ("casefold sharp s", "Stra\u00dfe", "strasse"),
    ("accent grave", "Amp\u00e8re", "ampere"),
    ("accent acute caps", "\u00c9CONOMIE", "economie"),
    ("cedilla", "Fran\u00e7ois", "francois"),
    ("circumflex", "dr\u00f4ne", "drone"),
    ("diaeresis", "Ha\u00efti", "haiti"),
    ("combining accent", "Ampe\u0300re", "ampere"),
    ("ligature oe", "\u0153uvre", "oeuvre"),
    ("ligature OE caps", "\u0152UVRE", "oeuvre"),
    ("ligature ae", "\u00e6ther", "aether"),
    ("curly apostrophe", "d\u2019Amp\u00e8re", "d'ampere"),
    ("left single quote", "l\u2018usine", "l'usine"),
    ("curly double quotes", "\u201cRenault\u201d", '"renault"'),
    ("en dash", "CFE\u2013CGC", "cfe-cgc"),
    ("em dash", "Renault\u2014Nissan", "renault-nissan"),
    ("non-breaking hyphen", "CFE\u2011CGC", "cfe-cgc"),
    ("minus sign", "\u2212", "-"),
    ("nbsp to space", "a\u00a0b", "a b"),
    ("narrow nbsp to space", "a\u202fb", "a b"),
    ("ideographic space to space", "a\u3000b", "a b"),
    ("soft hyphen removed", "Am\u00adp\u00e8re", "ampere"),
    ("zero-width space removed", "Amp\u200b\u00e8re", "ampere"),
    ("joiners removed", "A\u200cm\u200dp\u2060ere", "ampere"),
    ("bom removed", "\ufeffAmpere", "ampere"),
]


@pytest.mark.parametrize(("case", "text", "folded"), FOLDING, ids=[c[0] for c in FOLDING])
def test_fold(case: str, text: str, folded: str) -> None:
    assert fold(text) == folded


WORDS = [
    # (case, text, words)
    ("whole words", "Renaultsport Amperex", ["renaultsport", "amperex"]),
    ("hyphen separates", "CFE-CGC ex-Amp\u00e8re", ["cfe", "cgc", "ex", "ampere"]),
    ("en dash separates", "CFE\u2013CGC", ["cfe", "cgc"]),
    ("elision l'", "l'usine", ["usine"]),
    ("elision d' curly", "d\u2019Amp\u00e8re", ["ampere"]),
    ("elision qu'", "qu'Ampere", ["ampere"]),
    ("elision jusqu' lorsqu' puisqu'", "jusqu'au lorsqu'il puisqu'elle", ["au", "il", "elle"]),
    ("elisions j m n s t c", "j'ai m'a n'est s'est t'es c'est",
     ["ai", "a", "est", "est", "es", "est"]),
    ("elision in caps", "L'USINE D'AMPERE", ["usine", "ampere"]),
    ("possessive", "Renault's Julia\u2019s", ["renault", "julia"]),
    ("elision and possessive", "l'Ampere's", ["ampere"]),
    ("inner apostrophe kept", "aujourd'hui quelqu'un", ["aujourd'hui", "quelqu'un"]),
    ("punctuation dropped", "Provost, Fran\u00e7ois. (F.)", ["provost", "francois", "f"]),
    ("digits are words", "R5 10 %", ["r5", "10"]),
    ("underscore separates", "a_b", ["a", "b"]),
    ("soft hyphen inside", "liqui\u00add\u00e9e d\u2019Am\u00adp\u00e8re", ["liquidee", "ampere"]),
    ("zero-width space inside", "Re\u200bnault", ["renault"]),
    ("thin space separates", "CFE\u2009CGC", ["cfe", "cgc"]),
    ("narrow nbsp before colon", "Renault\u202f: Ampere", ["renault", "ampere"]),
]


@pytest.mark.parametrize(("case", "text", "expected"), WORDS, ids=[c[0] for c in WORDS])
def test_words(case: str, text: str, expected: list[str]) -> None:
    assert words(text) == expected
    assert Tokenizer().words(text) == expected


@pytest.mark.parametrize(("text", "index", "original"), [
    ("d\u2019Amp\u00e8re", 0, "Amp\u00e8re"),
    ("l'\u0152uvre's", 0, "\u0152uvre"),
    ("Ampe\u0300re,", 0, "Ampe\u0300re"),
    ("CFE\u2013CGC", 1, "CGC"),
    ("d\u2019Am\u00adp\u00e8re", 0, "Am\u00adp\u00e8re"),
    ("\ufeffAmpere\u200b x", 0, "Ampere"),
    ("cafe\u0301\u00ad", 0, "cafe\u0301"),
    ("a\u200b\u200bAmp\u00e8re", 0, "a\u200b\u200bAmp\u00e8re"),
])
def test_original_spans(text: str, index: int, original: str) -> None:
    start, end = original_spans(text)[index]
    assert text[start:end] == original


@given(st.text())
def test_fold_is_idempotent(text: str) -> None:
    assert fold(fold(text)) == fold(text)


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
def test_chunked_tokens_equal_whole_text_tokens(text: str) -> None:
    assert Tokenizer().words(text) == tokens(fold(text))


TRICKY = "ldsqu'\u2019 -\u2013\u00a0\u3000e\u0301\u00e9\u0152\u00dfA.,_"


@given(st.text(alphabet=TRICKY, max_size=40))
def test_chunked_tokens_equal_on_tricky_text(text: str) -> None:
    assert Tokenizer().words(text) == tokens(fold(text))
    assert fold(fold(text)) == fold(text)
