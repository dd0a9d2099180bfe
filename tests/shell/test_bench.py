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

from tidal.shell import bench, bench_window, bench_workloads

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
        assert set(bench.REQUIRED_KEYS) <= set(result)
        assert result["verified"] is True, result["verify_problem"]
        assert result["state_arrow_mb"] > 0 and result["peak_rss_mb"] > 0
    join = results[2]
    assert join["phases"]["update"]["rows"] > 0 and join["phases"]["move"]["rows"] > 0
    assert "| filter_project | 20,000 |" in finished.stdout


def test_unknown_workload_is_refused():
    assert bench.main(["core", "--workloads", "nope"]) == 2


def test_join_data_ends_with_the_updated_rows():
    """The final tables DuckDB reads are the sum of every change batch fed to tidal."""
    args = bench._parser().parse_args(
        ["--rows", "3000", "--batch-rows", "500", "--update-every", "3"]
    )
    feed = bench_workloads.WORKLOADS["join"].generate(args)
    for table in ("orders", "customers"):
        changes = pa.concat_tables([b for name, b, _ in feed.ticks if name == table])
        columns = [c for c in changes.column_names if c != bench_workloads.WEIGHT]
        summed = changes.group_by(columns).aggregate([(bench_workloads.WEIGHT, "sum")])
        alive = summed.filter(
            pa.compute.not_equal(summed.column(f"{bench_workloads.WEIGHT}_sum"), 0)
        )
        assert alive.column(f"{bench_workloads.WEIGHT}_sum").to_pylist() == [1] * alive.num_rows
        expected = feed.final[table].sort_by([(columns[0], "ascending")])
        assert alive.select(columns).sort_by([(columns[0], "ascending")]).equals(expected)


def test_same_rows_compares_floats_with_a_tolerance():
    ours = pa.table({"k": [2, 1], "x": [0.1 + 0.2, 1.0]})
    assert bench.same_rows(ours, pa.table({"k": [1, 2], "x": [1.0, 0.3]}), ("x",)) is None
    assert bench.same_rows(ours, pa.table({"k": [1, 2], "x": [1.0, 0.4]}), ("x",)) is not None
    assert "row counts" in bench.same_rows(ours, pa.table({"k": [1], "x": [1.0]}), ("x",))


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
        assert set(bench_window.REQUIRED_KEYS) <= set(result), result.get("error")
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
    args = bench_window.parser().parse_args(["--aggregates", "max,nomax", "--emit", "close,update"])
    chosen = bench_window.measurements(args)
    assert [m.name for m in chosen][:4] == [
        "tumble",
        "tumble_nomax",
        "tumble_update",
        "tumble_nomax_update",
    ]
    assert [bench_window.Measurement.parse(m.name) for m in chosen] == chosen


def test_window_events_are_reproducible_and_never_late():
    """The DuckDB worker regenerates the tidal worker's events exactly; every event's time is
    within the watermark delay of the newest one before it, so none is late."""
    args = bench_window.parser().parse_args(["--events", "10000", "--batch-size", "1000"])
    events = bench_window.all_events(args)
    assert events.num_rows == 10000
    assert events.equals(bench_window.all_events(args))
    ts = events.column("ts").cast(pa.int64()).to_numpy()
    newest_before = np.maximum.accumulate(np.concatenate([[ts[0]], ts[:-1]]))
    assert (ts >= newest_before - args.delay * bench_window.SECOND).all()
    assert (np.diff(ts) < 0).any()  # out of order
