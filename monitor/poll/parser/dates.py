"""An entry's publication time as an aware UTC datetime, or None.

feedparser 6 reads RFC 822 dates with English day and month names only.
UOL Noticias (pt_uol-noticias in the corpus) writes "Seg, 24 Set 2018
19:42:40 -0300", and French, Spanish, Italian, German and Dutch sites do the
same in their language ("lun., 24 sept. 2018", "Mo., 24. Sep. 2018"): such
entries come with the raw date but no `*_parsed`. For them only, we translate
the day and month names (`WEEKDAYS`, `MONTHS`) to English and run feedparser's
own RFC 822 parser on the result. The position decides which table a name is
looked up in: "mar" before the day of the month is Tuesday (French, Spanish,
Italian), after it March. A name in neither table, or a date of another shape,
gives None; the day name is not checked against the date (feedparser does
not check English ones either). The zone fix below applies to the result.

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
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

# The handler feedparser itself ran on the raw date (private, but stable
# through feedparser 6).
from feedparser.datetimes.rfc822 import _parse_date_rfc822

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
# Spellings of each English name in French, Portuguese, Spanish, Italian,
# German and Dutch (and English), full and abbreviated, lower case without
# accents ("févr." is looked up as "fevr"). A spelling that could mean two
# months, such as "jui" (juin or juillet), is left out: no date beats a guess.
WEEKDAYS: Mapping[str, str] = {
    "Mon": "mon monday lun lundi lunes lunedi seg segunda segunda-feira mo montag ma maandag",
    "Tue": "tue tuesday mar mardi martes martedi ter terca terca-feira di dienstag dinsdag",
    "Wed": "wed wednesday mer mercredi mie miercoles mercoledi qua quarta quarta-feira"
           " mi mittwoch wo woensdag",
    "Thu": "thu thursday jeu jeudi jue jueves gio giovedi qui quinta quinta-feira"
           " do donnerstag donderdag",
    "Fri": "fri friday ven vendredi vie viernes venerdi sex sexta sexta-feira fr freitag"
           " vr vrijdag",
    "Sat": "sat saturday sam samedi sab sabado sabato sa samstag sonnabend za zaterdag",
    "Sun": "sun sunday dim dimanche dom domingo domenica so sonntag zo zondag",
}
MONTHS: Mapping[str, str] = {
    "Jan": "jan january janv janvier ene enero gen gennaio janeiro januar janner januari",
    "Feb": "feb february fev fevr fevrier febrero febbraio fevereiro februar feber februari",
    "Mar": "mar march mars marzo marco marz maerz mrz mrt maart",
    "Apr": "apr april avr avril abr abril aprile",
    "May": "may mai mayo mag maggio maio mei",
    "Jun": "jun june juin junio giu giugno junho juni",
    "Jul": "jul july juil juillet julio lug luglio julho juli",
    "Aug": "aug august aout ago agosto augustus",
    "Sep": "sep sept september septembre septiembre setiembre set settembre setembro",
    "Oct": "oct october octobre octubre ott ottobre out outubro okt oktober",
    "Nov": "nov november novembre noviembre novembro",
    "Dec": "dec december decembre dic diciembre dicembre dez dezembro dezember",
}
_NAME = r"[^\W\d_]+(?:-[^\W\d_]+)*"  # letters, or hyphenated: "segunda-feira"
# [weekday[.][,]] day[.] month[.][,] year ...: the RFC 822 order, with the
# dots of abbreviations ("lun.", "sept.") and of German day numbers ("24.").
_LOCALIZED = re.compile(
    rf"\s*(?:(?P<weekday>{_NAME})\.?,?\s+)?(?P<day>\d{{1,2}})\.?\s+"
    rf"(?P<month>{_NAME})\.?,?\s+(?P<rest>\d.*)",
    re.DOTALL,
)
_TRAILING_ZONE = re.compile(r"\d\d(?::\d\d)?\s+\(?([A-Za-z]{1,5})\)?\s*$")
_NUMERIC_OFFSET = re.compile(r"([+-])(\d\d):?(\d\d)\s*$")


def published(entry: dict[str, Any], feed_offset: timedelta | None) -> datetime | None:
    """The entry's published (else updated) time in UTC; see module doc."""
    for key in ("published", "updated"):
        # dict.get: feedparser's own .get("updated") falls back to "published"
        # with a DeprecationWarning (its issue 310).
        raw, parsed = dict.get(entry, key), dict.get(entry, f"{key}_parsed")
        if raw and not parsed:
            parsed = _parse_localized(str(raw))
        if raw and parsed:
            return _fix_zone(str(raw), _to_datetime(parsed), feed_offset)
    return None


def feed_offset(raw_dates: Iterable[str]) -> timedelta | None:
    """The numeric UTC offset most used by a feed's dates ("+0100"), if any."""
    offsets = Counter(
        _offset(match) for raw in raw_dates if (match := _NUMERIC_OFFSET.search(raw.strip()))
    )
    return offsets.most_common(1)[0][0] if offsets else None


def _parse_localized(raw: str) -> time.struct_time | None:
    """`raw` with its day and month names in English, as feedparser reads it."""
    match = _LOCALIZED.fullmatch(raw)
    if match is None:
        return None
    weekday = match.group("weekday")
    month = _ENGLISH_MONTHS.get(_fold(match.group("month")))
    if month is None or (weekday and _fold(weekday) not in _ENGLISH_WEEKDAYS):
        return None
    prefix = f"{_ENGLISH_WEEKDAYS[_fold(weekday)]}, " if weekday else ""
    parsed: time.struct_time | None = _parse_date_rfc822(
        f"{prefix}{match.group('day')} {month} {match.group('rest')}")
    return parsed


def _to_english(spellings: Mapping[str, str]) -> dict[str, str]:
    """Each spelling → its English name; one spelling for two names is a bug."""
    english: dict[str, str] = {}
    for name, words in spellings.items():
        for word in words.split():
            if english.setdefault(word, name) != name:
                raise ValueError(f"{word!r} is both {english[word]} and {name}")
    return english


_ENGLISH_WEEKDAYS = _to_english(WEEKDAYS)
_ENGLISH_MONTHS = _to_english(MONTHS)


def _fold(name: str) -> str:
    """Lower case without accents: "Févr" → "fevr", "Mär" → "mar"."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


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
