"""Theorem (rounding to odd makes double rounding innocuous; Boldo & Melquiond).
Let RO_q be rounding to odd at precision q (truncate, then set the last bit if the
result was inexact) and RN_p round to nearest-even at precision p, both with the
target's exponent range covered (binary64 covers every binary32 value, subnormals
included). If q >= p + 2 then for every real x

    RN_p(RO_q(x)) = RN_p(x).

fpsem's `float32` domain relies on it for fma: a*b of two binary32 numbers is exact
in binary64, s = p + c is rounded to odd at 53 bits (TwoSum gives the exact error,
the last bit is set when it is nonzero), then rounded once to binary32. So
`float32.fma(a, b, c) == RN_24(a b + c)` bit for bit, which is checked here too.

Hypotheses: q >= p + 2; no overflow. Dropping q >= p + 2 breaks it: with q = 25,
p = 24, x = 580340685 * 2**-29 gives RN_24(RO_25(x)) != RN_24(x). Dropping the odd
rounding (plain RN_53 then RN_24) breaks it too: x = 1 + 2**-24 + 2**-60.

Source: S. Boldo and G. Melquiond, "Emulation of FMA and correctly rounded sums:
proved algorithms using rounding to odd", IEEE Trans. Computers 57(4), 2008,
Thm 1; Muller et al., "Handbook of Floating-Point Arithmetic", 2nd ed., 5.3.4
(rounding to odd); IEEE 754-2019 clause 5.4.1 (fusedMultiplyAdd rounds once).
"""
from fractions import Fraction

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import fpsem
from fpsem.formats import Format, binary32, binary64, decode, round_fraction

F32 = fpsem.domain("float32")


def ro(x, fmt):
    r = round_fraction(x, fmt, "rtz")
    return decode(r.bits | (1 if r.inexact else 0), fmt)


def rn(x, fmt):
    return decode(round_fraction(x, fmt, "rne").bits, fmt)


@st.composite
def reals(draw):
    e = draw(st.integers(-160, 120))
    n = draw(st.integers(1, 1 << 90))
    d = draw(st.sampled_from([1 << 60, 3, 7, (1 << 61) - 1]))
    return Fraction(n, d) * Fraction(2) ** (e - 60) * draw(st.sampled_from([1, -1]))


@given(reals(), st.integers(26, 60))
def test_round_to_odd_then_nearest(x, q):
    ext = Format(f"ext{q}", q, 11)
    assert rn(ro(x, ext), binary32) == rn(x, binary32)


@given(reals())
def test_round_to_odd_binary64(x):
    assert rn(ro(x, binary64), binary32) == rn(x, binary32)


f32 = st.floats(width=32, allow_nan=False, allow_infinity=False, min_value=-2.0 ** 60, max_value=2.0 ** 60)


@given(st.lists(st.tuples(f32, f32, f32), min_size=1, max_size=32))
def test_float32_fma_is_correctly_rounded(triples):
    a, b, c = (np.array(v, dtype=np.float32) for v in zip(*triples))
    got = F32.fma(a, b, c)
    for x, y, z, g in zip(a, b, c, got):
        exact = Fraction(float(x)) * Fraction(float(y)) + Fraction(float(z))
        negz = exact == 0 and bool(np.signbit(x) != np.signbit(y)) and bool(np.signbit(z))
        want = round_fraction(exact, binary32, "rne", negative_zero=negz).bits
        assert int(np.float32(g).view(np.uint32)) == want, (x, y, z)


def test_edges():
    f = np.float32
    u = 2.0 ** -24
    cases = [(f(1 + 2 * u), f(1 + 2 * u), f(-1)), (f(1 + 2 * u), f(1 - 2 * u), f(-1)),
             (f(2.0 ** -75), f(2.0 ** -75), f(0)), (f(2.0 ** -100), f(2.0 ** -60), f(2.0 ** -149)),
             (f(1), f(1), f(u)), (f(1), f(1), f(u * (1 + 2 * u))), (f(-1), f(1), f(1)), (f(-0.0), f(1), f(-0.0))]
    for a, b, c in cases:
        test_float32_fma_is_correctly_rounded.hypothesis.inner_test([(a, b, c)])
    # exact midpoints and near-midpoints of binary32 after RO_53
    for x in (1 + Fraction(1, 2 ** 24), 1 + Fraction(1, 2 ** 24) + Fraction(1, 2 ** 80),
              1 + Fraction(1, 2 ** 24) - Fraction(1, 2 ** 80), Fraction(3, 2 ** 150)):
        assert rn(ro(x, binary64), binary32) == rn(x, binary32)


def test_counterexample_precision_too_small():
    x = Fraction(580340685, 2 ** 29)
    x25 = Format("ext25", 25, 11)
    assert rn(ro(x, x25), binary32) != rn(x, binary32)


def test_counterexample_nearest_instead_of_odd():
    x = 1 + Fraction(1, 2 ** 24) + Fraction(1, 2 ** 60)
    assert rn(rn(x, binary64), binary32) != rn(x, binary32)
    assert rn(ro(x, binary64), binary32) == rn(x, binary32)
    # as an fma: (1 + 2**-12)**2 + 2**-80 = 1 + 2**-11 + 2**-24 + 2**-80 lies just above a
    # binary32 midpoint; binary64 rounds the 2**-80 away and the second rounding ties to even
    a = np.float32(1 + 2.0 ** -12)
    c = np.float32(2.0 ** -80)
    naive = np.float32(np.float64(a) * np.float64(a) + np.float64(c))
    exact = Fraction(float(a)) ** 2 + Fraction(float(c))
    fused = F32.fma(np.array([a]), np.array([a]), np.array([c]))[0]
    assert Fraction(float(fused)) == rn(exact, binary32) == 1 + Fraction(1, 2 ** 11) + Fraction(1, 2 ** 23)
    assert Fraction(float(naive)) == 1 + Fraction(1, 2 ** 11) != rn(exact, binary32)
