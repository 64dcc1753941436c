"""`rules backtest`: rules tried on the items the store kept; nothing sent or changed.

The store is opened read-only (store.open_readonly: a SQLite file in
mode=ro, PostgreSQL transactions READ ONLY) and read a batch at a time, so
memory holds one batch and the items that fire, never the whole window.
Each item meets the same Matcher as in the daemon and `test-rules`, with
its feed's tags from the config (a feed no longer configured: none). An
item "alerted" when the outbox holds an alert of that rule for it (any
channel or state; retention removes delivered alerts after `retention`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from monitor.cli.common import cut
from monitor.config import Settings
from monitor.matcher import Matcher
from monitor.models import Item, Match
from monitor.store import Kept, open_readonly


@dataclass(frozen=True, slots=True)
class Fire:
    """An item a rule would fire on, with what is printed of it."""

    kept: Kept
    match: Match

    @property
    def alerted(self) -> bool:
        return self.match.rule in self.kept.alerted


@dataclass(slots=True)
class Backtest:
    """What a backtest found: how many items it read, and the fires per rule."""

    since: float
    scanned: int = 0
    fires: dict[str, list[Fire]] = field(default_factory=dict)

    def add(self, kept: Kept, matches: Sequence[Match]) -> None:
        self.scanned += 1
        for match in matches:
            # The item without its text: only the title and link are printed.
            self.fires[match.rule].append(Fire(_light(kept), match))


def _light(kept: Kept) -> Kept:
    item = kept.item
    return Kept(Item(feed=item.feed, id=item.id, title=item.title, link=item.link,
                           published=item.published), kept.first_seen, kept.alerted)


async def backtest(settings: Settings, matcher: Matcher, since: float,
                   feeds: Sequence[str] = ()) -> Backtest:
    """Every kept item first seen since `since` (of `feeds`) through `matcher`."""
    tags: Mapping[str, tuple[str, ...]] = {feed.name: feed.tags for feed in settings.feeds}
    result = Backtest(since, fires={name: [] for name in matcher.rules})
    store = await open_readonly(settings.monitor.database)
    try:
        async for batch in store.archive.batches(since, feeds):
            for kept in batch:
                result.add(kept, matcher.match(kept.item, tags.get(kept.item.feed, ())))
    finally:
        await store.close()
    for fires in result.fires.values():
        fires.sort(key=lambda f: (f.kept.first_seen, f.kept.item.feed, f.kept.item.id))
    return result


async def _find(settings: Settings, item_id: str, feed: str | None) -> list[Kept]:
    store = await open_readonly(settings.monitor.database)
    try:
        return await store.archive.find(item_id, feed)
    finally:
        await store.close()


def find(settings: Settings, item_id: str, feed: str | None) -> list[Kept]:
    """The stored items with this id (of `feed`): `rules explain --item ID`."""
    return asyncio.run(_find(settings, item_id, feed))


def run(settings: Settings, matcher: Matcher, since: float, feeds: Sequence[str]) -> Backtest:
    return asyncio.run(backtest(settings, matcher, since, feeds))


def fire_json(fire: Fire) -> dict[str, Any]:
    item, match = fire.kept.item, fire.match
    return {"feed": item.feed, "id": item.id, "title": item.title, "link": item.link,
            "published": item.published.isoformat() if item.published else None,
            "first_seen": _iso(fire.kept.first_seen), "score": match.score,
            "terms": match.terms, "alerted": fire.alerted,
            "hits": [{"term": h.term, "matched": h.matched, "field": h.field,
                      "score": h.score} for h in match.hits]}


def to_json(result: Backtest) -> str:
    return json.dumps({"since": _iso(result.since), "scanned": result.scanned,
                       "rules": [{"rule": rule, "fired": len(fires),
                                  "alerted": sum(f.alerted for f in fires),
                                  "items": [fire_json(f) for f in fires]}
                                 for rule, fires in result.fires.items()]},
                      ensure_ascii=False, indent=2)


def render(result: Backtest, timezone: str, feeds: Sequence[str]) -> str:
    zone = ZoneInfo(timezone)
    where = f"feeds {', '.join(feeds)}" if feeds else "all feeds"
    lines = [f"{result.scanned} stored items first seen since "
             f"{_local(result.since, zone)} ({where}; times in {timezone}); nothing is sent"]
    for rule, fires in result.fires.items():
        alerted = sum(f.alerted for f in fires)
        lines += ["", f"{rule}: {len(fires)} items would fire, {alerted} of them alerted"]
        lines += [line for fire in fires for line in _fire_lines(fire, zone)]
    return "\n".join(lines)


def _fire_lines(fire: Fire, zone: ZoneInfo) -> list[str]:
    item, match = fire.kept.item, fire.match
    mark = "  ALERTED" if fire.alerted else ""
    head = (f"  {_local(fire.kept.first_seen, zone)}  {item.feed}  id {item.id}  "
            f"score {match.score}{mark}")
    hits = [f"      {h.field}: {h.term} -> {cut(h.matched, 60)!r} (+{h.score})"
            for h in match.hits]
    return [head, f"    {cut(item.title, 100)}", *hits,
            *([f"    {item.link}"] if item.link else [])]


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def _local(epoch: float, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(epoch, zone).strftime("%Y-%m-%d %H:%M")
