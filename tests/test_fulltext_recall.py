"""Issue 13, recall: the labelled set of tests/data/articles/recall.toml
(68 items whose watched term is only in the article's body, 17 negatives:
near misses, and the term only in related links, comments, navigation or
a "lire aussi" box inside the article's text; three CMS layouts),
served by a loopback publisher as feed entries and article pages, read by
the real fetcher, robots parser, parse pool and matcher.

With `fulltext`, recall and precision over (item, rule) pairs must be at
least 0.95; the same items matched on what the feed gives are printed
beside for comparison (`pytest -s` shows the figures).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from monitor.config import load
from monitor.matcher import Matcher, compile_rules
from monitor.models import Item
from monitor.poll.articles import Articles
from monitor.poll.fetcher import Fetcher, make_session
from monitor.poll.parser import make_pool
from monitor.poll.parser.pool import ParsePool
from monitor.store import Store
from tests import articles, configs
from tests.loopback import LoopbackServer

Pairs = set[tuple[str, str]]


def figures(matcher: Matcher, items: Sequence[Item], expected: Pairs
            ) -> tuple[float, float | None]:
    """(recall, precision) of the matcher's (item, rule) pairs against
    `expected`; precision None when nothing fired."""
    fired = {(item.id, m.rule) for item in items for m in matcher.match(item)}
    hits = len(fired & expected)
    return hits / len(expected), hits / len(fired) if fired else None


def shown(figure: tuple[float, float | None]) -> str:
    recall, precision = figure
    return (f"recall {recall:.3f}  precision "
            f"{'n/a (nothing fired)' if precision is None else f'{precision:.3f}'}")


async def test_fulltext_recall_and_precision_on_the_labelled_set(
        server: LoopbackServer, tmp_path: Path) -> None:
    labelled = articles.load()
    assert len(labelled) >= 60 and {i.lang for i in labelled} == {"fr", "en"}
    for item in labelled:
        server.route(f"/a/{item.id}.html", body=articles.page(item),
                     headers={"Content-Type": "text/html; charset=utf-8"})
    settings = load(configs.write(
        tmp_path, monitor={"database": tmp_path / "state.sqlite3", "fulltext_timeout": "30s",
                           "fulltext_host_delay": "1ms", "default_channels": ["console"]},
        channels={"console": "console://"},
        feeds=[{"name": "news", "url": server.url("/news.xml"), "fulltext": True}],
        rules=articles.rules()), {})
    feed = settings.feed("news")
    assert feed is not None and feed.fulltext
    given = [Item("news", g, t, teaser, link)
             for g, t, teaser, link in articles.entries(labelled, server.base_url)]
    expected = {(i.id, rule) for i in labelled for rule in i.expect}
    store = await Store.open(settings.monitor.database)
    executor = make_pool(1)
    try:
        async with make_session() as session:
            reader = Articles(Fetcher(session), ParsePool(lambda: executor), store,
                              settings.monitor)
            read = await reader.enrich(feed, given)
    finally:
        executor.shutdown(cancel_futures=True)
        await store.close()
    matcher = compile_rules(settings.rules)
    with_text = figures(matcher, read, expected)
    without = figures(matcher, given, expected)
    print(f"\nfulltext recall set: {len(labelled)} items, {len(expected)} expected "
          f"(item, rule) pairs, {sum(1 for i in read if i.content)} articles read")
    print(f"  with fulltext:    {shown(with_text)}")
    print(f"  without fulltext: {shown(without)}")
    fired = {(item.id, m.rule) for item in read for m in matcher.match(item)}
    print(f"  with fulltext, missed: {sorted(expected - fired)}; "
          f"wrong: {sorted(fired - expected)}")
    recall, precision = with_text
    assert recall >= 0.95 and precision is not None and precision >= 0.95
