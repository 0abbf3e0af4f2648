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
``"binary64"`` (default): float64 numpy arrays; the elementwise work is done by
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
a product with a zero factor is exact and not widened.

``"mpfr"``: object arrays of ``gmpy2.mpfr`` at ``precision`` bits (default 113),
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
rigorous.
"""
from __future__ import annotations

import math
from fractions import Fraction

import gmpy2
import numpy as np
from numba import njit

from .. import formats
from ..bounds import gamma
from ..domain import ENCLOSURE, Domain, to_fraction_scalar
from ..errors import FpsemError, NotRepresentable, UnsupportedOp, UnsupportedOption

_INF = np.inf
_MAXF = np.finfo(np.float64).max
_TINY = np.finfo(np.float64).tiny  # 2**-1022, smallest normal


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


class Tri:
    """A three-valued comparison result: `sure` (true for every choice of reals in the
    operands) and `maybe` (true for some choice). Undecided where maybe and not sure."""
    __slots__ = ("sure", "maybe")

    def __init__(self, sure, maybe):
        object.__setattr__(self, "sure", np.asarray(sure, dtype=bool))
        object.__setattr__(self, "maybe", np.asarray(maybe, dtype=bool))

    def __setattr__(self, k, v):
        raise AttributeError("Tri values are immutable")

    @property
    def shape(self):
        return self.sure.shape

    @property
    def decided(self):
        return self.sure | ~self.maybe

    @property
    def undecided(self):
        return self.maybe & ~self.sure

    def __invert__(self):
        return Tri(~self.maybe, ~self.sure)

    def __and__(self, o):
        return Tri(self.sure & o.sure, self.maybe & o.maybe)

    def __or__(self, o):
        return Tri(self.sure | o.sure, self.maybe | o.maybe)

    def to_bool(self):
        """Plain bools where decided; raises where any element is undecided."""
        if self.undecided.any():
            raise FpsemError("comparison undecided for overlapping intervals")
        return self.sure.copy()

    def __repr__(self):
        return f"Tri(sure={self.sure!r}, maybe={self.maybe!r})"


# ----------------------------------------------------------------------------
# binary64 directed operations (no FPU mode change): numba kernels
# ----------------------------------------------------------------------------
# Outward moves without nextafter (Rump, Zimmermann, Boldo & Melquiond, "Computing
# predecessor and successor in rounding to nearest", BIT 49 (2009), Alg. 1):
#     succ(r) = fl(r + fl(fl(PHI |r|) + ETA)),  PHI = u (1 + 2u) = 2**-53 + 2**-105,
#     ETA = 2**-1074 (the smallest subnormal), u = 2**-53.
# Why it is >= every real x with fl(x) = r (round to nearest, the only rounding we use):
# x <= (r + s)/2 where s is the float above r, so it suffices that fl(r + e) >= s,
# i.e. (RN being monotone) that r + e exceeds the midpoint (r + s)/2, i.e. e > (s - r)/2.
# For normal r with 2**E <= |r| < 2**(E+1), s - r <= 2**(E-52) = 2u 2**E, and
# e >= fl(PHI |r|) >= PHI |r| / (1 + u) > u |r| >= u 2**E (no underflow), or, if PHI|r|
# underflows, fl(PHI|r|) + ETA is exact (both multiples of ETA below 2**-1021) and
# e >= ETA > ETA/2 = (s - r)/2 for subnormal r (for normal r underflow of PHI|r| is
# impossible: PHI |r| >= 2**-1075 (1+2u) rounds to >= ETA). r = +inf gives +inf; r = -inf
# (an exact x <= -MAX rounds there) is mapped to -MAX explicitly. pred is the mirror image.
# In the normal range this returns exactly nextafter(r, +inf) (|e| < 1.5 spacings, so the
# sum rounds to the neighbour); near the underflow threshold it may go one more ulp out.
# The kernels are compiled without fastmath: no reassociation, so TwoSum stays
# error-free; a contraction of PHI*|r| + ETA into an FMA would only round once, which
# keeps e >= PHI |r| / (1+u) (resp. >= ETA), so the argument holds either way.
_PHI = 2.0 ** -53 + 2.0 ** -105
_ETA = 2.0 ** -1074


@njit(cache=True, forceinline=True)
def _succ(r):
    if r == -_INF:
        return -_MAXF
    return r + (_PHI * abs(r) + _ETA)


@njit(cache=True, forceinline=True)
def _pred(r):
    if r == _INF:
        return _MAXF
    return r - (_PHI * abs(r) + _ETA)


@njit(cache=True, forceinline=True)
def _sadd_dn(a, b):
    """Lower bound of a + b, exact when the sum is (TwoSum, Knuth 1969: a + b == s + e
    exactly when s is finite). Widened unless e >= 0 is proven (a NaN e, from an
    intermediate overflow, also widens)."""
    s = a + b
    if not abs(s) < _INF:
        return _pred(s)  # +-inf (overflow or an unbounded operand); NaN stays NaN
    bb = s - a
    e = (a - (s - bb)) + (b - bb)
    if e >= 0.0:
        return s
    return _pred(s)


@njit(cache=True, forceinline=True)
def _sadd_up(a, b):
    s = a + b
    if not abs(s) < _INF:
        return _succ(s)
    bb = s - a
    e = (a - (s - bb)) + (b - bb)
    if e <= 0.0:
        return s
    return _succ(s)


@njit(cache=True, forceinline=True)
def _smul_dn(a, b):
    """A product with a zero factor is exactly 0 (also 0 * inf: a factor 0 makes the
    product of the sets {0}); any other product is moved outward."""
    if a == 0.0 or b == 0.0:
        return 0.0
    return _pred(a * b)


@njit(cache=True, forceinline=True)
def _smul_up(a, b):
    if a == 0.0 or b == 0.0:
        return 0.0
    return _succ(a * b)


@njit(cache=True, forceinline=True)
def _sdiv_dn(a, b):
    if a == 0.0:
        return 0.0
    return _pred(a / b)


@njit(cache=True, forceinline=True)
def _sdiv_up(a, b):
    if a == 0.0:
        return 0.0
    return _succ(a / b)


# Elementwise drivers: flat contiguous float64 operands of size n or 1 (a size-1 operand
# is broadcast), one pass, both endpoints at once. `_flat` prepares them.
@njit(cache=True)
def _k_unary(op, x, out):
    """op 0: pred, 1: succ, 2: sqrt lower end, 3: sqrt upper end."""
    for i in range(out.size):
        v = x[i]
        if op == 0:
            r = _pred(v)
        elif op == 1:
            r = _succ(v)
        elif op == 2:
            r = 0.0 if v <= 0.0 else max(_pred(math.sqrt(v)), 0.0)
        else:
            r = 0.0 if v == 0.0 else _succ(math.sqrt(v))
        out[i] = r


@njit(cache=True)
def _k_binary(op, a, b, out):
    """op 0/1: a + b down/up, 2/3: a * b down/up, 4/5: a / b down/up."""
    sa = a.size > 1
    sb = b.size > 1
    for i in range(out.size):
        x = a[i if sa else 0]
        y = b[i if sb else 0]
        if op == 0:
            r = _sadd_dn(x, y)
        elif op == 1:
            r = _sadd_up(x, y)
        elif op == 2:
            r = _smul_dn(x, y)
        elif op == 3:
            r = _smul_up(x, y)
        elif op == 4:
            r = _sdiv_dn(x, y)
        else:
            r = _sdiv_up(x, y)
        out[i] = r


@njit(cache=True)
def _k_interval(op, a, b, c, d, lo, hi):
    """[a, b] op [c, d] -> [lo, hi]; op 0: +, 1: -, 2: *, 3: /.
    *: the least / greatest of the four endpoint products, each moved outward unless
    exact (a zero factor). /: the whole line if 0 is in [c, d]; otherwise
    divisor > 0: [a / (a >= 0 ? d : c), b / (b >= 0 ? c : d)],
    divisor < 0: [b / (b >= 0 ? d : c), a / (a >= 0 ? c : d)]; NaN (inf / inf) -> -+inf."""
    s0 = a.size > 1
    s1 = b.size > 1
    s2 = c.size > 1
    s3 = d.size > 1
    for i in range(lo.size):
        x0 = a[i if s0 else 0]
        x1 = b[i if s1 else 0]
        y0 = c[i if s2 else 0]
        y1 = d[i if s3 else 0]
        if op == 0:
            lo[i] = _sadd_dn(x0, y0)
            hi[i] = _sadd_up(x1, y1)
        elif op == 1:
            lo[i] = _sadd_dn(x0, -y1)
            hi[i] = _sadd_up(x1, -y0)
        elif op == 2:
            lo[i] = min(min(_smul_dn(x0, y0), _smul_dn(x0, y1)), min(_smul_dn(x1, y0), _smul_dn(x1, y1)))
            hi[i] = max(max(_smul_up(x0, y0), _smul_up(x0, y1)), max(_smul_up(x1, y0), _smul_up(x1, y1)))
        else:
            if y0 <= 0.0 <= y1:
                lo[i] = -_INF
                hi[i] = _INF
                continue
            if y0 > 0.0:
                l = _sdiv_dn(x0, y1 if x0 >= 0.0 else y0)
                h = _sdiv_up(x1, y0 if x1 >= 0.0 else y1)
            else:
                l = _sdiv_dn(x1, y1 if x1 >= 0.0 else y0)
                h = _sdiv_up(x0, y0 if x0 >= 0.0 else y1)
            lo[i] = -_INF if l != l else l
            hi[i] = _INF if h != h else h


def _flat(*xs):
    """(shape, flat contiguous float64 operands of the broadcast size or of size 1)."""
    xs = [np.asarray(x, dtype=np.float64) for x in xs]
    shape = np.broadcast_shapes(*(x.shape for x in xs))
    out = []
    for x in xs:
        if x.size == 1:
            out.append(x.reshape(1))
        elif x.shape == shape:
            out.append(np.ascontiguousarray(x).reshape(-1))
        else:
            out.append(np.ascontiguousarray(np.broadcast_to(x, shape)).reshape(-1))
    return shape, out


def _unary(op, x):
    shape, (xf,) = _flat(x)
    out = np.empty(xf.size if shape else 1)
    _k_unary(op, xf, out)
    return out.reshape(shape)


def _binary(op, a, b):
    shape, (af, bf) = _flat(a, b)
    out = np.empty(int(np.prod(shape, dtype=np.int64)))
    _k_binary(op, af, bf, out)
    return out.reshape(shape)


def _interval_op(op, a, b, c, d):
    shape, fl = _flat(a, b, c, d)
    n = int(np.prod(shape, dtype=np.int64))
    lo, hi = np.empty(n), np.empty(n)
    _k_interval(op, *fl, lo, hi)
    return lo.reshape(shape), hi.reshape(shape)


def _dn(x):
    """A value <= every real whose round-to-nearest is x (see _pred)."""
    return _unary(0, x)


def _up(x):
    return _unary(1, x)


def _add_dn(a, b):
    return _binary(0, a, b)


def _add_up(a, b):
    return _binary(1, a, b)


def _mul_dn(a, b):
    return _binary(2, a, b)


def _mul_up(a, b):
    return _binary(3, a, b)


def _div_dn(a, b):
    return _binary(4, a, b)


def _div_up(a, b):
    return _binary(5, a, b)


def _f(q):
    """float64 bits of the Fraction q rounded (rdn, rup) -> (lo, hi)."""
    lo = formats.round_fraction(q, formats.binary64, "rdn").bits
    hi = formats.round_fraction(q, formats.binary64, "rup").bits
    return (float(np.array(lo, dtype=np.uint64).view(np.float64)),
            float(np.array(hi, dtype=np.uint64).view(np.float64)))


def _mp_const_q(name):
    """(q_lo, q_hi) Fractions bracketing a constant: MPFR at 256 bits (correctly
    rounded, so within 2**-255 relative), widened by 2**-250 relative."""
    with gmpy2.context(precision=256):
        if name == "ln2":
            v = gmpy2.const_log2()
        elif name == "2/sqrtpi":
            v = 2 / gmpy2.sqrt(gmpy2.const_pi())  # two roundings: < 2**-254 relative
        else:  # pragma: no cover
            raise KeyError(name)
    q = Fraction(*v.as_integer_ratio())
    eps = abs(q) * Fraction(1, 2 ** 250)
    return q - eps, q + eps


def _mp_const(name):
    """(RD, RU) binary64 bounds of a constant."""
    lo, hi = _mp_const_q(name)
    return _f(lo)[0], _f(hi)[1]


_LN2_Q = _mp_const_q("ln2")
_LN2_DN, _LN2_UP = _mp_const("ln2")
# Cody-Waite split: LN2_HI has 31 significant bits, so k * LN2_HI is exact for |k| < 2**22;
# ln2 - LN2_HI is enclosed from the 256-bit bracket (width ~1e-26, not one ulp of ln2)
_LN2_HI = float(np.ldexp(np.floor(np.ldexp(_LN2_DN, 31)), -31))
_LN2_LO_DN = _f(_LN2_Q[0] - Fraction(_LN2_HI))[0]
_LN2_LO_UP = _f(_LN2_Q[1] - Fraction(_LN2_HI))[1]
_LOG2E = float(1 / math.log(2))  # only a guess for k; never trusted
_TSP_DN, _TSP_UP = _mp_const("2/sqrtpi")


def _coefs(fracs):
    lo = np.array([_f(q)[0] for q in fracs])
    hi = np.array([_f(q)[1] for q in fracs])
    return lo, hi


_N_EXP = 20
_EXP_C = _coefs([Fraction(1, math.factorial(i)) for i in range(_N_EXP + 1)])
# sum_{i>N} t^i/i! <= t^(N+1)/(N+1)! * e^t <= e/(N+1)!  for 0 <= t <= 1
_EXP_REM = _f(Fraction(3, math.factorial(_N_EXP + 1)))[1]
_EXPM1_C = _coefs([Fraction(1, math.factorial(i + 1)) for i in range(_N_EXP)])
# expm1(u)/u = sum_{i>=0} u^i/(i+1)!; tail after N terms <= u^N e/(N+1)! <= 3/(N+1)! for u <= 1
_EXPM1_REM = _f(Fraction(3, math.factorial(_N_EXP + 1)))[1]
_N_ATANH = 12
_ATANH_C = _coefs([Fraction(1, 2 * i + 1) for i in range(_N_ATANH + 1)])
_ATANH_WMAX = 0.0295  # w = s^2 with |s| <= (sqrt2-1)/(sqrt2+1) = 0.17157..., s^2 <= 0.029437
# tail sum_{i>N} w^i/(2i+1) <= w^(N+1) / ((2N+3)(1-w)) for w <= WMAX
_ATANH_REM = _f(Fraction(_ATANH_WMAX) ** (_N_ATANH + 1) / ((2 * _N_ATANH + 3) * (1 - Fraction(_ATANH_WMAX))))[1]
_SQRT_HALF = math.sqrt(0.5)


def _horner(t, c, d):
    """sum c_i t^i for t >= 0 with coefficients c >= 0, every step rounded in
    direction d (-1 down, +1 up): monotone in every rounded quantity, so the
    result bounds the exact polynomial with the exact coefficients."""
    mul, add = (_mul_dn, _add_dn) if d < 0 else (_mul_up, _add_up)
    acc = np.full(t.shape, c[-1])
    for ci in c[-2::-1]:
        acc = add(mul(acc, t), ci)
    return acc


def _exp_encl(x):
    """(lo, hi) with lo <= e^x <= hi for float64 x (may contain +-inf).

    x = k ln2 + r with k = floor(x log2e) (any integer works: it is only a guess),
    r enclosed as x - k LN2_HI (exact product, directed TwoSum subtraction) minus
    k [LN2_LO_DN, LN2_LO_UP] (outward). Then r lies in about [-1e-13, ln2 + 1e-13].
    e^r >= 1 + r for every r, and for 0 <= r <= 1 the truncated Taylor sum T_20(r)
    (positive terms) is a lower bound and T_20(r) + 3/21! an upper bound. The scale by
    2**k is exact except on overflow (-> inf, handled by outward moves) and subnormal
    results (rounded, moved one ulp outward)."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        xc = np.clip(x, -746.0, 710.0)
        k = np.floor(xc * _LOG2E)
        t = k * _LN2_HI
        u_lo, u_hi = _add_dn(xc, -t), _add_up(xc, -t)
        p1, p2 = k * _LN2_LO_DN, k * _LN2_LO_UP
        kl_lo = np.where(k == 0, 0.0, _dn(np.minimum(p1, p2)))
        kl_hi = np.where(k == 0, 0.0, _up(np.maximum(p1, p2)))
        r_lo, r_hi = _add_dn(u_lo, -kl_hi), _add_up(u_hi, -kl_lo)
        cdn, cup = _EXP_C
        e_lo = np.where(r_lo >= 0, _horner(np.maximum(r_lo, 0.0), cdn, -1), _add_dn(1.0, r_lo))
        e_hi = _add_up(_horner(np.clip(r_hi, 0.0, 1.0), cup, 1), _EXP_REM)
        e_hi = np.where(r_hi < 0, 1.0, np.where(r_hi > 1.0, _INF, e_hi))
        ki = k.astype(np.int64)
        lo = np.ldexp(e_lo, ki)
        hi = np.ldexp(e_hi, ki)
        lo = np.where((lo < _TINY) | np.isinf(lo), _dn(lo), lo)
        hi = np.where(hi < _TINY, _up(hi), hi)
        lo = np.maximum(lo, 0.0)
        zero = x == 0  # e^0 = 1 exactly
        lo = np.where(zero, 1.0, lo)
        hi = np.where(zero, 1.0, hi)
    return lo, hi


def _expm1_small(u):
    """(lo, hi) of e^u - 1 for 0 <= u <= 1 (float64 points): u * sum u^i/(i+1)!."""
    cdn, cup = _EXPM1_C
    s_lo = _horner(u, cdn, -1)
    s_hi = _add_up(_horner(u, cup, 1), _EXPM1_REM)
    return _mul_dn(u, s_lo), _mul_up(u, s_hi)


def _expm1_encl(u):
    """(lo, hi) of e^u - 1 for u >= 0 points."""
    small = u <= 1.0
    lo = np.empty_like(u)
    hi = np.empty_like(u)
    if small.any():
        lo[small], hi[small] = _expm1_small(u[small])
    big = ~small
    if big.any():
        elo, ehi = _exp_encl(u[big])
        lo[big], hi[big] = _add_dn(elo, -1.0), _add_up(ehi, -1.0)
    return lo, hi


def _log_encl(x):
    """(lo, hi) of log x for float64 points x > 0 (x = +inf gives (max, inf)).

    x = 2**e m with m in [sqrt(1/2), sqrt(2)) (exact frexp), log m = 2 atanh(s),
    s = (m-1)/(m+1) (m - 1 exact by Sterbenz), |s| <= 0.1716, and
    atanh(s) = s sum_i s^(2i)/(2i+1): truncated sum a lower bound, plus the geometric
    tail bound w^(N+1)/((2N+3)(1-w)) an upper bound. log x = e LN2_HI (exact) +
    e LN2_LO + 2 atanh(s), summed with directed operations."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        xi = np.where(np.isfinite(x), x, 1.0)
        m, e = np.frexp(xi)
        adj = m < _SQRT_HALF
        m = np.where(adj, m * 2.0, m)
        e = (e - adj).astype(np.float64)
        num = m - 1.0
        den_lo, den_hi = _add_dn(m, 1.0), _add_up(m, 1.0)
        neg = num < 0
        a = np.abs(num)
        a_lo, a_hi = _div_dn(a, den_hi), _div_up(a, den_lo)  # |s| in [a_lo, a_hi]
        w_lo, w_hi = _mul_dn(a_lo, a_lo), _mul_up(a_hi, a_hi)
        cdn, cup = _ATANH_C
        t_lo = _mul_dn(a_lo, _horner(w_lo, cdn, -1))
        t_hi = _mul_up(a_hi, _add_up(_horner(np.minimum(w_hi, _ATANH_WMAX), cup, 1), _ATANH_REM))
        t_hi = np.where(w_hi > _ATANH_WMAX, _INF, t_hi)
        # 2 atanh(s): doubling is exact
        z_lo = np.where(neg, -2.0 * t_hi, 2.0 * t_lo)
        z_hi = np.where(neg, -2.0 * t_lo, 2.0 * t_hi)
        eh = e * _LN2_HI  # exact: |e| <= 1075 < 2**21
        p1, p2 = e * _LN2_LO_DN, e * _LN2_LO_UP
        el_lo = np.where(e == 0, 0.0, _dn(np.minimum(p1, p2)))
        el_hi = np.where(e == 0, 0.0, _up(np.maximum(p1, p2)))
        lo = _add_dn(_add_dn(eh, el_lo), z_lo)
        hi = _add_up(_add_up(eh, el_hi), z_hi)
        isinf = np.isposinf(x)
        lo = np.where(isinf, _MAXF, lo)
        hi = np.where(isinf, _INF, hi)
    return lo, hi


def _tanh_encl(x):
    """(lo, hi) of tanh x for float64 points. Odd; for t = |x|:
    tanh t = M/(M+2) with M = expm1(2t) (increasing in M, so directed bounds at
    M_lo / M_hi are rigorous); 2t is exact; t is clipped at 20 since
    1 - tanh 20 < 2**-57 and tanh is increasing and below 1."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        t = np.minimum(np.abs(x), 20.0)
        m_lo, m_hi = _expm1_encl(2.0 * t)
        lo = _div_dn(m_lo, _add_up(m_lo, 2.0))
        hi = np.minimum(_div_up(m_hi, _add_dn(m_hi, 2.0)), 1.0)
        neg = x < 0
        return np.where(neg, -hi, lo), np.where(neg, -lo, hi)


# Scalar (numba) versions of _exp_encl and _tanh_encl: the same algorithms, the same
# constants and the same directed operations (_sadd_*, _smul_*, _sdiv_*, _pred/_succ),
# evaluated per element in one pass instead of one numpy pass per rounded operation,
# so the proofs in the docstrings of _exp_encl, _expm1_small and _tanh_encl apply
# verbatim. _k_monotone evaluates only the needed side at each endpoint.
_EXP_CDN, _EXP_CUP = _EXP_C
_EXPM1_CDN, _EXPM1_CUP = _EXPM1_C


@njit(cache=True, forceinline=True)
def _shorner_dn(t, c):
    acc = c[c.size - 1]
    for i in range(c.size - 2, -1, -1):
        acc = _sadd_dn(_smul_dn(acc, t), c[i])
    return acc


@njit(cache=True, forceinline=True)
def _shorner_up(t, c):
    acc = c[c.size - 1]
    for i in range(c.size - 2, -1, -1):
        acc = _sadd_up(_smul_up(acc, t), c[i])
    return acc


@njit(cache=True)
def _sexp(x, want_lo, want_hi):
    """(lo, hi) with lo <= e^x <= hi (see _exp_encl); a side not wanted is left 0."""
    if x == 0.0:
        return 1.0, 1.0
    xc = min(max(x, -746.0), 710.0)
    k = math.floor(xc * _LOG2E)
    t = k * _LN2_HI
    lo = 0.0
    hi = 0.0
    ki = int(k)
    if k == 0.0:
        kl_lo = 0.0
        kl_hi = 0.0
    else:
        p1 = k * _LN2_LO_DN
        p2 = k * _LN2_LO_UP
        kl_lo = _pred(min(p1, p2))
        kl_hi = _succ(max(p1, p2))
    if want_lo:
        r_lo = _sadd_dn(_sadd_dn(xc, -t), -kl_hi)
        if r_lo >= 0.0:
            e_lo = _shorner_dn(r_lo, _EXP_CDN)
        else:
            e_lo = _sadd_dn(1.0, r_lo)
        lo = math.ldexp(e_lo, ki)
        if lo < _TINY or lo == _INF:
            lo = _pred(lo)
        lo = max(lo, 0.0)
    if want_hi:
        r_hi = _sadd_up(_sadd_up(xc, -t), -kl_lo)
        if r_hi < 0.0:
            e_hi = 1.0
        elif r_hi > 1.0:
            e_hi = _INF
        else:
            e_hi = _sadd_up(_shorner_up(r_hi, _EXP_CUP), _EXP_REM)
        hi = math.ldexp(e_hi, ki)
        if hi < _TINY:
            hi = _succ(hi)
    return lo, hi


@njit(cache=True)
def _sexpm1_pos(u, want_lo, want_hi):
    """(lo, hi) of e^u - 1 for u >= 0 (see _expm1_small / _expm1_encl)."""
    if u <= 1.0:
        lo = 0.0
        hi = 0.0
        if want_lo:
            lo = _smul_dn(u, _shorner_dn(u, _EXPM1_CDN))
        if want_hi:
            hi = _smul_up(u, _sadd_up(_shorner_up(u, _EXPM1_CUP), _EXPM1_REM))
        return lo, hi
    elo, ehi = _sexp(u, want_lo, want_hi)
    return _sadd_dn(elo, -1.0), _sadd_up(ehi, -1.0)


@njit(cache=True)
def _stanh(x, want_lo, want_hi):
    """(lo, hi) of tanh x (see _tanh_encl); odd, so the sides swap for x < 0."""
    neg = x < 0.0
    t = min(abs(x), 20.0)
    wl = want_hi if neg else want_lo
    wh = want_lo if neg else want_hi
    m_lo, m_hi = _sexpm1_pos(2.0 * t, wl, wh)
    lo = 0.0
    hi = 0.0
    if wl:
        lo = _sdiv_dn(m_lo, _sadd_up(m_lo, 2.0))
    if wh:
        hi = min(_sdiv_up(m_hi, _sadd_dn(m_hi, 2.0)), 1.0)
    if neg:
        return -hi, -lo
    return lo, hi


@njit(cache=True)
def _sfun(fid, x, want_lo, want_hi):
    if fid == 0:
        return _sexp(x, want_lo, want_hi)
    return _stanh(x, want_lo, want_hi)


@njit(cache=True)
def _k_monotone(fid, lo, hi, same, out_lo, out_hi):
    """Increasing f: [f_lo(lo), f_hi(hi)] (one evaluation for point entries)."""
    for i in range(lo.size):
        a = lo[i]
        b = a if same else hi[i]
        if a == b:
            l, h = _sfun(fid, a, True, True)
        else:
            l = _sfun(fid, a, True, False)[0]
            h = _sfun(fid, b, False, True)[1]
        out_lo[i] = l
        out_hi[i] = h


def _monotone_fast(fid, lo, hi):
    same = _same_memory(lo, hi)
    shape = lo.shape
    lf = np.ascontiguousarray(lo, dtype=np.float64).reshape(-1)
    hf = lf if same else np.ascontiguousarray(hi, dtype=np.float64).reshape(-1)
    out_lo, out_hi = np.empty(lf.size), np.empty(lf.size)
    _k_monotone(fid, lf, hf, same, out_lo, out_hi)
    return out_lo.reshape(shape), out_hi.reshape(shape)


def _erf_pos_series(t, v, d, nmax):
    """t * sum_n (2v)^n / (2n+1)!!, rounded in direction d, plus (d>0) a tail bound.
    Terms are positive and the ratio of consecutive terms 2v/(2n+3) decreases; once it
    is <= 1/2 the tail after a term T is <= T. Iterates until the term is below
    2**-60 of the sum with ratio <= 1/2 (or nmax, leaving an infinite upper bound)."""
    mul, div, add = (_mul_dn, _div_dn, _add_dn) if d < 0 else (_mul_up, _div_up, _add_up)
    two_v = 2.0 * v
    term = np.ones_like(v)
    s = np.ones_like(v)
    done = np.zeros(v.shape, dtype=bool)
    for n in range(nmax):
        term = div(mul(term, two_v), float(2 * n + 3))
        s = add(s, term)
        ok = (term <= s * 2.0 ** -60) & (two_v <= 0.5 * (2 * n + 5))
        done |= ok
        if done.all():
            break
    if d > 0:
        s = np.where(done, add(s, term), _INF)
    return mul(t, s)


def _erf_encl(x):
    """(lo, hi) of erf x for float64 points. Odd. For t = |x| >= 6,
    1 - erf t = erfc t <= e^(-t^2)/(t sqrt(pi)) < 2.2e-17 < 2**-53, so erf t in
    [1 - 2**-53, 1]. Below 6: erf t = (2/sqrt pi) e^(-t^2) t sum (2t^2)^n/(2n+1)!!
    (Abramowitz & Stegun 7.1.6), a product of positive factors, each bounded
    with directed rounding (e^(-v) decreasing and the sum increasing in v = t^2)."""
    x = np.asarray(x, dtype=np.float64)
    t = np.abs(x)
    lo = np.full(t.shape, _dn(1.0))
    hi = np.ones(t.shape)
    with np.errstate(all="ignore"):
        for a, b, nmax in ((0.0, 1.0, 40), (1.0, 3.0, 80), (3.0, 6.0, 200)):
            sel = (t >= a) & (t < b) if a > 0 else (t < b)
            if not sel.any():
                continue
            ts = t[sel]
            v_lo, v_hi = _mul_dn(ts, ts), _mul_up(ts, ts)
            s_lo = _erf_pos_series(ts, v_lo, -1, nmax)
            s_hi = _erf_pos_series(ts, v_hi, 1, nmax)
            e_lo = _exp_encl(-v_hi)[0]
            e_hi = _exp_encl(-v_lo)[1]
            lo[sel] = _mul_dn(_mul_dn(_TSP_DN, e_lo), s_lo)
            hi[sel] = np.minimum(_mul_up(_mul_up(_TSP_UP, e_hi), s_hi), 1.0)
    neg = x < 0
    return np.where(neg, -hi, lo), np.where(neg, -lo, hi)


# ----------------------------------------------------------------------------
# MPFR helpers
# ----------------------------------------------------------------------------
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
        if ep == "binary64":
            if p not in (None, 53):
                raise UnsupportedOption(
                    "domain 'interval': binary64 endpoints have 53 bits; for precision="
                    f"{p!r} use endpoints='mpfr'")
        else:
            if p is None:
                p = 113
            if not isinstance(p, (int, np.integer)) or isinstance(p, bool) or not 2 <= int(p) <= 1 << 20:
                raise UnsupportedOption(f"domain 'interval': precision must be an int in [2, 2**20], got {p!r}")
            opts["precision"] = int(p)
        return opts

    @property
    def endpoints(self):
        return self._opts["endpoints"]

    @property
    def _mp(self):
        return self._opts["endpoints"] == "mpfr"

    @property
    def precision(self):
        return 53 if not self._mp else self._opts["precision"]

    def _precision(self):
        return self.precision

    def _cdn(self):
        return _ctx(self.precision, _RD)

    def _cup(self):
        return _ctx(self.precision, _RU)

    # -- representation --------------------------------------------------------
    def is_value(self, x):
        if not isinstance(x, Interval):
            return False
        return (x.lo.dtype == object) == self._mp

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
            if not self._mp:
                return Interval(f, f)  # a point: both ends share one (never mutated) array
            if self.precision >= 53:
                o = _omap(lambda v: gmpy2.mpfr(float(v), 53), f)
                return Interval(o, o)
            arr = f.astype(object)
        if arr.dtype.kind in "iu" and not self._mp and arr.size and int(np.abs(arr).max()) < 2 ** 53:
            f = arr.astype(np.float64)
            return Interval(f, f)
        fr = _omap(lambda v: to_fraction_scalar(float(v) if isinstance(v, np.floating) else v,
                                                f"asarray[{self.label}]"), arr)
        if not self._mp:
            lo = np.empty(arr.shape, dtype=np.float64)
            hi = np.empty(arr.shape, dtype=np.float64)
            lf, hf, ff = lo.reshape(-1), hi.reshape(-1), fr.reshape(-1)
            for i in range(ff.size):
                lf[i], hf[i] = _f(ff[i])
            return Interval(lo, hi)
        with self._cdn():
            lo = _omap(lambda q: gmpy2.mpfr(gmpy2.mpq(q.numerator, q.denominator)), fr)
        with self._cup():
            hi = _omap(lambda q: gmpy2.mpfr(gmpy2.mpq(q.numerator, q.denominator)), fr)
        return Interval(lo, hi)

    def to_fraction(self, x):
        """(lo, hi): object arrays of the exact endpoint values as Fractions.
        An infinite endpoint (an unbounded enclosure) raises NotRepresentable."""
        x = self._v(x)

        def conv(v):
            if isinstance(v, float):
                if not math.isfinite(v):
                    raise NotRepresentable(f"to_fraction[{self.label}]: unbounded interval endpoint {v}")
                return Fraction(v)
            if not gmpy2.is_finite(v):
                raise NotRepresentable(f"to_fraction[{self.label}]: unbounded interval endpoint {v}")
            return Fraction(*v.as_integer_ratio())
        lo = x.lo.astype(object) if not self._mp else x.lo
        hi = x.hi.astype(object) if not self._mp else x.hi
        return _omap(conv, lo), _omap(conv, hi)

    def to_float64(self, x):
        """(lo, hi) float64 arrays, rounded outward."""
        x = self._v(x)
        if not self._mp:
            return x.lo.copy(), x.hi.copy()
        with _ctx64(_RD):
            lo = _omap(lambda v: float(+v), x.lo).astype(np.float64)
        with _ctx64(_RU):
            hi = _omap(lambda v: float(+v), x.hi).astype(np.float64)
        return lo, hi

    def width(self, x):
        """hi - lo as float64, rounded up (inf for unbounded intervals)."""
        if self._mp:
            x = self._v(x)
            with self._cup():
                w = np.asarray(np.subtract(x.hi, x.lo), dtype=object)
            with _ctx64(_RU):
                return _omap(lambda v: float(+v), w).astype(np.float64)
        lo, hi = self.to_float64(x)
        with np.errstate(all="ignore"):
            w = _up(hi - lo)
        return np.where(lo == hi, 0.0, w)

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
        """Elementwise: do the exact numbers `values` lie in x (exact comparison)?"""
        x = self._v(x)
        vals = _omap(lambda v: to_fraction_scalar(v, "contains"), np.array(values, dtype=object))

        def inside(lo, hi, q):
            lo_ok = lo == -math.inf if isinstance(lo, float) and math.isinf(lo) else (
                Fraction(lo) <= q if isinstance(lo, float) else
                (not gmpy2.is_finite(lo) and lo < 0) or (gmpy2.is_finite(lo) and Fraction(*lo.as_integer_ratio()) <= q))
            hi_ok = hi == math.inf if isinstance(hi, float) and math.isinf(hi) else (
                q <= Fraction(hi) if isinstance(hi, float) else
                (not gmpy2.is_finite(hi) and hi > 0) or (gmpy2.is_finite(hi) and q <= Fraction(*hi.as_integer_ratio())))
            return bool(lo_ok and hi_ok)
        lo = x.lo.astype(object) if not self._mp else x.lo
        hi = x.hi.astype(object) if not self._mp else x.hi
        return _omap(inside, lo, hi, vals).astype(bool)

    def hull(self, a, b):
        a, b = self._v(a), self._v(b)
        return Interval(self._min(a.lo, b.lo), self._max(a.hi, b.hi))

    def is_point(self, x):
        x = self._v(x)
        return bool(np.all(x.lo == x.hi))

    # -- endpoint primitives ---------------------------------------------------
    def _min(self, a, b):
        if self._mp:
            a, b = np.broadcast_arrays(a, b)
            return np.where(a <= b, a, b)
        return np.minimum(a, b)

    def _max(self, a, b):
        if self._mp:
            a, b = np.broadcast_arrays(a, b)
            return np.where(a >= b, a, b)
        return np.maximum(a, b)

    def _add_ends(self, a, b, d):
        if not self._mp:
            with np.errstate(all="ignore"):
                return _add_dn(a, b) if d < 0 else _add_up(a, b)
        with (self._cdn() if d < 0 else self._cup()):
            return np.asarray(np.add(a, b), dtype=object)

    def _negate(self, a):
        """Exact negation (for MPFR inside a context of the domain's precision: gmpy2
        rounds even unary minus to the current context)."""
        if not self._mp:
            return -a
        with self._cdn():
            return np.asarray(np.negative(a), dtype=object)

    def _fn_ends(self, fn, a, d):
        with (self._cdn() if d < 0 else self._cup()):
            return _omap(fn, a)

    # -- arithmetic --------------------------------------------------------------
    def _impl_add(self, x, y):
        x, y = self._v(x), self._v(y)
        if not self._mp:
            with np.errstate(all="ignore"):
                return Interval(*_interval_op(0, x.lo, x.hi, y.lo, y.hi))
        return Interval(self._add_ends(x.lo, y.lo, -1), self._add_ends(x.hi, y.hi, 1))

    def _impl_sub(self, x, y):
        x, y = self._v(x), self._v(y)
        if not self._mp:
            with np.errstate(all="ignore"):
                return Interval(*_interval_op(1, x.lo, x.hi, y.lo, y.hi))
        return Interval(self._add_ends(x.lo, self._negate(y.hi), -1),
                        self._add_ends(x.hi, self._negate(y.lo), 1))

    def _impl_neg(self, x):
        x = self._v(x)
        return Interval(self._negate(x.hi), self._negate(x.lo))

    def _impl_abs(self, x):
        x = self._v(x)
        zero = np.zeros(x.shape) if not self._mp else _omap(lambda v: gmpy2.mpfr(0), x.lo)
        lo = np.where(x.lo >= 0, x.lo, np.where(x.hi <= 0, self._negate(x.hi), zero))
        hi = self._max(self._negate(x.lo), x.hi)
        return Interval(np.asarray(lo, dtype=x.lo.dtype), np.asarray(hi, dtype=x.lo.dtype))

    def _impl_mul(self, x, y):
        x, y = self._v(x), self._v(y)
        a, b, c, d = x.lo, x.hi, y.lo, y.hi
        if not self._mp:
            with np.errstate(all="ignore"):
                return Interval(*_interval_op(2, a, b, c, d))

        def prods(ctx):
            with ctx:
                return [_omap(self._mp_mul, u, v) for u, v in ((a, c), (a, d), (b, c), (b, d))]
        pl, ph = prods(self._cdn()), prods(self._cup())
        lo = self._min(self._min(pl[0], pl[1]), self._min(pl[2], pl[3]))
        hi = self._max(self._max(ph[0], ph[1]), self._max(ph[2], ph[3]))
        return Interval(lo, hi)

    @staticmethod
    def _mp_mul(u, v):
        r = u * v
        return gmpy2.mpfr(0) if gmpy2.is_nan(r) else r

    def _impl_div(self, x, y):
        x, y = self._v(x), self._v(y)
        a, b, c, d = x.lo, x.hi, y.lo, y.hi
        if not self._mp:
            with np.errstate(all="ignore"):
                return Interval(*_interval_op(3, a, b, c, d))
        zero_in = (c <= 0) & (d >= 0)
        pos = c > 0
        # divisor > 0: lo = a / (a >= 0 ? d : c), hi = b / (b >= 0 ? c : d)
        # divisor < 0: lo = b / (b >= 0 ? d : c), hi = a / (a >= 0 ? c : d)
        ln = np.where(pos, a, b)
        ld = np.where(pos, np.where(a >= 0, d, c), np.where(b >= 0, d, c))
        hn = np.where(pos, b, a)
        hd = np.where(pos, np.where(b >= 0, c, d), np.where(a >= 0, c, d))
        one = gmpy2.mpfr(1)
        ld = np.where(zero_in, one, ld)
        hd = np.where(zero_in, one, hd)
        with self._cdn():
            lo = _omap(lambda u, v: u / v, ln, ld)
        with self._cup():
            hi = _omap(lambda u, v: u / v, hn, hd)
        lo = np.where(zero_in, gmpy2.mpfr("-inf"), lo)
        hi = np.where(zero_in, gmpy2.mpfr("inf"), hi)
        lo = _omap(lambda v: gmpy2.mpfr("-inf") if gmpy2.is_nan(v) else v, lo)
        hi = _omap(lambda v: gmpy2.mpfr("inf") if gmpy2.is_nan(v) else v, hi)
        return Interval(lo, hi)

    def _impl_fma(self, x, y, z):
        # the real x*y + z: an enclosure of the product, then of the sum
        return self._impl_add(self._impl_mul(x, y), z)

    def _impl_minimum(self, x, y):
        x, y = self._v(x), self._v(y)
        return Interval(self._min(x.lo, y.lo), self._min(x.hi, y.hi))

    def _impl_maximum(self, x, y):
        x, y = self._v(x), self._v(y)
        return Interval(self._max(x.lo, y.lo), self._max(x.hi, y.hi))

    def _impl_sqrt(self, x):
        x = self._v(x)
        if (x.hi < 0).any():
            raise NotRepresentable(f"sqrt[{self.label}]: square root of an interval below 0 is not real")
        if not self._mp:
            with np.errstate(all="ignore"):
                lo, hi = _unary(2, x.lo), _unary(3, x.hi)
            return Interval(lo, hi)
        zero = gmpy2.mpfr(0)
        lo = np.where(x.lo < 0, zero, x.lo)
        return Interval(self._fn_ends(gmpy2.sqrt, lo, -1), self._fn_ends(gmpy2.sqrt, x.hi, 1))

    # -- elementary functions ------------------------------------------------------
    def _monotone(self, x, enc, mpfn):
        x = self._v(x)
        if self._mp:
            return Interval(self._fn_ends(mpfn, x.lo, -1), self._fn_ends(mpfn, x.hi, 1))
        if x.lo.size and np.array_equal(x.lo, x.hi):
            lo, hi = enc(x.lo)
            return Interval(lo, hi)
        n = x.lo.size
        lo, hi = enc(np.concatenate([x.lo.reshape(-1), x.hi.reshape(-1)]))
        return Interval(lo[:n].reshape(x.shape), hi[n:].reshape(x.shape))

    def _impl_exp(self, x):
        if not self._mp:
            x = self._v(x)
            return Interval(*_monotone_fast(0, x.lo, x.hi))
        return self._monotone(x, _exp_encl, gmpy2.exp)

    def _impl_exp2(self, x):
        x = self._v(x)
        if self._mp:
            return self._monotone(x, None, gmpy2.exp2)

        # 2**x = 2**k * e^(f ln2) with k = floor(x), f = x - k in [0, 1) exact (x - floor x
        # is exact in binary64); f ln2 enclosed outward, exp increasing, scaling by
        # 2**k exact except for overflow / subnormal results (moved outward).
        def enc(v):
            with np.errstate(all="ignore"):
                vc = np.clip(v, -1200.0, 1100.0)
                k = np.floor(vc)
                fr_ = vc - k
                p1, p2 = fr_ * _LN2_DN, fr_ * _LN2_UP
                ylo = np.where(fr_ == 0, 0.0, _dn(p1))
                yhi = np.where(fr_ == 0, 0.0, _up(p2))
                elo = np.where(fr_ == 0, 1.0, _exp_encl(ylo)[0])
                ehi = np.where(fr_ == 0, 1.0, _exp_encl(yhi)[1])
                ki = k.astype(np.int64)
                lo = np.ldexp(elo, ki)
                hi = np.ldexp(ehi, ki)
                lo = np.where((lo < _TINY) | np.isinf(lo), _dn(lo), lo)
                hi = np.where(hi < _TINY, _up(hi), hi)
                return np.maximum(lo, 0.0), hi
        return self._monotone(x, enc, None)

    def _impl_log(self, x):
        x = self._v(x)
        if (x.hi <= 0).any():
            raise NotRepresentable(f"log[{self.label}]: log of an interval <= 0 is not real")
        if self._mp:
            lo = self._fn_ends(lambda v: gmpy2.log(v) if v > 0 else gmpy2.mpfr("-inf"), x.lo, -1)
            return Interval(lo, self._fn_ends(gmpy2.log, x.hi, 1))
        pos = x.lo > 0
        r = self._monotone(Interval(np.where(pos, x.lo, 1.0), x.hi), _log_encl, None)
        return Interval(np.where(pos, r.lo, -_INF), r.hi)

    def _impl_tanh(self, x):
        if not self._mp:
            x = self._v(x)
            return Interval(*_monotone_fast(1, x.lo, x.hi))
        return self._monotone(x, _tanh_encl, gmpy2.tanh)

    def _impl_erf(self, x):
        return self._monotone(x, _erf_encl, gmpy2.erf)

    def _trig(self, kind, x):
        x = self._v(x)
        if self._mp:
            lo, hi = _trig(kind, x.lo, x.hi, self._cdn(), self._cup(), lambda v: v)
            with self._cdn():
                lo = _omap(gmpy2.mpfr, lo)
            with self._cup():
                hi = _omap(gmpy2.mpfr, hi)
            return Interval(lo, hi)
        lo, hi = _trig(kind, x.lo.astype(object), x.hi.astype(object), _ctx64(_RD), _ctx64(_RU), float)
        return Interval(lo.astype(np.float64), hi.astype(np.float64))

    def _impl_sin(self, x):
        return self._trig("sin", x)

    def _impl_cos(self, x):
        return self._trig("cos", x)

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
        lo = np.where(sure, a.lo, np.where(maybe, self._min(a.lo, b.lo), b.lo))
        hi = np.where(sure, a.hi, np.where(maybe, self._max(a.hi, b.hi), b.hi))
        return Interval(lo, hi)

    # -- reductions -------------------------------------------------------------------
    def _check_order(self, op, order):
        """Every order is accepted: the enclosure is of the real result (order-free)."""

    def _impl_max(self, rows):
        rows = self._v(rows)
        if self._mp:
            return Interval(_reduce_obj(rows.lo, self._max), _reduce_obj(rows.hi, self._max))
        return Interval(np.max(rows.lo, axis=1), np.max(rows.hi, axis=1))

    def _impl_sum(self, rows, order):
        rows = self._v(rows)
        R, n = rows.shape
        if n == 0:
            return self.zeros((R,))
        if self._mp:
            lo, hi = rows.lo[:, 0], rows.hi[:, 0]
            for j in range(1, n):
                lo = self._add_ends(lo, rows.lo[:, j], -1)
                hi = self._add_ends(hi, rows.hi[:, j], 1)
            return Interval(np.asarray(lo, dtype=object), np.asarray(hi, dtype=object))
        with np.errstate(all="ignore"):
            lo, hi = _bounded_sums(rows.lo, rows.hi)
        return Interval(lo, hi)

    def _impl_dot(self, a, b, order):
        a, b = self._v(a), self._v(b)
        B, m, k = a.shape
        n = b.shape[2]
        if k == 0:
            return self.zeros((B, m, n))
        if self._mp:
            acc = None
            for l in range(k):
                t = self._impl_mul(Interval(a.lo[:, :, l:l + 1], a.hi[:, :, l:l + 1]),
                                   Interval(b.lo[:, l:l + 1, :], b.hi[:, l:l + 1, :]))
                acc = t if acc is None else self._impl_add(acc, t)
            return acc
        lo, hi = _midrad_dot(a.lo, a.hi, b.lo, b.hi)
        return Interval(lo, hi)

    # -- meta -------------------------------------------------------------------------
    def _accuracy(self, prim):
        if self._mp:
            note = f"MPFR endpoints, {self.precision} bits, directed rounding"
        else:
            note = "binary64 endpoints, outward rounding"
        from ..domain import Accuracy
        return Accuracy("enclosure", note=note) if prim != "asarray" else ENCLOSURE

    def manifest(self, prim):
        if prim == "dot" and not self._mp:
            return {"algorithm": "midpoint-radius (Rump 1999) with BLAS float64 products",
                    "order": "irrelevant (enclosure of the real product)"}
        if prim == "sum":
            return {"algorithm": "numpy sum plus gamma_{n-1} bound" if not self._mp else "MPFR directed sums",
                    "order": "irrelevant (enclosure of the real sum)"}
        return {"endpoints": self.endpoints, "precision": self.precision}


def _reduce_obj(arr, fn):
    out = arr[:, 0]
    for j in range(1, arr.shape[1]):
        out = fn(out, arr[:, j])
    return np.asarray(out, dtype=object)


def _upf(q):
    """A float >= the Fraction q."""
    return _f(Fraction(q))[1]


def _bounded_sums(lo, hi):
    """Lower bounds of the exact row sums of lo (R, n) and upper bounds of those of hi.

    A sequential sum in binary64 of n terms satisfies |fl(s) - s| <= gamma_{n-1} sum|x_i|
    (Higham, Accuracy and Stability, eq. 4.4 / Lemma 3.1; additions never underflow
    inexactly). fl(sum|x_i|) >= (1 - gamma_{n-1}) sum|x_i| (nonnegative terms, same
    bound), so the error is <= g * fl(sum|x_i|) with g = gamma/(1 - gamma), computed
    upward; each remaining step is one round-to-nearest operation moved outward."""
    R, n = lo.shape
    c = 0.0
    if n > 1:
        g = gamma(n - 1, formats.binary64)
        c = _upf(g / (1 - g))
    out_lo = _rowbound(lo, c, True)
    out_hi = out_lo if _same_memory(lo, hi) and n <= 1 else _rowbound(hi, c, False)
    return out_lo, out_hi


@njit(cache=True)
def _rowbound(x, c, down):
    """Per row: s = fl(sum x) sequentially, a = fl(sum |x|), then down(s - up(a c)) or
    up(s + up(a c)) (NaN, from inf - inf, -> -inf / +inf); c = 0 means n <= 1 (exact)."""
    R, n = x.shape
    out = np.empty(R)
    for i in range(R):
        s = 0.0
        a = 0.0
        for j in range(n):
            v = x[i, j]
            s += v
            a += abs(v)
        if c == 0.0:
            out[i] = s
            continue
        e = _succ(a * c)
        if down:
            r = _pred(s - e)
            out[i] = -_INF if r != r else r
        else:
            r = _succ(s + e)
            out[i] = _INF if r != r else r
    return out


def _same_memory(a, b):
    """True when a and b view the same memory with the same layout (equal values)."""
    if a is b:
        return True
    ia, ib = a.__array_interface__, b.__array_interface__
    return (ia["data"][0] == ib["data"][0] and a.strides == b.strides
            and a.shape == b.shape and a.dtype == b.dtype)


def _midrad_dot(alo, ahi, blo, bhi, rounding_term=True):
    """Enclosure (lo, hi) of the real product of interval matrices
    [alo, ahi] (B, m, k) @ [blo, bhi] (B, k, n), midpoint-radius form.

    Rump, "Fast and parallel interval arithmetic", BIT 39(3), 1999, Thm 2.x
    (and Rump 2012, "Fast interval matrix multiplication", Numer. Algor. 61):
    with A = <Am, Ar> = {X : |X - Am| <= Ar} and B = <Bm, Br>, every X in A and
    Y in B satisfy |XY - Am Bm| <= |Am| Br + Ar |Bm| + Ar Br  (entrywise;
    XY - AmBm = (X-Am)Y + Am(Y-Bm) and |Y| <= |Bm| + Br).

    Why the radius below is rigorous without changing the rounding mode:
    1. Am = fl(lo/2 + hi/2) is any float; Ar = max(hi - Am, Am - lo) is computed
       in round-to-nearest and moved one ulp up, hence an upper bound (exact 0 for
       point entries). Then [lo, hi] is inside <Am, Ar>.
    2. C = fl(Am @ Bm) by BLAS: whatever order, blocking or FMA the BLAS uses,
       each entry is a sum of k products in which every term suffers at most k
       roundings, so |C - Am Bm| <= gamma_k |Am||Bm| + k * 2**-1022 (Higham
       Thm 3.1/Lemma 3.1 for any order; the absolute term covers underflow of the
       products even if the BLAS flushes subnormals to zero).
    3. The exact radius needed is rho = G|Bm| + H Br + k 2**-1022 with
       G = Ar + g|Am| (g >= gamma_k) and H = |Am| + Ar, both computed elementwise
       upward. Their BLAS products have nonnegative terms, so fl(G@|Bm|) >=
       (1 - gamma_k) G|Bm| - k 2**-1022 (same theorem), i.e.
       G|Bm| <= (fl(G@|Bm|) + k 2**-1022) / (1 - gamma_k), and likewise for H Br.
    4. R = up(up(up(fl(G@|Bm|) + fl(H@Br)) + 4k 2**-1022) * f), f >= 1/(1-gamma_k):
       every step is one round-to-nearest operation moved one ulp up, so R >= rho.
    The result [down(C - R), up(C + R)] contains every XY. Rows of A or columns
    of B with an infinite endpoint give [-inf, inf] (sound, loose); the product is
    computed for the other rows / columns only (none left: no BLAS call at all).
    Entries with Am = 0 and Ar = 0 give G = 0 exactly (g * 0 and 0 + 0 are exact),
    so no subnormal operand (one ulp above 0) reaches the BLAS, where subnormals are
    very slow. Steps 1, 3 and 4 run as fused numba passes (`_midrad_a_kernel`,
    `_mr_kernel`): per operand and product three BLAS calls at most (two for a
    point operand: C and G|Bm|).
    `rounding_term=False` drops gamma_k|Am||Bm| and the underflow terms: this is
    NOT an enclosure (proofs_as_tests/test_rump_midrad_product.py shows a
    counterexample) and exists only for that demonstration.
    """
    B, m, k = alo.shape
    n = blo.shape[2]
    with np.errstate(all="ignore"):
        def all_finite(lo, hi):
            # a finite sum proves every term finite (an inf or nan makes it inf/nan): one fast pass
            ok = np.isfinite(np.sum(lo))
            return ok and (_same_memory(lo, hi) or np.isfinite(np.sum(hi)))

        # (a sum of finite entries can overflow: then the entrywise test decides)
        good = None if all_finite(alo, ahi) else (np.isfinite(alo) & np.isfinite(ahi)).all(axis=2)
        if good is not None and not good.all():
            # rows of A with an infinite endpoint give [-inf, inf] rows; the product is
            # computed for the other rows only (no BLAS work at all if none is left)
            lo = np.full((B, m, n), -_INF)
            hi = np.full((B, m, n), _INF)
            for bi in range(B):
                g = good[bi]
                if g.any():
                    sl = np.flatnonzero(g)
                    l_, h_ = _midrad_dot(alo[bi:bi + 1, sl], ahi[bi:bi + 1, sl],
                                         blo[bi:bi + 1], bhi[bi:bi + 1], rounding_term)
                    lo[bi, sl], hi[bi, sl] = l_[0], h_[0]
            return lo, hi
        good = None if all_finite(blo, bhi) else (np.isfinite(blo) & np.isfinite(bhi)).all(axis=1)
        if good is not None and not good.all():
            lo = np.full((B, m, n), -_INF)
            hi = np.full((B, m, n), _INF)
            for bi in range(B):
                g = good[bi]
                if g.any():
                    sl = np.flatnonzero(g)
                    l_, h_ = _midrad_dot(alo[bi:bi + 1], ahi[bi:bi + 1],
                                         blo[bi:bi + 1, :, sl], bhi[bi:bi + 1, :, sl], rounding_term)
                    lo[bi, :, sl], hi[bi, :, sl] = l_[0].T, h_[0].T
            return lo, hi

        g = gamma(k, formats.binary64)
        gf = _upf(g) if rounding_term else 0.0
        f = _upf(1 / (1 - g))
        tiny = _upf(Fraction(4 * k, 2 ** 1022))
        a_pt = _same_memory(alo, ahi)  # a point matrix (asarray shares its ends): no pass
        b_pt = _same_memory(blo, bhi)
        # one fused pass per operand: midpoint, G = Ar + g|Am| (upward), H = |Am| + Ar
        # (upward) and |Bm|, Br; a point operand gives Ar = 0, Br = None
        am, G, H, a_iv = _midrad_a(alo, ahi, a_pt, gf)
        bm, abs_bm, br, b_iv = _midrad_b(blo, bhi, b_pt)
        C = np.matmul(am, bm)
        S = np.matmul(G, abs_bm)
        if b_iv:
            S = _add_up(S, np.matmul(H, br))
        if rounding_term:
            return _mr_ends(C, S, tiny, f)
        lo, hi = _dn(C - S), _up(C + S)  # the non-enclosure of the demonstration
        return np.where(np.isnan(lo), -_INF, lo), np.where(np.isnan(hi), _INF, hi)


@njit(cache=True)
def _midrad_a_kernel(lo, hi, gf, am, G, H):
    """Flat contiguous arrays. am = fl(lo/2 + hi/2) (lo for points), Ar = up(max(hi - am,
    am - lo)) >= the exact radius (0 for points), G = up(Ar + up(g |am|)) and
    H = up(|am| + Ar); sums and products with an exact 0 operand are exact and not
    moved (so zero entries stay exactly 0: no subnormal operands for the BLAS).
    Returns whether any entry is a genuine interval."""
    anyiv = False
    for i in range(lo.size):
        l = lo[i]
        h = hi[i]
        if l == h:
            m = l
            r = 0.0
        else:
            anyiv = True
            m = 0.5 * l + 0.5 * h
            r = _succ(max(h - m, m - l))
        am[i] = m
        a = abs(m)
        ga = 0.0 if a == 0.0 else _succ(gf * a)
        if r == 0.0:
            G[i] = ga
            H[i] = a
        else:
            G[i] = r if ga == 0.0 else _succ(r + ga)
            H[i] = r if a == 0.0 else _succ(a + r)
    return anyiv


@njit(cache=True)
def _midrad_b_kernel(lo, hi, bm, abm, br):
    anyiv = False
    for i in range(lo.size):
        l = lo[i]
        h = hi[i]
        if l == h:
            bm[i] = l
            abm[i] = abs(l)
            br[i] = 0.0
        else:
            anyiv = True
            m = 0.5 * l + 0.5 * h
            bm[i] = m
            abm[i] = abs(m)
            br[i] = _succ(max(h - m, m - l))
    return anyiv


def _midrad_a(lo, hi, pt, gf):
    if pt:
        a = np.abs(lo)
        if gf == 0.0:
            return lo, np.zeros_like(a), a, False
        return lo, _mul_up(a, gf), a, False
    lo_c, hi_c = np.ascontiguousarray(lo), np.ascontiguousarray(hi)
    am, G, H = np.empty_like(lo_c), np.empty_like(lo_c), np.empty_like(lo_c)
    iv = _midrad_a_kernel(lo_c.reshape(-1), hi_c.reshape(-1), gf, am.reshape(-1), G.reshape(-1), H.reshape(-1))
    return am, G, H, iv


def _midrad_b(lo, hi, pt):
    if pt:
        return lo, np.abs(lo), None, False
    lo_c, hi_c = np.ascontiguousarray(lo), np.ascontiguousarray(hi)
    bm, abm, br = np.empty_like(lo_c), np.empty_like(lo_c), np.empty_like(lo_c)
    iv = _midrad_b_kernel(lo_c.reshape(-1), hi_c.reshape(-1), bm.reshape(-1), abm.reshape(-1), br.reshape(-1))
    return bm, abm, (br if iv else None), iv


@njit(cache=True)
def _mr_kernel(C, S, tiny, f, lo, hi):
    """lo = down(C - R), hi = up(C + R) with R = up(up(S + tiny) * f); NaN -> -inf / +inf."""
    for i in range(C.size):
        R = _succ(_succ(S[i] + tiny) * f)
        c = C[i]
        l = _pred(c - R)
        h = _succ(c + R)
        lo[i] = -_INF if l != l else l
        hi[i] = _INF if h != h else h


def _mr_ends(C, S, tiny, f):
    Cf, Sf = C.reshape(-1), S.reshape(-1)
    lo, hi = np.empty_like(Cf), np.empty_like(Cf)
    _mr_kernel(Cf, Sf, tiny, f, lo, hi)
    return lo.reshape(C.shape), hi.reshape(C.shape)
