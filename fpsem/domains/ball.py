"""The `ball` domain: rigorous midpoint-radius enclosures at high precision (FLINT/Arb).

Every value is an array of balls [m +/- r]: a midpoint m kept with `prec` bits and
a radius r that is only ever rounded up (Arb's `arb_t`, through python-flint).
Every primitive returns balls that contain the exact real result of the same
primitive applied to any reals in the input balls; the proofs are Arb's
(van der Hoeven's ball arithmetic; F. Johansson, "Arb: efficient arbitrary-
precision midpoint-radius interval arithmetic", IEEE Trans. Computers 66 (2017)).

Why a ball reference and not a box (`interval`): through a matrix product the
width of a box grows like |W|.r while the value grows like W.x, about sqrt(fan-in)
faster per layer whatever the endpoint precision (GPT-2 small: ~2^280 over 12
blocks). A ball pays the same growth on its radius, but the radius starts at the
midpoint's rounding, 2^-prec relative, so at prec ~ 350 bits the radius at the
logits is still ~1e-30 relative, and |float - m| + r is the true error of a float
run to many digits. `prec` is chosen by the envelope (see
`fpsem.bridges.envelope.auto_precision`); used alone, the domain works at
`prec` bits (default 128).

Representation
--------------
A `Ball` holds one numpy array: floats (exact points, radius 0: model weights stay
compact) or a structured array of multi-precision balls (`fpsem.domains._mp`:
32-bit midpoint digits, an exponent, a sign and a float64 radius rounded up), which
every primitive returns. add, sub, mul, sums, maxima and conversions are compiled
loops over those digits (every truncation goes into the radius); exp, tanh, log,
sqrt, sin, cos, erf, 1/x and products of two ball matrices are Arb's (`arb_exp`,
..., `arb_mat_mul`), called from the compiled loops through libflint, the copy
python-flint loads. Each result keeps only the midpoint digits that lie within
40 bits of its radius (`_taper`): as radii grow through a network, later
primitives get cheaper, as Arb's own matrix products do. Where libflint cannot be
reached, or Arb cannot bound a result (outside a function's domain), the same
primitive runs on python-flint `arb` objects, whose precision is a python-flint
global set for the call and restored.

Matrix products with a point operand (every `x @ W` with model weights) run as
exact float64 BLAS products of fixed-point slices (the Ozaki scheme): see
`_ozaki_dot`. Both kinds of product are enclosures of the real product; `acc`
(accumulation order) is accepted and ignored, as the real product has no order.

Edges of the real domain (as in `interval`)
-------------------------------------------
div by a ball containing 0, sqrt/log of a ball reaching below/at 0 where it also
has points inside the domain: sqrt clips to the nonnegative part; log and div
give an unbounded ball [+/- inf]. A ball entirely outside the domain of sqrt or
log raises NotRepresentable. Comparisons are three-valued (`Tri`, shared with
`interval`); `where` over an undecided condition returns the union of both
branches.
"""
from __future__ import annotations

import contextlib
import math
import threading
from fractions import Fraction

import numpy as np

from .. import fpenv
from ..domain import Accuracy, Domain, to_fraction_scalar
from ..errors import FpsemError, NotRepresentable, UnsupportedOp, UnsupportedOption
from ..threads import blas_one_thread, pool
from . import _mp
from ._tri import Tri

try:  # python-flint is a declared dependency; the import is guarded so that
    import flint  # `fpsem domains` can say why the domain is unavailable.
    from flint import arb, arb_mat, fmpq
except ImportError:  # pragma: no cover - exercised only without python-flint
    flint = None

_DEFAULT_PREC = 128
_LOCK = threading.RLock()   # python-flint's precision is process-global


@contextlib.contextmanager
def working_precision(bits):
    """Arb's working precision for the duration of a block (restored after)."""
    with _LOCK:
        old = flint.ctx.prec
        flint.ctx.prec = int(bits)
        try:
            yield
        finally:
            flint.ctx.prec = old


class Ball:
    """An immutable array of balls. `v` is a float array (exact points), a
    structured array of multi-precision balls (`_mp`: 32-bit midpoint digits, an
    exponent, a sign and a float64 radius per ball: what every primitive returns),
    or, transiently, an object array of `flint.arb`."""
    __slots__ = ("v",)

    def __init__(self, v):
        object.__setattr__(self, "v", v)

    def __setattr__(self, k, val):
        raise AttributeError("Ball values are immutable")

    @property
    def shape(self):
        return self.v.shape

    @property
    def ndim(self):
        return self.v.ndim

    @property
    def is_point(self):
        return self.v.dtype.kind in "fiu"

    @property
    def is_mp(self):
        return self.v.dtype.names is not None

    def __repr__(self):
        if self.is_point:
            return f"Ball(points={self.v!r})"
        if self.is_mp:
            m, r = _mp.to_f64(self.v)
            return f"Ball(shape={self.v.shape}, mid={m.ravel()[:6]!r}, rad<={r.max() if r.size else 0:.2g})"
        flat = self.v.ravel()
        body = ", ".join(_short(a) for a in flat[:6]) + (", ..." if flat.size > 6 else "")
        return f"Ball(shape={self.v.shape}, [{body}])"


def _short(a):
    try:
        return f"[{float(a.mid()):.17g} +/- {float(a.rad()):.2g}]"
    except (OverflowError, ValueError):
        return str(a)


def _ufunc(fn, nin, nout=1):
    """np.frompyfunc that always returns an object ndarray (0-d included)."""
    u = np.frompyfunc(fn, nin, nout)
    return lambda *args: np.asarray(u(*args), dtype=object)


_to_arb = _ufunc(lambda v: arb(v), 1, 1)
_u_exp = _ufunc(lambda a: a.exp(), 1, 1)
_u_log = _ufunc(lambda a: a.log(), 1, 1)
_u_tanh = _ufunc(lambda a: a.tanh(), 1, 1)
_u_erf = _ufunc(lambda a: a.erf(), 1, 1)
_u_sin = _ufunc(lambda a: a.sin(), 1, 1)
_u_cos = _ufunc(lambda a: a.cos(), 1, 1)
_u_abs = _ufunc(lambda a: abs(a), 1, 1)
_b_union = _ufunc(lambda a, b: a.union(b), 2, 1)
_b_lt = _ufunc(lambda a, b: a < b, 2, 1)
_b_le = _ufunc(lambda a, b: a <= b, 2, 1)
_b_eq = _ufunc(lambda a, b: a == b, 2, 1)
_b_ne = _ufunc(lambda a, b: a != b, 2, 1)
_f_mid = _ufunc(lambda a: float(a.mid()), 1, 1)
_f_rad = _ufunc(lambda a: float(a.rad()), 1, 1)
_f_lo = _ufunc(lambda a: float(a.lower()), 1, 1)
_f_hi = _ufunc(lambda a: float(a.upper()), 1, 1)
_is_finite = _ufunc(lambda a: a.is_finite() and not a.mid().is_nan(), 1, 1)
_ENTIRE = None  # [+/- inf], built on first use (needs flint)


def _entire():
    global _ENTIRE
    if _ENTIRE is None:
        _ENTIRE = arb(0, math.inf)
    return _ENTIRE


def _whole_nan(a):
    """Arb's nan balls (no information: 0/0, log of a ball reaching 0) as [+/- inf]."""
    return _entire() if a.mid().is_nan() else a


_u_fix = _ufunc(_whole_nan, 1, 1)


def _objarr(x):
    return np.asarray(x, dtype=object)


class BallDomain(Domain):
    """Rigorous midpoint-radius balls with `prec`-bit midpoints (FLINT/Arb).

    Options: prec (bits of the midpoint, an int in [16, 65536], or 'auto': 128
    bits when used alone; an envelope whose reference is an 'auto' ball chooses
    the bits from the measured radius growth), acc (accepted and ignored)."""

    name = "ball"
    OPTIONS = {"prec": "auto", "acc": "native"}
    is_enclosure = True
    format = None

    @staticmethod
    def available():
        if flint is None:
            return False, "python-flint is not installed (pip install python-flint)"
        return True, ""

    def _validate_options(self, opts):
        opts = super()._validate_options(opts)
        p = opts["prec"]
        if isinstance(p, str) and p.strip().lower() == "auto":
            opts["prec"] = "auto"
        else:
            try:
                if isinstance(p, (bool, float)):
                    raise ValueError
                q = int(p)
                if str(p).strip().lstrip("+") != str(q) and not isinstance(p, (int, np.integer)):
                    raise ValueError
            except (TypeError, ValueError):
                raise UnsupportedOption(f"domain 'ball': prec must be an integer number of bits or 'auto', "
                                        f"got {p!r}") from None
            if not 16 <= q <= 65536:
                raise UnsupportedOption(f"domain 'ball': prec must be in [16, 65536] bits, got {q}")
            opts["prec"] = q
        return opts

    @property
    def auto(self):
        """True when the precision is left to the envelope ('auto')."""
        return self._opts["prec"] == "auto"

    @property
    def prec(self):
        """Working precision of midpoints in bits."""
        p = self._opts["prec"]
        return _DEFAULT_PREC if p == "auto" else p

    def _wp(self):
        return working_precision(self.prec)

    def _precision(self):
        # 'auto' adapts to the run: as precise as the run needs
        return math.inf if self.auto else self.prec

    # -- representation ------------------------------------------------------------
    def is_value(self, x):
        return isinstance(x, Ball)

    def _parts(self, x):
        return (self._v(x).v,)

    def _unparts(self, parts):
        return Ball(parts[0])

    def _v(self, x):
        if isinstance(x, Ball):
            return x
        return self.asarray(x)

    def _o(self, x):
        """x as an object array of arb (converting exact points and mp balls
        exactly)."""
        x = self._v(x)
        if x.v.dtype == object:
            return x.v
        if x.is_mp:
            with working_precision(32 * _mp.digits_of(x.v) + 64):
                return _mp.to_arb(x.v)
        return _objarr(_to_arb(x.v.astype(np.float64)))

    @property
    def _digits(self):
        """32-bit midpoint digits of a full-precision result (prec bits, rounded up to 64)."""
        return _mp.digits_for(self.prec)

    def _m(self, x, D=None):
        """x as an mp array: points exactly (2 digits unless D is given), arb
        objects with the domain's digits, mp arrays as they are (or widened to D)."""
        x = self._v(x)
        if x.is_mp:
            return x.v if D is None or _mp.digits_of(x.v) >= D else _mp.widen(x.v, D)
        if x.is_point:
            return _mp.from_f64(x.v.astype(np.float64), D or 2)
        return _mp.from_arb(x.v, D or self._digits)

    def _dout(self, *xs):
        """Digits of a result: the most of its mp operands (their precision
        already matches their accuracy), the domain's for points only."""
        ds = [_mp.digits_of(self._v(x).v) for x in xs if self._v(x).is_mp]
        return max(ds) if ds else self._digits

    def _back(self, o):
        """An mp Ball from an object array of arb (a general-path result)."""
        return Ball(_taper(_mp.from_arb(o, self._digits)))

    def _same_form(self, xs):
        """Values of one storage form: points stay points only if all are points;
        else mp balls with one digit count."""
        xs = [self._v(x) for x in xs]
        if all(x.is_point for x in xs):
            dt = np.result_type(*[x.v.dtype for x in xs])
            return [x.v.astype(dt, copy=False) for x in xs]
        D = self._dout(*xs)
        return [_mp.widen(self._m(x, D), D) for x in xs]

    # -- creation ----------------------------------------------------------------------
    def _impl_asarray(self, data):
        arr = data if isinstance(data, np.ndarray) else np.array(data, dtype=object)
        if arr.dtype.kind == "b":
            raise self._err(UnsupportedOption, "asarray", "boolean data is not numeric")
        if arr.dtype.kind == "O" and arr.size and all(type(v) is float for v in arr.flat):
            arr = arr.astype(np.float64)
        if arr.dtype.kind == "f":
            if arr.dtype.itemsize > 8:
                arr = arr.astype(object)   # long double: through Fractions below
            else:
                with np.errstate(all="ignore"):
                    fin = np.isfinite(np.sum(arr, dtype=np.float64)) or np.isfinite(arr).all()
                if not fin:
                    raise self._err(NotRepresentable, "asarray", "inf or nan is not a real number")
                # exact points; float16/float32 widen exactly. Read-only data (a model's
                # weights) is held without a copy, as numpy's asarray does
                return Ball(np.array(arr, dtype=np.float64 if arr.dtype.itemsize == 8 else np.float32,
                                     copy=None if not arr.flags.writeable else True))
        if arr.dtype.kind in "iu":
            if arr.size == 0 or int(np.abs(arr).max()) < 2 ** 53:
                return Ball(arr.astype(np.float64))
        fr = _ufunc(lambda v: to_fraction_scalar(v, f"asarray[{self.label}]"), 1, 1)(arr) \
            if arr.size else np.empty(arr.shape, dtype=object)
        with self._wp():
            out = _ufunc(lambda q: arb(fmpq(q.numerator, q.denominator)), 1, 1)(fr) \
                if arr.size else np.empty(arr.shape, dtype=object)
        return Ball(_mp.from_arb(_objarr(out), self._digits))

    def ball(self, mid, rad):
        """Balls [mid +/- rad] from exact data (rad >= 0, rounded up)."""
        m = self._o(self.asarray(mid))
        r = np.asarray(rad, dtype=np.float64)
        if (r < 0).any() or not np.isfinite(r).all():
            raise self._err(UnsupportedOption, "ball", "radius must be finite and >= 0")
        with self._wp():
            out = _ufunc(lambda a, rr: a + arb(0, float(rr)), 2, 1)(m, r)
        return Ball(_mp.from_arb(_objarr(out), self._digits))

    # -- conversion ----------------------------------------------------------------------
    def to_fraction(self, x):
        """(lo, hi): object arrays of the exact ball endpoints as Fractions.
        An unbounded ball raises NotRepresentable."""
        return self._endpoints(x, unbounded="raise")

    def _endpoints(self, x, unbounded):
        """Exact endpoints as Fractions; an unbounded ball raises (unbounded='raise')
        or gives None for its infinite endpoints (unbounded='none')."""
        x = self._v(x)
        if x.is_point:
            q = _objarr(_ufunc(lambda v: Fraction(float(v)), 1, 1)(x.v))
            return q, q
        o = self._o(x)

        def conv(a, lower):
            if not a.is_finite() or a.mid().is_nan():
                if unbounded == "raise":
                    raise self._err(NotRepresentable, "to_fraction", f"unbounded ball {a}")
                return None
            man, ex = (int(t) for t in (a.lower() if lower else a.upper()).man_exp())
            return Fraction(man * 2 ** ex) if ex >= 0 else Fraction(man, 2 ** -ex)
        with working_precision(max(self.prec, 64) + 64):
            lo = _ufunc(lambda a: conv(a, True), 1, 1)(o)
            hi = _ufunc(lambda a: conv(a, False), 1, 1)(o)
        return _objarr(lo), _objarr(hi)

    def to_float64(self, x):
        """(lo, hi) float64 arrays, rounded outward (lo is hi for exact points)."""
        x = self._v(x)
        if x.is_point:
            v = x.v.astype(np.float64)
            return v, v
        if x.is_mp:
            m, r = _mp.to_f64(x.v)
            with np.errstate(over="ignore", invalid="ignore"):
                return np.nextafter(m - r, -np.inf), np.nextafter(m + r, np.inf)
        return bounds64(x.v, self.prec)

    def mid_rad(self, x, double=False):
        """(m, r): float64 midpoints and float64 radii, rounded up, such that every
        real in the ball lies in [m - r, m + r] (r includes m's own rounding).
        double=True: (m, m2, r) with a double-double midpoint m + m2."""
        x = self._v(x)
        if x.is_point:
            v = x.v.astype(np.float64)
            return (v, np.zeros_like(v), np.zeros_like(v)) if double else (v, np.zeros_like(v))
        if x.is_mp:
            return _mp.to_f64(x.v, double)
        return midrad64(self._o(x), self.prec, double)

    def width(self, x):
        """2r as float64 rounded up (inf for unbounded balls)."""
        lo, hi = self.to_float64(x)
        if lo is hi:
            return np.zeros_like(lo)
        with np.errstate(all="ignore"):
            w = np.nextafter(hi - lo, np.inf)
        return np.where(lo == hi, 0.0, w)

    def midpoint(self, x):
        return self.mid_rad(x)[0]

    def radius(self, x):
        """Radius of each ball (float64, rounded up; 0 for exact points)."""
        x = self._v(x)
        if x.is_point:
            return np.zeros(x.shape)
        if x.is_mp:
            return x.v["r"].copy()
        r = _f_rad(x.v).astype(np.float64)
        fin = _is_finite(x.v).astype(bool)
        return np.where(fin, np.nextafter(r, np.inf), np.inf)

    def contains(self, x, values):
        """Elementwise: do the exact numbers `values` lie in x?"""
        lo, hi = self.to_fraction_or_inf(x)
        vals = _ufunc(lambda v: to_fraction_scalar(v, "contains"), 1, 1)(np.array(values, dtype=object))
        return _ufunc(lambda a, b, q: (a is None or a <= q) and (b is None or q <= b), 3, 1)(
            lo, hi, vals).astype(bool)

    def to_fraction_or_inf(self, x):
        """Like to_fraction, with None for an infinite endpoint."""
        return self._endpoints(x, unbounded="none")

    def hull(self, a, b):
        with self._wp():
            return self._back(_objarr(_b_union(self._o(a), self._o(b))))

    # -- structure with mixed storage ---------------------------------------------------
    def concat(self, xs, axis=0):
        xs = list(xs)
        if not xs:
            return super().concat(xs, axis)
        return super().concat([Ball(v) for v in self._same_form(xs)], axis)

    def stack(self, xs, axis=0):
        xs = self._stack_args(xs)
        return super().stack([Ball(v) for v in self._same_form(xs)], axis)

    def where(self, cond, a, b):
        if isinstance(cond, np.ndarray) and cond.dtype == np.bool_:
            va, vb = self._same_form([a, b])
            return super().where(cond, Ball(va), Ball(vb))
        return super().where(cond, a, b)

    # -- arithmetic ---------------------------------------------------------------------
    def _bin(self, fn, x, y):
        with self._wp():
            ox, oy = self._o(x), self._o(y)
            return self._back(_objarr(fn(ox, oy)))

    def _arith(self, kernel, x, y, *extra):
        D = self._dout(x, y)
        return Ball(_taper(_mp.binary(kernel, self._m(x), self._m(y), D, *extra)))

    def _impl_add(self, x, y):
        return self._arith(_mp.k_add, x, y, False)

    def _impl_sub(self, x, y):
        return self._arith(_mp.k_add, x, y, True)

    def _impl_mul(self, x, y):
        return self._arith(_mp.k_mul, x, y)

    def _impl_div(self, x, y):
        # x * (1/y): Arb's enclosure of 1/y, then a ball product (one more rounding)
        y = self._v(y)
        inv = self._fn(_mp.FN_INV, y, None)
        if inv is None:
            with self._wp():
                return self._back(_objarr(_u_fix(np.true_divide(self._o(x), self._o(y)))))
        return self._impl_mul(x, inv)

    def _impl_fma(self, x, y, z):
        # a ball product is exact up to its radius, so x*y + z is one enclosure
        return self._impl_add(self._impl_mul(x, y), z)

    def _impl_neg(self, x):
        x = self._v(x)
        if x.is_point:
            return Ball(-x.v)
        v = self._m(x).copy()
        v["s"] = np.where(v["m"][..., -1] != 0, 1 - v["s"], 0)
        return Ball(v)

    def _impl_abs(self, x):
        x = self._v(x)
        if x.is_point:
            return Ball(np.abs(x.v))
        v = self._m(x)
        if not (v["s"] != 0).any():
            return Ball(v)
        if np.all(v["r"] == 0):
            v = v.copy()
            v["s"] = 0
            return Ball(v)
        return self._bin(lambda a, b: _u_abs(a), x, x)    # Arb's |ball| (straddling 0)

    def _impl_minimum(self, x, y):
        return self._impl_neg(self._impl_maximum(self._impl_neg(x), self._impl_neg(y)))

    def _impl_maximum(self, x, y):
        D = self._dout(x, y)
        a, b = np.broadcast_arrays(self._m(x, D), self._m(y, D))
        a, b = _mp.widen(a, D), _mp.widen(b, D)
        return Ball(_mp.binary(_mp.k_max2, a, b, D))

    def _impl_sqrt(self, x):
        return self._fn(_mp.FN_SQRT, x, self._sqrt_general)

    def _sqrt_general(self, x):
        with self._wp():
            o = self._o(x)

            def one(a):
                if a >= 0:
                    return a.sqrt()
                if a < 0:
                    raise self._err(NotRepresentable, "sqrt",
                                    f"sqrt of a ball entirely below 0 ({a}) has no real value")
                if not a.is_finite() or a.mid().is_nan():
                    return _entire()
                return a.nonnegative_part().sqrt()  # the part of the ball in sqrt's domain
            return self._back(_objarr(_ufunc(one, 1, 1)(o)))

    def _elem(self, fn, x):
        with self._wp():
            return self._back(_objarr(_u_fix(fn(self._o(x)))))

    def _arb_prec(self, acc):
        """Arb's working precision for operands whose midpoints carry `acc` bits above
        their radii: acc + 40, at least 64, at most prec (inf, exact operands: prec)."""
        return self.prec if not math.isfinite(acc) else int(min(self.prec, max(64, acc + 40)))

    def _fn(self, code, x, general):
        """Arb's function `code` on every ball of x from compiled code, at the
        precision the balls carry (their midpoints' bits above their radii, + 40,
        at most prec: more bits would only refine noise). Where Arb cannot bound a
        result (outside the function's domain) the general path `general` runs
        instead (None: return None)."""
        xv = self._v(x)
        D = self._dout(xv)
        v = self._m(xv, D)
        res = _mp.arb_apply(v, code, self._arb_prec(_acc(v)), D)
        if res is None or res[1].any():
            return None if general is None else general(xv)
        return Ball(_taper(res[0]))

    def _impl_exp(self, x):
        return self._fn(_mp.FN_EXP, x, lambda v: self._elem(_u_exp, v))

    def _impl_exp2(self, x):
        # x * ln2 carries |x| times ln2's rounding: form it with 64 guard bits
        with working_precision(self.prec + 64):
            t = self._o(x) * arb.const_log2()
        with self._wp():
            return self._back(_objarr(_u_fix(_u_exp(t))))

    def _impl_log(self, x):
        return self._fn(_mp.FN_LOG, x, self._log_general)

    def _log_general(self, x):
        with self._wp():
            o = self._o(x)

            def one(a):
                if a <= 0:
                    raise self._err(NotRepresentable, "log",
                                    f"log of a ball with no positive point ({a}) has no real value")
                return _whole_nan(a.log())
            return self._back(_objarr(_ufunc(one, 1, 1)(o)))

    def _impl_tanh(self, x):
        return self._fn(_mp.FN_TANH, x, lambda v: self._elem(_u_tanh, v))

    def _impl_erf(self, x):
        return self._fn(_mp.FN_ERF, x, lambda v: self._elem(_u_erf, v))

    def _impl_sin(self, x):
        return self._fn(_mp.FN_SIN, x, lambda v: self._elem(_u_sin, v))

    def _impl_cos(self, x):
        return self._fn(_mp.FN_COS, x, lambda v: self._elem(_u_cos, v))

    # -- comparison and selection -----------------------------------------------------------
    def _impl_lt(self, x, y):
        # sure: every point of x below every point of y; maybe: not (x >= y surely)
        t = self._cmp_fast(x, y, strict=True)
        if t is not None:
            return t
        with self._wp():
            ox, oy = self._o(x), self._o(y)
            return Tri(_b_lt(ox, oy).astype(bool), ~_b_le(oy, ox).astype(bool))

    def _impl_le(self, x, y):
        t = self._cmp_fast(x, y, strict=False)
        if t is not None:
            return t
        with self._wp():
            ox, oy = self._o(x), self._o(y)
            return Tri(_b_le(ox, oy).astype(bool), ~_b_lt(oy, ox).astype(bool))

    def _cmp_fast(self, x, y, strict):
        """x < y (strict) or x <= y from outward float64 bounds, where they decide
        every element (None otherwise: the exact comparison decides)."""
        lx, hx = self.to_float64(x)
        ly, hy = self.to_float64(y)
        lx, hx, ly, hy = np.broadcast_arrays(lx, hx, ly, hy)
        sure = hx < ly
        never = lx > hy
        if not np.all(sure | never):
            return None
        return Tri(sure, ~never)

    def _impl_gt(self, x, y):
        return self._impl_lt(y, x)

    def _impl_ge(self, x, y):
        return self._impl_le(y, x)

    def _impl_eq(self, x, y):
        with self._wp():
            ox, oy = self._o(x), self._o(y)
            return Tri(_b_eq(ox, oy).astype(bool), ~_b_ne(ox, oy).astype(bool))

    def _impl_ne(self, x, y):
        return ~self._impl_eq(x, y)

    def _impl_where(self, cond, a, b):
        if not isinstance(cond, Tri):
            raise self._err(UnsupportedOp, "where",
                            f"condition of type {type(cond).__name__}; expected a numpy bool mask "
                            "or a comparison result of this domain")
        sure, maybe = np.broadcast_arrays(np.asarray(cond.sure), np.asarray(cond.maybe))
        und = maybe & ~sure
        if not und.any():
            return self.where(np.asarray(sure, dtype=bool), a, b)
        with self._wp():
            oa, ob = self._o(a), self._o(b)
            oa, ob, sure, und = np.broadcast_arrays(oa, ob, sure, und)
            out = np.array(np.where(sure, oa, ob), dtype=object)
            out[und] = _b_union(oa[und], ob[und])
            return self._back(_objarr(out))

    # -- reductions ---------------------------------------------------------------------------
    def _check_order(self, op, order):
        """Every order is accepted: the enclosure is of the real result (order-free)."""

    def _impl_max(self, rows):
        rows = self._v(rows)
        if rows.is_point:
            return Ball(np.max(rows.v, axis=1))
        v = self._m(rows)
        R, n = v.shape
        out, fo = _mp.alloc((R,), _mp.digits_of(v))
        _mp.k_max_rows(*_mp.fields(v), R, n, *fo)
        return Ball(out)

    def _impl_sum(self, rows, order):
        rows = self._v(rows)
        R, n = rows.shape
        if n == 0:
            return Ball(np.zeros(R))
        D = self._dout(rows)
        out, fo = _mp.alloc((R,), D)
        _mp.k_sum_rows(*_mp.fields(self._m(rows)), R, n, *fo)
        return Ball(_taper(out))

    def _impl_dot(self, a, b, order):
        a, b = self._v(a), self._v(b)
        B, m, k = a.shape
        n = b.shape[2]
        if k == 0:
            return Ball(np.zeros((B, m, n)))
        if b.is_point:
            return Ball(_taper(_ozaki_dot(self._m(a), b.v, self.prec)))
        if a.is_point:
            t = _ozaki_dot(np.swapaxes(self._m(b), 1, 2), np.swapaxes(a.v, 1, 2), self.prec)
            return Ball(_taper(np.ascontiguousarray(np.swapaxes(t, 1, 2))))
        D = self._dout(a, b)
        ma, mb = self._m(a, D), self._m(b, D)
        out = _mp.arb_matmul(ma, mb, self._arb_prec(max(_acc(ma), _acc(mb))), D)
        if out is not None:
            return Ball(_taper(out))
        with self._wp():
            return self._back(_arbmat_dot(self._o(a), self._o(b)))

    # -- meta ------------------------------------------------------------------------------------
    def _accuracy(self, prim):
        return Accuracy("enclosure", note=f"Arb balls, {self.prec}-bit midpoints, radii rounded up")

    def manifest(self, prim):
        if prim == "dot":
            return {"algorithm": "exact float64 BLAS products of fixed-point slices (Ozaki) for a point "
                                 "operand; arb_mat otherwise", "order": "irrelevant (enclosure of the real product)"}
        return {"library": "FLINT/Arb via python-flint", "precision": self.prec}


# Every primitive and view runs under the default MXCSR whatever the caller's: the
# radii are float64 sums and products rounded to nearest (see _mp), and a host with
# flush-to-zero would drop tiny radii to 0 (the compiled kernels' threads set it too).
for _name, _fn in list(vars(BallDomain).items()):
    if callable(_fn) and (_name.startswith("_impl_") or _name in (
            "to_float64", "mid_rad", "radius", "width", "to_fraction", "to_fraction_or_inf",
            "contains", "hull", "ball")):
        setattr(BallDomain, _name, fpenv.host_independent(_fn))
del _name, _fn


# ---------------------------------------------------------------------------------
# float64 views of ball arrays
# ---------------------------------------------------------------------------------
def bounds64(o, prec):
    """(lo, hi) float64 with lo <= every real in the ball <= hi."""
    with working_precision(max(prec, 64) + 64):
        lo = _f_lo(o).astype(np.float64)
        hi = _f_hi(o).astype(np.float64)
        fin = _is_finite(o).astype(bool)
    # float() of an arf is within one ulp in some direction: step outward once
    lo = np.where(fin, np.nextafter(lo, -np.inf), -np.inf)
    hi = np.where(fin, np.nextafter(hi, np.inf), np.inf)
    return lo, hi


def midrad64(o, prec, double=False):
    """(m, r) float64 with every real of the ball in [m - r, m + r]; with
    double=True (m, m2, r) with the ball inside [m + m2 - r, m + m2 + r]
    (a double-double midpoint, for measuring errors of binary64 runs)."""
    with working_precision(max(prec, 64) + 128):
        m = _f_mid(o).astype(np.float64)
        fin = _is_finite(o).astype(bool) & np.isfinite(m)
        mo = np.where(fin, m, 0.0).astype(object)
        if double:
            m2 = _ufunc(lambda a, mm: float((a.mid() - mm).mid()), 2)(o, mo).astype(np.float64)
            m2 = np.where(fin, m2, 0.0)
            mo = _ufunc(lambda a, b: arb(a) + b, 2)(mo, m2.astype(object))
        # the exact distance from the float midpoint to the ball's far end
        d = _ufunc(lambda a, mm: float(abs(a - mm).upper()), 2)(o, mo).astype(np.float64)
    r = np.where(fin, np.nextafter(d, np.inf), np.inf)
    m = np.where(fin, m, 0.0)
    return (m, m2, r) if double else (m, r)


# ---------------------------------------------------------------------------------
# matrix products
# ---------------------------------------------------------------------------------
def _arbmat_dot(a, b):
    """(B, m, k) @ (B, k, n) for object arrays of arb, by arb_mat (C, blocked)."""
    B, m, k = a.shape
    n = b.shape[2]
    out = np.empty((B, m, n), dtype=object)
    for i in range(B):
        A = arb_mat(a[i].tolist())
        Bm = arb_mat(b[i].tolist())
        C = A * Bm
        out[i] = np.array(C.entries(), dtype=object).reshape(m, n)
    return out


def _acc(v):
    """Bits of the most accurate ball's midpoint above its radius (inf: an exact one)."""
    if v.size == 0:
        return -math.inf
    M, e, s, r = _mp.fields(v)
    return _mp.k_acc_bits(M, e, r)


def _taper(v, guard=40):
    """Drop midpoint digits that lie more than `guard` bits below every ball's
    radius (their truncation, < 2^-guard of the radius, goes into the radius):
    as the radius grows through a network the midpoints shrink with it, and so
    does the cost of every later primitive (Arb's matrix products do the same)."""
    if v.size == 0 or not _mp.is_mp(v):
        return v
    acc = _acc(v)
    if not math.isfinite(acc):
        return v
    need = _mp.digits_for(max(64.0, acc + guard))
    return _mp.widen(v, need) if need < _mp.digits_of(v) else v


def _mm(x, y):
    """x @ y for (B, m, k) @ (B, k, n) float64 arrays, one 2-d BLAS call per batch
    (numpy's batched matmul ran 3x slower than 2-d products here)."""
    if x.shape[0] == 1 and y.shape[0] == 1:
        return (x[0] @ y[0])[None]
    B = max(x.shape[0], y.shape[0])
    return np.stack([x[min(b, x.shape[0] - 1)] @ y[min(b, y.shape[0] - 1)] for b in range(B)])


def _gemm_up(x, y):
    """An upper bound of x @ y for nonnegative float64 arrays (BLAS in any order:
    |fl(x@y) - x@y| <= gamma_k x@y, plus k underflows of at most 2**-1074)."""
    k = x.shape[-1]
    with np.errstate(all="ignore"):
        p = _mm(x, y)
        g = (k + 2) * 2.0 ** -53
        return np.nextafter(p * (1 + 2 * g) + k * 2.0 ** -1074 * 2, np.inf)


def _ozaki_dot(a, w, prec):
    # one BLAS thread: its spinning threads took the cores from the compiled kernels
    # (GPT-2 small, 64 tokens, 2 cores: 30.2 s wall for the ball forward with 2, 22.0 s with 1)
    with blas_one_thread():
        return _ozaki_dot_1(a, w, prec)


def _ozaki_dot_1(a, w, prec):
    """Enclosure of a @ w for a ball array a (B, m, k) and an exact float matrix
    w (B, k, n): exact float64 BLAS products of fixed-point slices (Ozaki et al.,
    "Error-free transformations of matrix multiplication", Numer. Algorithms 2012).

    a's midpoints become integers N (frac_bits = prec + 32 bits below each row's
    top bit) cut into `chunk`-bit slices A_j; w becomes per-column fixed-point slices
    V_t of `bits` bits with chunk + bits + log2(k) <= 53, so every product A_j @ V_t
    is a sum of integers below 2**53: exact in float64 in any order, so BLAS may
    run it. chunk and bits split the 53 - log2(k) bits so that the number of
    products, ceil(frac_bits / chunk) * T with T * bits >= w's column span, is least. Slice pairs more than frac_bits + 8 bits below the top pair are not
    computed; their sum is bounded and added to the radius, as are a's radii
    (through |w|) and the truncation of a's midpoints. The exact slice products
    are summed exactly in base-2**16 integer digits."""
    B, m, k = a.shape
    n = w.shape[2]
    M, e, s, r = _mp.fields(a)
    Da = _mp.digits_of(a)
    # frac_bits: prec + 32 bits below each row's top bit, but not more than 40 bits
    # below the row's largest radius: deeper bits only carry noise
    nz = (M[:, Da - 1] != 0).reshape(B, m, k)
    low = np.iinfo(np.int64).min // 4
    top = np.where(nz, e.reshape(B, m, k) + 32 * Da, low).max(axis=2, keepdims=True)
    rowrad = r.reshape(B, m, k).max(axis=2, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        acc = np.where((rowrad > 0) & (top > low), top - np.log2(np.where(rowrad > 0, rowrad, 1.0)), np.inf)
    acc_max = float(np.max(acc)) if acc.size else math.inf
    frac_bits = int(min(prec + 32, max(64.0, acc_max + 40)))
    depth = frac_bits + 8
    chunk, bits, T = _slice_plan(w, k, frac_bits, depth)
    L = (frac_bits + chunk - 1) // chunk
    A4, e_row, rad_a = _mp.k_rows_limbs(M, e, s, r, B, m, k, frac_bits, L, chunk)
    maxsh = chunk * (L - 1) + bits * (T - 1)
    D = (maxsh + 53) // 16 + 4
    Dout = _mp.digits_for(frac_bits)
    out = np.empty((B, m, n), dtype=_mp.mp_dtype(Dout))
    # columns in chunks: the slices of w and the digit sums stay within a few hundred MB
    nc = max(1, min(n, (1 << 24) // max(1, D * B * m), (1 << 25) // max(1, T * B * k)))
    nonzero = [bool(x.any()) for x in A4]
    for c0 in range(0, n, nc):
        wc = w[:, :, c0:c0 + nc]          # a view: the kernels read any layout and dtype
        digits, gexp, rad = _ozaki_cols(A4, nonzero, e_row, rad_a, frac_bits, wc, chunk, bits, T, D)
        c = wc.shape[2]
        blk, fo = _mp.alloc((B, m, c), Dout)
        _mp.k_from_digits16(digits.reshape(D, -1),
                            np.ascontiguousarray(np.broadcast_to(gexp, (B, m, c))).reshape(-1),
                            np.ascontiguousarray(rad).reshape(-1), *fo)
        out[:, :, c0:c0 + c] = blk
    return out


def _slice_plan(w, k, frac_bits, depth):
    """(chunk, bits, T): a's limbs of `chunk` bits, T slices of `bits` bits of w,
    chunk + bits + ceil(log2 k) <= 53, T * bits covering w's column span (or the
    depth the product is computed to), with the fewest BLAS products."""
    budget = 53 - math.ceil(math.log2(max(k, 2)))
    mant = 24 if w.dtype == np.float32 else (11 if w.dtype == np.float16 else 53)
    span = _mp.k_span(w, mant) if w.size else 1
    span = max(1, min(span, depth))
    best = None
    for T in range(1, 9):
        bits = -(-span // T)
        chunk = min(31, budget - bits)
        if chunk < 8 or bits < 1:
            continue
        cost = -(-frac_bits // chunk) * T
        if best is None or cost < best[0]:
            best = (cost, chunk, bits, T)
    if best is None:
        raise FpsemError(f"dot[ball]: inner dimension {k} too large for exact float64 slices")
    return best[1:]


def _limb_products(A4, jlo, Vt):
    """A4[j] @ Vt for the limbs j in [jlo, L) of one weight column block (B == 1), as
    one (L - jlo) m x n array: the limbs stacked into one matrix, its rows split
    between the caller and one more thread (BLAS itself runs on one thread: see
    _ozaki_dot), so the exact products use both cores."""
    L, _, m, k = A4.shape
    n = Vt.shape[2]
    A = A4[jlo:].reshape((L - jlo) * m, k)
    V = Vt[0]
    P = np.empty(((L - jlo) * m, n))
    rows = P.shape[0]
    if rows * k * n < (1 << 22) or rows < 2:
        np.matmul(A, V, out=P)
        return P
    h = rows // 2
    fut = pool().submit(np.matmul, A[h:], V, out=P[h:])
    np.matmul(A[:h], V, out=P[:h])
    fut.result()
    return P


def _ozaki_cols(A4, nonzero, e_row, rad_a, frac_bits, w, chunk, bits, T, D):
    """`_ozaki_dot` for one block of columns of w (see there)."""
    B, m, k = rad_a.shape
    n = w.shape[2]
    L = A4.shape[0]
    depth = frac_bits + 8
    V, E, wrest = _mp.k_split_cols(w, bits, T)
    # value = sum_{j,t} (A_j @ V_t) * 2**(e_row - frac_bits + chunk j) * 2**(E - bits (t+1))
    #       = 2**g * sum_{j,t} P_jt * 2**(chunk j + bits (T-1-t)),  g = e_row - frac_bits + E - bits T
    digits = np.zeros((D, B, m, n), dtype=np.int64)
    dropped = np.zeros((B, m, n))
    for t, Vt in enumerate(V):
        # limbs j < jmin lie more than `depth` bits below the top product: dropped
        jmin = max(0, min(L, L - 1 - (depth - bits * t) // chunk))
        Ps = _limb_products(A4, jmin, Vt) if B == 1 and jmin < L else None
        for j in range(L - 1, jmin - 1, -1):
            if not nonzero[j]:
                continue
            # exact integers, |P| < 2**53
            P = Ps[(j - jmin) * m:(j - jmin + 1) * m] if Ps is not None else _mm(A4[j], Vt)
            sh = chunk * j + bits * (T - 1 - t)
            d, r = divmod(sh, 16)
            # digits d and d + 2 gain P's low 32 bits (< 2**48 after the shift) and its
            # signed high part (< 2**37): at most L*T terms each, far from 2**63
            _mp.k_acc_digits(P.reshape(-1), digits.reshape(D, -1), d, r)
        Ps = None
        if jmin:
            # sum_{j < jmin} |A_j| 2**(chunk j) < 2**(chunk jmin): bound through the column sums
            colsum = _gemm_up(np.ones((B, 1, k)), np.abs(Vt))          # (B, 1, n)
            rowscale = np.ldexp(np.ones((B, m, 1)), (e_row - frac_bits + chunk * jmin).astype(np.int64))
            colscale = np.ldexp(np.ones((B, 1, n)), (E - bits * (t + 1)).astype(np.int64))
            dropped = np.nextafter(dropped + np.nextafter(rowscale * colsum * colscale, np.inf), np.inf)
    _mp.k_carry16(digits.reshape(D, -1))     # digits[0..D-2] in [0, 2**16), the top one signed
    gexp = (e_row - frac_bits) + (E - bits * T)                     # (B, m, 1) + (B, 1, n)
    rad = _gemm_up(rad_a, np.abs(w).astype(np.float64))
    if np.any(wrest):
        amax = np.ldexp(np.ones((B, m, k)), np.broadcast_to(e_row, (B, m, k)).astype(np.int64))
        rad = rad + _gemm_up(amax, np.broadcast_to(wrest, (B, k, n)).copy())
    rad = np.nextafter(rad + dropped, np.inf)
    return digits, gexp, rad
