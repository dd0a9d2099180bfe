"""Counting a run of RisingWave's files: totals, failure classes, a RESULTS.md section."""

from __future__ import annotations

import subprocess
from dataclasses import asdict, dataclass, field

# Failures keep excerpts only: the counts and a pointer (file:line) are the point; RisingWave's
# files stay where they are.
SQL_CHARS = 160
DETAIL_CHARS = 400


@dataclass
class FileResult:
    """The counts of one file (see ``summarize``)."""

    file: str
    records: int = 0
    passed: int = 0
    noop: int = 0
    failed: int = 0
    skipped: int = 0
    not_run: int = 0
    error_text_differs: int = 0
    first_failure: dict | None = None
    classes: dict = field(default_factory=dict)
    examples: dict = field(default_factory=dict)  # class -> its first record here
    noops: dict = field(default_factory=dict)
    skips: dict = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.not_run == 0


def summarize(name: str, items: list[dict], problem: tuple[str, str] | None) -> FileResult:
    """A file's counts from its header and record outcomes, and a problem that ended it early
    (the record it was running fails with the problem's class; those after it did not run)."""
    result = FileResult(name)
    header, outcomes = (items[0], items[1:]) if items else ({}, [])
    result.records = header.get("records", 0)
    if "script_error" in header:
        problem = ("script error", header["script_error"])
    for item in outcomes:
        _count(result, item)
    if problem is not None:
        kind, detail = problem
        _count(result, {"where": name, "status": "failed", "kind": kind, "detail": detail})
    result.not_run = max(result.records - len(outcomes) - (problem is not None), 0)
    return result


def _count(result: FileResult, item: dict) -> None:
    status = item["status"]
    if status == "passed":
        result.passed += 1
        result.error_text_differs += bool(item.get("text_differs"))
    elif status == "noop":
        result.noop += 1
        result.noops[item["kind"]] = result.noops.get(item["kind"], 0) + 1
    elif status == "skipped":
        result.skipped += 1
        result.skips[item["kind"]] = result.skips.get(item["kind"], 0) + 1
    else:
        result.failed += 1
        result.classes[item["kind"]] = result.classes.get(item["kind"], 0) + 1
        failure = {
            "where": item.get("where", ""),
            "kind": item["kind"],
            "detail": item.get("detail", "")[:DETAIL_CHARS],
            "sql": " ".join(item.get("sql", "").split())[:SQL_CHARS],
        }
        result.first_failure = result.first_failure or failure
        result.examples.setdefault(item["kind"], failure)


def aggregate(results: list[FileResult], commit: str, timeout: float, folder: str) -> dict:
    """The run's counts: totals, failure classes (by files they block first, then records),
    and every file's counts. A class's example is its first file's first failure, if it is
    any file's first failure (where it is not a consequence of an earlier one)."""
    classes: dict[str, dict] = {}
    for result in results:
        for kind, count in result.classes.items():
            entry = classes.setdefault(
                kind, {"class": kind, "files_blocked": 0, "files_with": 0, "records": 0}
            )
            entry["files_with"] += 1
            entry["records"] += count
    for result in results:
        if result.first_failure is not None:
            blocked = classes[result.first_failure["kind"]]
            blocked["files_blocked"] += 1
            blocked.setdefault("example", result.first_failure)
    for result in results:
        for kind in result.classes:
            classes[kind].setdefault("example", result.examples[kind])
    ranked = sorted(classes.values(), key=lambda c: (-c["files_blocked"], -c["records"]))
    return {
        "tool": "python -m tests.slt.risingwave",
        "source": {"repository": "risingwavelabs/risingwave", "commit": commit, "folder": folder},
        "tidal_commit": _tidal_commit(),
        "timeout_seconds": timeout,
        "summary": _totals(results),
        "noops": _merged(r.noops for r in results),
        "skips": _merged(r.skips for r in results),
        "classes": ranked,
        "files": [_file(r) for r in results],
    }


def _file(result: FileResult) -> dict:
    counts = asdict(result)
    del counts["examples"]  # the classes' examples are listed once, with the classes
    return counts | {"passed_file": result.ok}


def _totals(results: list[FileResult]) -> dict:
    def total(name: str) -> int:
        return sum(getattr(r, name) for r in results)

    return {
        "files": len(results),
        "files_passed": sum(r.ok for r in results),
        "records": total("records"),
        "records_passed": total("passed") + total("noop"),
        "records_noop": total("noop"),
        "records_failed": total("failed"),
        "records_skipped": total("skipped"),
        "records_not_run": total("not_run"),
        "error_text_differs": total("error_text_differs"),
        "seconds": round(total("seconds"), 1),
    }


def _merged(counts) -> dict:
    merged: dict[str, int] = {}
    for count in counts:
        for kind, n in count.items():
            merged[kind] = merged.get(kind, 0) + n
    return dict(sorted(merged.items(), key=lambda item: -item[1]))


def _tidal_commit() -> str:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], check=False, capture_output=True
        )
    except OSError:
        return ""
    return done.stdout.decode().strip()


def markdown(report: dict, title: str, top: int = 30) -> str:
    """A RESULTS.md section: the totals and the ``top`` failure classes."""
    s = report["summary"]
    lines = [
        f"## {title}",
        "",
        (
            f"tidal {report['tidal_commit']}, RisingWave {report['source']['commit'] or '?'}, "
            f"every `*.slt` under `{report['source']['folder']}`, one file at a time in a fresh "
            f"process, {report['timeout_seconds']:g} s per file ({s['seconds']:g} s in all)."
        ),
        "",
        f"- files passing: **{s['files_passed']} / {s['files']}**",
        f"- records passing: **{s['records_passed']} / {s['records']}** "
        f"({s['records_noop']} of them RisingWave-only no-ops: "
        + ", ".join(f"{k} {n}" for k, n in report["noops"].items())
        + ")",
        f"- records failing: {s['records_failed']}; skipped: {s['records_skipped']} ("
        + ", ".join(f"{k} {n}" for k, n in report["skips"].items())
        + f"); not run (after a timeout or crash): {s['records_not_run']}",
        f"- expected errors that tidal raised with another text: {s['error_text_differs']}",
        "",
        f"Top {top} failure classes: files whose first failure it is, failing records.",
        "",
        "| # | class | files blocked | records | example |",
        "|---|---|---|---|---|",
    ]
    for number, entry in enumerate(report["classes"][:top], 1):
        example = entry["example"]
        sql = " ".join(example["sql"].split())[:110].replace("|", "\\|")
        kind = entry["class"].replace("|", "\\|")
        lines.append(
            f"| {number} | `{kind}` | {entry['files_blocked']} | {entry['records']} | "
            f"`{example['where']}`: `{sql}` |"
        )
    passing = [f["file"] for f in report["files"] if f["passed_file"]]
    lines += ["", "Files passing: " + (", ".join(f"`{f}`" for f in passing) or "none"), ""]
    return "\n".join(lines)
