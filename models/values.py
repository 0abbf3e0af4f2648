"""Domain values as plain numpy arrays for display, decisions and files."""
from __future__ import annotations

import numpy as np

from fpsem.value import raw


def bounds(D, x):
    """(lo, hi) float64 arrays. For point domains lo == hi == the value (rounded to
    float64 where not exact); for enclosures the endpoints, widened outward to
    float64 when they are not float64 already, so [lo, hi] still encloses."""
    if getattr(D, "is_enclosure", False):
        parts = D._parts(raw(x))
        if len(parts) == 2:
            lo, hi = parts
            lo64, hi64 = _outward(lo, -1), _outward(hi, +1)
            return lo64, hi64
        r = D.to_float64(x)
        if isinstance(r, tuple):   # (lo, hi), already rounded outward (ball)
            return np.asarray(r[0], dtype=np.float64), np.asarray(r[1], dtype=np.float64)
    v = np.asarray(D.to_float64(x), dtype=np.float64)
    return v, v


def _outward(a, direction):
    a = np.asarray(a)
    if a.dtype.kind == "f" and a.dtype.itemsize <= 8:
        return a.astype(np.float64)  # exact widening
    # object arrays (Fractions, mpfr): round to float64, then step outward one ulp
    f = np.array([float(v) for v in a.ravel()], dtype=np.float64).reshape(a.shape)
    return np.nextafter(f, direction * np.inf)


def point(D, x):
    """float64 point values: the value, or the midpoint of an enclosure."""
    lo, hi = bounds(D, x)
    if lo is hi:
        return lo
    return lo + (hi - lo) / 2


def as_saved(D, x):
    """float64 array to save: (..,) for points, (.., 2) of (lo, hi) for enclosures."""
    lo, hi = bounds(D, x)
    if getattr(D, "is_enclosure", False):
        return np.stack([lo, hi], axis=-1)
    return lo


def top1_certain(lo, hi):
    """For the last axis: is the argmax certain given enclosures [lo, hi]?
    True where the top candidate's lower bound exceeds every other upper bound."""
    lo, hi = np.atleast_2d(lo), np.atleast_2d(hi)
    i = np.argmax(lo, axis=-1)
    rows = np.arange(lo.shape[0])
    h2 = hi.copy()
    h2[rows, i] = -np.inf
    return i, lo[rows, i] > np.max(h2, axis=-1)
