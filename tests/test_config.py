"""Config values and file lookup."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from monitor.config import find_config, parse_duration, parse_listen, parse_rate


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
    from monitor.config import load

    config = tmp_path / "monitor.toml"
    config.write_text('[monitor]\ndatabase = "db"\ndefault_channels = ["c"]\n'
                      '[channels.c]\nurl = "console://"\n'
                      '[[feeds]]\nurl = "https://me:s3cret@example.org/private.xml"\n',
                      encoding="utf-8")
    (feed,) = load(config, {}).feeds
    assert feed.name == "https://example.org/private.xml"
    assert feed.url == "https://me:s3cret@example.org/private.xml"
