"""Charts as plain geometry: the templates draw them as inline SVG, so no chart library is needed
and every chart is there in the HTML, readable without JavaScript."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

WEEKDAY_LABELS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True, slots=True)
class Point:
    x: float
    y: float
    day: date
    value: float


@dataclass(frozen=True, slots=True)
class Series:
    key: str
    label: str
    points: tuple[Point, ...]

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


@dataclass(frozen=True, slots=True)
class Tick:
    pos: float
    label: str


@dataclass(frozen=True, slots=True)
class LineChart:
    width: int
    height: int
    left: int
    top: int
    plot_width: int
    plot_height: int
    series: tuple[Series, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]

    @property
    def empty(self) -> bool:
        return not any(s.points for s in self.series)


def line_chart(
    start: date,
    end: date,
    series: Sequence[tuple[str, str, Mapping[date, float | None]]],
    *,
    y_max: float = 10,
    width: int = 480,
    height: int = 220,
) -> LineChart:
    """Daily values from `start` to `end` (inclusive) on a 0..y_max scale; gaps stay gaps."""
    left, right, top, bottom = 32, 12, 12, 28
    pw, ph = width - left - right, height - top - bottom
    days = max((end - start).days, 1)

    def x(day: date) -> float:
        return left + pw * (day - start).days / days

    def y(value: float) -> float:
        return top + ph * (1 - min(max(value, 0), y_max) / y_max)

    out = []
    for key, label, values in series:
        pts = tuple(
            Point(x(d), y(v), d, v)
            for d, v in sorted(values.items())
            if v is not None and start <= d <= end
        )
        out.append(Series(key, label, pts))
    step = 7 if days > 10 else 1
    x_ticks = tuple(
        Tick(x(start + timedelta(days=i)), (start + timedelta(days=i)).strftime("%b %-d"))
        for i in range(0, days + 1, step)
    )
    y_ticks = tuple(Tick(y(v), f"{v:g}") for v in (0, y_max / 2, y_max))
    return LineChart(width, height, left, top, pw, ph, tuple(out), x_ticks, y_ticks)


@dataclass(frozen=True, slots=True)
class HeatCell:
    x: int
    y: int
    day: date
    level: int
    """0 nothing, 1-4 more; -1 skipped on purpose."""
    label: str


@dataclass(frozen=True, slots=True)
class Heatmap:
    width: int
    height: int
    cell: int
    cells: tuple[HeatCell, ...]
    months: tuple[Tick, ...]
    weekdays: tuple[Tick, ...]


def heatmap(
    start: date,
    end: date,
    done: Mapping[date, float],
    skipped: frozenset[date] | set[date] = frozenset(),
    *,
    cell: int = 14,
    unit: str | None = None,
) -> Heatmap:
    """A GitHub-style calendar: one column per week (Monday on top), one square per day."""
    gap, left, top = 3, 30, 16
    first = start - timedelta(days=start.weekday())
    top_value = max(done.values(), default=0) or 1
    uniform = len(set(done.values())) <= 1  # a yes/no habit: every logged day looks the same
    cells = []
    months: list[Tick] = []
    day = first
    while day <= end:
        col = (day - first).days // 7
        if day >= start:
            value = done.get(day, 0)
            if day in skipped and not value:
                level, label = -1, "skipped"
            elif value:
                level = 2 if uniform else 1 + min(3, int(4 * value / top_value - 1e-9))
                label = f"{value:g} {unit}" if unit else ("done" if value == 1 else f"{value:g}")
            else:
                level, label = 0, "nothing logged"
            cells.append(HeatCell(
                left + col * (cell + gap), top + day.weekday() * (cell + gap), day, level,
                f"{day.strftime('%a %b %-d')}: {label}",
            ))
            if day.day == 1 or day == start:
                months.append(Tick(left + col * (cell + gap), day.strftime("%b")))
        day += timedelta(days=1)
    weeks = (end - first).days // 7 + 1
    weekdays = tuple(
        Tick(top + i * (cell + gap) + cell - 3, WEEKDAY_LABELS[i]) for i in (0, 2, 4, 6)
    )
    return Heatmap(
        width=left + weeks * (cell + gap) + 16, height=top + 7 * (cell + gap), cell=cell,
        cells=tuple(cells), months=tuple(months), weekdays=weekdays,
    )
