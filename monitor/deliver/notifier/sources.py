"""Where channel URLs come from besides the config: an apprise text file and
systemd credentials. Both hold secrets, so a file readable by group or
others is refused."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path

from monitor.deliver.notifier.urls import validate_url
from monitor.errors import ConfigError

_LINE = re.compile(r"^\s*(?:(?P<tags>[^=\s][^=]*?)\s*=\s*)?(?P<url>[A-Za-z][\w+.-]*://\S*)\s*$")


def load_channels_file(path: str | Path) -> dict[str, list[str]]:
    """An apprise text config file (`tag[, tag] = url` or bare `url` lines)
    → {tag: [url, ...]}; untagged URLs go under "". Every problem is reported,
    each with `file:line`; a file readable by group or others is refused."""
    path = Path(path)
    _check_private(path)
    problems: list[str] = []
    channels: dict[str, list[str]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith(("#", ";")):
            continue
        match = _LINE.match(line)
        if match is None:
            problems.append(f"{path}:{number}: expected `tag = url` or `url`")
            continue
        error = validate_url(match["url"])
        if error:
            problems.append(f"{path}:{number}: {error}")
        for tag in re.split(r"[\s,]+", match["tags"] or "") or [""]:
            channels.setdefault(tag, []).append(match["url"])
    if problems:
        raise ConfigError(problems)
    return channels


def _check_private(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{path}: holds secrets but is readable by group or others "
                          f"(mode {stat.S_IMODE(mode):04o}); run chmod 600 {path}")


def credentials_dir_urls(name: str, environ: Mapping[str, str] = os.environ) -> list[str]:
    """URLs, one a line, from systemd's `$CREDENTIALS_DIRECTORY/<name>`
    (LoadCredential=); [] when the variable is unset."""
    directory = environ.get("CREDENTIALS_DIRECTORY")
    if not directory:
        return []
    path = Path(directory) / name
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read credential: {exc.strerror}") from exc
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]
