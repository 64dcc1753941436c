"""The pacing keys checked across tables: a feed's bounds once [monitor]
fills in what it leaves out, and a request budget the feeds can keep.

Each problem is located (`file: feeds[2] (name="x").min_interval: ...`),
as every other loader problem is; the loader calls these on the resolved
settings.
"""

from __future__ import annotations

from pathlib import Path

from monitor.config.schema import FeedModel
from monitor.config.settings import FeedSettings, MonitorSettings
from monitor.config.values import format_duration


def check_bounds(where: str, model: FeedModel, feed: FeedSettings,
                 problems: list[str]) -> None:
    """min_interval <= max_interval once [monitor]'s fill in what the feed
    leaves out; told at the feed's own key (a [monitor] pair that is wrong
    is told once, at [monitor])."""
    if feed.min_interval <= feed.max_interval or not (model.min_interval or model.max_interval):
        return
    key = "min_interval" if model.min_interval else "max_interval"
    problems.append(f"{where}.{key}: min_interval ({format_duration(feed.min_interval)}) is "
                    f"longer than max_interval ({format_duration(feed.max_interval)})")


def check_pace(path: Path, monitor: MonitorSettings, feeds: list[FeedSettings],
               problems: list[str]) -> None:
    """[monitor]'s bounds in order, and a budget the feeds can keep: each
    adaptive feed polled at least once per max_interval, the others once
    per interval (a budget below that would starve some feed)."""
    if monitor.min_interval > monitor.max_interval:
        problems.append(f"{path}: monitor.min_interval: min_interval "
                        f"({format_duration(monitor.min_interval)}) is longer than "
                        f"max_interval ({format_duration(monitor.max_interval)})")
    budget = monitor.max_requests_per_hour
    if not budget:
        return
    floor = sum(3600.0 / (f.max_interval if f.adaptive else f.interval).total_seconds()
                for f in feeds if f.enabled)
    if floor > budget:
        problems.append(f"{path}: monitor.max_requests_per_hour: {budget} is less than the "
                        f"{floor:.0f} polls an hour the enabled feeds need at least (each "
                        "adaptive feed once per max_interval, the others once per interval)")
