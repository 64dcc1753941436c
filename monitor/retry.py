"""Retrying: the one backoff formula polls and deliveries share, and the
server's own wish (Retry-After). Pure: `now` is an argument.

A failing feed and a refused alert are retried the same way: the first
wait, doubled at each further failure, never past a cap. The caller adds
jitter (polls) or the server's Retry-After as a lower bound (both).
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def backoff(first: float, attempt: int, cap: float, factor: float = 2.0) -> float:
    """Seconds to wait after `attempt` consecutive failures (1 for the
    first): `first * factor**(attempt-1)`, at most `cap`."""
    exponent = max(attempt - 1, 0)
    if first <= 0 or factor <= 1:
        return min(first, cap)
    # Compared before the power is taken: absurd counts would overflow it.
    if exponent > 64:
        return cap
    return float(min(first * factor**exponent, cap))


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Retry-After (RFC 9110 section 10.2.3) as seconds from `now`.

    Both forms: delta-seconds ("120") and HTTP-date ("Wed, 21 Oct 2015
    07:28:00 GMT"). A date in the past gives 0; garbage gives None.
    """
    value = (value or "").strip()
    if value.isdigit():
        return float(value)
    when = http_date(value)
    return max((when - now).total_seconds(), 0.0) if when else None


def http_date(value: str) -> datetime | None:
    """An HTTP-date (RFC 9110 section 5.6.7) as an aware datetime, or None."""
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    # RFC 9110 dates are GMT; a date without a zone is taken as UTC too.
    return when if when.tzinfo else when.replace(tzinfo=UTC)
