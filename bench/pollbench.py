"""The code of bench/poll.py (see its docstring), kept out of the __main__
module so that the spawned parse workers do not import all of it."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import multiprocessing
import os
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import feedparser
from aiohttp import web

from monitor.config import Settings, load
from monitor.matcher import compile_rules
from monitor.poll.fetcher import Fetcher, make_session
from monitor.poll.parser import make_pool
from monitor.poll.parser.pool import ParsePool
from monitor.poll.pipeline import Context, Outcome, poll_feed
from monitor.poll.schedule import HostBackoff
from monitor.service.runtime import limits_of
from monitor.store import Store


def words(text: str) -> list[str]:
    return text.split()


COMPANIES = ["Renault", "Ampère", "Stellantis", "Airbus", "Thales", "Safran", "TotalEnergies",
             "EDF", "Engie", "Orange", "Capgemini", "Sanofi", "L'Oréal", "LVMH", "Kering",
             "Danone", "Carrefour", "Michelin", "Alstom", "Vinci", "Bouygues", "Dassault",
             "Atos", "Ubisoft", "Valeo", "Forvia", "Saint-Gobain", "Schneider Electric",
             "BNP Paribas", "Société Générale", "Crédit Agricole", "AXA", "Veolia", "Accor",
             "Air France-KLM", "SNCF", "La Poste", "Michelin", "Volkswagen", "Siemens",
             "Tesla", "Apple", "Google", "Microsoft", "Amazon", "Nvidia", "Boeing", "Intel",
             "OpenAI", "Mistral AI", "Toyota", "BYD", "Nissan", "Ford", "BMW", "Bosch",
             "Shell", "BP", "Unilever", "Nestlé"]
PEOPLE = ["François Provost", "Luca de Meo", "Carlos Tavares", "Patrick Pouyanné",
          "Bernard Arnault", "Emmanuel Macron", "Elon Musk", "Tim Cook", "Sundar Pichai",
          "Satya Nadella", "Christine Lagarde", "Bruno Le Maire", "Arthur Mensch",
          "Jensen Huang", "Mary Barra", "Ola Källenius", "Guillaume Faury", "Catherine MacGregor"]
FR_TOPICS = ["usine", "grève", "résultats", "liquidation", "rachat", "plan social",
             "investissement", "batteries", "véhicules électriques", "chiffre d'affaires",
             "suppression de postes", "fusion", "contrat", "cyberattaque", "amende",
             "introduction en Bourse", "nouveau directeur", "dividende", "hydrogène"]
EN_TOPICS = ["factory", "strike", "earnings", "bankruptcy", "takeover", "layoffs",
             "investment", "batteries", "electric vehicles", "revenue", "job cuts", "merger",
             "contract", "cyberattack", "fine", "IPO", "new chief executive", "dividend",
             "hydrogen"]
FR_VERBS = ["annonce", "confirme", "dément", "prépare", "accélère sur", "renonce à",
            "dévoile", "relance", "suspend", "finalise"]
EN_VERBS = ["announces", "confirms", "denies", "prepares", "speeds up", "drops", "unveils",
            "revives", "halts", "completes"]
FR_FILL = words(
    'selon nos informations, la direction a présenté aux syndicats un projet qui '
    "prévoit des changements importants d'ici la fin de l'année, dans un marché "
    "toujours très concurrentiel où les prix de l'énergie pèsent sur les marges"
)
EN_FILL = words(
    'according to people familiar with the matter, management presented a plan to '
    'unions that foresees major changes by the end of the year, in a market that '
    'remains fiercely competitive while energy prices weigh on margins'
)
LAST_MODIFIED = "Mon, 10 Feb 2025 10:00:00 GMT"


# ------------------------------------------------------------ the feeds


def item_xml(rng: random.Random, feed: int, n: int, when: datetime) -> str:
    french = rng.random() < 0.5
    verbs, topics, fill = (FR_VERBS, FR_TOPICS, FR_FILL) if french else (EN_VERBS, EN_TOPICS,
                                                                         EN_FILL)
    subject = rng.choice(PEOPLE if rng.random() < 0.15 else COMPANIES)
    title = f"{subject} {rng.choice(verbs)} {rng.choice(topics)}"
    words = " ".join(rng.choice(fill) for _ in range(30))
    other = rng.choice(COMPANIES)
    summary = (f"<p>{escape(title)} : {words[:170]} "
               f"<a href=\"https://news.example/{other.lower()}\">{escape(other)}</a>, "
               f"<b>{rng.choice(topics)}</b> &amp; <i>{rng.choice(fill)}</i>.</p>")
    return (f"<item><title>{escape(title)}</title>"
            f"<link>https://news{feed % 37}.example/{feed}/{n}.html?utm_source=rss</link>"
            f"<guid isPermaLink=\"false\">bench-{feed}-{n}</guid>"
            f"<pubDate>{format_datetime(when - timedelta(minutes=7 * n), usegmt=True)}</pubDate>"
            f"<description>{escape(summary)}</description></item>")


def feed_xml(feed: int, items: int) -> bytes:
    rng = random.Random(feed)
    when = datetime(2025, 2, 10, 10, 0, tzinfo=UTC)
    body = "".join(item_xml(rng, feed, n, when) for n in range(items))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Bench feed {feed}</title><link>https://news{feed % 37}.example/</link>"
            f"<description>Generated</description><language>fr</language>{body}"
            f"</channel></rss>").encode()


def serve(feeds: int, items: int, ports: int, conn: Connection, latency: float = 0.0) -> None:
    """The server process: bodies generated once, then served until killed;
    each response waits `latency` seconds first (a publisher's response time)."""
    bodies = {f"/feed/{n}.xml": feed_xml(n, items) for n in range(feeds)}

    async def handle(request: web.Request) -> web.Response:
        if latency:
            await asyncio.sleep(latency)
        body = bodies.get(request.path)
        if body is None:
            return web.Response(status=404)
        etag = f'"{request.path[6:-4]}-v1"'
        headers = {"ETag": etag, "Last-Modified": LAST_MODIFIED}
        if (request.headers.get("If-None-Match") == etag
                or request.headers.get("If-Modified-Since") == LAST_MODIFIED):
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, headers={**headers,
                                                "Content-Type": "application/rss+xml"})

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        bound = []
        for _ in range(ports):
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
        bound = [addr[1] for addr in runner.addresses]
        conn.send(bound)
        await asyncio.Event().wait()

    asyncio.run(main())


# ------------------------------------------------------------ config


def rules_toml(count: int, rng: random.Random) -> str:
    """Rules of the kinds people write: company AND topic, any-lists with NOT,
    people, NEAR. Most fire rarely, as real watch rules do (a few % of items)."""
    out = []
    for n in range(count):
        kind = n % 4
        company = COMPANIES[n % len(COMPANIES)]
        if kind == 0:
            fr, en = rng.choice(FR_TOPICS), rng.choice(EN_TOPICS)
            body = "query = " + json.dumps(f'"{company}" AND ("{fr}" OR "{en}")')
        elif kind == 1:
            terms = [f"{company} {rng.choice(FR_VERBS)}", f"{company} {rng.choice(EN_VERBS)}"]
            body = f"any = {json.dumps(terms)}\nnot = {json.dumps([rng.choice(EN_TOPICS)])}"
        elif kind == 2:
            person = PEOPLE[n % len(PEOPLE)]
            body = (f"people = [{{ name = {json.dumps(person)} }}]\n"
                    f"all = {json.dumps([rng.choice(FR_TOPICS + EN_TOPICS)])}\nfuzzy = 90")
        else:
            topic = rng.choice(FR_TOPICS + EN_TOPICS)
            body = "query = " + json.dumps(f'"{topic}" NEAR/3 "{company}"')
        out.append(f'[[rules]]\nname = "rule-{n}"\n{body}\n')
    return "\n".join(out)


def write_config(tmp: Path, ports: list[int], feeds: int, rules: int) -> Path:
    lines = [f'[monitor]\ndatabase = "{tmp / "bench.sqlite3"}"\n'
             'default_channels = ["console"]\n\n[channels.console]\nurl = "console://"\n']
    for n in range(feeds):
        port = ports[n % len(ports)]
        lines.append(f'[[feeds]]\nname = "feed-{n}"\n'
                     f'url = "http://127.0.0.1:{port}/feed/{n}.xml"\nalert_existing = true\n')
    lines.append(rules_toml(rules, random.Random(7)))
    path = tmp / "monitor.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


# ------------------------------------------------------------ measuring


@dataclass
class Measure:
    wall: float
    cpu_self: float
    cpu_children: float
    hwm_self_mb: float
    hwm_children_mb: float

    def line(self, label: str) -> str:
        total = self.cpu_self + self.cpu_children
        return (f"{label:34} wall {self.wall:7.2f} s   cpu {total:7.2f} s"
                f" (self {self.cpu_self:.2f} + pool {self.cpu_children:.2f})   peak "
                f"{self.hwm_self_mb + self.hwm_children_mb:6.0f} MB (self "
                f"{self.hwm_self_mb:.0f} + pool {self.hwm_children_mb:.0f})")


def vm_hwm_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def reset_peak() -> None:
    # Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0).
    Path("/proc/self/clear_refs").write_text("5")


def cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


class Meter:
    def __init__(self) -> None:
        reset_peak()
        self.started = time.perf_counter()
        self.self0 = cpu(resource.RUSAGE_SELF)
        self.children0 = cpu(resource.RUSAGE_CHILDREN)
        self.children_hwm = 0.0

    def done(self) -> Measure:
        return Measure(time.perf_counter() - self.started,
                       cpu(resource.RUSAGE_SELF) - self.self0,
                       cpu(resource.RUSAGE_CHILDREN) - self.children0,
                       vm_hwm_mb(), self.children_hwm)


# ------------------------------------------------------------ the cycles


async def pipeline_cycle(settings: Settings, meter: Meter) -> list[Outcome]:
    """`run --once` without delivery; the pool (parser.make_pool) lives and
    dies with the cycle, so that RUSAGE_CHILDREN counts its workers."""
    pool = make_pool()
    store = await Store.open(settings.monitor.database)
    now = datetime.now(UTC).timestamp()
    await store.sync_feeds([(f.name, f.url, 900.0, now) for f in settings.feeds])
    async with make_session(limits_of(settings)) as session:
        ctx = Context(settings=settings, store=store,
                      fetcher=Fetcher(session, limits_of(settings)),
                      matcher=compile_rules(settings.rules), pool=ParsePool(lambda: pool),
                      hosts=HostBackoff())
        states = {s.name: s for s in await store.feeds()}
        outcomes = await asyncio.gather(*(poll_feed(ctx, f, states[f.name])
                                          for f in settings.feeds))
    await store.close()
    workers = list(pool._processes)  # bench only: the pool's worker pids
    meter.children_hwm = sum(vm_hwm_mb(pid) for pid in workers)
    pool.shutdown(wait=True)
    return list(outcomes)


def feedparser_only(body: bytes) -> int:
    """The least any feedparser-based parse can cost: feedparser itself with
    our options, none of our own work (runs in the pool's workers)."""
    doc = feedparser.parse(io.BytesIO(body), sanitize_html=False, resolve_relative_uris=False)
    return len(doc.entries)


def pool_floor(feeds: int, items: int, meter: Meter) -> int:
    """feedparser alone on every body of cycle 1, in a pool of one worker per
    CPU, all submitted at once: no fetch, dedup, match or store. No pipeline
    built on feedparser can run cycle 1 faster than this on this machine."""
    bodies = [feed_xml(n, items) for n in range(feeds)]
    meter.started = time.perf_counter()  # the bodies are the server's work, not ours
    pool = make_pool()
    entries = sum(pool.map(feedparser_only, bodies, chunksize=4))
    workers = list(pool._processes)
    meter.children_hwm = sum(vm_hwm_mb(pid) for pid in workers)
    pool.shutdown(wait=True)
    return entries


def naive_loop(urls: list[str]) -> int:
    entries = 0
    for url in urls:
        entries += len(feedparser.parse(url).entries)
    return entries


def summary(outcomes: list[Outcome]) -> str:
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.result] = counts.get(o.result, 0) + 1
    errors = sorted({o.error for o in outcomes if o.error})[:3]
    return (f"results {counts}, new items {sum(o.new_items for o in outcomes)}, "
            f"alerts {sum(o.alerts for o in outcomes)}" + (f", errors {errors}" if errors else ""))


def timed(fn: Callable[[Meter], Any]) -> tuple[Any, Measure]:
    meter = Meter()
    result = fn(meter)
    return result, meter.done()


def run(args: argparse.Namespace) -> None:
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=serve, daemon=True,
                                     args=(args.feeds, args.items, args.ports, child,
                                           args.latency / 1000))
    server.start()
    ports: list[int] = parent.recv()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load(write_config(Path(tmp), ports, args.feeds, args.rules), {})
        print(f"{args.feeds} feeds x {args.items} items on {len(ports)} loopback ports, "
              f"{len(settings.rules)} rules, temp SQLite, parse pool of {os.cpu_count()}")
        print(f"server latency {args.latency:g} ms per response"
              + (" (--latency; 0 = the loopback figure)" if args.latency else
                 " (loopback; --latency MS adds a response time)"))
        out, full = timed(lambda m: asyncio.run(pipeline_cycle(settings, m)))
        print(full.line("cycle 1 (full: fetch/parse/match)"), "\n   ", summary(out))
        out, cached = timed(lambda m: asyncio.run(pipeline_cycle(settings, m)))
        print(cached.line("cycle 2 (every feed 304)"), "\n   ", summary(out))
    urls = [f.url for f in settings.feeds][:: max(args.feeds // args.naive, 1)][: args.naive]
    entries, naive = timed(lambda m: naive_loop(urls))
    scale = args.feeds / len(urls)
    print(naive.line(f"naive loop ({len(urls)} feeds)"), f"\n    entries {entries}")
    naive_all = naive.wall * scale
    print(f"naive loop extrapolated to {args.feeds} feeds (x{scale:g}): wall {naive_all:.2f} s,"
          f" cpu {(naive.cpu_self + naive.cpu_children) * scale:.2f} s")
    entries, floor = timed(lambda m: pool_floor(args.feeds, args.items, m))
    ceiling = ("" if args.latency else "; best speed-up any feedparser pipeline could "
               f"reach here: {naive_all / floor.wall:.1f}x")  # the floor fetches nothing
    print(floor.line("floor: feedparser alone in pool"), f"\n    entries {entries}{ceiling}")
    print()
    peak = max(m.hwm_self_mb + m.hwm_children_mb for m in (full, cached))
    speedup = naive_all / full.wall
    where = f", server latency {args.latency:g} ms" if args.latency else ", loopback"
    checks = [(f"full cycle >= 5x faster than naive ({speedup:.1f}x{where})", speedup >= 5),
              (f"304 cycle < 3 s ({cached.wall:.2f} s)", cached.wall < 3),
              (f"peak memory < 300 MB ({peak:.0f} MB)", peak < 300)]
    for text, ok in checks:
        print(f"  [{'ok' if ok else 'MISSED'}] {text}")
    print(f"load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    server.terminate()
    server.join()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="One poll cycle of 1,000 feeds vs a naive feedparser loop (issue 4).")
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--rules", type=int, default=100)
    parser.add_argument("--ports", type=int, default=25)
    parser.add_argument("--naive", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.0, metavar="MS",
                        help="server-side delay before each response, in ms (default 0)")
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
