"""Config values and file lookup."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pydantic
import pytest

from monitor.config import (
    FetchLimits,
    PollPolicy,
    find_config,
    load,
    parse_duration,
    parse_listen,
    parse_rate,
)
from monitor.config.values import format_duration
from tests import configs


@pytest.mark.parametrize(("text", "seconds"), [
    ("30s", 30), ("15m", 900), ("1h", 3600), ("1d", 86400), ("1h30m", 5400), (45, 45),
    ("2w", 1_209_600), (" 5m ", 300),
])
def test_durations(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["5 minutes", "m5", "", "1x", "1h and 2m"])
def test_bad_durations_say_the_expected_form(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_rates_and_addresses() -> None:
    assert parse_rate("20/10m") == (20, timedelta(minutes=10))
    assert parse_listen("127.0.0.1:9464") == ("127.0.0.1", 9464)
    assert parse_listen("[::1]:0") == ("::1", 0)


def test_config_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    xdg = tmp_path / "xdg"
    env = {"XDG_CONFIG_HOME": str(xdg)}
    assert find_config("given.toml", {"NEWSMONITOR_CONFIG": "env.toml"}) == Path("given.toml")
    assert find_config(None, {"NEWSMONITOR_CONFIG": "env.toml", **env}) == Path("env.toml")
    (xdg / "newsmonitor").mkdir(parents=True)
    (xdg / "newsmonitor" / "monitor.toml").write_text("")
    assert find_config(None, env) == xdg / "newsmonitor" / "monitor.toml"
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "monitor.toml").write_text("")
    assert find_config(None, env) == Path("config/monitor.toml")


def test_a_feed_named_by_its_url_shows_no_credentials(tmp_path: Path) -> None:
    config = configs.write(
        tmp_path, monitor={"database": "db", "default_channels": ["c"]},
        channels={"c": "console://"},
        feeds=[{"url": "https://me:s3cret@example.org/private.xml"}])
    (feed,) = load(config, {}).feeds
    assert feed.name == "https://example.org/private.xml"
    assert feed.url == "https://me:s3cret@example.org/private.xml"


def test_durations_round_trip_through_their_written_form() -> None:
    for text in ("30s", "15m", "1h30m", "1d", "90d", "1d2h3m4s", "250ms", "0s"):
        assert format_duration(parse_duration(text)) == text


POLICIES: dict[str, Any] = {
    "monitor": {"database": "db", "default_channels": ["c"], "interval": "10m", "jitter": 0.2,
                "honor_cache_headers": False, "max_backoff": "6h", "max_failures": 3,
                "concurrency": 7, "per_host_concurrency": 2, "connect_timeout": "5s",
                "timeout": "2m", "max_body": "1MiB"},
    "channels": {"c": "console://"},
    "feeds": [{"name": "default pace", "url": "https://example.org/a.xml"},
              {"name": "own pace", "url": "https://example.org/b.xml", "interval": "1h"}]}


def test_the_loader_builds_each_feeds_poll_policy_and_the_fetch_limits(tmp_path: Path) -> None:
    """Defaults filled in once, at load: nothing downstream combines a feed
    with [monitor] again."""
    settings = load(configs.write(tmp_path, **POLICIES), {})
    default, own = settings.feeds
    assert default.interval == timedelta(minutes=10) and own.interval == timedelta(hours=1)
    assert default.policy == PollPolicy(interval=600, jitter=0.2, use_cache_hints=False,
                                        backoff_cap=6 * 3600, max_failures=3)
    assert own.policy == replace(default.policy, interval=3600)
    assert settings.monitor.fetch_limits == FetchLimits(
        concurrency=7, per_host=2, connect_timeout=5, read_timeout=30, total_timeout=120,
        max_body=1024 * 1024)


def test_each_feed_gets_its_pace_or_the_monitor_one(tmp_path: Path) -> None:
    """adaptive, min_interval and max_interval: the feed's own, else
    [monitor]'s, resolved once into its settings and its PollPolicy."""
    path = configs.write(tmp_path, monitor={
        "adaptive": True, "min_interval": "1m", "max_interval": "2h",
        "max_requests_per_hour": 500, "default_channels": ["c"]},
        channels={"c": "console://"},
        feeds=[{"name": "monitor's", "url": "https://example.org/a.xml"},
               {"name": "own", "url": "https://example.org/b.xml", "adaptive": False,
                "min_interval": "30s", "max_interval": "6h"}])
    settings = load(path, {})
    default, own = settings.feeds
    assert settings.monitor.max_requests_per_hour == 500
    assert (default.adaptive, default.min_interval, default.max_interval) == (
        True, timedelta(minutes=1), timedelta(hours=2))
    assert (default.policy.adaptive, default.policy.min_interval,
            default.policy.max_interval) == (True, 60, 7200)
    assert (own.adaptive, own.min_interval, own.max_interval) == (
        False, timedelta(seconds=30), timedelta(hours=6))
    assert (own.policy.adaptive, own.policy.min_interval, own.policy.max_interval) == (
        False, 30, 6 * 3600)


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load(configs.write(tmp_path, **POLICIES), {})
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        settings.monitor.interval = timedelta(0)  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        settings.feeds[0].name = "x"  # type: ignore[misc]
    assert settings.channels["c"].urls == ("console://",)
    assert settings.channels["c"].timezone == "UTC"
