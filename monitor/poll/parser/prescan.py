"""The pre-scan: which items a changed document lists, without feedparser.

In the steady state most changed bodies carry one or two new items, or only
a new `lastBuildDate`; parsing every item with feedparser each time costs
work in proportion to the feed, not to the change. `scan` reads each item's
identity (parser.identity: the guid, normalised) with lxml, and
`Scan.partial` cuts the items the store already has out of the document's
own bytes, so that feedparser reads only the new ones, in the feed's own
envelope (prolog, namespaces, channel fields): the result is the one the
whole document gives, minus the known items (tests/test_prescan.py checks
it over the corpus and mutations of it).

The parse pool runs it (`listing`, then `parse_listed` with the ids the
store holds), never the event loop: a pre-scan costs about as much CPU as
feedparser on one item for each item listed (~2 ms for 50 items, their
titles and summaries turned to text included), and a changed body can be
many megabytes. What crosses back is small: `Listing`, the ids, the byte
range of each item and a fingerprint of each one's title and summary as
the store keeps them, by which the edits are told without their text.

`scan` returns None, and the whole document is parsed as before, wherever
that equivalence is not plain: a JSON Feed (parser.jsonfeed), a document that is not well-formed XML
(feedparser then falls back to its loose parser), a format other than RSS
2.0 and Atom 1.0, an item without exactly one guid (its identity would
depend on links and base URLs) or with a guid feedparser would resolve as a
URI (xml:base), a guid repeated (identity rule 5 depends on the others),
an item or entry anywhere but directly in the channel or feed, and dates
in elements whose mapping we do not know for sure.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Container, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from urllib.parse import urljoin

from lxml import etree

from monitor.poll.parser import ParsedFeed, parse_partial
from monitor.poll.parser.dates import feed_offset
from monitor.poll.parser.decode import Partial, Prepared, prepare
from monitor.poll.parser.identity import normalize_url, short_id
from monitor.poll.parser.jsonfeed import is_json_feed
from monitor.text import html_to_text

__all__ = ["Listing", "Partial", "Scan", "fingerprint", "listing", "parse_listed", "scan"]

_ATOM = "{http://www.w3.org/2005/Atom}"
# Element local names feedparser reads as an entry's `published` or `updated`
# (pubDate, Atom, dc:date, dcterms:issued/modified); feed_offset reads both.
_DATES = frozenset({"pubDate", "published", "updated", "date", "issued", "modified"})
# Elements that would give an item an id, or be an item, where we do not look.
_ID_NAMES = frozenset({"guid", "id"})
_ITEM_NAMES = frozenset({"item", "entry"})
_URIFIXER = re.compile("^([A-Za-z][A-Za-z0-9+-.]*://)(/*)(.*?)")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                          huge_tree=False, remove_blank_text=False)


@dataclass(frozen=True, slots=True)
class Scan:
    """The items of a document: `ids` (parser.identity short ids, in document
    order), the byte range of each in `prepared.text`, and each one's title
    and summary as written (their text: to tell a publisher's edit)."""

    prepared: Prepared
    ids: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]
    offset: timedelta | None
    texts: tuple[tuple[str, str], ...] = ()

    def partial(self, known: Container[str]) -> Partial:
        """The document without the items whose id is in `known`."""
        return _cut(self.prepared, self.ids, self.spans, self.offset, known)


@dataclass(frozen=True, slots=True)
class Listing:
    """What the pool tells the event loop of a scanned document: the items'
    ids and byte ranges (Scan), the feed's date offset, and for each item
    the `fingerprint` of its title and of its summary as text, cut at what
    the store keeps of them."""

    ids: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]
    offset: timedelta | None
    marks: tuple[tuple[bytes, bytes], ...]


def fingerprint(text: str) -> bytes:
    """A digest of `text` that tells two texts apart (16 bytes of BLAKE2b)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def listing(body: bytes, headers: Mapping[str, str], title_max: int,
            summary_max: int) -> Listing | None:
    """`scan` in a pool worker: None where only a whole parse is safe.
    `title_max` and `summary_max`: the characters of each the store keeps."""
    found = scan(body, headers)
    if found is None:
        return None
    marks = tuple((fingerprint(html_to_text(title)[:title_max]),
                   fingerprint(html_to_text(summary)[:summary_max]))
                  for title, summary in found.texts)
    return Listing(found.ids, found.spans, found.offset, marks)


def parse_listed(body: bytes, headers: Mapping[str, str], listed: Listing,
                 known: Container[str], feed_name: str) -> ParsedFeed:
    """`parse_partial` of the document `listing` read, its `known` items cut
    out: the pool's second step of a pre-scanned poll."""
    return parse_partial(cut_listed(body, headers, listed, known), feed_name)


def cut_listed(body: bytes, headers: Mapping[str, str], listed: Listing,
               known: Container[str]) -> Partial:
    """The document `listing` read, without the items whose id is in `known`
    (the same bytes give the same prepared text, so the same ranges)."""
    return _cut(prepare(body, headers), listed.ids, listed.spans, listed.offset, known)


def _cut(prepared: Prepared, ids: tuple[str, ...], spans: tuple[tuple[int, int], ...],
         offset: timedelta | None, known: Container[str]) -> Partial:
    text, kept, pos, cut = prepared.text, [], 0, []
    for item_id, (start, end) in zip(ids, spans, strict=True):
        if item_id in known:
            kept.append(text[pos:start])
            pos = end
            cut.append(item_id)
    kept.append(text[pos:])
    return Partial(replace(prepared, text=b"".join(kept)), tuple(cut), offset)


def scan(body: bytes, headers: Mapping[str, str]) -> Scan | None:
    """The document's items, or None where only a whole parse is safe."""
    if is_json_feed(body, headers):
        return None  # JSON Feed: json.loads is quick enough to read it whole
    prepared = prepare(body, headers)
    if b"base=" in prepared.text or "content-location" in prepared.headers:
        return None  # a base URI (xml:base, or feedparser's own reading of
        # Content-Location) against which feedparser resolves guids
    try:
        root = etree.fromstring(prepared.text, _PARSER)
    except (etree.XMLSyntaxError, ValueError):
        return None
    items = _items(root)
    if items is None:
        return None
    guids = [_guid(item) for item in items]
    spans = _spans(prepared.text, _local(items[0].tag) if items else "item")
    if None in guids or len(set(guids)) != len(guids) or len(spans) != len(items):
        return None
    dates = [_dates(item) for item in items]
    if None in dates:
        return None
    ids = tuple(short_id("guid:" + normalize_url(g)) for g in guids if g is not None)
    offset = feed_offset(d for pair in dates if pair is not None for d in pair)
    return Scan(prepared, ids, tuple(spans), offset, tuple(_texts(item) for item in items))


def _texts(item: etree._Element) -> tuple[str, str]:
    """The text of the item's own title and summary (RSS description, Atom
    summary else content, as parser._summary picks); "" where absent."""
    found: dict[str, str] = {}
    for child in item:
        if isinstance(child.tag, str) and not child.prefix:
            found.setdefault(_local(child.tag), "".join(str(p) for p in child.itertext()))
    summary = found.get("description") or found.get("summary") or found.get("content", "")
    return found.get("title", ""), summary


def _items(root: etree._Element) -> list[etree._Element] | None:
    """The items of an RSS 2.0 channel or the entries of an Atom 1.0 feed,
    if they are the document's only items or entries, unprefixed."""
    if root.tag == "rss":
        channels = root.findall("channel")
        if len(channels) != 1:
            return None
        items = channels[0].findall("item")
    elif root.tag == f"{_ATOM}feed":
        items = root.findall(f"{_ATOM}entry")
    else:
        return None
    every = sum(1 for e in root.iter() if isinstance(e.tag, str)
                and _local(e.tag) in _ITEM_NAMES)
    if every != len(items) or any(item.prefix or item.attrib for item in items):
        return None
    return items


def _guid(item: etree._Element) -> str | None:
    """The item's id as feedparser gives it, from its one guid (Atom id);
    None if there is not exactly one, directly in the item, of plain text."""
    ids = [e for e in item.iter() if isinstance(e.tag, str) and _local(e.tag) in _ID_NAMES]
    if len(ids) != 1 or ids[0].getparent() is not item or len(ids[0]) or ids[0].prefix:
        return None
    guid = ids[0]
    text = (guid.text or "").strip()
    permalink = {k.lower(): v for k, v in guid.attrib.items()}.get("ispermalink", "true")
    if permalink == "true":
        # feedparser resolves a permalink guid (and an Atom id) as a URI
        # against the base, empty here (`scan` refused any other):
        # feedparser.urls._urljoin.
        text = _URIFIXER.sub(r"\1\3", text)
        try:
            text = urljoin("", text)
        except ValueError:
            return None
    return text or None


def _dates(item: etree._Element) -> tuple[str, ...] | None:
    """The raw dates feedparser reads as the entry's published and updated;
    None if one of them appears twice (which one feedparser keeps is its
    business)."""
    found: dict[str, str] = {}
    for child in item:
        if not isinstance(child.tag, str) or _local(child.tag) not in _DATES:
            continue
        key = "published" if _local(child.tag) in ("pubDate", "published", "issued") else "updated"
        if key in found or len(child):
            return None
        found[key] = (child.text or "").strip()
    return tuple(found[k] for k in ("published", "updated") if k in found)


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _spans(text: bytes, name: str) -> list[tuple[int, int]]:
    """The byte range of each `<name ...>...</name>` element in `text`.

    The text is well-formed XML (lxml read it), so outside comments, CDATA
    sections and processing instructions every `<` starts markup; items do
    not nest (`_items` checked).
    """
    tokens = re.compile(rb"<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>|<(/?)" + name.encode()
                        + rb"(?=[\s/>])", re.DOTALL)
    spans: list[tuple[int, int]] = []
    start = -1
    for match in tokens.finditer(text):
        if match.group(1) is None:
            continue  # a comment, CDATA section or PI
        if not match.group(1):
            start = match.start()
        elif start >= 0:
            end = text.find(b">", match.end())
            spans.append((start, end + 1))
            start = -1
    return spans
