"""Charts for the HTML report as inline SVG: no script, no network, they render anywhere.

Each function returns one ``<svg class="chart" data-chart="...">`` element as text (labels are
escaped here; the template inserts the element as it is).
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

PALETTE = (
    "#2E75B6",
    "#ED7D31",
    "#A5A5A5",
    "#FFC000",
    "#5B9BD5",
    "#70AD47",
    "#264478",
    "#9E480E",
    "#636363",
    "#997300",
    "#255E91",
    "#43682B",
)
FONT = 'font-family="WenQuanYi Micro Hei, Noto Sans CJK SC, Microsoft YaHei, sans-serif"'


def _svg(kind: str, width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg class="chart" data-chart="{escape(kind)}" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)}" {FONT} font-size="12">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def bar_chart(
    kind: str,
    title: str,
    items: list[tuple[str, float | None]],
    fmt: Callable[[float | None], str],
    target: float | None = None,
) -> str:
    """Horizontal bars, one per label; a dashed line marks the target."""
    label_width, bar_width, row_height, top = 120, 420, 24, 34
    width, height = label_width + bar_width + 90, top + row_height * len(items) + 16
    values = [v for _, v in items if v is not None]
    top_value = max([*values, target or 0, 1e-9])
    body = [f'<text x="0" y="18" font-size="14" font-weight="bold">{escape(title)}</text>']
    for k, (label, value) in enumerate(items):
        y = top + k * row_height
        body.append(
            f'<text x="{label_width - 6}" y="{y + 15}" text-anchor="end">{escape(label)}</text>'
        )
        if value is not None:
            length = max(1.0, bar_width * value / top_value)
            body.append(
                f'<rect class="bar" x="{label_width}" y="{y + 3}" width="{length:.1f}" '
                f'height="{row_height - 6}" fill="{PALETTE[0]}"/>'
                f'<text x="{label_width + length + 4:.1f}" y="{y + 15}">{escape(fmt(value))}</text>'
            )
    if target is not None:
        x = label_width + bar_width * target / top_value
        body.append(
            f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - 12}" '
            f'stroke="#C00000" stroke-dasharray="4 3"/>'
            f'<text x="{x:.1f}" y="{top - 8}" fill="#C00000" text-anchor="middle">'
            f"target {escape(fmt(target))}</text>"
        )
    return _svg(kind, width, height, title, body)


def line_chart(
    kind: str,
    title: str,
    labels: list[str],
    series: list[tuple[str, list[float | None], bool]],
    fmt: Callable[[float | None], str],
) -> str:
    """One line per series over the labels; highlighted series drawn thick, with values."""
    left, top, plot_width, plot_height = 50, 34, 640, 240
    width, height = left + plot_width + 150, top + plot_height + 40
    values = [v for _, points, _ in series for v in points if v is not None]
    low, high = 0.0, max([*values, 1e-9])
    step = plot_width / max(1, len(labels) - 1)

    def xy(k: int, value: float) -> tuple[float, float]:
        return left + k * step, top + plot_height * (1 - (value - low) / (high - low))

    body = [f'<text x="0" y="18" font-size="14" font-weight="bold">{escape(title)}</text>']
    for fraction in (0, 0.25, 0.5, 0.75, 1):
        y = top + plot_height * (1 - fraction)
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_width}" y2="{y:.1f}" '
            f'stroke="#DDDDDD"/><text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" '
            f'font-size="10">{escape(fmt(low + fraction * (high - low)))}</text>'
        )
    for k, label in enumerate(labels):
        body.append(
            f'<text x="{left + k * step:.1f}" y="{top + plot_height + 16}" text-anchor="middle" '
            f'font-size="10">{escape(label)}</text>'
        )
    legend_y = top
    for n, (name, points, highlight) in enumerate(series):
        color = PALETTE[n % len(PALETTE)]
        segments, current = [], []
        for k, value in enumerate(points):
            if value is None:
                if current:
                    segments.append(current)
                current = []
            else:
                current.append(xy(k, value))
        if current:
            segments.append(current)
        stroke = 3 if highlight else 1.2
        for segment in segments:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in segment)
            body.append(
                f'<polyline class="series" points="{path}" fill="none" stroke="{color}" '
                f'stroke-width="{stroke}"/>'
            )
            if highlight:
                body.extend(
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"/>' for x, y in segment
                )
        if highlight and segments:
            x, y = segments[-1][-1]
            body.append(
                f'<text x="{x - 6:.1f}" y="{y - 8:.1f}" text-anchor="end" font-weight="bold">'
                f"{escape(fmt(points[len(points) - 1]))}</text>"
            )
        body.append(
            f'<rect x="{left + plot_width + 20}" y="{legend_y}" width="10" height="10" '
            f'fill="{color}"/><text x="{left + plot_width + 34}" y="{legend_y + 9}" '
            f'font-size="11">{escape(name)}</text>'
        )
        legend_y += 15
    return _svg(kind, width, height, title, body)


def stacked_bars(kind: str, title: str, rows: list[tuple[str, list[tuple[str, float]]]]) -> str:
    """One 100 % bar per row, split into its parts (shares that add up to one)."""
    label_width, bar_width, row_height, top = 120, 520, 26, 54
    names = list(dict.fromkeys(name for _, parts in rows for name, _ in parts))
    colors = {name: PALETTE[k % len(PALETTE)] for k, name in enumerate(names)}
    width, height = label_width + bar_width + 20, top + row_height * len(rows) + 10
    body = [f'<text x="0" y="18" font-size="14" font-weight="bold">{escape(title)}</text>']
    x = label_width
    for name in names:
        body.append(
            f'<rect x="{x}" y="28" width="10" height="10" fill="{colors[name]}"/>'
            f'<text x="{x + 14}" y="37" font-size="11">{escape(name)}</text>'
        )
        x += 30 + 9 * len(name)
    for k, (label, parts) in enumerate(rows):
        y = top + k * row_height
        body.append(
            f'<text x="{label_width - 6}" y="{y + 16}" text-anchor="end">{escape(label)}</text>'
        )
        total = sum(share for _, share in parts) or 1
        x = float(label_width)
        for name, share in parts:
            length = bar_width * share / total
            body.append(
                f'<rect class="bar" x="{x:.1f}" y="{y + 3}" width="{length:.1f}" '
                f'height="{row_height - 6}" fill="{colors[name]}"><title>{escape(name)} '
                f"{share * 100:.1f}%</title></rect>"
            )
            if length > 34:
                body.append(
                    f'<text x="{x + length / 2:.1f}" y="{y + 16}" text-anchor="middle" '
                    f'fill="white" font-size="10">{share * 100:.0f}%</text>'
                )
            x += length
    return _svg(kind, width, height, title, body)
