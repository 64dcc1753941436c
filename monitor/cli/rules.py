"""`test-rules` and `rules explain|list`: rules tried on items, no state, no delivery."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from monitor.cli.common import EXIT_OK, config_path
from monitor.config import load, load_rules_file
from monitor.errors import ConfigError
from monitor.models import Item

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
             else load(config_path(args)).rules)
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
