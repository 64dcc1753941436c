"""The kind of an item, as ../shared/eval/STORIES.md tells stories apart.

The standard puts some pieces in stories of their own however many words
they share with the event they cite: market wraps and market reactions
("the market's move after it"), live blogs and roundups ("three things to
know"), and opinion or analysis pieces. They are recognised here by the cue
phrases French and English newsrooms put in their titles (or, for analysis,
as the summary's first word); an item only joins a story of its own kind.
Everything else is a report.
"""

from __future__ import annotations

import re
from enum import StrEnum

from monitor.matcher.fold import fold


class Kind(StrEnum):
    REPORT = "report"
    MARKET = "market"  # market wraps and share-price moves
    ROUNDUP = "roundup"  # live blogs, briefings, "things to know"
    OPINION = "opinion"  # opinion, analysis, explainers


def _cues(*phrases: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)(?:" + "|".join(phrases) + r")(?!\w)")


# Matched against folded text (lower case, no accents, straight apostrophes).
_MARKET = _cues(
    r"cac 40", r"sbf 120", r"bourse de paris", r"stoxx(?: europe)? 600",
    r"ftse 100", r"dax", r"nasdaq", r"dow jones", r"s&p 500", r"nikkei",
    r"shares?", r"stocks?", r"a l'ouverture", r"a la cloture", r"a la mi-seance", r"en seance",
)
_ROUNDUP = _cues(
    r"en direct", r"live", r"choses a savoir", r"ce qu'il faut retenir", r"l'essentiel",
    r"things to know", r"what we know so far", r"morning briefing", r"revue de presse",
    r"les titres du jour",
)
_OPINION_TITLE = _cues(r"opinion", r"editorial", r"tribune", r"chronique", r"comment", r"analysis")
_OPINION_LEAD = re.compile(r"^(?:analyse|decryptage|reportage|editorial|opinion|tribune|"
                           r"chronique|analysis|comment)\b")


def kind(title: str, summary: str) -> Kind:
    """The kind of an item with this title and summary."""
    folded_title = fold(title)
    if _ROUNDUP.search(folded_title):
        return Kind.ROUNDUP
    if _MARKET.search(folded_title):
        return Kind.MARKET
    if _OPINION_TITLE.match(folded_title) or _OPINION_LEAD.match(fold(summary).lstrip()):
        return Kind.OPINION
    return Kind.REPORT
