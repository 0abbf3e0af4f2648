"""Theorem (relu is exact). In every domain, relu(x) = maximum(x, 0) returns exactly
max(x, 0): in float domains no rounding happens (the result is one of the operands),
with IEEE 754-2019 maximum semantics (clause 9.6): relu(-0) = +0 (since -0 < +0),
relu(NaN) = NaN, relu(+inf) = +inf, relu(-inf) = +0; in `exact` it is the rational
max; in `interval` it is [max(lo, 0), max(hi, 0)], which contains relu of every point.

Hypotheses: maximum with IEEE semantics (-0 < +0). Dropping that breaks the signed
zero: numpy.maximum(0.0, -0.0) returns -0.0 (on a tie it returns an operand by
position, not the IEEE maximum), so relu written as numpy.maximum(0, x) gives -0:
the counterexample.

Source: IEEE 754-2019 clause 9.6 (maximum, minimum) and 6.3 (signed zero);
Nair & Hinton, "Rectified Linear Units Improve Restricted Boltzmann Machines", 2010.
"""
from fractions import Fraction

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import fpsem
from fpsem import ops
from fpsem.errors import DomainUnavailable

FLOATS = [fpsem.domain("float32"), fpsem.domain("float64")]
try:
    FLOATS += [fpsem.domain("ieee32", rounding=m) for m in ("rne", "rtz", "rup", "rdn")]
except DomainUnavailable:
    pass


def _bits(a):
    a = np.asarray(a)
    return a.view(np.uint32 if a.dtype == np.float32 else np.uint64)


def _expected(x):
    out = np.where(x > 0, x, np.zeros_like(x))  # +0 for x <= 0 (including -0)
    return np.where(np.isnan(x), x, out)


@given(st.integers(0, len(FLOATS) - 1), st.lists(st.floats(width=32), min_size=1, max_size=50))
def test_relu_float_domains(di, xs):
    D = FLOATS[di]
    dt = np.float32 if D.format.p == 24 else np.float64
    x = np.array(xs, dtype=dt)
    y = np.asarray(D.to_float64(ops.relu(D, D.asarray(x)))).astype(dt)
    want = _expected(x)
    nan = np.isnan(x)
    assert np.array_equal(_bits(y[~nan]), _bits(want[~nan]))
    assert np.isnan(y[nan]).all()


@given(st.lists(st.fractions(), min_size=1, max_size=20))
def test_relu_exact_domain(xs):
    E = fpsem.domain("exact")
    y = E.to_fraction(ops.relu(E, E.asarray(np.array([Fraction(v) for v in xs] + [Fraction(0)], dtype=object))))
    assert list(y) == [max(v, 0) for v in xs] + [0]


@given(st.lists(st.tuples(st.floats(-1e10, 1e10), st.floats(0, 1e10)), min_size=1, max_size=20))
def test_relu_interval(pairs):
    try:
        IV = fpsem.domain("interval")
    except DomainUnavailable:  # pragma: no cover
        return
    lo = np.array([a for a, _ in pairs])
    hi = lo + np.array([w for _, w in pairs])
    y = ops.relu(IV, IV.interval(lo, hi))
    assert np.array_equal(y.lo, np.maximum(lo, 0)) and np.array_equal(y.hi, np.maximum(hi, 0))


def test_edges():
    for D in FLOATS:
        dt = np.float32 if D.format.p == 24 else np.float64
        x = np.array([-0.0, 0.0, np.inf, -np.inf, np.nan, 2.0 ** -149 if dt == np.float32 else 5e-324,
                      -(2.0 ** -149)], dtype=dt)
        y = np.asarray(D.to_float64(ops.relu(D, D.asarray(x)))).astype(dt)
        assert not np.signbit(y[0]) and y[0] == 0 and not np.signbit(y[1])
        assert y[2] == np.inf and y[3] == 0 and not np.signbit(y[3]) and np.isnan(y[4])
        assert y[5] == x[5] and y[6] == 0 and not np.signbit(y[6])


def test_counterexample_numpy_maximum():
    assert np.signbit(np.maximum(np.float32(0.0), np.float32(-0.0)))  # numpy: -0 on the tie
    assert not np.signbit(ops.relu(fpsem.domain("float32"), np.array([-0.0], dtype=np.float32))[0])
