"""`send-test`: one test message to a channel, with each URL's result."""

from __future__ import annotations

import argparse
import asyncio

from monitor.cli.common import EXIT_OK, EXIT_RUNTIME, config_path
from monitor.errors import ConfigError


def cmd_send_test(args: argparse.Namespace) -> int:
    from monitor.deliver.outbox import send_test
    from monitor.service.runtime import build_runtime

    runtime = build_runtime(config_path(args))
    if args.channel not in runtime.channels.by_name:
        raise ConfigError(f"send-test: unknown channel {args.channel!r}; "
                          f"known: {', '.join(runtime.channels.by_name)}")
    with runtime.notifier:
        result = asyncio.run(send_test(runtime.notifier, runtime.channels, args.channel))
    for url_result in result.results:
        state = "ok" if url_result.ok else f"FAILED: {url_result.error}"
        print(f"{url_result.url}: {state}")
    return EXIT_OK if result.ok else EXIT_RUNTIME
