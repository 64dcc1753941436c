"""An item read once into what grouping compares: weighted word stems, the
canonical link and the folded title.

Words are folded (monitor.matcher.fold: case, accents, elisions), common
French and English words dropped, and each word cut to its first
`STEM` letters: a crude stemmer that is language-blind, so that `liquider`,
`liquidation` and `liquidate` meet, as do `électrique` and `electric`. Title
words weigh more than summary words: a title names the event, a summary
often adds background.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from urllib.parse import urlsplit

from monitor.matcher.fold import fold, tokens

STEM = 6
TITLE_WEIGHT = 1.0
SUMMARY_WEIGHT = 0.8

# Function words and newsroom boilerplate of both languages; rarity (IDF)
# handles the rest, but short titles leave no room for noise words.
_STOPWORDS_TEXT = """
a au aux avec ce ces cet cette comme dans de des du elle en est et etre il ils
la le les leur leurs lui mais ne ni nos notre nous on ou par pas plus pour qu
que qui sa se ses son sont sur ta te tes ton un une vos votre vous va vont a
apres avant chez contre depuis entre lors malgre selon sans sous vers fait
ete sera ont avait aussi encore tres tout tous toute toutes deja peut doit
the an and are as at be been but by for from has have he her his in into is it
its of on or our she that their them they this to was were which who will with
would after over under about new says said say more than not no can could
lire suite read more full story article video photos direct live update
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


class ItemLike(Protocol):
    """What grouping reads of an item (monitor.models.Item has it all)."""

    @property
    def id(self) -> str: ...
    @property
    def feed(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def link(self) -> str: ...
    @property
    def published(self) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class Features:
    """What one item brings to the comparison."""

    key: str  # feed and id: unique among items
    feed: str
    title: str  # folded, words only
    terms: dict[str, float]  # stem → TITLE_WEIGHT or SUMMARY_WEIGHT
    link: str  # canonical, "" when it cannot tell articles apart
    at: datetime


def stems(text: str) -> list[str]:
    """The stems of the content words of `text`."""
    out = []
    for word in tokens(fold(text)):
        if word in STOPWORDS or (len(word) < 2) or (len(word) < 3 and not word.isdigit()):
            continue
        out.append(word[:STEM])
    return out


def features(item: ItemLike, at: datetime) -> Features:
    """`item` read for grouping; `at` is its time (published, else arrival)."""
    title_stems = stems(item.title)
    terms = dict.fromkeys(stems(item.summary), SUMMARY_WEIGHT)
    terms.update(dict.fromkeys(title_stems, TITLE_WEIGHT))
    return Features(key=f"{item.feed}\n{item.id}", feed=item.feed,
                    title=" ".join(tokens(fold(item.title))), terms=terms,
                    link=canonical_link(item.link), at=at)


def canonical_link(link: str) -> str:
    """Host and path of an article link, scheme, query, fragment and trailing
    slash aside (tracking parameters and http/https differ between section
    feeds); "" for a bare home page, which some feeds give every item."""
    try:
        parts = urlsplit(link.strip())
    except ValueError:
        return ""
    path = parts.path.rstrip("/")
    if not parts.netloc or len(path) < 8:
        return ""
    host = parts.netloc.lower().removeprefix("www.")
    return f"{host}{path}"
