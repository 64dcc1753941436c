"""More of the item (issue 13): the parser keeps each item's full content,
authors, categories and link; rules read them through `fields`; an alert
names the field and shows the content around the first word matched there.

Tables over the corpus feeds (../shared/corpus) that carry these parts:
TechCrunch's content:encoded, Libération's dc:creator, the Guardian's and
Blast's categories, Google's Atom categories, Le Monde's, Libération's and
Le Figaro's links. The expected items were read off the documents.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.cli import main
from monitor.matcher import compile_rules
from monitor.matcher.document import Document, Tokenizer, plain_fields
from monitor.models import Alert, Item, Match, Person, Rule, TermHit
from monitor.poll.parser import CONTENT_CHARS, parse_feed, parse_partial
from monitor.poll.parser.prescan import scan
from monitor.render import RENDERERS, Format, content_window, excerpt, render_alert
from tests import configs
from tests.corpus import manifest, read
from tests.loopback import LoopbackServer


def item_titled(name: str, title: str) -> Item:
    """The item of corpus file `name` whose title starts with `title`."""
    return next(i for i in parse_feed(read(name), {}, name).items if i.title.startswith(title))


# --- the parser ---------------------------------------------------------------

PARSED = [
    # (file, title, field, expected value or a part of it)
    ("en_techcrunch_rss2.xml", "Google Launches Native Gmail App", "content", "Robert Scoble"),
    ("en_guardian_international_rss2.xml", "So, how did conservatives", "author", "Jason Wilson"),
    ("fr_liberation_sports_rss2.xml", "Tournoi des six nations", "author", "Gilles Renault"),
    ("en_taverncast_podcast_rss2.xml", "Taverncast 62", "author",  # dc:creator, author
     "Taverncast: www.taverncast.com, Taverncast"),
    ("en_google-testing-blog_atom.xml", "Code Health: Eliminate YAGNI", "categories",
     ("Code Health", "Marc Eaddy", "TotT")),
    ("fr_lefigaro_automobile_rss2.xml", "Peninsula Classics", "categories", ("Automobile",)),
    ("fr_blast_articles_rss2.xml", "Trump : Main basse sur le Groenland", "categories",
     "États-Unis"),
    # Le Figaro's and Libération's only "content" is a photo caption
    # (media:description, which feedparser files under content): not the article.
    ("fr_lefigaro_automobile_rss2.xml", "Peninsula Classics", "content", ""),
    ("fr_liberation_sports_rss2.xml", "Tournoi des six nations", "content", ""),
]


@pytest.mark.parametrize(("name", "title", "field", "expected"), PARSED)
def test_the_parser_keeps_the_field(name: str, title: str, field: str,
                                    expected: str | tuple[str, ...]) -> None:
    value = getattr(item_titled(name, title), field)
    if isinstance(expected, tuple) or expected == "":
        assert value == expected
    else:
        assert expected in value


def test_content_is_the_article_not_the_teaser() -> None:
    item = item_titled("en_techcrunch_rss2.xml", "Google Launches Native Gmail App")
    assert "Scoble" not in item.summary and "<" not in item.content
    assert len(item.content) > 3 * len(item.summary)


def test_atom_content_without_summary_is_both() -> None:
    """feedparser copies an Atom <content> into the summary when there is no
    <summary>; the summary stays what it was (no edit seen on upgrade)."""
    items = parse_feed(read("en_reddit_frontpage_atom.xml"), {}, "r").items
    assert items and all(i.content and i.content == i.summary for i in items)


def test_a_content_equal_to_the_summary_is_read_once() -> None:
    """The default fields (title, summary, content) of an Atom item whose
    content is its summary: the text is split and folded once, and the
    matches are those of reading it twice (content then differs by a space)."""
    items = parse_feed(read("en_reddit_frontpage_atom.xml"), {}, "r").items
    matcher = compile_rules([Rule("submitted", any=("submitted",)),
                             Rule("comments", any=("comments",), fields=("content",))])
    for item in items:
        fields = plain_fields(item)
        assert fields["content"] is fields["summary"]
        views = Document(item, Tokenizer(), fields).views
        assert views["content"].name == "content"
        assert views["content"].tokens is views["summary"].tokens
        twice = replace(item, content=item.content + " ")
        assert plain_fields(twice)["content"] is not plain_fields(twice)["summary"]
        found = matcher.match(item)
        assert [m.rule for m in found] == ["submitted", "comments"]
        assert found == matcher.match(twice)


ATOM_AUTHORS = ("""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:f</id>
<entry><id>urn:e1</id><title>Deux auteurs et une longue page</title>
<author><name>Camille Dupont</name></author>
<author><name>Luc &lt;b&gt;Julia&lt;/b&gt;</name></author>
<category term="Économie"/><category label="Label seul"/><category term="Économie"/>
<content type="html">&lt;p&gt;word &lt;/p&gt;""" + "mot " * 300_000
                + "</content></entry></feed>").encode()


def test_all_authors_joined_categories_once_and_content_capped() -> None:
    [item] = parse_feed(ATOM_AUTHORS, {}, "atom").items
    assert item.author == "Camille Dupont, Luc Julia"
    assert item.categories == ("Économie", "Label seul")
    assert 0.99 * CONTENT_CHARS < len(item.content) <= CONTENT_CHARS
    assert item.content.startswith("word mot") and item.content.endswith("mot")


def test_the_prescan_gives_the_same_new_fields() -> None:
    """parse_partial (the pre-scan's path) gives the whole parse's content,
    author and categories; tests/test_prescan.py compares every field over
    the corpus and its mutations, this says that they are not all empty."""
    seen = {"content": 0, "author": 0, "categories": 0}
    for row in manifest():
        found = scan(row.read(), {})
        if found is None or not found.ids:
            continue
        whole = parse_feed(row.read(), {}, "f").items
        assert parse_partial(found.partial(set()), "f").items == whole
        for field in seen:
            seen[field] += sum(1 for item in whole if getattr(item, field))
    assert min(seen.values()) > 50, seen


# --- rules on each field --------------------------------------------------------

FIRES = [
    # (file, rule, how many items it fires on, the first one's title, matched, field)
    ("fr_liberation_sports_rss2.xml", Rule("r", people=(Person("Gilles Renault"),),
                                           fields=("author",)),
     1, "Tournoi des six nations", "Gilles Renault", "author"),
    ("en_guardian_international_rss2.xml", Rule("r", people=(Person("Jason Wilson"),),
                                                fields=("author",)),
     1, "So, how did conservatives", "Jason Wilson", "author"),
    # 85 items' dc:creator is "Taverncast: www.taverncast.com" (or TavernCast: ...).
    ("en_taverncast_podcast_rss2.xml", Rule("r", any=("taverncast.com",), fields=("author",)),
     85, "Taverncast 62", "taverncast.com", "author"),
    ("en_guardian_international_rss2.xml", Rule("r", query='"US politics"',
                                                fields=("categories",)),
     7, "Trump State of the Union address", "US politics", "categories"),
    ("en_google-testing-blog_atom.xml", Rule("r", query='"code health"', fields=("categories",)),
     6, "Code Health: Providing Context", "Code Health", "categories"),
    ("en_google-testing-blog_atom.xml", Rule("r", query="Health NEAR/1 Code",
                                             fields=("categories",)),
     6, "Code Health: Providing Context", "Health", "categories"),
    ("fr_blast_articles_rss2.xml", Rule("r", any=("Etats-Unis",), fields=("categories",)),
     6, "Une histoire politique des musiques", "États-Unis", "categories"),
    ("fr_elucid_rss2.xml", Rule("r", any=("economie",), fields=("categories",)),
     4, "Éviction du PDG Carlos Tavares", "Économie", "categories"),
    ("fr_lemonde_idees_2023-03-15_rss2.xml", Rule("r", all=("lemonde", "idees"), fields=("url",)),
     15, "« C’est le deuxième front", "lemonde", "url"),
    ("fr_liberation_economie_rss2.xml", Rule("r", any=("economie",), fields=("url",)),
     11, "L’IA durable", "economie", "url"),
    ("fr_lefigaro_la-une_rss2.xml", Rule("r", query="20250210", fields=("url",)),
     13, "Nommé par erreur", "20250210", "url"),
    ("en_techcrunch_rss2.xml", Rule("r", people=(Person("Robert Scoble"),)),
     1, "Google Launches Native Gmail App", "Robert Scoble", "content"),
]
SILENT = [
    # The default fields do not read the journalist (the MANIFEST's trap).
    ("fr_liberation_sports_rss2.xml", Rule("r", query="Renault")),
    # Nor the link: Le Monde's items do not say "lemonde".
    ("fr_lemonde_idees_2023-03-15_rss2.xml", Rule("r", any=("lemonde",))),
    # Title and summary only: Robert Scoble is in the content alone.
    ("en_techcrunch_rss2.xml", Rule("r", people=(Person("Robert Scoble"),),
                                    fields=("title", "summary"))),
    # "Chris Lewis" and "Code Health" are two categories: no phrase across them.
    ("en_google-testing-blog_atom.xml", Rule("r", query='"Lewis Code"', fields=("categories",))),
    ("en_google-testing-blog_atom.xml", Rule("r", query="Lewis NEAR/1 Code",
                                             fields=("categories",))),
]


def fired(name: str, rule: Rule) -> list[tuple[Item, Match]]:
    matcher = compile_rules([rule])
    items = parse_feed(read(name), {}, name).items
    return [(item, m) for item in items for m in matcher.match(item)]


@pytest.mark.parametrize(("name", "rule", "count", "title", "matched", "field"), FIRES,
                         ids=[f"{row[5]}-{row[0]}" for row in FIRES])
def test_a_rule_fires_on_the_field(name: str, rule: Rule, count: int, title: str,
                                   matched: str, field: str) -> None:
    found = fired(name, rule)
    assert len(found) == count
    item, match = found[0]
    assert item.title.startswith(title)
    assert TermHit(match.hits[0].term, matched, field, 100) in match.hits
    assert {hit.field for _, m in found for hit in m.hits} == {field}


@pytest.mark.parametrize(("name", "rule"), SILENT)
def test_a_rule_stays_silent_off_its_fields(name: str, rule: Rule) -> None:
    assert fired(name, rule) == []


def test_explain_names_the_field() -> None:
    item = item_titled("en_techcrunch_rss2.xml", "Google Launches Native Gmail App")
    matcher = compile_rules([Rule("scoble", people=(Person("Robert Scoble"),))])
    text = matcher.explain("scoble", item)
    assert "looks at title, summary, content" in text
    assert "Robert Scoble: content 'Robert Scoble' (exact)" in text


def test_url_words_are_percent_decoded() -> None:
    item = Item(feed="f", id="1", title="t",
                link="https://www.lemonde.fr/%C3%A9conomie/article/2025/02/10/x_y.html?b=Cl%C3%A9on")
    matcher = compile_rules([Rule("r", query='économie AND Cléon AND "2025 02 10"',
                                  fields=("url",))])
    [match] = matcher.match(item)
    # A hit quotes the link's words as the rule read them (cut at punctuation).
    assert [hit.matched for hit in match.hits] == ["économie", "Cléon", "2025 02 10"]


# --- the alert: the field named, the content's excerpt highlighted -----------------

HIGHLIGHT = {Format.TEXT: "«Robert Scoble»", Format.MARKDOWN: "**Robert Scoble**",
             Format.HTML: "<b>Robert Scoble</b>"}


def scoble_alert() -> Alert:
    item = item_titled("en_techcrunch_rss2.xml", "Google Launches Native Gmail App")
    [match] = compile_rules([Rule("scoble", people=(Person("Robert Scoble"),))]).match(item)
    return Alert(item=item, match=match, channel="c", feed_title="TechCrunch")


@pytest.mark.parametrize("fmt", list(RENDERERS))
def test_the_excerpt_comes_from_the_content_highlighted(fmt: Format) -> None:
    alert = scoble_alert()
    body = render_alert(alert, fmt).body
    assert "Robert Scoble in content" in body
    assert body.count(HIGHLIGHT[fmt]) == 1
    # Keyword in context: the words around it in the content, not the teaser.
    around = alert.item.content.split("Robert Scoble")[0].split()[-3:]
    assert " ".join(around) in body.replace("\\", "")
    assert alert.item.summary[:80] not in body


@pytest.mark.parametrize("fmt", list(RENDERERS))
def test_the_stored_window_renders_the_same_excerpt(fmt: Format) -> None:
    alert = scoble_alert()
    window = content_window(alert.item.content, alert.match.hits)
    assert len(window) < len(alert.item.content) // 3
    kept = replace(alert, item=replace(alert.item, content=window))
    assert render_alert(kept, fmt).body == render_alert(alert, fmt).body


@given(st.lists(st.sampled_from(["Luc", "Julia", "Julian", "x", "é", "ab", "\n"]), max_size=400),
       st.integers(min_value=0, max_value=30))
def test_window_excerpt_equals_content_excerpt(words: list[str], glued: int) -> None:
    content = " ".join(words).replace(" ", "", glued)
    hits = [TermHit("Luc Julia", "Luc Julia", "content", 100),
            TermHit("julia", "Julia", "content", 100)]
    words_ = ["Luc Julia", "Julia", "julia"]
    window = content_window(content, hits)
    if window:
        assert excerpt(window, words_) == excerpt(content, words_)


# --- end to end -------------------------------------------------------------------


def content_rss(items: list[tuple[str, str, str]]) -> bytes:
    """RSS 2.0 with content:encoded: (guid, title, paragraphs of the content)."""
    entries = "".join(
        f"<item><title>{title}</title><link>https://example.org/{guid}</link>"
        f'<guid isPermaLink="false">{guid}</guid><description>Le résumé de {guid}.</description>'
        f"<content:encoded><![CDATA[{content}]]></content:encoded></item>"
        for guid, title, content in items)
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
            f"<title>Tech FR</title><link>https://example.org/</link>{entries}"
            "</channel></rss>").encode()


ARTICLE = "".join(f"<p>Paragraphe {n} sur le salon VivaTech et ses stands de robots.</p>"
                  for n in range(1, 5)) + (
    "<p>Au cinquième paragraphe seulement, <b>Luc Julia</b>, co-créateur de Siri, "
    "prend la parole sur l’intelligence artificielle.</p>"
    "<p>La suite parle des start-up lyonnaises et de leurs levées de fonds.</p>")


def test_a_name_only_in_the_content_alerts_naming_the_field(
        tmp_path: Path, feed: LoopbackServer, receiver: LoopbackServer) -> None:
    first = [("old", "Météo : un week-end ensoleillé sur la Bretagne", "<p>Soleil.</p>")]
    feed.route("/feed.xml", body=content_rss(first))
    config = configs.write(
        tmp_path, monitor={"database": tmp_path / "state.sqlite3"},
        channels={"hook": {"url": receiver.webhook("/hook"), "format": "text"}},
        feeds=[{"name": "Tech FR", "url": feed.url("/feed.xml")}],
        rules=[{"name": "julia", "people": [{"name": "Luc Julia"}], "channels": ["hook"]}])
    assert main(["run", "--once", "--config", str(config)]) == 0  # the backlog: no alert
    new = ("vivatech", "VivaTech ouvre ses portes à Paris avec quatre mille exposants", ARTICLE)
    feed.route("/feed.xml", body=content_rss([new, *first]))
    assert main(["run", "--once", "--config", str(config)]) == 0
    [post] = receiver.posts()
    assert post["title"] == f"[newsmonitor] julia: {new[1]}"
    assert "Matched: Luc Julia in content" in post["message"]
    assert "«Luc Julia», co-créateur de Siri" in post["message"]
    assert "Le résumé de vivatech" not in post["message"]
