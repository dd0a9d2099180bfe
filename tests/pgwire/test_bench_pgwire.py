"""``tidal bench pgwire`` end to end in miniature: a server, client processes, every phase, the
JSON. The numbers are the benchmark's business (benchmarks/RESULTS.md); this checks that what
it counts is what the clients got."""

from __future__ import annotations

import json

import pytest

from tidal.shell import bench


@pytest.mark.slow
def test_the_benchmark_runs_every_phase_and_counts_what_clients_got(tmp_path, capsys):
    out = tmp_path / "pgwire.json"
    flags = ["--seconds", "1.5", "--clients", "4", "--client-processes", "2", "--keys", "50"]
    flags += ["--rate", "5000", "--warmup", "1.5", "--phases", "ingest,point,scan"]
    flags += ["--json", str(out)]  # heavy: tests/pgwire/test_load.py
    assert bench.main(["pgwire", *flags]) == 0
    result = json.loads(out.read_text())
    phases = {p["phase"]: p for p in result["phases"]}
    assert list(phases) == ["ingest", "point", "scan"]
    assert all(p["ingested_rows"] > 0 for p in phases.values())
    point = phases["point"]["point"]
    assert point["queries"] > 0 and 0 < point["rows"] <= point["queries"]  # one id, one row
    top, ranged = phases["scan"]["top"], phases["scan"]["range"]
    assert top["rows"] == 10 * top["queries"]  # 50 ids: the top 10 is always full
    assert 0 < ranged["rows"] <= 10 * ranged["queries"]
    assert point["p50_ms"] <= point["p99_ms"] <= point["max_ms"]
    assert set(result["summary"]) >= {"point_reads_per_second", "point_p99_ms"}
    assert "point" in capsys.readouterr().out
