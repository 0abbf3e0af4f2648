"""Fused float64 kernels for the running bounds (fpsem.bridges.running).

Every kernel evaluates, element by element, the same float64 operations in the
same order as the numpy formulas of running.py (`_up_mul`, `_up_add`,
`_num.up`, `_num.abs_diff_up`, `_Track.loc`, the rules of `Running`), so the
bounds are bit for bit those of the formulas: numba compiles without fastmath
(no reassociation, no contraction of a*b + c into an fma) and its +, *, /,
sqrt, frexp and ldexp are the IEEE operations numpy uses. What it saves is the
dozen full-size temporaries, `np.where` passes and float32 -> float64 copies
the formulas make per primitive. tests/test_running_kernels.py compares every
kernel with its formula on random data with zeros, infinities, NaN and
subnormals. NaN bounds may differ in payload only.

The ufuncs raise the same floating-point warnings as the formulas: callers run
them under np.errstate(all="ignore"), as running.py did.
"""
from __future__ import annotations

import math

import ml_dtypes
import numpy as np
from numba import njit, types, vectorize
from numba.extending import overload

from fpsem.emu._kernels import bits_f32, bits_f64, f64_bits

_NJ = dict(cache=True, nogil=True, error_model="numpy")
INF = math.inf

# loc modes (_Track.loc): by the declared accuracy of the primitive
LOC_EXACT, LOC_CR, LOC_ULPS, LOC_INF = 0, 1, 2, 3

_F2 = 1.0 + 4 * 2.0 ** -52          # _up_mul/_up_add factor for 2 operands; also _num.up's
_F3 = 1.0 + 5 * 2.0 ** -52
_F4 = 1.0 + 6 * 2.0 ** -52
_T2 = 4 * 2.0 ** -1074               # _up_mul's subnormal steps, 2 and 3 factors
_T3 = 5 * 2.0 ** -1074
_DOWN50 = 1 - 2.0 ** -50
_UP50 = 1 + 2.0 ** -50


# -- scalar pieces: one element of each numpy formula ---------------------------------------
@njit(**_NJ)
def next_up(x):
    """np.nextafter(x, inf) by the bits (libm's call costs more than the whole bound;
    selects, not branches, so that the loops vectorise)."""
    b = f64_bits(x)
    r = bits_f64(b + 1 if b >= 0 else b - 1)    # one step away from (+) / towards (-) zero
    r = x if (x != x) | (x == INF) else r
    return 5e-324 if x == 0 else r

@njit(**_NJ)
def pow2(k):
    """2.0 ** k for -1074 <= k <= 1023, exactly (np.ldexp(1.0, k))."""
    if k >= -1022:
        return bits_f64(np.int64(k + 1023) << 52)
    return bits_f64(np.int64(1) << (k + 1074))


@njit(**_NJ)
def frexp_exp(a):
    """The exponent np.frexp gives a finite a >= 0 (a = m 2**E, 1/2 <= m < 1; 0 for 0)."""
    if a == 0:
        return 0
    b = f64_bits(a)
    eb = (b >> 52) & 0x7FF
    if eb:
        return eb - 1022
    k = 0                         # subnormal: the position of the leading bit
    while b >> (k + 1):
        k += 1
    return k - 1073


@njit(**_NJ)
def up(x):
    """_num.up(x) (rel_steps=4)."""
    if x == 0:
        return x
    return next_up(x * _F2)


@njit(**_NJ)
def up_mul2(a, b):
    """_up_mul(a, b) (a select, not a branch: the loops vectorise)."""
    r = a * b * _F2 + _T2
    return r if (a != 0) & (b != 0) else 0.0


@njit(**_NJ)
def up_mul3(a, b, c):
    """_up_mul(a, b, c)."""
    r = a * b * c * _F3 + _T3
    return r if (a != 0) & (b != 0) & (c != 0) else 0.0


@njit(**_NJ)
def up_add2(a, b):
    return (a + b) * _F2


@njit(**_NJ)
def up_add3(a, b, c):
    return (a + b + c) * _F3


@njit(**_NJ)
def up_add4(a, b, c, d):
    return (a + b + c + d) * _F4


@njit(**_NJ)
def loc_cr(r, u1, tiny):
    """loc of a correctly rounded primitive."""
    return up_add2(up_mul2(abs(r), u1), tiny)


@njit(**_NJ)
def loc(r, mode, u1, tiny, ulps2, p, emin):
    """_Track.loc(prim, r) for one element (mode and constants from _Track.loc_args)."""
    if mode == LOC_EXACT:
        return 0.0
    a = abs(r)
    if mode == LOC_CR:
        return loc_cr(a, u1, tiny)
    if mode == LOC_ULPS:
        if not math.isfinite(a):
            return INF
        e = max(frexp_exp(a) - 1, emin)
        return up(ulps2 * pow2(e - (p - 1)))
    return INF


@njit(**_NJ)
def abs_diff_up(a, b):
    """_num.abs_diff_up(a, b) for one element."""
    s = a + -b
    bb = s - a
    err = (a - (s - bb)) + (-b - bb)
    mag = abs(s)
    if not (math.isfinite(a) and math.isfinite(b) and math.isfinite(s)):
        return 0.0 if (a == b and math.isfinite(a)) else INF
    if err != 0 and ((err > 0 and s > 0) or (err < 0 and s < 0)):
        return next_up(mag)
    return mag


@njit(**_NJ)
def maxnan(a, b):
    """np.maximum for one element (NaN propagates)."""
    return a if (a >= b or a != a) else b


# -- elementwise bounds: rule and loc in one pass ---------------------------------------------
# Each bound is a scalar function (one element), run two ways: as a numpy ufunc
# (any broadcasting, any float dtype) and, by `call`, as a plain loop over flat
# contiguous arrays and scalars, which LLVM vectorises (3x faster).
@njit(**_NJ)
def add_(e0, e1, r, mode, u1, tiny, ulps2, p, emin):
    """_up_add(_up_add(e0, e1), loc(r)): add and sub."""
    return up_add2(up_add2(e0, e1), loc(r, mode, u1, tiny, ulps2, p, emin))


@njit(**_NJ)
def mul_(v0, v1, e0, e1, r, mode, u1, tiny, ulps2, p, emin):
    """|v0| e1 + |v1| e0 + e0 e1, then + loc(r) (Running._impl_mul)."""
    rule = up_add3(up_mul2(abs(v0), e1), up_mul2(abs(v1), e0), up_mul2(e0, e1))
    return up_add2(rule, loc(r, mode, u1, tiny, ulps2, p, emin))


@njit(**_NJ)
def div_rule(v0, v1, e0, e1):
    """(|v0| e1 + |v1| e0) / (|v1| (|v1| - e1)) rounded up, inf if |v1| <= e1."""
    ay = abs(v1)
    num = up_add2(up_mul2(abs(v0), e1), up_mul2(ay, e0))
    den = (ay * (ay - e1)) * _DOWN50
    q = up(num / den)
    return q if ay > e1 else INF


@njit(**_NJ)
def div_(v0, v1, e0, e1, r, mode, u1, tiny, ulps2, p, emin):
    """div_rule, then + loc(r) (Running._impl_div)."""
    return up_add2(div_rule(v0, v1, e0, e1), loc(r, mode, u1, tiny, ulps2, p, emin))


@njit(**_NJ)
def fma_(v0, v1, v2, e0, e1, e2, r, mode, u1, tiny, ulps2, p, emin):
    """|v0| e1 + |v1| e0 + e0 e1 + e2, then + loc(r) (Running._impl_fma)."""
    rule = up_add4(up_mul2(abs(v0), e1), up_mul2(abs(v1), e0), up_mul2(e0, e1), e2)
    return up_add2(rule, loc(r, mode, u1, tiny, ulps2, p, emin))


@njit(**_NJ)
def rule_(rule, r, mode, u1, tiny, ulps2, p, emin):
    """_up_add(rule, loc(r)) for a rule evaluated by numpy (the other primitives)."""
    return up_add2(rule, loc(r, mode, u1, tiny, ulps2, p, emin))


# the same for a correctly rounded primitive (the common case: no mode test per element)
@njit(**_NJ)
def add_cr(e0, e1, r, u1, tiny):
    return up_add2(up_add2(e0, e1), loc_cr(r, u1, tiny))


@njit(**_NJ)
def mul_cr(v0, v1, e0, e1, r, u1, tiny):
    rule = up_add3(up_mul2(abs(v0), e1), up_mul2(abs(v1), e0), up_mul2(e0, e1))
    return up_add2(rule, loc_cr(r, u1, tiny))


@njit(**_NJ)
def div_cr(v0, v1, e0, e1, r, u1, tiny):
    return up_add2(div_rule(v0, v1, e0, e1), loc_cr(r, u1, tiny))


@njit(**_NJ)
def fma_cr(v0, v1, v2, e0, e1, e2, r, u1, tiny):
    rule = up_add4(up_mul2(abs(v0), e1), up_mul2(abs(v1), e0), up_mul2(e0, e1), e2)
    return up_add2(rule, loc_cr(r, u1, tiny))


@njit(**_NJ)
def rule_cr(rule, r, u1, tiny):
    return up_add2(rule, loc_cr(r, u1, tiny))


@njit(**_NJ)
def dot_(S, t1, t2, t3, fv, g, eta2k, c, fmode, u1, eta_fin):
    """Running._dot_bound for one output: g S + t1 + t2 + t3 + 2 k eta, times c and up;
    then fmode 0: nothing more (the shadow), 1: _up_add(e, 0.0) (a domain accumulating
    in its storage format), 2: _up_add(e, _up_add(_up_mul(|fv|, u1), eta_fin))
    (Running._impl_dot's final rounding of a wider accumulation)."""
    e = S * g if g != INF else INF
    e = e + t1
    e = e + t2
    e = e + t3
    e = e + eta2k
    e = up(e * c)
    if fmode == 1:
        return up_add2(e, 0.0)
    if fmode == 2:
        return up_add2(e, up_add2(up_mul2(abs(fv), u1), eta_fin))
    return e


_L = "int64, float64, float64, float64, int64, int64"   # loc's mode, u1, tiny, 2 ulps, p, emin


def _sig(n, tail=""):
    return f"float64({', '.join(['float64'] * n)}{', ' + tail if tail else ''})"


# the ufuncs
@vectorize([_sig(3, _L)], cache=True)
def add_bound(e0, e1, r, mode, u1, tiny, ulps2, p, emin):
    return add_(e0, e1, r, mode, u1, tiny, ulps2, p, emin)


@vectorize([_sig(5, _L)], cache=True)
def mul_bound(v0, v1, e0, e1, r, mode, u1, tiny, ulps2, p, emin):
    return mul_(v0, v1, e0, e1, r, mode, u1, tiny, ulps2, p, emin)


@vectorize([_sig(5, _L)], cache=True)
def div_bound(v0, v1, e0, e1, r, mode, u1, tiny, ulps2, p, emin):
    return div_(v0, v1, e0, e1, r, mode, u1, tiny, ulps2, p, emin)


@vectorize([_sig(7, _L)], cache=True)
def fma_bound(v0, v1, v2, e0, e1, e2, r, mode, u1, tiny, ulps2, p, emin):
    return fma_(v0, v1, v2, e0, e1, e2, r, mode, u1, tiny, ulps2, p, emin)


@vectorize([_sig(2, _L)], cache=True)
def rule_bound(rule, r, mode, u1, tiny, ulps2, p, emin):
    return rule_(rule, r, mode, u1, tiny, ulps2, p, emin)


@vectorize([_sig(5)], cache=True)
def add_bound_cr(e0, e1, r, u1, tiny):
    return add_cr(e0, e1, r, u1, tiny)


@vectorize([_sig(7)], cache=True)
def mul_bound_cr(v0, v1, e0, e1, r, u1, tiny):
    return mul_cr(v0, v1, e0, e1, r, u1, tiny)


@vectorize([_sig(7)], cache=True)
def div_bound_cr(v0, v1, e0, e1, r, u1, tiny):
    return div_cr(v0, v1, e0, e1, r, u1, tiny)


@vectorize([_sig(9)], cache=True)
def fma_bound_cr(v0, v1, v2, e0, e1, e2, r, u1, tiny):
    return fma_cr(v0, v1, v2, e0, e1, e2, r, u1, tiny)


@vectorize([_sig(4)], cache=True)
def rule_bound_cr(rule, r, u1, tiny):
    return rule_cr(rule, r, u1, tiny)


@vectorize([_sig(8, "int64, float64, float64")], cache=True)
def dot_bound(S, t1, t2, t3, fv, g, eta2k, c, fmode, u1, eta_fin):
    return dot_(S, t1, t2, t3, fv, g, eta2k, c, fmode, u1, eta_fin)


#: kernel -> its correctly rounded variant
CR = {add_bound: add_bound_cr, mul_bound: mul_bound_cr, div_bound: div_bound_cr,
      fma_bound: fma_bound_cr, rule_bound: rule_bound_cr}


# the loops: out and the arguments flat, each a C-contiguous float32/float64 array of
# out's size or a scalar (at() reads either)
def at(x, i):
    return x[i]


@overload(at)
def _at(x, i):
    if isinstance(x, types.Array):
        return lambda x, i: np.float64(x[i])
    return lambda x, i: np.float64(x)


@njit(**_NJ)
def add_cr_loop(out, e0, e1, r, u1, tiny):
    for i in range(out.size):
        out[i] = add_cr(at(e0, i), at(e1, i), at(r, i), u1, tiny)


@njit(**_NJ)
def mul_cr_loop(out, v0, v1, e0, e1, r, u1, tiny):
    for i in range(out.size):
        out[i] = mul_cr(at(v0, i), at(v1, i), at(e0, i), at(e1, i), at(r, i), u1, tiny)


@njit(**_NJ)
def div_cr_loop(out, v0, v1, e0, e1, r, u1, tiny):
    for i in range(out.size):
        out[i] = div_cr(at(v0, i), at(v1, i), at(e0, i), at(e1, i), at(r, i), u1, tiny)


@njit(**_NJ)
def rule_cr_loop(out, rule, r, u1, tiny):
    for i in range(out.size):
        out[i] = rule_cr(at(rule, i), at(r, i), u1, tiny)


@njit(**_NJ)
def rule_loop(out, rule, r, mode, u1, tiny, ulps2, p, emin):
    for i in range(out.size):
        out[i] = rule_(at(rule, i), at(r, i), mode, u1, tiny, ulps2, p, emin)


@njit(**_NJ)
def dot_loop(out, S, t1, t2, t3, fv, g, eta2k, c, fmode, u1, eta_fin):
    for i in range(out.size):
        out[i] = dot_(at(S, i), at(t1, i), at(t2, i), at(t3, i), at(fv, i), g, eta2k, c, fmode, u1, eta_fin)


LOOPS = {add_bound_cr: add_cr_loop, mul_bound_cr: mul_cr_loop, div_bound_cr: div_cr_loop,
         rule_bound_cr: rule_cr_loop, rule_bound: rule_loop, dot_bound: dot_loop}
_FLAT = (np.dtype(np.float32), np.dtype(np.float64))
_HALF = (np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16))


def call(uf, n, *args, out=None):
    """uf(*args, out=out), where uf's first n arguments are arrays and the rest
    scalars, by its flat loop where it has one: each array as a contiguous float32/
    float64 array of the result's size (16-bit floats widened to float32, partial
    broadcasts materialised: exact copies) or, broadcast from one value, a scalar.
    The same scalar function as the ufunc: the same bits."""
    loop = LOOPS.get(uf)
    if loop is None:
        return uf(*args, out=out)
    shape = np.broadcast_shapes(*(np.shape(a) for a in args[:n]))
    flat = []
    for a in args[:n]:
        if not isinstance(a, np.ndarray):
            flat.append(float(a))
        elif a.size == 1 or (a.size and not any(a.strides)):     # one value
            flat.append(float(a.reshape(-1)[0]))
        elif a.dtype in _FLAT:
            if a.shape != shape or not a.flags.c_contiguous:
                a = np.ascontiguousarray(np.broadcast_to(a, shape))
            flat.append(a.reshape(-1))
        elif a.dtype in _HALF:
            flat.append(np.broadcast_to(a, shape).astype(np.float32).reshape(-1))
        else:
            return uf(*args, out=out)
    res = out if (out is not None and out.shape == shape and out.flags.c_contiguous) else np.empty(shape)
    loop(res.reshape(-1), *flat, *args[n:])
    if out is not None and res is not out:
        np.copyto(out, res)
        return out
    return res


# -- asarray of float data ----------------------------------------------------------------------
@njit(**_NJ)
def first_diff(f, x):
    """Index of the first element where f != x (float compare: the widening to float64
    is exact), or -1 (by blocks without an early exit inside, which vectorise)."""
    n = f.size
    for j in range(0, n, 4096):
        m = min(j + 4096, n)
        c = False
        for i in range(j, m):
            c |= f[i] != x[i]
        if c:
            for i in range(j, m):
                if f[i] != x[i]:
                    return i
    return -1


@njit(**_NJ)
def rounding_err(f, x, start, out):
    """out = where(f == x, 0, abs_diff_up(f, x)) from `start` on (zeros before it)."""
    for i in range(start):
        out[i] = 0.0
    for i in range(start, f.size):
        a = np.float64(f[i])
        b = np.float64(x[i])
        out[i] = 0.0 if a == b else abs_diff_up(a, b)


@njit(**_NJ)
def half_value(b, kind):
    """The value of 16-bit storage b (uint16), exactly: kind 1 bfloat16 (the top half
    of a binary32), kind 2 binary16."""
    if kind == 1:
        return np.float64(bits_f32(np.int32(np.int32(b) << 16)))
    b = np.int64(b)
    m = b & 0x3FF
    E = (b >> 10) & 0x1F
    if E == 0x1F:
        v = INF if m == 0 else np.nan
    elif E == 0:
        v = m * pow2(-24)
    else:
        v = (m + 1024) * pow2(E - 25)
    return -v if b & 0x8000 else v


@njit(**_NJ)
def first_diff_half(f, x, kind):
    """first_diff for 16-bit storage given as its bits (half_value's kind)."""
    for i in range(f.size):
        if half_value(f[i], kind) != np.float64(x[i]):
            return i
    return -1


@njit(**_NJ)
def rounding_err_half(f, x, kind, start, out):
    """rounding_err for 16-bit storage given as its bits (half_value's kind)."""
    for i in range(start):
        out[i] = 0.0
    for i in range(start, f.size):
        a = half_value(f[i], kind)
        b = np.float64(x[i])
        out[i] = 0.0 if a == b else abs_diff_up(a, b)


@njit(**_NJ)
def abs_diff_same(bs, b, e, out):
    """out = |bs - b| for 3-d arrays (float64, to nearest: np.abs(Bs - B)); returns
    whether out == e everywhere (then a product with out is the product with e)."""
    same = True
    for t in range(out.shape[0]):
        for i in range(out.shape[1]):
            for j in range(out.shape[2]):
                d = abs(np.float64(bs[t, i, j]) - np.float64(b[t, i, j]))
                out[t, i, j] = d
                same &= d == e[t, i, j]
    return same


@njit(**_NJ)
def widen_abs_diff(bf, kind, bs, e, check, ab, db):
    """For a block of B (3-d, any layout): ab = |B|, db = |bs - B| (to nearest, as
    np.abs(Bs - B)), with B read from D's storage bf (kind 0: a float array, else
    16-bit bits, half_value's kind); returns whether db == e everywhere (if check)."""
    same = check
    for t in range(db.shape[0]):
        for i in range(db.shape[1]):
            for j in range(db.shape[2]):
                v = np.float64(bf[t, i, j]) if kind == 0 else half_value(bf[t, i, j], kind)
                ab[t, i, j] = abs(v)
                d = abs(bs[t, i, j] - v)
                db[t, i, j] = d
                if check:
                    same &= d == e[t, i, j]
    return same


# -- local_stats ---------------------------------------------------------------------------------
@njit(**_NJ)
def node_stats(n, e, es, f, s):
    """One pass over a node of n elements (each argument flat, of size n or 1: a
    broadcast scalar): max e, max |f - s|, max es, whether f and s are all finite,
    and max of where(e > 0, low / e, where(low > 0, inf, 0)), low = max(|f - s| - es, 0)
    (local_stats' formulas); each max is NaN where a term is, as np.max."""
    je, jes, jf, js = e.size > 1, es.size > 1, f.size > 1, s.size > 1
    be = -INF
    bd = -INF
    bs = -INF
    br = -INF
    finite = True
    for i in range(n):
        ei = e[i * je]
        esi = es[i * jes]
        fi = np.float64(f[i * jf])
        si = np.float64(s[i * js])
        if not (math.isfinite(fi) and math.isfinite(si)):
            finite = False
        d = abs(fi - si)
        low = maxnan(d - esi, 0.0)
        if ei > 0:
            r = low / ei
        elif low > 0:
            r = INF
        else:
            r = 0.0
        be = maxnan(be, ei)
        bd = maxnan(bd, d)
        bs = maxnan(bs, esi)
        br = maxnan(br, r)
    return be, bd, bs, br, finite
