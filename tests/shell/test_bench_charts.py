"""The benchmark charts: throughput and tick latency over time, drawn from the tick series."""

from __future__ import annotations

import re

from tidal.shell.bench import charts


def _series(points):
    series = charts.new_series()
    for seconds, events, tick_ms in points:
        charts.add_tick(series, seconds, events, tick_ms)
    return series


def test_rates_are_events_between_ticks_over_the_time_between_them():
    series = _series([(1.0, 1000, 5.0), (2.0, 5000, 9.0), (4.0, 6000, 30.0)])
    svg = charts.chart([{"query": "q", "tick_series": series}], "query", "t")
    rates, latencies = re.findall(r'points="([^"]*)"', svg)
    assert len(rates.split()) == 2 and len(latencies.split()) == 3
    assert ">4k<" in svg  # the largest rate, (5000 - 1000) / 1 s, tops the first panel
    assert ">30.0<" in svg  # the largest tick, on the second


def test_a_long_series_is_thinned_keeping_its_last_tick():
    series = _series([(i / 10, i * 100, 1.0) for i in range(5000)])
    thin = charts.thinned(series)
    assert len(thin["seconds"]) <= charts.MAX_POINTS + 1
    assert thin["seconds"][-1] == series["seconds"][-1]


def test_the_chart_goes_beside_the_json_only_when_there_is_a_series(tmp_path):
    json_path = str(tmp_path / "run.json")
    assert charts.write_beside(json_path, [{"query": "q"}], "query", "t") is None
    written = charts.write_beside(
        json_path,
        [{"query": "q", "tick_series": _series([(0.1, 1, 1.0), (0.2, 2, 1.0)])}],
        "query",
        "t",
    )
    assert written == str(tmp_path / "run.svg")
    assert (tmp_path / "run.svg").read_text().startswith("<svg")
