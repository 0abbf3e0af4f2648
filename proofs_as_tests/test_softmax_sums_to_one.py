"""Theorem (softmax sums to one within a derived bound). Let softmax be evaluated as
in fpsem.ops.softmax: e_i = exp(x_i - max x) (any values e_i >= 0 the domain's exp
returns, finite and not all zero), S = fl_O(sum e_i) in accumulation order O, and
p_i = fl(e_i / S). With u the unit roundoff of the rounding mode (2**-24 for rne,
2**-23 for directed modes in binary32), eta the underflow term (half the smallest
subnormal for nearest, the smallest for directed) and k = O.roundings(n):

    | sum_i p_i - 1 |  <=  (gamma_k + u) / (1 - gamma_k) + n eta       (the sum taken exactly).

Proof: all e_i >= 0, so |S - sum e| <= gamma_k sum e (Higham Thm 4.3 with k the order's
depth; additions are exact in the subnormal range), hence sum e / S lies in
[1/(1+gamma_k), 1/(1-gamma_k)]; each division has |p_i - e_i/S| <= u e_i/S + eta
(standard model with underflow). The exponential's accuracy does not enter: the
statement is about the normalisation, whatever exp returned.

Hypotheses: the max is subtracted first (so no e_i overflows and the largest is
exp(0) = 1); finite inputs. Dropping the max subtraction breaks it: exp(x)/sum exp(x)
for x = [100, 100] in binary32 is inf/inf = NaN.

Source: Higham, "Accuracy and Stability of Numerical Algorithms", 2nd ed., Thm 2.2
and eq. (2.8) (standard model with underflow), Lemma 3.1, Thm 4.3 / eq. (4.3)
(summation); P. Blanchard, D. J. Higham, N. J. Higham, "Accurately computing the
log-sum-exp and softmax functions", IMA J. Numer. Anal. 41 (2021), 2311-2330, 3.
"""
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fpsem
from fpsem import ops
from fpsem.bounds import eta, gamma, unit_roundoff
from fpsem.errors import DomainUnavailable
from fpsem.order import parse_order

ORDERS = ["sequential", "pairwise", "blocked(8)", "tree(32)", "exact_then_round", "native"]
try:
    fpsem.domain("ieee32")
    HAVE_IEEE = True
except DomainUnavailable:
    HAVE_IEEE = False


def bound(D, n, order):
    k = parse_order(order).roundings(n)  # native: the order-free n - 1
    g = gamma(k, D.format, D.rounding)
    return (g + unit_roundoff(D.format, D.rounding)) / (1 - g) + n * eta(D.format, D.rounding)


def _check(D, x, order):
    p = ops.softmax(D, D.asarray(x), acc=order)
    pf = np.asarray(D.to_float64(p))
    n = x.shape[-1]
    b = bound(D, n, order)
    for row in pf.reshape(-1, n):
        s = sum((Fraction(float(v)) for v in row), Fraction(0))
        assert abs(s - 1) <= b, (float(abs(s - 1)), float(b))


@given(st.sampled_from(ORDERS), st.integers(1, 3), st.integers(1, 300), st.integers(0, 2 ** 32 - 1),
       st.sampled_from([0.1, 1.0, 10.0, 100.0]))
def test_softmax_sums_to_one_float32(order, rows, n, seed, scale):
    x = (np.random.default_rng(seed).standard_normal((rows, n)) * scale).astype(np.float32)
    _check(fpsem.domain("float32"), x, order)


@given(st.sampled_from(ORDERS[:-1]), st.integers(1, 200), st.integers(0, 2 ** 32 - 1))
def test_softmax_sums_to_one_float64(order, n, seed):
    x = np.random.default_rng(seed).standard_normal((1, n)) * 30
    _check(fpsem.domain("float64"), x, order)


@pytest.mark.skipif(not HAVE_IEEE, reason="ieee32 emulator unavailable in this build")
@given(st.sampled_from(["rne", "rtz", "rup", "rdn", "rna"]), st.sampled_from(["sequential", "pairwise"]),
       st.integers(1, 40), st.integers(0, 2 ** 32 - 1))
def test_softmax_sums_to_one_ieee32_every_rounding(mode, order, n, seed):
    x = (np.random.default_rng(seed).standard_normal((1, n)) * 5).astype(np.float32)
    _check(fpsem.domain("ieee32", rounding=mode), x, order)


def test_edges():
    F = fpsem.domain("float32")
    for order in ORDERS:
        _check(F, np.array([[0.0, -200.0, -1e30, -3e38]], dtype=np.float32), order)  # one-hot, underflow
        _check(F, np.zeros((1, 1000), dtype=np.float32), order)                      # uniform
        _check(F, np.full((1, 7), 3e38, dtype=np.float32), order)                    # huge equal inputs
        _check(F, np.array([[1e-45, 0.0, -1e-45]], dtype=np.float32), order)          # subnormal inputs
    one_hot = ops.softmax(F, np.array([[0.0, -200.0]], dtype=np.float32))
    assert one_hot[0, 0] == 1 and one_hot[0, 1] == 0
    uni = ops.softmax(F, np.zeros((1, 256), dtype=np.float32), acc="pairwise")
    assert np.all(uni == np.float32(1 / 256))  # n a power of two: exactly 1/n, sum exactly 1


def test_counterexample_without_max_subtraction():
    F = fpsem.domain("float32")
    x = np.array([[100.0, 100.0]], dtype=np.float32)
    with np.errstate(all="ignore"):
        e = F.exp(x)
        naive = F.div(e, F.sum(e, axis=-1, keepdims=True))
    assert np.isnan(naive).all()
    assert np.all(ops.softmax(F, x) == np.float32(0.5))
