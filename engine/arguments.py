"""Statement parameters' values at run time: each run of a compiled expression or plan takes
the Python values of ``$1``, ``$2``, ... as its arguments, checked against the parameters'
types before any kernel or DuckDB sees them.

>>> import pyarrow as pa
>>> read = argument_reader(2, pa.int32())
>>> read([None, 7]), read([None, None])
(7, None)
>>> read([None, "7"])
Traceback (most recent call last):
...
tidal.engine.arguments.ArgumentError: parameter $2: '7' is not a value of type int32
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pyarrow as pa

from tidal.catalog.sqlstate import INVALID_PARAMETER_VALUE, TidalError

Arguments = Sequence[object]  # the Python value of each parameter $1, $2, ... (None: NULL)


class ArgumentError(TidalError):
    """A parameter's value that is not a value of its type (a text where a number goes), or
    a missing one."""

    sqlstate = INVALID_PARAMETER_VALUE


def argument_reader(number: int, arrow_type: pa.DataType) -> Callable[[Arguments], object]:
    """A function from a run's arguments to the value of ``$number`` (None for NULL), checked
    against its type: an int for an integer (in range), a float or an int for a float, a str
    for text, a bool for a BOOLEAN, whatever Arrow takes for the others."""
    if pa.types.is_integer(arrow_type):
        info = np.iinfo(arrow_type.to_pandas_dtype())
        low, high = int(info.min), int(info.max)

        def check(value):
            if type(value) is int and low <= value <= high:
                return value
            return _refuse(number, value, arrow_type)

    elif pa.types.is_floating(arrow_type):

        def check(value):
            return (
                float(value) if type(value) in (float, int) else _refuse(number, value, arrow_type)
            )

    elif arrow_type in (pa.string(), pa.bool_()):
        python_type = str if arrow_type == pa.string() else bool

        def check(value):
            return value if type(value) is python_type else _refuse(number, value, arrow_type)

    else:

        def check(value):
            try:
                return pa.scalar(value, arrow_type).as_py()
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
                return _refuse(number, value, arrow_type)

    def read(arguments: Arguments):
        if number > len(arguments):
            raise ArgumentError(f"parameter ${number} has no value")
        value = arguments[number - 1]
        return None if value is None else check(value)

    return read


def _refuse(number: int, value: object, arrow_type: pa.DataType):
    raise ArgumentError(f"parameter ${number}: {value!r} is not a value of type {arrow_type}")
