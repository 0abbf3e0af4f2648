"""Small numeric kernels shared by the bridges: exact differences, ulps, hashes.

Everything that ends up in a *bound* is rounded upward here: a difference of two
float64 values is computed with TwoSum (so its exact value is s + e) and bumped
one float64 step outward when the rounding went inward. Observed errors are
plain float64 (round to nearest) and labelled as observations.
"""
from __future__ import annotations

import hashlib
from fractions import Fraction

import numpy as np

INF = float("inf")


def two_sum(a, b):
    """Knuth's TwoSum: s = fl(a + b) and e with a + b = s + e exactly (no overflow)."""
    s = a + b
    bb = s - a
    e = (a - (s - bb)) + (b - bb)
    return s, e


def abs_diff_up(a, b):
    """An upper bound of |a - b| in float64 (exact when the subtraction is exact)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        s, e = two_sum(a, -b)
        mag = np.abs(s)
        # the exact difference is s + e; it is larger in magnitude than |s| iff e has s's sign
        outward = (e != 0) & (np.sign(e) == np.sign(s))
        up = np.where(outward, np.nextafter(mag, INF), mag)
        bad = ~np.isfinite(a) | ~np.isfinite(b) | ~np.isfinite(s)
        up = np.where(bad, np.where((a == b) & np.isfinite(a), 0.0, INF), up)
    return up


def up(x, rel_steps=4):
    """Widen a float64 array (or scalar) computed with a few roundings to nearest
    upward: multiply by (1 + rel_steps * 2**-52) and take one more step."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(x == 0, x, np.nextafter(x * (1.0 + rel_steps * 2.0 ** -52), INF))


def frac_up(q) -> float:
    """The smallest float64 >= the Fraction q (inf on overflow)."""
    q = Fraction(q)
    try:
        f = float(q)
    except OverflowError:
        return INF if q > 0 else -float(np.finfo(np.float64).max)
    if Fraction(f) < q:
        f = float(np.nextafter(f, INF))
    return f


def frac_down(q) -> float:
    q = Fraction(q)
    try:
        f = float(q)
    except OverflowError:
        return -INF if q < 0 else float(np.finfo(np.float64).max)
    if Fraction(f) > q:
        f = float(np.nextafter(f, -INF))
    return f


def ulp(y, fmt):
    """ulp(y) in format `fmt` (Format with .p and .emin): 2**(max(e, emin) - p + 1)
    with e = floor(log2|y|); the smallest subnormal's spacing for y = 0."""
    a = np.abs(np.asarray(y, dtype=np.float64))
    with np.errstate(invalid="ignore"):
        _, e = np.frexp(np.where(np.isfinite(a), a, 1.0))
    E = np.maximum(e.astype(np.int64) - 1, fmt.emin)
    return np.ldexp(1.0, (E - fmt.p + 1).astype(np.int32))


def ulp_distance(a, b, fmt):
    """How many values of format `fmt` lie between a and b, counting one end
    (0 for equal values, 1 for neighbours; +0 and -0 are 0 apart): elementwise,
    a float64 array. inf counts as one past the largest finite value; NaN gives NaN.
    a and b must be values of `fmt` (the float64 images of its numbers)."""
    if fmt.p >= 53:  # binary64: the bit pattern, read as an integer, is the position
        a, b = (np.asarray(v, dtype=np.float64) for v in (a, b))
        pa, pb = (np.where(v.view(np.int64) < 0, -(v.view(np.int64) & np.int64(0x7FFFFFFFFFFFFFFF)),
                           v.view(np.int64)) for v in (a, b))
        same = (pa >= 0) == (pb >= 0)
        with np.errstate(over="ignore"):
            d = np.where(same, np.abs(pa - pb).astype(np.float64),  # exact in int64 for one sign
                         np.abs(pa.astype(np.float64)) + np.abs(pb.astype(np.float64)))
        return np.where(np.isnan(a) | np.isnan(b), np.nan, d)
    return np.abs(_ordinal(a, fmt) - _ordinal(b, fmt))


def _ordinal(x, fmt):
    """The signed position of each value of a format narrower than binary64 in the
    ordered list of its numbers (exact in float64: fewer than 2^53 of them)."""
    x = np.asarray(x, dtype=np.float64)
    a = np.abs(np.where(np.isfinite(x), x, 0.0))
    with np.errstate(invalid="ignore"):
        _, e = np.frexp(np.where(a > 0, a, 1.0))
    E = np.maximum(e.astype(np.int64) - 1, fmt.emin)
    # (E - emin) binades of 2^(p-1) values each below, then the position within E's binade
    pos = (E - fmt.emin) * 2.0 ** (fmt.p - 1) + np.ldexp(a, (fmt.p - 1 - E).astype(np.int32))
    pos = np.where(a > 0, pos, 0.0)
    top = (fmt.emax - fmt.emin + 2) * 2.0 ** (fmt.p - 1)  # inf: one past the largest finite
    pos = np.where(np.isinf(x), top, pos)
    return np.where(np.isnan(x), np.nan, np.copysign(pos, np.where(np.signbit(x), -1.0, 1.0)))


def ulp_lower(lo, hi, fmt):
    """A lower bound of ulp(x) for every x in [lo, hi] (the ulp of the smallest magnitude)."""
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    straddle = (lo <= 0) & (hi >= 0)
    amin = np.where(straddle, 0.0, np.minimum(np.abs(lo), np.abs(hi)))
    return ulp(amin, fmt)


def bits_hash(values) -> str:
    """sha256 of the float64 bit patterns (plus the shape) of a value array.

    Every binary32/bfloat16/binary16 value is a binary64 value, so hashing the
    float64 image compares the domain's own bits; NaNs are canonicalised
    (payloads are not part of any semantics promised here)."""
    v = np.ascontiguousarray(np.asarray(values, dtype=np.float64))
    if np.isnan(v).any():
        v = np.where(np.isnan(v), np.float64("nan"), v)
    h = hashlib.sha256()
    h.update(repr(tuple(v.shape)).encode())
    h.update(v.tobytes())
    return h.hexdigest()


def compensated_dot(A, B, rows=None):
    """A double-double evaluation of A @ B (numpy matmul rules for >= 2-D operands):
    products by TwoProduct (Veltkamp splitting), sums by TwoSum. Returns (hi, lo)
    with hi + lo within about k**2 * 2**-106 * sum|a b| of the exact product
    (no overflow/underflow assumed). `rows` restricts the output to some rows
    (indices into the second-to-last axis of A)."""
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    if rows is not None:
        A = A[..., rows, :]
    k = A.shape[-1]
    shape = np.broadcast_shapes(A.shape[:-2], B.shape[:-2]) + (A.shape[-2], B.shape[-1])
    s = np.zeros(shape)
    c = np.zeros(shape)
    with np.errstate(over="ignore", invalid="ignore"):
        for kk in range(k):
            a = A[..., :, kk:kk + 1]
            b = B[..., kk:kk + 1, :]
            p, pe = _two_prod(a, b)
            s, e = two_sum(s, p)
            c = c + (e + pe)
    hi, lo = two_sum(s, c)
    return hi, lo


_SPLIT = 134217729.0  # 2**27 + 1


def _two_prod(a, b):
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, e


def _split(a):
    t = _SPLIT * a
    hi = t - (t - a)
    return hi, a - hi
