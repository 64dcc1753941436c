"""Every `newsmonitor ...` command the README shows, run as written on a
fresh state: each command of the Commands table and of the text (and of any
```sh block), its placeholders filled in, bare and with every option it
lists, in-process through `monitor.cli.main`, against a fresh config with a
loopback feed and a json:// receiver. Each must exit 0 and say what it is
for; a command added to the README without an expectation here fails.

(`run` is run with `--once` only: without, it is the daemon, tested in
test_daemon.)"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.cli import main
from tests.conftest import REPO
from tests.loopback import LoopbackServer, Route, loopback
from tests.servers import rss

README = (REPO / "README.md").read_text(encoding="utf-8")
AMPERE = ("a1", "Renault va liquider sa filiale Ampère")
TEXT = "Renault va liquider sa filiale Ampère"

# What each command must print (stdout and stderr together), once it exits 0.
EXPECTED = {
    "check": "ok: 1 feeds, 1 rules, 1 channels",
    "run": "run once done",
    "test-rules": "ampere",
    "test-stories": "i1",
    "stories": "Renault va liquider",
    "rules explain": "ampere",
    "rules list": "ampere",
    "rules backtest": "ampere",
    "status": "test feed",
    "history": AMPERE[1],
    "requeue": "dead alerts back in the outbox",
    "poll-now": "feeds due now: test feed",
    "send-test": "/****: ok",
    "add": "added: ",
    "import-opml": "opml feed",
    "export-opml": "<opml",
}
# Commands that change the config or need the others' state run in this order.
ORDER = {"check": 0, "run": 1, "export-opml": 3, "import-opml": 4, "add": 5}


def readme_commands() -> list[str]:
    """The `newsmonitor ...` spans of the README and the lines of its sh blocks."""
    spans = re.findall(r"`(newsmonitor [^`]+)`", README)
    for block in re.findall(r"```sh\n(.*?)```", README, re.S):
        spans += [line.split("#")[0].strip() for line in block.splitlines()
                  if line.strip().startswith("newsmonitor ")]
    return list(dict.fromkeys(spans))


def variants(synopsis: str) -> list[str]:
    """The command bare (no optional part) and with every optional part."""
    synopsis = synopsis.split("|")[0].strip() if " | " in synopsis else synopsis
    full = re.sub(r"\[([^\]]*?)(?: \.\.\.)?\]", r"\1", synopsis)
    bare = re.sub(r"\s*\[[^\]]*\]", "", synopsis)
    return list(dict.fromkeys([bare, full]))


def subcommand(args: list[str]) -> str:
    """`check`, `rules explain`, ...: the words before the options, global
    options (and their values) skipped."""
    words = [a for before, a in zip(["", *args], args, strict=False)
             if not a.startswith("-") and before not in ("--config", "--log-format")]
    return " ".join(words[:2]) if words[0] == "rules" else words[0]


class Fresh:
    """A fresh config and state: a loopback feed with one Ampère item, a
    json:// receiver, and the files the commands' placeholders name."""

    def __init__(self, tmp: Path, feed: LoopbackServer, receiver: LoopbackServer) -> None:
        feed.routes["/feed.xml"] = Route(rss([AMPERE]))
        for n in range(1, 4):  # each `add URL` adds a feed of its own
            feed.routes[f"/other{n}.xml"] = Route(rss([("o1", "Autre chose")], title="Other"))
        feed.routes["/opml.xml"] = Route(rss([("p1", "Encore autre chose")]))
        self.config = tmp / "monitor.toml"
        self.config.write_text(f"""[monitor]
database = "{tmp / 'state.sqlite3'}"
default_channels = ["hook"]

[channels.hook]
url = "json://127.0.0.1:{receiver.port}/hook"

[[feeds]]
name = "test feed"
url = "{feed.base_url}/feed.xml"
alert_existing = true

[[rules]]
name = "ampere"
any = ["Ampère"]
""", encoding="utf-8")
        self.rules = tmp / "rules.toml"
        self.rules.write_text('[[rules]]\nname = "ampere"\nany = ["Ampère"]\n', encoding="utf-8")
        self.items = tmp / "items.jsonl"
        self.items.write_text(f'{{"id": "i1", "title": "{TEXT}", "expect": ["ampere"]}}\n',
                              encoding="utf-8")
        self.opml = tmp / "feeds.opml"
        self.opml.write_text(f'<?xml version="1.0"?><opml version="2.0"><body><outline '
                             f'text="opml feed" xmlUrl="{feed.base_url}/opml.xml"/></body></opml>',
                             encoding="utf-8")
        self.urls = iter(f"{feed.base_url}/other{n}.xml" for n in range(1, 4))

    def argv(self, command: str) -> list[str]:
        """`command` with its placeholders filled in, `--config` added."""
        words = shlex.split(command)[1:]
        filled = [self._value(before, word) for before, word in zip(["", *words], words,
                                                                      strict=False)]
        return filled if "--config" in filled else [*filled, "--config", str(self.config)]

    def _value(self, before: str, word: str) -> str:
        by_option = {"--name": "other feed", "--limit": "5", "--tags": "news,fr",
                     "--rules": str(self.rules), "--items": str(self.items), "--text": TEXT,
                     "--config": str(self.config), "--feed": "test feed"}
        if before in by_option:
            return by_option[before]
        if word == "URL":
            return next(self.urls)
        return {"FILE": str(self.opml), "RULE": "ampere", "R": "ampere",
                "C": "hook", "CHANNEL": "hook", "NAME": "hook", "FEED": "test feed"
                }.get(word, word)


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Fresh]:
    with loopback() as feed, loopback() as receiver:
        yield Fresh(tmp_path, feed, receiver)


def test_every_readme_command_has_an_expectation() -> None:
    found = {subcommand(shlex.split(command)[1:]) for command in readme_commands()}
    assert found == set(EXPECTED), "README commands and this test's table differ"


def test_every_readme_command_runs_as_written(fresh: Fresh,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    runs = [fresh.argv(variant) for command in readme_commands()
            for variant in variants(command)]
    runs = [argv for argv in runs if argv[0] != "run" or "--once" in argv]
    runs.sort(key=lambda argv: ORDER.get(subcommand(argv), 2))
    assert len(runs) >= 25
    for argv in runs:
        code = main(argv)
        out, err = capsys.readouterr()
        assert code == 0, (argv, out, err)
        assert EXPECTED[subcommand(argv)] in out + err, (argv, out, err)
        if "--json" in argv:
            assert_json(out)


def assert_json(out: str) -> None:
    """One JSON document, or JSON Lines."""
    try:
        json.loads(out)
    except json.JSONDecodeError:
        assert all(json.loads(line) is not None for line in out.splitlines() if line.strip())
