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
``"binary64"`` (default): float64 numpy arrays, vectorized. The FPU rounding mode is
never changed. An operation is computed in round-to-nearest and the result is then
moved one ulp outward with ``np.nextafter``; because the round-to-nearest error is
below one ulp (half an ulp, or half the subnormal spacing under gradual
underflow), the moved value is a rigorous lower (upper) bound. Additions use the
error-free TwoSum transform (Knuth; Higham Alg. 4.3... ``a + b = s + e`` exactly) so
that an exact sum is not widened and an inexact one is widened on one side only.

``"mpfr"``: object arrays of ``gmpy2.mpfr`` at ``precision`` bits (default 113),
every endpoint computed by MPFR in directed rounding (RoundDown for lower
endpoints, RoundUp for upper endpoints). MPFR's exp, log, tanh, erf, sin, cos are
correctly rounded in every direction, so this path is rigorous by the MPFR
specification. Tight and slow (a Python object per endpoint).

Elementary functions on binary64 endpoints
------------------------------------------
exp, exp2, log, tanh and erf are monotone; they are evaluated at the endpoints by
vectorized routines whose enclosures are rigorous *by construction*: argument
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
# binary64 directed operations (no FPU mode change)
# ----------------------------------------------------------------------------
def _dn(x):
    """A value <= the exact result whose round-to-nearest is x (one ulp down)."""
    return np.nextafter(x, -_INF)


def _up(x):
    return np.nextafter(x, _INF)


def _add_dn(a, b):
    """Lower bound of a + b, exact when the sum is (TwoSum: a + b == s + e exactly,
    Knuth 1969; valid without overflow, and addition never underflows inexactly)."""
    s = a + b
    bb = s - a
    e = (a - (s - bb)) + (b - bb)
    return np.where((e < 0) | ~np.isfinite(s), _dn(s), s)


def _add_up(a, b):
    s = a + b
    bb = s - a
    e = (a - (s - bb)) + (b - bb)
    return np.where((e > 0) | ~np.isfinite(s), _up(s), s)


def _mul_dn(a, b):
    p = a * b
    return np.where((a == 0) | (b == 0), 0.0, _dn(p))


def _mul_up(a, b):
    p = a * b
    return np.where((a == 0) | (b == 0), 0.0, _up(p))


def _div_dn(a, b):
    return np.where(a == 0, 0.0, _dn(a / b))


def _div_up(a, b):
    return np.where(a == 0, 0.0, _up(a / b))


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
            if not np.isfinite(arr).all():
                raise NotRepresentable(f"asarray[{self.label}]: inf or nan is not a real number")
            f = np.array(arr, dtype=np.float64)  # exact widening
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
        return Interval(self._add_ends(x.lo, y.lo, -1), self._add_ends(x.hi, y.hi, 1))

    def _impl_sub(self, x, y):
        x, y = self._v(x), self._v(y)
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
                p = (a * c, a * d, b * c, b * d)
                lo = np.fmin(np.fmin(p[0], p[1]), np.fmin(p[2], p[3]))
                hi = np.fmax(np.fmax(p[0], p[1]), np.fmax(p[2], p[3]))
                # 0 * inf (nan) is 0 for the product of sets; an all-nan case is [0, 0]
                lo = np.where(np.isnan(lo), 0.0, lo)
                hi = np.where(np.isnan(hi), 0.0, hi)
                # exact zero products need no widening (one factor is 0)
                lo = np.where((lo == 0) & (((a == 0) & (b == 0)) | ((c == 0) & (d == 0))), lo, _dn(lo))
                hi = np.where((hi == 0) & (((a == 0) & (b == 0)) | ((c == 0) & (d == 0))), hi, _up(hi))
                return Interval(lo, hi)

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
        zero_in = (c <= 0) & (d >= 0)
        pos = c > 0
        # divisor > 0: lo = a / (a >= 0 ? d : c), hi = b / (b >= 0 ? c : d)
        # divisor < 0: lo = b / (b >= 0 ? d : c), hi = a / (a >= 0 ? c : d)
        ln = np.where(pos, a, b)
        ld = np.where(pos, np.where(a >= 0, d, c), np.where(b >= 0, d, c))
        hn = np.where(pos, b, a)
        hd = np.where(pos, np.where(b >= 0, c, d), np.where(a >= 0, c, d))
        if not self._mp:
            with np.errstate(all="ignore"):
                ld = np.where(zero_in, 1.0, ld)
                hd = np.where(zero_in, 1.0, hd)
                lo = _div_dn(ln, ld)
                hi = _div_up(hn, hd)
                lo = np.where(zero_in | np.isnan(lo), -_INF, lo)
                hi = np.where(zero_in | np.isnan(hi), _INF, hi)
            return Interval(np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64))
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
                lo = np.maximum(x.lo, 0.0)
                slo = np.sqrt(lo)
                shi = np.sqrt(x.hi)
                lo = np.where(lo == 0, 0.0, np.maximum(_dn(slo), 0.0))
                hi = np.where(x.hi == 0, 0.0, _up(shi))
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
        return Interval(_bounded_sum(rows.lo, -1), _bounded_sum(rows.hi, 1))

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


def _bounded_sum(x, d):
    """Lower (d<0) or upper (d>0) bound of the exact row sums of x (R, n) float64.

    numpy's summation (pairwise, any order) of n terms satisfies
    |fl(s) - s| <= gamma_{n-1} sum|x_i| (Higham Thm 4.3 and Lemma 3.1; additions never
    underflow inexactly). fl(sum|x_i|) >= (1 - gamma_{n-1}) sum|x_i| (nonnegative
    terms), so the error is <= g * fl(sum|x_i|) with g = gamma/(1 - gamma), computed
    upward; each remaining step is one round-to-nearest operation moved one ulp."""
    R, n = x.shape
    with np.errstate(all="ignore"):
        s = np.sum(x, axis=1)
        if n <= 1:
            return s
        g = gamma(n - 1, formats.binary64)
        c = _upf(g / (1 - g))
        a = np.sum(np.abs(x), axis=1)
        e = _up(a * c)
        r = _dn(s - e) if d < 0 else _up(s + e)
        if d < 0:
            r = np.where(np.isnan(r), -_INF, r)
        else:
            r = np.where(np.isnan(r), _INF, r)
    return r


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
    of B with an infinite endpoint give [-inf, inf] (sound, loose).
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

        bad_a = np.zeros((B, m), dtype=bool)
        bad_b = np.zeros((B, n), dtype=bool)
        if not all_finite(alo, ahi):
            fa = np.isfinite(alo) & np.isfinite(ahi)
            bad_a = ~fa.all(axis=2)  # (B, m)
            alo, ahi = np.where(fa, alo, 0.0), np.where(fa, ahi, 0.0)
        if not all_finite(blo, bhi):
            fb = np.isfinite(blo) & np.isfinite(bhi)
            bad_b = ~fb.all(axis=1)  # (B, n)
            blo, bhi = np.where(fb, blo, 0.0), np.where(fb, bhi, 0.0)

        def midrad(lo, hi):
            if _same_memory(lo, hi):  # a point matrix (asarray shares its ends): no pass
                return lo, None, False
            pt = lo == hi
            if pt.all():
                return lo, None, False
            mid = np.where(pt, lo, 0.5 * lo + 0.5 * hi)
            rad = np.where(pt, 0.0, _up(np.maximum(hi - mid, mid - lo)))
            return mid, rad, True

        am, ar, a_iv = midrad(alo, ahi)
        bm, br, b_iv = midrad(blo, bhi)
        C = np.matmul(am, bm)
        g = gamma(k, formats.binary64)
        gf = _upf(g)
        f = _upf(1 / (1 - g))
        tiny = _upf(Fraction(4 * k, 2 ** 1022))
        abs_am = np.abs(am)
        abs_bm = np.abs(bm)
        if rounding_term:
            G = _up(ar + _up(gf * abs_am)) if a_iv else _up(gf * abs_am)
        else:
            G = ar if a_iv else np.zeros_like(am)
        S = np.matmul(G, abs_bm)
        if b_iv:
            H = _up(abs_am + ar) if a_iv else abs_am
            S = _up(S + np.matmul(H, br))
        if rounding_term:
            R = _up(_up(S + tiny) * f)
        else:
            R = S
        lo = _dn(C - R)
        hi = _up(C + R)
        bad = np.isnan(lo) | np.isnan(hi)
        if bad_a.any() or bad_b.any():
            bad = bad | bad_a[:, :, None] | bad_b[:, None, :]
        if bad.any():
            lo = np.where(bad, -_INF, lo)
            hi = np.where(bad, _INF, hi)
    return lo, hi
