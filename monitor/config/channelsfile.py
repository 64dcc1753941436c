"""The lines of `[monitor] channels_file`, an apprise text config
(`tag[, tag] = url` or bare `url` lines): which channel each URL belongs to.

Here, in config, because a channel named only in that file is a channel of
the config (rules may name it); whether each URL is one apprise can send to
is deliver's business (notifier.sources.load_channels_file). The file holds
secrets, so one readable by group or others is refused.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path

from monitor.errors import ConfigError

_LINE = re.compile(r"^\s*(?:(?P<tags>[^=\s][^=]*?)\s*=\s*)?(?P<url>[A-Za-z][\w+.-]*://\S*)\s*$")

Entries = dict[str, list[tuple[int, str]]]
"""Channel name → its (line number, URL) pairs; untagged URLs under ""."""


def read_channels_file(path: str | Path) -> tuple[Entries, list[tuple[int, str]]]:
    """The file's entries, and (line number, `file:line: ...`) per bad line;
    ConfigError when the file cannot be read or is not private."""
    path = Path(path)
    _check_private(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    problems: list[tuple[int, str]] = []
    entries: Entries = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith(("#", ";")):
            continue
        match = _LINE.match(line)
        if match is None:
            problems.append((number, f"{path}:{number}: expected `tag = url` or `url`"))
            continue
        for tag in re.split(r"[\s,]+", match["tags"] or "") or [""]:
            entries.setdefault(tag, []).append((number, match["url"]))
    return entries, problems


def channel_names(path: str | Path) -> set[str]:
    """The channels the file names; none when it cannot be read (the
    channels' build reports why, once)."""
    try:
        entries, _ = read_channels_file(path)
    except ConfigError:
        return set()
    return {tag for tag in entries if tag}


def _check_private(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{path}: holds secrets but is readable by group or others "
                          f"(mode {stat.S_IMODE(mode):04o}); run chmod 600 {path}")
