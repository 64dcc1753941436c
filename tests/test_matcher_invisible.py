"""Text as publishers write it (issue 13; ../shared/eval/README.md, "The rule
semantics"): invisible format characters inside a word are removed, every
kind of space separates words, in every field, written as characters or as
HTML entities, for terms, phrases, wildcards, people and NEAR; and a hit
quotes the word as a reader sees it.

Each row puts the character into the item's text at the places marked `|`
(inside words for invisible characters, between words for spaces).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from monitor.matcher import compile_rules
from monitor.matcher.document import FieldView, Tokenizer
from monitor.models import Alert, Item, Person, Rule
from monitor.poll.parser import parse_feed
from monitor.render import Format, content_window, render_alert
from monitor.stories.words import stems
from monitor.text import html_to_text

# (name, character, the HTML entities that write it)
INVISIBLE = [
    ("soft hyphen", "\u00ad", ("&shy;", "&#173;", "&#xAD;")),
    ("zero-width space", "\u200b", ("&#8203;", "&#x200B;", "&ZeroWidthSpace;")),
    ("zero-width non-joiner", "\u200c", ("&zwnj;", "&#8204;")),
    ("zero-width joiner", "\u200d", ("&zwj;", "&#x200d;")),
    ("word joiner", "\u2060", ("&NoBreak;", "&#8288;")),
    ("byte order mark", "\ufeff", ("&#xFEFF;", "&#65279;")),
]
SPACES = [
    ("no-break space", "\u00a0", ("&nbsp;", "&#160;", "&#xA0;")),
    ("narrow no-break space", "\u202f", ("&#x202F;", "&#8239;")),
    ("thin space", "\u2009", ("&thinsp;", "&#8201;")),
    ("en space", "\u2002", ("&ensp;",)),
    ("em space", "\u2003", ("&emsp;",)),
    ("figure space", "\u2007", ("&#8199;",)),
    ("hair space", "\u200a", ("&hairsp;",)),
    ("medium mathematical space", "\u205f", ("&MediumSpace;",)),
    ("ideographic space", "\u3000", ("&#x3000;",)),
]
PROVOST = (Person("Fran\u00e7ois Provost"),)

# (kind, rule, text with `|` inside words, the words a hit quotes)
IN_WORDS = [
    ("term", Rule("r", query="Ampere"), "la fin d'Am|p\u00e8re|", ["Amp\u00e8re"]),
    ("phrase", Rule("r", query='"Ampere liquidee"'), "|Am|p\u00e8re liqui|d\u00e9e",
     ["Amp\u00e8re liquid\u00e9e"]),
    ("wildcard", Rule("r", query="liquid*"), "Amp\u00e8re li|quid\u00e9e", ["liquid\u00e9e"]),
    ("person", Rule("r", people=PROVOST), "Fran|\u00e7ois Pro|vost|",
     ["Fran\u00e7ois Provost"]),
    ("person family first", Rule("r", people=PROVOST), "PRO|VOST, Fran|\u00e7ois",
     ["PROVOST, Fran\u00e7ois"]),
    ("NEAR", Rule("r", query="Ampere NEAR/2 liquidation"), "la liqui|dation d'Am|p\u00e8re",
     ["Amp\u00e8re", "liquidation"]),
    ("not a separator", Rule("r", query="Am OR pere"), "Am|p\u00e8re", []),
]
# (kind, rule, text with `|` between words, the words a hit quotes)
BETWEEN_WORDS = [
    ("term", Rule("r", query="Ampere"), "la fin d'Amp\u00e8re|!", ["Amp\u00e8re"]),
    ("phrase", Rule("r", query='"Ampere liquidee"'), "Amp\u00e8re|liquid\u00e9e",
     ["Amp\u00e8re liquid\u00e9e"]),
    ("wildcard", Rule("r", query="liquid*"), "Amp\u00e8re|liquid\u00e9e", ["liquid\u00e9e"]),
    ("person", Rule("r", people=PROVOST), "Fran\u00e7ois|Provost", ["Fran\u00e7ois Provost"]),
    ("person initial", Rule("r", people=PROVOST), "F.|Provost", ["F. Provost"]),
    ("NEAR", Rule("r", query="Ampere NEAR/2 liquidation"), "liquidation|d'Amp\u00e8re",
     ["Amp\u00e8re", "liquidation"]),
    ("separates", Rule("r", query="Ampereliquidee OR liquid*"), "Amp\u00e8re|liquid\u00e9e",
     ["liquid\u00e9e"]),
]
# Every text field a rule reads (url aside: it is percent-decoded); HTML rows
# go in the summary, with block and inline elements around the text.
FIELD_NAMES = ["title", "summary", "content", "author", "categories"]


def _rows(chars: list[tuple[str, str, tuple[str, ...]]],
          cases: list[tuple[str, Rule, str, list[str]]]) -> list[object]:
    rows = []
    for name, char, entities in chars:
        for kind, rule, text, quoted in cases:
            for field in FIELD_NAMES:
                rows.append(pytest.param(rule, field, text.replace("|", char), quoted,
                                         id=f"{name}-{kind}-{field}"))
            for entity in entities:
                html = "<p>" + text.replace("|", entity).replace(" ", "<b> </b>") + "</p>"
                rows.append(pytest.param(rule, "summary", html, quoted,
                                         id=f"{name}-{kind}-html-{entity}"))
    return rows


def _hits(rule: Rule, field: str, text: str) -> list[str]:
    rule = Rule(rule.name, query=rule.query, people=rule.people, fields=(field,))
    fields = {"title": "", field: (text,) if field == "categories" else text}
    item = Item(feed="f", id="1", **fields)  # type: ignore[arg-type]
    return [hit.matched for match in compile_rules([rule]).match(item) for hit in match.hits]


@pytest.mark.parametrize(("rule", "field", "text", "quoted"),
                         _rows(INVISIBLE, IN_WORDS) + _rows(SPACES, BETWEEN_WORDS))
def test_rule_reads_text_as_written(rule: Rule, field: str, text: str,
                                    quoted: list[str]) -> None:
    assert sorted(set(_hits(rule, field, text))) == sorted(quoted)


@pytest.mark.parametrize(("name", "char"), [(n, c) for n, c, _ in INVISIBLE + SPACES])
def test_explain_quotes_the_word_without_the_character(name: str, char: str) -> None:
    rule = Rule("r", query='Ampere AND "Francois Provost"')
    title = f"Fran{char}\u00e7ois Provost et Am{char}p\u00e8re"
    if char.isspace():
        title = f"Fran\u00e7ois{char}Provost et{char}Amp\u00e8re"
    text = compile_rules([rule]).explain("r", Item(feed="f", id="1", title=title))
    assert "Ampere: title 'Amp\u00e8re' (exact)" in text
    assert "\"Francois Provost\": title 'Fran\u00e7ois Provost' (exact)" in text
    assert "verdict: fires" in text


@pytest.mark.parametrize(("name", "char"), [(n, c) for n, c, _ in INVISIBLE])
def test_content_text_path_removes_invisible_characters(name: str, char: str) -> None:
    """The path every field takes (HTML to text, chunks, words, quotes), on
    its own, on a long article."""
    html = ("<article><p>" + "Le constructeur a annonc\u00e9 ses r\u00e9sultats. " * 50
            + f"</p><p>La liqui{char}dation d\u2019Am{char}p\u00e8re est prononc\u00e9e.</p>"
            "</article>")
    text = html_to_text(html)
    view = FieldView("content", (text, text.split()), Tokenizer())
    start = view.tokens.index("ampere")
    assert view.tokens[start - 1:start + 1] == ["liquidation", "ampere"]
    assert view.original_words(start - 1, start + 1) == "liquidation d\u2019Amp\u00e8re"


def test_a_wbr_element_is_a_break_opportunity_not_a_separator() -> None:
    rule = Rule("r", query="Ampere")
    assert _hits(rule, "summary", "<p>la fin d'Am<wbr>p\u00e8re</p>") == ["Amp\u00e8re"]


@pytest.mark.parametrize(("name", "char"), [(n, c) for n, c, _ in INVISIBLE])
def test_story_grouping_reads_the_same_words(name: str, char: str) -> None:
    assert stems(f"Am{char}p\u00e8re liqui{char}d\u00e9e par Renault") == \
        stems("Amp\u00e8re liquid\u00e9e par Renault")


# (kind, document, where the person's name is: RSS has it in the description
# only, Atom and JSON Feed in the content, which is the summary too)
FEEDS = [
    ("rss", b'<rss version="2.0"><channel><title>T</title><item><guid>1</guid>'
     b"<title>Am&#173;p\xc3\xa8re liqui&#x200B;d\xc3\xa9e</title>"
     b"<description>&lt;p&gt;Fran&amp;shy;\xc3\xa7ois&amp;#x202F;Provost&lt;/p&gt;"
     b"</description></item></channel></rss>", ["summary"]),
    ("atom", b'<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><entry><id>1</id>'
     b"<title>Am\xc2\xadp\xc3\xa8re liqui\xe2\x80\x8bd\xc3\xa9e</title>"
     b'<content type="html">&lt;p&gt;Fran&amp;shy;\xc3\xa7ois&amp;nbsp;Provost&lt;/p&gt;'
     b"</content></entry></feed>", ["summary", "content"]),
    ("json feed", b'{"version": "https://jsonfeed.org/version/1.1", "title": "T", "items": ['
     b'{"id": "1", "title": "Am\\u00adp\\u00e8re liqui\\u2060d\\u00e9e",'
     b' "content_html": "<p>Fran&shy;\\u00e7ois&#x202F;Provost</p>"}]}',
     ["summary", "content"]),
]


@pytest.mark.parametrize(("kind", "body", "fields"), FEEDS, ids=[row[0] for row in FEEDS])
def test_parsed_feeds_match_through_invisible_characters(kind: str, body: bytes,
                                                         fields: list[str]) -> None:
    (item,) = parse_feed(body, {}, "f").items
    rule = Rule("r", query='"Ampere liquidee"', people=PROVOST,
                fields=("title", "summary", "content"))
    (match,) = compile_rules([rule]).match(item)
    assert [(hit.matched, hit.field) for hit in match.hits] == [
        ("Amp\u00e8re liquid\u00e9e", "title"),
        *[("Fran\u00e7ois Provost", field) for field in fields]]


@pytest.mark.parametrize(("name", "char"), [(n, c) for n, c, _ in INVISIBLE])
def test_the_alert_highlights_the_word_written_with_invisible_characters(
        name: str, char: str) -> None:
    content = ("Le tribunal de commerce a examin\u00e9 le dossier. " * 30
               + f"La liquidation d\u2019Am{char}p\u00e8re est prononc\u00e9e. "
               + "Les salari\u00e9s attendent. " * 30)
    item = Item(feed="f", id="1", title="Un jugement", summary="Le teaser.", content=content)
    (match,) = compile_rules([Rule("r", query="Ampere")]).match(item)
    alert = Alert(item=item, match=match, channel="c")
    window = content_window(content, match.hits)
    assert f"d\u2019Am{char}p\u00e8re" in window and len(window) < len(content) // 2
    kept = replace(alert, item=replace(item, content=window))
    for fmt, marked in [(Format.TEXT, f"\u00abAm{char}p\u00e8re\u00bb"),
                        (Format.HTML, f"<b>Am{char}p\u00e8re</b>")]:
        body = render_alert(kept, fmt).body
        assert "Ampere in content" in body and marked in body
