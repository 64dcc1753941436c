"""The numbers behind each chart, and their geometry as SVG bars. Pure.

A chart is days on the x axis and one or more stacked series of counts (or
one series of seconds); `Chart.data()` is what the golden tests compare, and
`bars()` places rectangles in a fixed viewBox that the page scales (the SVG
is drawn by the template: no script, nothing for the Content-Security-Policy
to allow). Days are UTC day numbers, as store/views.py counts them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from monitor.store.views import DAY, DayCount, PollDay

# Colour-blind-safe (Okabe–Ito); the last one is "other".
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442",
           "#000000")
OTHER = "#999999"
RESULT_COLOURS = {"new": "#009e73", "no_new_items": "#56b4e9", "unchanged": "#0072b2",
                  "not_modified": "#0072b2", "error": "#d55e00"}
WIDTH, HEIGHT, TOP_SERIES = 600.0, 150.0, 7


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: tuple[float, ...]
    colour: str


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    days: tuple[int, ...]
    series: tuple[Series, ...]
    unit: str = ""

    def data(self) -> dict[str, object]:
        """The chart as plain data: dates and each series' values."""
        return {"title": self.title, "unit": self.unit, "days": [iso_day(d) for d in self.days],
                "series": {s.name: list(s.values) for s in self.series}}

    @property
    def empty(self) -> bool:
        return not any(v for s in self.series for v in s.values)


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    label: str  # the tooltip: day, series and value


def iso_day(day: int) -> str:
    return datetime.fromtimestamp(day * DAY, UTC).strftime("%Y-%m-%d")


def window(now: float, days: int) -> tuple[int, ...]:
    """The last `days` UTC days, today included, oldest first."""
    today = int(now // DAY)
    return tuple(range(today - days + 1, today + 1))


def stacked(title: str, counts: Iterable[DayCount], days: Sequence[int],
            top: int = TOP_SERIES, colours: dict[str, str] | None = None) -> Chart:
    """Counts per day and key; the `top` keys by total each a series, the
    rest summed into "other" (a hundred rules cannot each have a colour)."""
    table: dict[str, dict[int, int]] = defaultdict(dict)
    for c in counts:
        table[c.key][c.day] = table[c.key].get(c.day, 0) + c.count
    ranked = sorted(table, key=lambda k: (-sum(table[k].values()), k))
    series = [Series(k, tuple(float(table[k].get(d, 0)) for d in days),
                     (colours or {}).get(k, PALETTE[i % len(PALETTE)]))
              for i, k in enumerate(ranked[:top])]
    rest = ranked[top:]
    if rest:
        series.append(Series(f"other ({len(rest)})", tuple(
            float(sum(table[k].get(d, 0) for k in rest)) for d in days), OTHER))
    return Chart(title, tuple(days), tuple(series))


def poll_charts(polls: Sequence[PollDay], days: Sequence[int]) -> tuple[Chart, Chart, Chart]:
    """A feed's polls per day by result, their mean latency, and new items."""
    by_result = stacked("Polls per day, by result",
                        [DayCount(p.day, p.result, p.count) for p in polls], days,
                        colours=RESULT_COLOURS)
    total: dict[int, float] = defaultdict(float)
    count: dict[int, int] = defaultdict(int)
    new: dict[int, int] = defaultdict(int)
    for p in polls:
        total[p.day] += p.latency_avg * p.count
        count[p.day] += p.count
        new[p.day] += p.new_items
    latency = Series("mean latency", tuple(
        round(total[d] / count[d], 3) if count[d] else 0.0 for d in days), PALETTE[0])
    items = Series("new items", tuple(float(new[d]) for d in days), PALETTE[2])
    return (by_result, Chart("Mean poll latency", tuple(days), (latency,), "s"),
            Chart("New items per day", tuple(days), (items,)))


def bars(chart: Chart) -> list[Bar]:
    """The stacked bars of `chart` in a WIDTH × HEIGHT box, y growing down."""
    top = peak(chart) or 1.0
    step = WIDTH / max(len(chart.days), 1)
    out: list[Bar] = []
    for i, day in enumerate(chart.days):
        base = HEIGHT
        for s in chart.series:
            height = s.values[i] / top * HEIGHT
            if height:
                base -= height
                label = f"{iso_day(day)} {s.name}: {s.values[i]:g}{chart.unit}"
                out.append(Bar(round(i * step + 1, 2), round(base, 2), round(step - 2, 2),
                               round(height, 2), s.colour, label))
    return out


def peak(chart: Chart) -> float:
    """The top of the y axis: the tallest stack."""
    return max((sum(s.values[i] for s in chart.series) for i in range(len(chart.days))),
               default=0.0)
