"""Soundness of the fast binary64 paths of the `interval` domain (numba kernels).

* the nextafter-free outward move (`_pred` / `_succ`, Rump, Zimmermann, Boldo &
  Melquiond 2009): never less outward than np.nextafter, equal to it in the normal range;
* the fused interval kernels (+ - * / sqrt), the row-sum bound, the midpoint-radius
  product (zeros, subnormals, infinite rows / columns, mixed point / interval operands)
  and the scalar exp / tanh kernels enclose the exact (Fraction / MPFR) results on edge
  cases and random inputs;
* the fast paths are never looser than the plain numpy reference of the same rule
  (the one the domain used before: round to nearest, then np.nextafter outward).
"""
from __future__ import annotations

import math
from fractions import Fraction

import gmpy2
import numpy as np
import pytest

import fpsem
from fpsem.domains import _ends_binary64 as I
from fpsem.errors import NotRepresentable

D = fpsem.domain("interval")
E = fpsem.domain("exact")

TINY = np.finfo(np.float64).tiny
MAXF = np.finfo(np.float64).max
EDGE = np.array([0.0, -0.0, 5e-324, -5e-324, 1e-310, -1e-310, TINY, -TINY, TINY * (1 + 2 ** -52),
                 2.0 ** -1021, 0.5, 1.0, -1.0, 1.5, 2.0, -2.0, 3.0, 1 - 2 ** -53, 1 + 2 ** -52,
                 0.1, -0.1, 1e300, -1e300, MAXF, -MAXF, MAXF / 2, 1e-300, 7.0, -1e-20])


def _ends(x):
    return np.asarray(x, dtype=np.float64)


def fr(v):
    return Fraction(float(v))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_succ_pred_against_nextafter():
    rng = np.random.default_rng(0)
    rnd = rng.standard_normal(20000) * np.exp2(rng.integers(-1074, 1023, 20000).astype(float))
    x = np.concatenate([EDGE, rnd, np.nextafter(EDGE, np.inf), np.nextafter(EDGE, -np.inf)])
    x = x[np.isfinite(x)]
    up, dn = I._up(x), I._dn(x)
    nu, nd = np.nextafter(x, np.inf), np.nextafter(x, -np.inf)
    assert (up >= nu).all() and (dn <= nd).all()
    normal = np.abs(x) >= 2.0 ** -1020
    assert (up[normal] == nu[normal]).all() and (dn[normal] == nd[normal]).all()
    # at most two ulps out near underflow
    assert (up <= np.nextafter(nu, np.inf)).all() and (dn >= np.nextafter(nd, -np.inf)).all()
    # infinities
    assert I._up(np.array([np.inf, -np.inf])).tolist() == [np.inf, -MAXF]
    assert I._dn(np.array([np.inf, -np.inf])).tolist() == [MAXF, -np.inf]


def _rand_intervals(rng, n):
    """Interval endpoints with a mix of points, zeros, subnormals, huge and tiny values."""
    scale = np.exp2(rng.integers(-1080, 1000, n).astype(float))
    c = rng.standard_normal(n) * np.where(rng.random(n) < 0.5, 1.0, scale)
    w = np.abs(rng.standard_normal(n)) * np.where(rng.random(n) < 0.3, 0.0, np.abs(c) * 10.0 ** rng.integers(-16, 1, n))
    lo, hi = c, c + w
    fin = np.isfinite(lo) & np.isfinite(hi)
    lo, hi = lo[fin], hi[fin]
    z = rng.random(lo.size) < 0.05
    lo[z] = 0.0
    hi[z] = np.where(rng.random(z.sum()) < 0.5, 0.0, np.abs(hi[z]))
    return lo, hi


def _check_op(op, alo, ahi, blo, bhi, rlo, rhi, rng):
    """Exact results at the endpoints and at a random rational inside each operand."""
    for i in range(alo.size):
        if op == "div" and blo[i] <= 0 <= bhi[i]:
            assert rlo[i] == -np.inf and rhi[i] == np.inf
            continue
        xs = [fr(alo[i]), fr(ahi[i]), fr(alo[i]) + (fr(ahi[i]) - fr(alo[i])) * Fraction(int(rng.integers(0, 97)), 97)]
        ys = [fr(blo[i]), fr(bhi[i]), fr(blo[i]) + (fr(bhi[i]) - fr(blo[i])) * Fraction(int(rng.integers(0, 97)), 97)]
        for x in xs:
            for y in ys:
                v = {"add": lambda: x + y, "sub": lambda: x - y, "mul": lambda: x * y,
                     "div": lambda: x / y}[op]()
                lo_ok = rlo[i] == -np.inf or fr(rlo[i]) <= v
                hi_ok = rhi[i] == np.inf or v <= fr(rhi[i])
                assert lo_ok and hi_ok, (op, alo[i], ahi[i], blo[i], bhi[i], rlo[i], rhi[i])


def _ref_op(op, a, b, c, d):
    """The previous numpy rule: round to nearest, np.nextafter outward (a reference for
    tightness: the fast kernels must never be looser)."""
    dn = lambda v: np.nextafter(v, -np.inf)
    up = lambda v: np.nextafter(v, np.inf)
    with np.errstate(all="ignore"):
        if op in ("add", "sub"):
            y0, y1 = (c, d) if op == "add" else (-d, -c)
            return dn(a + y0), up(b + y1)
        if op == "mul":
            p = (a * c, a * d, b * c, b * d)
            lo = np.nan_to_num(np.fmin(np.fmin(p[0], p[1]), np.fmin(p[2], p[3])), nan=0.0, posinf=np.inf, neginf=-np.inf)
            hi = np.nan_to_num(np.fmax(np.fmax(p[0], p[1]), np.fmax(p[2], p[3])), nan=0.0, posinf=np.inf, neginf=-np.inf)
            return dn(lo), up(hi)
    raise KeyError(op)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_interval_kernels_enclose_exact(op):
    rng = np.random.default_rng({"add": 1, "sub": 2, "mul": 3, "div": 4}[op])
    alo, ahi = _rand_intervals(rng, 1500)
    blo, bhi = _rand_intervals(rng, 1500)
    n = min(alo.size, blo.size)
    alo, ahi, blo, bhi = alo[:n], ahi[:n], blo[:n], bhi[:n]
    # plus every pair of edge points (as point intervals)
    ea, eb = np.meshgrid(EDGE, EDGE)
    alo, ahi = np.concatenate([alo, ea.ravel()]), np.concatenate([ahi, ea.ravel()])
    blo, bhi = np.concatenate([blo, eb.ravel()]), np.concatenate([bhi, eb.ravel()])
    r = getattr(D, op)(D.interval(alo, ahi), D.interval(blo, bhi))
    rlo, rhi = D.to_float64(r)
    assert not (np.isnan(rlo) | np.isnan(rhi)).any()
    assert (rlo <= rhi).all()
    _check_op(op, alo, ahi, blo, bhi, rlo, rhi, rng)
    if op != "div":
        flo, fhi = _ref_op(op, alo, ahi, blo, bhi)
        # near the underflow threshold the outward move may go one ulp further
        small = lambda v: np.abs(v) < 2.0 ** -1019
        flo = np.where(small(flo), np.nextafter(flo, -np.inf), flo)
        fhi = np.where(small(fhi), np.nextafter(fhi, np.inf), fhi)
        assert (rlo >= flo).all() and (rhi <= fhi).all()


def test_interval_kernels_broadcast_and_infinite_ends():
    # an unbounded interval from division by an interval containing 0
    u = D.div(D.asarray([1.0, -2.0]), D.interval(np.array([-1.0, 0.0]), np.array([1.0, 1.0])))
    lo, hi = D.to_float64(u)
    assert (lo == -np.inf).all() and (hi == np.inf).all()
    for op in ("add", "sub", "mul"):
        r = getattr(D, op)(u, D.asarray([[0.5], [0.0], [-3.0]]))  # broadcasting (3, 1) with (2,)
        lo, hi = D.to_float64(r)
        assert lo.shape == (3, 2) and not np.isnan(lo).any() and not np.isnan(hi).any()
        if op == "mul":
            assert (lo[1] == 0).all() and (hi[1] == 0).all()  # 0 * unbounded = {0}
        else:
            assert (lo == -np.inf).all() and (hi == np.inf).all()
    # x * 0 and 0-width zero intervals stay exact; exact sums are not widened
    z = D.mul(D.interval(np.array([-1.0]), np.array([2.0])), D.asarray([0.0]))
    assert D.to_float64(z)[0][0] == 0.0 and D.to_float64(z)[1][0] == 0.0
    s = D.add(D.asarray([0.5, 1e300]), D.asarray([0.25, -1e300]))
    assert D.is_point(s)
    # overflow: finite operands whose sum / product overflows
    o = D.mul(D.asarray([1e300]), D.asarray([1e300]))
    assert D.to_float64(o)[0][0] == MAXF and D.to_float64(o)[1][0] == np.inf
    o = D.add(D.asarray([-MAXF]), D.asarray([-MAXF]))
    assert D.to_float64(o)[0][0] == -np.inf and D.to_float64(o)[1][0] == -MAXF


def test_sqrt_kernel_encloses():
    x = np.concatenate([EDGE[EDGE >= 0], np.abs(np.random.default_rng(3).standard_normal(500)) * 10.0 ** np.arange(-250, 250)])
    r = D.sqrt(D.interval(x, x))
    lo, hi = D.to_float64(r)
    for i, v in enumerate(x):
        q = fr(v)
        assert fr(lo[i]) ** 2 <= q and (hi[i] == np.inf or q <= fr(hi[i]) ** 2), v
    # clipping below zero
    lo, hi = D.to_float64(D.sqrt(D.interval(np.array([-1e-20]), np.array([4.0]))))
    assert lo[0] == 0.0 and 2.0 <= hi[0] <= np.nextafter(2.0, 3.0)


def test_bounded_sums_enclose():
    rng = np.random.default_rng(11)
    lo, hi = _rand_intervals(rng, 4000)
    n = (lo.size // 40) * 40
    lo, hi = lo[:n].reshape(-1, 40), hi[:n].reshape(-1, 40)
    slo, shi = I._bounded_sums(lo, hi)
    for i in range(lo.shape[0]):
        assert slo[i] == -np.inf or fr(slo[i]) <= sum(map(fr, lo[i]))
        assert shi[i] == np.inf or sum(map(fr, hi[i])) <= fr(shi[i])
    # cancellation with huge terms, and a single column (exact)
    x = np.array([[1e308, 1e308, -1e308, -1e308, 1.0]])
    slo, shi = I._bounded_sums(x, x)
    assert slo[0] <= 1.0 <= shi[0]
    one = np.array([[3.5], [-1e-310]])
    slo, shi = I._bounded_sums(one, one)
    assert slo.tolist() == [3.5, -1e-310] and shi.tolist() == [3.5, -1e-310]
    x = np.array([[np.inf, -np.inf, 1.0]])
    slo, shi = I._bounded_sums(x, x)
    assert slo[0] == -np.inf and shi[0] == np.inf


def _exact_matmul(a, b):
    A = np.vectorize(fr, otypes=[object])(a)
    B = np.vectorize(fr, otypes=[object])(b)
    return A @ B


@pytest.mark.parametrize("case", ["points", "a_interval", "both_interval", "zeros_subnormal", "inf_rows", "inf_cols"])
def test_midrad_dot_encloses_exact(case):
    rng = np.random.default_rng(["points", "a_interval", "both_interval", "zeros_subnormal",
                                 "inf_rows", "inf_cols"].index(case))
    B, m, k, n = 2, 4, 9, 3
    a = rng.standard_normal((B, m, k)) * 10.0 ** rng.integers(-5, 5, (B, m, k))
    b = rng.standard_normal((B, k, n))
    alo = ahi = a
    blo = bhi = b
    if case in ("a_interval", "both_interval", "inf_rows", "inf_cols"):
        alo, ahi = a - np.abs(a) * 1e-3, a + np.abs(a) * 2e-3
    if case == "both_interval":
        blo, bhi = b - 1e-7, b + 3e-7
    if case == "zeros_subnormal":
        a = a.copy()
        a[0, 0] = 0.0
        a[1, :, 0] = 5e-324
        a[1, 2, 3] = -1e-310
        b = b.copy()
        b[0, :, 1] = 0.0
        b[1, 1, :] = 1e-300
        alo = ahi = a
        blo = bhi = b
    if case == "inf_rows":
        alo = alo.copy()
        alo[0, 1, 3] = -np.inf
        alo[1, :, 0] = -np.inf  # every row of batch 1
    if case == "inf_cols":
        bhi = b.copy()
        blo = b.copy()
        bhi[0, 2, 1] = np.inf
    lo, hi = I._midrad_dot(alo, ahi, blo, bhi)
    assert lo.shape == (B, m, n) and not (np.isnan(lo) | np.isnan(hi)).any()
    if case == "inf_rows":
        assert (lo[0, 1] == -np.inf).all() and (hi[0, 1] == np.inf).all()
        assert (lo[1] == -np.inf).all() and (hi[1] == np.inf).all()
        assert np.isfinite(lo[0, 0]).all()
    if case == "inf_cols":
        assert (lo[0, :, 1] == -np.inf).all() and (hi[0, :, 1] == np.inf).all()
        assert np.isfinite(lo[0, :, 0]).all() and np.isfinite(lo[1]).all()
    # exact products at endpoints and random points of the operands
    pts_a = [alo, ahi, alo + (ahi - alo) * rng.random(a.shape)] if case not in ("inf_rows",) else [ahi]
    pts_b = [blo, bhi] if case != "inf_cols" else [blo]
    if case == "both_interval":
        pts_b.append(blo + (bhi - blo) * rng.random(b.shape))
    for pa in pts_a:
        pa = np.where(np.isfinite(pa), pa, 0.0)
        for pb in pts_b:
            pb = np.where(np.isfinite(pb), pb, 0.0)
            for bi in range(B):
                ex = _exact_matmul(pa[bi], pb[bi])
                for i in range(m):
                    for j in range(n):
                        assert lo[bi, i, j] == -np.inf or fr(lo[bi, i, j]) <= ex[i, j], (case, bi, i, j)
                        assert hi[bi, i, j] == np.inf or ex[i, j] <= fr(hi[bi, i, j]), (case, bi, i, j)


def test_midrad_zero_entries_give_no_subnormal_radius_operand():
    a = np.zeros((1, 3, 5))
    a[0, 1, 2] = 1.0
    am, G, H, iv = I._midrad_a(a, a, True, 1e-13)
    assert (G[a == 0] == 0).all() and not iv
    lo = a - np.where(a == 0, 0.0, 0.5)
    am, G, H, iv = I._midrad_a(lo, a, False, 1e-13)
    assert iv and (G[(a == 0) & (lo == 0)] == 0).all() and (G[a != 0] > 0.25).all()


def _mp_encl(fn, x):
    with gmpy2.context(precision=200, round=gmpy2.RoundDown):
        lo = fn(gmpy2.mpfr(float(x), 53))
    with gmpy2.context(precision=200, round=gmpy2.RoundUp):
        hi = fn(gmpy2.mpfr(float(x), 53))
    return lo, hi


@pytest.mark.parametrize("fname", ["exp", "tanh"])
def test_scalar_elementary_kernels(fname):
    rng = np.random.default_rng(21)
    x = np.concatenate([
        rng.standard_normal(3000) * np.repeat([1e-300, 1e-12, 1e-3, 0.3, 1, 5, 30, 300, 800, 1e5], 300),
        [0.0, -0.0, 709.78, 709.79, -745.13, -745.14, -708.39, -708.4, 5e-324, -5e-324, 19.999, 20.0,
         20.001, -20.0, 0.5 * math.log(3), 1e-8, 710.0, -746.0, MAXF, -MAXF]])
    fid = {"exp": 0, "tanh": 1}[fname]
    lo, hi = I._monotone_fast(fid, x, x)
    # one side at a time (distinct lo / hi arrays) gives the bounds of both sides at once
    rlo, rhi = I._monotone_fast(fid, x, x.copy())
    assert np.array_equal(lo, rlo) and np.array_equal(hi, rhi)
    fn = {"exp": gmpy2.exp, "tanh": gmpy2.tanh}[fname]
    for i in range(0, x.size, 7):
        vlo, vhi = _mp_encl(fn, x[i])
        assert gmpy2.mpfr(lo[i]) <= vlo and vhi <= gmpy2.mpfr(hi[i]), (fname, x[i], lo[i], hi[i])
    # genuine and unbounded intervals: the lower end at lo, the upper end at hi
    a = np.sort(rng.standard_normal((2, 500)) * 5, axis=0)
    a[0, :5] = -np.inf
    a[1, 5:10] = np.inf
    lo, hi = I._monotone_fast(fid, a[0], a[1])
    l0 = I._monotone_fast(fid, a[0], a[0])[0]
    h1 = I._monotone_fast(fid, a[1], a[1])[1]
    assert np.array_equal(lo, l0) and np.array_equal(hi, h1)
    r = getattr(D, fname)(D.interval(np.array([-3.0]), np.array([2.0])))
    rl, rh = D.to_float64(r)
    assert rl[0] <= float(fn(gmpy2.mpfr(-3.0))) and float(fn(gmpy2.mpfr(2.0))) <= rh[0]


def test_asarray_finiteness_check():
    with pytest.raises(NotRepresentable):
        D.asarray(np.array([1.0, np.nan]))
    with pytest.raises(NotRepresentable):
        D.asarray(np.array([1.0, np.inf], dtype=np.float32))
    # finite entries whose sum overflows are accepted
    x = D.asarray(np.array([MAXF, MAXF]))
    assert D.to_float64(x)[0].tolist() == [MAXF, MAXF]


def test_midrad_dot_overflowing_finite_operands():
    # finite entries whose sum overflows (the cheap finiteness test fails): no recursion,
    # and the products that overflow give unbounded, not wrong, results
    a = np.full((1, 2, 3), MAXF / 2)
    a[0, 1] = [1.0, 2.0, 3.0]
    b = np.ones((1, 3, 2))
    lo, hi = I._midrad_dot(a, a, b, b)
    assert lo[0, 0, 0] <= 1.5 * MAXF and hi[0, 0, 0] == np.inf
    assert lo[0, 1, 0] <= 6.0 <= hi[0, 1, 0] and np.isfinite(lo[0, 1]).all()


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_fused_kernel_is_the_formula(op):
    """The one-pass binary64 kernel computes the bits of the interval formula written
    once in interval.py over Binary64Ends' single-operation kernels (edge values,
    zeros, infinities, random intervals)."""
    from fpsem.domains.interval import FORMULAS
    rng = np.random.default_rng(5)
    ends = np.concatenate([EDGE, -EDGE, [np.inf, -np.inf], rng.standard_normal(200) * 10.0 ** rng.integers(-300, 300, 200)])
    a = rng.choice(ends, (2, 3000))
    c = rng.choice(ends, (2, 3000))
    (a0, a1), (c0, c1) = np.sort(a, axis=0), np.sort(c, axis=0)
    E = I.Binary64Ends()
    flo, fhi = E.fused(op, a0, a1, c0, c1)
    with np.errstate(all="ignore"):
        glo, ghi = FORMULAS[op](E, a0, a1, c0, c1)
    assert np.array_equal(flo, glo, equal_nan=True) and np.array_equal(fhi, ghi, equal_nan=True)
    assert not (np.isnan(flo).any() or np.isnan(fhi).any())
