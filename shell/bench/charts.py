"""Charts of a benchmark run: throughput and tick latency over time, as an SVG beside its JSON.

A measurement that records its ticks (``tick_series``: seconds since its start, events done, and
the tick's milliseconds, per tick) is drawn as two panels side by side: events per second over
time (between consecutive points, so a stall shows as a dip) and tick latency over time, one
line per measurement. The SVG is written by hand (no plotting library: a chart is a few
polylines); any browser or image viewer shows it.

    >>> series = new_series()
    >>> add_tick(series, 0.5, 1000, 12.0); add_tick(series, 1.0, 3000, 15.0)
    >>> svg = chart([{"query": "q1", "tick_series": series}], "query", "Nexmark")
    >>> svg.startswith("<svg") and "q1" in svg and svg.count("<polyline") == 2
    True
"""

from __future__ import annotations

import html
import pathlib

MAX_POINTS = 400  # a series is thinned to about this many points (every n-th tick)
WIDTH, HEIGHT, MARGIN = 460, 300, 56
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def new_series() -> dict:
    """An empty tick series, to fill with ``add_tick``."""
    return {"seconds": [], "events": [], "tick_ms": []}


def add_tick(series: dict, seconds: float, events: int, tick_ms: float) -> None:
    series["seconds"].append(round(seconds, 4))
    series["events"].append(events)
    series["tick_ms"].append(round(tick_ms, 3))


def thinned(series: dict) -> dict:
    """At most about MAX_POINTS points: every n-th, keeping the last (the JSON stays small)."""
    count = len(series["seconds"])
    step = max(1, -(-count // MAX_POINTS))
    keep = list(range(0, count, step))
    if keep and keep[-1] != count - 1:
        keep.append(count - 1)
    return {key: [values[i] for i in keep] for key, values in series.items()}


def write_beside(json_path: str, results: list[dict], name_key: str, title: str) -> str | None:
    """Write ``<json_path without .json>.svg`` if any result has a tick series; its path."""
    if not any(r.get("tick_series") for r in results):
        return None
    path = pathlib.Path(json_path).with_suffix(".svg")
    path.write_text(chart(results, name_key, title))
    return str(path)


def chart(results: list[dict], name_key: str, title: str) -> str:
    drawn = [r for r in results if r.get("tick_series") and r["tick_series"]["seconds"]]
    panels = [
        ("events/s", [(r[name_key], _rates(r["tick_series"])) for r in drawn]),
        ("tick latency (ms)", [(r[name_key], _latencies(r["tick_series"])) for r in drawn]),
    ]
    header = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * WIDTH}" height="{HEIGHT + 40}" '
        'font-family="sans-serif" font-size="11">'
    )
    parts = [
        header,
        f'<text x="{WIDTH}" y="16" text-anchor="middle" font-size="14">{html.escape(title)}</text>',
    ]
    for index, (label, lines) in enumerate(panels):
        parts.append(_panel(index * WIDTH, 24, label, lines))
    for index, result in enumerate(drawn):  # the legend, under the panels
        x, colour = 10 + index * 110, COLOURS[index % len(COLOURS)]
        parts.append(
            f'<rect x="{x}" y="{HEIGHT + 26}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="{HEIGHT + 35}">{html.escape(str(result[name_key]))}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _rates(series: dict) -> list[tuple[float, float]]:
    seconds, events = series["seconds"], series["events"]
    points = []
    for i in range(1, len(seconds)):
        elapsed = seconds[i] - seconds[i - 1]
        if elapsed > 0:
            points.append((seconds[i], (events[i] - events[i - 1]) / elapsed))
    return points


def _latencies(series: dict) -> list[tuple[float, float]]:
    return list(zip(series["seconds"], series["tick_ms"], strict=True))


def _panel(left: float, top: float, label: str, lines: list) -> str:
    """One panel: axes from zero to the largest value, a polyline per measurement."""
    xs = [x for _, points in lines for x, _ in points] or [1.0]
    ys = [y for _, points in lines for _, y in points] or [1.0]
    x_max, y_max = max(xs) or 1.0, max(ys) or 1.0
    inner_w, inner_h = WIDTH - MARGIN - 16, HEIGHT - MARGIN
    x0, y0 = left + MARGIN, top + inner_h

    def at(x: float, y: float) -> str:
        return f"{x0 + x / x_max * inner_w:.1f},{y0 - y / y_max * inner_h:.1f}"

    parts = [
        f'<line x1="{x0}" y1="{y0}" x2="{x0 + inner_w}" y2="{y0}" stroke="black"/>',
        f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{top}" stroke="black"/>',
        f'<text x="{x0 + inner_w / 2}" y="{y0 + 30}" text-anchor="middle">seconds</text>',
        f'<text x="{x0}" y="{top - 4}">{html.escape(label)}</text>',
        f'<text x="{x0 - 4}" y="{top + 8}" text-anchor="end">{_short(y_max)}</text>',
        f'<text x="{x0 - 4}" y="{y0}" text-anchor="end">0</text>',
        f'<text x="{x0 + inner_w}" y="{y0 + 14}" text-anchor="end">{x_max:.1f}</text>',
    ]
    for index, (_, points) in enumerate(lines):
        if points:
            colour = COLOURS[index % len(COLOURS)]
            coordinates = " ".join(at(x, y) for x, y in points)
            parts.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="1.2" '
                f'points="{coordinates}"/>'
            )
    return "\n".join(parts)


def _short(value: float) -> str:
    """A number for an axis label: 1.2M, 340k, 12.5."""
    if value >= 1e6:
        return f"{value / 1e6:.1f}M"
    if value >= 1e3:
        return f"{value / 1e3:.0f}k"
    return f"{value:.1f}"
