"""What `status` and `history` show: the store's state as plain dicts.

Pure functions over what the store returns, so the CLI prints them as a
table or as JSON, and the HTTP endpoint can reuse them. URLs are masked.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from monitor.cli.common import cut
from monitor.config import Settings
from monitor.config.values import without_userinfo as mask_url
from monitor.models import FeedState, StoredAlert
from monitor.store import Store


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat(
        timespec="seconds")


def feed_row(state: FeedState, configured: bool, max_failures: int) -> dict[str, Any]:
    """One feed's health for `status`."""
    if state.disabled:
        health = "disabled"
    elif state.failures >= max_failures:
        health = "failing"
    elif state.failures:
        health = "backoff"
    elif state.last_success is None:
        health = "new"
    else:
        health = "ok"
    return {
        "name": state.name, "url": mask_url(state.current_url),
        "configured_url": mask_url(state.url),
        "moved": state.current_url != state.url, "health": health,
        "configured": configured, "last_success": _iso(state.last_success),
        "last_poll": _iso(state.last_poll), "last_status": state.last_status,
        "failures": state.failures, "error_category": state.error_category,
        "error": state.error, "warning": state.warning, "items_seen": state.items_seen,
        "interval_s": round(state.interval), "next_poll": _iso(state.next_poll),
        "why": state.pace, "disabled": state.disabled,
    }


async def collect(settings: Settings, store: Store) -> dict[str, Any]:
    names = {f.name for f in settings.feeds}
    feeds = [feed_row(s, s.name in names, settings.monitor.max_failures)
             for s in await store.feeds()]
    # fulltext (issue 13): each feed's articles read, and those that failed.
    articles = await store.articles.counts()
    for f in feeds:
        f["articles"] = articles.get(f["name"], {"fetched": 0, "failed": 0})
    dead = [history_row(a) for a in await store.history(limit=20, state="dead")]
    return {"config": str(settings.path), "timezone": settings.monitor.timezone,
            "instances": await _instances(settings, store),
            "feeds": [f for f in feeds if f["configured"]],
            "outbox": await _outbox(settings, store),
            "oldest_pending": _iso(await store.oldest_pending()),
            "failing_channels": await _failing(settings, store),
            "dead_alerts": dead, "websub": await _websub(store)}


async def _websub(store: Store) -> list[dict[str, Any]]:
    """The WebSub subscriptions (service/websub.py): hub, topic, state, until
    when the hub pushes, the last error of a request; never the secret."""
    return [{"feed": s.feed, "hub": mask_url(s.hub), "topic": mask_url(s.topic),
             "state": s.state, "requested": _iso(s.requested),
             "lease_until": _iso(s.lease_until), "error": s.error}
            for s in await store.websub.all()]


async def _failing(settings: Settings, store: Store) -> list[dict[str, Any]]:
    """The configured channels whose every send fails now (deliver/health.py):
    since when, the last error, and when admin_channels were last told."""
    return [{"channel": name, "since": _iso(h.failing_since), "error": h.error,
             "notified": _iso(h.alerted)}
            for name, h in sorted((await store.channel_health()).items())
            if name in settings.channels and h.failing_since is not None]


async def _instances(settings: Settings, store: Store) -> list[dict[str, Any]]:
    """The daemons sharing the database: live (heartbeat within
    instance_timeout) or dead (not yet noticed by a live one), and the feeds
    each is polling and the alerts each is sending now."""
    now = datetime.now(UTC).timestamp()
    timeout = settings.monitor.instance_timeout.total_seconds()
    return [{"id": i.id, "host": i.host, "pid": i.pid, "started": _iso(i.started),
             "heartbeat": _iso(i.heartbeat), "heartbeat_age_s": round(now - i.heartbeat, 1),
             "live": now - i.heartbeat <= timeout, "feeds": list(i.feeds),
             "alerts_sending": i.alerts} for i in await store.cluster.instances()]


async def _outbox(settings: Settings, store: Store) -> dict[str, dict[str, int]]:
    """Per channel: alerts (one per rule and item) by state, and `messages`,
    what the channel was sent: one message may carry several alerts (a
    digest, a summary, rules firing on one item), so `sent` alone misleads."""
    outbox: dict[str, dict[str, int]] = {
        channel: {"pending": 0, "sent": 0, "dead": 0} for channel in settings.channels}
    for (channel, state), n in (await store.outbox_counts()).items():
        outbox.setdefault(channel, {"pending": 0, "sent": 0, "dead": 0})[state] = n
    for channel, counts in outbox.items():
        # The sends table keeps one row per message (flood control counts
        # them), pruned with the alerts after `retention`.
        counts["messages"] = len(await store.sends_since(channel, 0.0))
    return dict(sorted(outbox.items()))


def _local(iso: str | None, zone: ZoneInfo) -> str:
    """An ISO time from the report as `2026-11-26 07:35` in the display zone."""
    if not iso:
        return "-"
    return datetime.fromisoformat(iso).astimezone(zone).strftime("%Y-%m-%d %H:%M")


def duration(seconds: float) -> str:
    """900 → `15m`, 5400 → `1h30m`: as durations are written in the config."""
    rest, parts = round(seconds), list[str]()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size or (unit == "s" and not parts):
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(parts)


def render_table(report: dict[str, Any]) -> str:
    zone = ZoneInfo(report["timezone"])
    lines = [f"config: {report['config']}  (times in {report['timezone']})", "",
             f"{'FEED':32} {'HEALTH':9} {'EVERY':>6} {'LAST SUCCESS':16} {'ERRS':>4} "
             f"{'ITEMS':>6} {'NEXT POLL':16} {'WHY':44} LAST ERROR"]
    lines += [_feed_line(f, zone) for f in report["feeds"]]
    lines += _article_lines(report["feeds"])
    lines += _instance_lines(report["instances"])
    lines += _websub_lines(report["websub"], zone)
    lines += ["", "alerts (one per item and rule) by state, and the MESSAGES that carried them:",
              f"{'CHANNEL':20} {'PENDING':>8} {'SENT':>8} {'DEAD':>8} {'MESSAGES':>8}"]
    for channel, c in report["outbox"].items():
        lines.append(f"{channel:20} {c['pending']:8} {c['sent']:8} {c['dead']:8} "
                     f"{c['messages']:8}")
    if report["oldest_pending"]:
        lines.append(f"oldest pending alert: {_local(report['oldest_pending'], zone)}")
    for ch in report["failing_channels"]:
        told = f"told {_local(ch['notified'], zone)}" if ch["notified"] else "not told yet"
        lines.append(f"failing: {ch['channel']} since {_local(ch['since'], zone)}, {told} "
                     f"({ch['error']})")
    for alert in report["dead_alerts"]:
        lines.append(f"dead: {alert['channel']} {alert['rule']} {cut(alert['title'], 50)} "
                     f"({alert['error']})")
    return "\n".join(lines)


def _article_lines(feeds: Sequence[dict[str, Any]]) -> list[str]:
    """The fulltext feeds' articles: read, and failed (matched on the feed's text)."""
    rows = [f for f in feeds if f["articles"]["fetched"] or f["articles"]["failed"]]
    if not rows:
        return []
    return ["", f"{'ARTICLES OF FEED':32} {'READ':>6} {'FAILED':>6}"] + [
        f"{cut(f['name'], 32):32} {f['articles']['fetched']:6} {f['articles']['failed']:6}"
        for f in rows]


def _instance_lines(instances: Sequence[dict[str, Any]]) -> list[str]:
    if not instances:
        return []
    lines = ["", f"{'INSTANCE':32} {'STATE':5} {'HEARTBEAT':>9} {'POLLING':>7} "
             f"{'SENDING':>7} FEEDS"]
    for i in instances:
        lines.append(f"{cut(i['id'], 32):32} {'live' if i['live'] else 'dead':5} "
                     f"{i['heartbeat_age_s']:8}s {len(i['feeds']):7} "
                     f"{i['alerts_sending']:7} {cut(', '.join(i['feeds']), 60)}")
    return lines


def _websub_lines(subs: Sequence[dict[str, Any]], zone: ZoneInfo) -> list[str]:
    if not subs:
        return []
    lines = ["", f"{'PUSHED FEED (WEBSUB)':32} {'STATE':13} {'LEASE UNTIL':16} HUB"]
    for s in subs:
        error = f" ({cut(s['error'], 60)})" if s["error"] else ""
        lines.append(f"{cut(s['feed'], 32):32} {s['state']:13} "
                     f"{_local(s['lease_until'], zone):16} {cut(s['hub'], 50)}{error}")
    return lines


def _feed_line(f: dict[str, Any], zone: ZoneInfo) -> str:
    error = f"{f['error_category']}: {f['error']}" if f["error"] else (f["warning"] or "")
    if f["moved"]:
        error = f"moved to {f['url']} " + error
    if f["disabled"]:
        error = f"disabled: {f['disabled']} " + error
    return (f"{cut(f['name'], 32):32} {f['health']:9} {duration(f['interval_s']):>6} "
            f"{_local(f['last_success'], zone):16} {f['failures']:4} {f['items_seen']:6} "
            f"{_local(f['next_poll'], zone):16} {cut(f['why'] or '-', 44):44} "
            f"{cut(error, 90)}")


def render_history(rows: Sequence[dict[str, Any]], timezone: str) -> str:
    """`history` as a table, times in the display zone, newest first."""
    zone = ZoneInfo(timezone)
    lines = [f"(times in {timezone})",
             f"{'CREATED':16}  {'STATE':7} {'CHANNEL':12} {'RULE':20} {'SCORE':>5}  TITLE"]
    for row in rows:
        error = f"  ({cut(row['error'], 80)})" if row["error"] else ""
        if row["sources"]:
            error += f"  (also reported by {cut(', '.join(row['sources']), 60)})"
        if row["note"]:
            error += f"  [{row['note']}]"
        lines.append(f"{_local(row['created'], zone):16}  {row['state']:7} "
                     f"{cut(row['channel'], 12):12} {cut(row['rule'], 20):20} "
                     f"{row['score']:5}  {cut(row['title'], 60)}{error}")
    return "\n".join(lines)


def history_row(stored: StoredAlert) -> dict[str, Any]:
    alert = stored.alert
    return {"id": alert.id, "created": _iso(alert.created.timestamp() if alert.created
                                             else None),
            "state": stored.state, "channel": alert.channel, "rule": alert.match.rule,
            "score": alert.match.score, "feed": alert.item.feed, "title": alert.item.title,
            "link": alert.item.link, "attempts": stored.attempts,
            "delivered": _iso(stored.delivered), "error": stored.last_error,
            "note": alert.note, "sources": list(alert.sources)}


def history_rows(alerts: Sequence[StoredAlert]) -> list[dict[str, Any]]:
    return [history_row(a) for a in alerts]
