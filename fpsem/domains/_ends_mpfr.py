"""MPFR endpoint arithmetic for the `interval` domain: object arrays of
``gmpy2.mpfr`` at the domain's precision, every endpoint computed by MPFR in directed
rounding (RoundDown for lower endpoints, RoundUp for upper ones). MPFR's operations
and its exp, exp2, log, tanh, erf, sin, cos are correctly rounded in every direction,
so each endpoint operation here is rigorous by the MPFR specification.

`MpfrEnds` supplies the endpoint operations the interval formulas of `interval.py`
are written over. The sin / cos enclosure (`trig`) is shared with the binary64
endpoints, which evaluate it in MPFR's binary64 context.
"""
from __future__ import annotations

from fractions import Fraction

import gmpy2
import numpy as np


_RD, _RU = gmpy2.RoundDown, gmpy2.RoundUp


def _ctx(prec, rnd):
    return gmpy2.context(precision=prec, round=rnd)


def _ctx64(rnd):
    """binary64 exactly: 53 bits, binary64 exponent range with subnormals."""
    c = gmpy2.ieee(64)
    c.round = rnd
    return c


def _omap(fn, *arrays):
    b = np.broadcast_arrays(*arrays)
    out = np.empty(b[0].shape, dtype=object)
    of = out.reshape(-1)
    flats = [x.reshape(-1) for x in b]
    for i in range(of.size):
        of[i] = fn(*(f[i] for f in flats))
    return out


def _exact(v):
    """An mpfr equal to the endpoint v (float or mpfr) with no rounding."""
    if isinstance(v, float):
        return gmpy2.mpfr(v, 53)
    if isinstance(v, int):
        return gmpy2.mpfr(v, max(53, v.bit_length() + 1))
    return v  # an mpfr: used as is, never passed through mpfr() (that rounds)


def _bits(v):
    """(precision, binary exponent) of an exact mpfr endpoint."""
    if not v:
        return v.precision, 0
    return v.precision, gmpy2.get_exp(v)


def _trig_point_crit(kind, a, b):
    """Possibly-contained extrema of sin/cos in [a, b] (exact mpfr endpoints).
    sin has extrema at pi/2 + j pi with value (-1)^j, cos at j pi with value (-1)^j.
    c(x) = x/pi - shift is enclosed with directed rounding at p + e + 80 bits
    (p the endpoint precision, e its exponent), and every integer j with
    RD(c(a)) <= j <= RU(c(b)) is taken as possibly inside: an over-approximation,
    so the result is still an enclosure. Returns (has_plus1, has_minus1)."""
    pa, ea = _bits(a)
    pb, eb = _bits(b)
    prec = max(pa, pb) + max(ea, eb, 0) + 80
    half = gmpy2.mpfr(0.5, 53)

    def c_lo(x):
        with _ctx(prec, _RD):
            pi_lo = gmpy2.const_pi()
        with _ctx(prec, _RU):
            pi_hi = gmpy2.const_pi()
        with _ctx(prec, _RD):
            q = x / pi_hi if x >= 0 else x / pi_lo
            return q - half if kind == "sin" else q

    def c_hi(x):
        with _ctx(prec, _RD):
            pi_lo = gmpy2.const_pi()
        with _ctx(prec, _RU):
            pi_hi = gmpy2.const_pi()
        with _ctx(prec, _RU):
            q = x / pi_lo if x >= 0 else x / pi_hi
            return q - half if kind == "sin" else q

    j0 = int(gmpy2.ceil(c_lo(a)))
    j1 = int(gmpy2.floor(c_hi(b)))
    if j1 < j0:
        return False, False
    if j1 > j0:
        return True, True
    return (j0 % 2 == 0), (j0 % 2 == 1)


def _trig(kind, lo_arr, hi_arr, out_ctx_dn, out_ctx_up, to_out):
    fn = gmpy2.sin if kind == "sin" else gmpy2.cos

    def one(a, b):
        a, b = _exact(a), _exact(b)
        if not (gmpy2.is_finite(a) and gmpy2.is_finite(b)):
            return to_out(-1), to_out(1)
        plus, minus = _trig_point_crit(kind, a, b)
        with out_ctx_dn:
            la, lb = fn(a), fn(b)
        with out_ctx_up:
            ua, ub = fn(a), fn(b)
        lo = -1 if minus else min(la, lb)
        hi = 1 if plus else max(ua, ub)
        return to_out(lo), to_out(hi)

    pairs = _omap(one, lo_arr, hi_arr)
    lo = _omap(lambda p: p[0], pairs)
    hi = _omap(lambda p: p[1], pairs)
    return lo, hi







def _mp_mul(u, v):
    r = u * v
    return gmpy2.mpfr(0) if gmpy2.is_nan(r) else r  # 0 * inf: a zero factor gives 0


_MONOTONE = {"exp": gmpy2.exp, "exp2": gmpy2.exp2, "log": gmpy2.log, "tanh": gmpy2.tanh,
             "erf": gmpy2.erf, "sqrt": gmpy2.sqrt}


class MpfrEnds:
    """Endpoints as ``gmpy2.mpfr`` at `precision` bits; `d` < 0 rounds an operation
    toward -inf, `d` > 0 toward +inf (one MPFR rounding per operation)."""
    name = "mpfr"
    dtype = np.dtype(object)
    ZERO, ONE = gmpy2.mpfr(0), gmpy2.mpfr(1)
    INF, NEG_INF = gmpy2.mpfr("inf"), gmpy2.mpfr("-inf")
    fused = None  # no one-pass evaluation of the interval formulas
    dot = None  # the dot product is the interval formula: a sum of interval products

    def __init__(self, precision):
        self.precision = int(precision)
        self.note = f"MPFR endpoints, {self.precision} bits, directed rounding"

    def _ctx(self, d):
        return _ctx(self.precision, _RD if d < 0 else _RU)

    # -- conversion ------------------------------------------------------------
    def zeros(self, shape):
        return _omap(lambda v: gmpy2.mpfr(0), np.zeros(shape))

    def from_float64(self, f):
        """(lo, hi) enclosing the float64 array f (one shared exact array from 53 bits)."""
        if self.precision >= 53:
            o = _omap(lambda v: gmpy2.mpfr(float(v), 53), f)
            return o, o
        return self.from_fractions(_omap(lambda v: Fraction(float(v)), f))

    def from_fractions(self, fr):
        """(lo, hi): each Fraction rounded down and up to `precision` bits."""
        with self._ctx(-1):
            lo = _omap(lambda q: gmpy2.mpfr(gmpy2.mpq(q.numerator, q.denominator)), fr)
        with self._ctx(1):
            hi = _omap(lambda q: gmpy2.mpfr(gmpy2.mpq(q.numerator, q.denominator)), fr)
        return lo, hi

    def exact(self, a):
        """Each endpoint's exact value: a Fraction, or a float +-inf when unbounded."""
        return _omap(lambda v: Fraction(*v.as_integer_ratio()) if gmpy2.is_finite(v) else float(v), a)

    def to_float64(self, a, d):
        """float64 array, each endpoint rounded once toward d (binary64 with subnormals)."""
        with _ctx64(_RD if d < 0 else _RU):
            return _omap(lambda v: float(+v), a).astype(np.float64)

    def width(self, lo, hi):
        """hi - lo rounded up, then up to float64."""
        with self._ctx(1):
            w = np.asarray(np.subtract(hi, lo), dtype=object)
        return self.to_float64(w, 1)

    # -- endpoint operations -----------------------------------------------------
    @staticmethod
    def min(a, b):
        a, b = np.broadcast_arrays(a, b)
        return np.where(a <= b, a, b)

    @staticmethod
    def max(a, b):
        a, b = np.broadcast_arrays(a, b)
        return np.where(a >= b, a, b)

    def neg(self, a):
        """Exact negation (gmpy2 rounds even unary minus to the current context, whose
        precision is the endpoints' own)."""
        with self._ctx(-1):
            return np.asarray(np.negative(a), dtype=object)

    def add(self, a, b, d):
        with self._ctx(d):
            return np.asarray(np.add(a, b), dtype=object)

    def mul(self, a, b, d):
        """a * b rounded toward d; a zero factor gives exactly 0 (also 0 * inf)."""
        with self._ctx(d):
            return _omap(_mp_mul, a, b)

    def div(self, a, b, d):
        """a / b rounded toward d; inf / inf (a NaN) becomes the outward infinity."""
        out = self.NEG_INF if d < 0 else self.INF
        with self._ctx(d):
            return _omap(lambda u, v: (lambda r: out if gmpy2.is_nan(r) else r)(u / v), a, b)

    def sum(self, lo, hi):
        """Row sums of lo (R, n) rounded down step by step and of hi rounded up, n >= 1."""
        slo, shi = lo[:, 0], hi[:, 0]
        for j in range(1, lo.shape[1]):
            slo = self.add(slo, lo[:, j], -1)
            shi = self.add(shi, hi[:, j], 1)
        return np.asarray(slo, dtype=object), np.asarray(shi, dtype=object)

    def monotone(self, name, lo, hi):
        """(f(lo) rounded down, f(hi) rounded up) for an increasing f (MPFR, correctly
        rounded in each direction)."""
        fn = _MONOTONE[name]
        with self._ctx(-1):
            flo = _omap(fn, lo)
        with self._ctx(1):
            fhi = _omap(fn, hi)
        return flo, fhi

    def trig(self, kind, lo, hi):
        """Enclosure of sin / cos over [lo, hi] (see `_trig_point_crit`)."""
        lo, hi = _trig(kind, lo, hi, self._ctx(-1), self._ctx(1), lambda v: v)
        with self._ctx(-1):
            lo = _omap(gmpy2.mpfr, lo)
        with self._ctx(1):
            hi = _omap(gmpy2.mpfr, hi)
        return lo, hi

    def manifest(self, prim):
        if prim == "sum":
            return {"algorithm": "MPFR directed sums", "order": "irrelevant (enclosure of the real sum)"}
        return None
