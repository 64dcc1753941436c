"""Time per page of the web page (issue 16) on a large store.

    python bench/web.py [--feeds 1000] [--rules 100] [--alerts 100000]
                        [--polls-per-day 24] [--runs 20] [--database URL]

Fills a fresh database (a temporary SQLite file, or --database, e.g. a
PostgreSQL URL whose schema is empty) with --feeds feeds (a tenth failing or
in backoff, a few disabled), one item per alert, --alerts alerts over the
last 90 days spread over --rules rules and three channels (a few pending,
retrying and dead), one delivery attempt each, and --polls-per-day polls per
feed over 31 days (the polls table keeps 31 days). The config is a real TOML
file of those feeds, rules and channels, loaded as the daemon loads it.

Then starts the page server (its own thread, loop and store connection, as
the daemon does) and GETs each page --runs times in turn over HTTP: the
overview, a failing feed, the busiest rule, an alert with attempts, a title
search. Prints median, p95 and max per page; the target is under 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from monitor.models import Alert, Item, Match, TermHit
from monitor.service.runtime import build_runtime, snapshot
from monitor.store import Store
from monitor.store.outbox import alert_to_json
from monitor.store.polls import polls_t
from monitor.store.schema import alerts_t, attempts_t, engine_url, feeds_t, items_t
from monitor.web import WebServer

WORDS = ["ampère", "renault", "élection", "budget", "grève", "climat", "santé", "école",
         "réforme", "tribunal", "énergie", "football", "marché", "europe", "sénat", "police",
         "incendie", "orage", "musée", "festival"]
DAY = 86400.0


def write_config(folder: Path, database: str, feeds: int, rules: int) -> Path:
    lines = [f'[monitor]\ndatabase = "{database}"\nhttp = "127.0.0.1:0"\n'
             'default_channels = ["mail"]\n',
             '[channels.mail]\nurl = "mailto://user:pass@example.org"\n',
             '[channels.chat]\nurl = "json://127.0.0.1:9/chat"\n',
             '[channels.ops]\nurl = "json://127.0.0.1:9/ops"\n']
    lines += [f'[[feeds]]\nname = "feed{i:04d}"\nurl = "https://site{i % 200}.example/'
              f'feed{i}.xml"\n' for i in range(feeds)]
    lines += [f'[[rules]]\nname = "rule{r:03d}"\nany = ["{WORDS[r % len(WORDS)]}"]\n'
              f'channels = ["mail", "chat"]\n' for r in range(rules)]
    config = folder / "monitor.toml"
    config.write_text("\n".join(lines), encoding="utf-8")
    return config


def alert_payload(rng: random.Random, feed: str, item_id: str, title: str, rule: str) -> str:
    word = title.split()[0]
    return alert_to_json(Alert(
        item=Item(feed, item_id, title, "Résumé " + title, f"https://x.example/{item_id}"),
        match=Match(rule, rng.randint(50, 100), (TermHit(word, word, "title", 100),)),
        channel="", feed_title=feed))


def rows(args: argparse.Namespace, now: float) -> dict[str, list[dict[str, Any]]]:
    rng = random.Random(16)
    feeds = [{"name": f"feed{i:04d}", "url": f"https://site{i % 200}.example/feed{i}.xml",
              "current_url": f"https://site{i % 200}.example/feed{i}.xml", "next_poll": now,
              "interval": 900.0, "last_poll": now - 60, "last_success": now - 60,
              "failures": (i % 10 == 0) * (1 + i % 15), "error": "HTTP 500" if i % 10 == 0
              else None, "disabled": "410 Gone" if i % 97 == 0 else None, "polled_once": True}
             for i in range(args.feeds)]
    items, alerts, attempts = [], [], []
    for n in range(args.alerts):
        feed, rule = f"feed{n % args.feeds:04d}", f"rule{n % args.rules:03d}"
        title = " ".join(rng.choice(WORDS) for _ in range(8))
        created = now - rng.random() * 90 * DAY
        state = "sent" if n % 50 else rng.choice(["pending", "dead"])
        items.append({"feed": feed, "item_id": f"i{n}", "title": title,
                      "link": f"https://x.example/i{n}", "first_seen": created,
                      "last_seen": created})
        alerts.append({"id": n + 1, "feed": feed, "item_id": f"i{n}", "rule": rule,
                       "channel": ("mail", "chat", "ops")[n % 3], "priority": "normal",
                       "payload": alert_payload(rng, feed, f"i{n}", title, rule),
                       "created": created, "state": state, "attempts": 1,
                       "next_attempt": created, "delivered": created if state == "sent"
                       else None})
        attempts.append({"alert_id": n + 1, "at": created, "ok": state == "sent",
                         "error": None if state == "sent" else "HTTP 500"})
    polls = [{"feed": f["name"], "at": now - k * DAY / args.polls_per_day,
              "result": "error" if f["error"] else rng.choice(["new", "not_modified"]),
              "status": 500 if f["error"] else 200, "latency": rng.random(),
              "new_items": rng.randint(0, 3)}
             for f in feeds for k in range(int(31 * args.polls_per_day))]
    return {"feeds": feeds, "items": items, "alerts": alerts, "attempts": attempts,
            "polls": polls}


async def fill(database: str, args: argparse.Namespace, now: float) -> None:
    await (await Store.open(database)).close()  # the schema, indexes included
    engine = create_async_engine(engine_url(database))
    tables = {"feeds": feeds_t, "items": items_t, "alerts": alerts_t,
              "attempts": attempts_t, "polls": polls_t}
    async with engine.begin() as conn:
        for name, values in rows(args, now).items():
            for start in range(0, len(values), 5000):
                await conn.execute(tables[name].insert(), values[start:start + 5000])
        if engine.dialect.name == "postgresql":
            await conn.execute(sa.text("ANALYZE"))
    await engine.dispose()


def timed(url: str, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        with urllib.request.urlopen(url, timeout=30) as response:
            response.read()
            assert response.status == 200, url
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--rules", type=int, default=100)
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--polls-per-day", type=float, default=24)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--database", default="")
    args = parser.parse_args()
    print(f"load before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        database = args.database or str(folder / "web.sqlite3")
        now = time.time()
        started = time.perf_counter()
        asyncio.run(fill(database, args, now))
        print(f"filled in {time.perf_counter() - started:.1f} s: {args.feeds} feeds, "
              f"{args.rules} rules, {args.alerts} alerts, "
              f"{int(args.feeds * 31 * args.polls_per_day)} polls")
        runtime = build_runtime(write_config(folder, database, args.feeds, args.rules))
        server = WebServer("127.0.0.1:0", database, lambda: snapshot(runtime),
                           time.monotonic, lambda: b"")
        base = f"http://127.0.0.1:{server.start()}"
        try:
            report(base, args.runs)
        finally:
            server.stop()
    print(f"load after: {os.getloadavg()}")


def report(base: str, runs: int) -> None:
    pages = {"overview": "/", "feed (failing)": "/feed/feed0010",
             "rule": "/rule/rule000", "alert": "/alert/50", "search": "/search?q=gr%C3%A8ve"}
    print(f"{'page':16} {'median':>8} {'p95':>8} {'max':>8}   (ms, {runs} runs)")
    for name, path in pages.items():
        times = sorted(timed(base + path, runs))
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        print(f"{name:16} {statistics.median(times):8.1f} {p95:8.1f} {times[-1]:8.1f}")


if __name__ == "__main__":
    main()
