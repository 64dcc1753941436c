"""`run` and `check`: the daemon, and validating what it would run."""

from __future__ import annotations

import argparse
import asyncio
import logging

from monitor.cli.common import EXIT_OK, config_path

# ------------------------------------------------------------------ run / check


def cmd_run(args: argparse.Namespace) -> int:
    from monitor.service.daemon import Daemon
    from monitor.service.runtime import build_runtime

    path = config_path(args)
    daemon = Daemon(path, build_runtime(path))
    if args.once:
        outcomes = asyncio.run(daemon.run_once())
        failed = [o for o in outcomes if o.result == "error"]
        log = logging.getLogger("monitor.cli")
        for o in outcomes:
            log.info("poll done feed=%s result=%s new=%d alerts=%d", o.feed, o.result,
                     o.new_items, o.alerts)
        log.info(
            "run once done feeds=%d failed=%d alerts=%d", len(outcomes), len(failed),
            sum(o.alerts for o in outcomes))
        return EXIT_OK
    asyncio.run(daemon.run())
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from monitor.service.runtime import build_runtime

    path = config_path(args)
    print(f"config: {path.resolve()}")
    runtime = build_runtime(path)
    s = runtime.settings
    for extra in s.files[1:]:
        print(f"included: {extra}")
    print(f"ok: {len(s.feeds)} feeds, {len(s.rules)} rules, {len(s.channels)} channels")
    return EXIT_OK
