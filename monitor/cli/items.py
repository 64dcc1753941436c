"""JSON items for `test-rules --items` (JSONL) and `rules explain --item` (one object).

The format is documented once, in ITEM_FORMAT (shown by `--help` and copied
in the README's "Commands"). A file from the user is checked whole: a key
the format does not know (`titl` for `title`) would otherwise test an item
with an empty title and report a rule as not firing, so it is an error,
located `file:line`. Readers take bytes and a name for messages, and raise
ConfigError (exit 1) for anything they cannot use, never another exception.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.errors import ConfigError
from monitor.models import Item
from monitor.text import html_to_text

ITEM_FORMAT = """\
items: one JSON object per line (JSONL); `rules explain --item` takes one object.
  title, summary   text of the item; HTML is turned into text as for a feed
                   (one of the two is required)
  id               shown in the output (default: the line number)
  feed             the feed's name, for rules limited with `feeds`
  tags             list of the feed's tags, for rules limited with `tags`
  content          the full text (HTML turned into text), as a feed's
                   content:encoded or an article
  categories       list of the item's categories or tags
  link, author     strings; published: an ISO 8601 date
  expect           list of the rules that should fire: test-rules then
                   prints precision and recall per rule
  lang, why        notes for the reader, ignored
  Any other key is an error. Example:
  {"id": "a1", "feed": "Les Echos", "title": "Ampère liquidée", "expect": ["ampere"]}
"""

_TEXT_KEYS = ("title", "summary", "content", "feed", "link", "author", "lang", "why")
_LIST_KEYS = ("tags", "expect", "categories")
KEYS = frozenset((*_TEXT_KEYS, *_LIST_KEYS, "id", "published"))


@dataclass(frozen=True, slots=True)
class ItemRecord:
    """An item with what the file says around it: the feed's tags and the
    expected rules (None when the record has no `expect`)."""

    item: Item
    tags: tuple[str, ...] = ()
    expect: frozenset[str] | None = None


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (UnicodeEncodeError, ValueError):  # a lone surrogate, a NUL: no such file
        raise ConfigError(f"{str(path)!a}: not a file name this system can open") from None


def parse_items(data: bytes, source: str) -> list[ItemRecord]:
    """The records of a JSONL file; blank lines are skipped."""
    records = []
    for number, raw in enumerate(data.removeprefix(b"\xef\xbb\xbf").split(b"\n"), 1):
        where = f"{source}:{number}"
        line = _decode(raw, where)
        if line.strip():
            records.append(_record(_json(line, where), where, str(number), "\\u" in line))
    return records


def parse_item(data: bytes, source: str) -> ItemRecord:
    """The one item of a JSON file (it may span several lines)."""
    try:
        text = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ConfigError(f"{source}:{line}: not UTF-8 text (byte {exc.start})") from None
    return _record(_json(text, source, multiline=True), source, "item", "\\u" in text)


def _decode(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where}: not UTF-8 text (column {exc.start + 1})") from None


def _json(text: str, where: str, *, multiline: bool = False) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        at = f"{where}:{exc.lineno}" if multiline else where
        raise ConfigError(f"{at}: not a JSON item: {exc.msg} (column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:  # 5,000 digits, or [[[[... too deep
        raise ConfigError(f"{where}: not a JSON item: {exc}") from None


def _record(value: Any, where: str, default_id: str, escaped: bool) -> ItemRecord:
    """The record of a parsed JSON value; `escaped`: whether its JSON text
    holds a \\u escape, the only way to a lone surrogate (strings decoded
    from UTF-8 have none), so that the others skip that check (issue 17)."""
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: an item is a JSON object {{...}}, "
                          f"not {type(value).__name__}")
    if not KEYS.issuperset(value):
        unknown = sorted(set(value) - KEYS)
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; the keys of an item are "
                          f"{', '.join(sorted(KEYS))}")
    text = dict.fromkeys(_TEXT_KEYS, "")  # most items give two or three keys
    for key in _TEXT_KEYS:
        if key in value:
            text[key] = _text(value, key, where, escaped)
    if not (text["title"] or text["summary"]):
        raise ConfigError(f"{where}: an item needs a title or a summary")
    item = Item(feed=text["feed"], id=_id(value.get("id", default_id), where, escaped),
                title=html_to_text(text["title"]), summary=html_to_text(text["summary"]),
                link=text["link"], author=text["author"],
                content=html_to_text(text["content"]),
                categories=_strings(value, "categories", where, escaped),
                published=_published(value.get("published"), where))
    expect = _strings(value, "expect", where, escaped) if "expect" in value else None
    return ItemRecord(item, _strings(value, "tags", where, escaped),
                      None if expect is None else frozenset(expect))


def _text(record: dict[str, Any], key: str, where: str, escaped: bool) -> str:
    value = record[key]
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {key}: a string, not {type(value).__name__}")
    return _unicode(value, f"{where}: {key}") if escaped and value else value


def _unicode(value: str, where: str) -> str:
    # JSON's \ud800 escapes make strings Python cannot print or store.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError(f"{where}: a lone surrogate (\\ud800-\\udfff) is not text") from None
    return value


def _id(value: Any, where: str, escaped: bool) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ConfigError(f"{where}: id: a string or a number, not {type(value).__name__}")
    return _unicode(str(value), f"{where}: id") if escaped else str(value)


def _strings(record: dict[str, Any], key: str, where: str, escaped: bool) -> tuple[str, ...]:
    if key not in record:
        return ()
    values = record[key]
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ConfigError(f"{where}: {key}: a list of strings")
    if not escaped:
        return tuple(values)
    return tuple(_unicode(v, f"{where}: {key}") for v in values)


def _published(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise ConfigError(f"{where}: published: an ISO 8601 date such as "
                          f"2026-11-26T07:35:00+01:00, not {value!r}")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
