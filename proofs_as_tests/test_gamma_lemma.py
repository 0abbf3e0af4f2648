"""Theorem (Higham's gamma_k lemma). Let u > 0, |delta_i| <= u and rho_i in {+1, -1}
for i = 1..k, with k u < 1. Then

    prod_{i=1..k} (1 + delta_i)^rho_i = 1 + theta_k,   |theta_k| <= gamma_k = k u / (1 - k u),

and gamma_j + gamma_k + gamma_j gamma_k <= gamma_{j+k}, gamma_k <= gamma_{k+1}
(so bounds compose along a computation).

This is the step from "each operation rounds with relative error <= u" (the
standard model) to every a-priori bound fpsem states (`fpsem.bounds.gamma`, the
envelopes, the ball oracle): a term that goes through k roundings is off by a
factor 1 + theta_k.

Hypotheses: |delta_i| <= u; k u < 1. Dropping the denominator is wrong: the
first-order bound k u is exceeded by (1 + u)^k - 1 for every k >= 2; and for
k u >= 1 no bound exists (`gamma` refuses).

Source: Higham, "Accuracy and Stability of Numerical Algorithms", 2nd ed.,
Lemma 3.1 and Lemma 3.3.
"""
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpsem.bounds import gamma, unit_roundoff
from fpsem.errors import FpsemError
from fpsem.formats import binary16, binary32, binary64, bfloat16

FORMATS = [binary16, bfloat16, binary32, binary64]


@st.composite
def perturbations(draw):
    fmt = draw(st.sampled_from(FORMATS))
    mode = draw(st.sampled_from(["rne", "rtz"]))
    u = unit_roundoff(fmt, mode)
    kmax = min(40, int((1 / u) - 1))
    k = draw(st.integers(1, kmax))
    scale = 1 << 20
    deltas = draw(st.lists(st.one_of(st.sampled_from([-scale, scale, 0]), st.integers(-scale, scale)),
                           min_size=k, max_size=k))
    rhos = draw(st.lists(st.sampled_from([1, -1]), min_size=k, max_size=k))
    return fmt, mode, u, [Fraction(d, scale) * u for d in deltas], rhos


@given(perturbations())
def test_product_of_k_roundings_is_within_gamma_k(case):
    fmt, mode, u, deltas, rhos = case
    prod = Fraction(1)
    for d, r in zip(deltas, rhos):
        prod *= (1 + d) if r == 1 else 1 / (1 + d)
    assert abs(prod - 1) <= gamma(len(deltas), fmt, mode)


@given(st.sampled_from(FORMATS), st.integers(0, 100), st.integers(0, 100))
def test_gamma_composition(fmt, j, k):
    gj, gk, gjk = gamma(j, fmt), gamma(k, fmt), gamma(j + k, fmt)
    assert gj + gk + gj * gk <= gjk
    assert gk <= gamma(k + 1, fmt)


def test_edges():
    u = binary32.u
    for k in (1, 2, 24, 1000):
        # the extreme cases: every delta = -u with rho = -1, and every delta = +u with rho = +1
        assert (1 / (1 - u)) ** k - 1 <= gamma(k, binary32)
        assert (1 + u) ** k - 1 <= gamma(k, binary32)
    assert gamma(0, binary32) == 0
    assert gamma(1, binary32) == u / (1 - u)
    assert gamma(3, binary32, "rup") == 3 * binary32.eps / (1 - 3 * binary32.eps)


def test_counterexample_first_order_bound():
    u = binary32.u
    for k in (2, 3, 100):
        assert (1 + u) ** k - 1 > k * u  # k u alone is not a bound


def test_counterexample_ku_at_least_one():
    u = binary16.u  # 2**-11
    k = 1 << 11
    assert k * u >= 1
    with pytest.raises(FpsemError):
        gamma(k, binary16)
    # and the product really is unbounded relative to k u / (1 - k u) < 0 nonsense
    assert (1 / (1 - u)) ** k - 1 > 1
