"""The pre-scan (parser.prescan) against the whole parse, over the corpus
and 1,000 mutations of it.

For each document: `parse_feed` on the whole of it is the reference. Where
`scan` accepts the document, its ids must hold every parsed item's id, and
`parse_partial` of the document with a set of them cut out (none, all, a
random half, all but the first) must give the reference minus those items,
field by field, with the same feed-level fields, the cut ids as `known`;
where the reference is a ParseError, the scan lists no item and the
partial parse raises too. A document the scan refuses is parsed whole by
the poll, so it needs nothing here beyond the count that shows the scan is
not vacuous.

The mutations are byte edits of the kinds publishers and proxies make:
items duplicated, swapped, dropped or truncated, guids edited, repeated,
removed, made permalinks or relative, dates in other zones, comments and
CDATA sections that hold item tags, stray bytes and truncated documents.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import fields

import pytest

from monitor.errors import ParseError
from monitor.poll import dedup
from monitor.poll.parser import ParsedFeed, parse_feed, parse_partial
from monitor.poll.parser.prescan import Scan, cut_listed, listing, scan
from monitor.store.archive import SUMMARY, TITLE, columns
from monitor.store.seen import Known
from monitor.text import html_to_text
from tests.corpus import Row, manifest

ROWS = manifest()
FEED_FIELDS = ("title", "link", "bozo", "ttl", "update_period")
MUTANTS = 1000
SMALL = 48_000  # bytes: mutants are made of the smaller documents (CI time)


def _reference(body: bytes) -> ParsedFeed | None:
    try:
        return parse_feed(body, {}, "feed")
    except ParseError:
        return None


def _differences(got: ParsedFeed, want: ParsedFeed, known: set[str]) -> list[str]:
    problems = [f"feed {name}: {getattr(got, name)!r} != {getattr(want, name)!r}"
                for name in FEED_FIELDS if getattr(got, name) != getattr(want, name)]
    expected = [item for item in want.items if item.id not in known]
    if [i.id for i in got.items] != [i.id for i in expected]:
        return [*problems, f"ids {[i.id for i in got.items]} != {[i.id for i in expected]}"]
    for mine, theirs in zip(got.items, expected, strict=True):
        problems += [f"item {mine.id} {f.name}: {getattr(mine, f.name)!r} != "
                     f"{getattr(theirs, f.name)!r}" for f in fields(mine)
                     if getattr(mine, f.name) != getattr(theirs, f.name)]
    return problems


def _subsets(found: Scan, rng: random.Random) -> list[set[str]]:
    ids = list(found.ids)
    return [set(), set(ids), {i for i in ids if rng.random() < 0.5}, set(ids[1:])]


def check(body: bytes, rng: random.Random) -> bool:
    """Assert the equivalence for one document; whether the scan took it."""
    found = scan(body, {})
    if found is None:
        return False
    want = _reference(body)
    if want is None:
        assert found.ids == ()
        with pytest.raises(ParseError):
            parse_partial(found.partial(set()), "feed")
        return True
    assert {i.id for i in want.items} <= set(found.ids)
    listed = listing(body, {}, TITLE, SUMMARY)  # the pool's way: ids, then the cut
    assert listed is not None and listed.ids == found.ids
    for known in _subsets(found, rng):
        partial = found.partial(known)
        assert cut_listed(body, {}, listed, known) == partial
        got = parse_partial(partial, "feed")
        assert set(got.known) == known, "the cut ids"
        assert not _differences(got, want, known), _differences(got, want, known)
    return True


@pytest.mark.skipif(not ROWS, reason="shared/corpus not found")
def test_every_corpus_document_parses_the_same_cut_or_whole() -> None:
    rng = random.Random(17)
    taken = [row.name for row in ROWS if check(row.read(), rng)]
    # Most well-formed RSS 2.0 and Atom 1.0 documents with guids (54 of the
    # 121 today): a scan that refused everything would pass the rest.
    assert len(taken) >= 50, taken


# ------------------------------------------------------------ mutations

_ITEM = re.compile(rb"<(item|entry)[\s>].*?</\1\s*>", re.DOTALL)
_GUID = re.compile(rb"(<(guid|id)\b[^>]*>)([^<]*)(</\2>)")
_DATE = re.compile(rb"(<(pubDate|updated|published)>[^<]*?)([+-]\d{4}|GMT|Z)(</\2>)")


def _items(body: bytes) -> list[re.Match[bytes]]:
    return list(_ITEM.finditer(body))


def _dup_item(body: bytes, rng: random.Random) -> bytes:
    items = _items(body)
    if not items:
        return body
    m = rng.choice(items)
    return body[:m.end()] + m.group() + body[m.end():]


def _swap_items(body: bytes, rng: random.Random) -> bytes:
    items = _items(body)
    if len(items) < 2:
        return body
    a, b = sorted(rng.sample(items, 2), key=lambda m: m.start())
    return (body[:a.start()] + b.group() + body[a.end():b.start()] + a.group()
            + body[b.end():])


def _drop_item(body: bytes, rng: random.Random) -> bytes:
    items = _items(body)
    if not items:
        return body
    m = rng.choice(items)
    return body[:m.start()] + body[m.end():]


def _edit_guid(body: bytes, rng: random.Random) -> bytes:
    guids = list(_GUID.finditer(body))
    if not guids:
        return body
    m = rng.choice(guids)
    new = rng.choice([b"", b"  " + m.group(3) + b"  ", m.group(3) + b"?utm_source=x",
                      b"relative/" + str(rng.random()).encode(), b"http:///x/y",
                      guids[0].group(3), m.group(3) + b"#frag"])
    head = m.group(1)
    if rng.random() < 0.3:
        head = head[:-1] + rng.choice([b' isPermaLink="false">', b' isPermaLink="true">',
                                       b' ISPERMALINK="False">'])
    return body[:m.start()] + head + new + m.group(4) + body[m.end():]


def _remove_guid(body: bytes, rng: random.Random) -> bytes:
    guids = list(_GUID.finditer(body))
    if not guids:
        return body
    m = rng.choice(guids)
    return body[:m.start()] + body[m.end():]


def _second_guid(body: bytes, rng: random.Random) -> bytes:
    guids = list(_GUID.finditer(body))
    if not guids:
        return body
    m = rng.choice(guids)
    return body[:m.end()] + m.group(1) + b"other" + m.group(4) + body[m.end():]


def _zone(body: bytes, rng: random.Random) -> bytes:
    dates = list(_DATE.finditer(body))
    if not dates:
        return body
    for m in rng.sample(dates, max(1, len(dates) // 2)):
        zone = rng.choice([b"+0200", b"-0500", b"CET", b"IST", b"XYZ", b"+0100"])
        body = body[:m.start(3)] + zone + body[m.end(3):]
    return body


def _hide_item_tags(body: bytes, rng: random.Random) -> bytes:
    items = _items(body)
    if not items:
        return body
    m = rng.choice(items)
    where = body.find(b">", m.start()) + 1
    snippet = rng.choice([b"<!-- <item><guid>x</guid></item> -->",
                          b"<![CDATA[ </item> <entry> ]]>", b"<?pi </item>?>",
                          b"<description><![CDATA[<item>x</item>]]></description>"])
    return body[:where] + snippet + body[where:]


def _item_attribute(body: bytes, rng: random.Random) -> bytes:
    return body.replace(b"<item>", b'<item xml:lang="en">', 1)


def _truncate(body: bytes, rng: random.Random) -> bytes:
    return body[:rng.randrange(len(body) + 1)]


def _stray_byte(body: bytes, rng: random.Random) -> bytes:
    where = rng.randrange(len(body) + 1)
    return body[:where] + bytes([rng.choice(b"<>&\"'\x00\xff\xe9")]) + body[where:]


MUTATIONS: Sequence[Callable[[bytes, random.Random], bytes]] = (
    _dup_item, _swap_items, _drop_item, _edit_guid, _edit_guid, _remove_guid, _second_guid,
    _zone, _zone, _hide_item_tags, _item_attribute, _truncate, _stray_byte)


def mutants(rows: Sequence[Row], count: int, rng: random.Random) -> list[bytes]:
    # Of the documents the scan takes: the others it refuses whole, mutated or not.
    bodies = [body for row in rows
              if len(body := row.read()) <= SMALL and scan(body, {}) is not None]
    out = []
    for _ in range(count):
        body = rng.choice(bodies)
        for mutate in rng.sample(MUTATIONS, rng.choice((1, 1, 2, 3))):
            body = mutate(body, rng)
        out.append(body)
    return out


@pytest.mark.skipif(not ROWS, reason="shared/corpus not found")
def test_mutated_documents_parse_the_same_cut_or_whole() -> None:
    rng = random.Random(1717)
    taken = sum(check(body, rng) for body in mutants(ROWS, MUTANTS, rng))
    assert taken >= MUTANTS // 3, taken  # the scan took a fair share of them


# ------------------------------------------------------------ edits, by fingerprint


@pytest.mark.skipif(not ROWS, reason="shared/corpus not found")
def test_the_listing_tells_edits_as_the_stored_text_does() -> None:
    """The pool's listing sends fingerprints, not the items' text: for every
    item of every corpus document it takes, an item the store holds as the
    whole parse gave it, and one edited since (title or summary), are told
    apart exactly as comparing the texts tells them (Known.reads)."""
    compared = 0
    for row in ROWS:
        body = row.read()
        found, listed = scan(body, {}), listing(body, {}, TITLE, SUMMARY)
        want = _reference(body)
        if found is None or listed is None or want is None:
            continue
        texts = dict(zip(found.ids, found.texts, strict=True))
        marks = dict(zip(listed.ids, listed.marks, strict=True))
        for item in want.items:
            kept = columns(item)
            stored = [Known(kept["title"], kept["summary"], None),
                      Known(kept["title"], None, None),  # kept before summaries were
                      Known(kept["title"] + " (updated)", kept["summary"], None),
                      Known(kept["title"], kept["summary"][:-1] + "!", None)]
            title, summary = (html_to_text(text) for text in texts[item.id])
            for known in stored:
                assert dedup._reads(known, marks[item.id]) == known.reads(title, summary)
            compared += 1
    assert compared >= 1000, compared
