"""The crash storm, shortened (issue 14): 30 SIGKILLs at random moments of a
daemon polling a growing feed and delivering to a webhook, on SQLite (the
suite's time budget: PostgreSQL's storm is bench/crash.py's, 200 kills, in
the README). Every matching item arrives (none lost, none grouped into
another item's story: each carries words of its own), and an item arrives
twice only for a send in flight at a kill (accepted by the receiver, not yet
recorded as sent). The figures go to the test's output (-s) and to its
record_property (junit XML). See tests/crash_storm.py; bench/crash.py runs
the long storm.

Each daemon's interpreter starts, held before `main()`, while the one before
runs (tests/daemon_proc.py `held`): restarts then cost no imports, and thirty
fit in about a minute. (`database_url` of tests/stores.py gives the same
test on PostgreSQL, where every start is a new instance and a killed one's
claims are released once it is `instance_timeout` silent, 3 s here: 75 s,
5 duplicates all in flight, in its last run.)
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.poll.parser import parse_feed
from monitor.stories import StoryIndex
from tests.crash_storm import NOT_MATCHING, Storm, feed_body

KILLS = 30


def test_thirty_kills_lose_nothing_and_duplicate_only_sends_in_flight(
        tmp_path: Path, record_property: pytest.RecordProperty) -> None:
    database_url = str(tmp_path / "state.sqlite3")
    storm = Storm(tmp_path, database_url, kills=KILLS, seed=14, every=1.0,
                  kill_after=(0.2, 2.5), prestart=True, kill_from="main", drain=60.0,
                  monitor={"instance_timeout": "3s"})
    result = storm.run()
    report = result.report()
    record_property("crash_storm", report)
    print(f"\ncrash storm on {'postgresql' if '://' in database_url else 'sqlite'}:\n{report}")
    assert len(storm.killed_at) == KILLS, report
    assert result.matched > KILLS, report
    assert result.grouped == 0, report
    assert result.lost == 0, report
    assert result.unseen == 0, report
    assert result.summarized <= result.hidden, report
    assert result.unexpected == 0, report
    assert result.duplicates == result.attributed, report


@pytest.mark.parametrize("order", ["oldest first", "newest first"])
def test_each_generated_item_is_a_story_of_its_own(order: str) -> None:
    # What made the held-back storm "lose" 4-6 items: the generator's items
    # of a cold window were grouped into one story, which alerts once.
    published = [(n, n % NOT_MATCHING != NOT_MATCHING - 1) for n in range(40)]
    items = parse_feed(feed_body(published), {}, "grows").items
    index, now = StoryIndex(), datetime.now(UTC)
    ordered = list(reversed(items)) if order == "oldest first" else list(items)
    stories = {index.attach(item, now) for item in ordered}
    assert len(stories) == len(items) == len(published)
