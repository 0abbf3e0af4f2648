"""Domain values as plain numpy arrays for display, decisions and files."""
from __future__ import annotations

import numpy as np


def bounds(D, x):
    """(lo, hi) float64 arrays (D.bounds: lo is hi for point domains; enclosures
    rounded outward)."""
    return D.bounds(x)


def point(D, x):
    """float64 point values: the value, or the midpoint of an enclosure (D.point)."""
    return D.point(x)


def as_saved(D, x):
    """float64 array to save: (..,) for points, (.., 2) of (lo, hi) for enclosures."""
    lo, hi = D.bounds(x)
    if D.semantics.kind != "point":
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
