"""Theorem (TwoProd with an FMA is error-free). In a binary format F (precision p,
minimum exponent emin) with round-to-nearest, for finite a, b in F such that
fl(a b) does not overflow and e_a + e_b >= emin + p - 1 (e_x the exponent of x,
i.e. no underflow of the product's error term),

    p = fl(a b);  e = fma(a, b, -p)

gives a b = p + e exactly: the product's rounding error is a number of F and the
single rounding of the fused multiply-add leaves it unchanged.

Hypotheses: an fma that rounds once (fpsem's float32 `fma` via round-to-odd, the
float64 `fma` via exact rationals); round to nearest; the exponent condition (no
underflow); no overflow. Dropping the exponent condition breaks it:
a = 1 + 2**-23, b = 3 * 2**-140 in binary32 (a tiny product whose error is below
the smallest subnormal). Dropping the fma (e = fl(fl(a b) - p)) gives e = 0.

Source: Muller et al., "Handbook of Floating-Point Arithmetic", 2nd ed., Alg. 4.8
(Fast2Mult) and Thm 4.8; Higham, "Accuracy and Stability of Numerical
Algorithms", 2nd ed., 4.3 (and the Boldo-Muller result that the error of a
product is representable); IEEE 754-2019 clause 5.4.1 (fusedMultiplyAdd).
"""
from fractions import Fraction

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import fpsem

F32 = fpsem.domain("float32")
F64 = fpsem.domain("float64")


def two_prod(D, a, b):
    p = D.mul(a, b)
    return p, D.fma(a, b, D.neg(p))


def _exponent(x):
    return int(np.frexp(np.float64(x))[1]) - 1


def _check(D, a, b, emin, prec):
    a = np.asarray(a, dtype=D.dtype)
    b = np.asarray(b, dtype=D.dtype)
    with np.errstate(over="ignore", under="ignore"):
        p, e = two_prod(D, a, b)
    checked = 0
    for x, y, pp, ee in zip(a.ravel(), b.ravel(), p.ravel(), e.ravel()):
        if x == 0 or y == 0 or not np.isfinite(pp):
            continue
        if _exponent(x) + _exponent(y) < emin + prec - 1:
            continue  # outside the theorem (see the counterexample)
        assert Fraction(float(x)) * Fraction(float(y)) == Fraction(float(pp)) + Fraction(float(ee)), (x, y)
        checked += 1
    return checked


@given(st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False,
                          min_value=-2.0 ** 60, max_value=2.0 ** 60), min_size=2, max_size=64))
def test_twoprod_binary32(xs):
    h = len(xs) // 2
    _check(F32, xs[:h], xs[h:2 * h], -126, 24)


@given(st.integers(1 << 23, (1 << 24) - 1), st.integers(1 << 23, (1 << 24) - 1),
       st.integers(-50, 60), st.integers(-50, 60))
def test_twoprod_binary32_full_significands(ma, mb, ea, eb):
    a = np.float32(np.ldexp(float(ma), ea - 23))
    b = np.float32(np.ldexp(float(mb), eb - 23))
    assert _check(F32, [a], [b], -126, 24) == 1


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e150, max_value=1e150),
                min_size=2, max_size=16))
def test_twoprod_binary64(xs):
    h = len(xs) // 2
    _check(F64, xs[:h], xs[h:2 * h], -1022, 53)


def test_edges():
    f = np.float32
    u = 2.0 ** -23
    for a, b in [(f(1 + u), f(1 - u / 2)), (f(1 + u), f(1 + u)), (f(-(2 - u)), f(2 - u)),
                 (f(3), f(1 / 3)), (f(2.0 ** -50), f(1 + u)), (f(1.8446743e19), f(1 + u))]:
        assert _check(F32, [a], [b], -126, 24) == 1


def test_counterexample_underflow():
    a, b = np.array([np.float32(1 + 2.0 ** -23)]), np.array([np.float32(3 * 2.0 ** -140)])
    assert _exponent(a[0]) + _exponent(b[0]) < -126 + 24 - 1
    with np.errstate(under="ignore"):
        p, e = two_prod(F32, a, b)
    assert Fraction(float(a[0])) * Fraction(float(b[0])) != Fraction(float(p[0])) + Fraction(float(e[0]))


def test_counterexample_without_fma():
    a, b = np.array([np.float32(1 + 2.0 ** -23)]), np.array([np.float32(1 + 2.0 ** -23)])
    p = F32.mul(a, b)
    e_nofma = F32.sub(F32.mul(a, b), p)
    assert e_nofma[0] == 0
    assert Fraction(float(a[0])) ** 2 != Fraction(float(p[0])) + Fraction(float(e_nofma[0]))
