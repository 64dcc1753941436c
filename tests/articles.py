"""The article pages and feed items of issue 13's tests (tests/data/articles).

`load()` reads recall.toml: the rules, and the labelled items whose watched
term is only in the article's body. `page(item)` is the item's article as
a publisher serves it: frame-LANG.html (cookie banner, navigation, an ad
slot, related links, comments) around its body; `feed(items, links)` the RSS
listing them with their title and teaser only. Nothing here decides what a
rule fires on: that is the matcher's answer, compared with `expect`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from html import escape
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data" / "articles"


@dataclass(frozen=True)
class Labelled:
    """One item of the set: its feed entry, its article, the rules it must fire."""

    id: str
    lang: str
    title: str
    teaser: str
    body: str
    expect: frozenset[str]
    related: tuple[str, ...]
    comments: tuple[str, ...]
    nav_extra: str
    frame: str  # frame-FRAME.html: the page's CMS (default: its language's)
    inline: str  # HTML the CMS puts after the first paragraph ("lire aussi")


@cache
def _document() -> dict[str, Any]:
    with (DATA / "recall.toml").open("rb") as file:
        return tomllib.load(file)


def rules() -> list[dict[str, Any]]:
    """The set's rules, as [[rules]] tables for tests/configs.py."""
    return list(_document()["rules"])


def load() -> list[Labelled]:
    return [_labelled(i, i.get("frame", i["lang"])) for i in _document()["items"]]


def _labelled(i: dict[str, Any], frame: str) -> Labelled:
    chrome = _document()["chrome"][frame]
    return Labelled(i["id"], i["lang"], i["title"], i["teaser"], i["body"].strip(),
                    frozenset(i["expect"]), tuple(i.get("related", chrome["related"])),
                    tuple(i.get("comments", chrome["comments"])), i.get("nav_extra", ""),
                    frame, i.get("inline", ""))


def page(item: Labelled) -> bytes:
    """The article page of `item`, as its publisher's CMS would render it."""
    frame = (DATA / f"frame-{item.frame}.html").read_text(encoding="utf-8")
    paragraphs = [f"        <p>{escape(p.strip())}</p>"
                  for p in item.body.split("\n\n") if p.strip()]
    if item.inline:
        paragraphs.insert(1, f"        {item.inline}")
    body = "\n".join(paragraphs)
    related = "\n".join(f'      <li><a href="/related/{n}">{escape(r)}</a></li>'
                        for n, r in enumerate(item.related))
    comments = "\n".join(f'    <div class="comment"><span class="comment-author">Lecteur{n}'
                         f'</span><p>{escape(c)}</p></div>'
                         for n, c in enumerate(item.comments))
    author = _document()["chrome"][item.frame]["author"]
    return frame.format(title=escape(item.title), teaser=escape(item.teaser), body=body,
                        related=related, comments=comments, author=author,
                        nav_extra=item.nav_extra).encode("utf-8")


def feed(entries: list[tuple[str, str, str, str]], title: str = "Articles") -> bytes:
    """RSS 2.0 of (guid, title, teaser, link) entries, newest first."""
    items = "".join(
        f"<item><title>{escape(t)}</title><link>{escape(link)}</link>"
        f'<guid isPermaLink="false">{escape(g)}</guid>'
        f"<description>{escape(teaser)}</description></item>"
        for g, t, teaser, link in entries)
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>{escape(title)}</title><link>http://example.org/</link>"
            f"<description>d</description>{items}</channel></rss>").encode()


def entries(items: list[Labelled], base: str) -> list[tuple[str, str, str, str]]:
    """The feed entries of `items`, each linking to `base`/a/ID.html."""
    return [(i.id, i.title, i.teaser, f"{base}/a/{i.id}.html") for i in items]
