"""Reading one config file: a regular file under `MAX_BYTES`, strict UTF-8, TOML.

Every way a file can be unusable becomes one problem line naming the file
(and the line and column where there is one), never an exception: `include`
may name anything, e.g. `/dev/zero` (endless: the reload would eat memory),
a FIFO (opening it would block until a writer came), a symlink loop, a
binary or Latin-1 file, or arrays nested deeper than tomllib's recursion
allows.
"""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path
from typing import Any

from monitor.errors import ConfigError

# Far above any real config or rules file, far below memory trouble.
MAX_BYTES = 4 * 1024 * 1024


class _Unusable(Exception):
    """Why a file cannot be a config file; the message names no path."""


def read_toml(path: Path, problems: list[str]) -> dict[str, Any] | None:
    """The TOML table in `path`; None (and a line in `problems`) when there is none."""
    try:
        return tomllib.loads(read_text(path))
    except ConfigError as exc:
        problems += exc.problems
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"{path}: TOML syntax error: {exc}")
    except RecursionError:
        problems.append(f"{path}: TOML syntax error: arrays or tables nested too deep")
    return None


def read_text(path: Path) -> str:
    """The text of a file the config names (also a template or channels file);
    ConfigError, one line naming `path`, unless it is a regular UTF-8 file of
    at most MAX_BYTES."""
    try:
        return _read_text(path)
    except _Unusable as exc:
        raise ConfigError(f"{path}{exc}") from None
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def resolved(path: Path) -> Path:
    """`path` absolute, symlinks resolved; only made absolute when a symlink
    loop stops that (Python 3.11 raises RuntimeError), so that opening it
    reports the loop as the file's problem."""
    try:
        return path.resolve()
    except RuntimeError:
        return Path(os.path.abspath(path))


def _read_text(path: Path) -> str:
    # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _Unusable(": not a regular file")
        data = fh.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise _Unusable(f": larger than {MAX_BYTES // 1024 // 1024} MiB")
    return _decoded(data)


def _decoded(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - data.rfind(b"\n", 0, exc.start)
        raise _Unusable(f":{line}:{column}: not UTF-8 (byte 0x{data[exc.start]:02x}); "
                        "save the file as UTF-8") from None
