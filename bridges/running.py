"""Running error bounds: an a-priori bound for every node kind, from the standard model.

`Running(D)` is a domain that runs a float domain D and carries, with every
value, a float64 bound e on the error D has committed since the value's inputs
were last *rebased* (the envelope rebases every tapped node: what a node gets
is the float value the previous nodes really produced, so each node's bound is
the error of that node alone, its *local* error, whatever kind of node it is: a
dot, a layer norm, a softmax, GELU, a residual add, a whole attention block).

The bound is built from what D declares (`D.accuracy(prim)`), never from what
it is observed to do, by the first-order-free rules of running error analysis
(Higham, ASNA 2nd ed., sec. 3.3; the standard model, eq. 2.4, for one rounding).
Write x^ for a computed value with |x^ - x| <= e_x, u for D's unit roundoff,
u' = u/(1-u), and loc(r^) for the rounding of one primitive with result r^:

  loc = u' |r^| + eta                      correctly rounded primitives (eta: the
                                           format's underflow error, mul/div/sqrt/fma)
  loc = 2 k ulp(r^)                        primitives declared within k ulps (the
                                           ulp of the exact result is at most 2 ulp(r^))
  add, sub     e = e_x + e_y + loc
  mul          e = |x^| e_y + |y^| e_x + e_x e_y + loc
  div          e = (|x^| e_y + |y^| e_x) / (|y^| (|y^| - e_y)) + loc   (inf if |y^| <= e_y)
  fma          e = |x^| e_y + |y^| e_x + e_x e_y + e_z + loc
  sqrt         e = min(e_x / sqrt(x^), sqrt(e_x)) + loc            (|sqrt a - sqrt b| <= both)
  exp, exp2    e = b^x^ (b^e_x - 1) + loc <= b^x^ e_x ln(b) b^e_x + loc
  log          e = e_x / (x^ - e_x) + loc                         (inf if x^ <= e_x)
  tanh, sin, cos   e = min(e_x, 2) + loc        (1-Lipschitz)
  erf          e = 2/sqrt(pi) e_x + loc
  neg, abs, min, max, max-reduction: e = the inputs' largest e (1-Lipschitz, exact)
  sum (n terms, order o)   e = sum e_i + gamma_r sum|x^_i|,     r = o.roundings(n)
  dot (k terms, order o)   e = gamma_r |A^||B^| + |A^| e_B + e_A |B^| + e_A e_B + 2 k eta,
                                                              r = o.roundings(k, dot=True)
                           (Higham eq. 3.5, Thm 3.1/4.3 for any fixed order)
  where over a comparison whose outcome the errors can flip (|x^ - y^| <= e_x + e_y):
               e = max(e_a, |a^ - b^| + e_b) for the branch taken (either may be the exact one)

Every bound is evaluated in float64 and rounded upward (`_num.up`), so it is a
rigorous bound of the local error whenever D honours its declarations. Domains
with fused native ops, flush-to-zero or denormals-are-zero, or a primitive
declared 'unspecified', get an infinite bound (reported as none) for the nodes
that use it: never a guessed one.

The observation that checks the bound: the same computation is shadowed in
`float64` from the same rebased inputs, with its own running bound e_s. The
local observed error is then |f^ - s^| to within e_s; a node reports
observed/a-priori only where e_s is below 1% of |f^ - s^| (binary64 runs cannot
be observed this way and report none). observed - e_s <= bound is a theorem,
checked by the tests and the audit.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from fpsem.bounds import eta as _eta
from fpsem.bounds import gamma, unit_roundoff
from fpsem.domain import Domain, to_fraction_scalar
from fpsem.errors import FpsemError, UnsupportedOp
from fpsem.value import on_storage, raw

from ._num import INF, abs_diff_up, frac_up, up

_ERF_L = 2.0 / math.sqrt(math.pi) * (1 + 2.0 ** -50)
_LN2_UP = math.log(2) * (1 + 2.0 ** -50)
_LIB = 1 + 2.0 ** -40   # slack for numpy's exp/exp2 inside a bound (a few ulps at most)


def _up_mul(*xs):
    """An upper bound of a product of nonnegative float64 arrays: each of the n-1
    roundings to nearest loses at most 2**-53 relative, or 2**-1075 absolute when it
    underflows; one more factor (1 + (n+2) 2**-52), itself rounded, and (n+2)
    subnormal steps cover them; a product with an exact zero factor stays 0 (no
    nextafter pass: this runs on every primitive)."""
    r = xs[0]
    n = len(xs)
    with np.errstate(over="ignore", invalid="ignore"):
        zero = np.asarray(xs[0]) == 0
        for x in xs[1:]:
            r = r * x
            zero = zero | (np.asarray(x) == 0)
        return np.where(zero, 0.0, r * (1 + (n + 2) * 2.0 ** -52) + (n + 2) * 2.0 ** -1074)


def _up_add(*xs):
    """An upper bound of a sum of nonnegative float64 arrays: each rounding loses at
    most 2**-53 relative (sums of nonnegative numbers are exact where they are
    subnormal), and the factor (1 + (n+2) 2**-52), rounded, covers them."""
    n = len(xs)
    with np.errstate(over="ignore", invalid="ignore"):
        r = xs[0]
        for x in xs[1:]:
            r = r + x
        return r * (1 + (n + 2) * 2.0 ** -52)


def _zeros(shape):
    """A zero error array that takes no memory (a broadcast scalar)."""
    return np.broadcast_to(np.zeros(()), tuple(shape))


def _is_zero(e):
    e = np.asarray(e)
    if e.size == 0:
        return True
    if all(st == 0 for st in e.strides):
        return float(e.flat[0]) == 0.0
    return not e.any()


class _Track:
    """The running-bound arithmetic of one float domain (its declared accuracies)."""

    def __init__(self, D):
        self.D = D
        fmt = D.format
        self.ok = (fmt is not None and not getattr(D, "ftz", False) and not getattr(D, "daz", False))
        if not self.ok:
            return
        rnd = D.rounding
        u = unit_roundoff(fmt, rnd)
        self.u1 = float(frac_up(u / (1 - u)))
        self.eta = float(frac_up(_eta(fmt, rnd)))
        self.p = fmt.p
        self.emin = fmt.emin
        self.rnd = rnd
        self.fmt = fmt

    @on_storage
    def f64(self, v):
        """float64 image of raw storage v of D."""
        return np.asarray(self.D.to_float64(v), dtype=np.float64)

    def loc(self, prim, r):
        """Bound of the one rounding of primitive `prim` whose result is r (float64)."""
        if not self.ok:
            return np.full(np.shape(r), INF)
        acc = self.D.accuracy(prim)
        a = np.abs(r)
        if acc.kind == "exact":
            return np.zeros(np.shape(r))
        if acc.kind == "correctly_rounded":
            tiny = self.eta if prim in ("mul", "div", "sqrt", "fma", "exp", "exp2", "log", "tanh",
                                        "erf", "sin", "cos") else 0.0
            return _up_add(_up_mul(a, self.u1), tiny)
        if acc.kind == "ulps" and acc.ulps is not None:
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                _, E = np.frexp(np.where(np.isfinite(a), a, 0.0))
                e = np.maximum(E - 1, self.emin)
                ulp = np.ldexp(1.0, (e - (self.p - 1)).astype(np.int64))
                return np.where(np.isfinite(a), up(2.0 * float(acc.ulps) * ulp), INF)
        return np.full(np.shape(r), INF)

    def gamma(self, prim, r):
        """gamma_r of the accumulation format as float64 rounded up, inf when the
        accumulation is unspecified."""
        if not self.ok or self.D.accuracy(prim).kind not in ("ordered", "correctly_rounded", "exact"):
            return INF
        try:
            return float(frac_up(gamma(r, self.acc_fmt, self.rnd)))
        except FpsemError:
            return INF

    @property
    def acc_fmt(self):
        """The format sums and dots accumulate in (bf16/fp16: binary32 by default)."""
        return getattr(self.D, "acc_format", None) or self.fmt

    def final(self, r, k):
        """A wider accumulation is rounded once into the storage format at the end:
        u'|r| + eta (0 when the accumulation is in the storage format itself), plus
        the accumulation format's underflow over k terms."""
        if self.acc_fmt is self.fmt or self.acc_fmt == self.fmt:
            return 0.0
        rnd = self.rnd
        ua = float(frac_up(2 * k * _eta(self.acc_fmt, rnd)))
        return _up_add(_up_mul(np.abs(r), self.u1), self.eta + ua)


class RV:
    """A running value: f (the float domain's value), e (bound of |f - exact|),
    s (float64 shadow of the same computation), es (bound of |s - exact|).
    Exact = the real computation since the last rebase, on the rebased values."""
    __slots__ = ("f", "e", "s", "es")

    def __init__(self, f, e, s, es):
        self.f, self.e, self.s, self.es = f, e, s, es

    def __repr__(self):
        return f"RV(shape={np.shape(self.e)}, e<={float(np.max(self.e)) if np.size(self.e) else 0:.3g})"


class _Cmp:
    """A comparison: D's own result, the shadow's, and where exact values may differ."""
    __slots__ = ("f", "s", "und", "und_s")

    def __init__(self, f, s, und, und_s):
        self.f, self.s, self.und, self.und_s = f, s, und, und_s


class Running(Domain):
    """Domain D with running error bounds (see the module doc). Values are RV."""
    name = "running"
    OPTIONS = {}

    def __init__(self, D, shadow=None):
        import fpsem
        object.__setattr__(self, "_opts", D._opts)
        object.__setattr__(self, "D", D)
        object.__setattr__(self, "S", shadow or fpsem.domain("float64"))
        object.__setattr__(self, "tD", _Track(D))
        object.__setattr__(self, "tS", _Track(self.S))
        object.__setattr__(self, "_nf", len(D._parts(D.asarray(np.zeros(1)))))

    # -- what the models and ops see of D -----------------------------------------------
    @property
    def label(self):
        return f"running[{self.D.label}]"

    @property
    def format(self):
        return self.D.format

    @property
    def semantics(self):
        return self.D.semantics

    @property
    def is_float(self):
        return getattr(self.D, "is_float", False)

    @property
    def is_enclosure(self):
        return getattr(self.D, "is_enclosure", False)

    def __getattr__(self, k):            # is_float, rounding, ftz, ... of D
        if k.startswith("__"):
            raise AttributeError(k)
        return getattr(object.__getattribute__(self, "D"), k)

    def __eq__(self, other):
        return isinstance(other, Running) and other.D == self.D

    def __hash__(self):
        return hash(("running", self.D))

    def accuracy(self, prim):
        return self.D.accuracy(prim)

    @property
    def usable(self):
        """False when no node can get a finite bound (fused ops, ftz/daz, no format)."""
        from fpsem.ops import OPS
        from fpsem.ops._registry import fused_impl
        return self.tD.ok and not any(fused_impl(self.D, n) is not None for n in OPS)

    # -- representation ----------------------------------------------------------------
    def is_value(self, x):
        return isinstance(x, RV)

    def _parts(self, x):
        x = self._v(x)
        return tuple(self.D._parts(x.f)) + (x.e, x.s, x.es)

    def _unparts(self, parts):
        nf = self._nf
        return RV(self.D._unparts(tuple(parts[:nf])), *parts[nf:])

    def _v(self, x):
        return x if isinstance(x, RV) else self.asarray(x)

    def _sv(self, x):
        """The shadow of x as a float64-domain value (float32 data widens exactly)."""
        return self.S.asarray(np.asarray(x.s, dtype=np.float64))

    def rebase(self, x):
        """Make x an input: its error is the previous nodes', not this node's.
        (In place: the model goes on with the same object.)"""
        if isinstance(x, RV):
            s = self.tD.f64(x.f)
            x.s = s
            x.e = _zeros(s.shape)
            x.es = _zeros(s.shape)
        return x

    def _impl_asarray(self, data):
        f = self.D.asarray(data)
        fv = self.tD.f64(f)
        arr = data if isinstance(data, np.ndarray) else np.asarray(data, dtype=object)
        if arr.dtype.kind in "iu" and (arr.size == 0 or int(np.abs(arr).max()) < 2 ** 53):
            arr = arr.astype(np.float64)       # exact
        if arr.dtype.kind == "f" and arr.dtype.itemsize <= 8:
            # floats are exact data: the shadow holds them exactly (float32 stays float32:
            # no float64 copy of every weight), the error is D's rounding of them
            sv = arr if arr.dtype.itemsize >= 4 else arr.astype(np.float32)
            x = np.asarray(sv, dtype=np.float64)
            same = fv == x
            if same.all():
                e = _zeros(fv.shape)
            else:
                e = np.where(same, 0.0, abs_diff_up(fv, x))
            return RV(f, e, sv, _zeros(fv.shape))
        fs = self.S.asarray(data)
        sv = np.asarray(self.tS.f64(fs), dtype=np.float64)
        q = np.frompyfunc(lambda v: to_fraction_scalar(v, "asarray"), 1, 1)(arr)
        d = np.frompyfunc(lambda a, b: float(frac_up(abs(Fraction(float(a)) - b)))
                          if math.isfinite(a) else INF, 2, 1)
        e = np.asarray(d(fv, q), dtype=np.float64).reshape(fv.shape)
        es = np.asarray(d(sv, q), dtype=np.float64).reshape(sv.shape)
        return RV(f, e, fs, es)

    def to_float64(self, x):
        return self.D.to_float64(self._v(x).f)

    # -- elementwise ---------------------------------------------------------------------
    def _both(self, prim, rule, *xs):
        xs = [self._v(x) for x in xs]
        f = getattr(self.D, prim)(*[x.f for x in xs])
        s = getattr(self.S, prim)(*[self._sv(x) for x in xs])
        fv = self.tD.f64(f)
        sv = np.asarray(s, dtype=np.float64)
        with np.errstate(all="ignore"):
            e = _up_add(rule([self.tD.f64(x.f) for x in xs], [x.e for x in xs]),
                        self.tD.loc(prim, fv))
            es = _up_add(rule([np.asarray(x.s, dtype=np.float64) for x in xs], [x.es for x in xs]),
                         self.tS.loc(prim, sv))
        return RV(f, e, s, es)

    def _impl_add(self, x, y):
        return self._both("add", lambda v, e: _up_add(e[0], e[1]), x, y)

    def _impl_sub(self, x, y):
        return self._both("sub", lambda v, e: _up_add(e[0], e[1]), x, y)

    def _impl_mul(self, x, y):
        def rule(v, e):
            return _up_add(_up_mul(np.abs(v[0]), e[1]), _up_mul(np.abs(v[1]), e[0]), _up_mul(e[0], e[1]))
        return self._both("mul", rule, x, y)

    def _impl_div(self, x, y):
        def rule(v, e):
            ay = np.abs(v[1])
            num = _up_add(_up_mul(np.abs(v[0]), e[1]), _up_mul(ay, e[0]))
            den = (ay * (ay - e[1])) * (1 - 2.0 ** -50)
            return np.where(ay > e[1], up(num / den), INF)
        return self._both("div", rule, x, y)

    def _impl_fma(self, x, y, z):
        def rule(v, e):
            return _up_add(_up_mul(np.abs(v[0]), e[1]), _up_mul(np.abs(v[1]), e[0]),
                           _up_mul(e[0], e[1]), e[2])
        return self._both("fma", rule, x, y, z)

    def _impl_neg(self, x):
        return self._both("neg", lambda v, e: e[0], x)

    def _impl_abs(self, x):
        return self._both("abs", lambda v, e: e[0], x)

    def _impl_minimum(self, x, y):
        return self._both("minimum", lambda v, e: np.maximum(e[0], e[1]), x, y)

    def _impl_maximum(self, x, y):
        return self._both("maximum", lambda v, e: np.maximum(e[0], e[1]), x, y)

    def _impl_sqrt(self, x):
        def rule(v, e):
            a = np.maximum(v[0], 0.0)
            r1 = np.where(a > 0, up(e[0] / (np.sqrt(a) * (1 - 2.0 ** -50))), INF)
            r2 = up(np.sqrt(e[0]) * (1 + 2.0 ** -50))
            return np.minimum(r1, r2)
        return self._both("sqrt", rule, x)

    def _impl_exp(self, x):
        return self._both("exp", lambda v, e: _up_mul(np.exp(v[0] + e[0]), e[0], _LIB), x)

    def _impl_exp2(self, x):
        return self._both("exp2", lambda v, e: _up_mul(np.exp2(v[0] + e[0]), e[0], _LN2_UP, _LIB), x)

    def _impl_log(self, x):
        def rule(v, e):
            d = (v[0] - e[0]) * (1 - 2.0 ** -50)
            return np.where(d > 0, up(e[0] / d), INF)
        return self._both("log", rule, x)

    def _impl_tanh(self, x):
        return self._both("tanh", lambda v, e: np.minimum(e[0], 2.0), x)

    def _impl_sin(self, x):
        return self._both("sin", lambda v, e: np.minimum(e[0], 2.0), x)

    def _impl_cos(self, x):
        return self._both("cos", lambda v, e: np.minimum(e[0], 2.0), x)

    def _impl_erf(self, x):
        return self._both("erf", lambda v, e: np.minimum(_up_mul(e[0], _ERF_L), 2.0), x)

    # -- comparison and selection ------------------------------------------------------
    def _cmp(self, prim, x, y):
        x, y = self._v(x), self._v(y)
        f = getattr(self.D, prim)(x.f, y.f)
        s = getattr(self.S, prim)(self._sv(x), self._sv(y))
        with np.errstate(all="ignore"):
            fx, fy = self.tD.f64(x.f), self.tD.f64(y.f)
            und = ~(np.abs(fx - fy) * (1 - 2.0 ** -50) > _up_add(x.e, y.e))
            sx, sy = np.asarray(x.s, np.float64), np.asarray(y.s, np.float64)
            und_s = ~(np.abs(sx - sy) * (1 - 2.0 ** -50) > _up_add(x.es, y.es))
        return _Cmp(f, s, und, und_s)

    def _impl_lt(self, x, y):
        return self._cmp("lt", x, y)

    def _impl_le(self, x, y):
        return self._cmp("le", x, y)

    def _impl_gt(self, x, y):
        return self._cmp("gt", x, y)

    def _impl_ge(self, x, y):
        return self._cmp("ge", x, y)

    def _impl_eq(self, x, y):
        return self._cmp("eq", x, y)

    def _impl_ne(self, x, y):
        return self._cmp("ne", x, y)

    def _impl_where(self, cond, a, b):
        if not isinstance(cond, _Cmp):
            raise self._err(UnsupportedOp, "where", f"condition of type {type(cond).__name__}")
        a, b = self._v(a), self._v(b)
        f = self.D.where(cond.f, a.f, b.f)
        s = self.S.where(cond.s, self._sv(a), self._sv(b))

        if hasattr(cond.f, "sure") or hasattr(cond.s, "sure"):
            raise self._err(UnsupportedOp, "where", "the float domain's comparison is not a bool mask")

        def bound(sel_mask, und, va, vb, ea, eb):
            sel = np.asarray(sel_mask, dtype=bool)
            with np.errstate(all="ignore"):
                e_sel = np.where(sel, ea, eb)
                gap = np.abs(va - vb)
                other = np.where(sel, _up_add(gap, eb), _up_add(gap, ea))
                return np.where(und, np.maximum(e_sel, up(other)), e_sel)
        e = bound(cond.f, cond.und, self.tD.f64(a.f), self.tD.f64(b.f), a.e, b.e)
        es = bound(cond.s, cond.und_s, np.asarray(a.s, np.float64), np.asarray(b.s, np.float64), a.es, b.es)
        return RV(f, e, s, es)

    # -- reductions -------------------------------------------------------------------------
    def _impl_max(self, rows):
        rows = self._v(rows)
        f = self.D.max(rows.f, axis=1)
        s = self.S.max(self._sv(rows), axis=1)
        return RV(f, np.max(rows.e, axis=1), s, np.max(rows.es, axis=1))

    def _impl_sum(self, rows, order):
        rows = self._v(rows)
        n = rows.e.shape[1]
        f = self.D.sum(rows.f, axis=1, acc=order)
        s = self.S.sum(self._sv(rows), axis=1)
        r, rs = order.roundings(n), self.S.acc.roundings(n)
        with np.errstate(all="ignore"):
            e = _up_add(np.sum(rows.e, axis=1),
                        _up_mul(np.sum(np.abs(self.tD.f64(rows.f)), axis=1), self.tD.gamma("sum", r) if r else 0.0))
            es = _up_add(np.sum(rows.es, axis=1),
                         _up_mul(np.sum(np.abs(np.asarray(rows.s, np.float64)), axis=1),
                                 self.tS.gamma("sum", rs) if rs else 0.0))
            # float64 sums of nonnegative terms: relative error <= gamma_n(2**-53)
            e = up(e * (1 + (n + 2) * 2.0 ** -52))
            es = up(es * (1 + (n + 2) * 2.0 ** -52))
            e = _up_add(e, self.tD.final(self.tD.f64(f), n))
        return RV(f, e, s, es)

    def _impl_dot(self, a, b, order):
        a, b = self._v(a), self._v(b)
        k = a.e.shape[2]
        f = self.D.dot(a.f, b.f, acc=order)
        A, B = self.tD.f64(a.f), self.tD.f64(b.f)          # each operand converted once
        # e = es = 0 means f and s both equal the exact value: the shadow is f itself
        # (rebased inputs, weights D holds exactly): no second copy, no difference
        As = A if (_is_zero(a.e) and _is_zero(a.es)) else np.asarray(a.s, np.float64)
        Bs = B if (_is_zero(b.e) and _is_zero(b.es)) else np.asarray(b.s, np.float64)
        s = self.S.dot(self.S.asarray(As), self.S.asarray(Bs))
        with np.errstate(all="ignore"):
            aA, aB = np.abs(A), np.abs(B)
            SF = np.matmul(aA, aB)                       # |A^| |B^|, float64
            # |A_s| |B_s| <= |A^||B^| + dA |B^| + |A_s| dB  (dA = |A_s - A^|, exact data)
            SS = SF
            aAs, aBs = aA, aB
            if As is not A:
                dA = np.abs(As - A)
                if dA.any():
                    aAs = np.abs(As)
                    SS = SS + np.matmul(dA, aB)
            if Bs is not B:
                dB = np.abs(Bs - B)
                if dB.any():
                    aBs = np.abs(Bs)
                    SS = SS + np.matmul(aAs, dB)
        e = self._dot_bound(self.tD, SF, aA, aB, a.e, b.e, order.roundings(k, dot=True), k)
        e = _up_add(e, self.tD.final(self.tD.f64(f), k))
        es = self._dot_bound(self.tS, SS, aAs, aBs, a.es, b.es, self.S.acc.roundings(k, dot=True), k)
        return RV(f, e, s, es)

    @staticmethod
    def _dot_bound(track, S, aA, aB, eA, eB, r, k):
        """gamma_r S + |A| eB + eA |B| + eA eB + 2 k eta, S >= |A||B| (float64, up)."""
        g = track.gamma("dot", r)
        with np.errstate(all="ignore"):
            e = S * g if g != INF else np.full(S.shape, INF)
            zA, zB = _is_zero(eA), _is_zero(eB)
            if not zB:
                e = e + np.matmul(aA, eB)
            if not zA:
                e = e + np.matmul(eA, aB)
                if not zB:
                    e = e + np.matmul(eA, eB)
            e = e + 2 * k * track.eta if track.ok else e
            # float64 evaluation of sums of nonnegative products: relative error <= gamma_{k+2}(2**-53)
            return up(e * (1 + (4 * k + 16) * 2.0 ** -52))


@on_storage
def local_stats(RD, x):
    """(bound, observed, ratio) of a tapped running value x: the largest local
    bound, the largest local observed error |f - s| (None where the float64
    shadow's own bound is above 1% of it: not observable), and over ALL elements
    the largest (|f - s| - e_s) / bound, which is <= 1 whenever D keeps its
    declarations (a theorem; the audit checks it)."""
    x = raw(x)
    if not isinstance(x, RV):
        return None
    e = np.asarray(x.e, dtype=np.float64)
    es = np.asarray(x.es, dtype=np.float64)
    f = RD.tD.f64(x.f)
    s = np.asarray(x.s, dtype=np.float64)
    if not e.size:
        return 0.0, None, None
    with np.errstate(all="ignore"):
        bound = float(np.max(e))
        if not (np.isfinite(f).all() and np.isfinite(s).all() and np.isfinite(bound)):
            return bound, None, None
        d = np.abs(f - s)
        observed = float(np.max(d))
        if float(np.max(es)) > 0.01 * observed:
            return bound, None, None
        low = np.maximum(d - es, 0.0)
        ratio = float(np.max(np.where(e > 0, low / e, np.where(low > 0, INF, 0.0))))
    return bound, observed, ratio
