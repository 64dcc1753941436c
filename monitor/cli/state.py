"""Commands over the store: `status`, `history`, `requeue`, `poll-now`."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from monitor.cli.common import EXIT_OK, config_path
from monitor.config import Settings, load
from monitor.errors import ConfigError

if TYPE_CHECKING:
    from monitor.models import FeedState

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
    from monitor.cli.status import history_rows, render_history

    settings, opening = _open_store(args)

    async def go() -> list[dict[str, Any]]:
        store = await opening
        try:
            return history_rows(await store.history(args.rule, args.channel, args.limit))
        finally:
            await store.close()

    rows = asyncio.run(go())
    if not rows:
        _check_names(settings, args.rule, args.channel)
    print(json.dumps(rows, indent=2, ensure_ascii=False) if args.json
          else render_history(rows, settings.monitor.timezone))
    return EXIT_OK


def _check_names(settings: Settings, rule: str | None, channel: str | None,
                 command: str = "history") -> None:
    """No alert of `rule` or `channel`: a name neither configured nor in the
    history is a typo, an error as in send-test, not an empty answer."""
    from monitor.poll.health import RULE as FEED_HEALTH

    rules = [r.name for r in settings.rules] + [FEED_HEALTH]
    if rule and rule not in rules:
        raise ConfigError(f"{command}: unknown rule {rule!r}; known: {', '.join(rules)}")
    if channel and channel not in settings.channels:
        raise ConfigError(f"{command}: unknown channel {channel!r}; "
                          f"known: {', '.join(settings.channels)}")


def cmd_requeue(args: argparse.Namespace) -> int:
    import time

    settings, opening = _open_store(args)

    async def go() -> int:
        store = await opening
        try:
            count: int = await store.requeue_dead(time.time(), args.channel, args.rule)
            return count
        finally:
            await store.close()

    count = asyncio.run(go())
    if not count:  # a mistyped name reads as "nothing to requeue"
        _check_names(settings, args.rule, args.channel, "requeue")
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

    async def go() -> tuple[list[str], dict[str, float]]:
        store = await opening
        try:
            now = time.time()
            held = _held(names, await store.feeds(), now)
            # A feed disabled after 410 Gone comes back only when named.
            due: list[str] = await store.poll_now(names, now, enable=bool(args.feeds),
                                                  held=held)
            return due, held
        finally:
            await store.close()

    found, held = asyncio.run(go())
    due = [name for name in found if name not in held]
    print(f"{len(due)} feeds due now" + (f": {', '.join(due)}" if due else ""))
    zone = settings.monitor.timezone
    for name in (name for name in found if name in held):
        until = datetime.fromtimestamp(held[name], ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S")
        print(f"{name}: held by its host's Retry-After until {until} ({zone}); polled then")
    return EXIT_OK


def _held(names: list[str], every: list[FeedState], now: float) -> dict[str, float]:
    """The feeds of `names` whose host a 429/503's Retry-After holds (any
    feed of the host may have got it), and until when: the daemon would
    skip them till then (HostBackoff), so poll-now says so and makes them
    due at that time, not now."""
    from monitor.poll.schedule import host_key
    from monitor.poll.states import held_hosts

    hosts = held_hosts(every, now)
    return {state.name: hosts[host_key(state.current_url)] for state in every
            if state.name in names and host_key(state.current_url) in hosts}
