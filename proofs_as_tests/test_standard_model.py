"""Theorem (standard model of floating-point arithmetic, with gradual underflow).

Let F be IEEE binary32 with round to nearest even, u = 2**-24 the unit roundoff,
eta = 2**-150 half the smallest subnormal, and op one of + - * / and sqrt, with
x, y in F finite and the exact result z = x op y (or sqrt(x), x >= 0) finite and
|z| <= max finite (no overflow). Then

 (a) if z = 0 or 2**-126 <= |z| (the normal range):  |fl(z) - z| <= u |z|;
 (b) always (gradual underflow):  fl(z) = z (1 + d) + e with |d| <= u, |e| <= eta,
     d * e = 0; hence |fl(z) - z| <= max(u |z|, eta);
 (c) for + and -, e = 0: a sum whose exact value is subnormal is computed exactly.

Dropping the normal-range hypothesis breaks (a): fl(3 * 2**-149 * 0.5) = 2**-148
(ties to even), an error of 2**-150 = |z| / 3 >> u |z|, while (b) holds with e = eta.

Source: N. J. Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed.
(SIAM 2002), section 2.2, eq. (2.4) and Theorem 2.2 for (a); section 2.1,
eq. (2.8) and the remark after it for (b) and (c) (the model with underflow).
Checked on the `ieee32` emulator when it is available and on numpy `float32`
(whose + - * / sqrt are IEEE correctly rounded).
"""
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fpsem

U = Fraction(1, 2 ** 24)
ETA = Fraction(1, 2 ** 150)
MIN_NORMAL = Fraction(1, 2 ** 126)
MAX = Fraction(2 ** 24 - 1) * 2 ** 104

DOMAINS = [n for n in ("float32", "ieee32") if fpsem.availability(n)[0]]
f32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


def _fl(D, op, x, y=None):
    xs = D.asarray(np.array([x], dtype=np.float32).astype(np.float64))
    if op == "sqrt":
        r = D.sqrt(xs)
    else:
        r = getattr(D, op)(xs, D.asarray(np.array([y], dtype=np.float32).astype(np.float64)))
    return Fraction(float(np.asarray(D.to_float64(r)).ravel()[0]))


def _exact(op, x, y):
    X, Y = Fraction(float(x)), Fraction(float(y))
    return {"add": X + Y, "sub": X - Y, "mul": X * Y, "div": X / Y if Y else None}[op]


def _check(D, op, x, y):
    z = _exact(op, x, y)
    if z is None or abs(z) > MAX:
        return
    f = _fl(D, op, x, y)
    err = abs(f - z)
    assert err <= max(U * abs(z), ETA), (op, x, y)               # (b)
    if z == 0 or abs(z) >= MIN_NORMAL:
        assert err <= U * abs(z), (op, x, y)                     # (a)
    if op in ("add", "sub") and abs(z) < MIN_NORMAL:
        assert err == 0, (op, x, y)                              # (c)


@pytest.mark.parametrize("dname", DOMAINS)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
@given(x=f32, y=f32)
def test_standard_model_binary_ops(dname, op, x, y):
    _check(fpsem.domain(dname), op, x, y)


@pytest.mark.parametrize("dname", DOMAINS)
@given(x=st.floats(min_value=0, width=32, allow_infinity=False))
def test_standard_model_sqrt(dname, x):
    D = fpsem.domain(dname)
    f = _fl(D, "sqrt", x)
    X = Fraction(float(x))
    # |f - s| <= u s  <=>  f/(1+u) <= s <= f/(1-u)  <=>  (f/(1+u))^2 <= X <= (f/(1-u))^2
    assert (f / (1 + U)) ** 2 <= X <= (f / (1 - U)) ** 2


TINY = [2.0 ** -149, 3 * 2.0 ** -149, 2.0 ** -126, 2.0 ** -127 * 3, 1.0, 0.5, 1 + 2.0 ** -23, 3.4e38]


@pytest.mark.parametrize("dname", DOMAINS)
def test_edge_cases_subnormal_range(dname):
    D = fpsem.domain(dname)
    for op in ("add", "sub", "mul", "div"):
        for x in TINY:
            for y in TINY:
                _check(D, op, x, y)
                _check(D, op, -x, y)


@pytest.mark.parametrize("dname", DOMAINS)
def test_counterexample_without_normal_range(dname):
    """Dropping 'z in the normal range' breaks (a); (b) with the absolute term holds."""
    D = fpsem.domain(dname)
    x, y = 3 * 2.0 ** -149, 0.5
    z = _exact("mul", x, y)
    f = _fl(D, "mul", x, y)
    assert f == Fraction(1, 2 ** 148)
    assert abs(f - z) > U * abs(z)            # the relative model fails ...
    assert abs(f - z) == ETA                  # ... and the absolute term is attained
