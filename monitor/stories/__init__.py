"""Stories: each new item attached to the news event it reports, so that one
event reported by several outlets, or edited by its publisher, alerts once.

Pure: no clock, I/O or globals; state lives in a `StoryIndex` and is rebuilt
from the stored items of the window. The standard of "one story" is
../shared/eval/STORIES.md. Public API:

    StorySettings(window=48h, threshold=..., ...)   frozen; defaults work untuned
    StoryIndex(settings).attach(item, now) -> str   the item's story id
    StoryIndex.evict(now)                           forget what left the window
    story_id(item) -> str                           the id of a story item opens
    pairwise(labels, stories) -> PairScores         precision/recall/F1 over pairs

How: an item is read once (features: stems of its folded words, title
heavier than summary, figures as words; its kind; its headline's subject).
Candidate stories come from an inverted index of rare stems; each is scored
as a whole (its first item and its core, never one member) by a
rarity-weighted cosine, a headline coverage and a fuzzy title likeness,
discounted by time and by a missing subject; the best above the threshold
takes the item, else the item opens a story.

Sub-modules: settings, words (folding, stop words, stems), kinds (market,
roundup, opinion, report), subject (a headline's first name), features (an
item read once), similarity (rarity, cosine, coverage, title, time,
subject), index (StoryIndex), evaluate (pairwise scores).
"""

from monitor.stories.evaluate import PairScores, pairwise
from monitor.stories.features import ItemLike
from monitor.stories.index import StoryIndex, story_id
from monitor.stories.settings import StorySettings

__all__ = ["ItemLike", "PairScores", "StoryIndex", "StorySettings", "pairwise", "story_id"]
