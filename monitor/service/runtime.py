"""What one config load builds, swapped whole on reload.

`build_runtime` reads and validates the config, compiles the rules and the
channels (every problem listed at once, as `check` shows them);
`config_fingerprint` tells the file watcher when to reload; `feed_rows` are
the store's rows for the configured feeds, first polls spread.
"""

from __future__ import annotations

import glob
import logging
import os
import random
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from monitor.config import FetchLimits, Settings, read_config
from monitor.deliver import channels as deliver_channels
from monitor.deliver.channels import Channels
from monitor.deliver.notifier import Notifier
from monitor.errors import ConfigError
from monitor.matcher import Matcher, check_rules, compile_rules
from monitor.poll.pipeline import Context
from monitor.poll.schedule import first_poll
from monitor.web import Snapshot

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Runtime:
    """Everything derived from one config load; swapped whole on reload."""

    settings: Settings
    matcher: Matcher
    notifier: Notifier  # closed; the daemon opens it while this runtime is in use
    channels: Channels


def build_runtime(path: Path, environ: dict[str, str] | None = None) -> Runtime:
    """Load and validate the config, its rules, channels and templates.

    Raises ConfigError listing every problem (config, rules, channel URLs).
    """
    # The settings of the valid rest even with problems: one run lists every error.
    settings, problems = read_config(path, environ)
    if settings is None:
        raise ConfigError(problems)
    problems += [str(err) for err in check_rules(settings.rules)]
    try:
        channels, notifier = deliver_channels.build(settings, environ)
    except ConfigError as exc:
        problems += exc.problems
    if problems:
        raise ConfigError(problems)
    return Runtime(settings, compile_rules(settings.rules), notifier, channels)


def snapshot(runtime: Runtime, settings: Settings | None = None) -> Snapshot:
    """What the web page shows of `runtime` (`settings` instead of its own)."""
    channels = runtime.channels.by_name
    return Snapshot(settings or runtime.settings, {n: c.format for n, c in channels.items()},
                    {n: c.template for n, c in channels.items()})


def limits_of(settings: Settings) -> FetchLimits:
    return settings.monitor.fetch_limits


# A feed never polled is polled within this many seconds of being added: a
# new user sees results at once. Spreading them protects servers from a
# thundering herd; the fetcher's per-host limit does the rest.
NEW_FEED_SPREAD = 10.0


def feed_rows(ctx: Context, settings: Settings, now: datetime,
              rng: random.Random) -> list[tuple[str, str, float, float]]:
    """(name, url, interval, first poll) of each feed, for Store.sync_feeds
    (which keeps the schedule of feeds it knows); a local file has no
    server, so it is read at once."""
    rows = []
    for feed in settings.feeds:
        policy = feed.policy
        local = not feed.url.startswith(("http://", "https://"))
        spread = replace(policy, start_spread=min(policy.start_spread, NEW_FEED_SPREAD))
        first = now if local else first_poll(now, spread, rng)
        rows.append((feed.name, feed.url, policy.interval, first.timestamp()))
    return rows


RESTART_ONLY = ("database", "http", "public_url", "concurrency", "per_host_concurrency", "timeout",
                "connect_timeout", "max_body", "user_agent",
                # The story index is built with them at start (poll/stories.py).
                "story_window", "story_threshold")


def warn_restart_only(old: Settings, new: Settings) -> None:
    """These [monitor] keys are read once at start: say so rather than ignore them."""
    for key in RESTART_ONLY:
        if getattr(old.monitor, key) != getattr(new.monitor, key):
            log.warning("setting changed, takes effect at the next restart key=monitor.%s", key)


def config_fingerprint(settings: Settings) -> tuple[tuple[str, int, int], ...]:
    """(path, mtime, size) of the config and every file its includes match now,
    so that a new rule file appearing in rules.d counts as a change."""
    paths = {settings.path, *settings.files}
    for pattern in settings.includes:
        paths.update(Path(p) for p in glob.glob(pattern))
    out = []
    for path in sorted(paths):
        try:
            st = os.stat(path)
            out.append((str(path), st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((str(path), 0, -1))
    return tuple(out)
