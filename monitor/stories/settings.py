"""The settings of story grouping, with defaults meant to work untuned.

The config keys (`[monitor] story_window`, ...) come later; until then the
daemon and `test-stories` use `StorySettings()` as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class StorySettings:
    """How items are grouped into stories.

    window: how long a story takes new items (after its first item), how
        long it is kept (after its latest item) and how far back word rarity
        is counted; older stories leave the index.
    threshold: the least similarity (0..1, see `similarity.score`) for an
        item to join a story; below it the item opens a new story.
    headline_weight: how much the headline coverage (the share, by rarity,
        of one item's title stems that the other item tells anywhere) counts
        beside the cosine: it finds rewordings whose own titles share no word.
    title_ratio: a folded-title likeness (rapidfuzz token_sort_ratio, 0..100)
        from which two titles are taken for one article edited or repeated.
    stale_after: the age gap between an item and a story's first item from
        which the similarity is discounted (a later development is likelier).
    max_candidates: how many stories, found through rare shared words, are
        scored in full for each new item.
    common_share: a word found in more than this share of the window's items
        (and in more than `common_floor` of them) finds no candidates.
    """

    window: timedelta = timedelta(hours=48)
    threshold: float = 0.22
    headline_weight: float = 0.5
    title_ratio: float = 88.0
    stale_after: timedelta = timedelta(hours=3)
    max_candidates: int = 24
    common_share: float = 0.02
    common_floor: int = 40

    def __post_init__(self) -> None:
        if self.window <= timedelta(0):
            raise ValueError("story window must be positive")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError("story threshold must be in (0, 1]")
