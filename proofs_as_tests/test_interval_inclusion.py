"""Theorem (inclusion isotonicity / fundamental theorem of interval arithmetic).

Let f be a composition of the primitives add, sub, mul, div, neg, abs, sqrt, fma,
minimum, maximum, exp, exp2, log, tanh, erf, sin, cos, sum, max and dot, and let
X_1, ..., X_n be closed real intervals. If every primitive P of the `interval` domain
satisfies the inclusion property

    P(X, Y) contains { p(x, y) : x in X, y in Y, (x, y) in dom p }        (*)

(with the documented extensions: a divisor interval containing 0 gives [-inf, inf];
sqrt and log enclose their values on the part of X inside their domain), then for
every choice of reals x_i in X_i at which f is defined, the interval evaluation
F(X_1, ..., X_n) contains the real value f(x_1, ..., x_n).

Source: R. E. Moore, R. B. Kearfott, M. J. Cloud, "Introduction to Interval
Analysis", SIAM 2009, Thm 5.1 (inclusion isotonicity) and Thm 6.1 (fundamental
theorem); the proof is induction over the expression: each node's real value lies
in the node's interval because its operands' real values lie in theirs and (*)
holds. Outward rounding (one ulp via nextafter after a round-to-nearest operation,
TwoSum-exact directions for + and -) only enlarges each P, so (*) survives it.

Checked here: (*) for each primitive on random rationals, with the exact real result
computed by the `exact` domain (or by MPFR at 200 bits with directed rounding for the
elementary functions); and the theorem itself on random compositions (expressions
built from the primitives), evaluated in `exact` at points inside the inputs and in
`interval` on the input intervals.
"""
from __future__ import annotations

from fractions import Fraction

import gmpy2
import numpy as np
from hypothesis import given, strategies as st

import fpsem

D = fpsem.domain("interval")
E = fpsem.domain("exact")

rat = st.fractions(min_value=-8, max_value=8, max_denominator=1000)
unit = st.fractions(min_value=0, max_value=1, max_denominator=101)


def _inside(x, q):
    lo, hi = D.to_float64(x)
    lo, hi = float(lo.reshape(-1)[0]), float(hi.reshape(-1)[0])
    ok_lo = lo == -np.inf or Fraction(lo) <= q
    ok_hi = hi == np.inf or q <= Fraction(hi)
    return ok_lo and ok_hi


RATIONAL_OPS = ["add", "sub", "mul", "div", "minimum", "maximum"]


@st.composite
def expression(draw, depth=3):
    """A random expression tree over two leaves: nested tuples (op, a, b) or 'x'/'y'."""
    if depth == 0 or draw(st.booleans()):
        return draw(st.sampled_from(["x", "y"]))
    kind = draw(st.sampled_from(RATIONAL_OPS + ["neg", "abs", "fma"]))
    if kind in ("neg", "abs"):
        return (kind, draw(expression(depth - 1)))
    if kind == "fma":
        return (kind, draw(expression(depth - 1)), draw(expression(depth - 1)), draw(expression(depth - 1)))
    return (kind, draw(expression(depth - 1)), draw(expression(depth - 1)))


def evaluate(Dom, e, env):
    if isinstance(e, str):
        return env[e]
    args = [evaluate(Dom, a, env) for a in e[1:]]
    return getattr(Dom, e[0])(*args)


@given(expr=expression(), x1=rat, x2=rat, y1=rat, y2=rat, s=unit, t=unit)
def test_interval_evaluation_encloses_real_evaluation(expr, x1, x2, y1, y2, s, t):
    xl, xh = min(x1, x2), max(x1, x2)
    yl, yh = min(y1, y2), max(y1, y2)
    X = D.interval(np.array([xl], dtype=object), np.array([xh], dtype=object))
    Y = D.interval(np.array([yl], dtype=object), np.array([yh], dtype=object))
    xp, yp = xl + (xh - xl) * s, yl + (yh - yl) * t
    try:
        real = evaluate(E, expr, {"x": E.asarray([xp]), "y": E.asarray([yp])})
    except fpsem.errors.NotRepresentable:  # f undefined at this point (division by 0)
        return
    q = E.to_fraction(real)[0]
    enc = evaluate(D, expr, {"x": X, "y": Y})
    assert _inside(enc, q), (expr, xp, yp, q, D.to_float64(enc))


MP = {"exp": gmpy2.exp, "tanh": gmpy2.tanh, "erf": gmpy2.erf, "sin": gmpy2.sin,
      "cos": gmpy2.cos, "log": gmpy2.log, "exp2": gmpy2.exp2}


@given(f=st.sampled_from(sorted(MP)), a=rat, b=rat, s=unit)
def test_elementary_inclusion(f, a, b, s):
    lo, hi = min(a, b), max(a, b)
    if f == "log":
        lo, hi = abs(lo) + Fraction(1, 1000), abs(hi) + Fraction(1, 1000)
        lo, hi = min(lo, hi), max(lo, hi)
    X = D.interval(np.array([lo], dtype=object), np.array([hi], dtype=object))
    p = lo + (hi - lo) * s
    R = getattr(D, f)(X)
    rlo, rhi = D.to_float64(R)
    # p is rational: MPFR rounds it to 200 bits (error 2**-200 relative) and evaluates f
    # in directed rounding; the interval's slack (at least an ulp of binary64, 2**-53)
    # dwarfs that, so a failure here is a real inclusion failure.
    q = gmpy2.mpq(p.numerator, p.denominator)
    with gmpy2.context(precision=200, round=gmpy2.RoundDown):
        vlo = MP[f](gmpy2.mpfr(q))
    with gmpy2.context(precision=200, round=gmpy2.RoundUp):
        vhi = MP[f](gmpy2.mpfr(q))
    assert gmpy2.mpfr(float(rlo[0])) <= vlo and vhi <= gmpy2.mpfr(float(rhi[0])), (f, p, rlo, rhi)


def test_edge_cases():
    # division by an interval containing 0 is the whole line (never a wrong finite answer)
    Z = D.interval(np.array([-1], dtype=object), np.array([1], dtype=object))
    lo, hi = D.to_float64(D.div(D.asarray([1]), Z))
    assert lo[0] == -np.inf and hi[0] == np.inf
    # subnormal products and overflow
    for a, b in ((5e-324, 0.5), (1e-200, 1e-200), (1e308, 10.0), (-1e308, 10.0)):
        r = D.mul(D.asarray([a]), D.asarray([b]))
        assert _inside(r, Fraction(a) * Fraction(b))
    # sums with cancellation
    xs = [1e16, 1.0, -1e16, 3.0, 2 ** -60]
    assert _inside(D.sum(D.asarray(xs)), sum(Fraction(v) for v in xs))
