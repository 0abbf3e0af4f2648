"""Soundness (and some tightness) tests of the `interval` domain.

Every primitive is checked against the `exact` domain on rationals (the exact
result must lie in the interval result, for point inputs and for points drawn
inside genuine intervals), and every elementary function against MPFR at 200 bits
in directed rounding (the 200-bit enclosure must lie inside the interval).
"""
from __future__ import annotations

import math
from fractions import Fraction

import gmpy2
import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import fpsem
from fpsem.domains.interval import Interval, Tri, _midrad_dot
from fpsem.errors import NotRepresentable, UnsupportedOption

D = fpsem.domain("interval")
M = fpsem.domain("interval", endpoints="mpfr", precision=80)
E = fpsem.domain("exact")
DOMAINS = [D, M]

# ---------------------------------------------------------------------------
# helpers


def fr(v):
    return Fraction(int(v.numerator), int(v.denominator))


def assert_contains(Dom, x, exact_vals):
    """exact_vals: iterable/array of Fractions (or mpq); every value in x."""
    vals = np.array([fr(v) for v in np.asarray(exact_vals, dtype=object).ravel()], dtype=object)
    lo, hi = Dom.to_fraction(Dom.reshape(x, (-1,))) if _finite(Dom, x) else (None, None)
    if lo is None:
        ok = Dom.contains(Dom.reshape(x, (-1,)), vals)
        assert ok.all(), (x, vals)
        return
    for i, q in enumerate(vals):
        assert lo[i] <= q <= hi[i], (i, float(lo[i]), float(q), float(hi[i]))


def _finite(Dom, x):
    lo, hi = Dom.to_float64(x)
    return np.isfinite(lo).all() and np.isfinite(hi).all()


def point_in(lo, hi, t):
    """A rational in [lo, hi] at relative position t in [0, 1]."""
    return lo + (hi - lo) * t


rationals = st.fractions(min_value=-50, max_value=50, max_denominator=10 ** 6)
small_pos = st.fractions(min_value=Fraction(1, 10 ** 6), max_value=50, max_denominator=10 ** 6)
pos_t = st.fractions(min_value=0, max_value=1, max_denominator=97)


def ival(Dom, lo, hi):
    return Dom.interval(np.array([lo], dtype=object), np.array([hi], dtype=object))


# ---------------------------------------------------------------------------
# options and representation


def test_options():
    assert D.is_enclosure and M.is_enclosure
    with pytest.raises(UnsupportedOption):
        fpsem.domain("interval", endpoints="float32")
    with pytest.raises(UnsupportedOption):
        fpsem.domain("interval", precision=100)  # binary64 endpoints have 53 bits
    with pytest.raises(UnsupportedOption):
        fpsem.domain("interval", rounding="rup")
    fpsem.domain("interval", acc="pairwise")  # accepted, irrelevant for the enclosure
    assert M.precision == 80
    assert str(D.accuracy("exp")).startswith("enclosure")


@pytest.mark.parametrize("Dom", DOMAINS, ids=["b64", "mpfr"])
def test_asarray_tightest(Dom):
    x = Dom.asarray(["0.1", "1/3", 5, 0.5, Fraction(-7, 3)])
    lo, hi = Dom.to_fraction(x)
    exact = [Fraction(1, 10), Fraction(1, 3), Fraction(5), Fraction(1, 2), Fraction(-7, 3)]
    for l, h, q in zip(lo, hi, exact):
        assert l <= q <= h
    if Dom is D:
        assert lo[0] == Fraction(0.1) or hi[0] == Fraction(0.1)  # one of the neighbours
        assert np.nextafter(float(lo[0]), 1) == float(hi[0])
        assert lo[2] == hi[2] == 5 and lo[3] == hi[3] == Fraction(1, 2)
    with pytest.raises(NotRepresentable):
        Dom.asarray([float("inf")])
    f32 = np.array([0.1, -3.25], dtype=np.float32)
    x = Dom.asarray(f32)
    assert Dom.is_point(x)
    assert list(Dom.to_fraction(x)[0]) == [Fraction(float(v)) for v in f32]


@pytest.mark.parametrize("Dom", DOMAINS, ids=["b64", "mpfr"])
def test_structural(Dom):
    x = Dom.asarray(np.arange(12).reshape(3, 4))
    y = Dom.transpose(Dom.reshape(x, (4, 3)))
    assert Dom.shape(y) == (3, 4)
    p = Dom.pad(x, [(1, 0), (0, 2)])
    assert Dom.shape(p) == (4, 6)
    assert Dom.to_float64(p)[0][0].tolist() == [0] * 6
    t = Dom.take(x, [2, 0], axis=0)
    assert Dom.to_float64(t)[1][0].tolist() == [8, 9, 10, 11]
    c = Dom.concat([x, x], axis=1)
    assert Dom.shape(c) == (3, 8)
    g = Dom.getitem(x, (slice(None), 1))
    assert Dom.to_float64(g)[0].tolist() == [1, 5, 9]
    mask = np.tril(np.ones((3, 4), dtype=bool))
    w = Dom.where(mask, x, Dom.full((3, 4), -1))
    assert Dom.to_float64(w)[0][0].tolist() == [0, -1, -1, -1]


def test_width_midpoint():
    x = D.interval(np.array([1, "1/3"], dtype=object), np.array([3, "1/3"], dtype=object))
    assert D.width(x)[0] >= 2 and D.width(x)[1] > 0
    m = D.midpoint(x)
    assert m[0] == 2.0 and abs(m[1] - 1 / 3) < 1e-16
    lo, hi = D.to_fraction(x)
    assert lo[0] == 1 and hi[0] == 3


# ---------------------------------------------------------------------------
# arithmetic against the exact domain


BIN = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
       "div": lambda a, b: a / b, "minimum": min, "maximum": max}


@pytest.mark.parametrize("Dom", DOMAINS, ids=["b64", "mpfr"])
@pytest.mark.parametrize("op", list(BIN))
@given(a1=rationals, a2=rationals, b1=rationals, b2=rationals, s=pos_t, t=pos_t)
def test_binary_ops_enclose(Dom, op, a1, a2, b1, b2, s, t):
    alo, ahi = min(a1, a2), max(a1, a2)
    blo, bhi = min(b1, b2), max(b1, b2)
    x, y = ival(Dom, alo, ahi), ival(Dom, blo, bhi)
    r = getattr(Dom, op)(x, y)
    p, q = point_in(alo, ahi, s), point_in(blo, bhi, t)
    if op == "div" and blo <= 0 <= bhi:
        lo, hi = Dom.to_float64(r)
        assert lo[0] == -math.inf and hi[0] == math.inf  # documented result
        return
    # the exact domain agrees on the real result at points of the inputs
    ex = getattr(E, op)(E.asarray([p]), E.asarray([q]))
    assert_contains(Dom, r, ex)
    # point inputs: the interval result encloses the exact result of the point op
    rp = getattr(Dom, op)(Dom.asarray([p]), Dom.asarray([q]))
    assert_contains(Dom, rp, ex)


@pytest.mark.parametrize("Dom", DOMAINS, ids=["b64", "mpfr"])
@given(a1=rationals, a2=rationals, s=pos_t)
def test_unary_ops_enclose(Dom, a1, a2, s):
    lo, hi = min(a1, a2), max(a1, a2)
    x = ival(Dom, lo, hi)
    p = point_in(lo, hi, s)
    assert_contains(Dom, Dom.neg(x), [-p])
    assert_contains(Dom, Dom.abs(x), [abs(p)])
    if p >= 0:
        n, d = p.numerator, p.denominator
        if gmpy2.is_square(n) and gmpy2.is_square(d):
            assert_contains(Dom, Dom.sqrt(x), [Fraction(gmpy2.isqrt(n), gmpy2.isqrt(d))])
    # sqrt(p)^2 == p: the square of the sqrt enclosure contains p
    if hi >= 0:
        sq = Dom.sqrt(x)
        if p >= 0:
            assert_contains(Dom, Dom.mul(sq, sq), [p]) if lo >= 0 else None


@pytest.mark.parametrize("Dom", DOMAINS, ids=["b64", "mpfr"])
@given(a=rationals, b=rationals, c=rationals)
def test_fma_encloses(Dom, a, b, c):
    r = Dom.fma(Dom.asarray([a]), Dom.asarray([b]), Dom.asarray([c]))
    assert_contains(Dom, r, [a * b + c])


@pytest.mark.parametrize("Dom", DOMAINS, ids=["b64", "mpfr"])
def test_edge_cases(Dom):
    z = ival(Dom, -1, 2)
    # abs straddling 0
    lo, hi = Dom.to_float64(Dom.abs(z))
    assert lo[0] == 0 and hi[0] == 2
    # division by intervals containing 0 (including touching)
    for d in (ival(Dom, -1, 2), ival(Dom, 0, 2), ival(Dom, -3, 0), Dom.asarray([0])):
        lo, hi = Dom.to_float64(Dom.div(Dom.asarray([1]), d))
        assert lo[0] == -math.inf and hi[0] == math.inf
    # sqrt and log clipped at the edge of their domain; entirely outside raises
    lo, hi = Dom.to_float64(Dom.sqrt(ival(Dom, "-1/1000", 4)))
    assert lo[0] == 0 and 2 <= hi[0] < 2.0000001
    with pytest.raises(NotRepresentable):
        Dom.sqrt(ival(Dom, -2, -1))
    lo, hi = Dom.to_float64(Dom.log(ival(Dom, 0, 1)))
    assert lo[0] == -math.inf and hi[0] >= 0
    with pytest.raises(NotRepresentable):
        Dom.log(ival(Dom, -2, 0))
    # 0 * unbounded is 0
    big = Dom.div(Dom.asarray([1]), ival(Dom, -1, 1))
    lo, hi = Dom.to_float64(Dom.mul(Dom.asarray([0]), big))
    assert lo[0] == 0 and hi[0] == 0
    lo, hi = Dom.to_float64(Dom.mul(ival(Dom, 0, 1), big))
    assert lo[0] == -math.inf and hi[0] == math.inf
    # overflow gives an unbounded but sound interval
    lo, hi = Dom.to_float64(Dom.mul(Dom.asarray([1e300]), Dom.asarray([1e300])))
    assert lo[0] >= 1e300 and hi[0] == math.inf or Dom is M


@pytest.mark.parametrize("Dom", DOMAINS, ids=["b64", "mpfr"])
def test_comparisons_three_valued(Dom):
    a = Dom.interval(np.array([0, 0, 5, 1], dtype=object), np.array([1, 3, 6, 1], dtype=object))
    b = Dom.interval(np.array([2, 2, 1, 1], dtype=object), np.array([3, 4, 2, 1], dtype=object))
    lt = Dom.lt(a, b)
    assert isinstance(lt, Tri)
    assert lt.sure.tolist() == [True, False, False, False]
    assert lt.maybe.tolist() == [True, True, False, False]
    assert lt.undecided.tolist() == [False, True, False, False]
    eq = Dom.eq(a, b)
    assert eq.sure.tolist() == [False, False, False, True]
    assert eq.maybe.tolist() == [False, True, False, True]
    ne = Dom.ne(a, b)
    assert ne.sure.tolist() == [True, False, True, False]
    assert Dom.ge(a, b).sure.tolist() == [False, False, True, True]
    assert Dom.gt(a, b).maybe.tolist() == [False, True, True, False]
    assert Dom.le(a, b).sure.tolist() == [True, False, False, True]
    # where: decided picks a branch; undecided gives the hull
    w = Dom.where(lt, a, b)
    lo, hi = Dom.to_float64(w)
    assert lo.tolist() == [0, 0, 1, 1] and hi.tolist() == [1, 4, 2, 1]
    with pytest.raises(Exception):
        lt.to_bool()


@pytest.mark.parametrize("Dom", DOMAINS, ids=["b64", "mpfr"])
@given(a1=rationals, a2=rationals, s=pos_t)
def test_relu_forms_sound(Dom, a1, a2, s):
    lo, hi = min(a1, a2), max(a1, a2)
    x = ival(Dom, lo, hi)
    p = point_in(lo, hi, s)
    zero = Dom.zeros((1,))
    r1 = Dom.maximum(x, zero)
    r2 = Dom.where(Dom.gt(x, zero), x, zero)
    assert_contains(Dom, r1, [max(p, 0)])
    assert_contains(Dom, r2, [max(p, 0)])


# ---------------------------------------------------------------------------
# reductions


@pytest.mark.parametrize("Dom", DOMAINS, ids=["b64", "mpfr"])
@given(data=st.data())
def test_reductions_enclose(Dom, data):
    m, k, n = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 6)), data.draw(st.integers(1, 4))
    width = data.draw(st.sampled_from([0, Fraction(1, 10 ** 9), Fraction(1, 3)]))
    def mat(shape):
        c = np.array([data.draw(rationals) for _ in range(int(np.prod(shape)))], dtype=object).reshape(shape)
        w = np.array([data.draw(pos_t) * width for _ in range(c.size)], dtype=object).reshape(shape)
        t = np.array([data.draw(pos_t) for _ in range(c.size)], dtype=object).reshape(shape)
        return Dom.interval(c, c + w), c + w * t
    A, ap = mat((m, k))
    B, bp = mat((k, n))
    Ae, Be = E.asarray(ap), E.asarray(bp)
    assert_contains(Dom, Dom.dot(A, B), E.dot(Ae, Be))
    assert_contains(Dom, Dom.sum(A, axis=1), E.sum(Ae, axis=1))
    assert_contains(Dom, Dom.sum(A, axis=0), E.sum(Ae, axis=0))
    assert_contains(Dom, Dom.sum(A, axis=None), E.reshape(E.sum(Ae, axis=None), (-1,)))
    assert_contains(Dom, Dom.max(A, axis=1), E.max(Ae, axis=1))
    # vector cases and batched matmul
    assert_contains(Dom, Dom.dot(Dom.getitem(A, 0), B), E.dot(E.getitem(Ae, 0), Be))


def test_dot_cancellation_and_scale():
    # heavy cancellation: the rounding-error term of the radius is what saves us
    rng = np.random.default_rng(1)
    for _ in range(20):
        k = int(rng.integers(2, 40))
        a = rng.standard_normal((3, k)) * 10.0 ** rng.integers(-5, 5, (3, k))
        b = rng.standard_normal((k, 2))
        b[-1] = -(a[:, :-1] @ b[:-1])[0] / a[0, -1]  # make row 0 cancel
        r = D.dot(D.asarray(a), D.asarray(b))
        ex = E.dot(E.asarray(a), E.asarray(b))
        assert_contains(D, r, ex)
    # subnormal and huge scales
    a = np.array([[1e-310, 1e-300, -1e-320]])
    b = np.array([[1e-10], [3e-20], [7.0]])
    assert_contains(D, D.dot(D.asarray(a), D.asarray(b)), E.dot(E.asarray(a), E.asarray(b)))
    a = np.array([[1e300, 1e300]])
    r = D.dot(D.asarray(a), D.asarray(np.array([[1e10], [1e10]])))
    assert D.to_float64(r)[1][0, 0] == math.inf
    # infinite endpoints make the affected entries entire, the others stay tight
    big = D.div(D.asarray([1]), ival(D, -1, 1))
    A = D.concat([D.reshape(big, (1, 1)), D.asarray([[2]])], axis=0)  # (2,1)
    r = D.dot(A, D.asarray([[3]]))
    lo, hi = D.to_float64(r)
    assert lo[0, 0] == -math.inf and hi[0, 0] == math.inf and lo[1, 0] <= 6 <= hi[1, 0] and hi[1, 0] - lo[1, 0] < 1e-14


def test_sum_large_and_tight():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 1000))
    r = D.sum(D.asarray(x), axis=1)
    ex = E.sum(E.asarray(x), axis=1)
    assert_contains(D, r, ex)
    assert (D.width(r) < 1e-9).all()


# ---------------------------------------------------------------------------
# elementary functions against MPFR at 200 bits


_HARD = [0.0, 5e-324, -5e-324, 1e-310, 2.2250738585072014e-308, 1e-300, 1e-20, 1e-8, 2 ** -27,
         0.1, 0.25, 0.3465, 0.5, 0.5 - 2 ** -54, 0.6931471805599453, 1.0, 1 - 2 ** -53, 1 + 2 ** -52,
         1.5, 2.0, 2.9999999999999996, 3.0, 5.999999999999999, 6.0, 7.5, 10.0, 19.99, 20.0, 20.5,
         30.0, 100.0, 354.9, 700.0, 709.78, 709.7827128933841, 709.79, 710.0, 745.1, 745.2, 746.0,
         800.0, 1e10, 1e300, 1.7976931348623157e308]

_FUNCS = {"exp": gmpy2.exp, "exp2": gmpy2.exp2, "tanh": gmpy2.tanh, "erf": gmpy2.erf,
          "sin": gmpy2.sin, "cos": gmpy2.cos, "log": gmpy2.log}


def _sample_points(fname):
    rng = np.random.default_rng(abs(hash(fname)) % 2 ** 32)
    pts = list(_HARD) + [-v for v in _HARD]
    pts += list(rng.standard_normal(150) * 3)
    pts += list(rng.uniform(-750, 750, 60))
    pts += list(np.ldexp(rng.uniform(0.5, 1, 40), rng.integers(-1070, 1020, 40)))
    pts += [np.nextafter(0.6931471805599453 * k, s) for k in range(-5, 6) for s in (-1, 1)]
    if fname == "log":
        pts = [abs(p) for p in pts if p != 0] + [np.nextafter(1.0, 0), np.nextafter(1.0, 2), 0.7071067811865476,
                                                  0.7071067811865475, 1.414213562373095]
    if fname in ("sin", "cos"):
        pts = [p for p in pts if abs(p) < 1e6][:120] + [1.5707963267948966, 3.141592653589793,
                                                         4.71238898038469, 1e22]
    return np.array(pts, dtype=np.float64)


def _mp_encl(fn, x):
    with gmpy2.context(precision=200, round=gmpy2.RoundDown):
        lo = fn(gmpy2.mpfr(float(x), 53))
    with gmpy2.context(precision=200, round=gmpy2.RoundUp):
        hi = fn(gmpy2.mpfr(float(x), 53))
    return lo, hi


@pytest.mark.parametrize("fname", list(_FUNCS))
def test_elementary_enclose_mpfr200(fname):
    pts = _sample_points(fname)
    r = getattr(D, fname)(D.asarray(pts))
    lo, hi = D.to_float64(r)
    assert not (np.isnan(lo) | np.isnan(hi)).any()
    maxrel = 0.0
    for i, x in enumerate(pts):
        vlo, vhi = _mp_encl(_FUNCS[fname], x)
        assert gmpy2.mpfr(lo[i]) <= vlo and vhi <= gmpy2.mpfr(hi[i]), (fname, x, lo[i], float(vlo), hi[i])
        if np.isfinite(hi[i]) and np.isfinite(lo[i]) and vlo != 0 and abs(float(vlo)) > 1e-300:
            maxrel = max(maxrel, (hi[i] - lo[i]) / abs(float(vlo)))
    # tightness: a few hundred ulps at most, typically a few
    assert maxrel < 1e-13, maxrel


@pytest.mark.parametrize("fname", ["exp", "tanh", "erf", "sin", "cos", "log"])
def test_elementary_intervals_and_mpfr_endpoints(fname):
    rng = np.random.default_rng(7)
    c = rng.standard_normal(40) * 4
    if fname == "log":
        c = np.abs(c) + 1e-3
    w = np.abs(rng.standard_normal(40)) * np.array([1e-12, 1e-3, 0.5, 3.0] * 10)
    for Dom in (D, M):
        x = Dom.interval(c.astype(object), (c + w).astype(object))
        r = getattr(Dom, fname)(x)
        lo, hi = Dom.to_float64(r)
        for i in range(len(c)):
            for t in (0.0, 0.37, 1.0):
                p = c[i] + w[i] * t
                p = min(max(p, c[i]), c[i] + w[i])
                vlo, vhi = _mp_encl(_FUNCS[fname], p)
                assert gmpy2.mpfr(lo[i]) <= vlo and vhi <= gmpy2.mpfr(hi[i]), (fname, c[i], w[i], t)
    # trig extrema inside an interval
    lo, hi = D.to_float64(D.sin(ival(D, 1, 2)))
    assert hi[0] == 1.0 and lo[0] <= math.sin(1)
    lo, hi = D.to_float64(D.cos(ival(D, 3, 4)))
    assert lo[0] == -1.0
    lo, hi = D.to_float64(D.sin(ival(D, 0, 7)))
    assert lo[0] == -1 and hi[0] == 1


def test_mpfr_endpoints_are_tighter():
    x = [0.1, 1.7, -2.3]
    wb = D.width(D.exp(D.asarray(x)))
    wm = M.width(M.exp(M.asarray(x)))
    assert (wm <= wb).all() and (wm < 1e-20).all()
    big = fpsem.domain("interval", endpoints="mpfr", precision=300)
    r = big.tanh(big.asarray(["1/3"]))
    assert big.width(r)[0] < 1e-80


def test_exact_points_stay_exact():
    lo, hi = D.to_float64(D.exp(D.asarray([0])))
    assert lo[0] == 1 and hi[0] == 1
    lo, hi = D.to_float64(D.log(D.asarray([1])))
    assert lo[0] == 0 and hi[0] == 0
    lo, hi = D.to_float64(D.exp2(D.asarray([3, -2])))
    assert lo.tolist() == [8, 0.25] and hi.tolist() == [8, 0.25]
    lo, hi = D.to_float64(D.add(D.asarray([1, 0.5]), D.asarray([2, 0.25])))
    assert lo.tolist() == hi.tolist() == [3, 0.75]


# ---------------------------------------------------------------------------
# a whole ReLU MLP: exact run inside the interval run


def _mlp(Dom, x, layers):
    h = x
    for i, (W, b) in enumerate(layers):
        h = Dom.add(Dom.dot(h, W), b)
        if i < len(layers) - 1:
            h = Dom.maximum(h, Dom.zeros(Dom.shape(h)))
    return h


@pytest.mark.parametrize("Dom", DOMAINS, ids=["b64", "mpfr"])
def test_relu_mlp_exact_inside_interval(Dom):
    rng = np.random.default_rng(3)
    sizes = [6, 8, 8, 3] if Dom is D else [4, 5, 3]
    x = rng.standard_normal((3, sizes[0])).astype(np.float32)
    layers_np = [(rng.standard_normal((a, b)).astype(np.float32) / np.float32(np.sqrt(a)),
                  rng.standard_normal(b).astype(np.float32)) for a, b in zip(sizes, sizes[1:])]
    ex = _mlp(E, E.asarray(x), [(E.asarray(W), E.asarray(b)) for W, b in layers_np])
    iv = _mlp(Dom, Dom.asarray(x), [(Dom.asarray(W), Dom.asarray(b)) for W, b in layers_np])
    assert_contains(Dom, iv, E.reshape(ex, (-1,)))
    if Dom is D:
        assert (D.rel_width(iv) < 1e-12).all()
    # an input that is itself an interval (x +- 1e-6): every point run stays inside
    xi = D.interval(x.astype(np.float64) - 1e-6, x.astype(np.float64) + 1e-6)
    if Dom is D:
        ivw = _mlp(D, xi, [(D.asarray(W), D.asarray(b)) for W, b in layers_np])
        xp = (x.astype(np.float64) + 1e-6 * rng.uniform(-1, 1, x.shape))
        exp_ = _mlp(E, E.asarray(xp), [(E.asarray(W), E.asarray(b)) for W, b in layers_np])
        assert_contains(D, ivw, E.reshape(exp_, (-1,)))


def test_midrad_dot_matches_endpoint_product_on_points():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((2, 5, 30))
    b = rng.standard_normal((2, 30, 4))
    lo, hi = _midrad_dot(a, a, b, b)
    ex = E.dot(E.asarray(a), E.asarray(b))
    exf = E.to_float64(ex)
    assert (lo <= exf).all() and (exf <= hi).all()
    assert ((hi - lo) <= 1e-13 * (np.abs(a) @ np.abs(b))).all()
