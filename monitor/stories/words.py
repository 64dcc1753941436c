"""Words as grouping compares them: folded, common words dropped, stemmed.

Words are folded (monitor.matcher.fold: case, accents, elisions), common
French and English words dropped, and each word cut to its first `STEM`
letters: a crude stemmer that is language-blind, so that `liquider`,
`liquidation` and `liquidate` meet, as do `électrique` and `electric`.
"""

from __future__ import annotations

import re

from monitor.matcher.fold import fold, tokens

STEM = 6

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
me ma mon mes si ni do so up us we my if
lire suite read more full story article video photos direct live update
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())

# A figure is one word whatever its separators: `2,8 %` and `2.8%` are `28`,
# `1 000` (French, often with a no-break space) and `1,000` are `1000`.
# Figures tie reports of one event together across outlets and languages.
_FIGURE = re.compile(r"(?<=\d)[.,\u00a0\u202f ](?=\d)")


def stems(text: str) -> list[str]:
    """The stems of the content words of `text`."""
    out = []
    for word in tokens(_FIGURE.sub("", fold(text))):
        if word in STOPWORDS or len(word) < 2:
            continue
        out.append(word if word.isdigit() else word[:STEM])
    return out
