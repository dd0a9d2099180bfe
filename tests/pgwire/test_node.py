"""node-postgres (the ``pg`` package) against a live server, if Node.js is on the machine.

node-postgres is the one client that sends no SSLRequest, and sends named statements. The
package is installed into tests/pgwire/node/node_modules on first use (skipped if npm cannot).
"""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess

import pytest

NODE_DIR = pathlib.Path(__file__).parent / "node"

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")


@pytest.fixture(scope="module")
def node_pg():
    if not (NODE_DIR / "node_modules" / "pg").is_dir():
        if shutil.which("npm") is None:
            pytest.skip("npm is not installed")
        try:
            subprocess.run(
                ["npm", "install", "--no-audit", "--no-fund", "--silent"],
                cwd=NODE_DIR, capture_output=True, timeout=120, check=True,
            )  # fmt: skip
        except (subprocess.SubprocessError, OSError) as error:
            pytest.skip(f"could not install node-postgres: {error}")
    return NODE_DIR / "client.js"


def test_node_postgres(server, node_pg):
    result = subprocess.run(
        ["node", str(node_pg), server.host, str(server.port)],
        capture_output=True, text=True, timeout=30, cwd=NODE_DIR, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    assert got["totals"] == [{"k": "a", "total": "4"}, {"k": "b", "total": "2"}]
    assert got["params"] == ["b", "a"]
    assert got["named"] == ["2", "1"]  # int8 comes back as a string in node-postgres
    assert got["error"] == "42P01"
    assert got["flags"] == {"yes": True, "x": 1.5}
