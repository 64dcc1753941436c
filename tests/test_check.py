"""`newsmonitor check`: every problem printed with where it is, exit 1."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from monitor.cli import main
from tests import configs

GOOD = configs.text(
    monitor={"database": "state.sqlite3", "default_channels": ["console"]},
    channels={"console": "console://"},
    feeds=[{"name": "a feed", "url": "https://example.org/feed.xml"}],
    rules=[{"name": "ampere", "query": "Ampere AND Renault"}])

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
    ("feed's min_interval above its max_interval", 'url = "https://example.org/feed.xml"',
     'url = "https://example.org/feed.xml"\nmin_interval = "10m"\nmax_interval = "5m"',
     'feeds[0] (name="a feed").min_interval: min_interval (10m) is longer than '
     "max_interval (5m)"),
    ("feed's max_interval below [monitor]'s min_interval", 'url = "https://example.org/feed.xml"',
     'url = "https://example.org/feed.xml"\nmax_interval = "1m"',
     'feeds[0] (name="a feed").max_interval: min_interval (2m) is longer than '
     "max_interval (1m)"),
    ("[monitor] min_interval above max_interval", 'database = "state.sqlite3"',
     'database = "state.sqlite3"\nmin_interval = "2h"',
     "monitor.min_interval: min_interval (2h) is longer than max_interval (1h)"),
    ("zero max_interval", 'url = "https://example.org/feed.xml"',
     'url = "https://example.org/feed.xml"\nmax_interval = "0s"',
     'feeds[0] (name="a feed").max_interval: must be longer than 0s'),
    ("negative request budget", 'database = "state.sqlite3"',
     'database = "state.sqlite3"\nmax_requests_per_hour = -5',
     "monitor.max_requests_per_hour: Input should be greater than or equal to 0"),
    ("adaptive is no boolean", 'url = "https://example.org/feed.xml"',
     'url = "https://example.org/feed.xml"\nadaptive = "sometimes"',
     'feeds[0] (name="a feed").adaptive'),
    # One feed at 15m needs 4 polls an hour: a budget of 3 would starve it.
    ("budget below what the feeds need", 'database = "state.sqlite3"',
     'database = "state.sqlite3"\nmax_requests_per_hour = 3',
     "monitor.max_requests_per_hour: 3 is less than the 4 polls an hour the enabled feeds "
     "need at least"),
    ("web page on the network without a token", 'database = "state.sqlite3"',
     'database = "state.sqlite3"\nhttp = "0.0.0.0:9464"',
     "monitor.http: '0.0.0.0:9464' is not a loopback address; set monitor.http_token"),
    ("short retention", 'database = "state.sqlite3"',
     'database = "state.sqlite3"\nretention = "1h"', "monitor.retention: must be at least 1d"),
    ("zero story window", 'database = "state.sqlite3"',
     'database = "state.sqlite3"\nstory_window = "0s"', "monitor.story_window"),
    ("story threshold above 1", 'database = "state.sqlite3"',
     'database = "state.sqlite3"\nstory_threshold = 1.5', "monitor.story_threshold"),
    ("negative story updates", 'url = "console://"', 'url = "console://"\nstory_updates = -1',
     "channels.console.story_updates"),
    ("unsupported database", 'database = "state.sqlite3"', 'database = "sqlite:///x.db"',
     "monitor.database: the sqlite scheme is not supported"),
    ("zero rate limit", 'url = "console://"', 'url = "console://"\nrate_limit = "0/10m"',
     "channels.console.rate_limit"),
    ("unbalanced parenthesis", '"Ampere AND Renault"', '"(Ampere AND Renault"',
     'rules[0] (name="ampere").query'),
    # Each of these was a traceback (ValueError: embedded null byte).
    ("NUL in the database path", 'database = "state.sqlite3"',
     'database = "state\\u0000.sqlite3"', "monitor.database: a path cannot hold a NUL character"),
    ("NUL in a template path", 'url = "console://"', 'url = "console://"\ntemplate = "a\\u0000"',
     "channels.console.template: a path cannot hold a NUL character"),
    ("NUL in a feed file path", "https://example.org/feed.xml", "file:feed\\u0000.xml",
     'feeds[0] (name="a feed").url: a path cannot hold a NUL character'),
    ("NUL in an include", "[monitor]", 'include = ["a\\u0000"]\n[monitor]',
     "include[0]: a path cannot hold a NUL character"),
    # Issue 14: this one passed check, then crashed the daemon (SIGSEGV) at reload.
    ("million-letter wildcard", '"Ampere AND Renault"', '"' + "a" * 1_000_000 + '*"',
     'rules[0] (name="ampere").query: longer than 10000 characters at position 10000'),
    ("overlong word in any", 'query = "Ampere AND Renault"',
     'query = "Ampere AND Renault"\nany = ["' + "b" * 101 + '*"]',
     'rules[0] (name="ampere").any[0]: a word has at most 100 letters at position 0'),
    ("NEAR with 5,000 digits", '"Ampere AND Renault"', '"Ampere NEAR/' + "9" * 5000 + ' Renault"',
     'rules[0] (name="ampere").query: NEAR distance must be between 1 and 1000 words at '
     "position 7"),
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
    configs.write(bad, rules=[{"name": "x", "any": ["ok"], "feeds": ["missing"],
                               "tags": ["zz"]}])
    path = write(tmp_path, 'include = ["rules.d/*.toml"]\n' + GOOD)
    assert main(["check", "--config", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}: rules[0] (name=\"x\").feeds: unknown feed 'missing'" in err
    # A tag no feed carries: the rule would never fire.
    assert f"{bad}: rules[0] (name=\"x\").tags: no feed has tag 'zz'" in err


def test_an_include_pattern_in_a_folder_that_does_not_exist_is_an_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`rule.d/*.toml` for rules.d: the daemon would run without its rules.
    An empty rules.d is fine (no rule files yet)."""
    (tmp_path / "rules.d").mkdir()
    path = write(tmp_path, 'include = ["rules.d/*.toml", "rule.d/*.toml"]\n' + GOOD)
    assert main(["check", "--config", str(path)]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: {path}: include[1]: no folder 'rule.d' for 'rule.d/*.toml'"]


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


def include(tmp: Path, target: Path) -> Path:
    return write(tmp, f'include = ["{target}"]\n' + GOOD)


def fifo(tmp: Path) -> Path:
    os.mkfifo(tmp / "rules.toml")
    return tmp / "rules.toml"


def symlink_loop(tmp: Path) -> Path:
    (tmp / "loop.toml").symlink_to(tmp / "loop.toml")
    return tmp / "loop.toml"


def written(name: str, data: bytes) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        (tmp / name).write_bytes(data)
        return tmp / name
    return make


# (what, the file `include` names, its one error line after the file name)
UNUSABLE_INCLUDES: list[tuple[str, Callable[[Path], Path], str]] = [
    ("endless /dev/zero", lambda tmp: Path("/dev/zero"), ": not a regular file"),
    ("endless /dev/urandom", lambda tmp: Path("/dev/urandom"), ": not a regular file"),
    ("a FIFO", fifo, ": not a regular file"),
    ("a symlink loop", symlink_loop, ": cannot read: Too many levels of symbolic links"),
    ("Latin-1", written("latin1.toml", '[[rules]]\nname = "café"\n'.encode("latin-1")),
     ":2:12: not UTF-8 (byte 0xe9); save the file as UTF-8"),
    ("binary", written("binary.toml", b"\x89PNG\r\n\x1a\n\x00\x00"),
     ":1:1: not UTF-8 (byte 0x89); save the file as UTF-8"),
    ("over the size cap", written("huge.toml", b"# " + b"x" * 5 * 1024 * 1024 + b"\n"),
     ": larger than 4 MiB"),
]


@pytest.mark.parametrize(("what", "target", "expected"), UNUSABLE_INCLUDES,
                         ids=[case[0] for case in UNUSABLE_INCLUDES])
def test_an_unusable_file_is_one_located_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], what: str,
        target: Callable[[Path], Path], expected: str) -> None:
    """Not an exception: a FIFO blocked the reload, /dev/zero ate memory,
    and the others gave a traceback."""
    bad = target(tmp_path)
    assert main(["check", "--config", str(include(tmp_path, bad))]) == 1
    assert capsys.readouterr().err.splitlines() == [f"error: {bad}{expected}"]


@pytest.mark.parametrize(("text", "expected"), [
    ('interval = "99999999999999999999d"',
     "monitor.interval: '99999999999999999999d' is longer than the longest duration, 3650d"),
    ("interval = 99999999999999999999",
     "monitor.interval: 99999999999999999999 is longer than the longest duration, 3650d"),
    ("interval = inf", "monitor.interval: inf is longer than the longest duration, 3650d"),
    ('interval = "' + "[" * 3000 + "]" * 3000 + '"',
     "monitor.interval: '" + "[" * 3000),  # a string, however long: an ordinary error
    ("x = " + "[" * 3000 + "]" * 3000,
     ": TOML syntax error: arrays or tables nested too deep"),
], ids=["huge duration", "huge number of seconds", "infinite seconds", "brackets in a string",
        "arrays nested 3000 deep"])
def test_extreme_values_are_one_located_error(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              text: str, expected: str) -> None:
    path = write(tmp_path, GOOD.replace("[monitor]\n", f"[monitor]\n{text}\n"))
    assert main(["check", "--config", str(path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {path}") and expected in err[0], err


RULE = '\n[[rules]]\nname = "{name}"\n{body}\n'
FEED = '\n[[feeds]]\nname = "{name}"\nurl = "https://example.org/{name}.xml"\n{body}\n'

# (what, text added to GOOD, every error line expected, after "error: FILE: ")
INDEPENDENT_ERRORS = [
    ("a query error with unknown keys and channels",
     RULE.format(name="typo", body='any = ["x"]\nquerry = "x"')
     + RULE.format(name="elsewhere", body='any = ["x"]\nchannels = ["nope"]')
     + RULE.format(name="plants", body='query = "(ficus"'),
     ['rules[1] (name="typo").querry: unknown key',
      "rules[2] (name=\"elsewhere\").channels: unknown channel 'nope'",
      "rules[3] (name=\"plants\").query: unbalanced parenthesis: '(' is never closed "
      "at position 0"]),
    ("bad durations with a query error and a bad channel URL",
     FEED.format(name="slow", body='interval = "5 minutes please"')
     + RULE.format(name="slow", body='any = ["x"]\nfeeds = ["slow"]')
     + RULE.format(name="plants", body='query = "(ficus"')
     + '\n[channels.pager]\nurl = "nosuchscheme://token"\n'
     + '\n[channels.chat]\nurl = "console://"\nrate_limit = "5 per minute"\n'
     + RULE.format(name="chatty", body='any = ["x"]\nchannels = ["chat"]'),
     ["feeds[1] (name=\"slow\").interval: '5 minutes please' is not a duration; write e.g. "
      "'30s', '15m', '1h', '1d'",
      "channels.chat.rate_limit: '5 per minute' is not a rate; write e.g. '20/10m'",
      "rules[2] (name=\"plants\").query: unbalanced parenthesis: '(' is never closed "
      "at position 0",
      "channels.pager.urls[0]: nosuchscheme://…: unknown URL scheme"]),
    ("an unset variable and a duplicate rule name with a query error",
     '\n[channels.chat]\nurl = "json://${NO_SUCH_VAR_X}/"\n'
     + RULE.format(name="ampere", body='query = "(ficus"')
     + RULE.format(name="chatty", body='query = "(x"\nchannels = ["chat"]'),
     ["channels.chat.url: environment variable NO_SUCH_VAR_X is not set",
      'rules[1] (name="ampere").name: duplicate rule name',
      "rules[2] (name=\"chatty\").query: unbalanced parenthesis: '(' is never closed "
      "at position 0"]),
]


@pytest.mark.parametrize(("what", "added", "expected"), INDEPENDENT_ERRORS,
                         ids=[case[0] for case in INDEPENDENT_ERRORS])
def test_every_independent_error_comes_in_one_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], what: str, added: str,
        expected: list[str]) -> None:
    """Each once, with the index the entry has in the file (entries left out
    for an error do not shift the later ones), and nothing that follows from
    another error (a rule naming a channel with a bad key is not told the
    channel does not exist)."""
    path = write(tmp_path, GOOD + added)
    assert main(["check", "--config", str(path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert sorted(err) == sorted(f"error: {path}: {line}" for line in expected)


def test_a_duplicate_feed_is_named_in_its_own_file(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """It was named as `feeds[1]` of the main file, which has one feed."""
    (tmp_path / "rules.d").mkdir()
    more = tmp_path / "rules.d" / "more.toml"
    configs.write(more, feeds=[{"name": "other", "url": "https://example.org/o.xml"},
                               {"name": "a feed", "url": "https://example.org/again.xml"}])
    path = write(tmp_path, 'include = ["rules.d/*.toml"]\n' + GOOD)
    assert main(["check", "--config", str(path)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f'error: {more}: feeds[1] (name="a feed").name: duplicate feed name']


def test_a_channel_defined_only_in_the_channels_file_works(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`console = console://` in the channels file, no [channels.console]
    table: a channel like any other (it was "unknown channel 'console'")."""
    secrets = tmp_path / "channels.txt"
    secrets.write_text("console = console://\n", encoding="utf-8")
    secrets.chmod(0o600)
    text = GOOD.replace('[channels.console]\nurl = "console://"\n', "").replace(
        'default_channels = ["console"]',
        'default_channels = ["console"]\nchannels_file = "channels.txt"')
    path = write(tmp_path, text)
    assert main(["check", "--config", str(path)]) == 0, capsys.readouterr().err
    assert "ok: 1 feeds, 1 rules, 1 channels" in capsys.readouterr().out
    assert main(["send-test", "console", "--config", str(path)]) == 0
    assert "This is a test message from newsmonitor for channel “console”" in (
        capsys.readouterr().out)
