"""One poll cycle of 1,000 feeds through the real pipeline, then a 304 cycle,
against a naive feedparser loop (issue 4).

    python bench/poll.py [--feeds 1000] [--items 50] [--rules 100] [--naive 200]
                                      [--ports 25] [--latency MS]

A separate server process (multiprocessing, aiohttp) serves the feeds on
127.0.0.1 over --ports ports (so the fetcher sees that many hosts, as a
daemon watching many publishers does): RSS 2.0, --items items each, seeded
French/English titles and ~300-character HTML summaries, unique guids, an
ETag and a Last-Modified per feed, 304 to a matching If-None-Match or
If-Modified-Since. With --latency MS (default 0) the server waits MS
milliseconds before each response, 304s included, as a publisher's server
does: the default measures our CPU, a realistic value (~100) what the
concurrency of the fetcher buys over the naive loop, which waits for each
response in turn.

Cycle 1 is what `newsmonitor run --once` does on a fresh database, minus
delivery: open a temporary SQLite store, record the 1,000 feeds, fetch every
feed concurrently through Fetcher, parse in a ProcessPoolExecutor, dedup,
match against --rules rules (config-loader TOML, so the rules are the ones a
user writes) and write items and alerts. Feeds have `alert_existing = true`,
otherwise a first poll records items silently and never runs the matcher.
Cycle 2 polls every feed again: all answer 304.

Measures per cycle: wall time; CPU = user+sys of this process
(getrusage(RUSAGE_SELF)) + the parse pool's workers (getrusage(
RUSAGE_CHILDREN): each cycle owns its pool and waits for its workers at the
end, and the server process is still alive, so is not counted); peak memory
= VmHWM of this process (reset per cycle through /proc/self/clear_refs) +
the VmHWM of each pool worker read just before it exits (a sum of peaks: an
upper bound). The naive loop is `feedparser.parse(url)` one feed after
another with default options, run on --naive feeds and extrapolated to all.

The floor line is feedparser alone (our options, none of our work) on the
same 1,000 bodies in the same pool, all at once: no pipeline that parses
with feedparser can do cycle 1 faster on this machine, so naive / floor is
the best speed-up reachable here (see the note on the 5x target in issue 4).
"""

# Everything lives in bench.pollbench: the parse pool's workers are spawned,
# and a spawned worker re-imports the __main__ module; this one stays light
# so that the workers' memory is the parser's, as under the daemon.
if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root
    from bench.pollbench import main

    main()
