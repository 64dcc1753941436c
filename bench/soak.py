"""The daemon under steady load for a while, to see whether anything grows.

    python bench/soak.py [--minutes 10] [--feeds 300] [--interval 30] [--every 60]

A server process (aiohttp, loopback) serves --feeds feeds of 20 items; each
feed gains a new item every --every seconds (feeds staggered), answers 304
to a matching If-None-Match in between, and takes the alerts as a webhook.
The real daemon (`python -m monitor run`, a subprocess) polls every feed
every --interval seconds with the 100 rules of bench/poll.py and delivers
to that webhook. Every 30 s the script prints the daemon's RSS, its parse
workers' RSS, its open file descriptors and threads, and what /metrics
counted. At the end: the daemon's RSS growth from the end of the first third
of the run (warm: pool started, caches filled) to the end, per hour, then
SIGTERM and how the daemon stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path

from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root

from bench.pollbench import item_xml, rules_toml

ITEMS = 20


def feed_body(feed: int, version: int) -> bytes:
    """Feed `feed` at `version`: its ITEMS newest items, newest first."""
    items = []
    for n in range(version, version - ITEMS, -1):
        rng = random.Random(feed * 1_000_003 + n)
        when = datetime.fromtimestamp(1_700_000_000 + n * 60, UTC)
        items.append(item_xml(rng, feed, n, when))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Soak feed {feed}</title><link>https://soak.example/{feed}</link>"
            f"<description>Generated</description>{''.join(items)}</channel></rss>").encode()


def serve(feeds: int, every: float, conn: Connection) -> None:
    """Feeds that change every `every` seconds (staggered), and the webhook."""
    posts = 0

    async def feed(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        if n >= feeds:
            return web.Response(status=404)
        version = int(time.time() / every + n / feeds) + 100
        etag = f'"{n}-{version}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=feed_body(n, version), headers={
            "ETag": etag, "Content-Type": "application/rss+xml"})

    async def hook(request: web.Request) -> web.Response:
        nonlocal posts
        await request.read()
        posts += 1
        return web.json_response({"ok": True})

    async def count(request: web.Request) -> web.Response:
        return web.json_response({"posts": posts})

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/feed/{n}.xml", feed)
        app.router.add_post("/hook", hook)
        app.router.add_get("/posts", count)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        conn.send(runner.addresses[0][1])
        await asyncio.Event().wait()

    asyncio.run(main())


def write_config(tmp: Path, port: int, metrics_port: int, args: argparse.Namespace) -> Path:
    lines = [f'[monitor]\ndatabase = "{tmp / "soak.sqlite3"}"\ninterval = "{args.interval:g}s"\n'
             f'http = "127.0.0.1:{metrics_port}"\ndefault_channels = ["hook"]\n\n'
             f'[channels.hook]\nurl = "json://127.0.0.1:{port}/hook"\nrate_limit = "1000/1m"\n']
    lines += [f'[[feeds]]\nname = "soak-{n}"\nurl = "http://127.0.0.1:{port}/feed/{n}.xml"\n'
              for n in range(args.feeds)]
    lines.append(rules_toml(100, random.Random(7)))
    path = tmp / "soak.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def metrics(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    return totals


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def run(args: argparse.Namespace) -> None:
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=serve, daemon=True,
                                     args=(args.feeds, args.every, child))
    server.start()
    port = parent.recv()
    metrics_port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp), port, metrics_port, args)
        print(f"{args.feeds} feeds polled every {args.interval:g} s, a new item per feed "
              f"every {args.every:g} s, 100 rules, {args.minutes:g} min")
        daemon = subprocess.Popen([sys.executable, "-m", "monitor", "run", "--config",
                                   str(config)], stdout=subprocess.DEVNULL,
                                  stderr=open(Path(tmp) / "daemon.log", "w"))  # noqa: SIM115
        started = time.monotonic()
        samples: list[tuple[float, int]] = []
        print(f"{'min':>5} {'rss MB':>7} {'pool MB':>8} {'fds':>4} {'thr':>4} "
              f"{'polls':>7} {'new':>7} {'sent':>6} {'posts':>6}")
        try:
            while (elapsed := time.monotonic() - started) < args.minutes * 60:
                time.sleep(min(30.0, args.minutes * 60 - elapsed))
                if daemon.poll() is not None:
                    raise SystemExit(f"the daemon exited with {daemon.returncode}")
                rss = status_kb(daemon.pid, "VmRSS")
                pool = sum(status_kb(c, "VmRSS") for c in children(daemon.pid))
                fds = len(os.listdir(f"/proc/{daemon.pid}/fd"))
                threads = status_kb(daemon.pid, "Threads")
                try:
                    seen = metrics(metrics_port)
                except OSError:
                    seen = {}
                posts = urllib.request.urlopen(f"http://127.0.0.1:{port}/posts").read()
                samples.append((time.monotonic() - started, rss))
                print(f"{(time.monotonic() - started) / 60:5.1f} {rss / 1024:7.1f} "
                      f"{pool / 1024:8.1f} {fds:4} {threads:4} "
                      f"{seen.get('newsmonitor_polls_total', 0):7.0f} "
                      f"{seen.get('newsmonitor_items_new_total', 0):7.0f} "
                      f"{seen.get('newsmonitor_alerts_sent_total', 0):6.0f} "
                      f"{int(posts.split(b':')[1].strip(b' }')):6}", flush=True)
        finally:
            stop = time.monotonic()
            daemon.send_signal(signal.SIGTERM)
            code = daemon.wait(timeout=60)
            print(f"SIGTERM: exit {code} after {time.monotonic() - stop:.1f} s")
            server.terminate()
    warm = [s for s in samples if s[0] >= samples[-1][0] / 3]
    if len(warm) >= 2:
        (t0, r0), (t1, r1) = warm[0], warm[-1]
        per_hour = (r1 - r0) / 1024 / ((t1 - t0) / 3600)
        print(f"daemon RSS {r0 / 1024:.1f} MB at {t0 / 60:.1f} min, {r1 / 1024:.1f} MB at "
              f"{t1 / 60:.1f} min: {per_hour:+.1f} MB/hour")
    print(f"load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser(description="The daemon under steady load: does it grow?")
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--feeds", type=int, default=300)
    parser.add_argument("--interval", type=float, default=30, help="poll interval, seconds")
    parser.add_argument("--every", type=float, default=60,
                        help="seconds between new items of one feed")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
