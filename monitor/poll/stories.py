"""The daemon's story index: built from the store at start, fed by each poll.

The index (monitor.stories) lives in memory; the store keeps what rebuilds
it (each item's text and first sighting) and what it decided (each item's
story). Rebuilding attaches the items of the window again in the order they
were seen, so the stories keep their ids across restarts; items recorded
before stories existed get theirs here, and so do their alerts (an
upgraded database: what was alerted counts as its story's alert, and does
not alert again).

Two instances on PostgreSQL each hold their own index, and the outbox's
(story, rule, channel) key allows one alert per story id. So that an
instance gives a story the id another instance gave it, `catch_up` adopts,
every 3 seconds, the items the others recorded, with their stories: an
item seen here later finds the story there. Only items of one story that
two instances record within the same few seconds can still open two.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from monitor.config import MonitorSettings
from monitor.models import Item
from monitor.store import Store, StoredItem
from monitor.stories import StoryIndex, StorySettings

log = logging.getLogger(__name__)
# Seconds each catch-up reads back: a poll's items are dated by its start
# and committed at its end, up to a fetch, a parse and articles later.
CATCH_UP_OVERLAP = 120.0


def story_settings(monitor: MonitorSettings) -> StorySettings:
    """The grouping's settings from [monitor] story_*."""
    return StorySettings(window=monitor.story_window, threshold=monitor.story_threshold)


class Stories:
    """The daemon's story index, attached to off the event loop: the
    thousands of items of a first poll or of a rebuild cost seconds of CPU
    (bench/stories.py: about a millisecond each), which would hold up every
    other poll, the deliveries and the watchdog. One attach at a time: the
    index is not thread-safe."""

    def __init__(self, settings: StorySettings) -> None:
        self.index = StoryIndex(settings)
        self._lock = asyncio.Lock()
        self._caught_up: float | None = None  # the last catch-up's time

    async def attach(self, items: Sequence[Item], now: datetime) -> list[Item]:
        """`items` (in the order they happened) each with its story."""
        async with self._lock:
            return await asyncio.to_thread(self._attach, items, now)

    async def rebuild(self, store: Store, now: datetime) -> None:
        """Attach the stored items of the window before `now` again."""
        since = (now - self.index.settings.window).timestamp()

        async def attach(found: list[StoredItem]) -> list[str]:
            async with self._lock:
                return await asyncio.to_thread(self._attach_stored, found)
        count = await store.story.rebuild(since, attach)
        log.info("stories rebuilt items=%d stories=%d", count, len(self.index))

    async def catch_up(self, store: Store, now: datetime) -> int:
        """Adopt the items recorded since the last catch-up by the other
        instances (this index holds its own: not read), each into its stored
        story; returns how many were adopted. A poll's items carry the time
        it began, and are committed when it ends: each catch-up reads
        `CATCH_UP_OVERLAP` back, never past the window (the index has let
        go of older items: read again, they would be adopted again)."""
        since = self._caught_up if self._caught_up is not None else now.timestamp()
        since = max(since - CATCH_UP_OVERLAP,
                    (now - self.index.settings.window).timestamp())

        async def adopt(found: list[StoredItem]) -> list[str]:
            async with self._lock:
                return await asyncio.to_thread(self._adopt, found)
        count = await store.story.rebuild(since, adopt, self.index.holds)
        self._caught_up = now.timestamp()
        return count

    def _adopt(self, found: Sequence[StoredItem]) -> list[str]:
        """Each item's story: the one stored (adopted), else (an item stored
        before stories existed) the one it joins here."""
        ids = []
        for stored in found:
            seen = datetime.fromtimestamp(stored.first_seen, UTC)
            if stored.item.story_id is None:
                ids.append(self.index.attach(stored.item, seen))
            else:
                self.index.adopt(stored.item, stored.item.story_id, seen)
                ids.append(stored.item.story_id)
        return ids

    def _attach(self, items: Sequence[Item], now: datetime) -> list[Item]:
        return [replace(item, story_id=self.index.attach(item, now)) for item in items]

    def _attach_stored(self, found: Sequence[StoredItem]) -> list[str]:
        ids = []
        for stored in found:
            seen = datetime.fromtimestamp(stored.first_seen, UTC)
            ids.append(self.index.attach(stored.item, seen))
        return ids


async def open_index(store: Store, settings: StorySettings, now: datetime) -> Stories:
    """The stories of the window before `now`, from the store."""
    stories = Stories(settings)
    await stories.rebuild(store, now)
    return stories
