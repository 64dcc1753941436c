"""`test-stories`: items of a JSONL file grouped into stories with the
daemon's grouping and default settings; no state, no delivery.

Items (one JSON object a line: id, feed, title, summary, link, published ISO
8601 or null) are attached in order of `published`, then file order; an item
without a date keeps its place, timed like the dated item before it. The
clock (`now`) is the latest date seen so far. Where items carry a `story`
label, pairwise precision, recall and F1 are printed (to stderr with
--json); pairs an item lists in `ambiguous` (ids) are not scored.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.cli.common import EXIT_OK
from monitor.cli.items import read_bytes
from monitor.errors import ConfigError
from monitor.models import Item
from monitor.stories import PairScores, StoryIndex, StorySettings, pairwise
from monitor.text import html_to_text

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class _Record:
    item: Item
    at: datetime  # sort key: published, else the dated item before it
    story: str | None
    ambiguous: tuple[str, ...]


def cmd_test_stories(args: argparse.Namespace) -> int:
    records = sorted(read_records(Path(args.items)), key=lambda r: r.at)  # stable: file order
    stories = group([r.item for r in records], [r.at for r in records])
    for record, story in zip(records, stories, strict=True):
        if args.json:
            print(json.dumps({"id": record.item.id, "story": story}, ensure_ascii=False))
        else:
            print(f"{record.item.id}\t{story}\t{record.item.title[:70]}")
    if any(r.story is not None for r in records):
        _print_scores(_scores(records, stories), sys.stderr if args.json else sys.stdout)
    return EXIT_OK


def group(items: list[Item], times: list[datetime]) -> list[str]:
    """Each item's story, named by the id of the story's first item."""
    index, names = StoryIndex(StorySettings()), dict[str, str]()
    now = EPOCH
    out = []
    for item, at in zip(items, times, strict=True):
        now = max(now, at)
        sid = index.attach(item, now)
        out.append(names.setdefault(sid, item.id))
    return out


def read_records(path: Path) -> list[_Record]:
    """The items of a JSONL file; ConfigError (file:line) for anything unusable."""
    try:
        text = read_bytes(path).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 (byte {exc.start})") from None
    out: list[_Record] = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            out.append(_record(line, f"{path}:{number}", out[-1].at if out else EPOCH))
    return out


def _record(line: str, where: str, before: datetime) -> _Record:
    try:
        rec: dict[str, Any] = json.loads(line)
        published = _date(rec.get("published"))
        item = Item(feed=str(rec.get("feed", "")), id=str(rec["id"]),
                    title=html_to_text(str(rec.get("title", ""))),
                    summary=html_to_text(str(rec.get("summary") or "")),
                    link=str(rec.get("link") or ""), published=published)
        story = rec.get("story")
        return _Record(item=item, at=published or before,
                       story=None if story is None else str(story),
                       ambiguous=tuple(str(i) for i in rec.get("ambiguous", ())))
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise ConfigError(f"{where}: not a JSON item: {exc}") from None


def _date(value: object) -> datetime | None:
    if value is None:
        return None
    date = datetime.fromisoformat(str(value))
    return date if date.tzinfo else date.replace(tzinfo=UTC)


def _scores(records: list[_Record], stories: list[str]) -> PairScores:
    position = {r.item.id: n for n, r in enumerate(records)}
    ambiguous = [(n, position[other]) for n, r in enumerate(records)
                 for other in r.ambiguous if other in position]
    return pairwise([r.story for r in records], stories, ambiguous)


def _print_scores(scores: PairScores, out: Any) -> None:
    print(f"pairs: {scores.true_positives} right of {scores.predicted} grouped, "
          f"{scores.expected} labelled", file=out)
    print(f"precision {scores.precision:.3f}  recall {scores.recall:.3f}  "
          f"F1 {scores.f1:.3f}", file=out)
