"""The channels deliver works with: config's `ChannelSettings`, plus only what
deliver adds to them.

Contract: `build(settings, environ)` returns the `Channels` and the
`Notifier` for them. A channel's URLs are those of the config, then of the
channels file, then of systemd's credentials directory; apprise validates
each once (when the notifier builds it), templates are compiled once, and
every problem is reported together in one ConfigError that names the
channel and never shows a secret.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from monitor.config import ChannelSettings, RetryPolicy, Settings
from monitor.deliver import flood
from monitor.deliver.notifier import (
    Notifier,
    credentials_dir_urls,
    default_format,
    load_channels_file,
)
from monitor.errors import ConfigError
from monitor.render import Format, Template, load_template


@dataclass(frozen=True, slots=True)
class Channel:
    """A channel's settings, every URL it sends to, its body format (the
    setting, else the default for its first URL) and compiled template."""

    settings: ChannelSettings
    urls: tuple[str, ...]
    format: Format
    template: Template | None = None

    @property
    def name(self) -> str:
        return self.settings.name


@dataclass(frozen=True, slots=True)
class Channels:
    """Every configured channel by name, and how failures are retried."""

    by_name: Mapping[str, Channel]
    retry: RetryPolicy


def build(settings: Settings, environ: Mapping[str, str] | None = None
          ) -> tuple[Channels, Notifier]:
    """The channels of `settings` and a (closed) notifier for them; raises
    ConfigError listing every problem."""
    env = os.environ if environ is None else environ
    problems: list[str] = []
    from_file: dict[str, list[str]] = {}
    if settings.monitor.channels_file:
        try:
            from_file = load_channels_file(settings.monitor.channels_file)
        except ConfigError as exc:
            problems += exc.problems
    channels: dict[str, Channel] = {}
    for name, ch in settings.channels.items():
        where = f"{settings.path}: channels.{name}"
        try:
            urls = (*ch.urls, *from_file.get(name, []), *credentials_dir_urls(name, env))
        except ConfigError as exc:
            problems += exc.problems
            continue
        if not urls:
            problems.append(f"{where}: no URL (not in the config, the channels file or "
                            "the credentials directory)")
        channels[name] = Channel(ch, urls, default_format(ch.format, urls),
                                 _template(ch, where, problems))
        _check_digest(ch, where, problems)
    notifier = _notifier(channels, settings, problems)
    if problems or notifier is None:
        raise ConfigError(problems)
    return Channels(channels, settings.monitor.retry), notifier


def _template(ch: ChannelSettings, where: str, problems: list[str]) -> Template | None:
    try:
        return load_template(ch.template) if ch.template else None
    except ConfigError as exc:
        problems.append(f"{where}.template: {exc}")
        return None


def _check_digest(ch: ChannelSettings, where: str, problems: list[str]) -> None:
    if ch.digest:
        try:
            flood.parse_digest(ch.digest, ch.timezone)
        except ConfigError as exc:
            problems.append(f"{where}.digest: {exc}")


def _notifier(channels: Mapping[str, Channel], settings: Settings,
              problems: list[str]) -> Notifier | None:
    try:
        return Notifier([(c.settings, c.urls) for c in channels.values()],
                        origin=f"{settings.path}: ")
    except ConfigError as exc:
        problems += exc.problems
        return None
