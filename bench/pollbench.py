"""The code of bench/poll.py (see its docstring), kept out of the __main__
module so that the spawned parse workers do not import all of it."""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
import feedparser

from bench.floor import feedparser_only
from monitor.config import Settings, load
from monitor.matcher import compile_rules
from monitor.poll.fetcher import Fetcher, make_session
from monitor.poll.parser import make_pool, parse_feed, pool_workers
from monitor.poll.parser.pool import ParsePool
from monitor.poll.pipeline import Context, Outcome, poll_feed
from monitor.poll.schedule import HostBackoff
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
MODIFIED = {1: "Mon, 10 Feb 2025 10:00:00 GMT", 2: "Mon, 10 Feb 2025 11:00:00 GMT"}


# ------------------------------------------------------------ the feeds


def item_xml(rng: random.Random, feed: int, n: int | str, when: datetime) -> str:
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
            f"<pubDate>{format_datetime(when, usegmt=True)}</pubDate>"
            f"<description>{escape(summary)}</description></item>")


def feed_xml(feed: int, items: int, version: int = 1) -> bytes:
    """Version 1: `items` items; version 2: one or two new ones on top (and a
    new lastBuildDate), as a publisher's next edition."""
    rng = random.Random(feed)
    when = datetime(2025, 2, 10, 10, 0, tzinfo=UTC)
    body = "".join(item_xml(rng, feed, n, when - timedelta(minutes=7 * n))
                   for n in range(items))
    fresh = "".join(item_xml(random.Random(f"{feed}-{k}"), feed, f"new{k}",
                             when + timedelta(minutes=k + 1))
                    for k in reversed(range(feed % 2 + 1 if version > 1 else 0)))
    built = format_datetime(when + timedelta(hours=version - 1), usegmt=True)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Bench feed {feed}</title><link>https://news{feed % 37}.example/</link>"
            f"<description>Generated</description><language>fr</language>"
            f"<lastBuildDate>{built}</lastBuildDate>{fresh}{body}"
            f"</channel></rss>").encode()


def kind(feed: int) -> str:
    """The feed's part in the steady cycle: 70 % answer 304, 20 % send their
    unchanged body without validators, 10 % a new edition."""
    rest = feed % 10
    return "304" if rest < 7 else "plain" if rest < 9 else "changed"


def serve(feeds: int, items: int, hosts: int, conn: Connection, latency: float = 0.0) -> None:
    """The server process: bodies generated once, then served until killed on
    127.0.0.1 to 127.0.0.<hosts>. Each response waits `latency` seconds first
    (a publisher's response time). Mode "fresh" (the start) serves every feed
    in version 1 with an ETag and a Last-Modified, and 304 to a request that
    holds either; "steady" (sent on `conn`) is the steady cycle's mix (see
    `kind`): the "plain" feeds ignore validators and send none."""
    # Imported here, in the server process only: the measured process is the
    # daemon's side, which has no HTTP server in it.
    from aiohttp import web
    v1 = {n: feed_xml(n, items) for n in range(feeds)}
    v2 = {n: feed_xml(n, items, 2) for n in range(feeds) if kind(n) == "changed"}
    mode = {"steady": False}

    async def handle(request: Any) -> Any:
        if latency:
            await asyncio.sleep(latency)
        try:
            n = int(request.path.removeprefix("/feed/").removesuffix(".xml"))
            body = v1[n]
        except (ValueError, KeyError):
            return web.Response(status=404)
        steady = mode["steady"]
        if steady and kind(n) == "plain":
            return web.Response(body=body, content_type="application/rss+xml")
        version = 2 if steady and kind(n) == "changed" else 1
        etag, modified = f'"{n}-v{version}"', MODIFIED[version]
        headers = {"ETag": etag, "Last-Modified": modified}
        if (request.headers.get("If-None-Match") == etag
                or request.headers.get("If-Modified-Since") == modified):
            return web.Response(status=304, headers=headers)
        body = v2[n] if version == 2 else body
        return web.Response(body=body, headers={**headers,
                                                "Content-Type": "application/rss+xml"})

    def command() -> None:
        mode["steady"] = conn.recv() == "steady"
        conn.send("ok")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        for host in range(1, hosts + 1):
            await web.TCPSite(runner, f"127.0.0.{host}", 0).start()
        conn.send([(str(addr[0]), int(addr[1])) for addr in runner.addresses])
        asyncio.get_running_loop().add_reader(conn.fileno(), command)
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


def write_config(tmp: Path, hosts: list[tuple[str, int]], feeds: int, rules: int) -> Path:
    lines = [f'[monitor]\ndatabase = "{tmp / "bench.sqlite3"}"\n'
             'default_channels = ["console"]\n\n[channels.console]\nurl = "console://"\n']
    for n in range(feeds):
        host, port = hosts[n % len(hosts)]
        lines.append(f'[[feeds]]\nname = "feed-{n}"\n'
                     f'url = "http://{host}:{port}/feed/{n}.xml"\nalert_existing = true\n')
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
    pss_mb: float

    def line(self, label: str) -> str:
        total = self.cpu_self + self.cpu_children
        return (f"{label:34} wall {self.wall:7.2f} s   cpu {total:7.2f} s"
                f" (self {self.cpu_self:.2f} + pool {self.cpu_children:.2f})   peak "
                f"PSS {self.pss_mb:4.0f} MB, RSS {self.hwm_self_mb + self.hwm_children_mb:4.0f}"
                f" MB (self {self.hwm_self_mb:.0f} + pool {self.hwm_children_mb:.0f})")


def vm_hwm_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def reset_peak(pid: int | str = "self") -> None:
    # Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0).
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def pss_mb(pid: int | str) -> float:
    """The process's proportional set size: each page it shares with others
    (the interpreter, the libraries, what a spawned worker maps too) counted
    as its share, so that the PSS of several processes adds up to what they
    hold together. 0 once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class PssPeak(threading.Thread):
    """The highest sum of the PSS of `pids`, sampled every `every` seconds
    until `stop` (a peak between two samples is missed)."""

    def __init__(self, pids: list[int | str], every: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pids, self.every, self.peak = pids, every, 0.0
        self.stopped = threading.Event()
        self.start()

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            self.peak = max(self.peak, sum(pss_mb(pid) for pid in self.pids))

    def stop(self) -> float:
        self.stopped.set()
        self.join()
        return max(self.peak, sum(pss_mb(pid) for pid in self.pids))


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a running process (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def workers(pool: ProcessPoolExecutor) -> list[int]:
    return list(pool._processes or {})  # bench only: the pool's worker pids


class Meter:
    """Wall, CPU and peak memory of this process and of the pool's workers
    (read from /proc while they live: the pool lives across the cycles, as
    the daemon's does)."""

    def __init__(self, pool: ProcessPoolExecutor) -> None:
        self.pids = workers(pool)
        for pid in ("self", *self.pids):
            reset_peak(pid)
        self.started = time.perf_counter()
        self.self0 = cpu_self()
        self.workers0 = sum(cpu_of(pid) for pid in self.pids)
        self.pss = PssPeak([os.getpid(), *self.pids])

    def done(self) -> Measure:
        pss = self.pss.stop()
        return Measure(time.perf_counter() - self.started, cpu_self() - self.self0,
                       sum(cpu_of(pid) for pid in self.pids) - self.workers0,
                       vm_hwm_mb(), sum(vm_hwm_mb(pid) for pid in self.pids), pss)


def cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def warm_pool() -> ProcessPoolExecutor:
    """The daemon's parse pool (parser.make_pool), its workers started."""
    pool = make_pool()
    small = feed_xml(0, 1)
    list(pool.map(parse_feed, [small] * 4 * pool_workers(), [{}] * 4 * pool_workers(),
                  ["warm-up"] * 4 * pool_workers()))
    return pool


# ------------------------------------------------------------ the cycles


async def open_context(settings: Settings,
                       pool: ProcessPoolExecutor) -> tuple[Context, aiohttp.ClientSession]:
    """What a running daemon holds across its polls, made once as at its
    start, outside the timed cycles: the store (the feeds' rows synced),
    one HTTP session, the compiled rules, the poll context."""
    store = await Store.open(settings.monitor.database)
    now = datetime.now(UTC).timestamp()
    await store.sync_feeds([(f.name, f.url, 900.0, now) for f in settings.feeds])
    limits = settings.monitor.fetch_limits
    session = make_session(limits)
    return Context(settings=settings, store=store, fetcher=Fetcher(session, limits),
                   matcher=compile_rules(settings.rules), pool=ParsePool(lambda: pool),
                   hosts=HostBackoff()), session


async def close_context(ctx: Context, session: aiohttp.ClientSession) -> None:
    await session.close()
    await ctx.store.close()


async def pipeline_cycle(ctx: Context) -> list[Outcome]:
    """`run --once` without delivery, every feed polled at once: the feeds'
    states read from the store (as a tick's claim does), then every poll."""
    states = {s.name: s for s in await ctx.store.feeds()}
    outcomes = await asyncio.gather(*(poll_feed(ctx, f, states[f.name])
                                      for f in ctx.settings.feeds))
    return list(outcomes)


def pool_floor(bodies: list[bytes], pool: ProcessPoolExecutor) -> int:
    """feedparser alone on every body of cycle 1, in the same pool, all
    submitted at once: no fetch, dedup, match or store. No pipeline built on
    feedparser can run cycle 1 faster than this on this machine."""
    return sum(pool.map(feedparser_only, bodies, chunksize=4))


def conditional_loop(feeds: list[tuple[int, str]]) -> dict[str, int]:
    """rss2email's way: `feedparser.parse(url, etag=, modified=)` one feed
    after another, with the validators of version 1 (its saved state)."""
    seen: dict[str, int] = {"entries": 0}
    for n, url in feeds:
        doc = feedparser.parse(url, etag=f'"{n}-v1"', modified=MODIFIED[1])
        status = str(doc.get("status", "error"))
        seen[status] = seen.get(status, 0) + 1
        seen["entries"] += len(doc.entries)
    return seen


def summary(outcomes: list[Outcome]) -> str:
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.result] = counts.get(o.result, 0) + 1
    errors = sorted({o.error for o in outcomes if o.error})[:3]
    return (f"results {counts}, new items {sum(o.new_items for o in outcomes)}, "
            f"alerts {sum(o.alerts for o in outcomes)}" + (f", errors {errors}" if errors else ""))


def timed(pool: ProcessPoolExecutor, fn: Callable[[], Any]) -> tuple[Any, Measure]:
    meter = Meter(pool)
    result = fn()
    return result, meter.done()


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def start_server(args: argparse.Namespace) -> tuple[multiprocessing.Process, Connection,
                                                     list[tuple[str, int]]]:
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=serve, daemon=True,
                                     args=(args.feeds, args.items, args.hosts, child,
                                           args.latency / 1000))
    server.start()
    hosts: list[tuple[str, int]] = parent.recv()
    return server, parent, hosts


def cycles(conn: Connection, settings: Settings, pool: ProcessPoolExecutor) -> list[Measure]:
    """The three cycles of the pipeline on one store, one session and one
    event loop, as in the daemon: first, 304, steady."""
    measures = []
    with asyncio.Runner() as runner:
        ctx, session = runner.run(open_context(settings, pool))
        for label in ("cycle 1: first (fresh state, match all)", "cycle 2: every feed 304",
                      "cycle 3: steady (70/20/10 mix)"):
            if label.startswith("cycle 3"):
                conn.send("steady")
                conn.recv()
            out, measure = timed(pool, lambda: runner.run(pipeline_cycle(ctx)))
            print(measure.line(label), f"load {load_average()}\n   ", summary(out))
            measures.append(measure)
        runner.run(close_context(ctx, session))
    return measures


def baseline(args: argparse.Namespace, settings: Settings,
             pool: ProcessPoolExecutor) -> tuple[float, float]:
    """rss2email's loop on the steady mix (the server is in it by now), on
    the first --naive feeds (every tenth is a changed one, as in the whole),
    extrapolated to all of them: wall and CPU."""
    feeds = list(enumerate(f.url for f in settings.feeds))[: args.naive]
    seen, naive = timed(pool, lambda: conditional_loop(feeds))
    scale = args.feeds / len(feeds)
    print(naive.line(f"rss2email loop ({len(feeds)} feeds)"), f"load {load_average()}\n   ",
          seen)
    cpu_all = (naive.cpu_self + naive.cpu_children) * scale
    print(f"    extrapolated to {args.feeds} feeds (x{scale:g}): wall {naive.wall * scale:.2f} s,"
          f" cpu {cpu_all:.2f} s")
    return naive.wall * scale, cpu_all


def run(args: argparse.Namespace) -> None:
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
          f"{load_average()}")
    server, conn, hosts = start_server(args)
    pool = warm_pool()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load(write_config(Path(tmp), hosts, args.feeds, args.rules), {})
        print(f"{args.feeds} feeds x {args.items} items on {len(hosts)} loopback addresses "
              f"(127.0.0.1-{hosts[-1][0]}), {len(settings.rules)} rules, temp SQLite, "
              f"parse pool of {pool_workers()}; server latency {args.latency:g} ms")
        first, cached, steady = cycles(conn, settings, pool)
    naive_wall, naive_cpu = baseline(args, settings, pool)
    bodies = [feed_xml(n, args.items) for n in range(args.feeds)]
    entries, floor = timed(pool, lambda: pool_floor(bodies, pool))
    pool.shutdown()
    print(floor.line("floor: feedparser alone in pool"), f"load {load_average()}\n   ",
          f"entries {entries}")
    print()
    peak = max(m.pss_mb for m in (first, cached, steady))
    rss = max(m.hwm_self_mb + m.hwm_children_mb for m in (first, cached, steady))
    speedup, ratio = naive_wall / steady.wall, first.wall / floor.wall
    steady_cpu = steady.cpu_self + steady.cpu_children
    first_cpu, floor_cpu = first.cpu_self + first.cpu_children, floor.cpu_children
    # On a busy machine the wall ratios say little (each run got another share
    # of the CPUs); the CPU ratios beside them hold better.
    checks = [(f"steady cycle >= 20x faster than rss2email's loop ({speedup:.1f}x: "
               f"{steady.wall:.2f} s vs {naive_wall:.2f} s; cpu {steady_cpu:.2f} s vs "
               f"{naive_cpu:.2f} s, {naive_cpu / steady_cpu:.1f}x)", speedup >= 20),
              (f"first cycle <= 1.5x the feedparser-only floor ({ratio:.2f}x: "
               f"{first.wall:.2f} s vs {floor.wall:.2f} s; cpu {first_cpu:.2f} s vs "
               f"{floor_cpu:.2f} s, {first_cpu / floor_cpu:.2f}x)", ratio <= 1.5),
              (f"304 cycle < 1 s ({cached.wall:.2f} s)", cached.wall < 1),
              (f"peak memory < 150 MB, parent plus workers, any cycle (PSS {peak:.0f} MB;"
               f" the sum of their peak RSS, which counts each shared page once per"
               f" process, {rss:.0f} MB)", peak < 150)]
    for text, ok in checks:
        print(f"  [{'ok' if ok else 'MISSED'}] {text}")
    print(f"load average at the end {load_average()}")
    server.terminate()
    server.join()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Three poll cycles of 1,000 feeds vs rss2email's loop and feedparser "
                    "alone (issue 17).")
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--rules", type=int, default=100)
    parser.add_argument("--hosts", type=int, default=50,
                        help="loopback addresses 127.0.0.1 to 127.0.0.N (default 50)")
    parser.add_argument("--naive", type=int, default=300,
                        help="feeds the rss2email loop polls (extrapolated to all)")
    parser.add_argument("--latency", type=float, default=0.0, metavar="MS",
                        help="server-side delay before each response, in ms (default 0)")
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
