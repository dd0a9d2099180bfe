"""The load test of issue 15: 50 clients reading while a source ingests, and one more client
running a query that would take hours (``tidal bench pgwire``'s ``heavy`` phase, in
miniature). The heavy query must hold up neither the readers nor the ingestion: readers' p99
under 100 ms, ingestion within 20% of its rate alone. The full-length numbers are in
benchmarks/RESULTS.md."""

from __future__ import annotations

import json

import pytest

from tidal.shell import bench


@pytest.mark.slow
def test_a_heavy_query_holds_up_neither_readers_nor_ingestion(tmp_path):
    out = tmp_path / "load.json"
    flags = ["--seconds", "6", "--clients", "50", "--phases", "ingest,heavy", "--warmup", "3"]
    flags += ["--heavy-timeout", "2", "--json", str(out)]
    assert bench.main(["pgwire", *flags]) == 0
    result = json.loads(out.read_text())
    heavy = {p["phase"]: p for p in result["phases"]}["heavy"]
    assert heavy["heavy"]["runs"] >= 2  # it ran throughout, each run stopped by its timeout
    assert set(heavy["heavy"]["ended"]) == {"57014"}
    assert heavy["point"]["queries"] > 1000
    assert result["summary"]["heavy_point_p99_ms"] < result["targets"]["heavy_point_p99_ms"]
    slowdown = result["summary"]["ingest_slowdown_heavy"]
    assert slowdown < result["targets"]["ingest_slowdown_heavy"]
