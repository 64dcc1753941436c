"""Delivery through apprise; the only package that imports it (and requests).

Contract:
- `Notifier(channels)` builds one apprise object per URL of each channel.
  This is where a channel URL is validated by apprise: every refusal is a
  ConfigError naming `channels.NAME.urls[i]`, never showing a secret.
  `load_channels_file`, `credentials_dir_urls`, `validate_url` and
  `mask_url` help the channels' builder.
- It is used open (`with notifier:` or `open()`/`close()`). While open it has
  the requests observer installed (`http.observing`) and its own `Redactor`
  on the `apprise` logger, knowing the secrets of its URLs only; `close()`
  removes both and cuts off sends still in flight. Importing this package
  changes nothing global.
- `send(channel, message)` makes exactly one attempt per URL and returns a
  `DeliveryResult`; it never raises for a delivery failure. Each URL runs in
  its own daemon thread (apprise blocks on `requests`/`smtplib`), bounded by
  the channel's `send_timeout`: at the deadline its sockets are shut and the
  attempt counts as unknown. A daemon thread never holds up the process's
  exit, whatever a receiver does.
- An attempt is ok, failed (retry later), refused for good (`permanent`: an
  HTTP 4xx other than 408/429, the same message would be refused again), or
  unknown (`unknown`: the request went out and no answer came, so the
  receiver may have it).
- Apprise's own retries stay off: since apprise 2.x a service retries only
  when `?retry=N` is on its URL or `AppriseAsset.default_service_retry` is set
  (default 0). We pin the asset to 0 and set each plugin's `retry` to 0 (the
  attribute apprise's dispatcher reads), so every attempt is one row in our
  store and backoff is ours.
- Timeouts: the channel's `connect_timeout` and `read_timeout` become the
  plugin's (apprise's `cto`/`rto`, default 4 s), unless the URL sets them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import apprise

from monitor.deliver.notifier.http import Call, observing, watch
from monitor.deliver.notifier.sources import credentials_dir_urls, load_channels_file
from monitor.deliver.notifier.urls import (
    ASSET,
    Redactor,
    instantiate,
    mask_url,
    scheme,
    shown,
    url_secrets,
    validate_url,
)
from monitor.errors import ConfigError, DeliveryError
from monitor.models import Priority
from monitor.render import Format, Message
from monitor.retry import parse_retry_after

if TYPE_CHECKING:
    from monitor.config import ChannelSettings

__all__ = [
    "DeliveryResult", "Notifier", "UrlResult", "credentials_dir_urls", "default_format",
    "load_channels_file", "mask_url", "url_secrets", "validate_url",
]

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class UrlResult:
    """One URL's attempt: `index` into the channel's urls, `url` masked;
    `permanent` and `unknown` as in the module docstring."""

    index: int
    url: str
    ok: bool
    error: str = ""
    retry_after: float | None = None
    permanent: bool = False
    unknown: bool = False


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

    @property
    def permanent(self) -> bool:
        """Every failing URL refused this message for good."""
        failed = [r for r in self.results if not r.ok]
        return bool(failed) and all(r.permanent for r in failed)

    @property
    def unknown(self) -> bool:
        """Some URL may have the message although its attempt failed."""
        return any(r.unknown for r in self.results)


_FORMAT_BY_SCHEME = {
    "mailto": Format.HTML, "mailtos": Format.HTML, "console": Format.TEXT,
    "slack": Format.MARKDOWN, "tgram": Format.MARKDOWN, "discord": Format.MARKDOWN,
    "matrix": Format.MARKDOWN, "matrixs": Format.MARKDOWN, "mmost": Format.MARKDOWN,
    "mmosts": Format.MARKDOWN, "ntfy": Format.MARKDOWN, "ntfys": Format.MARKDOWN,
}


def default_format(fmt: str | None, urls: Sequence[str]) -> Format:
    """`fmt`, else HTML for email, markdown for chat, text otherwise, by the
    first URL (apprise converts the body for each other URL of the channel)."""
    if fmt is not None:
        return Format(fmt)
    first = scheme(urls[0]).lower() if urls else ""
    return _FORMAT_BY_SCHEME.get(first, Format.TEXT)


_NOTIFY_TYPE = {
    Priority.LOW: apprise.NotifyType.INFO,
    Priority.NORMAL: apprise.NotifyType.INFO,
    Priority.HIGH: apprise.NotifyType.WARNING,
}


class Notifier:
    """Sends messages to channels; see the module docstring. `channels` are
    (settings, every URL of the channel) pairs; `origin` prefixes problems."""

    def __init__(self, channels: Sequence[tuple[ChannelSettings, Sequence[str]]],
                 origin: str = "") -> None:
        self._redactor = Redactor(url for _, urls in channels for url in urls)
        self._targets: dict[str, tuple[_Target, ...]] = {}
        self._deadlines = {settings.name: settings.send_timeout.total_seconds()
                           for settings, _ in channels}
        self._calls: set[Call] = set()
        self._stack: contextlib.ExitStack | None = None
        problems: list[str] = []
        with self._redactor.installed():
            for settings, urls in channels:
                self._targets[settings.name] = tuple(
                    self._build(settings, urls, f"{origin}channels.{settings.name}", problems))
        if problems:
            raise ConfigError(problems)

    def _build(self, settings: ChannelSettings, urls: Sequence[str], where: str,
               problems: list[str]) -> list[_Target]:
        targets = []
        for index, url in enumerate(urls):
            try:
                targets.append(_Target.build(index, url, settings, self._redactor))
            except ConfigError as exc:
                problems.append(f"{where}.urls[{index}]: {exc}")
        return targets

    def open(self) -> Notifier:
        """Install the requests observer and the redactor (idempotent)."""
        if self._stack is None:
            stack = contextlib.ExitStack()
            stack.enter_context(observing())
            stack.enter_context(self._redactor.installed())
            self._stack = stack
        return self

    def close(self) -> None:
        """Cut off the sends in flight, and remove what `open` installed."""
        for call in list(self._calls):
            call.expire()
        if self._stack is not None:
            self._stack.close()
            self._stack = None

    def __enter__(self) -> Notifier:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def deadline(self) -> float:
        """Seconds after which every send started now has ended."""
        return max(self._deadlines.values(), default=0.0)

    async def send(
        self, channel: str, message: Message, *, priority: Priority = Priority.NORMAL,
        only: Collection[int] | None = None,
    ) -> DeliveryResult:
        """One attempt at every URL of `channel` (or the indexes in `only`, so
        a retry need not repeat URLs that already accepted), concurrently.
        Raises DeliveryError for a channel never configured or a closed notifier."""
        if channel not in self._targets:
            raise DeliveryError(f"unknown channel {channel!r}")
        if self._stack is None:
            raise DeliveryError("the notifier is not open")
        targets = [t for t in self._targets[channel] if only is None or t.index in only]
        results = await asyncio.gather(*(
            self._attempt(t, message, priority, self._deadlines[channel]) for t in targets))
        waits = [r.retry_after for r in results if r.retry_after is not None]
        return DeliveryResult(channel, all(r.ok for r in results), tuple(results),
                              max(waits) if waits else None)

    async def _attempt(self, target: _Target, message: Message, priority: Priority,
                       deadline: float) -> UrlResult:
        call = Call()
        self._calls.add(call)
        try:
            attempt = _in_thread(lambda: target.send(message, priority, call, self._redactor))
            return await asyncio.wait_for(attempt, deadline)
        except TimeoutError:
            return UrlResult(target.index, target.masked, False,
                             f"no answer within {deadline:g} s (cut off; the receiver may "
                             "have it)", unknown=True)
        finally:
            call.expire()  # a no-op once the thread is done; ends it otherwise
            self._calls.discard(call)


def _in_thread(work: Callable[[], T]) -> asyncio.Future[T]:
    """`work()` in a daemon thread: unlike `asyncio.to_thread`'s executor,
    whose threads the interpreter joins at exit, a send stuck on a receiver
    never keeps the process alive."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(outcome: Callable[[], None]) -> None:
        if not future.done():
            outcome()

    def run() -> None:
        outcome: Callable[[], None]
        try:
            outcome = functools.partial(future.set_result, work())
        except BaseException as exc:  # handed to the awaiting coroutine
            outcome = functools.partial(future.set_exception, exc)
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(settle, outcome)

    threading.Thread(target=run, name="newsmonitor-send", daemon=True).start()
    return future


@dataclass
class _Target:
    """One URL of a channel, with its own Apprise object."""

    index: int
    masked: str
    apprise: apprise.Apprise

    @classmethod
    def build(cls, index: int, url: str, settings: ChannelSettings,
              redactor: Redactor) -> _Target:
        plugin = instantiate(url, redactor)
        plugin.retry = 0  # a `?retry=N` on the URL would retry inside one attempt
        query = parse_qs(urlsplit(url).query)
        if "cto" not in query:
            plugin.socket_connect_timeout = settings.connect_timeout.total_seconds()
        if "rto" not in query:
            plugin.socket_read_timeout = settings.read_timeout.total_seconds()
        masked = shown(str(plugin.url(privacy=True)))
        target = apprise.Apprise(asset=ASSET)
        target.add(plugin)
        return cls(index, masked, target)

    def send(self, message: Message, priority: Priority, call: Call,
             redactor: Redactor) -> UrlResult:
        """Blocking: one notify call; runs in a worker thread."""
        with watch(call):
            try:
                outcome = self.apprise.notify(
                    body=message.body, title=_title(message), notify_type=_NOTIFY_TYPE[priority],
                    body_format=str(message.format))
            except Exception as exc:  # compartment: one URL; apprise should not raise
                return UrlResult(self.index, self.masked, False,
                                 redactor.scrub(f"{type(exc).__name__}: {exc}"))
        if outcome:
            return UrlResult(self.index, self.masked, True)
        status = call.status
        return UrlResult(self.index, self.masked, False,
                         redactor.scrub(_reason(call, outcome)), _retry_after(call),
                         permanent=_refused_for_good(status), unknown=call.unknown)


def _title(message: Message) -> str:
    """No separate title when the body starts with it (markdown): apprise puts
    the title through each chat dialect unescaped (Telegram makes it bold
    Markdown, so a feed's title could carry a link)."""
    return "" if message.title_in_body else message.title


def _refused_for_good(status: int | None) -> bool:
    """A 4xx says this request is wrong (RFC 9110 15.5): sending it again gets
    the same answer. Except 408 (Request Timeout) and 429 (Too Many Requests),
    which ask for a retry."""
    return status is not None and 400 <= status < 500 and status not in (408, 429)


def _reason(call: Call, outcome: Any) -> str:
    """Why an attempt failed, in our words when requests showed us."""
    if call.expired or call.unknown:
        return "no answer (timed out or cut; the receiver may have it)"
    if call.status is not None and call.status >= 300:
        return f"HTTP {call.status}"
    if call.failure:
        return call.failure
    messages = [entry.message for entry in outcome.logs()
                if entry.level in {"WARNING", "ERROR", "CRITICAL"}]
    return messages[-1] if messages else f"apprise reported {outcome.status.name.lower()}"


def _retry_after(call: Call) -> float | None:
    """Seconds from the last 429's Retry-After (delta or HTTP date), 60 if
    absent or unusable."""
    for status, header in reversed(call.responses):
        if status == 429:
            seconds = parse_retry_after(header, datetime.now(UTC))
            return 60.0 if seconds is None else seconds
    return None

