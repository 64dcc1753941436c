"""`newsmonitor stories`: the recent stories in the store, with their items
and sources (what the daemon grouped; `test-stories` groups a file)."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from monitor.cli.common import EXIT_OK, config_path, cut
from monitor.config import load
from monitor.errors import ConfigError
from monitor.store import Story


def cmd_stories(args: argparse.Namespace) -> int:
    from monitor.store import Store

    settings = load(config_path(args))
    if args.rule is not None and args.rule not in {r.name for r in settings.rules}:
        raise ConfigError(f"stories: unknown rule {args.rule!r}")

    async def go() -> list[Story]:
        store = await Store.open(settings.monitor.database)
        try:
            return await store.story.recent(time.time() - args.since.total_seconds(), args.rule)
        finally:
            await store.close()

    stories = asyncio.run(go())
    if args.json:
        print(json.dumps([story_row(s) for s in stories], indent=2, ensure_ascii=False))
    else:
        print(render_stories(stories, settings.monitor.timezone))
    return EXIT_OK


def story_row(story: Story) -> dict[str, Any]:
    """One story as `--json` prints it (UTC times)."""
    return {"id": story.id, "sources": story.sources,
            "alerted": [{"rule": rule, "channel": channel} for rule, channel in story.alerted],
            "items": [{"feed": s.item.feed, "id": s.item.id, "title": s.item.title,
                       "link": s.item.link, "first_seen": _iso(s.first_seen)}
                      for s in story.items]}


def render_stories(stories: list[Story], timezone: str) -> str:
    """Each story: its first title, its sources and rules, then its items."""
    zone = ZoneInfo(timezone)
    lines = [f"(times in {timezone})"]
    for story in stories:
        rules = sorted({rule for rule, _ in story.alerted})
        lines.append(f"\n{cut(story.items[0].item.title, 80)}")
        lines.append(f"  sources: {', '.join(story.sources)}"
                     + (f"  rules: {', '.join(rules)}" if rules else ""))
        for s in story.items:
            when = datetime.fromtimestamp(s.first_seen, zone).strftime("%Y-%m-%d %H:%M")
            lines.append(f"  {when}  {cut(s.item.feed, 20):20} {cut(s.item.title, 60)}")
    return "\n".join(lines) if stories else "no stories"


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")
