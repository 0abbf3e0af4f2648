"""Exact sums and dot products of binary floats, rounded once (exact_then_round).

Every finite binary64 value is m * 2**e with integers m, e, so a sum of such
values is an integer multiple of 2**min(e): accumulate Python integers exactly
and round the final rational once with fpsem.formats.round_fraction.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from .formats import Format, round_fraction


def _int_parts(v: np.ndarray):
    """(m, e) int64 arrays with v == m * 2**e exactly, for finite float64 v."""
    mant, ex = np.frexp(v.astype(np.float64))
    m = (mant * 2.0**53).astype(np.int64)
    return m, ex.astype(np.int64) - 53


def exact_sum_fraction(values: np.ndarray) -> Fraction:
    """The exact sum of finite float values as a Fraction."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        return Fraction(0)
    m, e = _int_parts(v)
    nz = m != 0
    if not nz.any():
        return Fraction(0)
    m, e = m[nz], e[nz]
    e0 = int(e.min())
    total = sum(int(mi) << int(ei - e0) for mi, ei in zip(m.tolist(), e.tolist()))
    return Fraction(total) * Fraction(2) ** e0


def round_sum(values, fmt: Format, mode="rne"):
    """(bits, nonfinite) for the exact sum of `values` rounded once into fmt.
    Non-finite inputs follow IEEE addition: NaN if any NaN or +inf + -inf."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if not np.isfinite(v).all():
        with np.errstate(invalid="ignore"):
            return None, float(np.sum(v))
    s = exact_sum_fraction(v)
    # an exact zero sum is +0 unless all terms are -0 (or rdn), per IEEE 754 6.3
    neg_zero = (mode == "rdn") or (v.size > 0 and bool(np.all(np.signbit(v) & (v == 0))))
    return round_fraction(s, fmt, mode, negative_zero=neg_zero).bits, None
