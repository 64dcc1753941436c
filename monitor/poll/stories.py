"""The daemon's story index: built from the store at start, fed by each poll.

The index (monitor.stories) lives in memory; the store keeps what rebuilds
it (each item's text and first sighting) and what it decided (each item's
story). Rebuilding attaches the items of the window again in the order they
were seen, so the stories keep their ids across restarts; items recorded
before stories existed get theirs here, and so do their alerts (an
upgraded database: what was alerted counts as its story's alert, and does
not alert again). Two instances on PostgreSQL each hold their own index;
the outbox's (story, rule, channel) key is what allows one alert.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from monitor.config import MonitorSettings
from monitor.models import Item
from monitor.store import Store, StoredItem
from monitor.stories import StoryIndex, StorySettings

log = logging.getLogger(__name__)


def story_settings(monitor: MonitorSettings) -> StorySettings:
    """The grouping's settings from [monitor] story_*."""
    return StorySettings(window=monitor.story_window, threshold=monitor.story_threshold)


async def open_index(store: Store, settings: StorySettings, now: datetime) -> StoryIndex:
    """The index of the stories of the window before `now`, from the store."""
    index = StoryIndex(settings)

    def attach(stored: StoredItem) -> str:
        seen = datetime.fromtimestamp(stored.first_seen, UTC)
        return index.attach(_dated(stored.item, seen, settings), seen)
    count = await store.rebuild_stories((now - settings.window).timestamp(), attach)
    log.info("stories rebuilt items=%d stories=%d", count, len(index))
    return index


def attach(index: StoryIndex | None, items: Sequence[Item], now: datetime) -> list[Item]:
    """`items` (in the order they happened) each with its story."""
    if index is None:
        return list(items)
    return [replace(item, story_id=index.attach(_dated(item, now, index.settings), now))
            for item in items]


def _dated(item: Item, seen: datetime, settings: StorySettings) -> Item:
    """`item` as the index should date it: an item published before the
    window (a feed's backlog, a catch-up) is news when seen; dated by its
    publication, its story would leave the window as soon as it opened."""
    published = item.published
    if published is not None and published.tzinfo is None:
        published = published.replace(tzinfo=UTC)
    if published is None or published >= seen - settings.window:
        return item
    return replace(item, published=None)
