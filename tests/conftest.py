"""Fixtures shared by every test module: where ../shared is, and a clean env."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Database fixtures (a SQLite file, PostgreSQL in a schema of its own), and
# loopback feed and webhook servers.
pytest_plugins = ["tests.stores", "tests.servers", "tests.browser"]

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """The shared/ folder beside the clone (CI lays it there), or $NEWSMONITOR_SHARED."""
    env = os.environ.get("NEWSMONITOR_SHARED")
    candidates = [Path(env)] if env else []
    candidates += [REPO.parent / "shared", Path("/work/shared")]
    for path in candidates:
        if (path / "corpus" / "MANIFEST.tsv").is_file():
            return path
    pytest.skip("shared/ (corpus and eval set) not found beside the repository; "
                "set NEWSMONITOR_SHARED")


@pytest.fixture
def shared() -> Path:
    return shared_dir()
