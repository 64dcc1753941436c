"""One, two and three daemons on one PostgreSQL database, saturated.

    python bench/scale.py [--feeds 3000] [--instances 1,2,3] [--seconds 60]
                          [--interval 10] [--hosts 8] [--concurrency 50]

For each count of instances: a fresh schema; --feeds feeds on a loopback
farm (tests/cluster.py) spread over --hosts addresses 127.0.0.2.., each
feed with a new item every --interval seconds (one item in 50 matching one
of 3 rules, alerted to a loopback webhook); the daemons (`python -m monitor
run`, subprocesses) poll every feed every --interval seconds, more than
they can: the figure is what they sustain. After a warm-up of a third of
--seconds (the first polls of every feed), over the rest it measures:

- feeds polled per second (fetches counted at the farm);
- CPU seconds of the PostgreSQL backends serving the daemons (found by
  application_name in pg_stat_activity, read from /proc) and of the daemons
  with their parse workers, and the database's share of the two;
- statements per poll: each daemon counts the statements it sent (logged
  at its stop: heartbeats and deliveries included) over the fetches.

It prints one line per count and the machine's load average (the machine
may be shared: compare runs made together).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root

from tests.cluster import Daemon, Farm, Receivers, write_config

PG = os.environ.get("NEWSMONITOR_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
TICKS = os.sysconf("SC_CLK_TCK")


def cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process, 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def backends(app: str) -> list[int]:
    with psycopg.connect(PG) as conn:
        return [pid for (pid,) in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", [app])]


def snapshot(app: str, daemons: list[Daemon]) -> tuple[dict[int, float], dict[int, float]]:
    """CPU seconds of each database backend and each daemon process (with workers)."""
    db = {pid: cpu(pid) for pid in backends(app)}
    procs = [d.proc.pid for d in daemons if d.proc is not None]
    own = {pid: cpu(pid) for p in procs for pid in [p, *children(p)]}
    return db, own


def spent(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(after[pid] - before.get(pid, 0.0) for pid in after)


def run(count: int, args: argparse.Namespace, tmp: Path) -> str:
    schema, app = f"bench_{uuid.uuid4().hex[:8]}", f"nmbench{count}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    url = f"{PG}?options=-csearch_path%3D{schema}&application_name={app}"
    hosts = tuple(f"127.0.0.{2 + i}" for i in range(args.hosts))
    farm, receivers = Farm(args.feeds, args.interval, match_every=50, hosts=hosts), Receivers()
    folder = tmp / f"n{count}"
    folder.mkdir()
    config = write_config(folder, url, farm, receivers, interval=args.interval,
                          concurrency=args.concurrency)
    daemons = [Daemon(config, folder / f"d{i}.log").start() for i in range(count)]
    try:
        time.sleep(args.seconds / 3)
        hits0, (db0, own0), t0 = total(farm), snapshot(app, daemons), time.monotonic()
        time.sleep(args.seconds * 2 / 3)
        hits1, (db1, own1), t1 = total(farm), snapshot(app, daemons), time.monotonic()
        for d in daemons:
            d.stop(timeout=30)
    finally:
        for d in daemons:
            d.kill()
        farm.close()
        receivers.close()
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
    statements = sum(int(m) for d in daemons for m in re.findall(
        r"database statements=(\d+)", d.log.read_text()))
    db, own = spent(db0, db1), spent(own0, own1)
    rate = (hits1 - hits0) / (t1 - t0)
    return (f"instances={count} feeds={args.feeds} polls_per_s={rate:.1f} "
            f"db_cpu_s={db:.1f} daemons_cpu_s={own:.1f} db_share={db / (db + own):.0%} "
            f"statements_per_poll={statements / max(total(farm), 1):.1f} "
            f"load={os.getloadavg()[0]:.1f}")


def total(farm: Farm) -> int:
    with farm.lock:
        return sum(len(times) for times in farm.hits.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=3000)
    parser.add_argument("--instances", default="1,2,3")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--interval", type=int, default=10)
    parser.add_argument("--hosts", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for count in (int(n) for n in args.instances.split(",")):
            print(run(count, args, Path(tmp)), flush=True)


if __name__ == "__main__":
    main()
