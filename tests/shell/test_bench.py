"""`tidal bench core` end to end at a tiny size: it runs, verifies against DuckDB, writes JSON.

No timing is asserted here: speed targets are measured by the benchmark itself
(benchmarks/RESULTS.md), never by tests.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest

from tidal.shell import bench
from tidal.shell.bench import (
    core_operators,
    core_workloads,
    harness,
    nexmark_queries,
    nexmark_scripts,
    window_aggregates,
)

REPO = pathlib.Path(__file__).resolve().parents[2]


def test_bench_core_runs_verifies_and_writes_json(tmp_path):
    out = tmp_path / "results.json"
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "tidal.shell.cli",
            "bench",
            "core",
            "--rows",
            "20000",
            "--batch-rows",
            "5000",
            "--update-every",
            "2",
            "--verify",
            "--json",
            str(out),
        ],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    results = json.loads(out.read_text())
    assert [r["workload"] for r in results] == ["filter_project", "group_by", "join"]
    for result in results:
        assert set(core_operators.REQUIRED_KEYS) <= set(result)
        assert result["verified"] is True, result["verify_problem"]
        assert result["state_arrow_mb"] > 0 and result["peak_rss_mb"] > 0
    join = results[2]
    assert join["phases"]["update"]["rows"] > 0 and join["phases"]["move"]["rows"] > 0
    assert "| filter_project | 20,000 |" in finished.stdout


def test_unknown_workload_is_refused():
    assert bench.main(["core", "--workloads", "nope"]) == 2


def test_join_data_ends_with_the_updated_rows():
    """The final tables DuckDB reads are the sum of every change batch fed to tidal."""
    args = core_operators.parser().parse_args(
        ["--rows", "3000", "--batch-rows", "500", "--update-every", "3"]
    )
    feed = core_workloads.WORKLOADS["join"].generate(args)
    for table in ("orders", "customers"):
        changes = pa.concat_tables([b for name, b, _ in feed.ticks if name == table])
        columns = [c for c in changes.column_names if c != core_workloads.WEIGHT]
        summed = changes.group_by(columns).aggregate([(core_workloads.WEIGHT, "sum")])
        alive = summed.filter(
            pa.compute.not_equal(summed.column(f"{core_workloads.WEIGHT}_sum"), 0)
        )
        assert alive.column(f"{core_workloads.WEIGHT}_sum").to_pylist() == [1] * alive.num_rows
        expected = feed.final[table].sort_by([(columns[0], "ascending")])
        assert alive.select(columns).sort_by([(columns[0], "ascending")]).equals(expected)


def test_same_rows_compares_floats_with_a_tolerance():
    ours = pa.table({"k": [2, 1], "x": [0.1 + 0.2, 1.0]})
    assert harness.same_rows(ours, pa.table({"k": [1, 2], "x": [1.0, 0.3]}), ("x",)) is None
    assert harness.same_rows(ours, pa.table({"k": [1, 2], "x": [1.0, 0.4]}), ("x",)) is not None
    assert "row counts" in harness.same_rows(ours, pa.table({"k": [1], "x": [1.0]}), ("x",))


@pytest.mark.parametrize(
    ("suite", "name"),
    [(core_operators, "workload"), (window_aggregates, "measurement"), (nexmark_queries, "query")],
)
def test_a_failed_measurement_spans_the_summary_table(suite, name):
    """A measurement that failed shows its error in the table, which keeps its columns."""
    failed = {name: "m1", "error": "tidal timed out after 5 s"}
    header, rule, row = suite.summary([failed]).splitlines()
    assert row.startswith("| m1 | tidal timed out after 5 s |")
    assert header.count("|") == rule.count("|") == row.count("|")


# --- tidal bench window ------------------------------------------------------------------------


def test_bench_window_runs_verifies_and_writes_json(tmp_path):
    """Small, and with a slow event clock (2,000 events/s over 100 keys) so that windows close
    within the run: the views are compared with DuckDB's closed windows (and, on update, all)."""
    out = tmp_path / "window.json"
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "tidal.shell.cli",
            "bench",
            "window",
            "--query",
            "all",
            "--aggregates",
            "max",
            "--emit",
            "close,update",
            "--events",
            "60000",
            "--batch-size",
            "5000",
            "--keys",
            "100",
            "--event-rate",
            "2000",
            "--verify",
            "--json",
            str(out),
        ],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    results = json.loads(out.read_text())
    names = ["tumble", "tumble_update", "hop", "hop_update"]
    assert [r["measurement"] for r in results] == names
    for result in results:
        assert set(window_aggregates.REQUIRED_KEYS) <= set(result), result.get("error")
        assert result["verified"] is True, result["verify_problem"]
        assert result["events"] == 60000 and result["late_events"] == 0
        assert result["view_rows"] > 0 and result["peak_rss_mb"] > 0
        assert 0 < result["max_state_rows"] and result["state_rows"] <= result["max_state_rows"]
        assert len(result["progress"]) == 10
    tumble = results[0]
    # 30 s of event time, watermark 5 s behind: the windows ending by 25 s are closed, for
    # each of the 100 keys; on update, every window (open ones too) is in the view.
    assert tumble["view_rows"] == 3 * 100  # [-10 s, 0) (by jitter), [0, 10), [10, 20)
    assert results[1]["view_rows"] > tumble["view_rows"]
    assert "| hop_update | 60,000 |" in finished.stdout


def test_bench_window_refuses_unknown_choices():
    assert bench.main(["window", "--query", "slide"]) == 2
    assert bench.main(["window", "--aggregates", "min"]) == 2
    assert bench.main(["window", "--emit", "never"]) == 2


def test_bench_window_measurement_names_round_trip():
    args = window_aggregates.parser().parse_args(
        ["--aggregates", "max,nomax", "--emit", "close,update"]
    )
    chosen = window_aggregates.measurements(args)
    assert [m.name for m in chosen][:4] == [
        "tumble",
        "tumble_nomax",
        "tumble_update",
        "tumble_nomax_update",
    ]
    assert [window_aggregates.Measurement.parse(m.name) for m in chosen] == chosen


def test_window_events_are_reproducible_and_never_late():
    """The DuckDB worker regenerates the tidal worker's events exactly; every event's time is
    within the watermark delay of the newest one before it, so none is late."""
    args = window_aggregates.parser().parse_args(["--events", "10000", "--batch-size", "1000"])
    events = window_aggregates.all_events(args)
    assert events.num_rows == 10000
    assert events.equals(window_aggregates.all_events(args))
    ts = events.column("ts").cast(pa.int64()).to_numpy()
    newest_before = np.maximum.accumulate(np.concatenate([[ts[0]], ts[:-1]]))
    assert (ts >= newest_before - args.delay * window_aggregates.SECOND).all()
    assert (np.diff(ts) < 0).any()  # out of order


# --- tidal bench nexmark -----------------------------------------------------------------------


def test_bench_nexmark_runs_verifies_and_writes_json(tmp_path):
    """The generator alone, a sink (q2) and a view (q7), at a tiny size, checked against DuckDB
    (its own SQL and tidal's batch mode)."""
    out = tmp_path / "nexmark.json"
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "tidal.shell.cli",
            "bench",
            "nexmark",
            "--query",
            "generator,q2,q7",
            "--events",
            "30000",
            "--batch-size",
            "2000",
            "--verify",
            "--json",
            str(out),
        ],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    results = json.loads(out.read_text())
    assert [r["query"] for r in results] == ["generator", "q2", "q7"]
    for result in results:
        assert set(nexmark_queries.REQUIRED_KEYS) <= set(result), result.get("error")
        assert result["events"] == 30000 and result["peak_rss_mb"] > 0
        assert result["generation_events_per_second"] > 0
    generator, q2, q7 = results
    assert generator["state_rows"] is None and "verified" not in generator
    for result in (q2, q7):
        assert result["verified"] is True, result["verify_problem"]
        assert result["ticks"] > 5 and result["late_rows"] == 0
        assert result["tick_p50_ms"] <= result["tick_p99_ms"]
        assert result["duckdb_seconds"] > 0 and result["verified_rows"] > 0
        assert len(result["progress"]) == 10
    assert q2["kind"] == "sink" and q2["state_rows"] == 0 and q2["output_change_rows"] > 0
    assert q7["kind"] == "materialized view" and q7["state_rows"] > 0 and q7["output_rows"] > 0
    assert "| q7 | " in finished.stdout and "q7: 100% 30,000 events" in finished.stderr


def test_bench_nexmark_reports_what_tidal_refuses(tmp_path):
    out = tmp_path / "q12.json"
    command = [sys.executable, "-m", "tidal.shell.cli", "bench", "nexmark", "--query", "q12"]
    finished = subprocess.run(
        [*command, "--events", "1000", "--json", str(out)],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 1
    (result,) = json.loads(out.read_text())
    assert "proctime" in result["error"].lower()


def test_bench_nexmark_refuses_unknown_queries():
    assert bench.main(["nexmark", "--query", "q23"]) == 2
    assert bench.main(["nexmark", "--query", ","]) == 2
    assert nexmark_queries.chosen("all")[:2] == ["generator", "q0"]
    assert "q12" not in nexmark_queries.chosen("all") and len(nexmark_queries.chosen("all")) == 23


def test_bench_nexmark_overrides_the_nexmark_sources_options():
    """``Script.load`` sets the events (and any option) of every nexmark source on the parsed
    statements; the other sources keep theirs; a sink's query can be read as a view."""
    script = nexmark_scripts.Script.load("q13", 1234, retain=True, first_event_rate="10")
    options = {s.this.this.name: nexmark_scripts._options(s) for s in script.sources()}
    assert options["bid"]["events"] == "1234" and options["bid"]["first_event_rate"] == "10"
    assert options["bid"]["retain"] == "true" and options["side_input"]["retain"] == "true"
    assert "events" not in options["side_input"]
    assert list(script.nexmark_sources()) == ["bid"]
    assert script.setup()[-1].this.name == "q13" and not script.is_sink
    assert [s.this.this.name for s in script.sources()] == ["bid", "side_input"]
    sink = nexmark_scripts.Script.load("q0", 10)
    assert sink.is_sink and sink.setup()[-1].args["kind"] == "SINK"
    view = sink.setup(as_view=True)[-1]
    assert view.sql().startswith("CREATE MATERIALIZED VIEW q0 AS SELECT auction")
    assert nexmark_scripts.Script.load("q0").setup()[0].sql().count("events='100000'") == 1
