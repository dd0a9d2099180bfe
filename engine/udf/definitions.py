"""Turning a function's Python source text into the callable it defines.

``CREATE FUNCTION f(...) ... LANGUAGE python AS $$ source $$``: the source is run once, as the
body of a fresh module named after the function, and must define ``f`` (a scalar or table
function) or, for an aggregate, ``create_state``, ``accumulate``, ``finish`` and optionally
``retract`` and ``merge``. Imports in the source are the engine's (numpy, pyarrow, a model
library...). The same text is loaded again in each worker process (tidal.engine.udf.workers).

>>> load("def double(x):\\n    return x * 2", "double")(21)
42
>>> try:
...     load("x = 1", "double")
... except DefinitionError as error:
...     print(error.message)
the Python body of double defines no function double
"""

from __future__ import annotations

import types
from collections.abc import Callable

from tidal.catalog.sqlstate import INVALID_FUNCTION_DEFINITION, TidalError


class DefinitionError(TidalError):
    """The Python body of a function does not run, or does not define what it must."""

    sqlstate = INVALID_FUNCTION_DEFINITION


def namespace(source: str, name: str) -> dict:
    """The globals of ``source`` after running it as module ``tidal_function_<name>``."""
    module = types.ModuleType(f"tidal_function_{name}")
    try:
        code = compile(source, f"<function {name}>", "exec")
        exec(code, module.__dict__)  # noqa: S102 (the user's code: CREATE FUNCTION is that permission)
    except SyntaxError as error:
        raise DefinitionError(
            f"the Python body of {name} does not parse: {error.msg} (line {error.lineno})"
        ) from None
    except Exception as error:  # noqa: BLE001 (whatever the user's module raises)
        raise DefinitionError(
            f"the Python body of {name} failed when loaded: {type(error).__name__}: {error}"
        ) from None
    return module.__dict__


def load(source: str, name: str) -> Callable:
    """The function ``name`` that ``source`` defines."""
    found = namespace(source, name).get(name)
    if not callable(found):
        raise DefinitionError(f"the Python body of {name} defines no function {name}")
    return found
