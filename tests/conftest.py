"""Fixtures shared by every test module: where ../shared is, and a clean env."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Every fuzz test prints a failing case's reproduction blob
# (`@reproduce_failure(...)`): CI runs on a fresh clone, where no example
# database (.hypothesis/) survives from one run to the next.
settings.register_profile("newsmonitor", print_blob=True)
settings.load_profile("newsmonitor")

# Database fixtures (a SQLite file, PostgreSQL in a schema of its own),
# loopback feed and webhook servers, and the scale-out runs' receivers.
pytest_plugins = ["tests.stores", "tests.servers", "tests.browser", "tests.cluster"]

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


@pytest.fixture(autouse=True, scope="session")
def _state_of_its_own(tmp_path_factory: pytest.TempPathFactory) -> object:
    """A config without `database` keeps its state in $STATE_DIRECTORY, else
    in the user's ~/.local/state: every test, and every daemon it starts,
    gets a folder of the run's own (the CLI fuzzer's `inline.toml` wrote a
    feed "a" into the user's database, where `make run` then showed it as
    another source of the sample's stories)."""
    before = os.environ.get("STATE_DIRECTORY")
    os.environ["STATE_DIRECTORY"] = str(tmp_path_factory.mktemp("state"))
    yield None
    if before is None:
        os.environ.pop("STATE_DIRECTORY", None)
    else:
        os.environ["STATE_DIRECTORY"] = before
