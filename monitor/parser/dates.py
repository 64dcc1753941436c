"""An entry's publication time as an aware UTC datetime, or None.

feedparser's RFC 822 parser knows a dozen US zone names and silently reads
any other name as +0000 (feedparser/datetimes/rfc822.py: `timezone_names.get
(tz, 0)`): "10:00 CET" from a German feed becomes 10:00 UTC, an hour late.
So when the raw date ends in a zone name feedparser does not know, we apply
the offset ourselves from `EXTRA_ZONES`, else the numeric offset the same
feed uses elsewhere, else we return None: `published` is only a hint, and
no date is better than a wrong one.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

# Names feedparser 6 resolves itself (rfc822.timezone_names, plus "etc/" and
# "gmt+hh:mm" forms it normalises).
_FEEDPARSER_ZONES = frozenset(
    ["ut", "gmt", "z", "adt", "ast", "at", "edt", "est", "et", "cdt", "cst", "ct", "mdt",
     "mst", "mt", "pdt", "pst", "pt", "a", "n", "m", "y", "met", "mest"]
)
# Common abbreviations in news feeds, hours east of UTC. Ambiguous ones (IST:
# India/Ireland/Israel, BST, CST...) are taken in the sense news feeds use most.
EXTRA_ZONES: Mapping[str, float] = {
    "cet": 1, "cest": 2, "eet": 2, "eest": 3, "wet": 0, "west": 1, "bst": 1,
    "msk": 3, "ist": 5.5, "pkt": 5, "hkt": 8, "sgt": 8, "jst": 9, "kst": 9,
    "awst": 8, "acst": 9.5, "aest": 10, "aedt": 11, "nzst": 12, "nzdt": 13,
    "hst": -10, "akst": -9, "akdt": -8, "brt": -3, "art": -3, "utc": 0,
}
_TRAILING_ZONE = re.compile(r"\d\d(?::\d\d)?\s+\(?([A-Za-z]{1,5})\)?\s*$")
_NUMERIC_OFFSET = re.compile(r"([+-])(\d\d):?(\d\d)\s*$")


def published(entry: dict[str, Any], feed_offset: timedelta | None) -> datetime | None:
    """The entry's published (else updated) time in UTC; see module doc."""
    for key in ("published", "updated"):
        # dict.get: feedparser's own .get("updated") falls back to "published"
        # with a DeprecationWarning (its issue 310).
        raw, parsed = dict.get(entry, key), dict.get(entry, f"{key}_parsed")
        if raw and parsed:
            return _fix_zone(str(raw), _to_datetime(parsed), feed_offset)
    return None


def feed_offset(raw_dates: Iterable[str]) -> timedelta | None:
    """The numeric UTC offset most used by a feed's dates ("+0100"), if any."""
    offsets = Counter(
        _offset(match) for raw in raw_dates if (match := _NUMERIC_OFFSET.search(raw.strip()))
    )
    return offsets.most_common(1)[0][0] if offsets else None


def _fix_zone(raw: str, as_utc: datetime | None, fallback: timedelta | None) -> datetime | None:
    match = _TRAILING_ZONE.search(raw)
    if as_utc is None or match is None:
        return as_utc
    zone = match.group(1).lower()
    if zone in _FEEDPARSER_ZONES:
        return as_utc
    # feedparser took the local time as UTC: shift it by the real offset.
    if zone in EXTRA_ZONES:
        return as_utc - timedelta(hours=EXTRA_ZONES[zone])
    return as_utc - fallback if fallback is not None else None


def _offset(match: re.Match[str]) -> timedelta:
    sign = -1 if match.group(1) == "-" else 1
    return sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3)))


def _to_datetime(parsed: time.struct_time) -> datetime | None:
    try:
        return datetime(*parsed[:6], tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None
