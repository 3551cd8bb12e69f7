"""Server-rendered SVG charts: weekly bars against a target, and a weekday x hour heatmap.

Drawn as plain SVG so that no charting library is shipped. Every chart has a
title and description for screen readers, every bar and cell a tooltip, and the
page puts the same numbers in a table beside it. Met and missed differ in
colour (blue and orange, told apart with the common colour-vision deficiencies)
and in shape (a missed bar carries a notch mark), never in colour alone.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

MET = "#1f5fa8"
MISSED = "#c2410c"
NO_TARGET = "#5b6470"
GRID = "#d5d9de"
INK = "#1d232b"
_ids = itertools.count(1)


@dataclass(frozen=True)
class Bar:
    label: str  # the x-axis label, e.g. "5 Oct"
    value: float | None  # None: nothing to measure that week
    met: bool | None
    tooltip: str


def _text(x: float, y: float, text: str, anchor: str = "middle", size: int = 11, weight: str = "normal") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" font-weight="{weight}" '
        f'fill="{INK}">{escape(text)}</text>'
    )


def ticks(top: float, steps: Sequence[float]) -> list[float]:
    """Round axis values from 0 up to at least `top`: the smallest step of `steps` giving at most 5 intervals."""
    step = next((st for st in steps if top / st <= 5), None)
    if step is None:
        step = steps[-1]
        while top / step > 5:
            step *= 2
    count = max(1, math.ceil(top / step - 1e-9))
    return [step * i for i in range(count + 1)]


def bar_chart(
    title: str,
    description: str,
    bars: Sequence[Bar],
    *,
    target: float | None,
    fmt: Callable[[float], str],
    steps: Sequence[float],
    width: int = 480,
    height: int = 220,
) -> Markup:
    """Bars per period with a dashed target line; the y axis starts at zero and has round ticks."""
    uid = next(_ids)
    left, right, top, bottom = 64, 12, 22, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [b.value for b in bars if b.value is not None]
    axis = ticks(max([*values, target or 0.0]) or steps[0], steps)
    top_value = axis[-1]

    def y(v: float) -> float:
        return top + plot_h - v / top_value * plot_h

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-labelledby="chart-t{uid} chart-d{uid}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-t{uid}">{escape(title)}</title><desc id="chart-d{uid}">{escape(description)}</desc>',
    ]
    for v in axis:
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="{GRID}" stroke-width="1"/>'
        )
        parts.append(_text(left - 6, y(v) + 4, fmt(v), anchor="end", size=12))
    n = max(len(bars), 1)
    slot = plot_w / n
    bar_w = min(slot * 0.7, 48)
    for i, b in enumerate(bars):
        cx = left + slot * (i + 0.5)
        if i % max(1, n // 8) == 0 or n <= 8:
            parts.append(_text(cx, height - bottom + 18, b.label, size=12))
        if b.value is None:
            parts.append(f"<g><title>{escape(b.tooltip)}</title>{_text(cx, y(0) - 4, '–', size=10)}</g>")
            continue
        colour = NO_TARGET if b.met is None else (MET if b.met else MISSED)
        y0 = y(b.value)
        h = max(y(0) - y0, 1.0)
        shape = f'<rect x="{cx - bar_w / 2:.1f}" y="{y0:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{colour}"/>'
        if b.met is False:
            # A white notch on top of a missed bar, so "missed" does not rest on colour alone.
            shape += f'<path d="M{cx - 5:.1f} {y0 + 3:.1f} l5 6 l5 -6" stroke="#fff" stroke-width="2" fill="none"/>'
        parts.append(f'<g class="bar"><title>{escape(b.tooltip)}</title>{shape}</g>')
    if target is not None:
        ty = y(target)
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="{INK}" '
            f'stroke-width="1.5" stroke-dasharray="6 4"/>'
        )
        parts.append(_text(width - right, ty - 5, f"target {fmt(target)}", anchor="end", size=12, weight="bold"))
    parts.append(
        f'<line x1="{left}" x2="{width - right}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="{INK}" stroke-width="1"/>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))


DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def heatmap(title: str, description: str, grid: Sequence[Sequence[float]], *, unit: str = "per hour") -> Markup:
    """Weekday rows x hour columns; darker is busier. Each cell's tooltip gives its value."""
    uid = next(_ids)
    cell, left, top = 22, 40, 22
    width, height = left + 24 * cell + 8, top + 7 * cell + 8
    peak = max((v for row in grid for v in row), default=0.0) or 1.0
    parts = [
        f'<svg class="chart heatmap" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-labelledby="chart-t{uid} chart-d{uid}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-t{uid}">{escape(title)}</title><desc id="chart-d{uid}">{escape(description)}</desc>',
    ]
    for h in range(0, 24, 3):
        parts.append(_text(left + h * cell + cell / 2, top - 8, f"{h:02d}", size=12))
    for d, row in enumerate(grid):
        parts.append(_text(left - 6, top + d * cell + cell * 0.68, DAYS[d], anchor="end", size=12))
        for h, v in enumerate(row):
            # A floor of 0.06 keeps quiet-but-not-empty hours visible against empty ones.
            opacity = 0.0 if v <= 0 else 0.06 + 0.94 * (v / peak)
            tip = f"{DAYS[d]} {h:02d}:00–{h + 1:02d}:00: {v:.1f} {unit}"
            parts.append(
                f'<rect x="{left + h * cell}" y="{top + d * cell}" width="{cell - 2}" height="{cell - 2}" '
                f'fill="#eef1f4"/><rect x="{left + h * cell}" y="{top + d * cell}" width="{cell - 2}" '
                f'height="{cell - 2}" fill="{MET}" fill-opacity="{opacity:.2f}"><title>{escape(tip)}</title></rect>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))
