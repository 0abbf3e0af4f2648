"""binary64 endpoint arithmetic for the `interval` domain: float64 numpy arrays,
every endpoint operation rounded outward without changing the FPU rounding mode.

The interval formulas live once in `interval.py`; this module supplies the endpoint
operations they are written over (`Binary64Ends`), plus numba kernels that evaluate a
whole formula in one pass (`interval_op`, `monotone`) and the midpoint-radius matrix
product (`dot`). The fused kernels compute the same bits as the formula over the
single-operation kernels (tests/test_interval_fast.py checks that).
"""
from __future__ import annotations

import math
from fractions import Fraction

import gmpy2
import numpy as np
from numba import njit

from .. import formats
from ..bounds import gamma
from . import _ends_mpfr as _mpfr

_INF = np.inf
_MAXF = np.finfo(np.float64).max
_TINY = np.finfo(np.float64).tiny  # 2**-1022, smallest normal


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


@njit(nogil=True, cache=True, forceinline=True)
def _succ(r):
    if r == -_INF:
        return -_MAXF
    return r + (_PHI * abs(r) + _ETA)


@njit(nogil=True, cache=True, forceinline=True)
def _pred(r):
    if r == _INF:
        return _MAXF
    return r - (_PHI * abs(r) + _ETA)


@njit(nogil=True, cache=True, forceinline=True)
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


@njit(nogil=True, cache=True, forceinline=True)
def _sadd_up(a, b):
    s = a + b
    if not abs(s) < _INF:
        return _succ(s)
    bb = s - a
    e = (a - (s - bb)) + (b - bb)
    if e <= 0.0:
        return s
    return _succ(s)


@njit(nogil=True, cache=True, forceinline=True)
def _smul_dn(a, b):
    """A product with a zero factor is exactly 0 (also 0 * inf: a factor 0 makes the
    product of the sets {0}); any other product is moved outward."""
    if a == 0.0 or b == 0.0:
        return 0.0
    return _pred(a * b)


@njit(nogil=True, cache=True, forceinline=True)
def _smul_up(a, b):
    if a == 0.0 or b == 0.0:
        return 0.0
    return _succ(a * b)


@njit(nogil=True, cache=True, forceinline=True)
def _sdiv_dn(a, b):
    if a == 0.0:
        return 0.0
    return _pred(a / b)


@njit(nogil=True, cache=True, forceinline=True)
def _sdiv_up(a, b):
    if a == 0.0:
        return 0.0
    return _succ(a / b)


# Elementwise drivers: flat contiguous float64 operands of size n or 1 (a size-1 operand
# is broadcast), one pass, both endpoints at once. `_flat` prepares them.
@njit(nogil=True, cache=True)
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


@njit(nogil=True, cache=True)
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


@njit(nogil=True, cache=True)
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




# Scalar (numba) exp and tanh enclosures: the directed operations (_sadd_*, _smul_*,
# _sdiv_*, _pred/_succ) evaluated per element in one pass; the proofs are in the
# docstrings of _sexp, _sexpm1_pos and _stanh. _k_monotone evaluates only the needed
# side at each endpoint; `_exp_encl` is the same kernel over points.
_EXP_CDN, _EXP_CUP = _EXP_C
_EXPM1_CDN, _EXPM1_CUP = _EXPM1_C


@njit(nogil=True, cache=True, forceinline=True)
def _shorner_dn(t, c):
    acc = c[c.size - 1]
    for i in range(c.size - 2, -1, -1):
        acc = _sadd_dn(_smul_dn(acc, t), c[i])
    return acc


@njit(nogil=True, cache=True, forceinline=True)
def _shorner_up(t, c):
    acc = c[c.size - 1]
    for i in range(c.size - 2, -1, -1):
        acc = _sadd_up(_smul_up(acc, t), c[i])
    return acc


@njit(nogil=True, cache=True)
def _sexp(x, want_lo, want_hi):
    """(lo, hi) with lo <= e^x <= hi for a float64 x (may be +-inf); a side not wanted
    is left 0.

    x = k ln2 + r with k = floor(x log2e) (any integer works: it is only a guess),
    r enclosed as x - k LN2_HI (exact product, directed TwoSum subtraction) minus
    k [LN2_LO_DN, LN2_LO_UP] (outward). Then r lies in about [-1e-13, ln2 + 1e-13].
    e^r >= 1 + r for every r, and for 0 <= r <= 1 the truncated Taylor sum T_20(r)
    (positive terms) is a lower bound and T_20(r) + 3/21! an upper bound
    (sum_{i>N} t^i/i! <= t^(N+1)/(N+1)! e^t <= e/(N+1)!). The scale by 2**k is exact
    except on overflow (-> inf, handled by outward moves) and subnormal results
    (rounded, moved one ulp outward)."""
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


@njit(nogil=True, cache=True)
def _sexpm1_pos(u, want_lo, want_hi):
    """(lo, hi) of e^u - 1 for u >= 0. For u <= 1: u * sum_i u^i/(i+1)! with positive
    terms, truncated after N terms (a lower bound) plus the tail bound
    u^N e/(N+1)! <= 3/(N+1)! (an upper bound); above 1: the exp enclosure minus 1."""
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


@njit(nogil=True, cache=True)
def _stanh(x, want_lo, want_hi):
    """(lo, hi) of tanh x. Odd (the sides swap for x < 0); for t = |x|,
    tanh t = M/(M+2) with M = expm1(2t) (increasing in M, so directed bounds at
    M_lo / M_hi are rigorous); 2t is exact; t is clipped at 20 since
    1 - tanh 20 < 2**-57 and tanh is increasing and below 1."""
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


@njit(nogil=True, cache=True)
def _sfun(fid, x, want_lo, want_hi):
    if fid == 0:
        return _sexp(x, want_lo, want_hi)
    return _stanh(x, want_lo, want_hi)


@njit(nogil=True, cache=True)
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




def _exp_encl(x):
    """(lo, hi) with lo <= e^x <= hi for float64 points x (see _sexp)."""
    x = np.asarray(x, dtype=np.float64)
    return _monotone_fast(0, x, x)


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


@njit(nogil=True, cache=True)
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


@njit(nogil=True, cache=True)
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


@njit(nogil=True, cache=True)
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


@njit(nogil=True, cache=True)
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


def _exp2_encl(v):
    """(lo, hi) of 2**v for float64 points. 2**v = 2**k * e^(f ln2) with k = floor(v),
    f = v - k in [0, 1) exact (v - floor v is exact in binary64); f ln2 enclosed
    outward, exp increasing, scaling by 2**k exact except for overflow / subnormal
    results (moved outward)."""
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


_POINT_ENCL = {"log": _log_encl, "erf": _erf_encl, "exp2": _exp2_encl}
_FUSED = {"add": 0, "sub": 1, "mul": 2, "div": 3}


class Binary64Ends:
    """Endpoints as float64 arrays; `d` < 0 rounds an operation down, `d` > 0 up: the
    round-to-nearest result moved outward by `_pred` / `_succ` unless proven exact."""
    name = "binary64"
    dtype = np.dtype(np.float64)
    precision = 53
    note = "binary64 endpoints, outward rounding"
    ZERO, ONE, INF, NEG_INF = 0.0, 1.0, _INF, -_INF
    min = staticmethod(np.minimum)
    max = staticmethod(np.maximum)

    # -- conversion ------------------------------------------------------------
    @staticmethod
    def zeros(shape):
        return np.zeros(shape)

    @staticmethod
    def from_float64(f):
        """A point: both ends share one (never mutated) array."""
        return f, f

    @staticmethod
    def from_fractions(fr):
        lo = np.empty(fr.shape, dtype=np.float64)
        hi = np.empty(fr.shape, dtype=np.float64)
        lf, hf, ff = lo.reshape(-1), hi.reshape(-1), fr.reshape(-1)
        for i in range(ff.size):
            lf[i], hf[i] = _f(ff[i])
        return lo, hi

    @staticmethod
    def exact(a):
        return _mpfr._omap(lambda v: Fraction(v) if math.isfinite(v) else v, a.astype(object))

    @staticmethod
    def to_float64(a, d):
        return a.copy()

    @staticmethod
    def width(lo, hi):
        with np.errstate(all="ignore"):
            w = _up(hi - lo)
        return np.where(lo == hi, 0.0, w)

    # -- endpoint operations -----------------------------------------------------
    @staticmethod
    def neg(a):
        return -a

    @staticmethod
    def add(a, b, d):
        with np.errstate(all="ignore"):
            return _add_dn(a, b) if d < 0 else _add_up(a, b)

    @staticmethod
    def mul(a, b, d):
        with np.errstate(all="ignore"):
            return _mul_dn(a, b) if d < 0 else _mul_up(a, b)

    @staticmethod
    def div(a, b, d):
        with np.errstate(all="ignore"):
            r = _div_dn(a, b) if d < 0 else _div_up(a, b)
        return np.where(np.isnan(r), -_INF if d < 0 else _INF, r)

    @staticmethod
    def sum(lo, hi):
        with np.errstate(all="ignore"):
            return _bounded_sums(lo, hi)

    @staticmethod
    def monotone(name, lo, hi):
        if name in ("exp", "tanh"):
            return _monotone_fast(0 if name == "exp" else 1, lo, hi)
        if name == "sqrt":
            with np.errstate(all="ignore"):
                return _unary(2, lo), _unary(3, hi)
        enc = _POINT_ENCL[name]
        if lo.size and np.array_equal(lo, hi):
            return enc(lo)
        n = lo.size
        flo, fhi = enc(np.concatenate([lo.reshape(-1), hi.reshape(-1)]))
        return flo[:n].reshape(lo.shape), fhi[n:].reshape(lo.shape)

    @staticmethod
    def trig(kind, lo, hi):
        lo, hi = _mpfr._trig(kind, lo.astype(object), hi.astype(object),
                             _mpfr._ctx64(_mpfr._RD), _mpfr._ctx64(_mpfr._RU), float)
        return lo.astype(np.float64), hi.astype(np.float64)

    # -- one-pass evaluations of interval formulas --------------------------------
    @staticmethod
    def fused(op, a, b, c, d):
        """[a, b] op [c, d] for op in add, sub, mul, div by `_k_interval`: the same bits
        as the formula of `interval.py` over this class's operations, in one pass."""
        with np.errstate(all="ignore"):
            return _interval_op(_FUSED[op], a, b, c, d)

    @staticmethod
    def dot(alo, ahi, blo, bhi):
        """Midpoint-radius enclosure of the matrix product (`_midrad_dot`)."""
        return _midrad_dot(alo, ahi, blo, bhi)

    @staticmethod
    def manifest(prim):
        if prim == "dot":
            return {"algorithm": "midpoint-radius (Rump 1999) with BLAS float64 products",
                    "order": "irrelevant (enclosure of the real product)"}
        if prim == "sum":
            return {"algorithm": "numpy sum plus gamma_{n-1} bound",
                    "order": "irrelevant (enclosure of the real sum)"}
        return None
