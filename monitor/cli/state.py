"""Commands over the store: `status`, `history`, `requeue`, `poll-now`."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from monitor.cli.common import EXIT_OK, config_path
from monitor.config import load
from monitor.errors import ConfigError

# ------------------------------------------------------------------ state


def _open_store(args: argparse.Namespace) -> Any:
    from monitor.store import Store

    settings = load(config_path(args))
    return settings, Store.open(settings.monitor.database)


def cmd_status(args: argparse.Namespace) -> int:
    from monitor.cli.status import collect, render_table

    settings, opening = _open_store(args)

    async def go() -> dict[str, Any]:
        store = await opening
        try:
            return await collect(settings, store)
        finally:
            await store.close()

    report = asyncio.run(go())
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.json
          else render_table(report))
    return EXIT_OK


def cmd_history(args: argparse.Namespace) -> int:
    from monitor.cli.status import history_rows

    _settings, opening = _open_store(args)

    async def go() -> list[dict[str, Any]]:
        store = await opening
        try:
            return history_rows(await store.history(args.rule, args.channel, args.limit))
        finally:
            await store.close()

    rows = asyncio.run(go())
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    for row in [] if args.json else rows:
        print(f"{row['created']}  {row['state']:7} {row['channel']:12} {row['rule']:20} "
              f"{row['title'][:60]}" + (f"  ({row['error']})" if row["error"] else ""))
    return EXIT_OK


def cmd_requeue(args: argparse.Namespace) -> int:
    import time

    _settings, opening = _open_store(args)

    async def go() -> int:
        store = await opening
        try:
            count: int = await store.requeue_dead(time.time(), args.channel, args.rule)
            return count
        finally:
            await store.close()

    count = asyncio.run(go())
    print(f"{count} dead alerts back in the outbox")
    return EXIT_OK


def cmd_poll_now(args: argparse.Namespace) -> int:
    import time

    settings, opening = _open_store(args)
    enabled = {feed.name: feed.enabled for feed in settings.feeds}
    problems = [f"poll-now: unknown feed {name!r}" for name in args.feeds
                if name not in enabled]
    problems += [f"poll-now: feed {name!r} has enabled = false in the config"
                 for name in args.feeds if enabled.get(name) is False]
    if problems:
        opening.close()  # the coroutine was never awaited: no connection to close
        raise ConfigError([*problems, f"known feeds: {', '.join(enabled)}"])
    names = args.feeds or [name for name, on in enabled.items() if on]

    async def go() -> list[str]:
        store = await opening
        try:
            # A feed disabled after 410 Gone comes back only when named.
            due: list[str] = await store.poll_now(names, time.time(), enable=bool(args.feeds))
            return due
        finally:
            await store.close()

    due = asyncio.run(go())
    print(f"{len(due)} feeds due now" + (f": {', '.join(due)}" if due else ""))
    return EXIT_OK
