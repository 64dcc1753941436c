"""The crash storm, shortened (issue 14): 30 SIGKILLs at random moments of a
daemon polling a growing feed and delivering to a webhook; every matching
item arrives, and a duplicate only for a send in flight at a kill (see
tests/crash_storm.py; bench/crash.py runs the long one on both backends)."""

from __future__ import annotations

from pathlib import Path

from tests.crash_storm import Storm

KILLS = 30


def test_thirty_kills_lose_nothing_and_duplicate_only_sends_in_flight(tmp_path: Path) -> None:
    storm = Storm(tmp_path, str(tmp_path / "state.sqlite3"), kills=KILLS, seed=14,
                  kill_after=(0.8, 2.5), every=0.5)
    result = storm.run()
    print(result.report())  # with -s: the figures
    assert result.matched > KILLS, result.report()
    assert result.lost == 0, result.report()
    assert result.unexpected == 0, result.report()
    assert result.duplicates == result.attributed, result.report()
