"""Theorem (error of a floating-point dot product in a fixed accumulation order).

Let F be IEEE binary32 with round to nearest even (u = 2**-24, eta = 2**-150),
x, y in F^n finite, and no overflow in any product or partial sum. Let o be an
accumulation order (fpsem.order): sequential, pairwise, blocked(k), tree(w),
fma_chain, exact_then_round, or native (any order), and r = o.roundings(n, dot=True)
the largest number of roundings any term x_i y_i undergoes (n for sequential and
native, ceil(log2 n) + 1 for pairwise, 1 for exact_then_round). If r u < 1:

    |fl_o(x . y) - x . y|  <=  gamma_r * sum_i |x_i y_i|  +  2 n eta,
    gamma_r = r u / (1 - r u).

In particular the pairwise order obeys the tighter gamma_{ceil(log2 n)+1}.
Hypotheses matter: (i) the order: the tighter pairwise bound fails for the
sequential order (x = [1, 2**-24 x 1023], y = ones: the sequential sum stays 1,
error 1023 u, far above gamma_11 * (1 + 1023 u)); (ii) the underflow term: with
x = y = [2**-80] the product 2**-160 rounds to 0, an absolute error no relative
bound gamma_r * 2**-160 covers.

Source: N. J. Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed.
(SIAM 2002), section 3.1, eq. (3.5) and Lemma 3.1 (gamma_n, any order: the bound
depends only on how many roundings each term goes through, eq. (3.4)); section
4.2, eq. (4.6) for the pairwise depth; section 2.1, eq. (2.8) for the underflow
term (each product may lose eta; propagation factor (1+u)^(n-1) < 2).
Checked on `ieee32` when available and on numpy `float32` with the order as an
explicit option; the exact dot product is computed with Fractions.
"""
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fpsem
from fpsem.bounds import eta, gamma
from fpsem.formats import binary32
from fpsem.order import parse_order

ORDERS = ["sequential", "pairwise", "blocked(4)", "tree(8)", "fma_chain", "exact_then_round", "native"]
DOMAINS = [n for n in ("float32", "ieee32") if fpsem.availability(n)[0]]


def _dot(dname, order, x, y):
    D = fpsem.domain(dname, acc=order) if order != "native" or dname == "float32" else None
    if D is None:
        pytest.skip(f"{dname} has no native order")
    r = D.dot(D.asarray(np.asarray(x, dtype=np.float64)), D.asarray(np.asarray(y, dtype=np.float64)))
    return Fraction(float(np.asarray(D.to_float64(r)).ravel()[0]))


def _bound(order, x, y):
    n = len(x)
    r = parse_order(order).roundings(n, dot=True)
    s = sum(abs(Fraction(float(a)) * Fraction(float(b))) for a, b in zip(x, y))
    return gamma(r, binary32) * s + 2 * n * eta(binary32), r


def _exact(x, y):
    return sum((Fraction(float(a)) * Fraction(float(b)) for a, b in zip(x, y)), Fraction(0))


vec = st.integers(1, 48).flatmap(lambda n: st.tuples(
    st.lists(st.floats(-2.0 ** 40, 2.0 ** 40, width=32), min_size=n, max_size=n),
    st.lists(st.floats(-2.0 ** 40, 2.0 ** 40, width=32), min_size=n, max_size=n)))


@pytest.mark.parametrize("dname", DOMAINS)
@pytest.mark.parametrize("order", ORDERS)
@given(xy=vec)
def test_dot_bound_every_order(dname, order, xy):
    x, y = xy
    f = _dot(dname, order, x, y)
    b, _ = _bound(order, x, y)
    assert abs(f - _exact(x, y)) <= b


@pytest.mark.parametrize("dname", DOMAINS)
@given(xy=vec)
def test_pairwise_tighter_bound(dname, xy):
    x, y = xy
    n = len(x)
    r = (math.ceil(math.log2(n)) if n > 1 else 0) + 1
    assert parse_order("pairwise").roundings(n, dot=True) == r
    f = _dot(dname, "pairwise", x, y)
    s = sum(abs(Fraction(float(a)) * Fraction(float(b))) for a, b in zip(x, y))
    assert abs(f - _exact(x, y)) <= gamma(r, binary32) * s + 2 * n * eta(binary32)


@pytest.mark.parametrize("dname", DOMAINS)
def test_edge_cases_near_the_bound(dname):
    # each addition loses almost u: 1 + (u - tiny) repeatedly (sequential)
    n = 64
    x = [1.0] + [float(np.float32(2.0 ** -24 * (1 - 2.0 ** -20)))] * (n - 1)
    y = [1.0] * n
    for order in ORDERS:
        f = _dot(dname, order, x, y)
        b, _ = _bound(order, x, y)
        assert abs(f - _exact(x, y)) <= b
    # signed zeros, subnormal products, cancellation
    x = [2.0 ** -75, -2.0 ** -75, 3.0, -3.0, 0.0, -0.0, 2.0 ** 60]
    y = [2.0 ** -75, 2.0 ** -75, 1.0 + 2.0 ** -23, 1.0, -5.0, 7.0, 2.0 ** -60]
    for order in ORDERS:
        f = _dot(dname, order, x, y)
        b, _ = _bound(order, x, y)
        assert abs(f - _exact(x, y)) <= b


@pytest.mark.parametrize("dname", DOMAINS)
def test_counterexample_pairwise_bound_needs_pairwise_order(dname):
    n = 1024
    x = [1.0] + [2.0 ** -24] * (n - 1)
    y = [1.0] * n
    f = _dot(dname, "sequential", x, y)
    err = abs(f - _exact(x, y))
    r_pw = parse_order("pairwise").roundings(n, dot=True)
    s = sum(abs(Fraction(a)) for a in x)
    assert f == 1 and err == Fraction(n - 1, 2 ** 24)
    assert err > gamma(r_pw, binary32) * s          # the tighter bound fails sequentially
    assert err <= _bound("sequential", x, y)[0]     # the order's own bound holds
    assert abs(_dot(dname, "pairwise", x, y) - _exact(x, y)) <= gamma(r_pw, binary32) * s


@pytest.mark.parametrize("dname", DOMAINS)
def test_counterexample_underflow_term_needed(dname):
    x = y = [2.0 ** -80]
    f = _dot(dname, "sequential", x, y)
    z = _exact(x, y)
    assert f == 0 and z == Fraction(1, 2 ** 160)
    assert abs(f - z) > gamma(1, binary32) * abs(z)
    assert abs(f - z) <= _bound("sequential", x, y)[0]
