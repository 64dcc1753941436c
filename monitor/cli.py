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
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from monitor import __version__, logs
from monitor.config import find_config, load, load_rules_file
from monitor.errors import ConfigError, NewsmonitorError
from monitor.models import Item

EXIT_OK, EXIT_CONFIG, EXIT_USAGE, EXIT_RUNTIME = 0, 1, 2, 3

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


def _config_path(args: argparse.Namespace) -> Path:
    return find_config(args.config)


# ------------------------------------------------------------------ run / check


def cmd_run(args: argparse.Namespace) -> int:
    from monitor.daemon import Daemon, build_runtime

    path = _config_path(args)
    daemon = Daemon(path, build_runtime(path))
    if args.once:
        outcomes = asyncio.run(daemon.run_once())
        failed = [o for o in outcomes if o.result == "error"]
        log = logging.getLogger("monitor.cli")
        for o in outcomes:
            log.info("poll done feed=%s result=%s new=%d alerts=%d", o.feed, o.result,
                     o.new_items, o.alerts)
        log.info(
            "run once done feeds=%d failed=%d alerts=%d", len(outcomes), len(failed),
            sum(o.alerts for o in outcomes))
        return EXIT_OK
    asyncio.run(daemon.run())
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from monitor.daemon import build_runtime

    path = _config_path(args)
    print(f"config: {path.resolve()}")
    runtime = build_runtime(path)
    s = runtime.settings
    for extra in s.files[1:]:
        print(f"included: {extra}")
    print(f"ok: {len(s.feeds)} feeds, {len(s.rules)} rules, {len(s.channels)} channels")
    return EXIT_OK


# ------------------------------------------------------------------ rules


def read_items(path: Path) -> list[tuple[Item, dict[str, Any]]]:
    """Items of a JSONL file (format of shared/eval/README.md), with their raw record."""
    from monitor.text import html_to_text

    out = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                item = Item(feed=str(rec.get("feed", "")), id=str(rec.get("id", number)),
                            title=html_to_text(str(rec.get("title", ""))),
                            summary=html_to_text(str(rec.get("summary", ""))),
                            link=str(rec.get("link", "")))
            except (ValueError, AttributeError) as exc:
                raise ConfigError(f"{path}:{number}: not a JSON item: {exc}") from None
            out.append((item, rec))
    return out


def cmd_test_rules(args: argparse.Namespace) -> int:
    from monitor.matcher import compile_rules

    matcher = compile_rules(load_rules_file(Path(args.rules)))
    results = []
    for item, rec in read_items(Path(args.items)):
        matches = matcher.match(item, rec.get("tags", ()))
        results.append((item, rec, matches))
        if args.json:
            print(json.dumps({"id": item.id, "matches": [
                {"rule": m.rule, "score": m.score, "terms": m.terms,
                 "hits": [{"term": h.term, "matched": h.matched, "field": h.field,
                           "score": h.score} for h in m.hits]} for m in matches]},
                ensure_ascii=False))
        else:
            fired = ", ".join(f"{m.rule} ({m.score})" for m in matches) or "-"
            print(f"{item.id}\t{fired}\t{item.title[:70]}")
    if any("expect" in rec for _, rec, _ in results):
        _print_scores(results, sys.stderr if args.json else sys.stdout)
    return EXIT_OK


def _print_scores(results: list[Any], out: Any) -> None:
    """Precision and recall per rule and overall, against the `expect` labels."""
    counts: dict[str, list[int]] = {}
    for _item, rec, matches in results:
        fired, expected = {m.rule for m in matches}, set(rec.get("expect", []))
        for rule in fired | expected:
            tp_fp_fn = counts.setdefault(rule, [0, 0, 0])
            tp_fp_fn[0 if rule in fired and rule in expected else 1 if rule in fired else 2] += 1
    total = [sum(c[i] for c in counts.values()) for i in range(3)]
    print(f"{'rule':28} {'tp':>4} {'fp':>4} {'fn':>4} {'precision':>9} {'recall':>7}", file=out)
    for rule, (tp, fp, fn) in [*sorted(counts.items()), ("OVERALL", tuple(total))]:
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        print(f"{rule:28} {tp:4} {fp:4} {fn:4} {precision:9.3f} {recall:7.3f}", file=out)


def cmd_rules(args: argparse.Namespace) -> int:
    from monitor.matcher import compile_rules

    rules = (load_rules_file(Path(args.rules)) if args.rules
             else load(_config_path(args)).rules)
    matcher = compile_rules(rules)
    if args.action == "list":
        for rule in rules:
            print(json.dumps({"name": rule.name, "priority": str(rule.priority),
                              "channels": list(rule.channels), "source": rule.source,
                              "description": rule.description}, ensure_ascii=False)
                  if args.json else f"{rule.name}\t{rule.priority}\t{rule.description}")
        return EXIT_OK
    if not args.rule or args.rule not in matcher.rules:
        raise ConfigError(f"rules explain: unknown rule {args.rule!r}; "
                          f"known: {', '.join(matcher.rules)}")
    item = _explain_item(args)
    print(matcher.explain(args.rule, item))
    return EXIT_OK


def _explain_item(args: argparse.Namespace) -> Item:
    from monitor.text import html_to_text

    if args.item:
        rec = json.loads(Path(args.item).read_text(encoding="utf-8"))
        return Item(feed=str(rec.get("feed", "")), id=str(rec.get("id", "item")),
                    title=html_to_text(str(rec.get("title", ""))),
                    summary=html_to_text(str(rec.get("summary", ""))))
    if args.text is None:
        raise ConfigError("rules explain: give --text TEXT or --item FILE")
    return Item(feed="", id="text", title=args.text, summary=args.summary)


# ------------------------------------------------------------------ state


def _open_store(args: argparse.Namespace) -> Any:
    from monitor.store import Store

    settings = load(_config_path(args))
    return settings, Store.open(settings.monitor.database)


def cmd_status(args: argparse.Namespace) -> int:
    from monitor.status import collect, render_table

    settings, opening = _open_store(args)

    async def go() -> dict[str, Any]:
        store = await opening
        try:
            return await collect(settings, store)
        finally:
            await store.close()

    report = asyncio.run(go())
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.json
          else render_table(report))
    return EXIT_OK


def cmd_history(args: argparse.Namespace) -> int:
    from monitor.status import history_rows

    _settings, opening = _open_store(args)

    async def go() -> list[dict[str, Any]]:
        store = await opening
        try:
            return history_rows(await store.history(args.rule, args.channel, args.limit))
        finally:
            await store.close()

    rows = asyncio.run(go())
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    for row in [] if args.json else rows:
        print(f"{row['created']}  {row['state']:7} {row['channel']:12} {row['rule']:20} "
              f"{row['title'][:60]}" + (f"  ({row['error']})" if row["error"] else ""))
    return EXIT_OK


def cmd_requeue(args: argparse.Namespace) -> int:
    import time

    _settings, opening = _open_store(args)

    async def go() -> int:
        store = await opening
        try:
            count: int = await store.requeue_dead(time.time(), args.channel, args.rule)
            return count
        finally:
            await store.close()

    count = asyncio.run(go())
    print(f"{count} dead alerts back in the outbox")
    return EXIT_OK


def cmd_poll_now(args: argparse.Namespace) -> int:
    import time

    settings, opening = _open_store(args)
    enabled = {feed.name: feed.enabled for feed in settings.feeds}
    problems = [f"poll-now: unknown feed {name!r}" for name in args.feeds
                if name not in enabled]
    problems += [f"poll-now: feed {name!r} has enabled = false in the config"
                 for name in args.feeds if enabled.get(name) is False]
    if problems:
        opening.close()  # the coroutine was never awaited: no connection to close
        raise ConfigError([*problems, f"known feeds: {', '.join(enabled)}"])
    names = args.feeds or [name for name, on in enabled.items() if on]

    async def go() -> list[str]:
        store = await opening
        try:
            # A feed disabled after 410 Gone comes back only when named.
            due: list[str] = await store.poll_now(names, time.time(), enable=bool(args.feeds))
            return due
        finally:
            await store.close()

    due = asyncio.run(go())
    print(f"{len(due)} feeds due now" + (f": {', '.join(due)}" if due else ""))
    return EXIT_OK


def cmd_send_test(args: argparse.Namespace) -> int:
    from monitor.daemon import build_runtime
    from monitor.delivery import send_test

    runtime = build_runtime(_config_path(args))
    if args.channel not in runtime.channels.specs:
        raise ConfigError(f"send-test: unknown channel {args.channel!r}; "
                          f"known: {', '.join(runtime.channels.specs)}")
    result = asyncio.run(send_test(runtime.notifier, runtime.channels, args.channel))
    for url_result in result.results:
        state = "ok" if url_result.ok else f"FAILED: {url_result.error}"
        print(f"{url_result.url}: {state}")
    return EXIT_OK if result.ok else EXIT_RUNTIME


def cmd_import_opml(args: argparse.Namespace) -> int:
    from monitor.opml import import_opml

    path = _config_path(args)
    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{args.file}: cannot read: {exc.strerror}") from None
    added = import_opml(path, data, args.file)
    for outline in added:
        print(f"added: {outline.name} <{outline.url}>")
    print(f"{len(added)} feeds added to {path}")
    load(path)  # what we wrote must load; raises (exit 1) naming the problem otherwise
    return EXIT_OK


def cmd_export_opml(args: argparse.Namespace) -> int:
    from monitor.opml import export_opml

    sys.stdout.write(export_opml(load(_config_path(args)).feeds).decode())
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
