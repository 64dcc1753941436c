"""`StoryIndex`: each new item attached to a story of the window, in memory.

Contract: `attach(item, now)` returns the id of the story the item reports,
an existing one when it is close enough to it as a whole, else a new one
(whose id is the item's: `story_id`); `adopt(item, story, now)` files an
item under the story another index gave it. State is rebuilt by attaching the
stored items of the window again in order of time; nothing here reads a
clock, a file or a global.

Chaining guard: an item is compared with each candidate story's first item
and with the story's core (the stems most of its members share, with their
mean weight), never with a single member. Linking every pair above a
threshold would let A~B and B~C put A and C, two different events, in one
ever-growing cluster; a plain centroid would still lean towards B's own
words. The core is what the members agree the story is about.

Candidates come from an inverted index of stems to stories; only stems rarer
than `common_share` of the window find candidates, so a lookup touches few
stories however many the window holds. Stories whose latest item is older
than the window leave the index, and items leave the rarity counts, so
memory is bounded by the window.
"""

from __future__ import annotations

import hashlib
import heapq
from dataclasses import dataclass, field
from datetime import UTC, datetime

from monitor.stories.features import Features, ItemLike, canonical_link, features, item_key
from monitor.stories.settings import StorySettings
from monitor.stories.similarity import (
    Rarity,
    Vector,
    cosine,
    headline_coverage,
    subject_factor,
    tells_an_event,
    time_factor,
    title_boost,
)
from monitor.stories.teasers import Teasers


def story_id(item: ItemLike) -> str:
    """The id of the story an item opens: stable across restarts."""
    return hashlib.sha256(f"{item.feed}\n{item.id}".encode()).hexdigest()[:16]


def _aware(moment: datetime) -> datetime:
    """A time without a zone is taken as UTC (what feeds without one mean
    most often), so that it can be compared with the others."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(slots=True)
class _Story:
    id: str
    first: Features
    first_vector: Vector
    last_at: datetime
    size: int = 0
    weights: dict[str, float] = field(default_factory=dict)  # summed over members
    support: dict[str, int] = field(default_factory=dict)  # members having the stem
    core: Vector = field(default_factory=lambda: Vector({}))  # see module docstring
    links: set[str] = field(default_factory=set)


class StoryIndex:
    """The open stories of the window and the index that finds them."""

    def __init__(self, settings: StorySettings | None = None) -> None:
        self.settings = settings or StorySettings()
        self.rarity = Rarity()
        self._stories: dict[str, _Story] = {}
        self._postings: dict[str, set[str]] = {}
        self._links: dict[str, str] = {}
        self._keys: dict[str, str] = {}  # item key → story id
        # Heap by time: (at, arrival, item key, terms, teasers key).
        self._items: list[tuple[datetime, int, str, dict[str, float], str]] = []
        self.teasers = Teasers()  # the summaries a feed gives several articles
        self._sequence = 0
        self._expiry: list[tuple[datetime, str]] = []  # heap of (last_at, story id)

    def __len__(self) -> int:
        """How many stories are open."""
        return len(self._stories)

    def size(self, story: str) -> int:
        """How many items story `story` has taken (0 once it has left)."""
        found = self._stories.get(story)
        return found.size if found is not None else 0

    def attach(self, item: ItemLike, now: datetime) -> str:
        """The id of `item`'s story, which now counts `item` among its members."""
        feats = self._features(item, now)
        known = self._keys.get(feats.key)
        if known is not None and known in self._stories:
            return known
        # An item that opened a story still open belongs to it, even once
        # the item itself has left the rarity counts.
        story = self._stories.get(story_id(item)) or self._find(feats)
        return self._add(item, feats, story, story_id(item)).id

    def holds(self, feed: str, item_id: str) -> bool:
        """Whether the item (`feed`, `item_id`) is in an open story here."""
        return self._keys.get(item_key(feed, item_id)) in self._stories

    def adopt(self, item: ItemLike, story: str, now: datetime) -> None:
        """`item` joins `story`, the story another index gave it (another
        instance's, read from the store), unless this index holds the item
        already; a story it did not know opens with the item, under that id.
        Its own later items of the story then find it."""
        if self.holds(item.feed, item.id):
            return
        self._add(item, self._features(item, now), self._stories.get(story), story)

    def _features(self, item: ItemLike, now: datetime) -> Features:
        """`item` read at `now`, the window first moved on to `now`: in the
        window from its publication (a date in the future is `now`), or
        from `now` when that is before the window (a backlog: news when
        seen; dated by its publication, its story would leave the window as
        soon as it opened); a teaser summary left out."""
        now = _aware(now)
        published = None if item.published is None else min(_aware(item.published), now)
        self.evict(now)
        key = Teasers.key(item.feed, item.summary)
        article = canonical_link(item.link) or item.title
        fresh = published is not None and published >= now - self.settings.window
        return features(item, published if fresh and published else now,
                        teaser=self.teasers.shared(key, article), published=published)

    def _add(self, item: ItemLike, feats: Features, story: _Story | None,
             new_id: str) -> _Story:
        """`item` (read as `feats`) counted in the window and joined to
        `story`, or to a new story `new_id` that it opens."""
        self.rarity.add(feats.terms)
        self._sequence += 1  # ties on time are broken by arrival, not by the dicts
        teaser = Teasers.key(item.feed, item.summary)
        self.teasers.add(teaser, feats.link or item.title)
        heapq.heappush(self._items, (feats.at, self._sequence, feats.key, feats.terms, teaser))
        if story is None:
            story = _Story(id=new_id, first=feats, first_vector=Vector(feats.terms),
                           last_at=feats.at)
            self._stories[story.id] = story
        self._join(story, feats)
        return story

    def evict(self, now: datetime) -> None:
        """Forget items and stories older than the window before `now`."""
        horizon = now - self.settings.window
        while self._items and self._items[0][0] < horizon:
            _, _, key, terms, teaser = heapq.heappop(self._items)
            self.rarity.add(terms, -1)
            self.teasers.drop(teaser)
            self._keys.pop(key, None)
        while self._expiry and self._expiry[0][0] < horizon:
            _, sid = heapq.heappop(self._expiry)
            story = self._stories.get(sid)
            if story is not None and story.last_at < horizon:
                self._drop(story)

    def _find(self, feats: Features) -> _Story | None:
        """The best story for `feats` at or above the threshold, if any."""
        if feats.link and feats.link in self._links:
            return self._stories[self._links[feats.link]]
        best, best_score = None, self.settings.threshold
        vector = Vector(feats.terms)
        for story in self._candidates(feats):
            if story.first.kind is not feats.kind:
                continue
            score = self.score(feats, vector, story)
            if score >= best_score:
                best, best_score = story, score
        return best

    def score(self, feats: Features, vector: Vector, story: _Story) -> float:
        """Similarity of an item to a story as a whole (see module docstring)."""
        first = story.first
        if not tells_an_event(feats, first, feats.terms.keys() & (
                first.terms.keys() | story.core.weights.keys()), self.settings):
            return 0.0
        base = cosine(vector, story.first_vector, self.rarity)
        if story.size > 1:  # else the core is the first item
            base = max(base, cosine(vector, story.core, self.rarity))
        base = max(base, self.settings.headline_weight
                   * headline_coverage(feats, first, self.rarity))
        boosted = title_boost(base, feats.title, first.title, self.settings)
        return (boosted * time_factor(feats.when, first.when, self.settings)
                * subject_factor(feats, first))

    def _candidates(self, feats: Features) -> list[_Story]:
        """Stories sharing rare stems with `feats`, most shared rarity first."""
        cap = max(self.settings.common_floor, self.settings.common_share * self.rarity.items)
        shared: dict[str, float] = {}
        for stem, weight in feats.terms.items():
            if self.rarity.counts.get(stem, 0) > cap:
                continue
            gain = weight * self.rarity.idf(stem)
            for sid in self._postings.get(stem, ()):
                shared[sid] = shared.get(sid, 0.0) + gain
        top = heapq.nlargest(self.settings.max_candidates, shared.items(), key=lambda kv: kv[1])
        return [self._stories[sid] for sid, _ in top]

    def _join(self, story: _Story, feats: Features) -> None:
        story.size += 1
        story.last_at = max(story.last_at, feats.at)
        for stem, weight in feats.terms.items():
            story.weights[stem] = story.weights.get(stem, 0.0) + weight
            story.support[stem] = story.support.get(stem, 0) + 1
            self._postings.setdefault(stem, set()).add(story.id)
        story.core = Vector({stem: story.weights[stem] / story.size
                             for stem, count in story.support.items()
                             if 2 * count > story.size})
        if feats.link:
            story.links.add(feats.link)
            self._links[feats.link] = story.id
        self._keys[feats.key] = story.id
        heapq.heappush(self._expiry, (story.last_at, story.id))

    def _drop(self, story: _Story) -> None:
        del self._stories[story.id]
        for stem in story.support:
            members = self._postings.get(stem)
            if members is not None:
                members.discard(story.id)
                if not members:
                    del self._postings[stem]
        for link in story.links:
            if self._links.get(link) == story.id:
                del self._links[link]
