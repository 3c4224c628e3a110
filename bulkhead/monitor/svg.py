"""Small SVG charts rendered on the server: the page needs no script library."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

AXIS = "#8a94a6"
BAR = "#4c8bf5"
WARN = "#f5a623"
BAD = "#e5484d"


def _compact(value: float) -> str:
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.1f}{unit}"
    return f"{value:.0f}" if abs(value) >= 10 else f"{value:.2f}".rstrip("0").rstrip(".")


def bars(
    labels: Sequence[str],
    values: Sequence[float],
    colors: Sequence[str] | None = None,
    width: int = 320,
    height: int = 120,
    title: str = "",
    unit: str = "",
) -> str:
    """A vertical bar chart with a label under each bar and its value over it."""
    n = max(1, len(values))
    top = max(values, default=0) or 1
    pad_b, pad_t = 18, 14
    slot = width / n
    bar_w = max(2.0, slot * 0.7)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for i, (label, value) in enumerate(zip(labels, values)):
        h = (height - pad_b - pad_t) * value / top
        x = i * slot + (slot - bar_w) / 2
        y = height - pad_b - h
        color = colors[i] if colors else BAR
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{color}">'
            f"<title>{escape(label)}: {escape(_compact(value))}{escape(unit)}</title></rect>"
        )
        if value and (n <= 8 or i % 2 == 0 or i == n - 1):  # values, too, when crowded
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{y - 3:.1f}" font-size="9" '
                f'text-anchor="middle" fill="{AXIS}">{escape(_compact(value))}</text>'
            )
        if n <= 8 or i % 2 == 0:  # every other label when they would collide
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{height - 5}" font-size="9" '
                f'text-anchor="middle" fill="{AXIS}">{escape(label)}</text>'
            )
    parts.append(
        f'<line x1="0" y1="{height - pad_b}" x2="{width}" y2="{height - pad_b}" '
        f'stroke="{AXIS}" stroke-width="0.5"/></svg>'
    )
    return "".join(parts)


def steps(
    points: Sequence[tuple[float, float]],
    width: int = 320,
    height: int = 90,
    title: str = "",
) -> str:
    """A cumulative step line through `points` (x ascending, y >= 0)."""
    if not points:
        return (
            f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}"><text x="{width / 2}" y="{height / 2}" font-size="11" '
            f'text-anchor="middle" fill="{AXIS}">no keeper actions yet</text></svg>'
        )
    x0, x1 = points[0][0], points[-1][0]
    span = (x1 - x0) or 1
    top = max(y for _, y in points) or 1
    pad = 12

    def at(x: float, y: float) -> tuple[float, float]:
        return (
            pad + (width - 2 * pad) * (x - x0) / span,
            height - pad - (height - 2 * pad) * y / top,
        )

    path: list[str] = []
    last_y = 0.0
    for x, y in points:
        px, py_last = at(x, last_y)
        _, py = at(x, y)
        path.append(f"{'M' if not path else 'L'}{px:.1f},{py_last:.1f} L{px:.1f},{py:.1f}")
        last_y = y
    _, ey = at(x1, last_y)
    ex = width - pad  # the total holds until now: the line runs to the right edge
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
        f'<path d="{" ".join(path)} L{ex + 0.1:.1f},{ey:.1f}" fill="none" stroke="{BAR}" '
        f'stroke-width="1.5"/><text x="{width - pad}" y="{height - 1}" font-size="9" '
        f'text-anchor="end" fill="{AXIS}">total {escape(_compact(last_y))} USD</text></svg>'
    )


def meter(share: float, width: int = 160, height: int = 8) -> str:
    """A horizontal fill bar for a share in [0, 1] (red from 90 %)."""
    filled = max(0.0, min(share, 1.0)) * width
    color = BAD if share >= 0.9 else (WARN if share >= 0.7 else BAR)
    return (
        f'<svg class="meter" viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
        f'<rect width="{width}" height="{height}" rx="3" fill="#2a3140"/>'
        f'<rect width="{filled:.1f}" height="{height}" rx="3" fill="{color}"/></svg>'
    )
