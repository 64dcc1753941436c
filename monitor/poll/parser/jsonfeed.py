"""JSON Feed 1.0 and 1.1 bytes → `ParsedFeed`, the same Items as RSS and Atom.

feedparser does not read JSON Feed (https://www.jsonfeed.org/version/1.1/).
A document is one when it opens with `{` (no XML document does; servers
send JSON Feeds as text/plain too), or when its Content-Type is
application/feed+json or application/json and it does not open with `<`;
it must then carry a `version` starting with https://jsonfeed.org/version/
(http:// accepted too).

Per item: `id` (a number is coerced to a string, as the spec asks) is the
guid of parser.identity, so the dedup is the RSS one; `url`, else
`external_url`, is the link, made absolute against `home_page_url`;
`content_text` is plain text, `content_html` HTML, and `title` and
`summary`, plain text by the spec, are read as RSS ones are (entities
decoded): WordPress's JSON Feed plugin writes `&#8216;` in titles
(manton/jsonfeed-wp#75; NetNewsWire#346 saw it in Kottke's and Pixel
Envy's feeds); `content` is content_html, else content_text, and
`summary` falls back to it as it does for Atom entries with only
<content>; `date_published`, else `date_modified` (RFC 3339), is
`published`; the names of the item's
`authors` (1.1), else its `author` (1.0), else the feed's, are `author`;
`tags` are `categories`. Attachments (podcast enclosures) are not read:
nothing in them is matched or shown.

The input is hostile: stdlib json, whose C scanner stops deep nesting with a
RecursionError and rejects integers of more than sys.int_max_str_digits
digits (we read long ones as floats: no quadratic conversion either); the
body is already within `max_body` (the fetcher's cap); `content` and
`categories` keep to the RSS reader's caps (parser.parsed), and the matcher
reads a bounded part of each field (matcher.document.MAX_CHARS). A document that
is not JSON, not an object, of another version or whose `items` is not a
list raises ParseError; a field of the wrong type is dropped and named in
the feed's warning ("items[3].date_published: not a date"), as feedparser's
bozo complaints are: one bad item field never loses the others.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from monitor.errors import ParseError
from monitor.models import Item
from monitor.poll.parser.identity import Repeats, clean_link, identity, short_id
from monitor.poll.parser.parsed import CONTENT_CHARS, MAX_CATEGORIES, ParsedFeed, cut_text
from monitor.text import html_to_text, normalize_space, strip_controls

__all__ = ["is_json_feed", "parse_json_feed"]

_TYPES = ("application/feed+json", "application/json")
_VERSION = re.compile(r"https?://jsonfeed\.org/version/")
_SHOWN = 5  # problems named in the warning; the rest are counted
# RFC 3339 date-time: a date, "T" (or a space, RFC 3339 section 5.6's note),
# a time, and a zone; fromisoformat alone also takes dates without a zone.
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d(:\d\d(\.\d+)?)?([Zz]|[+-]\d\d:?\d\d)$")


def is_json_feed(body: bytes, headers: Mapping[str, str]) -> bool:
    """Whether `body` is to be read as JSON (see the module docstring)."""
    first = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if first in (b"{", b"<"):
        return first == b"{"  # XML served as JSON goes to feedparser all the same
    return _content_type(headers).split(";")[0].strip().lower() in _TYPES


def parse_json_feed(body: bytes, headers: Mapping[str, str], feed_name: str) -> ParsedFeed:
    """Read one JSON Feed; raises ParseError, located, if it is not one."""
    doc = _load(body, headers, feed_name)
    problems = _Problems()
    version = doc.get("version")
    if not isinstance(version, str) or not _VERSION.match(version):
        raise ParseError(f"{feed_name}: not a JSON Feed: version: "
                         f"{_shown(version)} is not https://jsonfeed.org/version/...")
    items = doc.get("items", [])
    if "items" not in doc:  # required by the spec: say so, read the rest
        problems.add("items: missing")
    if not isinstance(items, list):
        raise ParseError(f"{feed_name}: not a JSON Feed: items: not a list")
    title = html_to_text(problems.text(doc, "title", ""))
    home = clean_link(problems.text(doc, "home_page_url", ""))
    authors = _authors(doc, "", problems)
    parsed = tuple(_items(items, feed_name, home, authors, problems))
    if not parsed and not title:
        raise ParseError(f"{feed_name}: not a feed: a JSON Feed with no items and no title")
    return ParsedFeed(title=title, link=home, items=parsed, bozo=problems.summary())


def _load(body: bytes, headers: Mapping[str, str], feed_name: str) -> dict[str, Any]:
    """The document's top-level object; ParseError if there is none."""
    try:
        doc = json.loads(_decode(body, headers), strict=False, parse_int=_int)
    except RecursionError:
        raise ParseError(f"{feed_name}: not a JSON Feed: nested too deeply") from None
    except ValueError as exc:  # json.JSONDecodeError, or a number past the limit
        raise ParseError(f"{feed_name}: not a JSON Feed: {exc}") from None
    if not isinstance(doc, dict):
        raise ParseError(f"{feed_name}: not a JSON Feed: the document is a "
                         f"{_kind(doc)}, not an object")
    return doc


def _decode(body: bytes, headers: Mapping[str, str]) -> str:
    """UTF-8 (RFC 8259 section 8.1), else the charset the server names, else
    what json.detect_encoding sees (UTF-16/32 by their zero bytes); bytes
    that do not decode become U+FFFD rather than failing the feed."""
    charset = re.search(r"charset=\"?([\w.:-]+)", _content_type(headers), re.IGNORECASE)
    encoding = charset.group(1) if charset else json.detect_encoding(body)
    try:
        return body.decode(encoding, errors="replace").lstrip("\ufeff")
    except LookupError:  # a charset Python does not know
        return body.decode("utf-8", errors="replace").lstrip("\ufeff")


def _content_type(headers: Mapping[str, str]) -> str:
    return next((v for k, v in headers.items() if k.lower() == "content-type"), "")


def _int(digits: str) -> int | float:
    return int(digits) if len(digits) <= 100 else float(digits)


def _items(items: list[Any], feed_name: str, home: str, authors: str,
           problems: _Problems) -> Iterator[Item]:
    repeats = Repeats()
    for number, entry in enumerate(items):
        where = f"items[{number}]"
        if not isinstance(entry, dict):
            problems.add(f"{where}: not an object")
            continue
        item = _item(entry, where, feed_name, home, authors, problems)
        if item is None:
            continue
        key = repeats.key(identity(_guid(entry, where, problems), item.link, item.title),
                          item.title, item.link)
        if key is not None:
            yield replace(item, id=short_id(key))


def _item(entry: dict[str, Any], where: str, feed_name: str, home: str, authors: str,
          problems: _Problems) -> Item | None:
    """The item without its id; None if it has nothing to match or show."""
    text = problems.text
    title = html_to_text(text(entry, "title", where))
    link = text(entry, "url", where) or text(entry, "external_url", where)
    link = strip_controls(clean_link(link, home))
    html, plain = text(entry, "content_html", where), text(entry, "content_text", where)
    content = cut_text(html_to_text(html[:4 * CONTENT_CHARS]) if html
                       else normalize_space(plain[:CONTENT_CHARS + 1]), CONTENT_CHARS)
    summary = html_to_text(text(entry, "summary", where)) or content
    if not (title or link or summary):
        return None
    return Item(feed=feed_name, id="", title=title, summary=summary, link=link,
                published=_published(entry, where, problems),
                author=_authors(entry, where, problems) or authors,
                content=content, categories=_tags(entry, where, problems))


def _guid(entry: dict[str, Any], where: str, problems: _Problems) -> dict[str, str]:
    """{"id": ...} as parser.identity reads it; the spec has readers coerce
    a number to a string."""
    guid = entry.get("id")
    if isinstance(guid, (int, float)) and not isinstance(guid, bool):
        guid = str(guid)
    if guid is not None and not isinstance(guid, str):
        problems.add(f"{where}.id: not a string")
        guid = None
    return {"id": strip_controls(guid or "")}


def _published(entry: dict[str, Any], where: str, problems: _Problems) -> datetime | None:
    for key in ("date_published", "date_modified"):
        raw = entry.get(key)
        if raw is None:
            continue
        moment = _rfc3339(raw) if isinstance(raw, str) else None
        if moment is not None:
            return moment
        problems.add(f"{where}.{key}: not a date")
    return None


def _rfc3339(raw: str) -> datetime | None:
    """An aware UTC datetime; None unless `raw` is an RFC 3339 date-time
    (one without a zone is no date: no date beats a wrong one)."""
    raw = raw.strip()
    if not _RFC3339.match(raw):
        return None
    try:
        return datetime.fromisoformat(raw.upper().replace("Z", "+00:00")).astimezone(UTC)
    except (ValueError, OverflowError):  # month 13; a year 9999 or 1 beyond it in UTC
        return None


def _authors(obj: dict[str, Any], where: str, problems: _Problems) -> str:
    """The names of `authors` (1.1), else of `author` (1.0), joined."""
    prefix = f"{where}." if where else ""
    value = obj.get("authors")
    key = "authors"
    if value is None:
        value, key = obj.get("author"), "author"
        value = None if value is None else [value]
    if value is None:
        return ""
    if not isinstance(value, list):
        problems.add(f"{prefix}{key}: not a list")
        return ""
    names = []
    for number, author in enumerate(value):
        place = f"{prefix}{key}[{number}]" if key == "authors" else f"{prefix}{key}"
        if not isinstance(author, dict):
            problems.add(f"{place}: not an object")
            continue
        if name := normalize_space(problems.text(author, "name", place)):
            names.append(name)
    return ", ".join(dict.fromkeys(names))


def _tags(entry: dict[str, Any], where: str, problems: _Problems) -> tuple[str, ...]:
    tags = entry.get("tags")
    if tags is None:
        return ()
    if not isinstance(tags, list):
        problems.add(f"{where}.tags: not a list")
        return ()
    kept = []
    for number, tag in enumerate(tags):
        if isinstance(tag, str):
            if tag := normalize_space(tag):
                kept.append(tag)
        else:
            problems.add(f"{where}.tags[{number}]: not a string")
    return tuple(dict.fromkeys(kept))[:MAX_CATEGORIES]


class _Problems:
    """The located complaints of one document, for ParsedFeed.bozo."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def add(self, problem: str) -> None:
        self.found.append(problem)

    def text(self, obj: dict[str, Any], key: str, where: str) -> str:
        """obj[key] if it is a string; "" if absent, null or of another type
        (that one named)."""
        value = obj.get(key)
        if value is None or isinstance(value, str):
            return value or ""
        place = f"{where}.{key}" if where else key
        self.add(f"{place}: not a string")
        return ""

    def summary(self) -> str | None:
        if not self.found:
            return None
        shown = "; ".join(self.found[:_SHOWN])
        more = len(self.found) - _SHOWN
        return f"{shown} (and {more} more)" if more > 0 else shown


def _kind(value: object) -> str:
    return {list: "list", dict: "object", str: "string", bool: "boolean",
            type(None): "null"}.get(type(value), "number")


def _shown(value: object) -> str:
    return json.dumps(value)[:80] if isinstance(value, str) else _kind(value)
