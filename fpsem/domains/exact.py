"""The `exact` domain: exact rational arithmetic (gmpy2 mpq in numpy object arrays).

Every primitive computes the real result exactly. A primitive whose result is
irrational (sqrt of a non-square, exp of a nonzero rational, ...) raises
`NotRepresentable` naming the op and suggesting the `interval` domain; the few
rational points of the elementary functions (exp(0) = 1, exp2 of an integer,
log(1) = 0, sin(0) = 0, ...) are exact. Accumulation orders are accepted and
irrelevant: exact addition is associative.
"""
from __future__ import annotations

from fractions import Fraction

import gmpy2
import numpy as np

from ..domain import Accuracy, Domain, to_fraction_scalar
from ..errors import NotRepresentable, FpsemError

_mpq = gmpy2.mpq
_MPQ_TYPE = type(gmpy2.mpq(0))
_HINT = "use the 'interval' domain for a rigorous enclosure"


def _obj(fn, *arrays):
    """Apply a scalar function elementwise over object arrays (with broadcasting)."""
    b = np.broadcast_arrays(*arrays)
    out = np.empty(b[0].shape, dtype=object)
    flats = [x.ravel() for x in b]
    of = out.ravel()
    for i in range(of.size):
        of[i] = fn(*(f[i] for f in flats))
    return out


class ExactDomain(Domain):
    name = "exact"
    OPTIONS = {"acc": "exact_then_round"}
    is_enclosure = True  # a point is the tightest enclosure of itself
    value_kind = "exact"

    def is_value(self, x):
        # an object array is a value only if every element is already an mpq:
        # floats or Fractions in an object array must go through asarray, never
        # mix with mpq arithmetic (which would silently return mpfr floats)
        return (isinstance(x, np.ndarray) and x.dtype == object
                and all(type(v) is _MPQ_TYPE for v in x.flat))

    def _impl_asarray(self, data):
        arr = data if isinstance(data, np.ndarray) else np.array(data, dtype=object)
        if arr.dtype.kind == "b":
            raise FpsemError(f"asarray[{self.label}]: boolean data is not numeric")
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise NotRepresentable(f"asarray[{self.label}]: inf or nan is not a real number")
        out = np.empty(arr.shape, dtype=object)
        of = out.ravel()
        for i, v in enumerate(arr.ravel().tolist() if arr.dtype != object else arr.ravel()):
            if isinstance(v, float) and v != v or v in (float("inf"), float("-inf")):
                raise NotRepresentable(f"asarray[{self.label}]: {v} is not a real number")
            q = to_fraction_scalar(v, f"asarray[{self.label}]")
            of[i] = _mpq(q.numerator, q.denominator)
        return out

    def to_fraction(self, x):
        return _obj(lambda q: Fraction(int(q.numerator), int(q.denominator)), x)

    def to_float64(self, x):
        # int / int true division in Python is correctly rounded, subnormals included
        out = np.empty(np.shape(x), dtype=np.float64)
        of = out.ravel()
        for i, q in enumerate(np.asarray(x).ravel()):
            n, d = int(q.numerator), int(q.denominator)
            try:
                of[i] = n / d
            except OverflowError:
                of[i] = float("inf") if n > 0 else float("-inf")
        return out

    # arithmetic
    def _impl_add(self, a, b):
        return np.asarray(np.add(a, b), dtype=object)

    def _impl_sub(self, a, b):
        return np.asarray(np.subtract(a, b), dtype=object)

    def _impl_mul(self, a, b):
        return np.asarray(np.multiply(a, b), dtype=object)

    def _impl_div(self, a, b):
        def d(x, y):
            if y == 0:
                raise NotRepresentable(f"div[{self.label}]: division by zero has no real value")
            return x / y
        return _obj(d, a, b)

    def _impl_neg(self, a):
        return np.asarray(np.negative(a), dtype=object)

    def _impl_abs(self, a):
        return _obj(abs, a)

    def _impl_fma(self, a, b, c):
        return np.asarray(a * b + c, dtype=object)

    def _impl_minimum(self, a, b):
        return _obj(lambda x, y: x if x <= y else y, a, b)

    def _impl_maximum(self, a, b):
        return _obj(lambda x, y: x if x >= y else y, a, b)

    def _impl_sqrt(self, a):
        def s(q):
            if q < 0:
                raise NotRepresentable(f"sqrt[{self.label}]: square root of the negative {q} is not real")
            n, d = gmpy2.mpz(q.numerator), gmpy2.mpz(q.denominator)
            if gmpy2.is_square(n) and gmpy2.is_square(d):
                return _mpq(gmpy2.isqrt(n), gmpy2.isqrt(d))
            raise NotRepresentable(f"sqrt[{self.label}]: sqrt({q}) is irrational; {_HINT}")
        return _obj(s, a)

    def _special(self, op, a, table):
        """Elementary functions at their rational points only (Lindemann-Weierstrass:
        exp, log, sin, cos, tanh of a nonzero rational are irrational)."""
        def f(q):
            r = table(q)
            if r is None:
                raise NotRepresentable(f"{op}[{self.label}]: {op}({q}) is irrational; {_HINT}")
            return r
        return _obj(f, a)

    def _impl_exp(self, a):
        return self._special("exp", a, lambda q: _mpq(1) if q == 0 else None)

    def _impl_exp2(self, a):
        def e2(q):
            if q.denominator != 1:
                return None
            k = int(q.numerator)
            return _mpq(2) ** k if k >= 0 else _mpq(1, 2 ** -k)
        return self._special("exp2", a, e2)

    def _impl_log(self, a):
        def lg(q):
            if q <= 0:
                raise NotRepresentable(f"log[{self.label}]: log({q}) is not a real number")
            return _mpq(0) if q == 1 else None
        return self._special("log", a, lg)

    def _impl_tanh(self, a):
        return self._special("tanh", a, lambda q: _mpq(0) if q == 0 else None)

    def _impl_erf(self, a):
        return self._special("erf", a, lambda q: _mpq(0) if q == 0 else None)

    def _impl_sin(self, a):
        return self._special("sin", a, lambda q: _mpq(0) if q == 0 else None)

    def _impl_cos(self, a):
        return self._special("cos", a, lambda q: _mpq(1) if q == 0 else None)

    # comparisons
    def _cmp(self, fn, a, b):
        return np.asarray(_obj(fn, a, b), dtype=bool)

    def _impl_lt(self, a, b):
        return self._cmp(lambda x, y: x < y, a, b)

    def _impl_le(self, a, b):
        return self._cmp(lambda x, y: x <= y, a, b)

    def _impl_gt(self, a, b):
        return self._cmp(lambda x, y: x > y, a, b)

    def _impl_ge(self, a, b):
        return self._cmp(lambda x, y: x >= y, a, b)

    def _impl_eq(self, a, b):
        return self._cmp(lambda x, y: x == y, a, b)

    def _impl_ne(self, a, b):
        return self._cmp(lambda x, y: x != y, a, b)

    # reductions: exact, so the order is irrelevant
    def _impl_sum(self, rows, order):
        out = np.empty(rows.shape[0], dtype=object)
        for i in range(rows.shape[0]):
            s = _mpq(0)
            for v in rows[i]:
                s += v
            out[i] = s
        return out

    def _impl_max(self, rows):
        out = np.empty(rows.shape[0], dtype=object)
        for i in range(rows.shape[0]):
            out[i] = max(rows[i])
        return out

    def _impl_dot(self, a, b, order):
        B, m, k = a.shape
        n = b.shape[2]
        out = np.empty((B, m, n), dtype=object)
        for t in range(B):
            out[t] = np.dot(a[t], b[t]) if k else _mpq(0)
        # numpy's object matmul starts from int 0 for k == 0 and may return ints
        return _obj(lambda v: _mpq(v), out)

    def _accuracy(self, prim):
        if prim in ("sqrt", "exp", "exp2", "log", "tanh", "erf", "sin", "cos"):
            return Accuracy("exact", note="NotRepresentable where the result is irrational")
        return Accuracy("exact")
