"""Exact sums of powers and products per group: the state of the variance family of aggregates.

``var_pop``, ``var_samp``, ``stddev_pop``, ``stddev_samp``, ``covar_pop``, ``covar_samp``,
``corr`` and the ``regr_*`` aggregates are functions of ``n, Σx, Σx², Σy, Σy², Σxy`` over a
group's rows (DuckDB computes them over the values cast to DOUBLE). Kept as floats, these sums
lose the digits a retraction needs: delete the values that made a group's spread and its
variance comes out as a rounding residue where DuckDB says 0. Kept exactly they do not: every
double is an integer times a power of two, so each sum is a Python integer scaled by ``2**F``,
``F`` per group and argument (as large as the group's finest value needs). Inserting adds and
retracting subtracts exactly; a result is computed from the exact sums and rounded once. State:
a few integers per group, bounded by the number of groups.

A change batch is reduced in numpy first: each finite value is ``M * 2**E`` with ``E`` a multiple
of 8 and ``|M| < 2**60``, split into four 16-bit limbs; the weighted limbs (and the limb products
of squares and cross products) are summed per (group, E) without overflow, and only those sums
become Python integers. Infinities and NaN are counted apart, as DuckDB's results for them
depend only on their presence.

>>> import numpy as np
>>> m = Moments(1)
>>> m.grow(1)
>>> m.update(np.array([0, 0, 0]), np.array([1, 1, 1]), [np.array([0.1, 0.1, 100.0])])
>>> round(m.value("var_pop", 0), 6)
2217.78
>>> m.update(np.array([0]), np.array([-1]), [np.array([100.0])])  # retract 100
>>> m.value("var_pop", 0), m.value("var_samp", 0), m.value("stddev_samp", 0)
(0.0, 0.0, 0.0)
"""

from __future__ import annotations

import math
import pickle

import numpy as np
import pyarrow as pa

# Aggregates of one argument that Moments computes; those of two are tidal.sql.aggregates.BINARY.
UNARY = ("var_pop", "var_samp", "stddev_pop", "stddev_samp")

_UNSET = -(1 << 40)  # the scale of a group without values
_LIMBS = 4  # 16-bit limbs of |M| < 2**60
_WEIGHT_BOUND = 1 << 28  # Σ|weight| of one reduction: limb products (< 2**34) sum below 2**62


class Moments:
    """Exact ``n, Σx, Σx² [, Σy, Σy², Σxy]`` per group slot for one or two argument columns.

    Per slot: the row count, per argument the counts of +inf, -inf and NaN and the scale ``F``,
    and the sums as Python integers (``Σx * 2**Fx``, ``Σx² * 2**(2Fx)``, ``Σxy * 2**(Fx+Fy)``).
    """

    def __init__(self, arity: int) -> None:
        self.arity = arity
        self.n = np.zeros(0, np.int64)
        self.special = np.zeros((0, 3 * arity), np.int64)  # +inf, -inf, NaN per argument
        self.scale = np.zeros((0, arity), np.int64)
        self.sums = np.zeros((2 if arity == 1 else 5, 0), object)  # x, xx [, y, yy, xy]
        # Results by aggregate name: values, NULL flags, and whether they are up to date.
        self.cache: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def grow(self, size: int) -> None:
        extra = size - len(self.n)
        if extra > 0:
            self.n = np.concatenate([self.n, np.zeros(extra, np.int64)])
            self.special = np.concatenate(
                [self.special, np.zeros((extra, 3 * self.arity), np.int64)]
            )
            self.scale = np.concatenate(
                [self.scale, np.full((extra, self.arity), _UNSET, np.int64)]
            )
            self.sums = np.concatenate(
                [self.sums, np.zeros((len(self.sums), extra), object)], axis=1
            )
            self.cache = {}

    def update(self, slots: np.ndarray, weights: np.ndarray, values: list[np.ndarray]) -> None:
        """Adds rows (``values``: one float64 array per argument, no NULLs) with their weights
        to the groups at ``slots``."""
        total = int(np.abs(weights).sum())
        if total >= _WEIGHT_BOUND:
            if len(weights) == 1:
                raise ArithmeticError("a row's weight is too large for an exact variance")
            half = len(weights) // 2
            self.update(slots[:half], weights[:half], [v[:half] for v in values])
            self.update(slots[half:], weights[half:], [v[half:] for v in values])
            return
        if not len(weights):
            return
        parts = [_decompose(v) for v in values]
        columns = {"slot": slots, "n": weights}
        for a, (finite, kinds, exponent, sign, limbs) in enumerate(parts):
            columns[f"e{a}"] = exponent
            if not finite.all():
                for k in range(3):
                    columns[f"special{a}_{k}"] = np.where(kinds == k, weights, 0)
            signed = sign * weights
            for i, limb in enumerate(limbs):
                columns[f"s{a}_{i}"] = signed * limb
            for m, coefficient in enumerate(_products(limbs, limbs)):
                columns[f"ss{a}_{m}"] = weights * coefficient
        if self.arity == 2:
            sign = parts[0][3] * parts[1][3] * weights
            for m, coefficient in enumerate(_products(parts[0][4], parts[1][4])):
                columns[f"p_{m}"] = sign * coefficient
        keys = ["slot"] + [f"e{a}" for a in range(self.arity)]
        summed = [name for name in columns if name not in keys]
        table = (
            pa.table(columns)
            .group_by(keys, use_threads=False)
            .aggregate([(name, "sum") for name in summed])
        )
        buckets = {name: table.column(f"{name}_sum").to_numpy() for name in summed}
        bucket_slots = table.column("slot").to_numpy()
        exponents = [table.column(f"e{a}").to_numpy() for a in range(self.arity)]
        np.add.at(self.n, bucket_slots, buckets["n"])
        for a in range(self.arity):
            for k in range(3):
                if f"special{a}_{k}" in buckets:
                    np.add.at(self.special[:, 3 * a + k], bucket_slots, buckets[f"special{a}_{k}"])
        self._rescale(bucket_slots, exponents)
        self._add(bucket_slots, exponents, buckets)
        empty = bucket_slots[self.n[bucket_slots] == 0]
        self.scale[empty] = _UNSET  # the sums are exactly 0 again: start afresh
        for _, _, fresh in self.cache.values():
            fresh[bucket_slots] = False

    def _rescale(self, slots: np.ndarray, exponents: list[np.ndarray]) -> None:
        """Raises each touched group's scale to what the new values need, shifting its sums."""
        marked = np.zeros(len(self.n), bool)
        marked[slots] = True
        touched = np.nonzero(marked)[0]
        for a in range(self.arity):
            needed = self.scale[:, a].copy()
            np.maximum.at(needed, slots, -exponents[a])
            old, new = self.scale[touched, a], needed[touched]
            moved = touched[(old != _UNSET) & (new > old)]
            shift = (needed[moved] - self.scale[moved, a]).astype(object)
            for row, factor in self._sums_of(a):
                self.sums[row, moved] = np.left_shift(self.sums[row, moved], shift * factor)
            self.scale[touched, a] = new

    def _sums_of(self, a: int) -> list[tuple[int, int]]:
        """The sums that argument ``a``'s scale scales, with its power in each."""
        if self.arity == 1:
            return [(0, 1), (1, 2)]
        return [(0, 1), (1, 2), (4, 1)] if a == 0 else [(2, 1), (3, 2), (4, 1)]

    def _add(self, slots: np.ndarray, exponents: list[np.ndarray], buckets: dict) -> None:
        shifts = [self.scale[slots, a] + exponents[a] for a in range(self.arity)]
        for a in range(self.arity):
            first = _combine([buckets[f"s{a}_{i}"] for i in range(_LIMBS)])
            second = _combine([buckets[f"ss{a}_{m}"] for m in range(2 * _LIMBS - 1)])
            np.add.at(self.sums[2 * a], slots, np.left_shift(first, shifts[a].astype(object)))
            np.add.at(
                self.sums[2 * a + 1], slots, np.left_shift(second, 2 * shifts[a].astype(object))
            )
        if self.arity == 2:
            cross = _combine([buckets[f"p_{m}"] for m in range(2 * _LIMBS - 1)])
            np.add.at(
                self.sums[4], slots, np.left_shift(cross, (shifts[0] + shifts[1]).astype(object))
            )

    # --- results ---

    def values(self, name: str, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The aggregate ``name`` of the groups ``slots`` as DuckDB gives it: values (float64)
        and NULL flags. Computed once per change of a group."""
        if name not in self.cache:
            size = len(self.n)
            self.cache[name] = (np.zeros(size), np.ones(size, bool), np.zeros(size, bool))
        values, nulls, fresh = self.cache[name]
        stale = slots[~fresh[slots]]  # repeated slots are computed twice, to the same values
        if len(stale):
            values[stale], nulls[stale] = self._compute(name, stale)
            fresh[stale] = True
        return values[slots], nulls[slots]

    def value(self, name: str, slot: int) -> float | None:
        values, nulls = self.values(name, np.array([slot]))
        return None if nulls[0] else float(values[0])

    def _compute(self, name: str, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = self.n[slots]
        if name == "regr_count":
            return n.astype(np.float64), np.zeros(len(n), bool)
        special = self.special[slots]
        if self.arity == 1:
            first, second = self.sums[:, slots]
            return _unary(name, n, special.any(axis=1), first, second, self.scale[slots, 0])
        results = [
            None if count == 0 else _binary(name, count, bad, sums, scale)
            for count, bad, scale, *sums in zip(
                n.tolist(), special, self.scale[slots].tolist(), *self.sums[:, slots]
            )
        ]
        nulls = np.array([r is None for r in results], bool)
        return np.array([math.nan if r is None else r for r in results], np.float64), nulls

    # --- state ---

    def compacted(self, kept: np.ndarray) -> Moments:
        moments = Moments(self.arity)
        moments.n, moments.special, moments.scale = (
            self.n[kept],
            self.special[kept],
            self.scale[kept],
        )
        moments.sums = self.sums[:, kept]
        return moments

    def snapshot(self, size: int) -> dict:
        """The first ``size`` groups' state: the counts and scales as a table (copied: ``update``
        changes them in place), the exact sums pickled. Pickled here, by the C pickler: a
        checkpoint's own pickler calls a Python hook on every object (to take Arrow tables
        aside), four times slower over millions of integers (0.8 s for 1M groups)."""
        columns = {"n": self.n[:size].copy()}
        for i in range(self.special.shape[1]):
            columns[f"special{i}"] = self.special[:size, i].copy()
        for a in range(self.arity):
            columns[f"scale{a}"] = self.scale[:size, a].copy()
        sums = pickle.dumps(self.sums[:, :size], protocol=pickle.HIGHEST_PROTOCOL)
        return {"counts": pa.table(columns), "sums": sums}

    def restore(self, state: dict) -> None:
        counts = state["counts"]

        def column(name: str) -> np.ndarray:
            return counts.column(name).to_numpy().copy()

        self.cache = {}
        self.n = column("n")
        self.special = np.stack([column(f"special{i}") for i in range(3 * self.arity)], axis=1)
        self.scale = np.stack([column(f"scale{a}") for a in range(self.arity)], axis=1)
        self.sums = pickle.loads(state["sums"])


def _decompose(values: np.ndarray):
    """Per value: finite?, kind of special (0 +inf, 1 -inf, 2 NaN, 3 finite), the exponent E (a
    multiple of 8), the sign and the four 16-bit limbs of |M| (value = sign * M * 2**E)."""
    finite = np.isfinite(values)
    kinds = np.where(finite, 3, np.where(np.isnan(values), 2, np.where(values > 0, 0, 1)))
    fraction, exponent = np.frexp(np.where(finite, values, 0.0))
    mantissa = np.abs(np.ldexp(fraction, 53)).astype(np.int64)  # exact: |M| < 2**53
    exponent = exponent.astype(np.int64) - 53
    coarse = exponent - (exponent & 7)
    mantissa <<= exponent - coarse
    coarse[~finite] = 0
    limbs = [(mantissa >> (16 * i)) & 0xFFFF for i in range(_LIMBS)]
    return finite, kinds, coarse, np.sign(fraction).astype(np.int64), limbs


def _products(a: list[np.ndarray], b: list[np.ndarray]) -> list[np.ndarray]:
    """The limbs of the product of two limb vectors, without carries (each below 2**34)."""
    out: list[np.ndarray | None] = [None] * (2 * _LIMBS - 1)
    for i in range(_LIMBS):
        for j in range(_LIMBS):
            if a is b and j < i:
                continue  # a square: a[i] * a[j] twice, once below
            term = a[i] * b[j]
            if a is b and j > i:
                term <<= 1
            out[i + j] = term if out[i + j] is None else out[i + j] + term
    return out


def _combine(limbs: list[np.ndarray]) -> np.ndarray:
    """Python integers ``Σ limbs[i] * 2**(16 i)`` from int64 limb sums: the carries are
    propagated in numpy, so that only a few 64-bit words per value become Python integers."""
    digits, carry = [], np.zeros_like(limbs[0])
    for limb in limbs:
        total = limb + carry  # below 2**63: limbs are below 2**62, carries below 2**46
        digits.append((total & 0xFFFF).astype(np.uint64))
        carry = total >> 16
    value = carry.astype(object)
    for start in reversed(range(0, len(digits), 4)):
        word = digits[start]
        for i in range(start + 1, min(start + 4, len(digits))):
            word = word | (digits[i] << np.uint64(16 * (i - start)))
        width = 16 * min(4, len(digits) - start)
        value = np.left_shift(value, width) + word.astype(object)
    return value


def _ratio(numerator: int, denominator: int, shift: int) -> float:
    """``numerator / (denominator * 2**shift)``, rounded once (inf where a double overflows)."""
    if shift >= 0:
        denominator <<= shift
    else:
        numerator <<= -shift
    try:
        return numerator / denominator
    except OverflowError:
        return math.inf if (numerator > 0) == (denominator > 0) else -math.inf


def _unary(name: str, n, special, first, second, scale) -> tuple[np.ndarray, np.ndarray]:
    """var_pop, var_samp, stddev_pop, stddev_samp from the exact sums (object arrays)."""
    sample = name.endswith("samp")
    nulls = (n == 0) | (sample & (n == 1))
    values = np.where(special & (n > 1), math.nan, 0.0)  # one value: a population spread of 0
    regular = np.nonzero((n > 1) & ~special)[0]
    if len(regular):
        count = n[regular]
        divisor = count * (count - 1 if sample else count)
        # n * Σ(x - mean)² = n Σx² - (Σx)², exactly
        centered = count.astype(object) * second[regular] - first[regular] * first[regular]
        values[regular] = _scaled_ratios(centered, divisor, 2 * scale[regular])
    return (np.sqrt(values) if name.startswith("stddev") else values), nulls


def _scaled_ratios(numerators: np.ndarray, divisors: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """``numerators / (divisors * 2**shifts)`` as doubles: in numpy where the numerators fit
    a double (two roundings), else exactly (one)."""
    if len(shifts) and np.abs(shifts).max() < 900:
        try:
            return np.ldexp(numerators.astype(np.float64) / divisors, -shifts)
        except OverflowError:
            pass
    return np.array([_ratio(a, int(b), int(f)) for a, b, f in zip(numerators, divisors, shifts)])


def _binary(name: str, n: int, special: np.ndarray, sums, scale: list[int]) -> float | None:
    """(y, x) = the arguments as written. DuckDB decides NULL and NaN on its double results
    (population variances and covariance): those are computed here as doubles for the same
    decisions, and the value itself from the exact sums."""
    y, yy, x, xx, xy = sums
    fy, fx = scale
    y_special, x_special = special[:3].any(), special[3:].any()
    if name in ("regr_avgx", "regr_avgy"):
        counts, total, f = (special[3:], x, fx) if name == "regr_avgx" else (special[:3], y, fy)
        return _mean(counts, total, n, f)
    cxx, cyy, cxy = n * xx - x * x, n * yy - y * y, n * xy - x * y
    var_x = _population(cxx, n, 2 * fx, x_special)
    var_y = _population(cyy, n, 2 * fy, y_special)
    bad = x_special or y_special
    if name in ("covar_pop", "covar_samp", "regr_sxy"):  # regr_sxy is n * covar_pop
        divisor = {"covar_pop": n * n, "covar_samp": n * (n - 1), "regr_sxy": n}[name]
        if divisor == 0:
            return None
        return math.nan if bad else _ratio(cxy, divisor, fx + fy)
    if name in ("regr_sxx", "regr_syy"):  # n * var_pop
        centered, variance, f = (cxx, var_x, fx) if name == "regr_sxx" else (cyy, var_y, fy)
        return variance if variance == 0 or math.isnan(variance) else _ratio(centered, n, 2 * f)
    if name == "corr" or (name == "regr_r2" and var_x != 0 and var_y != 0):
        if math.sqrt(var_x) * math.sqrt(var_y) == 0:
            return math.nan
        if bad:
            return math.nan
        r2 = _ratio(cxy * cxy, cxx * cyy, 0)
        return r2 if name == "regr_r2" else math.sqrt(r2) * (1 if cxy > 0 else -1)
    if name == "regr_r2":  # NULL if var_pop(x) is 0, else 1 if var_pop(y) is 0
        return None if var_x == 0 else 1.0
    slope = math.nan if var_x == 0 or bad else _ratio(cxy, cxx, fy - fx)
    if name == "regr_slope":
        return slope
    if name == "regr_intercept":  # as DuckDB computes it, in doubles: mean(y) - slope * mean(x)
        return None if math.isnan(slope) else _ratio(y, n, fy) - slope * _ratio(x, n, fx)
    raise ValueError(f"not a moment aggregate: {name}")


def _population(centered: int, n: int, shift: int, special: bool) -> float:
    """The population variance as DuckDB's double: 0 for one value, NaN with an inf or NaN."""
    if n == 1:
        return 0.0
    return math.nan if special else _ratio(centered, n * n, shift)


def _mean(counts: np.ndarray, total: int, n: int, scale: int) -> float:
    """A mean as DuckDB's double sum gives it: NaN with a NaN or both infinities, else ±inf."""
    positive, negative, nan = counts > 0
    if nan or (positive and negative):
        return math.nan
    if positive or negative:
        return math.inf if positive else -math.inf
    return _ratio(total, n, scale)
