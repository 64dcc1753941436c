"""Matches → outbox alerts: each match fanned out to its rule's channels. Pure.

An alert's item keeps of its content only the window its excerpt shows
(render.content_window): the outbox stores each alert, and a 100 kB article
per alert and channel would be its bulk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from monitor.config import ChannelSettings, FeedSettings, Settings
from monitor.matcher import Matcher
from monitor.models import Alert, Item, Match, Priority
from monitor.render import content_window


def make_alerts(settings: Settings, matcher: Matcher, feed: FeedSettings,
                items: Sequence[Item]) -> list[Alert]:
    """Match each item and fan each match out to its rule's channels."""
    alerts: list[Alert] = []
    for item in items:
        matches = matcher.match(item, feed.tags)
        if matches and item.content:
            hits = [hit for match in matches for hit in match.hits]
            item = replace(item, content=content_window(item.content, hits))
        for match in matches:
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
