"""Where the shared feed corpus is, and its MANIFEST rows, for the poll tests.

CI clones the repository beside shared/ (<somewhere>/main, <somewhere>/shared);
elsewhere set NEWSMONITOR_SHARED. Tests that need it are skipped, not failed,
when it is missing.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path | None:
    """The shared/ folder beside the clone, else $NEWSMONITOR_SHARED, else the
    development machine's /work/shared (as tests/conftest.py on main), else None."""
    candidates = [REPO.parent / "shared"]
    if env := os.environ.get("NEWSMONITOR_SHARED"):
        candidates.append(Path(env))
    candidates.append(Path("/work/shared"))
    return next((p for p in candidates if (p / "corpus" / "MANIFEST.tsv").is_file()), None)


@dataclass(frozen=True, slots=True)
class Row:
    """One MANIFEST.tsv row: `path` is relative to the corpus folder."""

    path: str
    item_count: int
    notes: str

    @property
    def name(self) -> str:
        return Path(self.path).name

    @property
    def real(self) -> bool:
        return self.path.startswith("feeds/real/")

    def read(self) -> bytes:
        return corpus_dir().joinpath(self.path).read_bytes()


def corpus_dir() -> Path:
    shared = shared_dir()
    if shared is None:
        pytest.skip("shared/corpus not found beside the repository; set NEWSMONITOR_SHARED")
    return shared / "corpus"


@cache
def manifest() -> tuple[Row, ...]:
    """Every MANIFEST row, or () when the corpus is absent (tests then skip)."""
    shared = shared_dir()
    if shared is None:
        return ()
    with open(shared / "corpus" / "MANIFEST.tsv", encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(handle, delimiter="\t")
        return tuple(Row(r["path"], int(r["item_count"]), r["notes"]) for r in rows)


def read(name: str) -> bytes:
    """The bytes of the corpus file called `name` (in real/ or malformed/)."""
    row = next((r for r in manifest() if r.name == name), None)
    if row is None:
        pytest.skip(f"corpus file {name} not found")
    return row.read()
