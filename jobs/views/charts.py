"""The throughput chart of the execution page, drawn on the server as SVG geometry for the template: a
line of slices per second over time, a left axis in slices/s and, when the readers reported their
records, a right axis in records/s (the same line, scaled by the records per slice)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.utils.timezone import localtime

from jobs.execution_page import Throughput

WIDTH, HEIGHT = 760, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 76, 16, 44  # margins: room for the axes' numbers and labels
X_TICKS, Y_TICKS = 6, 4


@dataclass
class Tick:
    position: float  # x or y in the SVG's coordinates
    label: str


@dataclass
class Dot:
    x: float
    y: float
    tooltip: str


@dataclass
class Chart:
    width: int
    height: int
    left: int
    right: float  # x of the right edge of the plot
    top: int
    bottom: float  # y of the plot's base line
    line: str  # the polyline's points
    area: str  # the same, closed along the base line
    dots: list[Dot]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    records_ticks: list[Tick]  # the right axis; empty without records per slice
    summary: str

    @property
    def middle_x(self) -> float:
        return (self.left + self.right) / 2

    @property
    def middle_y(self) -> float:
        return (self.top + self.bottom) / 2


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above `value` (1 for nothing)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= value)


def number(value: float) -> str:
    if value >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value < 10 else f"{value:,.1f}"


def duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s" if seconds % 60 else f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min" if seconds % 3600 // 60 else f"{seconds // 3600} h"


def throughput_chart(throughput: Throughput) -> Chart:
    plot_right, plot_bottom = WIDTH - RIGHT, HEIGHT - BOTTOM
    points = throughput.points
    top_rate = nice_ceiling(max((p.rate for p in points), default=0))
    span = max(throughput.seconds, 1)

    def x(offset: float) -> float:
        return round(LEFT + (plot_right - LEFT) * offset / span, 1)

    def y(rate: float) -> float:
        return round(plot_bottom - (plot_bottom - TOP) * rate / top_rate, 1)

    per_slice = throughput.records_per_slice
    dots = []
    for point in points:
        middle = min(point.offset + throughput.step / 2, span)
        records = f", about {number(point.records_rate)} records/s" if per_slice else ""
        tooltip = f"{localtime(point.at):%H:%M:%S}: {point.slices} slices, {number(point.rate)} slices/s{records}"
        dots.append(Dot(x(middle), y(point.rate), tooltip))
    line = " ".join(f"{dot.x},{dot.y}" for dot in dots)
    area = f"{dots[0].x},{plot_bottom} {line} {dots[-1].x},{plot_bottom}" if dots else ""
    rates = [top_rate * i / Y_TICKS for i in range(Y_TICKS + 1)]
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=plot_right,
        top=TOP,
        bottom=plot_bottom,
        line=line,
        area=area,
        dots=dots,
        x_ticks=[Tick(x(span * i / X_TICKS), duration(span * i / X_TICKS)) for i in range(X_TICKS + 1)],
        y_ticks=[Tick(y(rate), number(rate)) for rate in rates],
        records_ticks=[Tick(y(rate), number(rate * per_slice)) for rate in rates] if per_slice else [],
        summary=summary(throughput),
    )


def summary(throughput: Throughput) -> str:
    """What the chart shows, in a sentence (its text alternative)."""
    peak = throughput.peak
    if peak is None or peak.slices == 0:
        return f"No slice finished in the {duration(throughput.seconds)} since the execution started."
    per_slice = throughput.records_per_slice
    records = (
        f" (about {number(throughput.mean_rate * per_slice)} records/s at {number(per_slice)} records per slice)"
        if per_slice
        else ""
    )
    return (
        f"Over {duration(throughput.seconds)} in intervals of {duration(throughput.step)}: "
        f"{number(throughput.mean_rate)} slices/s on average{records}, "
        f"peaking at {number(peak.rate)} slices/s at {localtime(peak.at):%H:%M:%S}."
    )
