"""Theorem (Rump's midpoint-radius matrix product with a rigorous rounding-error radius).

Let A = <Am, Ar> = {X : |X - Am| <= Ar} (m x k) and B = <Bm, Br> (k x n) be interval
matrices in midpoint-radius form with binary64 entries, and let C = fl(Am Bm) be
computed by any floating-point algorithm in which each entry is a sum of the k
products Am_il Bm_lj evaluated in binary64 round-to-nearest in some order (any
blocking, any FMA use, as BLAS GEMM does). With gamma_k = k u / (1 - k u),
u = 2**-53, and eta = 2**-1022 (covering underflow even under flush-to-zero),

    R  >=  |Am| Br + Ar |Bm| + Ar Br + gamma_k |Am| |Bm| + k eta      (entrywise)

implies X Y in [C - R, C + R] for every X in A and Y in B.

Proof sketch: X Y - Am Bm = (X - Am) Y + Am (Y - Bm) and |Y| <= |Bm| + Br give
|X Y - Am Bm| <= Ar(|Bm| + Br) + |Am| Br (Rump, "Fast and parallel interval
arithmetic", BIT 39 (1999), Thm 2.1 / eq. (2.4)); |C - Am Bm| <= gamma_k |Am||Bm| + k eta
is Higham, "Accuracy and Stability of Numerical Algorithms", Thm 3.1 / Lemma 3.1 for
every summation order, plus the underflow term. `fpsem.domains.interval._midrad_dot`
computes an R satisfying the hypothesis with BLAS products of nonnegative matrices,
each bounded above by fl(.)/(1 - gamma_k) and moved one ulp up (see its docstring).

Counterexample to the rounding-free variant: dropping gamma_k |Am||Bm| + k eta (the
plain midpoint-radius formula of exact arithmetic) does NOT enclose: with point
inputs whose products cancel, C can be off by many ulps of the tiny result, and
the radius without the term is 0. `test_dropping_the_rounding_term_fails` finds such
an input.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import given, strategies as st

import fpsem
from fpsem.domains.interval import _midrad_dot

E = fpsem.domain("exact")

fl = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


def _exact_products(X, Y):
    return E.to_fraction(E.dot(E.asarray(X), E.asarray(Y)))


def _encloses(lo, hi, ex):
    return all(Fraction(float(lo.flat[i])) <= ex.flat[i] <= Fraction(float(hi.flat[i]))
               for i in range(ex.size))


@given(data=st.data())
def test_midrad_product_encloses(data):
    m, k, n = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 12)), data.draw(st.integers(1, 3))
    Am = np.array(data.draw(st.lists(fl, min_size=m * k, max_size=m * k))).reshape(1, m, k)
    Bm = np.array(data.draw(st.lists(fl, min_size=k * n, max_size=k * n))).reshape(1, k, n)
    scale = data.draw(st.sampled_from([0.0, 1e-12, 1e-3]))
    Ar = np.abs(np.array(data.draw(st.lists(fl, min_size=m * k, max_size=m * k)))).reshape(1, m, k) * scale
    Br = np.abs(np.array(data.draw(st.lists(fl, min_size=k * n, max_size=k * n)))).reshape(1, k, n) * scale
    alo, ahi = Am - Ar, Am + Ar  # rounded: any float bounds; we test points inside them
    blo, bhi = Bm - Br, Bm + Br
    lo, hi = _midrad_dot(alo, ahi, blo, bhi)
    t = data.draw(st.sampled_from([0.0, 0.5, 1.0]))
    X = np.clip(alo + (ahi - alo) * t, alo, ahi)[0]
    Y = np.clip(bhi - (bhi - blo) * t, blo, bhi)[0]
    assert _encloses(lo[0], hi[0], _exact_products(X, Y))


def _cancelling_instance(rng, k):
    """Point inputs whose exact product is tiny compared with sum |a_l b_l|."""
    a = rng.standard_normal(k) * 10.0 ** rng.integers(-8, 8, k)
    b = rng.standard_normal(k)
    # choose the last b so that the float dot is (nearly) zero: heavy cancellation
    b[-1] = -float(np.dot(a[:-1], b[:-1])) / a[-1]
    return a.reshape(1, 1, k), b.reshape(1, k, 1)


def test_with_rounding_term_cancellation_encloses():
    rng = np.random.default_rng(0)
    for _ in range(200):
        a, b = _cancelling_instance(rng, int(rng.integers(3, 30)))
        lo, hi = _midrad_dot(a, a, b, b)
        assert _encloses(lo[0], hi[0], _exact_products(a[0], b[0]))


def test_dropping_the_rounding_term_fails():
    rng = np.random.default_rng(0)
    failures = 0
    for _ in range(200):
        a, b = _cancelling_instance(rng, int(rng.integers(3, 30)))
        lo, hi = _midrad_dot(a, a, b, b, rounding_term=False)
        if not _encloses(lo[0], hi[0], _exact_products(a[0], b[0])):
            failures += 1
    assert failures > 0, "expected the rounding-free radius to miss the exact product"
