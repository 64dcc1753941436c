"""One feed's poll as one compartment: fetch → parse → dedup → [articles] →
story → match → health → outbox, every effect in ONE transaction of the store.

A `fulltext` feed's new items wait for their linked articles (poll/articles.py)
at most `[monitor] fulltext_timeout`, and are matched on their text as
`content`; an item whose article failed is matched on what the feed gave.

Each new item joins a story of the daemon's index (poll/stories.py) before
it is matched; the outbox's (story, rule, channel) key then alerts a story
once per rule and channel. A known item whose text changed is matched
again: its alerts are marked "updated", and the outbox's keys let through
only the rules it did not match before.

`poll_feed` never raises for a feed's own trouble: a broken server, a bad
document or a bug in one feed's poll ends as a logged line and a
`FeedState` with the error, the next poll scheduled with backoff. Its
steps are pure where they can be (`schedule`, `health.check`,
`outage.OutageWatch`, `make_alerts`); their results — the feed's new state,
its items, the alerts for the new ones, a feed-health notice, and the feeds
to poll at once after our own network outage — are written by one
`Store.record_items`, so a crash anywhere leaves either all of them or none.
A store failure is the one error it raises (StoreError): the poll is then
not recorded and the feed's claim runs out, so it is polled again.

`push_feed` is the same compartment for a body a WebSub hub pushed: no
request, the same parse, dedup, story, match and outbox, in the same one
transaction; the feed's schedule, validators and health counters stay as
its last poll left them (a push is not a poll: the feed's row gets only
its title and item counts, and a poll under way keeps its claim), and a
body that does not parse is logged and dropped without counting as a
failure of the feed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from monitor.config import FeedSettings, Settings
from monitor.config.values import without_userinfo as mask_url
from monitor.errors import FetchError, NewsmonitorError, ParseError, StoreError
from monitor.matcher import Matcher
from monitor.models import Alert, FeedState, Item
from monitor.poll import dedup, health, schedule
from monitor.poll.activity import Activity, History
from monitor.poll.alerts import make_alerts
from monitor.poll.articles import Articles
from monitor.poll.fetcher import Fetcher, FetchResult
from monitor.poll.local import read_local
from monitor.poll.outage import OutageWatch, victims
from monitor.poll.parser import ParsedFeed
from monitor.poll.parser.pool import ParsePool
from monitor.poll.states import HOST_HELD, after_fetch, failed, scheduled
from monitor.poll.stories import Stories
from monitor.poll.websub import HubLink, discover, remember, remembered
from monitor.store import Store
from monitor.store.polls import Poll

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]

__all__ = ["Context", "Outcome", "make_alerts", "poll_feed", "push_feed"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one poll did, for logs, metrics and `run --once`."""

    feed: str
    result: str  # new | no_new_items | unchanged | not_modified | error | skipped
    new_items: int = 0
    alerts: int = 0
    error: str | None = None
    elapsed: float = 0.0
    rules: tuple[str, ...] = ()  # the rule of each match on a new item
    state: FeedState | None = None  # the feed's state as this poll stored it
    notices: int = 0  # feed-health notices queued
    hub: HubLink | None = None  # the WebSub hub the response advertised (poll/websub.py)


@dataclass(slots=True)
class Context:
    """Everything a poll needs, built once by the daemon and injected."""

    settings: Settings
    store: Store
    fetcher: Fetcher
    matcher: Matcher
    pool: ParsePool
    hosts: schedule.HostBackoff
    clock: Clock = lambda: datetime.now(UTC)
    rng: random.Random = random.Random()  # noqa: RUF009 - injected; tests pass a seeded one
    # Polls holding a body: from the fetch until the parse pool is done with
    # it. A body waits for the pool inside its slot, so a thousand feeds
    # fetched faster than they parse hold at most `concurrency` bodies (up to
    # max_body each) in memory, not a thousand. Default: [monitor] concurrency.
    bodies: asyncio.Semaphore | None = None
    # Polls in flight, from before the fetch until recorded: a poll's parsed
    # items wait in memory for the matcher and the store, and a thousand feeds
    # parsed faster than they are matched would all park theirs (30 MB of
    # items in bench/poll.py's first cycle). Default: [monitor] concurrency.
    polls: asyncio.Semaphore | None = None
    outage: OutageWatch = field(default_factory=OutageWatch)
    # The daemon's story index (poll/stories.py); None: items join no story,
    # and the outbox folds only one article seen in several feeds.
    stories: Stories | None = None
    # The article fetcher of `fulltext` feeds; None: no article is fetched.
    articles: Articles | None = None
    # Every feed's publishing history and the budget's share (adaptive feeds).
    activity: Activity = field(default_factory=Activity)

    def __post_init__(self) -> None:
        if self.bodies is None:
            self.bodies = asyncio.Semaphore(self.settings.monitor.concurrency)
        if self.polls is None:
            self.polls = asyncio.Semaphore(self.settings.monitor.concurrency)


@dataclass(frozen=True, slots=True)
class Polled:
    """A poll's result before it is recorded: what the store must write."""

    outcome: Outcome
    state: FeedState
    items: tuple[Item, ...] = ()        # every item parsed (seen ones touched)
    alerts: tuple[Alert, ...] = ()      # for the new items, and health notices
    known: tuple[str, ...] = ()         # ids listed but not parsed: known, touched
    edited: tuple[Item, ...] = ()       # known items whose text changed


async def poll_feed(ctx: Context, feed: FeedSettings, state: FeedState,
                    pushed: FetchResult | None = None) -> Outcome:
    """Poll one feed once and record everything; the compartment boundary.
    `pushed`: a body a hub pushed, in place of the request (see push_feed)."""
    assert ctx.polls is not None
    async with ctx.polls:
        return await _poll_feed(ctx, feed, state, pushed)


async def _poll_feed(ctx: Context, feed: FeedSettings, state: FeedState,
                     pushed: FetchResult | None) -> Outcome:
    now = ctx.clock()
    started = asyncio.get_running_loop().time()
    polled = await _polled(ctx, feed, state, now, pushed)
    polled = _with_health(ctx, feed, polled, now)
    due_now = await _after_outage(ctx, state, polled) if pushed is None else ()
    elapsed = asyncio.get_running_loop().time() - started
    queued, stored = await ctx.store.record_items(
        polled.state, polled.items, polled.alerts, now.timestamp(), due_now=due_now,
        poll=_poll_row(polled, now, elapsed) if pushed is None else None,
        touched=polled.known, follow_up=_follow_ups(ctx.settings), edited=polled.edited,
        pushed=pushed is not None)
    return _recorded(polled, len(queued), stored, elapsed)


async def push_feed(ctx: Context, feed: FeedSettings, state: FeedState, body: bytes,
                    headers: dict[str, str]) -> Outcome:
    """Record a body a WebSub hub pushed for `feed` (signature checked by
    the caller) through the poll's own path; `headers` lower-cased."""
    result = FetchResult(status=200, body=body, headers=headers, etag=state.etag,
                         last_modified=state.last_modified, not_modified=False,
                         permanent_url=None, final_url=state.current_url, elapsed=0.0)
    return await poll_feed(ctx, feed, state, result)


async def _polled(ctx: Context, feed: FeedSettings, state: FeedState,
                  now: datetime, pushed: FetchResult | None) -> Polled:
    """The poll up to what must be stored; a feed's failure is a Polled too.
    A push's is logged and the state kept: a hub's bad body is not the
    feed's failure (its polls go on as before)."""
    try:
        return await _poll(ctx, feed, state, now, pushed)
    except StoreError:
        raise  # nothing of this poll can be recorded: the claim runs out
    except Exception as exc:
        if pushed is None:
            return _failed(ctx, feed, state, now, exc)
        if not isinstance(exc, NewsmonitorError):
            log.exception("push crashed feed=%s", feed.name)
        log.warning("push not recorded feed=%s error=%s", feed.name, exc)
        return Polled(Outcome(feed.name, "error", error=f"push: {exc}"), state)


def _failed(ctx: Context, feed: FeedSettings, state: FeedState, now: datetime,
            exc: Exception) -> Polled:
    """A poll's failure, by kind."""
    if isinstance(exc, FetchError):
        return _failure(ctx, feed, state, now, exc.category, str(exc), exc)
    if isinstance(exc, ParseError):
        return _failure(ctx, feed, state, now, "parse", str(exc), None)
    if isinstance(exc, NewsmonitorError):
        return _failure(ctx, feed, state, now, "internal", str(exc), None)
    # A bug: keep the daemon and the other feeds running.
    log.error("poll crashed feed=%s", feed.name, exc_info=exc)
    return _failure(ctx, feed, state, now, "bug", repr(exc), None)


def _failure(ctx: Context, feed: FeedSettings, state: FeedState, now: datetime,
             category: str, message: str, exc: FetchError | None) -> Polled:
    new_state = failed(feed.policy, ctx.hosts, ctx.rng, state, now, category, message, exc)
    log.warning("poll failed feed=%s url=%s error=%s: %s next=%s", feed.name,
                mask_url(state.current_url), category, message, _iso(new_state.next_poll))
    return Polled(Outcome(feed.name, "error", error=f"{category}: {message}"), new_state)


async def _poll(ctx: Context, feed: FeedSettings, state: FeedState, now: datetime,
                pushed: FetchResult | None) -> Polled:
    blocked = ctx.hosts.blocked_until(schedule.host_key(state.current_url), now)
    if blocked is not None and pushed is None:
        # Another feed of this host got a 429/503: wait with it, no request.
        return Polled(Outcome(feed.name, "skipped"),
                      replace(state, next_poll=blocked.timestamp(), pace=HOST_HELD))
    assert ctx.bodies is not None
    # The hub not known yet (a row of an older version): asked and parsed in full, once.
    learn = state.hub is None and pushed is None
    async with ctx.bodies:
        result = pushed or await fetch(ctx, replace(state, etag=None, last_modified=None)
                                       if learn else state, feed)
        digest = None if result.not_modified else hashlib.sha256(result.body).hexdigest()
        # A server that sends neither ETag nor Last-Modified (many small sites'
        # generated feeds): the same bytes as last time hold nothing new.
        unchanged = digest == state.body_hash and state.polled_once and not learn
        parsed, asked = ((None, None) if result.not_modified or unchanged else
                         await dedup.parse(ctx.store, ctx.pool, feed.name, state, result))
        result = replace(result, body=b"")  # parsed: the body's memory goes with the slot
    if pushed is not None:  # not a poll: the schedule and validators stay
        return await _pushed(ctx, feed, state, parsed, asked)
    # The next poll counts from now, after the fetch, not from the dispatch:
    # a poll that waited for a slot (hundreds due at once) would otherwise
    # come back less than an interval after this request reached the server.
    now = max(now, ctx.clock())
    base = after_fetch(state, result, now)
    hub = discover(result.headers, parsed.hub if parsed else "",
                   parsed.self_url if parsed else "", state.current_url)
    if parsed is None:  # nothing parsed: the hub the last parse found holds
        result_name = "not_modified" if result.not_modified else "unchanged"
        return Polled(Outcome(feed.name, result_name, hub=hub or remembered(state)),
                      _scheduled(ctx, feed, state, base, result, now, None, 0))
    base = remember(replace(base, body_hash=digest, title=parsed.title or state.title,
                            warning=parsed.bozo, polled_once=True), hub)
    polled = await _with_items(ctx, feed, state, base, parsed, asked)
    return replace(polled, outcome=replace(polled.outcome, hub=hub),
                   state=_scheduled(ctx, feed, state, polled.state, result, now,
                                    parsed, polled.outcome.new_items))


def _scheduled(ctx: Context, feed: FeedSettings, old: FeedState, state: FeedState,
               result: FetchResult, now: datetime, parsed: ParsedFeed | None,
               new_items: int) -> FeedState:
    """`state` with its next poll, after what this poll found is learned.

    The history learns it before the poll is recorded: should the store
    refuse the poll, its items are found and counted again at the next
    one, and the history is rebuilt from the store's polls within the hour
    (activity.REBUILD_EVERY). A first poll's items are the backlog."""
    if not old.polled_once:  # a new feed, or a new URL: history starts here
        ctx.activity.histories[feed.name] = History()
    ctx.activity.history(feed.name).observe(now.timestamp(), new_items)
    estimate = ctx.activity.estimate(feed.name, now.timestamp())
    return scheduled(feed.policy, ctx.rng, state, result, now, parsed, estimate,
                     ctx.activity.scale)


async def _pushed(ctx: Context, feed: FeedSettings, state: FeedState,
                  parsed: ParsedFeed | None, asked: dedup.Asked | None) -> Polled:
    if parsed is None:  # the very bytes of the last poll
        return Polled(Outcome(feed.name, "unchanged"), state)
    return await _with_items(ctx, feed, state, replace(
        state, title=parsed.title or state.title), parsed, asked)


async def fetch(ctx: Context, state: FeedState, feed: FeedSettings) -> FetchResult:
    """HTTP through the fetcher; `file:` and `builtin:` feeds read from disk.
    The feed's headers and auth go to its configured host only, also after
    it moved (301) to another one."""
    url = state.current_url
    if url.startswith(("file:", "builtin:")):
        return await asyncio.to_thread(read_local, url, ctx.settings.monitor.max_body)
    return await ctx.fetcher.fetch(url, etag=state.etag, last_modified=state.last_modified,
                                   request=feed.request, origin=feed.url)


async def _with_items(ctx: Context, feed: FeedSettings, old: FeedState, state: FeedState,
                      parsed: ParsedFeed, asked: dedup.Asked | None) -> Polled:
    """Dedup and match: the alerts of the items this feed never recorded."""
    ids = [item.id for item in parsed.items]
    # After the pre-scan the few items parsed are the new ones and those
    # under a new title (an edit), told apart here. Either way record_items
    # keeps the alerts of the items it really inserts only (another
    # instance may be first).
    stored = await dedup.stored(ctx.store, feed.name, old, ids, asked)
    unseen = {i for i in ids if i not in stored}
    # Feeds list the newest item first; alert in the order things happened.
    new_items = [item for item in reversed(parsed.items) if item.id in unseen]
    # First poll of a feed: its backlog is history, not news (no flood on the
    # first start), unless the user asked for it with alert_existing; then it
    # leaves as one digest (flood control's catch-up), not an alert per item.
    first = not old.polled_once
    silent = first and not feed.alert_existing
    if feed.fulltext and not silent and ctx.articles is not None and new_items:
        new_items = await ctx.articles.enrich(feed, new_items)  # within its deadline
    # Every new item joins a story (the backlog of a first poll too: later
    # reports of its stories are not news either).
    if ctx.stories is not None:
        new_items = await ctx.stories.attach(new_items, ctx.clock())
    joined = {item.id: item for item in new_items}
    alerts = [] if silent else [
        replace(alert, backlog=first)
        for alert in make_alerts(ctx.settings, ctx.matcher, feed, new_items)]
    known = [i for i in parsed.items if i.id not in unseen]
    edited = dedup.edits(known, stored)
    if not silent:
        alerts += [replace(alert, note="updated")
                   for alert in make_alerts(ctx.settings, ctx.matcher, feed, edited)]
    rules = tuple(dict.fromkeys((a.item.id, a.match.rule) for a in alerts))
    outcome = Outcome(feed.name, "new" if new_items else "no_new_items", len(new_items),
                      rules=tuple(rule for _, rule in rules))
    items = tuple(joined.get(item.id, item) for item in parsed.items)
    return Polled(outcome, state, items, tuple(alerts), parsed.known, tuple(edited))


def _with_health(ctx: Context, feed: FeedSettings, polled: Polled, now: datetime) -> Polled:
    """Raise, remind or clear the feed's health notice (see health.check)."""
    m = ctx.settings.monitor
    notice, state = health.check(polled.state, feed, m.max_failures, now)
    if notice is None:
        return polled
    log.warning("feed health feed=%s state=%s detail=%s", feed.name, notice.kind, notice.text)
    notices = health.alerts(notice, feed, m.admin_channels, now)
    return replace(polled, state=state, alerts=polled.alerts + tuple(notices),
                   outcome=replace(polled.outcome, notices=len(notices)))


async def _after_outage(ctx: Context, state: FeedState, polled: Polled) -> tuple[str, ...]:
    """The feeds to poll at once because this poll ended our own network
    outage (outage.OutageWatch): those that could not connect since."""
    if not state.current_url.startswith(("http://", "https://")):
        return ()  # a local file says nothing about the network
    stored = polled.state
    since = ctx.outage.observe(state.current_url, polled.outcome.result,
                               stored.error_category,
                               stored.last_poll or ctx.clock().timestamp())
    if since is None:
        return ()
    # Every instance sharing the database sees the network come back (each
    # watches its own polls): one sweeps, the others' sweeps would poll the
    # feeds still down again and again (OutageWatch.quiet: once per quiet).
    now = ctx.clock().timestamp()
    if not await ctx.store.cluster.claim_every("outage sweep", now, ctx.outage.quiet):
        log.info("network back, another instance sweeps")
        return ()
    # Not this feed: it reached its server (its stored state is still the failed one).
    names = tuple(n for n in victims(await ctx.store.feeds(), since) if n != state.name)
    if names:
        log.warning("network back, polling now the feeds that could not connect feeds=%d",
                    len(names))
    return names


def _follow_ups(settings: Settings) -> dict[str, int]:
    """channel → story_updates, for the channels that want follow-ups."""
    return {name: channel.story_updates for name, channel in settings.channels.items()
            if channel.story_updates}


def _poll_row(polled: Polled, now: datetime, elapsed: float) -> Poll | None:
    """The poll for the web page's charts; None when no request was made."""
    outcome = polled.outcome
    if outcome.result == "skipped":
        return None
    return Poll(now.timestamp(), outcome.result, polled.state.last_status, elapsed,
                outcome.new_items, outcome.error)


def _recorded(polled: Polled, queued: int, stored: FeedState, elapsed: float) -> Outcome:
    outcome = polled.outcome
    alerts = queued - outcome.notices  # a notice is always queued (its own item id)
    if outcome.new_items:
        log.info("new items feed=%s new=%d alerts=%d", outcome.feed, outcome.new_items, alerts)
    return replace(outcome, alerts=alerts, elapsed=elapsed, state=stored)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")
