"""An item read once into what grouping compares: weighted word stems
(stories.words), the canonical link, the folded title, its kind
(stories.kinds) and its headline's subject (stories.subject).

Title words weigh more than summary words: a title names the event, a
summary often adds background.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from urllib.parse import urlsplit

from monitor.matcher.fold import fold, tokens
from monitor.stories.kinds import Kind, kind
from monitor.stories.subject import names, subject
from monitor.stories.words import stems

TITLE_WEIGHT = 1.0
SUMMARY_WEIGHT = 0.8


class ItemLike(Protocol):
    """What grouping reads of an item (monitor.models.Item has it all)."""

    @property
    def id(self) -> str: ...
    @property
    def feed(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def link(self) -> str: ...
    @property
    def published(self) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class Features:
    """What one item brings to the comparison."""

    key: str  # feed and id: unique among items
    feed: str
    title: str  # folded, words only
    terms: dict[str, float]  # stem → TITLE_WEIGHT or SUMMARY_WEIGHT
    link: str  # canonical, "" when it cannot tell articles apart
    at: datetime
    kind: Kind
    subject: str | None  # stem of the headline's first name (stories.subject)
    names: frozenset[str] = frozenset()  # stems of its names (stories.subject)
    # When it was published, if it says (never after it was seen): what its
    # likeness in time to a story is judged by. `at` may be later: an item
    # published before the window (a feed's backlog, an archive piece put
    # back on a front page) is in the window from when it was seen.
    published: datetime | None = None

    @property
    def when(self) -> datetime:
        """Its time as an event: its publication, else `at`."""
        return self.published or self.at


def features(item: ItemLike, at: datetime, teaser: bool = False,
             published: datetime | None = None) -> Features:
    """`item` read for grouping; `at` is its time in the window (published,
    else arrival), `published` its publication (Features.published);
    `teaser`: its summary is one its feed gives other articles too
    (stories.teasers), read as none."""
    summary = "" if teaser else item.summary
    title_stems = stems(item.title)
    terms = dict.fromkeys(stems(summary), SUMMARY_WEIGHT)
    terms.update(dict.fromkeys(title_stems, TITLE_WEIGHT))
    return Features(key=item_key(item.feed, item.id), feed=item.feed,
                    title=" ".join(tokens(fold(item.title))), terms=terms,
                    link=canonical_link(item.link), at=at,
                    kind=kind(item.title, summary),
                    subject=subject(item.title, summary),
                    names=names(item.title, summary), published=published)


def item_key(feed: str, item_id: str) -> str:
    """What tells an item from every other: its feed and id."""
    return f"{feed}\n{item_id}"


def canonical_link(link: str) -> str:
    """Host and path of an article link, scheme, query, fragment and trailing
    slash aside (tracking parameters and http/https differ between section
    feeds); "" for a bare home page, which some feeds give every item."""
    try:
        parts = urlsplit(link.strip())
    except ValueError:
        return ""
    path = parts.path.rstrip("/")
    if not parts.netloc or len(path) < 8:
        return ""
    host = parts.netloc.lower().removeprefix("www.")
    return f"{host}{path}"
