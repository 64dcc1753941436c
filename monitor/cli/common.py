"""What every subcommand shares: exit codes, where the config is, cutting text."""

from __future__ import annotations

import argparse
from pathlib import Path

from monitor.config import find_config

EXIT_OK, EXIT_CONFIG, EXIT_USAGE, EXIT_RUNTIME = 0, 1, 2, 3
# 128 + the signal, as a shell reports a program the signal ended: SIGINT,
# and SIGPIPE (the reader of our output went away: `newsmonitor ... | head`).
EXIT_INTERRUPTED, EXIT_PIPE = 130, 141


def config_path(args: argparse.Namespace) -> Path:
    return find_config(args.config)


def cut(text: str, width: int) -> str:
    """`text` in at most `width` characters, an ellipsis showing a cut."""
    return text if len(text) <= width else text[:width - 1] + "…"
