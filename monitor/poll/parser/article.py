"""An article page's bytes → its main text; pure: no URL is ever fetched.

`article_text` hands the page to trafilatura (issue 13: a well-kept
extractor, no home-made boilerplate removal), which drops navigation,
cookie banners, related links, ad slots and comments and keeps the body.
No JavaScript runs: a page that builds its text in the browser gives
little or nothing, and the item is then matched on what its feed gave.
It runs in the parse pool (parser.pool), never in the event loop: a
large page takes trafilatura tens of milliseconds to seconds.

trafilatura (with lxml's HTML cleaner, justext, htmldate, courlan) is
imported by the first article read, not with the pool: 8 MB in the daemon
and in each worker that no feed without `fulltext` needs.
"""

from __future__ import annotations

from monitor.errors import ParseError
from monitor.text import normalize_space

# The most of an article's text kept, in characters: what the matcher reads
# of a field at most (matcher.document.MAX_CHARS), so storing more is waste.
MAX_TEXT = 100_000


def article_text(body: bytes, url: str) -> str:
    """The main text of the page `body` (served at `url`), one line; "" when
    trafilatura finds none (an empty shell, a page built by JavaScript)."""
    import trafilatura  # see the docstring: the first article read imports it

    try:
        text = trafilatura.extract(body, url=url or None, include_comments=False,
                                   include_tables=True, include_images=False,
                                   include_links=False, deduplicate=True)
    except (ValueError, TypeError, RecursionError) as exc:  # what lxml lets through
        raise ParseError(f"article not readable: {type(exc).__name__}") from exc
    # Paragraphs come one a line: the line breaks become spaces (control
    # characters too), never nothing, or "ligne.\nLuc" would be one word.
    return normalize_space(text or "")[:MAX_TEXT]
