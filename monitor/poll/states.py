"""A feed's stored state after a poll: pure transitions over `FeedState`.

`after_fetch` records a good answer (validators, a permanent move, health
reset); `scheduled` sets the next poll after it (interval, jitter, the
publisher's cache hints); `failed` records a failure with its backoff, a
429/503's hold on the whole host (`HostBackoff`) and a 410's disabling;
`held_hosts` reads those holds back from the stored states (`poll-now`).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta

from monitor.config import PollPolicy
from monitor.config.values import without_userinfo as mask_url
from monitor.errors import FetchError, HTTPStatusError
from monitor.models import FeedState
from monitor.poll import schedule
from monitor.poll.activity import Estimate
from monitor.poll.fetcher import FetchResult
from monitor.poll.parser import ParsedFeed

log = logging.getLogger(__name__)

RETRY_AFTER = "Retry-After"              # the pace of a feed its server asked to wait
HOST_HELD = "host's Retry-After"         # ... of a feed waiting with another of its host
HOLDING_STATUSES = (429, 503)            # the answers whose Retry-After holds the host


def after_fetch(state: FeedState, result: FetchResult, now: datetime) -> FeedState:
    current = state.current_url
    if result.permanent_url and result.permanent_url != current:
        log.warning("feed moved permanently feed=%s url=%s new_url=%s", state.name,
                    mask_url(current), mask_url(result.permanent_url))
        current = result.permanent_url
    return replace(state, current_url=current, etag=result.etag,
                   last_modified=result.last_modified, last_status=result.status,
                   last_poll=now.timestamp(), last_success=now.timestamp(), failures=0,
                   error=None, error_category=None)


def scheduled(policy: PollPolicy, rng: random.Random, state: FeedState,
              result: FetchResult, now: datetime, parsed: ParsedFeed | None,
              estimate: Estimate | None = None, scale: float | None = None) -> FeedState:
    """The next poll after a good fetch: by the interval, or by the feed's
    `estimate` and the budget's `scale` if it is adaptive; never before the
    publisher's cache hints."""
    hint = schedule.cache_hint_why(result.headers, now, parsed.cache_hint if parsed else None)
    paced = schedule.next_success(now, policy, rng, hint, estimate, scale)
    return replace(state, next_poll=paced.when.timestamp(), interval=paced.interval,
                   pace=paced.why)


def failed(policy: PollPolicy, hosts: schedule.HostBackoff, rng: random.Random,
           state: FeedState, now: datetime, category: str, message: str,
           exc: FetchError | None) -> FeedState:
    failures = state.failures + 1
    retry_after = exc.retry_after if isinstance(exc, HTTPStatusError) else None
    status = exc.status if isinstance(exc, HTTPStatusError) else None
    when = schedule.after_failure(now, policy, rng, failures, retry_after)
    pace = (f"backoff after {failures} failure{'s' if failures > 1 else ''}"
            if not retry_after or when > now + timedelta(seconds=retry_after) else RETRY_AFTER)
    if status in HOLDING_STATUSES and retry_after:
        hosts.record(schedule.host_key(state.current_url), now + timedelta(seconds=retry_after))
    disabled = state.disabled
    if status == 410:
        disabled = "410 Gone: the publisher removed this feed"
        log.warning("feed gone, disabled feed=%s url=%s", state.name,
                    mask_url(state.current_url))
    return replace(state, failures=failures, error_category=category, error=message[:500],
                   last_status=status or state.last_status, last_poll=now.timestamp(),
                   next_poll=when.timestamp(), interval=schedule.backoff(policy, failures),
                   disabled=disabled, pace=pace)


def held_hosts(states: Iterable[FeedState], now: float) -> dict[str, float]:
    """The hosts a 429/503's Retry-After holds after `now`, and until when
    (epoch seconds), as the stored states show them: a feed that got it
    (pace RETRY_AFTER, its next poll the server's time) and the feeds of
    its host that waited with it (HOST_HELD, see pipeline._poll). The
    daemon's `HostBackoff` holds them in memory; `poll-now` reads them
    here, so that it neither promises a poll the daemon will skip nor
    makes a restarted daemon ask before the server's time."""
    holds: dict[str, float] = {}
    for state in states:
        if state.next_poll > now and (
                state.pace == HOST_HELD
                or (state.pace == RETRY_AFTER and state.last_status in HOLDING_STATUSES)):
            host = schedule.host_key(state.current_url)
            holds[host] = max(holds.get(host, 0.0), state.next_poll)
    return holds
