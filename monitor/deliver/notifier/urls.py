"""Apprise URLs: validation, privacy masking, and keeping their secrets out of
every log record and message (`_Redactor` on the `apprise` logger)."""

from __future__ import annotations

import contextvars
import logging
import re
import threading
import warnings
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import apprise
from apprise.manager_plugins import NotificationManager

from monitor.errors import ConfigError

# --- secrets ------------------------------------------------------------------

_SPLIT = re.compile(r"[/:@?&=#,\s]+")


def url_secrets(url: str) -> set[str]:
    """The pieces of `url` that apprise's privacy mask hides.

    A piece (split on URL delimiters) counts when it is absent from the masked
    form and at least 4 characters long; unparseable URLs count whole.
    """
    # Apprise logs a refused URL's tokens while parsing it, before we know
    # which pieces are secret: its records are dropped during this one call.
    token = _MUTED.set(True)
    try:
        masked = _privacy_url(url)
    finally:
        _MUTED.reset(token)
    if masked is None:
        return {p for p in _pieces(url) if len(p) >= 4} | {url}
    shown = set(_pieces(masked))
    return {p for p in _pieces(url) if len(p) >= 4 and p not in shown}


def _pieces(url: str) -> Iterator[str]:
    body = url.split("://", 1)[-1]
    for piece in _SPLIT.split(body):
        yield piece
        yield unquote(piece)


_MUTED = contextvars.ContextVar("newsmonitor_apprise_muted", default=False)


class _Redactor(logging.Filter):
    """Scrubs every known secret from the `apprise` logger's records.

    Apprise sometimes quotes a bad token in its own warnings ("An invalid
    Slack Token (xoxb-...) was specified"); a filter on its logger is the one
    place that sees every such record, including those apprise captures into
    its per-attempt results (the filter runs before any handler).
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()

    def learn(self, url: str) -> None:
        with self._lock:
            known = set(self._secrets) | url_secrets(url)
            self._secrets = tuple(sorted(known, key=len, reverse=True))

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "****")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if _MUTED.get():
            return False
        record.msg, record.args = self.scrub(record.getMessage()), None
        return True


# Apprise loads its plugins lazily on first use; its PGP helper imports
# `imghdr`, deprecated since Python 3.11, and under warnings-as-errors (our
# tests) that import would fail inside whatever call came first. Load them
# once here with that one warning silenced.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="'imghdr' is deprecated",
                            category=DeprecationWarning)
    NotificationManager().load_modules()  # type: ignore[no-untyped-call]

_REDACTOR = _Redactor()
logging.getLogger("apprise").addFilter(_REDACTOR)


# --- URLs -------------------------------------------------------------------

# Our outbox retries with backoff; a service-level retry would hide attempts.
_ASSET = apprise.AppriseAsset(default_service_retry=0)


def _privacy_url(url: str) -> str | None:
    plugin: Any = apprise.Apprise.instantiate(url, asset=_ASSET, suppress_exceptions=True)
    return None if plugin is None else str(plugin.url(privacy=True))


def _instantiate(url: str) -> Any:
    """The apprise plugin for `url`; raises ConfigError (secret-free) if refused."""
    _REDACTOR.learn(url)
    try:
        plugin = apprise.Apprise.instantiate(url, asset=_ASSET, suppress_exceptions=False)
    except Exception as exc:  # apprise raises its own and TypeError/ValueError
        raise ConfigError(f"{_scheme(url)}://…: {_REDACTOR.scrub(str(exc))}") from None
    if plugin is None:
        scheme = _scheme(url)
        known = scheme.lower() in NotificationManager()  # type: ignore[no-untyped-call]
        why = "malformed URL (see apprise's docs for this service)" if known else (
            "unknown URL scheme")
        raise ConfigError(f"{scheme}://…: {why}")
    return plugin


def _scheme(url: str) -> str:
    return url.split("://", 1)[0] if "://" in url else "?"


def validate_url(url: str) -> str | None:
    """None if apprise accepts `url`, else a message without its secrets."""
    try:
        _instantiate(url)
    except ConfigError as exc:
        return str(exc)
    return None


def mask_url(url: str) -> str:
    """`url` as apprise shows it with privacy on (tokens and passwords hidden)."""
    _REDACTOR.learn(url)
    masked = _privacy_url(url)
    return masked if masked is not None else f"{_scheme(url)}://****"
