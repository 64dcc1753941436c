"""The one place that wires the flow for one feed: fetch → parse → dedup →
match → outbox.

`poll_feed` never raises for a feed's own trouble: a broken server, a bad
document or a database hiccup ends as a logged line and a `FeedState` with
the error, the next poll scheduled with backoff. Everything else (what is
due, what to deliver) is the daemon's.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

from monitor.config import ChannelSettings, FeedSettings, Settings
from monitor.config.values import without_userinfo as mask_url
from monitor.errors import FetchError, HTTPStatusError, NewsmonitorError, ParseError
from monitor.matcher import Matcher
from monitor.models import Alert, FeedState, Item, Match, Priority
from monitor.poll import schedule
from monitor.poll.fetcher import Fetcher, FetchResult
from monitor.poll.parser import ParsedFeed
from monitor.poll.parser.pool import ParsePool
from monitor.store import Store

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


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

    def __post_init__(self) -> None:
        if self.bodies is None:
            self.bodies = asyncio.Semaphore(self.settings.monitor.concurrency)

    def policy(self, feed: FeedSettings,
               settings: Settings | None = None) -> schedule.PollPolicy:
        """How `feed` is paced under `settings` (default: the running ones)."""
        m = (settings or self.settings).monitor
        return schedule.PollPolicy(
            interval=(feed.interval or m.interval).total_seconds(), jitter=m.jitter,
            use_cache_hints=m.honor_cache_headers, backoff_cap=m.max_backoff.total_seconds(),
            max_failures=m.max_failures)


async def poll_feed(ctx: Context, feed: FeedSettings, state: FeedState) -> Outcome:
    """Poll one feed once and record everything; the compartment boundary."""
    now = ctx.clock()
    started = asyncio.get_running_loop().time()
    try:
        outcome, new_state = await _poll(ctx, feed, state, now)
    except FetchError as exc:
        outcome, new_state = _failed(ctx, feed, state, now, exc.category, str(exc), exc)
    except ParseError as exc:
        outcome, new_state = _failed(ctx, feed, state, now, "parse", str(exc), None)
    except NewsmonitorError as exc:
        outcome, new_state = _failed(ctx, feed, state, now, "internal", str(exc), None)
    except Exception as exc:  # a bug: keep the daemon and the other feeds running
        log.exception("poll crashed feed=%s", feed.name)
        outcome, new_state = _failed(ctx, feed, state, now, "bug", repr(exc), None)
    if outcome.result == "error":
        log.warning("poll failed feed=%s url=%s error=%s next=%s", feed.name,
                    mask_url(state.current_url), outcome.error, _iso(new_state.next_poll))
        await ctx.store.save_feed(new_state)
    elapsed = asyncio.get_running_loop().time() - started
    if outcome.result != "skipped":  # no request was made: nothing to chart
        await ctx.store.record_poll(feed.name, now.timestamp(), outcome.result,
                                    new_state.last_status, elapsed, outcome.new_items,
                                    outcome.error)
    return replace(outcome, elapsed=elapsed, state=new_state)


async def _poll(ctx: Context, feed: FeedSettings, state: FeedState,
                now: datetime) -> tuple[Outcome, FeedState]:
    blocked = ctx.hosts.blocked_until(schedule.host_key(state.current_url), now)
    if blocked is not None:
        # Another feed of this host got a 429/503: wait with it, no request.
        new_state = replace(state, next_poll=blocked.timestamp())
        await ctx.store.save_feed(new_state)
        return Outcome(feed.name, "skipped"), new_state
    assert ctx.bodies is not None
    async with ctx.bodies:
        result = await fetch(ctx, state)
        digest = None if result.not_modified else hashlib.sha256(result.body).hexdigest()
        # A server that sends neither ETag nor Last-Modified (many small sites'
        # generated feeds): the same bytes as last time hold nothing new.
        unchanged = digest == state.body_hash and state.polled_once
        parsed = (None if result.not_modified or unchanged else
                  await ctx.pool.parse(result.body, result.headers, feed.name))
        result = replace(result, body=b"")  # parsed: the body's memory goes with the slot
    base = _after_fetch(state, result, now)
    if parsed is None:
        new_state = _schedule_ok(ctx, feed, base, result, now, None)
        await ctx.store.save_feed(new_state)
        return Outcome(feed.name, "not_modified" if result.not_modified else "unchanged"
                       ), new_state
    base = replace(base, body_hash=digest, title=parsed.title or state.title,
                   warning=parsed.bozo)
    new_state = _schedule_ok(ctx, feed, base, result, now, parsed)
    return await _record(ctx, feed, state, new_state, parsed, now)


async def fetch(ctx: Context, state: FeedState) -> FetchResult:
    """HTTP through the fetcher; `file:` and `builtin:` feeds read from disk."""
    url = state.current_url
    if url.startswith(("file:", "builtin:")):
        return await asyncio.to_thread(_read_local, url, ctx.settings.monitor.max_body)
    return await ctx.fetcher.fetch(url, etag=state.etag, last_modified=state.last_modified)


def _read_local(url: str, limit: int) -> FetchResult:
    if url.startswith("builtin:"):
        data = resources.files("monitor.data").joinpath(url[len("builtin:"):]).read_bytes()
    else:
        try:
            with Path(url[len("file:"):]).open("rb") as fh:
                data = fh.read(limit + 1)
        except OSError as exc:
            raise FetchError(f"cannot read {url}: {exc.strerror}", url=url) from exc
    if len(data) > limit:
        raise FetchError(f"file larger than max_body ({limit} bytes)", url=url)
    return FetchResult(status=200, body=data, headers={}, etag=None, last_modified=None,
                       not_modified=False, permanent_url=None, final_url=url, elapsed=0.0)


def _after_fetch(state: FeedState, result: FetchResult, now: datetime) -> FeedState:
    current = state.current_url
    if result.permanent_url and result.permanent_url != current:
        log.warning("feed moved permanently feed=%s url=%s new_url=%s", state.name,
                    mask_url(current), mask_url(result.permanent_url))
        current = result.permanent_url
    return replace(state, current_url=current, etag=result.etag,
                   last_modified=result.last_modified, last_status=result.status,
                   last_poll=now.timestamp(), last_success=now.timestamp(), failures=0,
                   error=None, error_category=None)


def _schedule_ok(ctx: Context, feed: FeedSettings, state: FeedState, result: FetchResult,
                 now: datetime, parsed: ParsedFeed | None) -> FeedState:
    policy = ctx.policy(feed)
    hint = schedule.cache_hint(result.headers, now, parsed.cache_hint if parsed else None)
    when = schedule.after_success(now, policy, ctx.rng, hint)
    interval = max(policy.interval, hint or 0.0) if policy.use_cache_hints else policy.interval
    return replace(state, next_poll=when.timestamp(), interval=interval)


def _failed(ctx: Context, feed: FeedSettings, state: FeedState, now: datetime,
            category: str, message: str,
            exc: FetchError | None) -> tuple[Outcome, FeedState]:
    failures = state.failures + 1
    retry_after = exc.retry_after if isinstance(exc, HTTPStatusError) else None
    status = exc.status if isinstance(exc, HTTPStatusError) else None
    policy = ctx.policy(feed)
    when = schedule.after_failure(now, policy, ctx.rng, failures, retry_after)
    if status in (429, 503) and retry_after:
        ctx.hosts.record(schedule.host_key(state.current_url),
                         now + timedelta(seconds=retry_after))
    disabled = state.disabled
    if status == 410:
        disabled = "410 Gone: the publisher removed this feed"
        log.warning("feed gone, disabled feed=%s url=%s", feed.name, mask_url(state.current_url))
    new_state = replace(state, failures=failures, error_category=category, error=message[:500],
                        last_status=status or state.last_status, last_poll=now.timestamp(),
                        next_poll=when.timestamp(), interval=schedule.backoff(policy, failures),
                        disabled=disabled)
    return Outcome(feed.name, "error", error=f"{category}: {message}"), new_state


async def _record(ctx: Context, feed: FeedSettings, old: FeedState, state: FeedState,
                  parsed: ParsedFeed, now: datetime) -> tuple[Outcome, FeedState]:
    unseen = await ctx.store.unseen(feed.name, [item.id for item in parsed.items])
    # Feeds list the newest item first; alert in the order things happened.
    new_items = [item for item in reversed(parsed.items) if item.id in unseen]
    # First poll of a feed: its backlog is history, not news (no flood on the
    # first start), unless the user asked for it with alert_existing.
    silent = not old.polled_once and not feed.alert_existing
    alerts = [] if silent else make_alerts(ctx.settings, ctx.matcher, feed, new_items)
    queued, state = await ctx.store.record_items(replace(state, polled_once=True),
                                                 parsed.items, alerts, now.timestamp())
    if new_items:
        log.info("new items feed=%s new=%d alerts=%d", feed.name, len(new_items), len(queued))
    rules = tuple(dict.fromkeys((a.item.id, a.match.rule) for a in alerts))
    return Outcome(feed.name, "new" if new_items else "no_new_items", len(new_items),
                   len(queued), rules=tuple(rule for _, rule in rules)), state


def make_alerts(settings: Settings, matcher: Matcher, feed: FeedSettings,
                items: Sequence[Item]) -> list[Alert]:
    """Match each item and fan each match out to its rule's channels."""
    alerts: list[Alert] = []
    for item in items:
        for match in matcher.match(item, feed.tags):
            alerts += _fan_out(settings, matcher, match, item, feed.name)
    return alerts


def _fan_out(settings: Settings, matcher: Matcher, match: Match, item: Item,
             feed_name: str) -> list[Alert]:
    rule = matcher.rules[match.rule]
    channels = rule.channels or settings.monitor.default_channels
    return [Alert(item=item, match=match, channel=name, feed_title=feed_name,
                  priority=rule.priority)
            for name in channels if _accepts(settings.channels.get(name), rule.priority)]


def _accepts(channel: ChannelSettings | None, priority: Priority) -> bool:
    return channel is not None and priority.rank >= channel.min_priority.rank


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")

