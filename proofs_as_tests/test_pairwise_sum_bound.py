"""Theorem (pairwise summation bound). For x in F^n (F = binary32 or binary64, round
to nearest, no overflow), the pairwise sum P(x) = P(x[:n//2]) + P(x[n//2:]) computed
in F (fpsem order `pairwise`) satisfies

    |fl_pw(sum x) - sum x| <= gamma_k sum |x_i|,   k = ceil(log2 n),

with gradual underflow and no extra term (an addition whose exact result is in the
subnormal range is exact). For a dot product under `pairwise` (each product rounded
first) the same holds with k = ceil(log2 n) + 1 plus an underflow term
n * eta (eta = half the smallest subnormal) from the products:

    |fl_pw(x.y) - x.y| <= gamma_{ceil(log2 n)+1} sum |x_i y_i| + n eta.

Hypotheses: the order really is pairwise (`acc="pairwise"`); no overflow; round to
nearest. Dropping the order breaks the bound: the sequential sum of
[1, 2**-24 x 1023] in binary32 loses every small term (error 1023 u) while the
pairwise bound is gamma_10 * (1 + 1023 u) ~ 10 u.

Source: Higham, "Accuracy and Stability of Numerical Algorithms", 2nd ed., 4.2,
eq. (4.6) (pairwise summation: |E_n| <= gamma_{ceil log2 n} sum |x_i|) and
Thm 3.5 / eq. 3.5 with Lemma 3.1; Higham 2.1 eq. (2.8) for underflow (addition
is exact when the result is subnormal).
"""
from fractions import Fraction

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import fpsem
from fpsem.bounds import eta, gamma
from fpsem.exactsum import exact_sum_fraction
from fpsem.order import PAIRWISE

F32 = fpsem.domain("float32", acc="pairwise")
F64 = fpsem.domain("float64", acc="pairwise")


def _sum_ok(D, x):
    x = np.asarray(x, dtype=D.dtype)
    n = x.size
    got = D.sum(D.asarray(x))
    exact = exact_sum_fraction(x)
    bound = gamma(PAIRWISE.roundings(n), D.format) * sum(abs(Fraction(float(v))) for v in x)
    err = abs(Fraction(float(got)) - exact)
    assert err <= bound, (err, bound)
    return err, bound


def _dot_ok(D, x, y):
    x, y = np.asarray(x, dtype=D.dtype), np.asarray(y, dtype=D.dtype)
    n = x.size
    got = D.dot(D.asarray(x), D.asarray(y))
    terms = [Fraction(float(a)) * Fraction(float(b)) for a, b in zip(x, y)]
    bound = gamma(PAIRWISE.roundings(n, dot=True), D.format) * sum(abs(t) for t in terms) \
        + n * eta(D.format)
    assert abs(Fraction(float(got)) - sum(terms)) <= bound


def floats32(lo=-40, hi=40):
    return st.builds(lambda m, e: float(np.ldexp(np.float32(m), e)),
                     st.integers(-(1 << 24), 1 << 24), st.integers(lo - 23, hi - 23))


@given(st.lists(floats32(), min_size=1, max_size=400))
def test_pairwise_sum_binary32(xs):
    _sum_ok(F32, xs)


@given(st.lists(st.floats(width=32, min_value=-2.0 ** 100, max_value=2.0 ** 100), min_size=1, max_size=300))
def test_pairwise_sum_binary32_any(xs):
    _sum_ok(F32, xs)


@given(st.lists(st.floats(min_value=-1e300, max_value=1e300), min_size=1, max_size=200))
def test_pairwise_sum_binary64(xs):
    _sum_ok(F64, np.asarray(xs) / 1024)  # no overflow in any partial sum


@given(st.integers(1, 96).flatmap(lambda n: st.tuples(st.lists(floats32(-60, 20), min_size=n, max_size=n),
                                                      st.lists(floats32(-60, 20), min_size=n, max_size=n))))
def test_pairwise_dot_binary32(xy):
    _dot_ok(F32, *xy)


def test_edges():
    u = 2.0 ** -24
    # ties everywhere: 1 + u + u + ... in pairwise groups the small terms first
    _sum_ok(F32, [1.0] + [u] * 1023)
    _sum_ok(F32, [1.0, -1.0] * 64)
    _sum_ok(F32, [2.0 ** -149] * 33)  # subnormal sums are exact
    assert _sum_ok(F32, [2.0 ** -149] * 33)[0] == 0
    _sum_ok(F32, [3.4e38, -3.4e38, 1.0])
    _sum_ok(F32, [0.1] * 1000)
    _dot_ok(F32, [2.0 ** -80] * 7, [2.0 ** -80] * 7)  # underflowing products


def test_counterexample_sequential_order():
    u = Fraction(1, 2 ** 24)
    x = np.array([1.0] + [float(u)] * 1023, dtype=np.float32)
    seq = F32.sum(x, acc="sequential")
    err = abs(Fraction(float(seq)) - exact_sum_fraction(x))
    pw_bound = gamma(PAIRWISE.roundings(x.size), F32.format) * sum(abs(Fraction(float(v))) for v in x)
    assert seq == 1.0 and err == 1023 * u
    assert err > pw_bound
