"""Three poll cycles of 1,000 feeds through the real pipeline, against
rss2email's loop and feedparser alone (issue 17; issue 4 before it).

    python bench/poll.py [--feeds 1000] [--items 50] [--rules 100] [--hosts 50]
                         [--naive 300] [--latency MS]

A separate server process (multiprocessing, aiohttp) serves the feeds on the
loopback addresses 127.0.0.1 to 127.0.0.<--hosts> (so that the fetcher's
per-host limits act as with that many publishers): RSS 2.0, --items items
each, seeded French/English titles and ~300-character HTML summaries,
unique guids, an ETag and a Last-Modified per feed, 304 to a matching
If-None-Match or If-Modified-Since. With --latency MS (default 0) the server
waits MS milliseconds before each response, 304s included, as a publisher's
server does.

One store (temporary SQLite) and one parse pool (parser.make_pool, started
before the first cycle) serve the three cycles, as in the daemon:
1. first: `run --once` on a fresh database, minus delivery: every feed
   fetched, parsed, deduplicated, matched against --rules rules (config-loader
   TOML) and recorded; feeds have `alert_existing = true`, so every item is
   matched.
2. 304: every feed answers 304.
3. steady: 70 % of the feeds answer 304, 20 % ignore the validators and send
   their unchanged body with none, 10 % send a new edition (one or two new
   items on top, a new lastBuildDate and ETag).
Then rss2email's way on the same mix: `feedparser.parse(url, etag=,
modified=)` one feed after another, with the validators the first cycle
saw, on the first --naive feeds (the mix repeats every ten), extrapolated to
all; and the floor: feedparser alone (our options, none of our work) on the
first cycle's 1,000 bodies in a pool of one worker per CPU, all at once: no
pipeline that parses whole documents with feedparser can do cycle 1 faster.

Measures per cycle: wall time; CPU = user+sys of this process (getrusage)
plus the pool's workers' (/proc/PID/stat); peak memory = the highest sum
of their PSS (/proc/PID/smaps_rollup, sampled every 50 ms: a page the
processes share, such as the interpreter's, counted once in all), beside
the sum of each one's VmHWM, reset at the start of each cycle through
/proc/PID/clear_refs (an upper bound that counts each shared page once per
process). The load average is
printed with each figure: on a shared machine, a figure taken under load is
disturbed.
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
