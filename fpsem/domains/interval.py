"""The `interval` domain: rigorous enclosures of the real result.

Every value is an interval [lo, hi] (an `Interval` of two endpoint arrays) and
every primitive returns an interval that is *guaranteed* to contain the exact
real result of the same primitive applied to any reals in the input intervals
(the inclusion property of interval arithmetic; Moore, Kearfott & Cloud,
"Introduction to Interval Analysis", SIAM 2009, Thm 5.1 / 6.1). It is the
reference that float error envelopes are measured against: soundness first,
tightness second.

Endpoints (option ``endpoints``)
--------------------------------
The interval formulas below are written once, over an endpoint arithmetic that
takes the rounding direction as an argument (``E.add(a, b, d)``, ``E.mul``,
``E.div``, ``E.monotone(f, lo, hi)``, ...; the pattern of mpmath's ``libmpi``
over ``libmpf``). Two endpoint arithmetics implement it:

``"binary64"`` (default, `_ends_binary64.Binary64Ends`): float64 numpy arrays;
the elementwise work is done by
numba kernels (one fused pass per operation, both endpoints at once). The FPU
rounding mode is never changed. An operation is computed in round-to-nearest and
the result is then moved one ulp outward; because the round-to-nearest error is
below one ulp (half an ulp, or half the subnormal spacing under gradual
underflow), the moved value is a rigorous lower (upper) bound. The move is the
branch-free successor / predecessor of Rump, Zimmermann, Boldo & Melquiond (BIT
2009), ``r +- (PHI |r| + ETA)``: exactly nextafter in the normal range, at most one
ulp further near underflow; the proof is next to `_succ`. Additions use the
error-free TwoSum transform (Knuth; Higham Alg. 4.3... ``a + b = s + e`` exactly) so
that an exact sum is not widened and an inexact one is widened on one side only;
a product with a zero factor is exact and not widened. For speed it also evaluates
+ - * / as one fused numba pass (the same bits as the formula, checked by
tests/test_interval_fast.py) and dot by Rump's midpoint-radius product.

``"mpfr"`` (`_ends_mpfr.MpfrEnds`): object arrays of ``gmpy2.mpfr`` at ``precision`` bits (default 113),
every endpoint computed by MPFR in directed rounding (RoundDown for lower
endpoints, RoundUp for upper endpoints). MPFR's exp, log, tanh, erf, sin, cos are
correctly rounded in every direction, so this path is rigorous by the MPFR
specification. Tight and slow (a Python object per endpoint).

Elementary functions on binary64 endpoints
------------------------------------------
exp, exp2, log, tanh and erf are monotone; they are evaluated at the endpoints by
routines whose enclosures are rigorous *by construction* (exp and tanh per element
in numba, `_sexp` / `_stanh`, the others as numpy passes; same algorithms): argument
reduction and truncated Taylor / atanh / erf series are evaluated with the same
outward-rounded operations (each step rounded toward -inf for a lower bound, toward
+inf for an upper bound, on series whose terms are all nonnegative, hence
monotone in every rounded quantity), and the truncation remainder is bounded by
an explicit mathematical bound stated next to each routine. No claim about a
libm's accuracy is used anywhere. sin and cos (not monotone, rarely used in
models) are computed per element with MPFR in directed rounding, including a
rigorous test for the extrema pi/2 + k pi (or k pi) inside the interval.

Documented results at the edges of the real domain
--------------------------------------------------
* div: a divisor interval that contains 0 gives the entire line [-inf, +inf]
  (sound: it encloses every quotient by a nonzero divisor; the real result may not
  exist, and no finite enclosure would be honest).
* sqrt / log: the enclosure is of {f(x) : x in X, x in the domain of f}. An interval
  entirely outside the domain (hi < 0 for sqrt, hi <= 0 for log) raises
  NotRepresentable; an interval that reaches into it is clipped
  (sqrt [-1e-20, 4] -> [0, 2]; log [0, 1] -> [-inf, 0]). Clipping is what a
  variance that rounding pushed slightly below zero needs.
* Infinite endpoints are allowed in results (overflow, division by an interval
  containing 0); they mean "unbounded". inf and nan are refused as inputs.

Comparisons, where, max
-----------------------
Comparisons are three-valued: a `Tri` holds `sure` (certainly true for every
pair of reals in the operands) and `maybe` (true for some pair). `where` over a
`Tri` returns the chosen branch where the condition is decided and the hull of
both branches where it is undecided, so relu written as where(x > 0, x, 0) or as
maximum(x, 0) is sound for intervals that straddle 0.

Accumulation orders
-------------------
`acc` is accepted for every order and ignored: the enclosure is of the *real* sum
or product, which has no order. sum bounds the float rounding of numpy's (any
order) summation with gamma_{n-1} (Higham Thm 4.3 / eq. 3.5 hold for every order);
dot uses Rump's midpoint-radius product, see `_midrad_dot` for why its radius is
rigorous (MPFR endpoints: the formula, a sum of interval products).
"""
from __future__ import annotations

import numpy as np

from ..domain import ENCLOSURE, Accuracy, Domain, to_fraction_scalar
from ..errors import FpsemError, NotRepresentable, UnsupportedOp, UnsupportedOption
from ._ends_binary64 import Binary64Ends, _midrad_dot  # noqa: F401  (_midrad_dot: proofs_as_tests)
from ._ends_mpfr import MpfrEnds, _omap
from ._tri import Tri

__all__ = ["Interval", "IntervalDomain", "Tri"]


# ----------------------------------------------------------------------------
# values
# ----------------------------------------------------------------------------
class Interval:
    """An immutable array of intervals [lo, hi] (lo <= hi elementwise)."""
    __slots__ = ("lo", "hi")

    def __init__(self, lo, hi):
        object.__setattr__(self, "lo", lo)
        object.__setattr__(self, "hi", hi)

    def __setattr__(self, k, v):
        raise AttributeError("Interval values are immutable")

    @property
    def shape(self):
        return self.lo.shape

    @property
    def ndim(self):
        return self.lo.ndim

    def __repr__(self):
        return f"Interval(lo={self.lo!r}, hi={self.hi!r})"


# ----------------------------------------------------------------------------
# the interval formulas, once, over an endpoint arithmetic E (d: -1 down, +1 up)
# ----------------------------------------------------------------------------
def _add(E, a, b, c, d):
    return E.add(a, c, -1), E.add(b, d, 1)


def _sub(E, a, b, c, d):
    return E.add(a, E.neg(d), -1), E.add(b, E.neg(c), 1)


def _mul(E, a, b, c, d):
    """The least / greatest of the four endpoint products, each rounded outward (a zero
    factor gives an exact 0)."""
    lo = E.min(E.min(E.mul(a, c, -1), E.mul(a, d, -1)), E.min(E.mul(b, c, -1), E.mul(b, d, -1)))
    hi = E.max(E.max(E.mul(a, c, 1), E.mul(a, d, 1)), E.max(E.mul(b, c, 1), E.mul(b, d, 1)))
    return lo, hi


def _div(E, a, b, c, d):
    """The whole line if 0 is in [c, d]; otherwise
    divisor > 0: [a / (a >= 0 ? d : c), b / (b >= 0 ? c : d)],
    divisor < 0: [b / (b >= 0 ? d : c), a / (a >= 0 ? c : d)]."""
    zero_in = (c <= 0) & (d >= 0)
    pos = c > 0
    ln = np.where(pos, a, b)
    ld = np.where(pos, np.where(a >= 0, d, c), np.where(b >= 0, d, c))
    hn = np.where(pos, b, a)
    hd = np.where(pos, np.where(b >= 0, c, d), np.where(a >= 0, c, d))
    ld = np.where(zero_in, E.ONE, ld)
    hd = np.where(zero_in, E.ONE, hd)
    lo = np.where(zero_in, E.NEG_INF, E.div(ln, ld, -1))
    hi = np.where(zero_in, E.INF, E.div(hn, hd, 1))
    return lo, hi


FORMULAS = {"add": _add, "sub": _sub, "mul": _mul, "div": _div}

_ENDS = {}


def _endpoint_arithmetic(endpoints, precision):
    key = (endpoints, precision)
    if key not in _ENDS:
        _ENDS[key] = Binary64Ends() if endpoints == "binary64" else MpfrEnds(precision)
    return _ENDS[key]


# ----------------------------------------------------------------------------
# the domain
# ----------------------------------------------------------------------------
class IntervalDomain(Domain):
    """Rigorous interval enclosures of the real result (see the module docstring).

    Options: endpoints='binary64' (vectorized float64, outward rounding) or 'mpfr'
    (gmpy2 MPFR at `precision` bits, default 113); acc: accepted, ignored (the
    enclosure is of the real result, which has no accumulation order)."""

    name = "interval"
    OPTIONS = {"endpoints": "binary64", "precision": None, "acc": "native"}
    is_enclosure = True
    format = None

    def _validate_options(self, opts):
        opts = super()._validate_options(opts)
        ep = opts["endpoints"]
        if ep not in ("binary64", "mpfr"):
            raise UnsupportedOption(
                f"domain 'interval': endpoints must be 'binary64' or 'mpfr', got {ep!r}")
        p = opts["precision"]
        if p is not None:
            # an int, or its decimal spelling ('interval:endpoints=mpfr,precision=200' on the CLI)
            q = p if isinstance(p, (int, np.integer)) and not isinstance(p, bool) else None
            if isinstance(p, str) and p.strip().lstrip("+").isdigit() and len(p.strip()) < 10:
                q = int(p)
            if q is None or not 2 <= int(q) <= 1 << 20:
                raise UnsupportedOption(f"domain 'interval': precision must be an int in [2, 2**20], got {p!r}")
            p = int(q)
        if ep == "binary64":
            if p not in (None, 53):
                raise UnsupportedOption(
                    "domain 'interval': binary64 endpoints have 53 bits; for precision="
                    f"{p!r} use endpoints='mpfr'")
            opts["precision"] = None  # 53 is what binary64 endpoints have: the same domain
        else:
            opts["precision"] = 113 if p is None else p
        return opts

    @property
    def endpoints(self):
        return self._opts["endpoints"]

    @property
    def _E(self):
        """The endpoint arithmetic the formulas run over."""
        return _endpoint_arithmetic(self._opts["endpoints"], self._opts["precision"])

    @property
    def precision(self):
        return self._E.precision

    def _precision(self):
        return self.precision

    # -- representation --------------------------------------------------------
    def is_value(self, x):
        return isinstance(x, Interval) and x.lo.dtype == self._E.dtype

    def _parts(self, x):
        if not isinstance(x, Interval):
            x = self.asarray(x)
        return (x.lo, x.hi)

    def _unparts(self, parts):
        return Interval(parts[0], parts[1])

    def _v(self, x):
        return x if isinstance(x, Interval) else self.asarray(x)

    def interval(self, lo, hi):
        """The interval [lo, hi] from two arrays of exact numbers (outward rounded)."""
        a, b = self.asarray(lo), self.asarray(hi)
        lo_, hi_ = a.lo, b.hi
        lo_, hi_ = np.broadcast_arrays(lo_, hi_)
        if (hi_ < lo_).any():
            raise FpsemError(f"interval[{self.label}]: lo > hi")
        return Interval(np.array(lo_), np.array(hi_))

    def _impl_asarray(self, data):
        arr = data if isinstance(data, np.ndarray) else np.array(data, dtype=object)
        if arr.dtype.kind == "b":
            raise FpsemError(f"asarray[{self.label}]: boolean data is not numeric")
        if arr.dtype.kind == "O" and arr.size and all(isinstance(v, (float, int)) and not isinstance(v, bool)
                                                     for v in arr.flat):
            try:
                kinds = {type(v) for v in arr.flat}
                if kinds == {float}:
                    arr = arr.astype(np.float64)
            except (TypeError, ValueError):
                pass
        if arr.dtype.kind == "f" and arr.dtype.itemsize <= 8:
            f = np.array(arr, dtype=np.float64)  # exact widening
            # a finite sum proves every entry finite (one cheap pass); an overflowing
            # sum of finite entries falls back to the entrywise test
            with np.errstate(all="ignore"):
                fin = np.isfinite(np.sum(f)) or np.isfinite(f).all()
            if not fin:
                raise NotRepresentable(f"asarray[{self.label}]: inf or nan is not a real number")
            return Interval(*self._E.from_float64(f))
        if arr.dtype.kind in "iu" and arr.size and int(np.abs(arr).max()) < 2 ** 53:
            return Interval(*self._E.from_float64(arr.astype(np.float64)))  # exact in float64
        fr = _omap(lambda v: to_fraction_scalar(float(v) if isinstance(v, np.floating) else v,
                                                f"asarray[{self.label}]"), arr)
        return Interval(*self._E.from_fractions(fr))

    def _exact_ends(self, x):
        x = self._v(x)
        return self._E.exact(x.lo), self._E.exact(x.hi)

    def to_fraction(self, x):
        """(lo, hi): object arrays of the exact endpoint values as Fractions.
        An infinite endpoint (an unbounded enclosure) raises NotRepresentable."""
        lo, hi = self._exact_ends(x)
        for v in (*lo.flat, *hi.flat):
            if isinstance(v, float):
                raise NotRepresentable(f"to_fraction[{self.label}]: unbounded interval endpoint {v}")
        return lo, hi

    def to_float64(self, x):
        """(lo, hi) float64 arrays, rounded outward."""
        x = self._v(x)
        return self._E.to_float64(x.lo, -1), self._E.to_float64(x.hi, 1)

    def width(self, x):
        """hi - lo as float64, rounded up (inf for unbounded intervals)."""
        x = self._v(x)
        return self._E.width(x.lo, x.hi)

    def midpoint(self, x):
        """A float64 point inside the interval (the midpoint rounded to nearest)."""
        lo, hi = self.to_float64(x)
        with np.errstate(all="ignore"):
            m = 0.5 * lo + 0.5 * hi
        m = np.where(np.isfinite(m), m, np.where(np.isfinite(lo), lo, np.where(np.isfinite(hi), hi, 0.0)))
        return np.clip(m, lo, hi)

    def rel_width(self, x):
        """width / |midpoint| (inf where the midpoint is 0 and the width is not)."""
        w = self.width(x)
        m = np.abs(self.midpoint(x))
        with np.errstate(all="ignore"):
            r = np.where(w == 0, 0.0, w / m)
        return r

    def contains(self, x, values):
        """Elementwise: do the exact numbers `values` lie in x (exact comparison; an
        infinite endpoint is a float +-inf, which compares with Fractions exactly)?"""
        lo, hi = self._exact_ends(x)
        vals = _omap(lambda v: to_fraction_scalar(v, "contains"), np.array(values, dtype=object))
        return _omap(lambda l, h, q: bool(l <= q <= h), lo, hi, vals).astype(bool)

    def hull(self, a, b):
        a, b = self._v(a), self._v(b)
        return Interval(self._E.min(a.lo, b.lo), self._E.max(a.hi, b.hi))

    def is_point(self, x):
        x = self._v(x)
        return bool(np.all(x.lo == x.hi))

    # -- arithmetic --------------------------------------------------------------
    def _arith(self, op, x, y):
        x, y = self._v(x), self._v(y)
        E = self._E
        ends = (x.lo, x.hi, y.lo, y.hi)
        # a one-pass evaluation of the same formula where the endpoint arithmetic has one
        return Interval(*(E.fused(op, *ends) if E.fused else FORMULAS[op](E, *ends)))

    def _impl_add(self, x, y):
        return self._arith("add", x, y)

    def _impl_sub(self, x, y):
        return self._arith("sub", x, y)

    def _impl_mul(self, x, y):
        return self._arith("mul", x, y)

    def _impl_div(self, x, y):
        return self._arith("div", x, y)

    def _impl_neg(self, x):
        x = self._v(x)
        return Interval(self._E.neg(x.hi), self._E.neg(x.lo))

    def _impl_abs(self, x):
        x, E = self._v(x), self._E
        lo = np.where(x.lo >= 0, x.lo, np.where(x.hi <= 0, E.neg(x.hi), E.zeros(x.shape)))
        hi = E.max(E.neg(x.lo), x.hi)
        return Interval(np.asarray(lo, dtype=x.lo.dtype), np.asarray(hi, dtype=x.lo.dtype))

    def _impl_fma(self, x, y, z):
        # the real x*y + z: an enclosure of the product, then of the sum
        return self._impl_add(self._impl_mul(x, y), z)

    def _impl_minimum(self, x, y):
        x, y = self._v(x), self._v(y)
        return Interval(self._E.min(x.lo, y.lo), self._E.min(x.hi, y.hi))

    def _impl_maximum(self, x, y):
        x, y = self._v(x), self._v(y)
        return Interval(self._E.max(x.lo, y.lo), self._E.max(x.hi, y.hi))

    # -- monotone functions: [f(lo) rounded down, f(hi) rounded up] --------------------
    def _monotone(self, name, x):
        x = self._v(x)
        return Interval(*self._E.monotone(name, x.lo, x.hi))

    def _impl_sqrt(self, x):
        x = self._v(x)
        if (x.hi < 0).any():
            raise NotRepresentable(f"sqrt[{self.label}]: square root of an interval below 0 is not real")
        return self._monotone("sqrt", Interval(np.where(x.lo < 0, self._E.ZERO, x.lo), x.hi))

    def _impl_exp(self, x):
        return self._monotone("exp", x)

    def _impl_exp2(self, x):
        return self._monotone("exp2", x)

    def _impl_log(self, x):
        x = self._v(x)
        if (x.hi <= 0).any():
            raise NotRepresentable(f"log[{self.label}]: log of an interval <= 0 is not real")
        pos = x.lo > 0
        r = self._monotone("log", Interval(np.where(pos, x.lo, self._E.ONE), x.hi))
        return Interval(np.where(pos, r.lo, self._E.NEG_INF), r.hi)

    def _impl_tanh(self, x):
        return self._monotone("tanh", x)

    def _impl_erf(self, x):
        return self._monotone("erf", x)

    def _impl_sin(self, x):
        x = self._v(x)
        return Interval(*self._E.trig("sin", x.lo, x.hi))

    def _impl_cos(self, x):
        x = self._v(x)
        return Interval(*self._E.trig("cos", x.lo, x.hi))

    # -- comparisons ----------------------------------------------------------------
    def _impl_lt(self, x, y):
        x, y = self._v(x), self._v(y)
        return Tri(x.hi < y.lo, x.lo < y.hi)

    def _impl_le(self, x, y):
        x, y = self._v(x), self._v(y)
        return Tri(x.hi <= y.lo, x.lo <= y.hi)

    def _impl_gt(self, x, y):
        return self._impl_lt(y, x)

    def _impl_ge(self, x, y):
        return self._impl_le(y, x)

    def _impl_eq(self, x, y):
        x, y = self._v(x), self._v(y)
        sure = (x.lo == x.hi) & (y.lo == y.hi) & (x.lo == y.lo)
        maybe = (x.lo <= y.hi) & (y.lo <= x.hi)
        return Tri(sure, maybe)

    def _impl_ne(self, x, y):
        return ~self._impl_eq(x, y)

    def _impl_where(self, cond, a, b):
        if not isinstance(cond, Tri):
            raise self._err(UnsupportedOp, "where",
                            f"condition of type {type(cond).__name__}; expected a numpy bool mask "
                            "or a comparison result of this domain")
        a, b = self._v(a), self._v(b)
        sure, maybe = cond.sure, cond.maybe
        lo = np.where(sure, a.lo, np.where(maybe, self._E.min(a.lo, b.lo), b.lo))
        hi = np.where(sure, a.hi, np.where(maybe, self._E.max(a.hi, b.hi), b.hi))
        return Interval(lo, hi)

    # -- reductions -------------------------------------------------------------------
    def _check_order(self, op, order):
        """Every order is accepted: the enclosure is of the real result (order-free)."""

    def _impl_max(self, rows):
        rows, E = self._v(rows), self._E
        lo, hi = rows.lo[:, 0], rows.hi[:, 0]
        for j in range(1, rows.shape[1]):
            lo, hi = E.max(lo, rows.lo[:, j]), E.max(hi, rows.hi[:, j])
        return Interval(np.asarray(lo, dtype=E.dtype), np.asarray(hi, dtype=E.dtype))

    def _impl_sum(self, rows, order):
        rows = self._v(rows)
        if rows.shape[1] == 0:
            return self.zeros((rows.shape[0],))
        return Interval(*self._E.sum(rows.lo, rows.hi))

    def _impl_dot(self, a, b, order):
        a, b = self._v(a), self._v(b)
        B, m, k = a.shape
        n = b.shape[2]
        if k == 0:
            return self.zeros((B, m, n))
        if self._E.dot:  # a rigorous enclosure of the same real product, in BLAS passes
            return Interval(*self._E.dot(a.lo, a.hi, b.lo, b.hi))
        acc = None
        for l in range(k):  # the formula: a sum of interval products
            t = self._impl_mul(Interval(a.lo[:, :, l:l + 1], a.hi[:, :, l:l + 1]),
                               Interval(b.lo[:, l:l + 1, :], b.hi[:, l:l + 1, :]))
            acc = t if acc is None else self._impl_add(acc, t)
        return acc

    # -- meta -------------------------------------------------------------------------
    def _accuracy(self, prim):
        return Accuracy("enclosure", note=self._E.note) if prim != "asarray" else ENCLOSURE

    def manifest(self, prim):
        return self._E.manifest(prim) or {"endpoints": self.endpoints, "precision": self.precision}
