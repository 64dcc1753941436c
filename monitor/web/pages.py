"""The pages: each handler reads its panels through `Store.view` and renders
one template. Read-only; every value from a feed reaches the template as data
(Jinja2 autoescapes it) and every link passes `link` (http(s) only).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web

from monitor.config import Settings
from monitor.models import FeedState, StoredAlert
from monitor.render import (
    Format,
    Template,
    describe_hit,
    matched_terms,
    render_alert,
    safe_link,
)
from monitor.store import Store, views
from monitor.web import charts

log = logging.getLogger(__name__)
HEALTH_ORDER = ("failing", "backoff", "disabled", "ok")
LATEST, ITEMS, POLLS, SEARCH = 25, 50, 30, 50
WINDOW_DAYS = 30
STORIES_SINCE = 48 * 3600.0  # seconds: the overview's biggest stories
STORIES = 10


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the page shows of the running daemon's configuration; the daemon
    hands a new one after each reload (read from the page's own thread, so
    it is immutable)."""

    settings: Settings
    formats: Mapping[str, Format]
    templates: Mapping[str, Template | None]


@dataclass(frozen=True, slots=True)
class FeedRow:
    name: str
    title: str
    url: str
    health: str
    state: FeedState | None


@dataclass
class Pages:
    store: Store
    snapshot: Callable[[], Snapshot]
    env: jinja2.Environment
    clock: Callable[[], float]
    # Two renders at a time: the page never takes more than its share of
    # the process (the GIL is shared with polling and delivery).
    turns: asyncio.Semaphore

    def render(self, template: str, **context: Any) -> web.Response:
        snap = self.snapshot()
        tz = ZoneInfo(snap.settings.monitor.timezone)
        page = self.env.get_template(template).render(
            now=self.clock(), tz=tz, tzname=snap.settings.monitor.timezone, **context)
        return web.Response(text=page, content_type="text/html", charset="utf-8")

    async def overview(self, request: web.Request) -> web.Response:
        async with self.turns:
            return self.render("overview.html", **await self.overview_context())

    async def feed(self, request: web.Request) -> web.Response:
        async with self.turns:
            return self.render("feed.html", **await self.feed_context(
                request.match_info["name"]))

    async def rule(self, request: web.Request) -> web.Response:
        async with self.turns:
            return self.render("rule.html", **await self.rule_context(
                request.match_info["name"]))

    async def alert(self, request: web.Request) -> web.Response:
        try:
            alert_id = int(request.match_info["id"])
        except ValueError:
            raise web.HTTPNotFound(text="no such alert") from None
        async with self.turns:
            return self.render("alert.html", **await self.alert_context(alert_id))

    async def search(self, request: web.Request) -> web.Response:
        text = request.query.get("q", "").strip()[:200]
        async with self.turns:
            found = await self.store.view(views.search_items, text, SEARCH) if text else []
            return self.render("search.html", q=text, items=found)

    # Each page's data, apart from its HTML (the golden tests read the charts here).

    async def overview_context(self) -> dict[str, Any]:
        snap, now = self.snapshot(), self.clock()
        rows = feed_rows(snap.settings, await self.store.feeds())
        days = charts.window(now, WINDOW_DAYS)
        counts = await self.store.view(views.alerts_per_day, days[0] * views.DAY)
        return {"feeds": rows, "health": Counter(r.health for r in rows),
                "per_day": charts.stacked("Alerts per day, by rule", counts, days),
                "outbox": await self.store.view(views.outbox),
                "alerts": [alert_row(a) for a in
                           await self.store.view(views.latest_alerts, LATEST)],
                "stories": await self.store.view(views.biggest_stories,
                                                 now - STORIES_SINCE, STORIES)}

    async def feed_context(self, name: str) -> dict[str, Any]:
        snap, now = self.snapshot(), self.clock()
        state = await self.store.feed(name)
        rows = feed_rows(snap.settings, [state] if state else [], only=name)
        if not rows:
            raise web.HTTPNotFound(text="no such feed")
        days = charts.window(now, WINDOW_DAYS)
        polls = await self.store.view(views.polls_per_day, name, days[0] * views.DAY)
        return {"feed": rows[0], "charts": charts.poll_charts(polls, days),
                "polls": await self.store.view(views.latest_polls, name, POLLS),
                "items": await self.store.view(views.feed_items, name, ITEMS)}

    async def rule_context(self, name: str) -> dict[str, Any]:
        snap, now = self.snapshot(), self.clock()
        # Not configured: a rule since removed, or the daemon's own (feed
        # health); shown while it has alerts.
        rule = next((r for r in snap.settings.rules if r.name == name), None)
        alerts = await self.store.view(views.latest_alerts, LATEST, name)
        if rule is None and not alerts:
            raise web.HTTPNotFound(text="no such rule")
        days = charts.window(now, WINDOW_DAYS)
        counts = await self.store.view(views.alerts_per_day, days[0] * views.DAY, name)
        channels = (rule.channels or snap.settings.monitor.default_channels) if rule else ()
        return {"name": name, "rule": rule,
                "per_day": charts.stacked("Hits per day", counts, days),
                "channels": [(c, masked_urls(snap.settings, c)) for c in channels],
                "alerts": [alert_row(a) for a in alerts]}

    async def alert_context(self, alert_id: int) -> dict[str, Any]:
        snap = self.snapshot()
        found, attempts = await self.store.view(views.alert_with_siblings, alert_id)
        if not found:
            raise web.HTTPNotFound(text="no such alert")
        tz = ZoneInfo(snap.settings.monitor.timezone)
        sent = [(s, message(snap, s, tz), masked_urls(snap.settings, s.alert.channel))
                for s in found]
        return {"alert": alert_row(found[0]), "sent": sent, "attempts": attempts,
                "channel_of": {s.alert.id: s.alert.channel for s in found}}


def health_of(state: FeedState | None, enabled: bool, max_failures: int) -> str:
    """ok / backoff (failing, retried sooner) / failing (max_failures reached) /
    disabled (in the config, or by a 410 Gone)."""
    if not enabled or (state is not None and state.disabled):
        return "disabled"
    if state is None or not state.failures:
        return "ok"
    return "failing" if state.failures >= max_failures else "backoff"


def feed_rows(settings: Settings, states: list[FeedState],
              only: str | None = None) -> list[FeedRow]:
    """The configured feeds (or `only` one) with their state, worst first."""
    by_name = {s.name: s for s in states}
    limit = settings.monitor.max_failures
    rows = [FeedRow(f.name, by_name[f.name].title if f.name in by_name else "",
                    masked_feed_url(f.url), health_of(by_name.get(f.name), f.enabled, limit),
                    by_name.get(f.name))
            for f in settings.feeds if only is None or f.name == only]
    if only is not None and not rows and only in by_name:  # gone from the config
        state = by_name[only]
        rows = [FeedRow(only, state.title, masked_feed_url(state.url), "disabled", state)]
    return sorted(rows, key=lambda r: (HEALTH_ORDER.index(r.health), r.name))


def masked_feed_url(url: str) -> str:
    """Scheme, host and path: a private feed's key is in its query or userinfo."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        query = "?…" if parts.query else ""
        return f"{parts.scheme}://{parts.hostname or ''}{parts.path}{query}"
    return url.split("?")[0]


def masked_urls(settings: Settings, channel: str) -> list[str]:
    """Only each URL's scheme: the rest of a channel URL is its secret."""
    config = settings.channels.get(channel)
    urls = config.urls if config else ()
    shown = [f"{urlsplit(u).scheme or '?'}://…" for u in urls]
    return shown or (["(channels file)"] if settings.monitor.channels_file else [])


@dataclass(frozen=True, slots=True)
class AlertRow:
    stored: StoredAlert
    terms: list[str]
    why: list[str]  # each hit: what met which term, in which field
    link: str | None


def alert_row(stored: StoredAlert) -> AlertRow:
    hits = stored.alert.match.hits
    why = list(dict.fromkeys(f"{describe_hit(h)} in {h.field}" for h in hits))
    return AlertRow(stored, matched_terms(stored.alert), why, safe_link(stored.alert.item.link))


def message(snap: Snapshot, stored: StoredAlert, tz: ZoneInfo) -> str:
    """The alert's message as its channel renders it (format and template)."""
    channel = stored.alert.channel
    fmt = snap.formats.get(channel, Format.TEXT)
    try:
        return render_alert(stored.alert, fmt, snap.templates.get(channel), tz=tz).body
    except Exception as exc:  # a user template that fails: say so, keep the page
        log.warning("web page: template failed channel=%s error=%s", channel,
                    type(exc).__name__)
        return f"(the channel's template failed: {type(exc).__name__})"


_URL = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*)://[^\s,;]+")


def redact(error: str | None) -> str:
    """An error without the URLs in it: apprise puts the whole channel URL
    (its secret) in its messages, and a feed's URL may carry a key."""
    return _URL.sub(r"\1://…", error or "")


def when(value: float | None, tz: ZoneInfo) -> str:
    if value is None:
        return "—"
    return datetime.fromtimestamp(value, UTC).astimezone(tz).strftime("%Y-%m-%d %H:%M")


def age(value: float | None, now: float) -> str:
    """`3m`, `5h`, `2d` ago; "—" for None."""
    if value is None:
        return "—"
    seconds = max(0.0, now - value)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"
