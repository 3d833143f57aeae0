"""Server-rendered SVG charts for the home page: a line (liability at the end of each day) and
bars (value redeemed each day). Pure geometry; the template draws it, with the figures also in
a table for screen readers. No script, nothing loaded from elsewhere."""

from __future__ import annotations

from dataclasses import dataclass

WIDTH, HEIGHT, PAD = 600, 160, 4


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    line: str  # polyline points
    bars: list[Bar]
    top: int  # the largest value drawn, for the axis label


def _scale(values: list[int]) -> tuple[int, float]:
    top = max([*values, 1])
    return top, (HEIGHT - 2 * PAD) / top


def line_chart(values: list[int]) -> Chart:
    top, k = _scale(values)
    step = (WIDTH - 2 * PAD) / max(len(values) - 1, 1)
    pts = " ".join(f"{PAD + i * step:.1f},{HEIGHT - PAD - v * k:.1f}" for i, v in enumerate(values))
    return Chart(WIDTH, HEIGHT, pts, [], top)


def bar_chart(values: list[int]) -> Chart:
    top, k = _scale(values)
    slot = (WIDTH - 2 * PAD) / max(len(values), 1)
    bars = [Bar(PAD + i * slot + 1, HEIGHT - PAD - v * k, max(slot - 2, 1), v * k) for i, v in enumerate(values)]
    return Chart(WIDTH, HEIGHT, "", bars, top)
