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

The formulas below are the reference; by default (FUSED) they are evaluated by
the numba kernels of _running_kernels, bit for bit the same float64 operations
in one pass per primitive, with the bound arithmetic in the default floating-
point environment whatever the host's (tests/test_running_kernels.py).
"""
from __future__ import annotations

import math
from fractions import Fraction

import ml_dtypes
import numpy as np

from fpsem import fpenv
from fpsem.bounds import eta as _eta
from fpsem.bounds import gamma, unit_roundoff
from fpsem.domain import Domain, to_fraction_scalar
from fpsem.domains.numpy_float import Float64Domain as _Float64
from fpsem.errors import FpsemError, UnsupportedOp
from fpsem.value import on_storage, raw

from . import _running_kernels as K
from ._num import INF, abs_diff_up, frac_up, up

#: the fused kernels of _running_kernels (False: the numpy formulas below, the
#: reference the kernels are tested against bit for bit)
FUSED = True
#: float64 elements of one column block of a dot's right operand (16 MiB): larger
#: products (GPT-2's tied LM head) are bounded block by block, so that no
#: float64 copy of a whole weight matrix is made
DOT_BLOCK = 1 << 21

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


def _is_bzero(e):
    """Is e a zero broadcast scalar (as _zeros makes)?"""
    return (isinstance(e, np.ndarray) and e.size > 0 and all(st == 0 for st in e.strides)
            and float(e.flat[0]) == 0.0)


def _is_zero(e):
    e = np.asarray(e)
    if e.size == 0:
        return True
    if all(st == 0 for st in e.strides):
        return float(e.flat[0]) == 0.0
    return not e.any()


# primitives whose correctly rounded result can underflow by up to eta
_TINY = frozenset(("mul", "div", "sqrt", "fma", "exp", "exp2", "log", "tanh", "erf", "sin", "cos"))
_BF16 = np.dtype(ml_dtypes.bfloat16)
# storage the kernels read as it is (the ufuncs widen it exactly), and the 16-bit
# formats the njit kernels decode from their bits (_running_kernels.half_value)
_NATIVE = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.float16), _BF16)
_HALF = {_BF16: 1, np.dtype(np.float16): 2}


class _Track:
    """The running-bound arithmetic of one float domain (its declared accuracies)."""

    def __init__(self, D):
        from fpsem.domains.ieee import _IEEEDomain
        from fpsem.domains.numpy_float import _NumpyFloat
        self.D = D
        self._loc_cache = {}
        # D's storage a numpy array whose widening to float64 is its value (numpy float and
        # IEEE emulator domains): the kernels read it as it is
        cls = type(D)
        self.native = ((isinstance(D, _NumpyFloat) and cls.to_float64 is _NumpyFloat.to_float64)
                       or (isinstance(D, _IEEEDomain) and cls.to_float64 is _IEEEDomain.to_float64))
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

    def num(self, v):
        """Raw storage v as an array the kernels read exactly (float16/32/64, bfloat16:
        no float64 copy), else its float64 image. NaN payloads may differ from f64's:
        no bound depends on them."""
        if self.native and isinstance(v, np.ndarray) and v.dtype in _NATIVE:
            return v
        return self.f64(v)

    def loc_args(self, prim):
        """(mode, u1, tiny, 2 ulps, p, emin): loc(prim, .) as _running_kernels.loc's arguments."""
        r = self._loc_cache.get(prim)
        if r is None:
            r = self._loc_cache[prim] = self._loc_args(prim)
        return r

    def _loc_args(self, prim):
        if not self.ok:
            return (K.LOC_INF, 0.0, 0.0, 0.0, 0, 0)
        acc = self.D.accuracy(prim)
        if acc.kind == "exact":
            return (K.LOC_EXACT, 0.0, 0.0, 0.0, 0, 0)
        if acc.kind == "correctly_rounded":
            tiny = self.eta if prim in _TINY else 0.0
            return (K.LOC_CR, self.u1, tiny, 0.0, 0, 0)
        if acc.kind == "ulps" and acc.ulps is not None:
            return (K.LOC_ULPS, 0.0, 0.0, 2.0 * float(acc.ulps), int(self.p), int(self.emin))
        return (K.LOC_INF, 0.0, 0.0, 0.0, 0, 0)

    def loc(self, prim, r):
        """Bound of the one rounding of primitive `prim` whose result is r (float64)."""
        if not self.ok:
            return np.full(np.shape(r), INF)
        acc = self.D.accuracy(prim)
        a = np.abs(r)
        if acc.kind == "exact":
            return np.zeros(np.shape(r))
        if acc.kind == "correctly_rounded":
            tiny = self.eta if prim in _TINY else 0.0
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


# primitives with a fused rule + loc kernel: (kernel, whether it reads the values)
_KERNELS = {"add": (K.add_bound, False), "sub": (K.add_bound, False), "mul": (K.mul_bound, True),
            "div": (K.div_bound, True), "fma": (K.fma_bound, True)}


def _kernel(kern, la, *args):
    """An elementwise bound kernel on arrays args with loc's arguments la (its
    variant for a correctly rounded primitive where that is the mode)."""
    if la[0] == K.LOC_CR:
        return K.call(K.CR[kern], len(args), *args, la[1], la[2])
    return K.call(kern, len(args), *args, *la)


def _num_s(s):
    """A shadow as the kernels read it (float32 data widens exactly)."""
    return s if isinstance(s, np.ndarray) and s.dtype.kind == "f" else np.asarray(s, dtype=np.float64)


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
        object.__setattr__(self, "_bufs", [None, None, None])

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

    def _struct(self, fn, x):
        """A structural op (reshape, take, getitem, ...) on every part; a zero error
        that is a broadcast scalar stays one (np.take would copy it whole first)."""
        x = self._v(x)
        f = self.D._struct(fn, x.f)
        shape = np.shape(self.D._parts(f)[0])

        def err(e):
            return _zeros(shape) if _is_bzero(e) else fn(e)
        return RV(f, err(x.e), fn(x.s), err(x.es))

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
        arr = data if isinstance(data, np.ndarray) else np.asarray(data, dtype=object)
        if arr.dtype.kind in "iu" and (arr.size == 0 or int(np.abs(arr).max()) < 2 ** 53):
            arr = arr.astype(np.float64)       # exact
        if arr.dtype.kind == "f" and arr.dtype.itemsize <= 8:
            # floats are exact data: the shadow holds them exactly (float32 stays float32:
            # no float64 copy of every weight), the error is D's rounding of them
            sv = arr if arr.dtype.itemsize >= 4 else arr.astype(np.float32)
            if FUSED:
                e = self._rounding_err(f, sv)
            else:
                fv = self.tD.f64(f)
                x = np.asarray(sv, dtype=np.float64)
                same = fv == x
                if same.all():
                    e = _zeros(fv.shape)
                else:
                    e = np.where(same, 0.0, abs_diff_up(fv, x))
            return RV(f, e, sv, _zeros(np.shape(sv)))
        fv = self.tD.f64(f)
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

    def _rounding_err(self, f, x):
        """where(f == x, 0, abs_diff_up(f, x)) for D's storage f of float data x (the
        formula of the numpy path in one pass; a broadcast zero when D holds x exactly)."""
        shape = np.shape(x)
        fn = self.tD.num(f)
        if not (isinstance(fn, np.ndarray) and fn.shape == shape):
            fn = np.broadcast_to(self.tD.f64(f), shape)
        half = _HALF.get(fn.dtype, 0)           # 16-bit storage: read from its bits
        if not half and fn.dtype == x.dtype and np.array_equal(fn, x):
            return _zeros(shape)   # D holds the data exactly (==: NaN never, -0 == +0, as below)
        fl = np.ravel(fn.view(np.uint16) if half else fn)
        xl = np.ravel(x)
        with fpenv.default_env():
            i = K.first_diff_half(fl, xl, half) if half else K.first_diff(fl, xl)
            if i < 0:
                return _zeros(shape)
            out = np.empty(xl.size)
            if half:
                K.rounding_err_half(fl, xl, half, i, out)
            else:
                K.rounding_err(fl, xl, i, out)
        return out.reshape(shape)

    # -- elementwise ---------------------------------------------------------------------
    def _both(self, prim, rule, *xs):
        xs = [self._v(x) for x in xs]
        f = getattr(self.D, prim)(*[x.f for x in xs])
        s = getattr(self.S, prim)(*[self._sv(x) for x in xs])
        tD, tS = self.tD, self.tS
        with np.errstate(all="ignore"):
            if not FUSED:
                e = _up_add(rule([tD.f64(x.f) for x in xs], [x.e for x in xs]), tD.loc(prim, tD.f64(f)))
                es = _up_add(rule([np.asarray(x.s, dtype=np.float64) for x in xs], [x.es for x in xs]),
                             tS.loc(prim, np.asarray(s, dtype=np.float64)))
            elif prim in _KERNELS:
                kern, with_v = _KERNELS[prim]
                vD = [tD.num(x.f) for x in xs] if with_v else []
                vS = [_num_s(x.s) for x in xs] if with_v else []
                with fpenv.default_env():
                    e = _kernel(kern, tD.loc_args(prim), *vD, *[x.e for x in xs], tD.num(f))
                    es = _kernel(kern, tS.loc_args(prim), *vS, *[x.es for x in xs], s)
            else:
                rD = rule([tD.f64(x.f) for x in xs], [x.e for x in xs])
                rS = rule([np.asarray(x.s, dtype=np.float64) for x in xs], [x.es for x in xs])
                with fpenv.default_env():
                    e = _kernel(K.rule_bound, tD.loc_args(prim), rD, tD.num(f))
                    es = _kernel(K.rule_bound, tS.loc_args(prim), rS, s)
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
        if FUSED:
            return self._fused_dot(a, b, order)
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

    def _fused_dot(self, a, b, order):
        """_impl_dot's formulas (the numpy path below it), evaluated by column blocks
        of B of at most DOT_BLOCK elements in reused float64 buffers (no float64
        copy of a whole weight matrix, no fresh pages per product), |B| taken in
        place, the bound's elementwise part in one kernel. Each block holds the
        same products of the same operands as the whole: BLAS sums them as before
        (GPT-2's bounds are bit for bit those of the numpy path), and in whatever
        order it sums, the factor (1 + (4k+16) 2^-52) of the bound covers it, as
        the shadow's order-free gamma covers its dot."""
        tD, tS, S = self.tD, self.tS, self.S
        k = a.e.shape[2]
        f = self.D.dot(a.f, b.f, acc=order)
        nb, m, n = max(a.e.shape[0], b.e.shape[0]), a.e.shape[1], b.e.shape[2]
        zA, zAs, zB, zBs = _is_zero(a.e), _is_zero(a.es), _is_zero(b.e), _is_zero(b.es)
        same_b = zB and zBs                    # the shadow of B is f's B
        A = tD.f64(a.f)
        As = A if (zA and zAs) else np.asarray(a.s, np.float64)
        eA = None if zA else a.e
        eAs = None if zAs else a.es
        gD = tD.gamma("dot", order.roundings(k, dot=True))
        gS = tS.gamma("dot", S.acc.roundings(k, dot=True))
        c = 1 + (4 * k + 16) * 2.0 ** -52
        e2D = 2 * k * tD.eta if tD.ok else 0.0
        e2S = 2 * k * tS.eta if tS.ok else 0.0
        if not tD.ok or tD.acc_fmt is tD.fmt or tD.acc_fmt == tD.fmt:
            fmode, fu1, feta = 1, 0.0, 0.0
        else:
            fmode, fu1, feta = 2, tD.u1, tD.eta + float(frac_up(2 * k * _eta(tD.acc_fmt, tD.rnd)))
        # blocks where S.dot is numpy's matmul and D's storage a numpy array
        blocked = (isinstance(S, _Float64) and S.acc.kind == "native" and tD.native
                   and isinstance(b.f, np.ndarray))
        nbb = b.e.shape[0]
        w = n if (not blocked or nbb * k * n <= DOT_BLOCK) else max(256, DOT_BLOCK // (nbb * k) // 256 * 256)
        with np.errstate(all="ignore"):
            with fpenv.default_env():
                aA = np.abs(A)
                aAs, dA = aA, None
                if As is not A:
                    d = np.abs(As - A)
                    if d.any():
                        dA, aAs = d, np.abs(As)
            # the shadow's B differs from f's: SS gets |A_s| dB, decided for all of B
            dB_any = not same_b and self._any_diff(b)
            if blocked:
                s, e, es = np.empty((nb, m, n)), np.empty((nb, m, n)), np.empty((nb, m, n))
            for j in range(0, n, w):
                cols = (Ellipsis, slice(j, min(j + w, n)))
                pick = (lambda x: x) if w >= n else (lambda x: x[cols])
                bf = pick(b.f)
                fused_b = False
                if blocked:
                    B = self._scratch(0, bf)
                    with fpenv.default_env():
                        if same_b:
                            np.copyto(B, bf)        # exact widening
                            Bs = B
                        else:
                            Bs = self._scratch(1, bf)
                            np.copyto(Bs, pick(b.s))
                            # B, |B| and dB in one pass below (B is needed for nothing else)
                            fused_b = dB_any and (bf.dtype in (np.float32, np.float64) or bf.dtype in _HALF)
                            if not fused_b:
                                np.copyto(B, bf)
                    np.matmul(As, Bs, out=s[cols])  # S.dot's product (the shadow: host environment)
                    own = True
                else:
                    B = tD.f64(bf)
                    Bs = B if same_b else np.asarray(pick(b.s), np.float64)
                    s = S.dot(S.asarray(As), S.asarray(Bs))
                    # |B| in place only in tD.f64's copy of a narrower storage
                    own = tD.native and isinstance(bf, np.ndarray) and bf.dtype != np.float64
                with fpenv.default_env():
                    eB = None if zB else np.asarray(pick(b.e), np.float64)
                    same = False
                    # a weight rounded by D: dB is its rounding error, mostly e_B itself, and
                    # then |A_s| dB is the product |A^| e_B made for e below
                    check = eB is not None and aAs is aA
                    if fused_b:
                        dB = self._scratch(2, B)
                        o = np.argsort([-abs(st) for st in B.strides], kind="stable")  # memory order
                        half = _HALF.get(bf.dtype, 0)
                        tr = [np.transpose(x, o) for x in (bf.view(np.uint16) if half else bf, Bs,
                                                            eB if check else Bs, B, dB)]
                        same = K.widen_abs_diff(tr[0], half, tr[1], tr[2], check, tr[3], tr[4])
                        aB = B
                    else:
                        if dB_any:
                            dB = self._scratch(2, B) if blocked else np.empty_like(B)
                            if check:
                                o = np.argsort([-abs(st) for st in B.strides], kind="stable")
                                same = K.abs_diff_same(*(np.transpose(x, o) for x in (Bs, B, eB, dB)))
                            else:
                                np.abs(Bs - B, out=dB)
                        aB = np.abs(B, out=B) if own else np.abs(B)   # Bs is not B where dB_any
                    aBs = None if eAs is None else (np.abs(Bs) if dB_any else aB)
                    SF = np.matmul(aA, aB)
                    t1 = np.matmul(aA, eB) if eB is not None else 0.0
                    t2 = np.matmul(eA, aB) if eA is not None else 0.0
                    t3 = np.matmul(eA, eB) if (eA is not None and eB is not None) else 0.0
                    SS = SF
                    if dA is not None:
                        SS = SS + np.matmul(dA, aB)
                    if dB_any:
                        SS = SS + (t1 if same else np.matmul(aAs, dB))
                    eBs = None if zBs else np.asarray(pick(b.es), np.float64)
                    u1 = np.matmul(aAs, eBs) if eBs is not None else 0.0
                    u2 = np.matmul(eAs, aBs) if eAs is not None else 0.0
                    u3 = np.matmul(eAs, eBs) if (eAs is not None and eBs is not None) else 0.0
                    be = K.call(K.dot_bound, 5, SF, t1, t2, t3, tD.num(pick(f)), gD, e2D, c, fmode, fu1,
                                feta, out=e[cols] if blocked else None)
                    bes = K.call(K.dot_bound, 5, SS, u1, u2, u3, 0.0, gS, e2S, c, 0, 0.0, 0.0,
                                 out=es[cols] if blocked else None)
            if not blocked:
                e, es = be, bes
        return RV(f, e, s, es)

    def _scratch(self, i, like):
        """Float64 work array i (0-2) shaped and laid out in memory as `like` (as
        astype would make it: BLAS then sums as it did), reused across products
        (fresh pages cost more than the arithmetic on them); it never leaves
        _fused_dot."""
        shape = like.shape
        size = int(np.prod(shape, dtype=np.int64))
        buf = self._bufs[i]
        if buf is None or buf.size < size:
            buf = self._bufs[i] = np.empty(max(size, DOT_BLOCK))
        o = np.argsort([-abs(st) for st in like.strides], kind="stable")
        v = buf[:size].reshape(tuple(shape[j] for j in o))
        return np.transpose(v, np.argsort(o))

    def _any_diff(self, b):
        """(|B_s - B^|).any() of _impl_dot for the whole right operand, by column
        blocks growing from one (the first weight D rounds ends it)."""
        n, j, w = b.e.shape[2], 0, 1
        while j < n:
            cols = (Ellipsis, slice(j, j + w))
            if np.abs(np.asarray(b.s[cols], np.float64) - self.tD.f64(b.f[cols])).any():
                return True
            j += w
            w = min(2 * w, max(1, DOT_BLOCK // max(1, b.e.shape[0] * b.e.shape[1])))
        return False

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
    if FUSED:
        return _local_stats_fused(RD, x)
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


def _flat(v):
    """v flat for K.node_stats: one element if it is a broadcast scalar."""
    v = np.asarray(v)
    if v.size and all(st == 0 for st in v.strides):
        return v.reshape(-1)[:1]
    return v.reshape(-1)


def _local_stats_fused(RD, x):
    """local_stats in one pass over the node (K.node_stats)."""
    e = np.asarray(x.e, dtype=np.float64)
    n = e.size
    if not n:
        return 0.0, None, None
    f = RD.tD.num(x.f)
    s = _num_s(x.s)
    if not (np.shape(f) == np.shape(s) == e.shape == np.shape(x.es)) or f.dtype in _HALF:
        f = RD.tD.f64(x.f)
        f, s, e2, es = np.broadcast_arrays(f, np.asarray(s, np.float64), e, np.asarray(x.es, np.float64))
    else:
        e2, es = e, np.asarray(x.es, dtype=np.float64)
    with np.errstate(all="ignore"), fpenv.default_env():
        bound, observed, es_max, ratio, finite = K.node_stats(n, _flat(e2), _flat(es), _flat(f), _flat(s))
    if not (finite and math.isfinite(bound)):
        return bound, None, None
    if es_max > 0.01 * observed:
        return bound, None, None
    return bound, observed, ratio
