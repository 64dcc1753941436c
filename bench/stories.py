"""Story grouping: the cost of attaching one item with 10,000 stories open.

    PYTHONPATH=. python bench/stories.py [--stories 10000] [--measure 2000]
                                         [--days 4] [--seed 1]

Seeded. Items are French-looking headlines and summaries of common words and
a Zipf-distributed synthetic vocabulary (names, rare words); 30% of them
reword an earlier story (four of its five names, in another order, with
other words). The index is first filled with --stories stories (their items
all dated at the start), then the clock moves on at the rate that fills one
window (48 hours) with as many items, and --measure items are attached one
at a time: the wall-clock and CPU time (time.process_time) of each `attach`
are recorded and p50, p99 and max printed, with the number of open stories
and the load average (the machine is shared: a disturbed wall-clock figure
shows as such beside the CPU one). Then the clock runs on for --days at the
same rate and the open stories, counted stems and memory (tracemalloc, from
the start of the run-on) are printed each simulated day: they level off once
the filled stories have left the window (by day 2) and stay flat after.

Target (issue 12): p99 under 5 ms with 10,000 stories in the window.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import statistics
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

from monitor.models import Item
from monitor.stories import StoryIndex, StorySettings


def _vocab(text: str) -> list[str]:
    return text.split()


COMMON = _vocab("le la les de des du un une et en au aux pour par sur dans avec que qui est "
          "groupe société marché année prix usine emploi salariés direction projet accord "
          "hausse baisse gouvernement ministre région ville résultats trimestre annonce "
          "milliards millions euros nouvelle plan ventes chiffre affaires")
SYLLABLES = _vocab("ka lo mi ra ve to sa ne ri po da fe lu cha tré bé mon ar vil gor dan pel")


class Newsroom:
    """Seeded generator of headlines, new or reworded."""

    def __init__(self, seed: int, vocabulary: int = 40_000) -> None:
        self.rng = random.Random(seed)
        self.words = [self._word() for _ in range(vocabulary)]
        self.cumulative = list(itertools.accumulate(1.0 / (rank + 1)
                                                    for rank in range(vocabulary)))
        self.told: list[list[str]] = []

    def _word(self) -> str:
        return "".join(self.rng.choice(SYLLABLES) for _ in range(self.rng.randint(2, 4)))

    def _rare(self, count: int) -> list[str]:
        return self.rng.choices(self.words, cum_weights=self.cumulative, k=count)

    def item(self, number: int, at: datetime) -> Item:
        if self.told and self.rng.random() < 0.3:
            core = self.rng.sample(self.rng.choice(self.told), 4)
        else:
            core = [w.capitalize() for w in self._rare(5)]
            self.told.append(core)
            del self.told[:-2000]
        title = core + self._rare(3) + self.rng.sample(COMMON, 3)
        summary = core + self._rare(12) + self.rng.sample(COMMON, 10)
        self.rng.shuffle(title)
        self.rng.shuffle(summary)
        return Item(feed=f"feed{number % 40}", id=str(number), title=" ".join(title),
                    summary=" ".join(summary), link=f"https://news.example/{number}",
                    published=at)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=10_000)
    parser.add_argument("--measure", type=int, default=2_000)
    parser.add_argument("--days", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    settings = StorySettings()
    index, room = StoryIndex(settings), Newsroom(args.seed)
    start = datetime(2026, 3, 9, tzinfo=UTC)
    number = 0
    while len(index) < args.stories:  # fill: items spread over one window
        number += 1
        index.attach(room.item(number, start), start)
    step = settings.window / number  # the same rate from now on
    now = start
    wall, cpu = [], []
    load = os.getloadavg()[0]
    for _ in range(args.measure):
        number, now = number + 1, now + step
        item = room.item(number, now)
        began, began_cpu = time.perf_counter(), time.process_time()
        index.attach(item, now)
        cpu.append((time.process_time() - began_cpu) * 1000)
        wall.append((time.perf_counter() - began) * 1000)
    print(f"attach with {len(index)} open stories ({number} items in the window), "
          f"load average {load:.1f} → {os.getloadavg()[0]:.1f}:")
    for name, timings in (("wall", wall), ("cpu", cpu)):
        timings.sort()
        print(f"  {name}: p50 {statistics.median(timings):.2f} ms, "
              f"p99 {timings[int(len(timings) * 0.99)]:.2f} ms, max {timings[-1]:.2f} ms")
    _run_on(index, room, number, now, step, args.days)


def _run_on(index: StoryIndex, room: Newsroom, number: int, now: datetime,
            step: timedelta, days: int) -> None:
    """Days more at the same rate: open stories and memory stay flat."""
    tracemalloc.start()
    per_day = int(timedelta(days=1) / step)
    for day in range(1, days + 1):
        for _ in range(per_day):
            number, now = number + 1, now + step
            index.attach(room.item(number, now), now)
        current, peak = tracemalloc.get_traced_memory()
        print(f"day {day}: {len(index)} open stories, {len(index.rarity.counts)} stems counted, "
              f"traced {current / 2**20:.0f} MiB (peak {peak / 2**20:.0f} MiB)")


if __name__ == "__main__":
    main()
