"""monitor.text's whitespace and control-character rules, against their
definition (the `str.translate` spelling they replaced for speed, issue 17)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from monitor.text import normalize_space, strip_controls

CONTROLS = {code: " " for code in (*range(0x00, 0x20), 0x7F)}
# Controls, every kind of Unicode space, and letters with and without accents.
TEXT = st.text(st.sampled_from(
    [chr(c) for c in range(0x20)] + ["\x7f", " ", "\xa0", "\u2003", "\u3000", "\u2028",
                                     "a", "é", "Œ", "z", "\u0301", "字"]))


@given(TEXT)
def test_normalize_space_is_controls_as_spaces_then_split(text: str) -> None:
    assert normalize_space(text) == " ".join(text.translate(CONTROLS).split())


@given(TEXT)
def test_strip_controls_removes_exactly_the_controls(text: str) -> None:
    assert strip_controls(text) == text.translate(dict.fromkeys(CONTROLS))


def test_examples() -> None:
    assert normalize_space("\x00Ampère\x1b\u00a0et\tRenault\x7f ") == "Ampère et Renault"
    assert strip_controls("https://e.org/\x00a\tb\x7f") == "https://e.org/ab"
