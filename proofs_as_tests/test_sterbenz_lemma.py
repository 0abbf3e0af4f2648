"""Theorem (Sterbenz's lemma). Let F be a binary floating-point format with gradual
underflow (subnormals kept) and let a, b be finite numbers of F with

    b / 2 <= a <= 2 b.

Then a - b is exactly representable in F, so fl(a - b) = a - b in every rounding
mode, and the subtraction raises no inexact flag.

Hypotheses: a, b in F (finite); b/2 <= a <= 2b (so a and b have the same sign);
gradual underflow (with flush-to-zero a subnormal difference would be lost).
Dropping the ratio condition breaks it: a = 1, b = 3 * 2**-25 in binary32 gives an
inexact difference.

Source: P. H. Sterbenz, "Floating-Point Computation", 1974, Thm 4.3.1; Higham,
"Accuracy and Stability of Numerical Algorithms", 2nd ed., Thm 2.5; Muller et al.,
"Handbook of Floating-Point Arithmetic", 2nd ed., Lemma 4.1 (Sterbenz).
fpsem relies on it where it argues that x - max(x) in softmax and the TwoSum /
Fast2Sum corrections in the interval domain are exact.
"""
from fractions import Fraction

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st

import fpsem
from fpsem.formats import binary32, binary64, decode, round_fraction

F32 = fpsem.domain("float32")
F64 = fpsem.domain("float64")


def _check(D, a, b):
    x, y = D.asarray(np.array([a])), D.asarray(np.array([b]))
    r = D.sub(x, y)
    exact = Fraction(float(a)) - Fraction(float(b))
    assert Fraction(float(r[0])) == exact, (a, b, r)
    # independent check: the exact difference is representable (round_fraction is
    # not inexact in any mode)
    fmt = D.format
    for mode in ("rne", "rtz", "rup", "rdn"):
        assert not round_fraction(exact, fmt, mode).inexact


def _sterbenz_pair(data, fmt, dtype, utype):
    """b anywhere in F (by bit pattern), a uniformly among the floats of [b/2, 2b]."""
    top = round_fraction(fmt.max_finite, fmt, "rtz").bits
    bb = data.draw(st.integers(1, top), label="bits of |b|")
    fb = decode(bb, fmt)
    lo = round_fraction(fb / 2, fmt, "rup").bits
    hi = min(round_fraction(2 * fb, fmt, "rdn").bits, top)
    ab = data.draw(st.one_of(st.sampled_from([lo, hi]), st.integers(lo, hi)), label="bits of |a|")
    sign = data.draw(st.sampled_from([1, -1]), label="sign")
    a = np.array([ab], dtype=utype).view(dtype)[0] * sign
    b = np.array([bb], dtype=utype).view(dtype)[0] * sign
    return a, b


@given(st.data())
def test_sterbenz_binary32(data):
    _check(F32, *_sterbenz_pair(data, binary32, np.float32, np.uint32))


@given(st.data())
def test_sterbenz_binary64(data):
    _check(F64, *_sterbenz_pair(data, binary64, np.float64, np.uint64))


@given(st.integers(1, (1 << 23) - 1), st.data())
def test_sterbenz_subnormal_binary32(mb, data):
    """Subnormal operands: the difference is a multiple of the smallest subnormal
    of smaller magnitude, hence representable."""
    ma = data.draw(st.integers(-(-mb // 2), 2 * mb))
    tiny = binary32.min_subnormal
    a = np.float32(float(ma * tiny))
    b = np.float32(float(mb * tiny))
    _check(F32, a, b)


def test_edges():
    # the extreme ratios, a = 2b and a = b/2, at the top and the bottom of the range
    for D, fmt in ((F32, binary32), (F64, binary64)):
        big = float(fmt.max_finite)
        _check(D, np.array(big / 2, dtype=D.dtype), np.array(big, dtype=D.dtype))
        _check(D, np.array(big, dtype=D.dtype), np.array(big / 2, dtype=D.dtype))
        tiny = float(fmt.min_subnormal)
        _check(D, np.array(2 * tiny, dtype=D.dtype), np.array(tiny, dtype=D.dtype))
        mn = float(fmt.min_normal)
        _check(D, np.array(mn, dtype=D.dtype), np.array(mn - tiny, dtype=D.dtype))
        _check(D, np.array(-1.0, dtype=D.dtype), np.array(-2.0, dtype=D.dtype))


def test_counterexample_ratio_dropped():
    """Outside [b/2, 2b] the difference can be inexact: 1 - 3*2**-25 needs 25 bits."""
    a, b = np.float32(1.0), np.float32(3 * 2.0 ** -25)
    assert b < a / 2
    exact = Fraction(1) - Fraction(3, 2 ** 25)
    r = F32.sub(F32.asarray(np.array([a])), F32.asarray(np.array([b])))
    assert Fraction(float(r[0])) != exact
    assert round_fraction(exact, binary32, "rne").inexact
    assert decode(round_fraction(exact, binary32, "rne").bits, binary32) == Fraction(float(r[0]))
