"""`tidal bench core` end to end at a tiny size: it runs, verifies against DuckDB, writes JSON.

No timing is asserted here: speed targets are measured by the benchmark itself
(benchmarks/RESULTS.md), never by tests.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pyarrow as pa

from tidal.shell import bench, bench_workloads

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
        alive = summed.filter(pa.compute.not_equal(summed.column(f"{bench_workloads.WEIGHT}_sum"), 0))
        assert alive.column(f"{bench_workloads.WEIGHT}_sum").to_pylist() == [1] * alive.num_rows
        expected = feed.final[table].sort_by([(columns[0], "ascending")])
        assert alive.select(columns).sort_by([(columns[0], "ascending")]).equals(expected)


def test_same_rows_compares_floats_with_a_tolerance():
    ours = pa.table({"k": [2, 1], "x": [0.1 + 0.2, 1.0]})
    assert bench.same_rows(ours, pa.table({"k": [1, 2], "x": [1.0, 0.3]}), ("x",)) is None
    assert bench.same_rows(ours, pa.table({"k": [1, 2], "x": [1.0, 0.4]}), ("x",)) is not None
    assert "row counts" in bench.same_rows(ours, pa.table({"k": [1], "x": [1.0]}), ("x",))
