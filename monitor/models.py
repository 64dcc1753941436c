"""Plain frozen dataclasses passed between the stages of the pipeline.

Nothing here does I/O; every stage takes and returns these values so that the
pure stages (parser, matcher, render) can be tested as tables.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Priority(StrEnum):
    """A rule's priority; ordered low < normal < high (see `rank`)."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return {"low": 0, "normal": 1, "high": 2}[self.value]


@dataclass(frozen=True, slots=True)
class Item:
    """One news item, as the parser hands it on.

    `id` is stable within its feed across polls (see parser.item_id); `title`
    and `summary` are plain text (no HTML, entities decoded); `published` is
    only a hint for display and catch-up, never used for dedup.
    `story_id` is the story (monitor.stories) the poll attached the item to;
    None before, or where no story index runs.
    """

    feed: str
    id: str
    title: str
    summary: str = ""
    link: str = ""
    published: datetime | None = None
    author: str = ""
    content: str = ""
    categories: tuple[str, ...] = ()
    story_id: str | None = field(default=None, compare=False)

    @property
    def story_key(self) -> str | None:
        """The outbox's story key: the attached story, else the same article."""
        return self.story_id or self.story

    @property
    def story(self) -> str | None:
        """The same article in any feed: a hash of its clean link and of its
        title, case and spacing aside; None without a link (parser.identity
        says which feeds repeat stories). The title counts too because some
        feeds give every item the same link (their home page): those items
        are different stories."""
        if not self.link:
            return None
        key = f"{self.link}\n{' '.join(self.title.casefold().split())}"
        return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Person:
    """A named person of a rule: given name first, family name the rest."""

    name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rule:
    """A validated watch rule, as config hands it to the matcher.

    `source` and `index` say where it was written (file and position in that
    file's `[[rules]]`), so that compile errors can name it.
    """

    name: str
    query: str | None = None
    any: tuple[str, ...] = ()
    all: tuple[str, ...] = ()
    not_: tuple[str, ...] = ()
    people: tuple[Person, ...] = ()
    fuzzy: int | None = None
    fields: tuple[str, ...] = ("title", "summary", "content")
    feeds: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    min_score: int = 0
    priority: Priority = Priority.NORMAL
    channels: tuple[str, ...] = ()
    description: str = ""
    source: str = ""
    index: int = 0

    @property
    def where(self) -> str:
        """`file: rules[i] (name="x")`, the prefix of every error about this rule."""
        prefix = f"{self.source}: " if self.source else ""
        # Quoted as JSON: a name holding a line break stays on the one line.
        return f"{prefix}rules[{self.index}] (name={json.dumps(self.name, ensure_ascii=False)})"


@dataclass(frozen=True, slots=True)
class TermHit:
    """One term of a rule that matched: what was written, what it met, where."""

    term: str
    matched: str
    field: str
    score: int


@dataclass(frozen=True, slots=True)
class Match:
    """A rule firing on an item, with a 0-100 score and its evidence."""

    rule: str
    score: int
    hits: tuple[TermHit, ...] = ()

    @property
    def terms(self) -> list[str]:
        """The distinct rule terms that matched, in order of first hit."""
        return list(dict.fromkeys(hit.term for hit in self.hits))


@dataclass(frozen=True, slots=True)
class Alert:
    """What a channel is asked to deliver: an item, the match, and context.

    `feed_title` is the human name of the source feed; `priority` is the
    rule's; `id` is the outbox row id (0 when not stored, e.g. a test send);
    `backlog`: the item was in the feed when it was added (its first poll, with
    `alert_existing`), so it leaves with the rest of that backlog, in one digest.
    """

    item: Item
    match: Match
    channel: str
    feed_title: str = ""
    priority: Priority = Priority.NORMAL
    id: int = 0
    created: datetime | None = field(default=None, compare=False)
    backlog: bool = False
    sources: tuple[str, ...] = field(default=(), compare=False)
    note: str = ""


@dataclass(frozen=True, slots=True)
class FeedState:
    """What the store knows of one feed: its HTTP validators, schedule and health."""

    name: str
    url: str
    current_url: str
    title: str = ""
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    next_poll: float = 0.0
    last_poll: float | None = None
    last_success: float | None = None
    last_new_item: float | None = None
    last_status: int | None = None
    failures: int = 0
    error_category: str | None = None
    error: str | None = None
    warning: str | None = None
    items_seen: int = 0
    interval: float = 900.0
    polled_once: bool = False
    disabled: str | None = None
    health_alerted: float | None = None
    # Why the next poll is when it is (schedule.Paced.why): "fixed interval",
    # "adaptive: ~3.2 items/h at this hour", "Cache-Control max-age", ...
    pace: str | None = None
    # The WebSub hub and topic its last response parsed advertised
    # (poll/websub.discover), kept for the polls that parse nothing (304,
    # the same bytes): "" when it advertised none, None when not known yet.
    hub: str | None = None
    hub_topic: str | None = None


@dataclass(frozen=True, slots=True)
class StoredAlert:
    """An outbox row: the alert and its delivery state."""

    alert: Alert
    state: str
    attempts: int
    next_attempt: float
    last_error: str | None
    delivered: float | None
    done_urls: frozenset[str] = frozenset()
    first_failure: float | None = None


# The rules of newsmonitor's own notices to `[monitor] admin_channels`: no
# `[[rules]]` entry sends them, so muting one is done in admin_channels.
FEED_HEALTH = "feed-health"
CHANNEL_HEALTH = "channel-health"
NOTICE_RULES = frozenset({FEED_HEALTH, CHANNEL_HEALTH})


@dataclass(frozen=True, slots=True)
class ChannelHealth:
    """What the store knows of one channel's sends: since when every send has
    failed (None while it works), the last error, and when the last notice
    about it went out (None when no notice is out)."""

    channel: str
    failing_since: float | None = None
    error: str = ""
    alerted: float | None = None


@dataclass(frozen=True, slots=True)
class Subscription:
    """A WebSub subscription of one feed (W3C WebSub, 2018): the hub and
    topic it advertised, the random `callback` id of our callback path
    (`/websub/<callback>`), the shared `secret` of its signatures, its
    `state` (requested → active, unsubscribing; denied when the hub said
    no), when we last asked the hub (`requested`), and until when the hub
    holds it (`lease_until`, once verified). `pending`: the mode of our
    last request ("subscribe", "unsubscribe") while the hub has not
    verified it; None once verified: a verification is taken once per
    request (poll/websub.expected)."""

    feed: str
    hub: str
    topic: str
    callback: str
    secret: str = field(repr=False)  # the HMAC key of its pushes: never shown
    state: str = "requested"
    requested: float = 0.0
    lease_until: float | None = None
    error: str | None = None
    pending: str | None = None
