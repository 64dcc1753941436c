"""`rules backtest`: rules tried on the items the store kept; nothing sent or changed.

The store is opened read-only (store.open_readonly: a SQLite file in
mode=ro, PostgreSQL transactions READ ONLY) and read a batch at a time, so
memory holds one batch and the items that fire, never the whole window;
`workers` > 1 reads a large store in worker processes, each its own span of
keys (one process by default: see `backtest`).
Each item meets the same Matcher as in the daemon and `test-rules`, with
its feed's tags from the config (a feed no longer configured: none). An
item "alerted" when the outbox holds an alert of that rule for it (any
channel or state; retention removes delivered alerts after `retention`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from monitor.cli.common import cut
from monitor.config import Settings
from monitor.matcher import compile_rules
from monitor.models import Item, Match, Rule
from monitor.store import Kept, Span, open_readonly

PER_WORKER = 20_000  # items at least per worker process: below, one process is faster
# The Matcher's memos (never an answer, only its speed): the daemon's 50,000
# entries are cleared and learnt again every few thousand items of a
# backtest, whose items bring a new word or two each; 200,000 took a third
# off 100,000 items' matching time, for about 25 MB (bench/backtest.py).
MEMO = 200_000


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
    note: str = ""  # why nothing was read

    def add(self, kept: Kept, matches: Sequence[Match]) -> None:
        self.scanned += 1
        for match in matches:
            # The item without its text: only the title and link are printed.
            self.fires[match.rule].append(Fire(_light(kept), match))


def _light(kept: Kept) -> Kept:
    item = kept.item
    return Kept(Item(feed=item.feed, id=item.id, title=item.title, link=item.link,
                     published=item.published), kept.first_seen, kept.alerted)


@dataclass(frozen=True, slots=True)
class Job:
    """One backtest, or the share of it one worker process reads (`span`)."""

    database: str
    rules: tuple[Rule, ...]
    tags: Mapping[str, tuple[str, ...]]  # each configured feed's tags
    since: float
    feeds: tuple[str, ...] = ()
    span: Span = (None, None)


async def _scan(job: Job) -> Backtest:
    """The items of the job's span through the daemon's Matcher."""
    matcher = compile_rules(job.rules, memo_limit=MEMO)
    result = Backtest(job.since, fires={name: [] for name in matcher.rules})
    # The content is read (and decompressed) only for rules that read it.
    content = any("content" in rule.fields for rule in job.rules)
    store = await open_readonly(job.database)
    try:
        async for batch in store.archive.batches(job.since, job.feeds, content=content,
                                                 span=job.span):
            for kept in batch:
                result.add(kept, matcher.match(kept.item, job.tags.get(kept.item.feed, ())))
    finally:
        await store.close()
    return result


def _work(job: Job) -> Backtest:
    """A worker process's share (a top-level function: the pool pickles it)."""
    return asyncio.run(_scan(job))


async def _split(job: Job, workers: int, per_worker: int) -> list[Job]:
    store = await open_readonly(job.database)
    try:
        count, _ = await store.archive.size()
        parts = min(workers, count // per_worker)
        spans = await store.archive.split(parts) if parts > 1 else [job.span]
    finally:
        await store.close()
    return [replace(job, span=span) for span in spans]


def backtest(settings: Settings, rules: Sequence[Rule], since: float,
             feeds: Sequence[str] = (), workers: int = 1,
             per_worker: int = PER_WORKER) -> Backtest:
    """Every kept item first seen since `since` (of `feeds`) through the
    rules. With `workers` > 1 a store of more than `per_worker` items is
    cut into spans of its keys, one per worker process, each with a Matcher
    of its own. One process is the default: on the 2-core machine shared
    with other jobs (load 6 to 10), two workers took longer than one in 6
    of 7 runs of bench/backtest.py (1.01 to 1.66 times), 4 % less in one;
    at load 2, 26 % less on SQLite but 46 % more on PostgreSQL (its server
    needs a core too). Their start and each Matcher learning the vocabulary
    again cost 3 to 4 CPU-seconds more. A SQLite file the daemon has not
    created yet holds no item: none is read."""
    job = Job(settings.monitor.database, tuple(rules),
              {feed.name: feed.tags for feed in settings.feeds}, since, tuple(feeds))
    if not _exists(job.database):
        return Backtest(since, fires={rule.name: [] for rule in rules},
                        note=f"no database yet at {job.database}: nothing is stored")
    jobs = asyncio.run(_split(job, workers, per_worker))
    if len(jobs) == 1:
        parts = [_work(job)]
    else:
        # spawn, not fork: no copy of this process's threads and loop state.
        with ProcessPoolExecutor(len(jobs), mp_context=get_context("spawn")) as pool:
            parts = list(pool.map(_work, jobs))
    result = Backtest(since, fires={rule.name: [] for rule in rules})
    for part in parts:
        result.scanned += part.scanned
        for rule, fires in part.fires.items():
            result.fires[rule] += fires
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
    if not _exists(settings.monitor.database):
        return []
    return asyncio.run(_find(settings, item_id, feed))


def _exists(database: str) -> bool:
    """Whether there may be items to read (a PostgreSQL URL: the server says;
    an empty file is a SQLite database with no table yet)."""
    return "://" in database or (Path(database).is_file() and Path(database).stat().st_size > 0)


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
                       **({"note": result.note} if result.note else {}),
                       "rules": [{"rule": rule, "fired": len(fires),
                                  "alerted": sum(f.alerted for f in fires),
                                  "items": [fire_json(f) for f in fires]}
                                 for rule, fires in result.fires.items()]},
                      ensure_ascii=False, indent=2)


def render(result: Backtest, timezone: str, feeds: Sequence[str]) -> str:
    zone = ZoneInfo(timezone)
    where = f"feeds {', '.join(feeds)}" if feeds else "all feeds"
    lines = [f"{result.scanned} stored items first seen since "
             f"{_local(result.since, zone)} ({where}; times in {timezone}); nothing is sent",
             *([f"note: {result.note}"] if result.note else [])]
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
