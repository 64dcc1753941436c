"""JSON Feed 1.0 and 1.1 (issue 13): real-shaped documents parse into the
Items RSS gives, or fail with a located error; a bad field is dropped and
named in the feed's warning; the dedup is the RSS one; hostile input (deep
nesting, huge numbers, wrong types everywhere) is a ParseError, never a crash.

The documents follow the shapes of feeds in the wild: the spec's own
examples (https://www.jsonfeed.org/version/1.1/), Daring Fireball's 1.0 feed
(`author` object, `content_html`, `external_url` for linked posts), a
Micro.blog 1.1 podcast (`authors`, `attachments`, `tags`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.errors import ParseError
from monitor.models import Item
from monitor.poll.parser import CONTENT_CHARS, ParsedFeed, parse_feed
from monitor.poll.parser.parsed import MAX_CATEGORIES
from monitor.poll.parser.prescan import scan
from monitor.text import html_to_text
from tests.waiting import at_most

FEED_JSON = {"Content-Type": "application/feed+json"}
V10 = "https://jsonfeed.org/version/1"
V11 = "https://jsonfeed.org/version/1.1"

DARING_FIREBALL: dict[str, Any] = {
    "version": V10,
    "title": "Daring Fireball",
    "home_page_url": "https://daringfireball.net/",
    "feed_url": "https://daringfireball.net/feeds/json",
    "author": {"name": "John Gruber", "url": "https://twitter.com/gruber"},
    "favicon": "https://daringfireball.net/graphics/favicon-64.png",
    "items": [
        {"title": "Ampère\u00a0: Renault liquide sa filiale",
         "date_published": "2024-11-21T19:03:00Z",
         "date_modified": "2024-11-21T19:33:13Z",
         "id": "https://daringfireball.net/linked/2024/11/21/ampere",
         "url": "https://daringfireball.net/linked/2024/11/21/ampere",
         "external_url": "https://www.lesechos.fr/ampere?utm_source=df",
         "content_html": "<p>Renault <b>liquide</b> sa filiale.</p>\n<p>Suite&nbsp;: "
                         "la CFE&#8209;CGC</p>"},
        {"title": "The Talk Show: ‘Cléon’",
         "date_published": "2024-11-20T17:44:06-05:00",
         "id": "https://daringfireball.net/2024/11/the_talk_show_cleon",
         "url": "/2024/11/the_talk_show_cleon",
         "content_text": "Special guest\nLuc Julia."},
    ],
}
MICRO_BLOG: dict[str, Any] = {
    "version": V11,
    "title": "Core Intuition",
    "home_page_url": "https://coreint.org/",
    "language": "en",
    "authors": [{"name": "Daniel Jalkut"}, {"name": "Manton Reece", "avatar": "x.png"}],
    "items": [
        {"id": "585", "url": "https://coreint.org/2024/11/episode-585/",
         "title": "Episode 585: Ampere chips", "summary": "Daniel and Manton talk Ampere.",
         "content_html": "<p>Daniel and Manton discuss <a href='x'>Ampere</a> servers.</p>",
         "date_published": "2024-11-22T10:00:00+01:00",
         "authors": [{"name": "Manton Reece", "url": "https://manton.org"}],
         "tags": ["podcast", "Ampere", "Ampere", " servers "],
         "attachments": [{"url": "https://coreint.org/585.mp3", "mime_type": "audio/mpeg",
                          "size_in_bytes": 34589000, "duration_in_seconds": 2280}]},
        {"id": 584, "url": "https://coreint.org/2024/11/episode-584/",
         "content_text": "Short one: no title, a numeric id (1.0 feeds have them).",
         "date_modified": "2024-11-15T09:30:00.123456+00:00"},
    ],
}


def doc(base: dict[str, Any], *items: dict[str, Any], **top: Any) -> bytes:
    """`base` with these items (all of them if none given) and top-level keys."""
    out = {**base, **top}
    if items:
        out["items"] = list(items)
    return json.dumps(out, ensure_ascii=False).encode()


def item(**fields: Any) -> dict[str, Any]:
    return {"id": "https://example.org/1", "title": "Renault : un titre à lui", **fields}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def parse(body: bytes, headers: dict[str, str] | None = None) -> ParsedFeed:
    return parse_feed(body, FEED_JSON if headers is None else headers, "json feed")


def test_a_json_feed_1_0_reads_like_rss() -> None:
    parsed = parse(doc(DARING_FIREBALL))
    assert (parsed.title, parsed.link, parsed.bozo) == (
        "Daring Fireball", "https://daringfireball.net/", None)
    first, second = parsed.items
    assert first == Item(
        feed="json feed", id=first.id, title="Ampère : Renault liquide sa filiale",
        summary="Renault liquide sa filiale. Suite : la CFE\u2011CGC",
        content="Renault liquide sa filiale. Suite : la CFE\u2011CGC",
        link="https://daringfireball.net/linked/2024/11/21/ampere",
        published=utc("2024-11-21T19:03:00+00:00"), author="John Gruber")
    assert second.link == "https://daringfireball.net/2024/11/the_talk_show_cleon"
    assert second.summary == second.content == "Special guest Luc Julia."
    assert second.published == utc("2024-11-20T17:44:06-05:00")


def test_a_json_feed_1_1_reads_authors_tags_and_numeric_ids() -> None:
    parsed = parse(doc(MICRO_BLOG))
    first, second = parsed.items
    assert first.summary == "Daniel and Manton talk Ampere."
    assert first.content == "Daniel and Manton discuss Ampere servers."
    assert first.author == "Manton Reece"  # the item's authors, not the feed's
    assert first.categories == ("podcast", "Ampere", "servers")
    assert first.published == utc("2024-11-22T09:00:00+00:00")
    assert second.title == "" and second.author == "Daniel Jalkut, Manton Reece"
    assert second.published == datetime(2024, 11, 15, 9, 30, 0, 123456, tzinfo=UTC)
    # A numeric id is the string the spec has readers coerce it to.
    assert second.id == parse(doc(MICRO_BLOG, {**MICRO_BLOG["items"][1], "id": "584"})
                              ).items[0].id


def test_ids_are_the_rss_ids_of_the_same_guids() -> None:
    guid = "https://example.org/a?utm_source=feed"
    rss = (f'<rss version="2.0"><channel><title>T</title><item><title>Ampere</title>'
           f"<guid>{guid.replace('&', '&amp;')}</guid></item></channel></rss>").encode()
    json_feed = doc(MICRO_BLOG, {"id": guid, "title": "Ampere"})
    assert parse(json_feed).items[0].id == parse_feed(rss, {}, "rss").items[0].id


# (case, body, items' titles, warning) of documents that parse; the warning
# locates each field that was dropped (None: no warning).
PARSES = [
    ("1.0 feed", doc(DARING_FIREBALL), 2, None),
    ("1.1 feed with attachments", doc(MICRO_BLOG), 2, None),
    ("http version", doc(MICRO_BLOG, version="http://jsonfeed.org/version/1"), 2, None),
    ("no items key", json.dumps({"version": V11, "title": "Empty"}).encode(), 0,
     "items: missing"),
    ("empty items", doc(MICRO_BLOG, items=[]), 0, None),
    ("id missing: the link is the identity", doc(MICRO_BLOG, {"url": "https://e.org/a",
                                                             "title": "Sans id"}), 1, None),
    ("id missing, no link: the text", doc(MICRO_BLOG, {"title": "Rien d'autre"}), 1, None),
    ("empty item skipped", doc(MICRO_BLOG, {}, item()), 1, None),
    ("repeated item kept once", doc(MICRO_BLOG, item(), item()), 1, None),
    ("reused id, other story", doc(MICRO_BLOG, item(), item(title="Autre histoire")), 2, None),
    ("bad date", doc(MICRO_BLOG, item(), item(id="2", date_published="21/11/2024")), 2,
     "items[1].date_published: not a date"),
    ("date without zone", doc(MICRO_BLOG, item(date_published="2024-11-21T10:00:00")), 1,
     "items[0].date_published: not a date"),
    ("date only", doc(MICRO_BLOG, item(date_modified="2024-11-21")), 1,
     "items[0].date_modified: not a date"),
    ("month 13", doc(MICRO_BLOG, item(date_published="2024-13-01T00:00:00Z")), 1,
     "items[0].date_published: not a date"),
    ("year 9999 past its end in UTC", doc(MICRO_BLOG, item(), item(
        id="2", date_published="9999-12-31T23:59:59-01:00")), 2,
     "items[1].date_published: not a date"),
    ("year 1 before its start in UTC", doc(MICRO_BLOG, item(
        date_modified="0001-01-01T00:30:00+01:00")), 1, "items[0].date_modified: not a date"),
    ("date a number", doc(MICRO_BLOG, item(date_published=1732212000)), 1,
     "items[0].date_published: not a date"),
    ("item not an object", doc(MICRO_BLOG, item(), "x", [1], None), 1,
     "items[1]: not an object; items[2]: not an object; items[3]: not an object"),
    ("title a number", doc(MICRO_BLOG, item(title=42, url="https://e.org/42")), 1,
     "items[0].title: not a string"),
    ("feed title a number", doc(MICRO_BLOG, title=3.5), 2, "title: not a string"),
    ("id an object", doc(MICRO_BLOG, item(id={"x": 1})), 1, "items[0].id: not a string"),
    ("id a boolean", doc(MICRO_BLOG, item(id=True)), 1, "items[0].id: not a string"),
    ("url a list", doc(MICRO_BLOG, item(url=["https://e.org"])), 1,
     "items[0].url: not a string"),
    ("content_html null", doc(MICRO_BLOG, item(content_html=None)), 1, None),
    ("authors not a list", doc(MICRO_BLOG, item(authors={"name": "X"})), 1,
     "items[0].authors: not a list"),
    ("author a string", doc(DARING_FIREBALL, item(author="John")), 1,
     "items[0].author: not an object"),
    ("author name a number", doc(MICRO_BLOG, item(authors=[{"name": 7}])), 1,
     "items[0].authors[0].name: not a string"),
    ("tags a string", doc(MICRO_BLOG, item(tags="a,b")), 1, "items[0].tags: not a list"),
    ("tag a number", doc(MICRO_BLOG, item(tags=["a", 2])), 1,
     "items[0].tags[1]: not a string"),
    ("many problems counted", doc(MICRO_BLOG, *[item(id=str(n), title=f"Titre {n}",
                                                     date_published="x") for n in range(8)]),
     8, "items[4].date_published: not a date (and 3 more)"),
    ("attachments of any shape ignored", doc(MICRO_BLOG, item(attachments="x")), 1, None),
    ("huge integer", b'{"version": "%s", "title": "T", "items": [], "x": %s}'
     % (V11.encode(), b"9" * 100_000), 0, None),
    ("entities in a title (WordPress)", doc(MICRO_BLOG, item(title="It&#8217;s Amp&egrave;re")),
     1, None),
    ("control characters in strings", doc(MICRO_BLOG, item(title="A\x00\tB\nC")), 1, None),
    ("utf-8 bom", b"\xef\xbb\xbf" + doc(MICRO_BLOG), 2, None),
    ("latin-1 charset named", doc(MICRO_BLOG, item(title="Cléon")).decode().encode("latin-1"),
     1, None),
]


@pytest.mark.parametrize(("case", "body", "count", "warning"), PARSES,
                         ids=[row[0] for row in PARSES])
def test_documents_that_parse(case: str, body: bytes, count: int, warning: str | None) -> None:
    headers = {"Content-Type": "application/json; charset=iso-8859-1"} if "latin" in case \
        else FEED_JSON
    parsed = parse(body, headers)
    assert len(parsed.items) == count
    assert parsed.bozo == warning if warning is None else warning in (parsed.bozo or "")
    assert len({i.id for i in parsed.items}) == count  # every item its own id
    assert all("\x00" not in i.title and "\ufffd" not in i.title and "&#" not in i.title
               for i in parsed.items)


# (case, body, the located error)
FAILS = [
    ("items not a list", doc(MICRO_BLOG, items={"id": "1"}), "items: not a list"),
    ("items a string", doc(MICRO_BLOG, items="none"), "items: not a list"),
    ("version missing", json.dumps({"title": "T", "items": []}).encode(),
     "version: null is not https://jsonfeed.org/version/"),
    ("version of another format", doc(MICRO_BLOG, version="1.1"), 'version: "1.1" is not'),
    ("version a number", doc(MICRO_BLOG, version=1.1), "version: number is not"),
    ("version an object", doc(MICRO_BLOG, version={"v": 1}), "version: object is not"),
    ("top level a list", b"[]", "the document is a list, not an object"),
    ("an API error", b'{"error": "rate limited"}', "version: null is not"),
    ("not JSON", b"{\"version\": ", "not a JSON Feed: Expecting value"),
    ("trailing garbage", doc(MICRO_BLOG) + b"}", "Extra data"),
    ("deep nesting", b'{"version": "x", "items": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
     "nested too deeply"),
    ("deep objects", b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "nested too deeply"),
    ("nothing in it", json.dumps({"version": V11, "items": [{}, {"tags": []}]}).encode(),
     "not a feed: a JSON Feed with no items and no title"),
    ("empty body as JSON", b"", "not a JSON Feed"),
]


@pytest.mark.parametrize(("case", "body", "error"), FAILS, ids=[row[0] for row in FAILS])
def test_documents_that_fail_say_where(case: str, body: bytes, error: str) -> None:
    with pytest.raises(ParseError, match=r"^json feed: ") as caught:
        parse(body)
    assert error in str(caught.value)


@pytest.mark.parametrize("content_type", [
    "application/feed+json", "application/json; charset=utf-8", "text/plain", "",
    "application/rss+xml"])
def test_a_json_feed_is_read_whatever_the_content_type(content_type: str) -> None:
    parsed = parse(doc(MICRO_BLOG), {"Content-Type": content_type} if content_type else {})
    assert [i.title for i in parsed.items] == ["Episode 585: Ampere chips", ""]


def test_xml_served_as_json_still_goes_to_feedparser() -> None:
    rss = b'<?xml version="1.0"?><rss version="2.0"><channel><title>X</title></channel></rss>'
    assert parse(rss, {"Content-Type": "application/json"}).title == "X"


def test_the_prescan_leaves_json_feeds_to_the_whole_parse() -> None:
    assert scan(doc(MICRO_BLOG), FEED_JSON) is None


# Fuzzing: JSON values of every type in every place a feed has a field, and
# arbitrary bytes; each document parses into Items or is a ParseError.
SCALARS = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True)
           | st.text(max_size=30) | st.sampled_from(["2024-11-21T10:00:00Z", "2024-13-40",
                                                     "https://e.org/a", "<b>x</b>", "\u00ad"]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=12)
ITEM_KEYS = ["id", "url", "external_url", "title", "summary", "content_html", "content_text",
             "date_published", "date_modified", "authors", "author", "tags", "attachments"]
ITEMS = st.dictionaries(st.sampled_from(ITEM_KEYS), VALUES | st.lists(
    st.dictionaries(st.sampled_from(["name", "url"]), VALUES, max_size=2), max_size=2))
DOCUMENTS = st.fixed_dictionaries(
    {"version": st.sampled_from([V10, V11]) | VALUES},
    optional={"title": VALUES, "home_page_url": VALUES, "authors": VALUES, "author": VALUES,
              "items": st.lists(ITEMS | VALUES, max_size=6) | VALUES})


def parsed_or_error(body: bytes) -> ParsedFeed | None:
    with at_most(30):
        try:
            parsed = parse(body)
        except ParseError as exc:
            assert str(exc).startswith("json feed: ") and "\n" not in str(exc)
            return None
    for each in parsed.items:
        assert isinstance(each.title, str) and isinstance(each.author, str)
        assert all(isinstance(tag, str) for tag in each.categories)
        assert each.published is None or each.published.tzinfo is UTC
    return parsed


@settings(max_examples=400, deadline=None)
@given(DOCUMENTS)
def test_the_reader_on_arbitrary_feed_shaped_documents(document: dict[str, Any]) -> None:
    parsed_or_error(json.dumps(document).encode())


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200).map(lambda tail: b"{" + tail))
def test_the_reader_on_arbitrary_bytes(body: bytes) -> None:
    parsed_or_error(body)


def test_content_and_categories_keep_to_the_rss_readers_caps() -> None:
    long_html = "<p>" + "Le tribunal de commerce a tranch\u00e9. " * 20_000 + "</p>"
    tags = [f"mot-cl\u00e9 {n}" for n in range(MAX_CATEGORIES + 50)]
    (html_item, text_item) = parse(doc(MICRO_BLOG, item(content_html=long_html, tags=tags),
                                       item(id="2", content_text=long_html[3:-4]))).items
    whole = html_to_text(long_html)
    for each in (html_item, text_item):
        assert 0.99 * CONTENT_CHARS < len(each.content) <= CONTENT_CHARS
        # Cut at whitespace: no stump of a word.
        assert whole.startswith(each.content) and whole[len(each.content)] == " "
    assert html_item.categories == tuple(tags[:MAX_CATEGORIES])
