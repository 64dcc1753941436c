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

Sub-modules: settings, features (an item read once), similarity (rarity,
cosine, title likeness, time), index (StoryIndex), evaluate (pairwise scores).
"""

from monitor.stories.evaluate import PairScores, pairwise
from monitor.stories.features import ItemLike
from monitor.stories.index import StoryIndex, story_id
from monitor.stories.settings import StorySettings

__all__ = ["ItemLike", "PairScores", "StoryIndex", "StorySettings", "pairwise", "story_id"]
