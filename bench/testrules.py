"""`newsmonitor test-rules` end to end: bench/match.py's 1,000 rules and
20,000 items written as a rules file and a JSONL file, then the command run
in a fresh process (`python -m monitor.cli test-rules --json`), timed from
start to exit: reading, compiling, matching and printing (issue 17).

    python bench/testrules.py [--items 20000] [--rules 1000] [--repeat 3]

The best of --repeat runs is reported, with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root, as bench/poll.py
from bench.match import make_items, make_rules, synthetic_word
from monitor.models import Rule


def rule_toml(rule: Rule) -> str:
    lines = [f"[[rules]]\nname = {json.dumps(rule.name)}"]
    for key, value in (("query", rule.query), ("any", rule.any), ("all", rule.all),
                       ("not", rule.not_)):
        if value:
            lines.append(f"{key} = {json.dumps(value if isinstance(value, str) else list(value))}")
    if rule.people:
        people = ", ".join(f"{{ name = {json.dumps(p.name)}, "
                           f"aliases = {json.dumps(list(p.aliases))} }}" for p in rule.people)
        lines.append(f"people = [{people}]")
    if rule.fuzzy:
        lines.append(f"fuzzy = {rule.fuzzy}")
    return "\n".join(lines) + "\n"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--rules", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    rng = random.Random(2026)  # bench/match.py's default seed: the same rules and items
    pool = sorted({synthetic_word(rng, rng.choice((3, 4))) for _ in range(3000)})
    filler = [synthetic_word(rng, rng.choice((1, 2, 3))) for _ in range(6000)]
    rules, mentions = make_rules(rng, args.rules, pool)
    items = make_items(rng, args.items, filler, mentions, 0.3)
    with tempfile.TemporaryDirectory() as tmp:
        rules_file, items_file = Path(tmp, "rules.toml"), Path(tmp, "items.jsonl")
        rules_file.write_text("\n".join(rule_toml(r) for r in rules), encoding="utf-8")
        items_file.write_text("".join(json.dumps({"id": i.id, "title": i.title,
                                                  "summary": i.summary}, ensure_ascii=False)
                                      + "\n" for i in items), encoding="utf-8")
        command = [sys.executable, "-c", "import sys; from monitor.cli import main; "
                   "sys.exit(main())", "test-rules", "--rules",
                   str(rules_file), "--items", str(items_file), "--json"]
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        best = best_cpu = float("inf")
        for _ in range(args.repeat):
            started, cpu = time.perf_counter(), _children_cpu()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
            best = min(best, time.perf_counter() - started)
            best_cpu = min(best_cpu, _children_cpu() - cpu)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    rate = len(items) / best
    print(f"test-rules, {len(rules)} rules x {len(items)} items, best of {args.repeat}: "
          f"{best:.2f} s, {rate:,.0f} items/s end to end (CPU {best_cpu:.2f} s, "
          f"{len(items) / best_cpu:,.0f} items/s); load average {load}")
    print(f"  [{'ok' if rate >= 30_000 else 'MISSED'}] >= 30,000 items/s")


if __name__ == "__main__":
    main()
