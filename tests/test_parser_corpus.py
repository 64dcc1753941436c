"""Every corpus file, served from a loopback server, through fetch and parse.

Real feeds must yield MANIFEST's item_count; malformed ones must either parse
or raise ParseError, within 5 s each. Accepted differences from MANIFEST:

| file | MANIFEST | we get | why |
|---|---|---|---|
| real fr_lecerclepsy_latin1-nodecl | 10 | 9 | its 4th <item> is empty |
|   |   |   | (no title, link or description): dropped |
| malformed fp_encoding_utf16le-bom, | 0 | ParseError | byte-level count is 0 for |
|   fp_encoding_utf32be-nobom |   |   | UTF-16/32; decoded, they are an empty |
|   |   |   | <rss></rss>: no entries, no title |
| malformed xxe_* | 0 | ParseError | the DTD is removed (parser.defuse); |
|   |   |   | what is left has no feed in it |
| malformed real_*html*, | 0 | ParseError | an HTML page or an IIS redirect |
|   real_marketwatch_redirect |   |   | body, not a feed |
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Iterator

import pytest

from monitor.errors import ParseError
from monitor.poll.fetcher import Fetcher, make_session
from monitor.poll.parser import ParsedFeed, parse_in_pool
from tests.corpus import Row, manifest
from tests.loopback import LoopbackServer

ROWS = manifest()
ACCEPTED = {"fr_lecerclepsy_latin1-nodecl_rss2.xml": 9}  # see the table above
REAL = [r for r in ROWS if r.real]
MALFORMED = [r for r in ROWS if not r.real]


@pytest.fixture(scope="module")
def executor() -> Iterator[concurrent.futures.Executor]:
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        yield pool


async def poll(server: LoopbackServer, row: Row, executor: concurrent.futures.Executor,
               content_type: str = "application/xml") -> ParsedFeed:
    server.route("/feed", body=row.read(), headers={"Content-Type": content_type})
    async with make_session() as session:
        result = await Fetcher(session).fetch(server.url("/feed"), etag=None, last_modified=None)
    return await parse_in_pool(executor, result.body, result.headers, row.name)


@pytest.mark.parametrize("row", REAL, ids=[r.name for r in REAL])
async def test_real_feed_gives_manifest_item_count(
    server: LoopbackServer, executor: concurrent.futures.Executor, row: Row
) -> None:
    parsed = await poll(server, row, executor)
    assert len(parsed.items) == ACCEPTED.get(row.name, row.item_count)
    assert parsed.title
    ids = [item.id for item in parsed.items]
    assert len(set(ids)) == len(ids), "ids must be unique within a document"
    assert all(item.feed == row.name and (item.title or item.summary or item.link)
               for item in parsed.items)


@pytest.mark.parametrize("row", MALFORMED, ids=[r.name for r in MALFORMED])
async def test_malformed_file_parses_or_raises_parse_error_within_5_s(
    server: LoopbackServer, executor: concurrent.futures.Executor, row: Row
) -> None:
    try:
        async with asyncio.timeout(5):
            parsed = await poll(server, row, executor)
    except ParseError:
        return
    assert all(isinstance(item.title, str) and len(item.id) == 32 for item in parsed.items)


@pytest.mark.parametrize(
    ("name", "content_type", "expected"),
    [
        ("de_golem_latin1_rss2.xml", "application/rss+xml", "Viele Spieler wünschen sich"),
        ("de_golem_latin1_rss2.xml", "text/xml; charset=ISO-8859-1", "wünschen"),
        ("pt_jornaldenoticias_latin1_rss2.xml", "application/xml", "Mãe de utente"),
        ("ru_ibash_cp1251_rss2.xml", "application/rss+xml", "Цитата #17703"),
        ("ru_ibash_cp1251_rss2.xml", "text/xml; charset=windows-1251", "есть"),
        ("el_liberal-gr_iso8859-7_rss2.xml", "application/xml", "Πορτραίτα"),
        # No declaration in the file: with a charset header and without one.
        ("fr_lecerclepsy_latin1-nodecl_rss2.xml", "text/xml; charset=iso-8859-1", "études"),
        ("fr_lecerclepsy_latin1-nodecl_rss2.xml", "application/xml", "études"),
        ("fr_lecerclepsy_latin1-nodecl_rss2.xml", "text/xml", "études"),
        ("pt_uol-noticias_latin1-nodecl_rss2.xml", "text/xml; charset=iso-8859-1", "simulações"),
        ("pt_uol-noticias_latin1-nodecl_rss2.xml", "application/rss+xml", "simulações"),
        ("pt_uol-noticias_latin1-nodecl_rss2.xml", "text/html", "Líder na pesquisa"),
    ],
)
async def test_accents_come_out_right(
    server: LoopbackServer, executor: concurrent.futures.Executor,
    name: str, content_type: str, expected: str,
) -> None:
    row = next(r for r in ROWS if r.name == name)
    parsed = await poll(server, row, executor, content_type)
    text = " ".join(f"{i.title} {i.summary}" for i in parsed.items)
    assert expected in text
    assert "Ã" not in text and "\ufffd" not in text
