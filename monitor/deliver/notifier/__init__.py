"""Delivery through apprise; the only module that imports it.

Contract:
- `ChannelSpec` is one channel, frozen, as the config loader builds it (secrets
  already substituted). `load_channels_file`, `credentials_dir_urls`,
  `validate_url` and `mask_url` help the loader; all errors are ConfigError
  and never contain a secret.
- `Notifier(specs).send(channel, message)` makes exactly one attempt per URL
  and returns a `DeliveryResult`; it never raises for a delivery failure.
  Each URL has its own `apprise.Apprise` object and runs in a worker thread
  (apprise blocks on `requests`/`smtplib`), so one slow or failing URL is
  visible on its own and never blocks another channel.
- Apprise's own retries stay off: since apprise 2.x a service retries only
  when `?retry=N` is on its URL or `AppriseAsset.default_service_retry` is set
  (default 0). We pin the asset to 0 and set each plugin's `retry` to 0 (the
  attribute apprise's dispatcher reads), so every attempt is one row in our
  store and backoff is ours.
- Secrets: any log record of the `apprise` logger and every error text we
  return is scrubbed of the secret parts of every URL this module has seen
  (`_Redactor`); URLs are only ever shown privacy-masked by apprise.
- `console://` prints the alert to standard output (for trying rules out).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import sys
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

import apprise
import requests
from apprise.decorators import notify as apprise_notify

from monitor.deliver.notifier.sources import credentials_dir_urls, load_channels_file
from monitor.deliver.notifier.urls import (
    _ASSET,
    _REDACTOR,
    _instantiate,
    _scheme,
    mask_url,
    url_secrets,
    validate_url,
)
from monitor.errors import ConfigError, DeliveryError
from monitor.models import Priority
from monitor.render import Format, Message
from monitor.retry import parse_retry_after

__all__ = [
    "ChannelSpec", "DeliveryResult", "Notifier", "UrlResult", "credentials_dir_urls",
    "default_format", "load_channels_file", "mask_url", "url_secrets", "validate_url",
]

log = logging.getLogger(__name__)

DEFAULT_RATE_LIMIT = (20, 600)
DEFAULT_CATCH_UP = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """One delivery channel. `format` None means the default for the first
    URL's scheme (`default_format`); `digest` is "1h"-style or a crontab line;
    `quiet_hours` is (start, end) local times in `timezone`, may span midnight."""

    name: str
    urls: tuple[str, ...]
    format: Format | None = None
    min_priority: Priority = Priority.LOW
    rate_limit: tuple[int, int] = DEFAULT_RATE_LIMIT
    quiet_hours: tuple[time, time] | None = None
    digest: str | None = None
    timezone: str = "UTC"
    template: str | None = None
    catch_up: timedelta = DEFAULT_CATCH_UP


@dataclass(frozen=True, slots=True)
class UrlResult:
    """One URL's attempt: `index` into the spec's urls, `url` masked."""

    index: int
    url: str
    ok: bool
    error: str = ""
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """A channel's attempt. `ok` only when every attempted URL accepted;
    `retry_after` (seconds) is the longest a service asked for with HTTP 429."""

    channel: str
    ok: bool
    results: tuple[UrlResult, ...] = ()
    retry_after: float | None = None

    @property
    def error(self) -> str:
        """One line for `status`/`history`: the failing URLs and why."""
        return "; ".join(f"{r.url}: {r.error}" for r in self.results if not r.ok)


_FORMAT_BY_SCHEME = {
    "mailto": Format.HTML, "mailtos": Format.HTML, "console": Format.TEXT,
    "slack": Format.MARKDOWN, "tgram": Format.MARKDOWN, "discord": Format.MARKDOWN,
    "matrix": Format.MARKDOWN, "matrixs": Format.MARKDOWN, "mmost": Format.MARKDOWN,
    "mmosts": Format.MARKDOWN, "ntfy": Format.MARKDOWN, "ntfys": Format.MARKDOWN,
}


def default_format(spec: ChannelSpec) -> Format:
    """`spec.format`, else HTML for email, markdown for chat, text otherwise
    (apprise converts the body for each other URL of the channel)."""
    if spec.format is not None:
        return spec.format
    first = _scheme(spec.urls[0]).lower() if spec.urls else ""
    return _FORMAT_BY_SCHEME.get(first, Format.TEXT)


# --- console:// ---------------------------------------------------------------


@apprise_notify(on="console", name="newsmonitor console")  # type: ignore[untyped-decorator,no-untyped-call]
def _console(body: str, title: str, *args: Any, **kwargs: Any) -> bool:
    """Print the alert to standard output (what `console://` is for)."""
    print(f"{title}\n{body}\n" if title else f"{body}\n", file=sys.stdout, flush=True)
    return True


# --- sending ----------------------------------------------------------------

_NOTIFY_TYPE = {
    Priority.LOW: apprise.NotifyType.INFO,
    Priority.NORMAL: apprise.NotifyType.INFO,
    Priority.HIGH: apprise.NotifyType.WARNING,
}


class Notifier:
    """Sends messages to channels built from specs; see the module docstring."""

    def __init__(self, specs: Sequence[ChannelSpec]) -> None:
        self._specs = {spec.name: spec for spec in specs}
        self._targets: dict[str, tuple[_Target, ...]] = {}
        problems: list[str] = []
        for spec in specs:
            targets = []
            for index, url in enumerate(spec.urls):
                try:
                    targets.append(_Target(index, url))
                except ConfigError as exc:
                    problems.append(f"channels.{spec.name}.urls[{index}]: {exc}")
            self._targets[spec.name] = tuple(targets)
        if problems:
            raise ConfigError(problems)

    @property
    def channels(self) -> Mapping[str, ChannelSpec]:
        return self._specs

    async def send(
        self, channel: str, message: Message, *, priority: Priority = Priority.NORMAL,
        only: Collection[int] | None = None,
    ) -> DeliveryResult:
        """One attempt at every URL of `channel` (or the indexes in `only`, so
        a retry need not repeat URLs that already accepted), concurrently.
        Raises DeliveryError only for a channel that was never configured."""
        if channel not in self._targets:
            raise DeliveryError(f"unknown channel {channel!r}")
        targets = [t for t in self._targets[channel] if only is None or t.index in only]
        results = await asyncio.gather(
            *(asyncio.to_thread(t.send, message, priority) for t in targets)
        )
        waits = [r.retry_after for r in results if r.retry_after is not None]
        result = DeliveryResult(channel, all(r.ok for r in results), tuple(results),
                                max(waits) if waits else None)
        if not result.ok:
            log.warning("delivery failed channel=%s error=%s", channel, result.error)
        return result


@dataclass
class _Target:
    """One URL of a channel, with its own Apprise object."""

    index: int
    url: str
    masked: str = field(init=False)
    apprise: apprise.Apprise = field(init=False)

    def __post_init__(self) -> None:
        plugin = _instantiate(self.url)
        # A `?retry=N` on the URL would make apprise retry inside one attempt.
        plugin.retry = 0
        self.masked = str(plugin.url(privacy=True))
        self.apprise = apprise.Apprise(asset=_ASSET)
        self.apprise.add(plugin)

    def send(self, message: Message, priority: Priority) -> UrlResult:
        """Blocking: one notify call; runs in a worker thread."""
        with _observe_http() as responses:
            try:
                outcome = self.apprise.notify(
                    body=message.body, title=_title(message), notify_type=_NOTIFY_TYPE[priority],
                    body_format=str(message.format))
            except Exception as exc:  # compartment: one URL; apprise should not raise
                return UrlResult(self.index, self.masked, False,
                                 _REDACTOR.scrub(f"{type(exc).__name__}: {exc}"))
        ok = bool(outcome)
        error = "" if ok else _REDACTOR.scrub(_failure_text(outcome))
        return UrlResult(self.index, self.masked, ok, error, _retry_after(responses))


def _title(message: Message) -> str:
    """No separate title when the body starts with it (markdown): apprise puts
    the title through each chat dialect unescaped (Telegram makes it bold
    Markdown, so a feed's title could carry a link)."""
    return "" if message.title_in_body else message.title


def _failure_text(outcome: Any) -> str:
    """The last warning/error apprise logged for this call, else a fallback."""
    messages = [entry.message for entry in outcome.logs()
                if entry.level in {"WARNING", "ERROR", "CRITICAL"}]
    return messages[-1] if messages else f"apprise reported {outcome.status.name.lower()}"


# --- HTTP 429 -----------------------------------------------------------------

# Apprise logs "error=429" but drops the Retry-After header, which is what a
# polite retry needs. The one place that sees it is requests itself, so
# Session.send is wrapped once to note (status, Retry-After) into a list held
# in a context variable; asyncio.to_thread copies the context, so each URL's
# worker sees only its own responses, and calls outside `_observe_http`
# (anyone else using requests) are untouched.
_OBSERVED: contextvars.ContextVar[list[tuple[int, str | None]] | None] = (
    contextvars.ContextVar("newsmonitor_http_observed", default=None))
_original_send = requests.Session.send


def _observing_send(self: Any, request: Any, **kwargs: Any) -> Any:
    response = _original_send(self, request, **kwargs)
    seen = _OBSERVED.get()
    if seen is not None:
        seen.append((response.status_code, response.headers.get("Retry-After")))
    return response


requests.Session.send = _observing_send  # type: ignore[method-assign]


@contextlib.contextmanager
def _observe_http() -> Iterator[list[tuple[int, str | None]]]:
    seen: list[tuple[int, str | None]] = []
    token = _OBSERVED.set(seen)
    try:
        yield seen
    finally:
        _OBSERVED.reset(token)


def _retry_after(responses: Sequence[tuple[int, str | None]]) -> float | None:
    """Seconds from the last 429's Retry-After (delta or HTTP date), 60 if absent."""
    for status, header in reversed(responses):
        if status == 429:
            return _parse_retry_after(header)
    return None


def _parse_retry_after(header: str | None) -> float:
    """Retry-After in either form (retry.parse_retry_after); 60 s when unusable."""
    seconds = parse_retry_after(header, datetime.now(UTC))
    return 60.0 if seconds is None else seconds
