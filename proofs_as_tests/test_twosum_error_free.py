"""Theorem (TwoSum is an error-free transformation). In a binary format F with
round-to-nearest (ties to even), for finite a, b in F such that no intermediate
operation overflows, Knuth's TwoSum

    s  = fl(a + b);  a' = fl(s - b);  b' = fl(s - a');
    da = fl(a - a'); db = fl(b - b'); t  = fl(da + db)

returns s = fl(a + b) and t with  a + b = s + t  EXACTLY (t is the rounding error
of the sum). No ordering of |a|, |b| is needed, and it holds with gradual
underflow (a sum that lands in the subnormal range is exact, t = 0).

Hypotheses: round to nearest; no overflow. Dropping the rounding hypothesis breaks
it: under round-toward-zero in binary32, a = 4450911 * 2**-29, b = -8543041 gives
s + t != a + b. Dropping "no overflow": a = b = max finite gives s = inf.

Source: D. E. Knuth, "The Art of Computer Programming" vol. 2, 3rd ed., 4.2.2,
Thm B; Møller 1965; Higham, "Accuracy and Stability of Numerical Algorithms",
2nd ed., Alg. 4.4 and the remark after it; Muller et al., "Handbook of
Floating-Point Arithmetic", 2nd ed., Alg. 4.4 (2Sum) and Thm 4.6.
fpsem relies on it in the interval domain (an exact sum is not widened) and in
the Boldo-Melquiond round-to-odd fma of the float32 domain.
"""
from fractions import Fraction

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import fpsem
from fpsem.formats import binary32, decode, round_fraction

F32 = fpsem.domain("float32")
F64 = fpsem.domain("float64")


def two_sum(D, a, b):
    s = D.add(a, b)
    ap = D.sub(s, b)
    bp = D.sub(s, ap)
    da = D.sub(a, ap)
    db = D.sub(b, bp)
    return s, D.add(da, db)


def _check(D, a, b):
    a, b = D.asarray(np.asarray(a, dtype=D.dtype)), D.asarray(np.asarray(b, dtype=D.dtype))
    with np.errstate(over="ignore", invalid="ignore"):
        s, t = two_sum(D, a, b)
        ok = np.isfinite(s) & np.isfinite(D.sub(s, b)) & np.isfinite(D.sub(s, D.sub(s, b)))
    for x, y, ss, tt, fin in zip(a.ravel(), b.ravel(), s.ravel(), t.ravel(), ok.ravel()):
        if not fin:
            continue  # an intermediate overflowed: outside the theorem
        assert Fraction(float(x)) + Fraction(float(y)) == Fraction(float(ss)) + Fraction(float(tt)), (x, y, ss, tt)
        assert ss == D.dtype(x) + D.dtype(y)  # s is the rounded sum


arr32 = st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), min_size=1, max_size=64)
arr64 = st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=64)


@given(arr32, arr32)
def test_twosum_binary32(a, b):
    n = min(len(a), len(b))
    _check(F32, a[:n], b[:n])


@given(arr64, arr64)
def test_twosum_binary64(a, b):
    n = min(len(a), len(b))
    _check(F64, a[:n], b[:n])


@given(st.integers(-(1 << 24), 1 << 24), st.integers(-(1 << 24), 1 << 24),
       st.integers(-150, 60), st.integers(-150, 60))
def test_twosum_binary32_close_exponents(ma, mb, ea, eb):
    """Operands of nearby and distant exponents, subnormal range included."""
    a = np.float32(np.ldexp(float(ma), ea))
    b = np.float32(np.ldexp(float(mb), eb))
    _check(F32, [a], [b])


def test_edges():
    f = np.float32
    cases = [(f(1), f(2.0 ** -24)), (f(1), f(-2.0 ** -25)), (f(2.0 ** -149), f(2.0 ** -149)),
             (f(-0.0), f(0.0)), (f(-0.0), f(-0.0)), (f(3.4028235e38), f(-1.0)),
             (f(1.0 + 2.0 ** -23), f(-1.0)), (f(2.0 ** 24), f(1.0)), (f(2.0 ** -126), f(-2.0 ** -149))]
    for a, b in cases:
        _check(F32, [a], [b])
        _check(F32, [b], [a])


def _fl(q, mode):
    return decode(round_fraction(q, binary32, mode).bits, binary32)


def test_counterexample_directed_rounding():
    """Under round-toward-zero (binary32, emulated exactly with round_fraction)
    TwoSum is no longer error-free."""
    a, b = Fraction(4450911, 2 ** 29), Fraction(-8543041)
    for v in (a, b):
        assert not round_fraction(v, binary32, "rne").inexact  # both are binary32 numbers
    mode = "rtz"
    s = _fl(a + b, mode)
    ap = _fl(s - b, mode)
    bp = _fl(s - ap, mode)
    t = _fl(_fl(a - ap, mode) + _fl(b - bp, mode), mode)
    assert s + t != a + b
    # ... while under rne the same pair is error-free
    _check(F32, [np.float32(float(a))], [np.float32(float(b))])


def test_counterexample_overflow():
    big = np.float32(3.4028235e38)
    with np.errstate(over="ignore"):
        s, t = two_sum(F32, np.array([big]), np.array([big]))
    assert np.isinf(s[0])  # a + b is finite in the reals but s is not
