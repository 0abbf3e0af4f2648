"""Theorem (the mean of a constant vector). Let c be a binary32 (binary64) number with
|n c| below the overflow threshold and n = 2**j. Under the accumulation order
`pairwise` (and `exact_then_round`) the float32 (float64) domain computes

    mean([c] * n) = fl(fl_O(n c) / n) = c   exactly,

because every pairwise node adds two equal values (2**i c + 2**i c = 2**(i+1) c is
exact) and division by a power of two is exact (barring underflow). Consequently
var([c] * n) = 0 and layer_norm([c] * n) = 0 exactly (x - mean = 0 and 0 / sqrt(eps)
= 0): a constant row is normalised to zero with no rounding noise.
Over the reals (the `exact` domain) mean([c]*n) = c for every n and every c.

Hypotheses: pairwise (or exact_then_round) order; n a power of two; no overflow or
underflow. Dropping either breaks it: sequential order with n = 33,
c = 1.175267219543457 gives 1.1752667427062988, and pairwise with n = 36,
c = 1.6494157314300537 gives 1.6494156122207642; exact_then_round with n = 25,
c = 1.5036269426345825 gives 1.503627061843872 (fl(25 c) / 25 double rounds).

Source: IEEE 754-2019 clause 4.3.1 (an exactly representable result is returned
unchanged); Higham, "Accuracy and Stability of Numerical Algorithms", 2nd ed.,
2.2 (multiplication or division by a power of the base is exact without over- or
underflow); fpsem.order (the pairwise definition).
"""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import fpsem
from fpsem import ops

F32 = fpsem.domain("float32")
F64 = fpsem.domain("float64")
EX = fpsem.domain("exact")


def normal32():
    return st.builds(lambda m, e, s: np.float32(s * np.ldexp(float(m), e)),
                     st.integers(1 << 23, (1 << 24) - 1), st.integers(-100, 80), st.sampled_from([1, -1]))


@given(normal32(), st.integers(0, 9), st.sampled_from(["pairwise", "exact_then_round"]))
def test_mean_of_constant_binary32(c, j, acc):
    n = 1 << j
    x = np.full((2, n), c, dtype=np.float32)
    assert np.array_equal(ops.mean(F32, x, acc=acc), np.full(2, c, dtype=np.float32))
    assert np.all(ops.var(F32, x, acc=acc) == 0)
    y = ops.layer_norm(F32, x, acc=acc)
    assert np.all(y == 0)


@given(st.floats(-1e300, 1e300).filter(lambda v: v == 0 or abs(v) > 1e-290), st.integers(0, 8))
def test_mean_of_constant_binary64(c, j):
    n = 1 << j
    x = np.full((1, n), c, dtype=np.float64)
    assert ops.mean(F64, x, acc="pairwise")[0] == c


@given(st.fractions(max_denominator=10 ** 6), st.integers(1, 40))
def test_mean_of_constant_exact(c, n):
    x = EX.asarray(np.array([c] * n, dtype=object))
    assert EX.to_fraction(ops.mean(EX, x))[()] == c
    assert EX.to_fraction(ops.var(EX, x))[()] == 0


def test_edges():
    for c in (np.float32(2.0 ** -126), np.float32(3.4028235e38 / 1024), np.float32(-0.0),
              np.float32(1 + 2.0 ** -23), np.float32(0.1)):
        for acc in ("pairwise", "exact_then_round"):
            m = ops.mean(F32, np.full((1, 1024), c, dtype=np.float32), acc=acc)[0]
            assert m == c
    # n = 1 and n = 2 hold in every order
    for acc in ("sequential", "pairwise", "blocked(3)", "tree(32)"):
        assert ops.mean(F32, np.full((1, 2), np.float32(0.1)), acc=acc)[0] == np.float32(0.1)


def test_counterexample_sequential():
    c = np.float32(1.175267219543457)
    assert ops.mean(F32, np.full((1, 33), c), acc="sequential")[0] == np.float32(1.1752667427062988) != c
    assert ops.mean(F32, np.full((1, 32), c), acc="pairwise")[0] == c


def test_counterexample_not_a_power_of_two():
    c = np.float32(1.6494157314300537)
    assert ops.mean(F32, np.full((1, 36), c), acc="pairwise")[0] != c
    c = np.float32(1.5036269426345825)
    assert ops.mean(F32, np.full((1, 25), c), acc="exact_then_round")[0] != c
