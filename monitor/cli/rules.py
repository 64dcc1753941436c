"""`test-rules` and `rules explain|list|backtest`: rules tried on items, no
state changed, nothing delivered.

The rules come from `--rules FILE` when given, else from the config (the
rules the daemon would run); the items' JSON format is cli.items'. `rules
backtest` tries them on the items the store kept (cli.backtest); `rules
explain RULE --item X` reads X as a JSON file when a file X exists, else as
the id of a stored item (`--feed F` picks among feeds that share the id).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO

from monitor.cli.common import EXIT_OK, config_path, cut
from monitor.cli.items import ItemRecord, parse_item, parse_items, read_bytes
from monitor.config import load, load_rules_file
from monitor.errors import ConfigError
from monitor.models import Item, Match, Rule

DEFAULT_SINCE = timedelta(days=7)  # `rules backtest --since`


def _rules(args: argparse.Namespace) -> tuple[Rule, ...]:
    if args.rules:
        return load_rules_file(Path(args.rules))
    return load(config_path(args)).rules


def match_json(match: Match) -> dict[str, Any]:
    return {"rule": match.rule, "score": match.score, "terms": match.terms,
            "hits": [{"term": h.term, "matched": h.matched, "field": h.field,
                      "score": h.score} for h in match.hits]}


def cmd_test_rules(args: argparse.Namespace) -> int:
    from monitor.matcher import compile_rules

    matcher = compile_rules(_rules(args))
    records = parse_items(read_bytes(Path(args.items)), args.items)
    results = []
    # json.dumps(..., ensure_ascii=False) builds an encoder at every call:
    # one made here writes the same text in half the time (issue 17).
    encode = json.JSONEncoder(ensure_ascii=False).encode
    for record in records:
        item = record.item
        matches = matcher.match(item, record.tags)
        results.append((record, matches))
        if args.json:
            print(encode({"id": item.id, "matches": [match_json(m) for m in matches]}))
        else:
            fired = ", ".join(f"{m.rule} ({m.score})" for m in matches) or "-"
            print(f"{item.id}\t{fired}\t{cut(item.title, 70)}")
    if any(record.expect is not None for record in records):
        _print_scores(results, sys.stderr if args.json else sys.stdout)
    return EXIT_OK


def _print_scores(results: Sequence[tuple[ItemRecord, list[Match]]], out: TextIO) -> None:
    """Precision and recall per rule and overall, against the `expect` labels."""
    counts: dict[str, list[int]] = {}
    for record, matches in results:
        fired, expected = {m.rule for m in matches}, record.expect or frozenset()
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
    rules = _rules(args)
    if args.action == "backtest":
        return _backtest(args, rules)
    feed = args.feed if args.action == "list" or not args.item else None
    given = [f"{name} {value!r}" for name, value in (
        ("--since", args.since), ("--feed", feed)) if value]
    if given:
        raise ConfigError(f"rules {args.action}: takes no {', '.join(given)} (see rules backtest)")
    if args.action == "explain" and len(args.rule) > 1:
        raise ConfigError(f"rules explain: one rule, not {len(args.rule)}")
    args.rule = args.rule[0] if args.rule else None
    if args.action == "list":
        given = [f"{name} {value!r}" for name, value in (
            ("RULE", args.rule), ("--text", args.text), ("--summary", args.summary),
            ("--item", args.item)) if value is not None]
        if given:  # an ignored argument would look like a filter that worked
            raise ConfigError(f"rules list: takes no {', '.join(given)} (see rules explain)")
        # The channels each rule sends to: its own, else [monitor] default_channels
        # (a rules file alone, --rules, has no [monitor]: its own only).
        default = () if args.rules else load(config_path(args)).monitor.default_channels
        for rule in rules:
            channels = list(rule.channels or default)
            print(json.dumps({"name": rule.name, "priority": str(rule.priority),
                              "channels": channels, "source": rule.source,
                              "description": rule.description}, ensure_ascii=False)
                  if args.json else f"{rule.name}\t{rule.priority}\t{','.join(channels)}\t"
                  f"{rule.description}")
        return EXIT_OK
    return _explain(args, rules)


def _explain(args: argparse.Namespace, rules: tuple[Rule, ...]) -> int:
    from monitor.matcher import compile_rules

    matcher = compile_rules(rules)
    if args.rule not in matcher.rules:
        what = f"unknown rule {args.rule!r}" if args.rule else "name a rule"
        raise ConfigError(f"rules explain: {what}; known: {', '.join(matcher.rules)}")
    record = _explain_item(args)
    text = matcher.explain(args.rule, record.item, record.tags)
    if not args.json:
        print(text)
        return EXIT_OK
    fired = [m for m in matcher.match(record.item, record.tags) if m.rule == args.rule]
    print(json.dumps({"rule": args.rule, "item": record.item.id, "fires": bool(fired),
                      "match": match_json(fired[0]) if fired else None,
                      "explanation": text.splitlines()}, ensure_ascii=False, indent=2))
    return EXIT_OK


def _explain_item(args: argparse.Namespace) -> ItemRecord:
    if args.item and (args.text is not None or args.summary is not None):
        raise ConfigError("rules explain: give --text TEXT [--summary TEXT] or --item FILE, "
                          "not both")
    if args.item and (Path(args.item).is_file() or not _stored_id(args.item)):
        return parse_item(read_bytes(Path(args.item)), args.item)
    if args.item:
        return _stored_item(args)
    if args.text is None:
        raise ConfigError("rules explain: give --text TEXT, --item FILE or --item ID")
    return ItemRecord(Item(feed="", id="text", title=args.text, summary=args.summary or ""))


def _stored_id(value: str) -> bool:
    """Whether `--item` may be a stored item's id rather than a missing
    file: an id (parser.identity's short hash, or a feed's own) has no
    path separator and is not a .json file name."""
    return "/" not in value and not value.endswith(".json")


def _stored_item(args: argparse.Namespace) -> ItemRecord:
    """The stored item `--item ID` (of `--feed F`), with its feed's tags."""
    from monitor.cli.backtest import find

    settings = load(config_path(args))
    feed = args.feed[0] if args.feed else None
    found = find(settings, args.item, feed)
    if len(found) != 1:
        where = f" in feed {feed!r}" if feed else ""
        raise ConfigError(
            f"rules explain: --item {args.item!r}: no such file, and no stored item{where} "
            f"has this id" if not found else
            f"rules explain: --item {args.item!r}: stored in feeds "
            f"{', '.join(repr(k.item.feed) for k in found)}; name one with --feed")
    configured = settings.feed(found[0].item.feed)
    return ItemRecord(found[0].item, configured.tags if configured else ())


def _backtest(args: argparse.Namespace, rules: tuple[Rule, ...]) -> int:
    from monitor.cli import backtest
    from monitor.matcher import compile_rules

    given = [f"{name} {value!r}" for name, value in (
        ("--text", args.text), ("--summary", args.summary), ("--item", args.item))
        if value is not None]
    if given:
        raise ConfigError(f"rules backtest: takes no {', '.join(given)} (see rules explain)")
    unknown = [name for name in args.rule if name not in {r.name for r in rules}]
    if unknown:
        raise ConfigError(f"rules backtest: unknown rule {unknown[0]!r}; known: "
                          f"{', '.join(r.name for r in rules)}")
    chosen = [r for r in rules if not args.rule or r.name in args.rule]
    settings = load(config_path(args))
    feeds = [f.name for f in settings.feeds]
    unknown = [name for name in args.feed or () if name not in feeds]
    if unknown:  # a typo would read as "nothing would fire"
        raise ConfigError(f"rules backtest: unknown feed {unknown[0]!r}; known: "
                          f"{', '.join(map(repr, feeds))}")
    since = time.time() - (DEFAULT_SINCE if args.since is None else args.since).total_seconds()
    compile_rules(chosen)  # a bad rule is an error here, not in each worker
    result = backtest.backtest(settings, chosen, since, args.feed or ())
    print(backtest.to_json(result) if args.json
          else backtest.render(result, settings.monitor.timezone, args.feed or ()))
    return EXIT_OK
