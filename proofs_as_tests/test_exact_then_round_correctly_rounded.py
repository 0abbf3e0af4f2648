"""Theorem (exact_then_round is correctly rounded). For finite x, y in F^n (F =
binary32 or binary64 as the `float32` / `float64` domains), the order
`exact_then_round` returns

    sum(x, acc=exact_then_round) = RN_F(sum_i x_i)   and
    dot(x, y, acc=exact_then_round) = RN_F(sum_i x_i y_i),

the exact real result rounded ONCE to nearest-even (IEEE 754-2019 clause 4.3.1 and
the overflow rule of 7.4), bit for bit, with the sign of an exact zero as IEEE
754-2019 clause 6.3 gives it: -0 only when every term is -0 (round to nearest).
The error is therefore at most half an ulp of the result (u |result|, or half the
smallest subnormal below the normal range), independent of n.

Hypotheses: finite inputs; round to nearest. Dropping the order breaks it: the
sequential sum of [1, 2**-24, 2**-24] in binary32 is 1 while the correctly rounded
sum is 1 + 2**-23; and [max, max, -max] overflows sequentially while its exact
sum, max, is representable.

Source: IEEE 754-2019 clauses 4.3.1, 6.3, 7.4 (and 9.4's recommended exact
reductions); Demmel & Hida, "Accurate and efficient floating point summation",
SIAM J. Sci. Comput. 25 (2003); fpsem.exactsum (integer accumulation, one
round_fraction).
"""
from fractions import Fraction

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import fpsem
from fpsem.formats import binary32, binary64, round_fraction

F32 = fpsem.domain("float32", acc="exact_then_round")
F64 = fpsem.domain("float64", acc="exact_then_round")
UINT = {np.float32: np.uint32, np.float64: np.uint64}


def _bits(v, dtype):
    return int(np.asarray(v, dtype=dtype).view(UINT[dtype]))


def _expected(terms, dtype, fmt, all_neg_zero):
    s = sum(terms, Fraction(0))
    return round_fraction(s, fmt, "rne", negative_zero=all_neg_zero and s == 0).bits


def _check_sum(D, x):
    x = np.asarray(x, dtype=D.dtype)
    got = D.sum(D.asarray(x))
    negz = x.size > 0 and bool(np.all((x == 0) & np.signbit(x)))
    assert _bits(got, D.dtype) == _expected([Fraction(float(v)) for v in x], D.dtype, D.format, negz), x


def _check_dot(D, x, y):
    x, y = np.asarray(x, dtype=D.dtype), np.asarray(y, dtype=D.dtype)
    got = D.dot(D.asarray(x), D.asarray(y))
    negz = bool(np.all(((x == 0) | (y == 0)) & (np.signbit(x) ^ np.signbit(y))))
    terms = [Fraction(float(a)) * Fraction(float(b)) for a, b in zip(x, y)]
    assert _bits(got, D.dtype) == _expected(terms, D.dtype, D.format, negz)


f32 = st.floats(width=32, allow_nan=False, allow_infinity=False)
f64 = st.floats(allow_nan=False, allow_infinity=False)


@given(st.lists(f32, min_size=1, max_size=100))
def test_sum_binary32(xs):
    _check_sum(F32, xs)


@given(st.lists(f64, min_size=1, max_size=60))
def test_sum_binary64(xs):
    _check_sum(F64, xs)


@given(st.integers(1, 40).flatmap(lambda n: st.tuples(st.lists(f32, min_size=n, max_size=n),
                                                     st.lists(f32, min_size=n, max_size=n))))
def test_dot_binary32(xy):
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        x, y = (np.asarray(v, dtype=np.float32) for v in xy)
    _check_dot(F32, x, y)


@given(st.integers(1, 20).flatmap(lambda n: st.tuples(
    st.lists(st.floats(-1e150, 1e150), min_size=n, max_size=n),
    st.lists(st.floats(-1e150, 1e150), min_size=n, max_size=n))))
def test_dot_binary64(xy):
    _check_dot(F64, *xy)


def test_edges():
    big = float(binary32.max_finite)
    tiny = float(binary32.min_subnormal)
    for x in ([big, big, -big], [1.0, 2.0 ** -24], [1.0, 2.0 ** -24, 2.0 ** -24],
              [tiny, tiny, -tiny], [-0.0, -0.0], [0.0, -0.0], [1.0, -1.0], [-1.0, 1.0],
              [big, big], [tiny / 1 * 3, -tiny], [2.0 ** -126, -tiny]):
        with np.errstate(over="ignore"):
            _check_sum(F32, x)
    assert F32.sum(np.array([big, big, -big], dtype=np.float32)) == np.float32(big)
    assert np.signbit(F32.sum(np.array([-0.0, -0.0], dtype=np.float32)))
    assert not np.signbit(F32.sum(np.array([1.0, -1.0], dtype=np.float32)))
    b64 = float(binary64.max_finite)
    _check_sum(F64, [b64, b64, -b64])
    _check_dot(F32, [2.0 ** -80, 2.0 ** -80], [2.0 ** -80, 2.0 ** -80])  # products below subnormals


def test_counterexample_sequential():
    x = np.array([1.0, 2.0 ** -24, 2.0 ** -24], dtype=np.float32)
    assert F32.sum(x, acc="sequential") == 1.0
    assert F32.sum(x) == np.float32(1 + 2.0 ** -23)
    big = np.float32(binary32.max_finite)
    with np.errstate(over="ignore"):
        assert np.isinf(F32.sum(np.array([big, big, -big]), acc="sequential"))
