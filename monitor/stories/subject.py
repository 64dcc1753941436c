"""The subject of a headline: the first name it gives (a company, a person,
a place), read from capital letters before folding.

Two headlines about different actors doing the same thing ("Ryanair ouvre
trois lignes à Toulouse" / "Easyjet ouvre une base à Toulouse"; a carmaker's
sales / the whole market's) share most of their rare words but not their
subject. A word counts as a name when it is capitalised, not a common word,
and, if it opens the title, never written in lower case in the item (French
headlines capitalise only their first word: "Grève chez Airbus : ... la
grève"). In title-case headlines ("Stellantis Pulls Back 312,000 Jeeps")
every word is capitalised, so there only acronyms and the opening word are
read as names.
"""

from __future__ import annotations

import re

from monitor.matcher.fold import fold, tokens
from monitor.stories.words import STOPWORDS, stems

_WORD = re.compile(r"[^\W\d_][^\W_]*(?:['’][^\W\d_]+)?")


def subject(title: str, summary: str) -> str | None:
    """The stem of the headline's first name, if it gives one."""
    words = _WORD.findall(title)
    lower = {_bare(w) for w in _WORD.findall(f"{title} {summary}") if w[:1].islower()}
    title_case = _title_case(words)
    for position, word in enumerate(words):
        folded = _bare(word)
        if not word[:1].isupper() or folded in STOPWORDS or len(word) < 2:
            continue
        acronym = word.isupper()
        opening = position == 0
        if acronym or (opening and folded not in lower) or not (opening or title_case):
            found = stems(word)
            return found[0] if found else None
    return None


def _bare(word: str) -> str:
    """A word folded, without its elided article: `L'Oréal` is `oreal`."""
    return "".join(tokens(fold(word)))


def _title_case(words: list[str]) -> bool:
    """Whether most longer words are capitalised (English headline style)."""
    longer = [w for w in words if len(w) >= 4]
    return bool(longer) and sum(w[:1].isupper() for w in longer) > 0.6 * len(longer)
