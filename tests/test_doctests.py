"""The docstring examples (``>>>``) of every tidal module, run as tests: one test per module.

Modules are found by walking the installed packages' folders for files that contain ``>>>``,
so a module that gains examples is tested without being listed here. Each is imported by its
``tidal.*`` name (the folders catalog/ sql/ engine/ shell/ install under ``tidal``), and its
examples run with doctest's default options, in the module's own namespace.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import pathlib

import pytest

PACKAGES = ("tidal.catalog", "tidal.sql", "tidal.engine", "tidal.shell")


def modules_with_examples() -> list[str]:
    """The dotted names of the modules whose source holds a ``>>>`` example."""
    names = []
    for package in PACKAGES:
        spec = importlib.util.find_spec(package)
        assert spec is not None and spec.submodule_search_locations, package
        for folder in spec.submodule_search_locations:
            root = pathlib.Path(folder)
            for path in sorted(root.rglob("*.py")):
                if not _in_packages(path, root) or ">>>" not in path.read_text(encoding="utf-8"):
                    continue
                parts = path.relative_to(root).with_suffix("").parts
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                names.append(".".join((package, *parts)))
    return names


def _in_packages(path: pathlib.Path, root: pathlib.Path) -> bool:
    """Whether every folder from ``root`` down to ``path`` is a package (has an __init__.py)."""
    folder = path.parent
    while folder != root:
        if not (folder / "__init__.py").exists():
            return False
        folder = folder.parent
    return True


MODULES = modules_with_examples()


def test_modules_with_examples_are_found():
    assert "tidal.catalog.sqlstate" in MODULES
    assert "tidal.shell.interactive.lexer" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module)
    assert result.attempted > 0, f"{name} has '>>>' outside its docstrings: doctest finds none"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed (above)"
