"""The compiled multi-precision ball kernels (fpsem/domains/_mp.py) against
independent oracles: exact rational arithmetic (python-flint fmpq) for add, sub,
mul, sums, maxima and the conversions, mpmath at 700 bits for the functions
evaluated by Arb from compiled code. Every result must contain the exact result
for the corners of its input balls (the operations are monotone in each input
on each corner box, or the corner check is complemented by the midpoint)."""
import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fpsem.domains import _mp

flint = pytest.importorskip("flint")


def _frac(v):
    """Exact (mid, rad) Fractions of every ball of an mp array."""
    M, e, s, r = _mp.fields(v)
    out = []
    for i in range(M.shape[0]):
        N = int.from_bytes(M[i].astype("<u4").tobytes(), "little")
        m = Fraction(N) * (Fraction(2) ** int(e[i]))
        out.append((-m if s[i] else m, Fraction(float(r[i])) if math.isfinite(r[i]) else None))
    return out


def _make(vals, rads, D):
    """mp balls of D digits with exact midpoints vals (Fractions) and radii rads."""
    o = np.empty(len(vals), dtype=object)
    with _ctx(32 * D + 128):
        for i, (q, r) in enumerate(zip(vals, rads)):
            o[i] = flint.arb(flint.fmpq(q.numerator, q.denominator)) + flint.arb(0, float(r))
        return _mp.from_arb(o, D)


class _ctx:
    def __init__(self, p):
        self.p = p

    def __enter__(self):
        self.old = flint.ctx.prec
        flint.ctx.prec = self.p

    def __exit__(self, *a):
        flint.ctx.prec = self.old


def _contains(ball, x):
    m, r = ball
    return r is None or abs(x - m) <= r


def _rand_vals(rng, n, scale=1.0, bits=200):
    """Random Fractions with long binary expansions (not float64-representable)."""
    out = []
    for _ in range(n):
        num = int(rng.integers(1, 2 ** 62)) * 2 ** 140 + int(rng.integers(0, 2 ** 62))
        q = Fraction(num, 2 ** (bits + int(rng.integers(-8, 8)))) * Fraction(scale)
        out.append(q if rng.random() < 0.5 else -q)
    return out


def _corners(b):
    m, r = b
    return (m - r, m + r)


@pytest.mark.parametrize("D,Db", [(14, 14), (14, 6), (6, 14), (2, 2)])
def test_add_sub_mul_enclose_every_corner(D, Db):
    rng = np.random.default_rng(D * 31 + Db)
    n = 300
    va = _rand_vals(rng, n)
    vb = _rand_vals(rng, n, scale=1e-3)
    vb[:10] = va[:10]                                      # exact cancellation
    vb[10:20] = [x * Fraction(1, 2 ** 300) for x in va[10:20]]   # far below
    ra = [abs(float(x)) * 1e-60 for x in va]
    rb = [abs(float(x)) * 1e-55 for x in vb]
    ra[:30] = [0.0] * 30
    a, b = _make(va, ra, D), _make(vb, rb, Db)
    A, B = _frac(a), _frac(b)
    Dout = max(D, Db)
    for kern, extra, op in ((_mp.k_add, (False,), lambda x, y: x + y),
                            (_mp.k_add, (True,), lambda x, y: x - y),
                            (_mp.k_mul, (), lambda x, y: x * y)):
        got = _frac(_mp.binary(kern, a, b, Dout, *extra))
        for g, x, y in zip(got, A, B):
            for cx in _corners(x):
                for cy in _corners(y):
                    assert _contains(g, op(cx, cy)), (op, g, cx, cy)


def test_broadcast_by_index_equals_full_copy():
    rng = np.random.default_rng(3)
    a = _make(_rand_vals(rng, 24), [1e-70] * 24, 8).reshape(4, 6)
    b = _make(_rand_vals(rng, 4), [1e-72] * 4, 8).reshape(4, 1)
    for kern, extra in ((_mp.k_add, (True,)), (_mp.k_mul, ())):
        small = _mp.binary(kern, a, b, 8, *extra)
        full = _mp.binary(kern, a, np.ascontiguousarray(np.broadcast_to(b, (4, 6))), 8, *extra)
        assert small.tobytes() == full.tobytes()


def test_row_sums_and_maxima_enclose():
    rng = np.random.default_rng(5)
    R, n = 12, 40
    vals = _rand_vals(rng, R * n)
    vals[5] = vals[6]                                      # ties
    rads = [abs(float(x)) * 1e-50 for x in vals]
    # a ball just below a row's largest midpoint that reaches above it
    top = max(range(n, 2 * n), key=lambda j: vals[j])
    vals[n] = vals[top] - abs(vals[top]) * Fraction(1, 2 ** 40)
    rads[top] = 0.0
    rads[n] = abs(float(vals[top])) * 2.0 ** -30
    vals[n + 1] = vals[top] - abs(vals[top]) * Fraction(1, 2 ** 100)    # too close for float64 gaps
    rads[n + 1] = abs(float(vals[top])) * 2.0 ** -90
    v = _make(vals, rads, 10)
    X = _frac(v)
    M, e, s, r = _mp.fields(v)
    out, fo = _mp.alloc((R,), 10)
    _mp.k_sum_rows(M, e, s, r, R, n, *fo)
    sums = _frac(out)
    out2, fo2 = _mp.alloc((R,), 10)
    _mp.k_max_rows(M, e, s, r, R, n, *fo2)
    maxs = _frac(out2)
    for i in range(R):
        row = X[i * n:(i + 1) * n]
        for k in (0, 1):
            corner = [_corners(b)[k] for b in row]
            assert _contains(sums[i], sum(corner))
            assert _contains(maxs[i], max(corner))
        # an arbitrary point of each ball too (the max is not monotone in one corner choice)
        mixed = [_corners(b)[j % 2] for j, b in enumerate(row)]
        assert _contains(maxs[i], max(mixed))


@pytest.mark.parametrize("D", [2, 8, 14])
def test_float_views_and_digit_changes_enclose(D):
    rng = np.random.default_rng(D)
    vals = _rand_vals(rng, 200, scale=3.0)
    v = _make(vals, [1e-80] * 200, D)
    X = _frac(v)
    m, m2, r = _mp.to_f64(v, double=True)
    m1, r1 = _mp.to_f64(v)
    for (q, rq), a, a2, ra, b, rb in zip(X, m, m2, r, m1, r1):
        for c in _corners((q, rq)):
            assert abs(c - Fraction(float(a)) - Fraction(float(a2))) <= Fraction(float(ra))
            assert abs(c - Fraction(float(b))) <= Fraction(float(rb))
    for D2 in (2, 4, D + 2):
        w = _mp.widen(v, D2)
        for x, g in zip(X, _frac(w)):
            for c in _corners(x):
                assert _contains(g, c)
    x = np.array([0.0, -0.0, 5e-324, -1.5, 2.0 ** 1000, 1 / 3])
    f = _mp.from_f64(x, D)
    assert [m for m, _ in _frac(f)] == [Fraction(t) for t in x]
    assert np.all(f["r"] == 0)


_FNS = [(_mp.FN_EXP, mpmath.exp, lambda x: True),
        (_mp.FN_TANH, mpmath.tanh, lambda x: True),
        (_mp.FN_LOG, mpmath.log, lambda x: x > 0),
        (_mp.FN_SQRT, mpmath.sqrt, lambda x: x >= 0),
        (_mp.FN_SIN, mpmath.sin, lambda x: True),
        (_mp.FN_COS, mpmath.cos, lambda x: True),
        (_mp.FN_ERF, mpmath.erf, lambda x: True),
        (_mp.FN_INV, lambda t: 1 / t, lambda x: x != 0)]


def _check_fn(code, f, vals, rads, D, prec):
    v = _make(vals, rads, D)
    res = _mp.arb_apply(v, code, prec)
    if res is None:
        pytest.skip("libflint not reachable from compiled code")
    out, bad = res
    got = _frac(out)
    with mpmath.workprec(700):
        for (g, b, x, r) in zip(got, bad, _frac(v), rads):
            if b:
                continue     # the general path takes these (tested in test_ball)
            for c in _corners(x):
                y = f(mpmath.mpf(c.numerator) / c.denominator)
                sign, man, ex, _ = mpmath.mpf(y)._mpf_
                yq = (-1) ** sign * Fraction(int(man)) * Fraction(2) ** int(ex)
                # mpmath at 700 bits is within 2^-690 |y| of the true value
                slack = abs(yq) * Fraction(1, 2 ** 690) + Fraction(1, 2 ** 1100)
                m, rr = g
                assert rr is None or abs(yq - m) <= rr + slack, (code, c, g)


@pytest.mark.parametrize("code,f,dom", _FNS)
def test_arb_functions_from_compiled_code_enclose(code, f, dom):
    rng = np.random.default_rng(code)
    vals = [x for x in _rand_vals(rng, 120, scale=4.0) if dom(x)] + [Fraction(0), Fraction(1, 16)]
    vals = [x for x in vals if dom(x)]
    rads = [abs(float(x)) * 1e-70 for x in vals]
    _check_fn(code, f, vals, rads, 14, 416)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-50, 50, allow_nan=False, width=32), min_size=1, max_size=12),
       st.sampled_from([0.0, 1e-90, 1e-20]), st.sampled_from(_FNS), st.sampled_from([2, 8]))
def test_arb_functions_hypothesis(xs, rel, fn, D):
    code, f, dom = fn
    vals = [Fraction(x) for x in xs if dom(Fraction(x))]
    if not vals:
        return
    _check_fn(code, f, vals, [abs(float(x)) * rel for x in vals], D, 32 * D)


def test_repeated_arb_calls_are_stable():
    """Scratch arbs live in caller-owned memory (an array made inside the compiled
    kernel was freed early and FLINT aborted on reuse): many calls, same bits."""
    v = _mp.from_f64(np.array([0.0625, 0.0, 2.0, -3.1, 0.0625, 0.0] * 50), 8)
    first = None
    for _ in range(5):
        res = _mp.arb_apply(v, _mp.FN_ERF, 200)
        if res is None:
            pytest.skip("libflint not reachable from compiled code")
        b = res[0].tobytes()
        first = first or b
        assert b == first


@pytest.mark.parametrize("state", ["ftz+daz", "rdn", "ftz+daz+rup"])
def test_ball_results_do_not_depend_on_the_host_mxcsr(state):
    """Radii are float64 arithmetic: a host with flush-to-zero or another rounding
    mode must not change them (the domain and its kernel threads set the default)."""
    from fpsem import fpenv
    if not fpenv.SUPPORTED:
        pytest.skip("MXCSR is x86-64 only")
    import fpsem
    from fpsem.value import raw
    csr = {"ftz+daz": fpenv.compose(ftz=True, daz=True), "rdn": fpenv.compose(rounding="rdn"),
           "ftz+daz+rup": fpenv.compose(ftz=True, daz=True, rounding="rup")}[state]
    B = fpsem.domain("ball", prec=128)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((6, 40)) * 1e-300          # tiny values: subnormal radii
    w = rng.standard_normal((40, 9))

    def chain():
        h = B.dot(B.asarray(x), B.asarray(w))
        g = B.tanh(B.mul(h, B.const("0.5")))
        m = B.max(g, axis=1, keepdims=True)
        s = B.sum(B.exp(B.sub(g, m)), axis=1)
        return raw(g).v.tobytes() + raw(s).v.tobytes() + raw(h).v.tobytes()
    ref = chain()
    saved = fpenv.mxcsr()
    try:
        fpenv.set_mxcsr(csr)
        got = chain()
    finally:
        fpenv.set_mxcsr(saved)
    assert got == ref


@pytest.mark.parametrize("dtype,mant", [(np.float32, 24), (np.float64, 53)])
@pytest.mark.parametrize("shape", [(1, 3072, 40), (2, 5, 7), (1, 3, 1), (3, 41, 9)])
@pytest.mark.parametrize("layout", ["rows", "cols"])
def test_span_of_weight_columns(dtype, mant, shape, layout):
    """k_span (the exponent span that sizes the exact products' slices) against a
    direct computation: zeros ignored, subnormals and all-zero columns included,
    both memory orders (a transposed weight is read by columns)."""
    rng = np.random.default_rng(7)
    w = (rng.standard_normal(shape) * np.exp2(rng.integers(-30, 30, shape))).astype(dtype)
    w[0, 0, 0] = 0
    w[-1, -1, -1] = np.finfo(dtype).smallest_subnormal * 3
    w[..., 0] = 0                                  # a column of zeros spans nothing
    if layout == "cols":
        w = np.ascontiguousarray(np.swapaxes(w, 1, 2)).swapaxes(1, 2)
    a = np.abs(w.astype(np.float64))
    hi, lo = a.max(axis=1), np.where(a > 0, a, np.inf).min(axis=1)
    ok = hi > 0
    want = int((np.frexp(hi[ok])[1] - np.frexp(lo[ok])[1] + mant).max()) if ok.any() else 0
    assert _mp.k_span(w, mant) == want
    assert _mp.k_span(np.zeros((1, 4, 4), dtype), mant) == 0
