"""Where channel URLs come from besides the config: an apprise text file and
systemd credentials. Both hold secrets, so a file readable by group or
others is refused."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from monitor.config.channelsfile import read_channels_file
from monitor.deliver.notifier.urls import validate_url
from monitor.errors import ConfigError


def load_channels_file(path: str | Path) -> dict[str, list[str]]:
    """An apprise text config file (`tag[, tag] = url` or bare `url` lines)
    → {tag: [url, ...]}; untagged URLs go under "". Every problem is reported,
    each with `file:line`; a file readable by group or others is refused."""
    entries, problems = read_channels_file(path)
    channels = {tag: [url for _, url in lines] for tag, lines in entries.items()}
    # Each line once (a line may carry several tags), in file order.
    urls = sorted({line for lines in entries.values() for line in lines})
    problems += [(number, f"{path}:{number}: {error}") for number, url in urls
                 if (error := validate_url(url))]
    if problems:
        raise ConfigError([problem for _, problem in sorted(problems)])
    return channels


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
