"""Inline SVG charts drawn on the server: bars (volume by hour or day, counts) and a line (sentiment trend).

Each chart is an `<svg role="img">` with a `<title>` and `<desc>` (read by screen readers, named by
`aria-labelledby`), a `<title>` on every bar or point (shown on hover), and no script. The page puts the
same figures in a table beside it, so nothing is only in the picture. Every label is escaped here; the
`Markup` returned is safe to place in a template as it is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 220
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 44, 12, 12, 40
BAR = "#1f3a36"
LINE = "#1c4a7a"
GRID = "#dedad1"
INK = "#1d1d1b"
MAX_LABELS = 12


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "chart"


def _number(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"


def _open(chart_id: str, title: str, description: str, width: int, height: int) -> list[str]:
    cid = escape(_slug(chart_id))
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'aria-labelledby="{cid}-title {cid}-desc" style="width:100%;max-width:{width}px;height:auto">',
        f'<title id="{cid}-title">{escape(title)}</title>',
        f'<desc id="{cid}-desc">{escape(description)}</desc>',
    ]


def _axis_labels(labels: Sequence[str], xs: Sequence[float], height: int) -> list[str]:
    step = max(1, -(-len(labels) // MAX_LABELS))
    return [
        f'<text x="{x:.1f}" y="{height - MARGIN_BOTTOM + 16}" font-size="11" text-anchor="middle" '
        f'fill="{INK}">{escape(label)}</text>'
        for i, (label, x) in enumerate(zip(labels, xs, strict=True))
        if i % step == 0
    ]


def _y_axis(top: float, bottom: float, low: float, high: float, width: int) -> list[str]:
    parts = []
    for value in (low, (low + high) / 2, high):
        y = bottom - (value - low) / (high - low) * (bottom - top) if high != low else bottom
        parts.append(
            f'<line x1="{MARGIN_LEFT}" x2="{width - MARGIN_RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>'
        )
        parts.append(
            f'<text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" fill="{INK}">'
            f"{escape(_number(value))}</text>"
        )
    return parts


def bar_chart(
    chart_id: str, title: str, labels: Sequence[str], values: Sequence[float], *, unit: str = "",
    width: int = WIDTH, height: int = HEIGHT,
) -> Markup:  # fmt: skip
    """Vertical bars, one per label, from zero to the largest value."""
    if len(labels) != len(values):
        raise ValueError(f"bar chart {title!r}: {len(labels)} labels but {len(values)} values")
    high = max([float(v) for v in values] + [1.0])
    top, bottom = MARGIN_TOP, height - MARGIN_BOTTOM
    span = (width - MARGIN_LEFT - MARGIN_RIGHT) / max(1, len(values))
    total = sum(float(v) for v in values)
    description = f"{len(values)} bars; total {_number(total)}{(' ' + unit) if unit else ''}; largest {_number(high)}"
    parts = _open(chart_id, title, description, width, height) + _y_axis(top, bottom, 0.0, high, width)
    xs = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = float(value) / high * (bottom - top)
        x = MARGIN_LEFT + i * span
        xs.append(x + span / 2)
        parts.append(
            f'<rect x="{x + span * 0.15:.1f}" y="{bottom - h:.1f}" width="{span * 0.7:.1f}" height="{h:.1f}" '
            f'fill="{BAR}"><title>{escape(label)}: {escape(_number(float(value)))}</title></rect>'
        )
    parts += _axis_labels(labels, xs, height)
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(
    chart_id: str, title: str, labels: Sequence[str], values: Sequence[float | None], *, low: float = -1.0,
    high: float = 1.0, width: int = WIDTH, height: int = HEIGHT,
) -> Markup:  # fmt: skip
    """A line through the values between `low` and `high`; a missing value (None) breaks the line."""
    if len(labels) != len(values):
        raise ValueError(f"line chart {title!r}: {len(labels)} labels but {len(values)} values")
    top, bottom = MARGIN_TOP, height - MARGIN_BOTTOM
    span = (width - MARGIN_LEFT - MARGIN_RIGHT) / max(1, len(values))
    known = [v for v in values if v is not None]
    description = (
        f"{len(known)} of {len(values)} points; from {_number(min(known))} to {_number(max(known))}"
        if known
        else "no points in this range"
    )
    parts = _open(chart_id, title, description, width, height) + _y_axis(top, bottom, low, high, width)
    xs = [MARGIN_LEFT + (i + 0.5) * span for i in range(len(values))]
    segments: list[list[str]] = [[]]
    for x, label, value in zip(xs, labels, values, strict=True):
        if value is None:
            segments.append([])
            continue
        clamped = min(high, max(low, float(value)))
        y = bottom - (clamped - low) / (high - low) * (bottom - top)
        segments[-1].append(f"{x:.1f},{y:.1f}")
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{LINE}"><title>{escape(label)}: '
            f"{escape(_number(float(value)))}</title></circle>"
        )
    for points in segments:
        if len(points) > 1:
            parts.append(f'<polyline fill="none" stroke="{LINE}" stroke-width="2" points="{" ".join(points)}"/>')
    parts += _axis_labels(labels, xs, height)
    parts.append("</svg>")
    return Markup("".join(parts))
