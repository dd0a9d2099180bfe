"""``tidal bench shell``: how long ``tidal`` takes to show its prompt, and to answer.

Each run starts ``tidal`` (the installed command, else ``python -m tidal.shell.cli``) in a
fresh pseudo-terminal, answers the terminal queries it sends (cursor position) as a terminal
would, and measures from spawning the process to:

- ``prompt``: the prompt ``tidal>`` on the screen (the target: under 1 s);
- ``first_result``: the answer to ``SELECT 1`` typed as soon as the prompt shows (the engine
  loads in the background meanwhile, so this includes loading it).

    tidal bench shell --runs 10 --json out.json
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pathlib
import pty
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time

PROMPT = b"tidal>"
CURSOR_QUERY = b"\x1b[6n"
TARGET_SECONDS = 1.0


def command() -> list[str]:
    installed = pathlib.Path(sys.executable).with_name("tidal")
    return [str(installed)] if installed.exists() else [sys.executable, "-m", "tidal.shell.cli"]


def measure_once(timeout: float = 60.0) -> dict[str, float]:
    """One start of the shell in a pseudo-terminal: seconds to the prompt and to a result."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))
    with tempfile.TemporaryDirectory() as data_dir:
        started = time.perf_counter()
        process = subprocess.Popen(
            [*command(), "--data-dir", data_dir],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=data_dir,
            env={**os.environ, "TERM": "xterm-256color"},
            start_new_session=True,
        )
        os.close(slave)
        try:
            screen = _read_until(master, PROMPT, b"", started + timeout)
            prompt = time.perf_counter() - started
            os.write(master, b"SELECT 1 AS one;\r")
            _read_until(master, b"(1 row", screen, started + timeout)
            result = time.perf_counter() - started
            os.write(master, b"\\q\r")
            process.wait(timeout=timeout)
        finally:
            if process.poll() is None:
                process.kill()
            os.close(master)
    return {"prompt_seconds": prompt, "first_result_seconds": result}


def _read_until(master: int, wanted: bytes, screen: bytes, deadline: float) -> bytes:
    """Read the terminal until ``wanted`` appears (after what ``screen`` already held)."""
    start = len(screen)
    while wanted not in screen[start:]:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            raise TimeoutError(f"no {wanted!r} on the screen: {screen[-500:]!r}")
        if not select.select([master], [], [], remaining)[0]:
            continue
        chunk = os.read(master, 65536)
        if CURSOR_QUERY in chunk:  # answer as a terminal would: row 1, column 1
            os.write(master, b"\x1b[1;1R" * chunk.count(CURSOR_QUERY))
        screen += chunk
    return screen


def summary(runs: list[dict[str, float]]) -> dict:
    out: dict = {"runs": len(runs), "command": " ".join(command())}
    for key in ("prompt_seconds", "first_result_seconds"):
        values = sorted(r[key] for r in runs)
        out[key] = {
            "median": statistics.median(values),
            "min": values[0],
            "max": values[-1],
        }
    out["met_target"] = out["prompt_seconds"]["median"] < TARGET_SECONDS
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tidal bench shell", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--json", help="write the summary and every run as JSON")
    args = parser.parse_args(argv)
    measure_once()  # warm the file cache and the bytecode cache, as a second start would
    runs = []
    for i in range(args.runs):
        runs.append(measure_once())
        print(
            f"run {i + 1}: prompt {runs[-1]['prompt_seconds']:.3f} s, "
            f"first result {runs[-1]['first_result_seconds']:.3f} s",
            flush=True,
        )
    result = summary(runs)
    prompt, first = result["prompt_seconds"], result["first_result_seconds"]
    print(
        f"prompt: median {prompt['median']:.3f} s (min {prompt['min']:.3f}, max "
        f"{prompt['max']:.3f}); target < {TARGET_SECONDS:.0f} s: "
        f"{'met' if result['met_target'] else 'MISSED'}\n"
        f"first result: median {first['median']:.3f} s (min {first['min']:.3f}, max "
        f"{first['max']:.3f})"
    )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({**result, "each": runs}, handle, indent=2)
    return 0 if result["met_target"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
