"""The crash storm, long (issue 14): the daemon SIGKILLed at random moments
--kills times while a feed grows and a webhook counts what arrives.

    python bench/crash.py [--kills 200] [--backend sqlite|postgresql] [--seed 0]
                          [--every 0.5] [--instance-timeout 3s]

The harness is tests/crash_storm.py (tests/test_crash_storm.py runs the
short storm in CI). Prints the items published, matched, delivered, grouped
into a story another item of which arrived, summarized (recorded as sent,
counted in a digest's "… and N more"), unseen (never stored: gone from the
feed's window before a poll ended), and lost; the duplicates, the
receipts that were sends in flight at a kill (accepted by the receiver, not
yet recorded as sent) and the duplicates attributable to them; the delivery
delay (publication to first receipt), the recovery after each kill (how long
past it the last item published before it took to arrive), the resends (from
a receipt to the next of the same item) and the daemon's start (spawn to
READY=1); with the machine's load. Exits 1 when an item was
lost or grouped, or a duplicate is not explained by a send in flight.

PostgreSQL: $NEWSMONITOR_TEST_PG (default 127.0.0.1:5432, database `test`),
in a schema of its own, dropped after. There each start is a new instance
(host:pid): a killed daemon's claims are not voided by the next start (other
instances may hold live ones) but released by its heartbeat once the dead
one has been silent for `instance_timeout` (30 s), so recovery there takes
about that long when a kill caught a poll or a send.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root

from tests.crash_storm import Storm
from tests.stores import pg_available, pg_schema

DRAIN = 900.0  # the last run's wait for the backlog: it stops once everything arrived


@contextmanager
def database(backend: str, folder: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield str(folder / "state.sqlite3")
        return
    reason = pg_available()
    if reason:
        sys.exit(f"error: {reason}")
    with pg_schema("crash") as url:
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--every", type=float, default=0.5,
                        help="seconds between two published items")
    parser.add_argument("--instance-timeout", default=None,
                        help="[monitor] instance_timeout (PostgreSQL: how soon a killed "
                             "daemon's claims are released; default the setting's 30s)")
    args = parser.parse_args()
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp, database(args.backend, Path(tmp)) as url:
        storm = Storm(Path(tmp), url, kills=args.kills, seed=args.seed, every=args.every,
                      kill_after=(0.8, 2.5), drain=DRAIN,
                      monitor={"instance_timeout": args.instance_timeout}
                      if args.instance_timeout else {})
        result = storm.run()
    print(f"backend: {args.backend}  seed: {args.seed}  cpus: {os.cpu_count()}")
    print(result.report())
    print("load average (1, 5, 15 min) at start: {:.1f} {:.1f} {:.1f}, at end: "
          "{:.1f} {:.1f} {:.1f}".format(*load, *os.getloadavg()))
    if (result.lost or result.unseen or result.grouped or result.unexpected
            or result.summarized > result.hidden or result.duplicates > result.attributed):
        sys.exit(1)


if __name__ == "__main__":
    main()
