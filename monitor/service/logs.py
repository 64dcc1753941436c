"""Log set-up: one constant message with key=value fields per line.

Three renderings of the same records:
- a terminal: `2026-11-26 06:00:00 WARNING poll failed feed=x error=...`;
- journald (detected by $JOURNAL_STREAM, as systemd sets it): `<4>poll failed ...`
  with the sd-daemon priority prefix and no timestamp, which journald adds;
- `--log-format json`: one JSON object per line, fields split out, for shippers.
Tracebacks are printed only for records logged with `exc_info` (bugs).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import UTC, datetime
from typing import TextIO

_FIELD = re.compile(r"(\w+)=(\S*)")
_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3,
             logging.CRITICAL: 2}


class JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{_PRIORITY.get(record.levelno, 6)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines())


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        data: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(), "logger": record.name,
            "msg": record.msg if isinstance(record.msg, str) else message,
            "message": message,
        }
        data.update(_FIELD.findall(message))
        if record.exc_info:
            data["traceback"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time of each record (a test
    harness, or a daemon that redirected it), not the one of set-up time."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def setup(fmt: str = "auto", level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Install one handler on the root logger (idempotent)."""
    handler = logging.StreamHandler(stream) if stream else _StderrHandler()
    if fmt == "json":
        handler.setFormatter(JSONFormatter())
    elif fmt == "journal" or (fmt == "auto" and os.environ.get("JOURNAL_STREAM")):
        handler.setFormatter(JournalFormatter("%(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s",
                                               "%Y-%m-%d %H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # apprise logs each failed request itself, with its internals; deliver
    # logs one clean line per outcome instead (deliver.outbox). Its records
    # stay at their level (the notifier reads them per call for a reason it
    # cannot see itself) but never reach our handler.
    apprise_log = logging.getLogger("apprise")
    apprise_log.propagate = False
    if not any(isinstance(h, logging.NullHandler) for h in apprise_log.handlers):
        apprise_log.addHandler(logging.NullHandler())
    # Libraries' own debug and info records stay out even with -v: the
    # database drivers log SQL parameters (a feed URL's password among them,
    # issue 14) and the others are noise beside our one line per event.
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    # A tick still running when its next run comes is skipped on purpose
    # (max_instances=1, coalesce): APScheduler's "maximum number of running
    # instances reached" warning says nothing the user can act on (issue 11).
    logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)


_QUIET = ("apscheduler", "sqlalchemy", "aiosqlite", "asyncpg", "psycopg", "asyncio", "aiohttp",
          "urllib3", "requests", "charset_normalizer", "chardet", "feedparser", "markdown",
          "croniter", "tzlocal")
