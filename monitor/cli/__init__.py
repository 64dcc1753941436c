"""`newsmonitor` command line: argv, logging set-up, subcommands.

The only module that prints for the user or exits. Exit codes:
  0  success
  1  the configuration (or a rule, or an input file) is invalid; every
     problem is printed with its file and key
  2  wrong usage (unknown option, missing argument)
  3  a runtime failure: the database or a channel could not be reached
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from monitor import __version__
from monitor.cli.channels import cmd_send_test
from monitor.cli.common import EXIT_CONFIG, EXIT_RUNTIME
from monitor.cli.opml import cmd_export_opml, cmd_import_opml
from monitor.cli.rules import cmd_rules, cmd_test_rules
from monitor.cli.run import cmd_check, cmd_run
from monitor.cli.state import cmd_history, cmd_poll_now, cmd_requeue, cmd_status
from monitor.cli.stories import cmd_test_stories
from monitor.errors import ConfigError, NewsmonitorError
from monitor.service import logs

EPILOG = """\
examples:
  newsmonitor run                         # the daemon, config found as below
  newsmonitor run --once                  # poll every feed once, deliver, exit
  newsmonitor check --config /etc/newsmonitor/monitor.toml
  newsmonitor test-rules --rules rules.toml --items items.jsonl --json
  newsmonitor rules explain ampere --text "Renault liquide Ampère"
  newsmonitor status --json

The config file is --config, else $NEWSMONITOR_CONFIG, ./config/monitor.toml,
$XDG_CONFIG_HOME/newsmonitor/monitor.toml, /etc/newsmonitor/monitor.toml.
exit codes: 0 ok, 1 invalid config/rules/input, 2 usage, 3 runtime failure.
"""


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
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
        code = 130
    return code


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="config file (default: see below)")
    common.add_argument("--log-format", choices=["auto", "text", "journal", "json"],
                        default="auto", help="log line format (default: auto)")
    common.add_argument("-v", "--verbose", action="store_true", help="debug logs")
    parser = argparse.ArgumentParser(
        prog="newsmonitor", parents=[common], epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Watches news feeds and alerts you when an item matches your rules.")
    parser.add_argument("--version", action="version", version=f"newsmonitor {__version__}")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, func: Any, help_: str, example: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_, description=help_,
                           epilog=f"example:\n  {example}",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(func=func)
        return p

    p = command("run", cmd_run, "run the daemon", "newsmonitor run --config config/monitor.toml")
    p.add_argument("--once", action="store_true", help="poll every feed once, deliver, exit")
    command("check", cmd_check, "validate the config, rules and channels",
            "newsmonitor check --config config/monitor.toml")
    p = command("test-rules", cmd_test_rules, "dry-run rules over items (no state, no delivery)",
                "newsmonitor test-rules --rules rules.toml --items items.jsonl --json")
    p.add_argument("--rules", required=True, help="a TOML file with [[rules]]")
    p.add_argument("--items", required=True, help="a JSONL file of items")
    p.add_argument("--json", action="store_true", help="one JSON line per item")
    p = command("test-stories", cmd_test_stories, "group items into stories as the daemon "
                "would (no state, no delivery)",
                "newsmonitor test-stories --items items.jsonl --json")
    p.add_argument("--items", required=True, help="a JSONL file of items")
    p.add_argument("--json", action="store_true", help="one JSON line per item")
    p = command("rules", cmd_rules, "inspect rules",
                'newsmonitor rules explain ampere --text "Renault liquide Ampère"')
    p.add_argument("action", choices=["explain", "list"])
    p.add_argument("rule", nargs="?", help="rule name (explain)")
    p.add_argument("--rules", help="a rules file instead of the config")
    p.add_argument("--text", help="the text to test (used as the title)")
    p.add_argument("--summary", default="", help="summary text to test")
    p.add_argument("--item", help="a JSON file with one item (title, summary, feed)")
    p.add_argument("--json", action="store_true", help="machine-readable output (list)")
    p = command("status", cmd_status, "show each feed's health and the outbox",
                "newsmonitor status --json")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = command("history", cmd_history, "recent alerts and their delivery state",
                "newsmonitor history --rule ampere --json")
    p.add_argument("--rule")
    p.add_argument("--channel")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = command("requeue", cmd_requeue, "put dead alerts back in the outbox (after a long "
                "outage, say); the daemon sends them at its next delivery",
                "newsmonitor requeue --channel slack")
    p.add_argument("--channel", help="only this channel's")
    p.add_argument("--rule", help="only this rule's")
    p = command("poll-now", cmd_poll_now, "poll feeds at the daemon's next tick, even one "
                "backing off; a feed disabled after 410 Gone only when named",
                'newsmonitor poll-now "Le Monde Économie"')
    p.add_argument("feeds", nargs="*", metavar="FEED",
                   help="feed names (default: every enabled feed)")
    p = command("send-test", cmd_send_test, "send a test message to a channel",
                "newsmonitor send-test email")
    p.add_argument("channel")
    p = command("import-opml", cmd_import_opml, "add the feeds of an OPML file to the config",
                "newsmonitor import-opml subscriptions.opml --config config/monitor.toml")
    p.add_argument("file")
    command("export-opml", cmd_export_opml, "print the configured feeds as OPML",
            "newsmonitor export-opml > feeds.opml")
    return parser


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
