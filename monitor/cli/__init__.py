"""`newsmonitor` command line: argv, logging set-up, subcommands.

The only module that prints for the user or exits. Exit codes:
  0  success
  1  the configuration (or a rule, or an input file) is invalid; every
     problem is printed with its file and key
  2  wrong usage (unknown option, missing argument)
  3  a runtime failure: the database or a channel could not be reached
  130, 141  interrupted (Ctrl-C), or the reader of the output went away
"""

from __future__ import annotations

import argparse
import importlib
import io
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Protocol, TextIO

from monitor import __version__
from monitor.cli.common import EXIT_CONFIG, EXIT_INTERRUPTED, EXIT_PIPE, EXIT_RUNTIME
from monitor.cli.items import ITEM_FORMAT
from monitor.config.values import parse_duration
from monitor.errors import ConfigError, NewsmonitorError
from monitor.service import logs

EPILOG = """\
examples:
  newsmonitor run                         # the daemon, config found as below
  newsmonitor run --once                  # poll every feed once, deliver, exit
  newsmonitor check --config /etc/newsmonitor/monitor.toml
  newsmonitor test-rules --rules rules.toml --items items.jsonl --json
  newsmonitor rules explain ampere --text "Renault liquide Ampère"
  newsmonitor rules backtest ampere --since 30d
  newsmonitor status --json

The config file is --config, else $NEWSMONITOR_CONFIG, ./config/monitor.toml,
$XDG_CONFIG_HOME/newsmonitor/monitor.toml, /etc/newsmonitor/monitor.toml.
Global options (--config, --log-format, -v) go before or after COMMAND.
exit codes: 0 ok, 1 invalid config/rules/input, 2 usage, 3 runtime failure,
141 the reader of the output went away (`newsmonitor ... | head`).
"""

BACKTEST_HELP = """\
rules backtest [RULE ...] [--rules FILE] [--since 7d] [--feed F] [--json]:
  the rules (all, or those named) over the items the store kept that were
  first seen since --since, as the daemon would match them; prints per rule
  the items that would fire, score and evidence, and ALERTED where the
  outbox holds an alert of that rule for the item. Opens the database
  read-only: nothing is sent, nothing is written.
rules explain RULE --item ID [--feed F]: a stored item, by the id that
  backtest prints (--item names a JSON file when that file exists).

"""

Handler = Callable[[argparse.Namespace], int]


class Command(Protocol):
    """Adds one subcommand (see _parser)."""

    def __call__(self, name: str, func: Handler, help_: str, example: str,
                 more: str = "") -> argparse.ArgumentParser: ...


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit code (argparse itself exits with
    2 on wrong usage and 0 after --help)."""
    _printable(sys.stdout)
    try:
        code = _run(_parse(_parser(), argv))
    except BrokenPipeError:
        _silence_stdout()
        code = EXIT_PIPE
    except SystemExit:  # after --help or a usage error
        if not _flushed():
            raise SystemExit(EXIT_PIPE) from None
        raise
    return code if _flushed() else EXIT_PIPE


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """`parser.parse_args(argv)`, but the RULE names of `rules` may follow
    its options: argparse gives a nargs="*" positional nothing once an
    option came between (`rules backtest --since 1d ampere`; CPython issue
    #59317), and leaves the names over."""
    args, extra = parser.parse_known_args(argv)
    if extra and isinstance(getattr(args, "rule", None), list) and not any(
            e.startswith("-") for e in extra):
        args.rule += extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def _run(args: argparse.Namespace) -> int:
    logs.setup(args.log_format, logging.DEBUG if args.verbose else logging.INFO)
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        code = EXIT_CONFIG
    except NewsmonitorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = EXIT_RUNTIME
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    return code


def _printable(stream: TextIO) -> None:
    # Text that the output's encoding cannot show (undecodable bytes of argv
    # arrive as lone surrogates) is printed as escapes instead of stopping
    # the command with a UnicodeEncodeError.
    if isinstance(stream, io.TextIOWrapper):
        stream.reconfigure(errors="backslashreplace")


def _flushed() -> bool:
    """Flush stdout now: a reader gone away shows here, not as a traceback
    at interpreter exit."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
        return False
    return True


def _silence_stdout() -> None:
    """The reader of stdout went away (`newsmonitor check | head -1`): what is
    still buffered goes to /dev/null, so that the interpreter's final flush
    does not print a BrokenPipeError either. SIGPIPE stays ignored, as Python
    sets it: its default action would kill the daemon on a closed socket.
    https://docs.python.org/3/library/signal.html#note-on-sigpipe"""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no file descriptor: an in-process capture
        pass


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsmonitor", parents=[_global_options(top=True)], epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Watches news feeds and alerts you when an item matches your rules.")
    parser.add_argument("--version", action="version", version=f"newsmonitor {__version__}")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")
    common = _global_options(top=False)

    def command(name: str, func: Handler, help_: str, example: str,
                more: str = "") -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_, description=help_,
                           epilog=f"example:\n  {example}\n" + (f"\n{more}" if more else ""),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(func=func)
        return p

    _run_commands(command)
    _rule_commands(command)
    _state_commands(command)
    _feed_and_channel_commands(command)
    return parser


def _lazy(module: str, name: str) -> Handler:
    """Handler `name` of monitor.cli.`module`, imported when its command
    runs: `test-rules` need not load the daemon's HTTP client and database
    (~0.7 s of CPU at every start)."""
    def run(args: argparse.Namespace) -> int:
        handler: Handler = getattr(importlib.import_module(f"monitor.cli.{module}"), name)
        return handler(args)
    return run


def _global_options(*, top: bool) -> argparse.ArgumentParser:
    """The options every command takes, before or after its name.

    argparse copies a subcommand's namespace over the main one, so a default
    in the subcommand's copy would overwrite the value given before the
    command (`newsmonitor --config my.toml check` checked ./config/monitor.toml):
    there, every default is SUPPRESS, and only what is given is set.
    """
    def default(value: object) -> object:
        return value if top else argparse.SUPPRESS

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=_path, default=default(None),
                        help="config file (default: see below)")
    common.add_argument("--log-format", choices=["auto", "text", "journal", "json"],
                        default=default("auto"), help="log line format (default: auto)")
    common.add_argument("-v", "--verbose", action="store_true", default=default(False),
                        help="debug logs")
    return common


def _path(value: str) -> str:
    if not value.strip():
        raise argparse.ArgumentTypeError("an empty path")
    return value


def _count(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if not 1 <= number <= 100_000:
        raise argparse.ArgumentTypeError(f"{number} is not between 1 and 100000")
    return number


def _duration(value: str) -> timedelta:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _run_commands(command: Command) -> None:
    p = command("run", _lazy("run", "cmd_run"),
                "run the daemon", "newsmonitor run --config config/monitor.toml")
    p.add_argument("--once", action="store_true", help="poll every feed once, deliver, exit")
    command("check", _lazy("run", "cmd_check"), "validate the config, rules and channels",
            "newsmonitor check --config config/monitor.toml")


def _rule_commands(command: Command) -> None:
    p = command("test-rules", _lazy("rules", "cmd_test_rules"),
                "dry-run rules over items (no state, no delivery)",
                "newsmonitor test-rules --rules rules.toml --items items.jsonl --json",
                ITEM_FORMAT)
    p.add_argument("--rules", type=_path,
                   help="a TOML file with [[rules]] (default: the rules of the config)")
    p.add_argument("--items", type=_path, required=True, help="a JSONL file of items (below)")
    p.add_argument("--json", action="store_true", help="one JSON line per item")
    p = command("test-stories", _lazy("stories", "cmd_test_stories"),
                "group items into stories as the daemon "
                "would (no state, no delivery)",
                "newsmonitor test-stories --items items.jsonl --json")
    p.add_argument("--items", required=True, help="a JSONL file of items")
    p.add_argument("--json", action="store_true", help="one JSON line per item")
    p = command("rules", _lazy("rules", "cmd_rules"), "inspect rules; try them on the stored items "
                "(backtest: nothing is sent or changed)",
                'newsmonitor rules explain ampere --text "Renault liquide Ampère"',
                BACKTEST_HELP + ITEM_FORMAT)
    p.add_argument("action", choices=["explain", "list", "backtest"])
    p.add_argument("rule", nargs="*", metavar="RULE",
                   help="rule name (explain: one; backtest: default every rule)")
    p.add_argument("--rules", type=_path, help="a rules file instead of the config")
    p.add_argument("--text", help="the text to test (used as the title)")
    p.add_argument("--summary", help="summary text to test (with --text)")
    p.add_argument("--item", type=_path, help="a JSON file with one item (format below), "
                   "or the id of a stored item (`rules backtest` shows them)")
    p.add_argument("--since", type=_duration, help="backtest: items first seen this "
                   "recently (default: 7d)")
    p.add_argument("--feed", action="append", metavar="FEED",
                   help="backtest: only this feed's items (repeatable); explain: the "
                   "feed of the stored item --item ID")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _state_commands(command: Command) -> None:
    p = command("status", _lazy("state", "cmd_status"), "show each feed's health and the outbox",
                "newsmonitor status --json")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = command("history", _lazy("state", "cmd_history"), "recent alerts and their delivery state",
                "newsmonitor history --rule ampere --json")
    p.add_argument("--rule", help="only this rule's alerts")
    p.add_argument("--channel", help="only this channel's alerts")
    p.add_argument("--limit", type=_count, default=50, help="how many (default: 50)")
    p.add_argument("--json", action="store_true", help="machine-readable output (UTC times)")
    p = command("stories", _lazy("storylist", "cmd_stories"),
                "recent stories: their items and sources",
                "newsmonitor stories --since 6h --rule ampere")
    p.add_argument("--since", type=_duration, default=timedelta(hours=48),
                   help="stories with an item seen this recently (default: 48h)")
    p.add_argument("--rule", help="only the stories this rule alerted")
    p.add_argument("--json", action="store_true", help="machine-readable output (UTC times)")
    p = command("requeue", _lazy("state", "cmd_requeue"),
                "put dead alerts back in the outbox (after a long "
                "outage, say); the daemon sends them at its next delivery",
                "newsmonitor requeue --channel slack")
    p.add_argument("--channel", help="only this channel's")
    p.add_argument("--rule", help="only this rule's")
    p = command("poll-now", _lazy("state", "cmd_poll_now"),
                "poll feeds at the daemon's next tick, even one "
                "backing off; a feed disabled after 410 Gone only when named",
                'newsmonitor poll-now "Le Monde Économie"')
    p.add_argument("feeds", nargs="*", metavar="FEED",
                   help="feed names (default: every enabled feed)")


def _feed_and_channel_commands(command: Command) -> None:
    p = command("send-test", _lazy("channels", "cmd_send_test"), "send a test message to a channel",
                "newsmonitor send-test email")
    p.add_argument("channel")
    p = command("add", _lazy("add", "cmd_add"),
                "find a site's feed, show its latest titles and add it "
                "to the config", "newsmonitor add https://www.example.org/ --tags auto")
    p.add_argument("url", help="the feed, or any page of the site")
    p.add_argument("--name", help="the feed's name (default: its title)")
    p.add_argument("--tags", help="comma-separated tags")
    p.add_argument("--all", action="store_true", help="add every feed found, not the first")
    p = command("import-opml", _lazy("opml", "cmd_import_opml"),
                "add the feeds of an OPML file to the config",
                "newsmonitor import-opml subscriptions.opml --config config/monitor.toml")
    p.add_argument("file", type=_path)
    command("export-opml", _lazy("opml", "cmd_export_opml"), "print the configured feeds as OPML",
            "newsmonitor export-opml > feeds.opml")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
