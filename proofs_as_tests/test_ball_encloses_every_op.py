"""Theorem (every op's ball result encloses its real result). For every op in
fpsem.ops.records.RECORDS and its sample inputs (dyadic rationals, exact in every
format), the `ball` domain's result contains the op's real value: checked with
exact comparisons against the `exact` domain for ops that stay in the rationals,
and for every op (irrational ones included) the ball must intersect the
`interval` domain's enclosure (both contain the same real number) and, being
the high-precision reference, lie inside it up to the interval's own width.

Induction over the op's primitive calls: each ball primitive (Arb's arithmetic,
or the exact-slice matrix product `_ozaki_dot`) encloses its real result for any
reals inside its input balls, so their composition does.

Hypotheses: the op is a composition of domain primitives (no Python branching on
values). Counterexample when the radius is dropped: a ball of the midpoints
alone (radius 0) misses the real value of any op with an irrational step.

Source: van der Hoeven, "Ball arithmetic" (2009); Johansson, "Arb: efficient
arbitrary-precision midpoint-radius interval arithmetic", IEEE Trans. Computers
66 (2017); Ozaki, Ogita, Oishi & Rump, "Error-free transformations of matrix
multiplication by using fast routines of matrix multiplication and its
applications", Numer. Algorithms 59 (2012).
"""
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fpsem
from fpsem.ops.records import RECORDS
from fpsem.registry import availability

pytestmark = pytest.mark.skipif(not availability("ball")[0], reason="python-flint missing")

BALL = fpsem.domain("ball", prec=160) if availability("ball")[0] else None
EX = fpsem.domain("exact")
IV = fpsem.domain("interval")
RATIONAL = [r for r in RECORDS if r.rational]


def _leaves(v):
    if isinstance(v, (tuple, list)):
        return [leaf for x in v for leaf in _leaves(x)]
    return [v]


@pytest.mark.parametrize("rec", RATIONAL, ids=lambda r: r.name)
@given(seed=st.integers(0, 2 ** 32 - 1))
def test_ball_contains_exact(rec, seed):
    ex = rec.run(EX, np.random.default_rng(seed))
    b = rec.run(BALL, np.random.default_rng(seed))
    for e, x in zip(_leaves(ex), _leaves(b)):
        assert BALL.contains(x, EX.to_fraction(e)).all(), rec.name


@pytest.mark.parametrize("rec", RECORDS, ids=lambda r: r.name)
def test_ball_inside_interval(rec):
    for seed in range(2):
        b = rec.run(BALL, np.random.default_rng(seed))
        i = rec.run(IV, np.random.default_rng(seed))
        for x, y in zip(_leaves(b), _leaves(i)):
            blo, bhi = BALL.to_float64(x)
            ilo, ihi = IV.to_float64(y)
            assert ((blo <= ihi) & (ilo <= bhi)).all(), rec.name
            # the 160-bit ball is far tighter than the binary64 box that contains the same real
            w_b = bhi - blo
            w_i = ihi - ilo
            assert (w_b <= np.maximum(w_i, 4 * np.spacing(np.maximum(np.abs(blo), np.abs(bhi))))).all(), rec.name


def test_counterexample_radius_dropped():
    # exp(1) at 160 bits: e lies in the ball, but not at its midpoint (radius 0 would miss it)
    import mpmath
    with mpmath.workprec(800):
        e = mpmath.e
        m, ex = mpmath.mpf(e).man_exp
    e_q = Fraction(int(m)) * Fraction(2) ** int(ex)          # e to 800 bits
    slack = Fraction(1, 2 ** 780)                            # |e_q - e| < slack
    x = BALL.exp(BALL.asarray([1]))
    lo, hi = BALL.to_fraction(x)
    assert lo[0] <= e_q - slack and e_q + slack <= hi[0]      # the ball holds e
    mid = (lo[0] + hi[0]) / 2
    assert abs(mid - e_q) > slack                             # its midpoint is not e
