"""A midpoint-radius oracle that encloses every execution conforming to a float
domain's DECLARED accuracies: the test tolerance for ops, derived, not guessed.

A value is a ball (m, r) of float64 arrays. Each primitive maps the balls of its
inputs to a ball containing f(x) for every x in the input balls (Lipschitz or
exact error formulas), then widens by the error the target domain declares for
that primitive (0.5 ulp for correctly rounded in rne, k ulp for 'ulps',
gamma_k * sum|terms| for sums and dots in the target's accumulation order,
plus the underflow term). By induction both the real result and the target
domain's result lie in the final ball, so `float result in ball` checks that
the domain keeps its declarations on the whole op.

The ball arithmetic itself runs in binary64 and adds 2**-50 relative slack per
step for its own roundings (target formats here are binary32 and binary64 with
a 2x widening for the latter), and trusts the C library's float64 transcendental
functions to within 4 ulp at the midpoint (checked against mpmath in
test_numpy_domains). It is a test oracle, not a product claim.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from fpsem.bounds import gamma
from fpsem.domain import Domain
from fpsem.formats import binary64

SLACK = 2.0 ** -50
LIBM = 4 * 2.0 ** -52


class Ball:
    __slots__ = ("m", "r")

    def __init__(self, m, r):
        self.m = np.asarray(m, dtype=np.float64)
        self.r = np.asarray(r, dtype=np.float64)

    def contains(self, x):
        x = np.asarray(x, dtype=np.float64)
        return np.abs(x - self.m) <= self.r * (1 + 1e-12) + 1e-300


def _ulp(v, fmt):
    """ulp of magnitude v (array) in fmt."""
    v = np.abs(v)
    e = np.floor(np.log2(np.maximum(v, float(fmt.min_normal))))
    return np.exp2(e - (fmt.p - 1))


class BallDomain(Domain):
    name = "ball"
    OPTIONS = {}

    def __init__(self, target):
        super().__init__()
        object.__setattr__(self, "T", target)
        object.__setattr__(self, "fmt", target.format)

    @property
    def label(self):
        return f"ball[{self.T.label}]"

    # representation
    def _parts(self, x):
        return (x.m, x.r)

    def _unparts(self, p):
        return Ball(p[0], p[1])

    def is_value(self, x):
        return isinstance(x, Ball)

    def _impl_asarray(self, data):
        # the target rounds inputs once; the ball holds the input's exact value
        # (to binary64 accuracy) plus that rounding
        t = self.T.asarray(data)
        arr = data if isinstance(data, np.ndarray) else np.array(data, dtype=object)
        if arr.dtype == object:
            exact = np.array([float(Fraction(v)) for v in arr.ravel()]).reshape(arr.shape)
            slack = 2.0 ** -52 * np.abs(exact)  # float(Fraction) is within half an ulp
        else:
            exact, slack = arr.astype(np.float64), 0.0
        r = np.abs(self.T.to_float64(t) - exact) + slack + SLACK * np.abs(exact)
        return Ball(exact, r)

    def to_float64(self, x):
        return x.m

    # widening by the target's declaration
    def _widen(self, prim, m, r):
        acc = self.T.accuracy(prim)
        mag = np.abs(m) + r
        fmt = self.fmt
        if acc.kind == "exact":
            extra = 0.0
        elif acc.kind == "correctly_rounded":
            extra = (0.5 if self.T.rounding in ("rne", "rna") else 1.0) * _ulp(mag, fmt)
            extra = extra + float(fmt.min_subnormal)
        elif acc.kind == "ulps":
            extra = acc.ulps * _ulp(mag, fmt) + acc.ulps * float(fmt.min_subnormal)
        else:
            raise AssertionError(f"ball: no widening rule for {prim}: {acc}")
        return Ball(m, r + extra + SLACK * np.abs(m) + 1e-300)

    # arithmetic
    def _impl_add(self, a, b):
        return self._widen("add", a.m + b.m, a.r + b.r)

    def _impl_sub(self, a, b):
        return self._widen("sub", a.m - b.m, a.r + b.r)

    def _impl_mul(self, a, b):
        return self._widen("mul", a.m * b.m, np.abs(a.m) * b.r + a.r * np.abs(b.m) + a.r * b.r)

    def _impl_div(self, a, b):
        den = np.abs(b.m) - b.r
        assert np.all(den > 0), "ball: divisor ball contains zero"
        m = a.m / b.m
        r = (a.r + np.abs(m) * b.r) / den
        return self._widen("div", m, r)

    def _impl_neg(self, a):
        return Ball(-a.m, a.r)

    def _impl_abs(self, a):
        return Ball(np.abs(a.m), a.r)

    def _impl_fma(self, a, b, c):
        m = a.m * b.m + c.m
        r = np.abs(a.m) * b.r + a.r * np.abs(b.m) + a.r * b.r + c.r
        return self._widen("fma", m, r)

    def _impl_sqrt(self, a):
        lo = np.maximum(a.m - a.r, 0.0)
        m = np.sqrt(a.m)
        r = np.minimum(np.sqrt(a.r), a.r / (np.sqrt(lo) + m))
        return self._widen("sqrt", m, r)

    def _impl_maximum(self, a, b):
        lo = np.maximum(a.m - a.r, b.m - b.r)
        hi = np.maximum(a.m + a.r, b.m + b.r)
        return Ball((lo + hi) / 2, (hi - lo) / 2 * (1 + SLACK))

    def _impl_minimum(self, a, b):
        lo = np.minimum(a.m - a.r, b.m - b.r)
        hi = np.minimum(a.m + a.r, b.m + b.r)
        return Ball((lo + hi) / 2, (hi - lo) / 2 * (1 + SLACK))

    def _lip(self, prim, fn, a, L):
        m = fn(a.m)
        return self._widen(prim, m, L * a.r + LIBM * np.abs(m))

    def _impl_exp(self, a):
        return self._lip("exp", np.exp, a, np.exp(a.m + a.r))

    def _impl_exp2(self, a):
        return self._lip("exp2", np.exp2, a, math.log(2) * np.exp2(a.m + a.r))

    def _impl_log(self, a):
        lo = a.m - a.r
        assert np.all(lo > 0)
        return self._lip("log", np.log, a, 1 / lo)

    def _impl_tanh(self, a):
        return self._lip("tanh", np.tanh, a, 1.0)

    def _impl_erf(self, a):
        from math import erf
        return self._lip("erf", np.vectorize(erf, otypes=[float]), a, 2 / math.sqrt(math.pi))

    def _impl_sin(self, a):
        return self._lip("sin", np.sin, a, 1.0)

    def _impl_cos(self, a):
        return self._lip("cos", np.cos, a, 1.0)

    def _impl_gt(self, a, b):
        raise AssertionError("ball: value comparisons are not used by the ops under test")

    # reductions: gamma_k of the target's order on the magnitudes, plus binary64 slack
    def _impl_sum(self, rows, order):
        n = rows.m.shape[1]
        order = order if order is not None else self.T.acc
        k = order.roundings(n, dot=False)
        mag = np.sum(np.abs(rows.m) + rows.r, axis=1)
        g = float(gamma(k, self.fmt, self.T.rounding)) if k else 0.0
        m = np.sum(rows.m, axis=1)
        r = np.sum(rows.r, axis=1) + g * mag + float(gamma(n + 1, binary64)) * mag
        return Ball(m, r * (1 + SLACK) + 1e-300)

    def _impl_max(self, rows):
        lo = np.max(rows.m - rows.r, axis=1)
        hi = np.max(rows.m + rows.r, axis=1)
        return Ball((lo + hi) / 2, (hi - lo) / 2 * (1 + SLACK))

    def _impl_dot(self, a, b, order):
        k = a.m.shape[2]
        order = order if order is not None else self.T.acc
        kk = order.roundings(k, dot=True)
        g = float(gamma(kk, self.fmt, self.T.rounding)) if kk else 0.0
        am, bm = np.abs(a.m), np.abs(b.m)
        m = np.matmul(a.m, b.m)
        prop = np.matmul(am, b.r) + np.matmul(a.r, bm + b.r)
        mag = np.matmul(am + a.r, bm + b.r)
        under = 2 * k * float(self.fmt.min_subnormal)
        r = prop + g * mag + float(gamma(k + 2, binary64)) * mag + under
        return Ball(m, r * (1 + SLACK) + 1e-300)

    def _accuracy(self, prim):
        return self.T.accuracy(prim)
