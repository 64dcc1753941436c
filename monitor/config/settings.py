"""The frozen settings every other module receives; built once by the loader.

Each `*Settings` is its schema model (every option declared there, once, with
its default and help) as the loader resolved it: paths made absolute,
`${ENV_VAR}` substituted, defaults taken from [monitor] filled in, and the
runtime policies derived from the options added. A `*Settings` field that
is not in its model is derived, never read from the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from monitor.config.policies import FeedRequest, FetchLimits, PollPolicy, RetryPolicy
from monitor.config.schema import ChannelModel, FeedModel, MonitorModel
from monitor.models import Rule


class MonitorSettings(MonitorModel):
    """[monitor], with `database` and `channels_file` resolved (see the loader)."""

    # Derived by the loader; the defaults serve settings built by hand in tests
    # (and `model_copy(update=...)` does not derive them again).
    fetch_limits: FetchLimits = FetchLimits()
    retry: RetryPolicy = RetryPolicy()


class ChannelSettings(ChannelModel):
    """A [channels.NAME] table: `urls` holds every URL (`url` first) with
    `${ENV_VAR}` substituted; `timezone` defaults to [monitor]'s."""

    name: str
    timezone: str  # filled in: never None here
    template: Path | None = None  # type: ignore[assignment]  # resolved against the file
    # [monitor] catch_up, here because flood control reads it per channel.
    catch_up: timedelta = timedelta(hours=24)


class FeedSettings(FeedModel):
    """A [[feeds]] entry: `url` resolved against its file (file:), `name`,
    `interval`, `adaptive`, `min_interval` and `max_interval` filled in, and
    the `policy` that paces it."""

    name: str
    interval: timedelta
    # Filled in from [monitor] when the feed leaves them out: never None here.
    adaptive: bool = False
    min_interval: timedelta = timedelta(minutes=2)
    max_interval: timedelta = timedelta(hours=1)
    source: str = ""
    policy: PollPolicy = PollPolicy()  # derived by the loader, as fetch_limits
    request: FeedRequest = FeedRequest()  # headers, auth and proxy, substituted
    fulltext: bool = False  # filled in from [monitor]


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
