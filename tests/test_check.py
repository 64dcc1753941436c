"""`newsmonitor check`: every problem printed with where it is, exit 1."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.cli import main

GOOD = """
[monitor]
database = "state.sqlite3"
default_channels = ["console"]

[channels.console]
url = "console://"

[[feeds]]
name = "a feed"
url = "https://example.org/feed.xml"

[[rules]]
name = "ampere"
query = "Ampere AND Renault"
"""

CASES = [
    # (what is wrong, replace this, with this, expected message fragment)
    ("unknown key", 'name = "a feed"', 'name = "a feed"\nintervall = "5m"',
     "feeds[0] (name=\"a feed\").intervall: unknown key"),
    ("unknown key in rule", 'query = "Ampere AND Renault"',
     'query = "Ampere AND Renault"\nquerry = "x"', 'rules[0] (name="ampere").querry: unknown key'),
    ("bad feed URL", "https://example.org/feed.xml", "htp:/example.org",
     'feeds[0] (name="a feed").url'),
    ("bad channel URL", "console://", "nosuchscheme://token",
     "channels.console.urls[0]"),
    ("missing channel", 'query = "Ampere AND Renault"',
     'query = "Ampere AND Renault"\nchannels = ["slack"]',
     'rules[0] (name="ampere").channels: unknown channel \'slack\''),
    ("TOML syntax error", '[[rules]]', '[[rules]\n', "TOML syntax error"),
    ("bad duration", 'url = "https://example.org/feed.xml"',
     'url = "https://example.org/feed.xml"\ninterval = "5 minutes please"',
     'feeds[0] (name="a feed").interval'),
    ("fuzzy out of range", 'query = "Ampere AND Renault"',
     'query = "Ampere AND Renault"\nfuzzy = 150', 'rules[0] (name="ampere").fuzzy'),
    ("bad http address", 'database = "state.sqlite3"',
     'database = "state.sqlite3"\nhttp = "localhost:http"',
     "monitor.http: 'localhost:http' is not host:port"),
    ("zero interval", 'url = "https://example.org/feed.xml"',
     'url = "https://example.org/feed.xml"\ninterval = "0s"',
     'feeds[0] (name="a feed").interval: must be longer than 0s'),
    ("web page on the network without a token", 'database = "state.sqlite3"',
     'database = "state.sqlite3"\nhttp = "0.0.0.0:9464"',
     "monitor.http: '0.0.0.0:9464' is not a loopback address; set monitor.http_token"),
    ("short retention", 'database = "state.sqlite3"',
     'database = "state.sqlite3"\nretention = "1h"', "monitor.retention: must be at least 1d"),
    ("unsupported database", 'database = "state.sqlite3"', 'database = "sqlite:///x.db"',
     "monitor.database: the sqlite scheme is not supported"),
    ("zero rate limit", 'url = "console://"', 'url = "console://"\nrate_limit = "0/10m"',
     "channels.console.rate_limit"),
    ("unbalanced parenthesis", '"Ampere AND Renault"', '"(Ampere AND Renault"',
     'rules[0] (name="ampere").query'),
]


def write(tmp: Path, text: str) -> Path:
    path = tmp / "monitor.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_config_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, GOOD)
    assert main(["check", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"config: {path}" in out and "ok: 1 feeds, 1 rules, 1 channels" in out


@pytest.mark.parametrize(("what", "old", "new", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_error_is_named_with_its_place(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            what: str, old: str, new: str,
                                            expected: str) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    assert main(["check", "--config", str(path)]) == 1
    err = capsys.readouterr().err
    assert expected in err, err
    assert str(path) in err


def test_all_errors_are_listed_at_once(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    text = GOOD.replace('name = "a feed"', 'name = "a feed"\nbogus = 1').replace(
        'query = "Ampere AND Renault"', 'query = "Ampere AND Renault"\nchannels = ["nope"]')
    assert main(["check", "--config", str(write(tmp_path, text))]) == 1
    err = capsys.readouterr().err
    assert "bogus: unknown key" in err and "unknown channel 'nope'" in err


def test_a_monitor_error_keeps_the_other_monitor_keys(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A typo in [monitor] is one error: default_channels still counts, so no
    rule is reported as having no channel."""
    text = GOOD.replace('database = "state.sqlite3"',
                        'database = "state.sqlite3"\npoll_intervall = "5m"')
    assert main(["check", "--config", str(write(tmp_path, text))]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {tmp_path / 'monitor.toml'}: monitor.poll_intervall: unknown key"]


def test_included_rule_file_errors_name_that_file(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "rules.d").mkdir()
    bad = tmp_path / "rules.d" / "more.toml"
    bad.write_text('[[rules]]\nname = "x"\nany = ["ok"]\nfeeds = ["missing"]\n')
    path = write(tmp_path, 'include = ["rules.d/*.toml"]\n' + GOOD)
    assert main(["check", "--config", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}: rules[0] (name=\"x\").feeds: unknown feed 'missing'" in err


def test_secret_in_a_bad_channel_url_is_not_printed(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    text = GOOD.replace("console://", "tgram://${TG_TOKEN}/")
    path = write(tmp_path, text)
    monkey = pytest.MonkeyPatch()
    monkey.setenv("TG_TOKEN", "123456789:SECRETsecretSECRETsecret")
    try:
        main(["check", "--config", str(path)])
    finally:
        monkey.undo()
    captured = capsys.readouterr()
    assert "SECRETsecret" not in captured.out + captured.err


def test_unset_env_var_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, GOOD.replace("console://", "json://${NO_SUCH_VAR_X}/"))
    assert main(["check", "--config", str(path)]) == 1
    assert "environment variable NO_SUCH_VAR_X is not set" in capsys.readouterr().err


def test_template_errors_are_check_errors(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "alert.txt").write_text("{{ title }}\n{% if score %}\n", encoding="utf-8")
    text = GOOD.replace('url = "console://"', 'url = "console://"\ntemplate = "alert.txt"')
    assert main(["check", "--config", str(write(tmp_path, text))]) == 1
    err = capsys.readouterr().err
    assert "channels.console.template" in err and "alert.txt" in err


def test_channels_file_readable_by_others_is_refused(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    secrets = tmp_path / "channels.txt"
    secrets.write_text("console = console://\n", encoding="utf-8")
    secrets.chmod(0o644)
    text = GOOD.replace('default_channels = ["console"]',
                        'default_channels = ["console"]\nchannels_file = "channels.txt"')
    assert main(["check", "--config", str(write(tmp_path, text))]) == 1
    assert "readable by group or others" in capsys.readouterr().err
    secrets.chmod(0o600)
    assert main(["check", "--config", str(tmp_path / "monitor.toml")]) == 0
