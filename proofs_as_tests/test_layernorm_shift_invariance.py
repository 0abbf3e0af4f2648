"""Theorem (layer norm ignores a constant shift, over the reals). For x in R^n, any
real c, eps > 0 and any gamma, beta:

    mean(x + c) = mean(x) + c,   (x + c) - mean(x + c) = x - mean(x),   var(x + c) = var(x),
    layer_norm(x + c) = layer_norm(x).

Checked (1) in the `exact` domain for the centred part and the variance (rational
operations) on arbitrary rationals, and for the full layer_norm when
var(x) + eps is the square of a rational (eps chosen so, the sqrt is then exact);
(2) in the `interval` domain for arbitrary inputs and eps = 1e-5: the enclosures of
layer_norm(x) and layer_norm(x + c) intersect (both contain the same real number).

Hypotheses: real arithmetic. In floats the shift is not free (x + c rounds, and so
do mean and the centring): float32 layer_norm([0.1, 0.2, 0.3] + 1000) differs from
layer_norm([0.1, 0.2, 0.3]) bit for bit, which is the counterexample; the
difference grows with |c| / std(x) (catastrophic cancellation).

Source: J. L. Ba, J. R. Kiros, G. E. Hinton, "Layer Normalization", 2016, eq. (4)
(and the invariance discussion of 5.1); Higham, "Accuracy and Stability of Numerical
Algorithms", 2nd ed., 1.9 (variance shift-invariance and two-pass formula).
"""
from fractions import Fraction
from math import isqrt

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fpsem
from fpsem import ops
from fpsem.errors import DomainUnavailable

EX = fpsem.domain("exact")
try:
    IV = fpsem.domain("interval")
except DomainUnavailable as e:  # pragma: no cover
    IV, WHY = None, f"interval domain unavailable: {e}"

rationals = st.fractions(min_value=-1000, max_value=1000, max_denominator=1000)


def _q(xs):
    return EX.asarray(np.array(xs, dtype=object))


@given(st.lists(rationals, min_size=1, max_size=12), rationals)
def test_centred_part_and_variance_exact(xs, c):
    x, xc = _q(xs), _q([v + c for v in xs])
    assert EX.to_fraction(ops.mean(EX, xc))[()] == EX.to_fraction(ops.mean(EX, x))[()] + c
    d0 = EX.to_fraction(EX.sub(x, ops.mean(EX, x, keepdims=True)))
    d1 = EX.to_fraction(EX.sub(xc, ops.mean(EX, xc, keepdims=True)))
    assert (d0 == d1).all()
    assert EX.to_fraction(ops.var(EX, xc))[()] == EX.to_fraction(ops.var(EX, x))[()]


@given(st.lists(st.integers(-50, 50), min_size=2, max_size=10), rationals, st.integers(1, 20))
def test_full_layer_norm_exact(xs, c, extra):
    """eps = t**2 - var(x) for an integer t > sqrt(var): sqrt(var + eps) = t exactly."""
    xs = [Fraction(v) for v in xs]
    n = len(xs)
    m = sum(xs) / n
    var = sum((v - m) ** 2 for v in xs) / n
    t = isqrt(int(var) + 1) + extra
    eps = t * t - var
    assert eps > 0
    y0 = EX.to_fraction(ops.layer_norm(EX, _q(xs), eps=eps))
    y1 = EX.to_fraction(ops.layer_norm(EX, _q([v + c for v in xs]), eps=eps))
    assert (y0 == y1).all()
    assert (y0 == np.array([(v - m) / t for v in xs], dtype=object)).all()


@pytest.mark.skipif(IV is None, reason="interval domain unavailable")
@given(st.integers(0, 2 ** 32 - 1), st.integers(2, 16), st.sampled_from([0.5, 3.0, 100.0, -1000.0]))
def test_layer_norm_interval_enclosures_intersect(seed, n, c):
    r = np.random.default_rng(seed)
    x = r.standard_normal((2, n))
    g, b = r.standard_normal(n), r.standard_normal(n)
    y0 = ops.layer_norm(IV, IV.asarray(x), IV.asarray(g), IV.asarray(b))
    y1 = ops.layer_norm(IV, IV.add(IV.asarray(x), IV.const(Fraction(c))), IV.asarray(g), IV.asarray(b))
    assert ((y0.lo <= y1.hi) & (y1.lo <= y0.hi)).all()


def test_edges():
    # constant row: centred part 0, layer_norm 0; a shift of 10**30 changes nothing exactly
    x = [Fraction(7, 3)] * 5
    assert (EX.to_fraction(ops.layer_norm(EX, _q(x), eps=1)) == 0).all()
    xs = [Fraction(1), Fraction(-1)]
    for c in (Fraction(10) ** 30, Fraction(-1, 10 ** 30)):
        y = EX.to_fraction(ops.layer_norm(EX, _q([v + c for v in xs]), eps=Fraction(0)))
        assert list(y) == [1, -1]


def test_counterexample_float32():
    F = fpsem.domain("float32", acc="sequential")
    x = np.array([[0.1, 0.2, 0.3]], dtype=np.float32)
    y0 = ops.layer_norm(F, x)
    y1 = ops.layer_norm(F, F.add(x, np.float32(1000)))
    assert not np.array_equal(y0.view(np.uint32), y1.view(np.uint32))
