"""`rules backtest` over 100,000 stored items, on SQLite and PostgreSQL (issue 13).

The items are the real ones of ../shared/corpus/feeds/real (parsed by the
project's parser), repeated under new ids and with a word of their own
until there are --items; each carries its feed's content (19 % of the
corpus items have one), or with --content N a content of N characters
(other corpus items' summaries joined: real text, for a real compression
ratio), and an author and two categories. They are written through the store's
API (Store.record_items, 500 per poll's transaction), then the rules of
config/monitor.toml (with its rules.d) are backtested over them with the
command's own code (cli.backtest.backtest: read-only store, batches, the
daemon's Matcher), timed from opening the store to the last item. Printed:
the time and the CPU seconds (the worker processes' included: on a machine
shared with other jobs the wall time says more of them than of us), the
rules that fired and how often, the database's bytes per stored item, the
time to read every item with its content (the rules of this config do not
read it, rules reading `content` do), and the load average before and after.

    python bench/backtest.py [--items 100000] [--content 0] [--rules FILE]
        [--backends sqlite,postgresql] [--workers 1,2]

--workers: the worker processes of each timed run (the command uses 1).
--rules: backtest the `[[rules]]` of FILE instead of the config's, as
`rules backtest --rules FILE` does (e.g. ../shared/eval/rules.toml: nine
rules of every kind, reading title, summary and content).

PostgreSQL: NEWSMONITOR_TEST_PG (default postgresql://postgres@127.0.0.1:5432/test),
in a schema of its own dropped after (tests.stores.pg_schema).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import random
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root, as bench/poll.py
from monitor.cli.backtest import backtest
from monitor.config import Settings, load
from monitor.config.loader import load_rules_file
from monitor.models import FeedState, Item
from monitor.poll.parser import parse_feed
from monitor.store import Store, open_readonly
from tests.corpus import shared_dir
from tests.stores import pg_available, pg_schema

REPO = Path(__file__).resolve().parents[1]
FEEDS, PER_POLL = 200, 500
LIMIT = 10.0  # seconds for 100,000 items (issue 13)


def corpus_items() -> list[Item]:
    found: list[Item] = []
    shared = shared_dir()
    if shared is None:
        raise SystemExit("../shared/corpus not found; set NEWSMONITOR_SHARED")
    for path in sorted((shared / "corpus" / "feeds" / "real").glob("*.xml")):
        with contextlib.suppress(Exception):  # a feed the parser refuses is skipped
            found.extend(parse_feed(path.read_bytes(), {}, path.stem).items)
    return [i for i in found if i.title]


def make_items(count: int, content: int, rng: random.Random) -> Iterator[Item]:
    base = corpus_items()
    texts = [i.summary for i in base if len(i.summary) > 80] or ["texte " * 20]
    for n in range(count):
        item = base[n % len(base)]
        body = item.content  # --content 0: as the corpus feed gave it (or none)
        if content:
            body = ""
            while len(body) < content:
                body += rng.choice(texts) + "\n\n"
        yield dataclasses.replace(
            item, feed=f"feed {n // PER_POLL % FEEDS}", id=f"{n:06d}-{item.id}",
            title=f"{item.title} ({n})", content=body[:content] if content else body,
            author=f"Auteur {n % 97}", categories=("Économie", f"rubrique {n % 13}"))


async def fill(url: str, count: int, content: int) -> float:
    """The items recorded as polls of PER_POLL items of one feed each (one
    transaction each, as the daemon's); returns the seconds taken."""
    store = await Store.open(url)
    started = time.perf_counter()
    try:
        await store.sync_feeds([(f"feed {n}", f"http://127.0.0.1/{n}", 900.0, 0.0)
                                for n in range(FEEDS)])
        states = {s.name: s for s in await store.feeds()}
        batch: list[Item] = []
        for item in make_items(count, content, random.Random(2026)):
            batch.append(item)
            if len(batch) == PER_POLL:
                await _record(store, states, batch)
                batch = []
        if batch:
            await _record(store, states, batch)
    finally:
        await store.close()
    return time.perf_counter() - started


async def _record(store: Store, states: dict[str, FeedState], batch: list[Item]) -> None:
    feed = batch[0].feed
    _, states[feed] = await store.record_items(states[feed], batch, [], time.time())


async def size(url: str) -> tuple[int, int | None]:
    store = await Store.open(url)
    try:
        return await store.archive.size()
    finally:
        await store.close()


def run(settings: Settings, label: str, args: argparse.Namespace) -> None:
    url = settings.monitor.database
    filled = asyncio.run(fill(url, args.items, args.content))
    stored, used = asyncio.run(size(url))
    per_item = f"{used / stored:,.0f} bytes" if used and stored else "n/a"
    print(f"{label}: filled {stored:,} items in {filled:.1f} s; database size per stored "
          f"item: {per_item} ({used or 0:,} bytes; content: "
          f"{f'{args.content} characters each' if args.content else 'as in the corpus'}, zlib)")
    for workers in args.workers:
        started, cpu = time.perf_counter(), _cpu()
        result = backtest(settings, settings.rules, 0.0, workers=workers)
        took, used_cpu = time.perf_counter() - started, _cpu() - cpu
        fired = ", ".join(f"{rule} {len(fires)}" for rule, fires in result.fires.items())
        limit = LIMIT * result.scanned / 100_000
        print(f"  backtest of {len(settings.rules)} rules over {result.scanned:,} items, "
              f"workers {workers} ({os.cpu_count()} CPUs): {took:.2f} s "
              f"({result.scanned / took:,.0f} items/s; CPU {used_cpu:.2f} s in all) "
              f"[{'ok' if took < limit else 'MISSED'}: under {limit:.1f} s]; fired: {fired}")
    started, cpu = time.perf_counter(), _cpu()
    read = asyncio.run(read_all(url))
    print(f"  reading the {read:,} items with their content (what rules reading `content` "
          f"add): {time.perf_counter() - started:.2f} s, CPU {_cpu() - cpu:.2f} s")


async def read_all(url: str) -> int:
    store = await open_readonly(url)
    try:
        return sum([len(batch) async for batch in store.archive.batches(0.0, content=True)])
    finally:
        await store.close()


def _cpu() -> float:
    """CPU seconds of this process and of its children (the worker processes)."""
    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                          resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--content", type=int, default=0,
                        help="characters of content given to every item; 0 (default): "
                        "each item's own, as its corpus feed gave it (19%% of them have "
                        "one, of 1,165 characters on average)")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--workers", default="1,2", type=lambda v: [int(n) for n in v.split(",")],
                        help="worker processes of each timed run (the command: 1)")
    parser.add_argument("--rules", type=Path, metavar="FILE",
                        help="backtest the [[rules]] of FILE (default: the config's)")
    args = parser.parse_args(argv)
    config = load(REPO / "config" / "monitor.toml", environ={})
    if args.rules:
        config = dataclasses.replace(config, rules=load_rules_file(args.rules))
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for backend in args.backends.split(","):
        with _database(backend) as url:
            if url is None:
                print(f"{backend}: skipped, {pg_available()}")
                continue
            settings = dataclasses.replace(
                config, monitor=config.monitor.model_copy(update={"database": url}))
            run(settings, backend, args)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


@contextlib.contextmanager
def _database(backend: str) -> Iterator[str | None]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield str(Path(tmp) / "state.sqlite3")
    elif pg_available() is None:
        with pg_schema("bench") as url:
            yield url
    else:
        yield None


if __name__ == "__main__":
    main()
