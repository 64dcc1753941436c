"""The frozen settings every other module receives; built once by the loader."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path

from monitor.models import Priority, Rule


@dataclass(frozen=True, slots=True)
class MonitorSettings:
    database: str
    interval: timedelta
    jitter: float
    concurrency: int
    per_host_concurrency: int
    user_agent: str
    timeout: timedelta
    connect_timeout: timedelta
    max_body: int
    max_backoff: timedelta
    max_failures: int
    honor_cache_headers: bool
    default_channels: tuple[str, ...]
    admin_channels: tuple[str, ...]
    timezone: str
    catch_up: timedelta
    retry_for: timedelta
    retention: timedelta
    http: str
    http_token: str
    channels_file: str


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    name: str
    urls: tuple[str, ...]
    format: str | None
    min_priority: Priority
    rate_limit: tuple[int, timedelta]
    quiet_hours: tuple[time, time] | None
    digest: str | None
    timezone: str
    template: Path | None


@dataclass(frozen=True, slots=True)
class FeedSettings:
    url: str
    name: str
    interval: timedelta
    tags: tuple[str, ...]
    alert_existing: bool
    enabled: bool
    expect_every: timedelta | None
    source: str = ""


@dataclass(frozen=True, slots=True)
class Settings:
    path: Path
    monitor: MonitorSettings
    channels: Mapping[str, ChannelSettings]
    feeds: tuple[FeedSettings, ...]
    rules: tuple[Rule, ...]
    files: tuple[Path, ...] = field(default=())
    includes: tuple[str, ...] = field(default=())  # absolute glob patterns, for reload

    def feed(self, name: str) -> FeedSettings | None:
        return next((f for f in self.feeds if f.name == name), None)
