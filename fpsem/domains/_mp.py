"""Vectorised multi-precision balls for the `ball` domain (numba, FLINT through ctypes).

Why by hand: python-flint gives one Python object per ball, so every elementwise
primitive on a GPT-2 small forward (about 30 million of them) paid about 1 us of
interpreter overhead, and converting the exact BLAS products (see `ball._ozaki_dot`)
to and from those objects cost as much again. Here a whole array of balls is one
numpy structured array and add, sub, mul, sums, maxima and the conversions are
compiled loops over 32-bit digits; Arb itself (FLINT's `arb_exp`, `arb_tanh`, ...,
called from the compiled loop through ctypes, without Python in between) still
evaluates every transcendental function, so the enclosures of exp/tanh/log/...
remain Arb's.

Representation (`mp_dtype(D)`): a ball is [(-1)^s * M * 2^e +/- r] with
  m  D little-endian 32-bit digits of the integer M, normalised: the top bit of
     digit D-1 is set, or M = 0 (then e = s = 0);
  e  int64 exponent of M's last bit; s sign bit; r float64 radius, an upper bound.
D is even, so the digits are also D/2 little-endian 64-bit limbs (FLINT's mp_limb_t).

Every result's midpoint is the exact result truncated to D digits; the truncation
(below one unit of the last digit) is added to the radius. Radii are computed in
float64 round-to-nearest, then scaled by (1 + 2^-49) and raised by 2^-1070: with at
most eight roundings of nonnegative terms that covers every rounding error (the
relative error of k such roundings is below (1 + 2^-53)^k - 1 < 2^-49 for k <= 8, and
each underflowing rounding loses at most 2^-1075). A radius of exactly 0 stays 0 only
when every term is exactly 0. Magnitudes enter radii through `_up_abs`, an upper
bound from the top 53 bits plus one unit.
"""
from __future__ import annotations

import ctypes
import glob
import math
import os

import numpy as np

try:
    import numba
    from numba import njit, prange
except ImportError:  # pragma: no cover - numba is a declared dependency
    numba = None

from ..fpenv import DEFAULT as _DEFCSR
from ..fpenv import nb_set_mxcsr, nb_swap_mxcsr

_U32 = 0xFFFFFFFF
_SLACK = 1.0 + 2.0 ** -49
_TINY = 2.0 ** -1070
_DTYPES = {}
_EXP_MAX = 1 << 40     # mp exponents stay within +/- 2^40 (far from int64 overflow)


def mp_dtype(D):
    """The structured dtype of balls with D 32-bit midpoint digits (D even)."""
    dt = _DTYPES.get(D)
    if dt is None:
        dt = np.dtype([("m", "<u4", (D,)), ("e", "<i8"), ("s", "<i8"), ("r", "<f8")])
        _DTYPES[D] = dt
    return dt


def is_mp(v):
    return v.dtype.names is not None and v.dtype.names[0] == "m"


def digits_of(v):
    return v.dtype["m"].shape[0]


def digits_for(prec):
    """Even number of 32-bit digits holding at least `prec` bits."""
    return 2 * max(1, -(-int(prec) // 64))


def _views(f):
    """(M (n, D) uint32, e, s, r) views into a C-contiguous 1-d mp array: the
    record is D digits, then e, s, r as 64-bit words (D even keeps them aligned)."""
    D = digits_of(f)
    n = f.shape[0]
    W = D // 2 + 3
    U = f.view(np.uint32).reshape(n, 2 * W)
    I = f.view(np.int64).reshape(n, W)
    F = f.view(np.float64).reshape(n, W)
    return U[:, :D], I[:, D // 2], I[:, D // 2 + 1], F[:, D // 2 + 2]


def fields(v):
    """(M, e, s, r) of an mp array, flat: views (a copy only when v is not
    C-contiguous, e.g. broadcast or transposed)."""
    return _views(np.ascontiguousarray(v).reshape(-1))


def alloc(shape, D):
    """A zeroed mp array of `shape` and its flat field views (kernel outputs)."""
    out = np.zeros(int(np.prod(shape, dtype=np.int64)), dtype=mp_dtype(D))
    return out.reshape(shape), _views(out)


def pack(M, e, s, r, shape):
    D = M.shape[1]
    out, (Mo, eo, so, ro) = alloc(shape, D)
    Mo[...] = M
    eo[...] = e
    so[...] = s
    ro[...] = r
    return out


# ---------------------------------------------------------------------------------
# compiled kernels (elementwise ones in chunks over numba's threads: every element
# is computed alone, so results do not depend on the thread count)
# ---------------------------------------------------------------------------------
@njit(nogil=True, cache=True, inline="always")
def _nch(n):
    """Chunks for a parallel loop over n items (enough to balance, few for small n)."""
    return max(1, min(64, n // 256))


@njit(nogil=True, cache=True, inline="always")
def _up(v):
    """Upper bound of a float64 radius computed with <= 8 nearest roundings of
    nonnegative terms (module docstring); nan (inf - inf, 0 * inf) becomes inf."""
    if v != v:
        return np.inf
    if v == 0.0:
        return 0.0
    return v * _SLACK + _TINY


@njit(nogil=True, cache=True, inline="always")
def _up_abs(M, i, e):
    """Upper bound of |M[i]| * 2^e as float64 (never below 2^-1074 for M != 0)."""
    D = M.shape[1]
    top = (np.uint64(M[i, D - 1]) << np.uint64(32)) | np.uint64(M[i, D - 2])
    if top == 0:
        return 0.0
    q = top >> np.uint64(11)          # < 2^53: exact in float64
    v = math.ldexp(float(q) + 1.0, e + 32 * (D - 2) + 11)
    return max(v, 5e-324)


@njit(nogil=True, cache=True)
def _normalize(w, W, ew, M, i, Dout):
    """Write the integer sum_{j<W} w[j] 2^(32 j) (32-bit digits in int64/uint64 w)
    times 2^ew into row i of M as Dout normalised digits. Returns (e, inexact,
    zero): the truncated bits are below 2^e."""
    t = W - 1
    while t >= 0 and w[t] == 0:
        t -= 1
    if t < 0:
        for j in range(Dout):
            M[i, j] = 0
        return 0, False, True
    top = np.int64(w[t])
    b = 0
    while top > 0:
        top >>= 1
        b += 1
    shift = 32 * Dout - (32 * t + b)          # left shift of the integer
    inexact = False
    if shift < 0:
        cut = -shift                           # bits below `cut` are dropped
        q0 = cut >> 5
        s0 = cut & 31
        for j in range(min(q0, W)):
            if w[j] != 0:
                inexact = True
                break
        if not inexact and s0 and q0 < W and (np.int64(w[q0]) & ((1 << s0) - 1)) != 0:
            inexact = True
    for j in range(Dout):
        pos = 32 * j - shift                   # bit position in w of this digit's bit 0
        q = pos >> 5
        s = pos & 31
        lo = 0
        if 0 <= q < W:
            lo = np.int64(w[q]) >> s
        hi = 0
        if s and 0 <= q + 1 < W:
            hi = (np.int64(w[q + 1]) << (32 - s)) & _U32
        M[i, j] = (lo | hi) & _U32
    return ew - shift, inexact, False


@njit(nogil=True, cache=True, parallel=True)
def k_mul(Ma, ea, sa, ra, Mb, eb, sb, rb, M, e, s, r, xa, xb):
    """a * b into the zeroed outputs (M, e, s, r); xa, xb map output elements to
    operand elements (broadcasting; empty: the identity)."""
    n = M.shape[0]
    Da = Ma.shape[1]
    Db = Mb.shape[1]
    Dout = M.shape[1]
    W = Da + Db
    nch = _nch(n)
    for c in prange(nch):
        _old = nb_swap_mxcsr(_DEFCSR)     # the host's MXCSR must not matter (fpsem.fpenv)
        w = np.zeros(W, np.uint64)
        for i in range(c * n // nch, (c + 1) * n // nch):
            p = xa[i] if xa.shape[0] else i
            q = xb[i] if xb.shape[0] else i
            az = Ma[p, Da - 1] == 0
            bz = Mb[q, Db - 1] == 0
            A = _up_abs(Ma, p, ea[p])
            B = _up_abs(Mb, q, eb[q])
            rad = A * rb[q] + B * ra[p] + ra[p] * rb[q]
            if az or bz:
                r[i] = _up(rad)
                continue
            for j in range(W):
                w[j] = 0
            for ia in range(Da):
                x = np.uint64(Ma[p, ia])
                carry = np.uint64(0)
                for ib in range(Db):
                    t = x * np.uint64(Mb[q, ib]) + w[ia + ib] + carry
                    w[ia + ib] = t & np.uint64(_U32)
                    carry = t >> np.uint64(32)
                w[ia + Db] = carry
            ee, inexact, _ = _normalize(w, W, ea[p] + eb[q], M, i, Dout)
            e[i] = ee
            s[i] = sa[p] ^ sb[q]
            if inexact:
                rad += math.ldexp(1.0, ee) if ee > -1074 else 5e-324
            r[i] = _up(rad)
        nb_set_mxcsr(_old)


@njit(nogil=True, cache=True)
def _place(buf, Mx, i, pos):
    """Add the digits of Mx[i] shifted left by `pos` bits into buf (int64 digits)."""
    for j in range(Mx.shape[1]):
        v = np.int64(Mx[i, j])
        if v == 0:
            continue
        p = pos + 32 * j
        q = p >> 5
        sh = p & 31
        buf[q] += (v << sh) & _U32
        if sh:
            buf[q + 1] += v >> (32 - sh)


@njit(nogil=True, cache=True, inline="always")
def _zero_row(M, e, s, r, io, rad):
    """Row io of (M, e, s, r) := [0 +/- rad] (rad rounded up)."""
    for j in range(M.shape[1]):
        M[io, j] = 0
    e[io] = 0
    s[io] = 0
    r[io] = _up(rad)


@njit(nogil=True, cache=True)
def _add_into(Ma, ea, sa, ra, ia, Mb, eb, sb, rb, ib, negb, M, e, s, r, io, bx, by, w):
    """Row io of (M, e, s, r) := a[ia] + b[ib] (or a[ia] - b[ib] when negb)."""
    Dout = M.shape[1]
    Da = Ma.shape[1]
    Db = Mb.shape[1]
    rad = ra[ia] + rb[ib]
    sbi = sb[ib] ^ (1 if negb else 0)
    az = Ma[ia, Da - 1] == 0
    bz = Mb[ib, Db - 1] == 0
    if az and bz:
        _zero_row(M, e, s, r, io, rad)
        return
    # x: the operand with the higher top bit
    ta = ea[ia] + 32 * Da
    tb = eb[ib] + 32 * Db
    if bz or (not az and ta >= tb):
        X, ix, ex, sx, Y, iy, ey, sy, yz = Ma, ia, ea[ia], sa[ia], Mb, ib, eb[ib], sbi, bz
        tx, ty = ta, tb
    else:
        X, ix, ex, sx, Y, iy, ey, sy, yz = Mb, ib, eb[ib], sbi, Ma, ia, ea[ia], sa[ia], az
        tx, ty = tb, ta
    Dx = X.shape[1]
    if yz or ty < tx - 32 * (Dout + 2):
        # y below the output's last digit (or 0): x truncated, |y| into the radius
        if not yz:
            rad += _up_abs(Y, iy, ey)
        for j in range(Dx + 2):
            w[j] = 0
        _place(w, X, ix, 0)
        ee, inexact, _ = _normalize(w, Dx + 1, ex, M, io, Dout)
        e[io] = ee
        s[io] = sx
        if inexact:
            rad += math.ldexp(1.0, ee) if ee > -1074 else 5e-324
        r[io] = _up(rad)
        return
    base = min(ex, ey)
    Wn = (max(tx, ty) - base) // 32 + 2
    for j in range(Wn):
        bx[j] = 0
        by[j] = 0
    _place(bx, X, ix, ex - base)
    _place(by, Y, iy, ey - base)
    sres = sx
    if sx == sy:
        c = 0
        for j in range(Wn):
            t = bx[j] + by[j] + c
            w[j] = t & _U32
            c = t >> 32
    else:
        cmp = 0
        for j in range(Wn - 1, -1, -1):
            if bx[j] != by[j]:
                cmp = 1 if bx[j] > by[j] else -1
                break
        if cmp == 0:
            _zero_row(M, e, s, r, io, rad)
            return
        bor = 0
        for j in range(Wn):
            if cmp > 0:
                t = bx[j] - by[j] - bor
            else:
                t = by[j] - bx[j] - bor
            if t < 0:
                t += 1 << 32
                bor = 1
            else:
                bor = 0
            w[j] = t
        if cmp < 0:
            sres = sy
    ee, inexact, zero = _normalize(w, Wn, base, M, io, Dout)
    e[io] = ee
    s[io] = 0 if zero else sres
    if inexact:
        rad += math.ldexp(1.0, ee) if ee > -1074 else 5e-324
    r[io] = _up(rad)


@njit(nogil=True, cache=True, parallel=True)
def k_add(Ma, ea, sa, ra, Mb, eb, sb, rb, M, e, s, r, xa, xb, negb):
    """a + b (negb=False) or a - b (negb=True), elementwise, into (M, e, s, r)
    (xa, xb as in k_mul)."""
    n = M.shape[0]
    Wmax = Ma.shape[1] + Mb.shape[1] + M.shape[1] + 8
    nch = _nch(n)
    for c in prange(nch):
        _old = nb_swap_mxcsr(_DEFCSR)     # the host's MXCSR must not matter (fpsem.fpenv)
        bx = np.zeros(Wmax, np.int64)
        by = np.zeros(Wmax, np.int64)
        w = np.zeros(Wmax, np.int64)
        for i in range(c * n // nch, (c + 1) * n // nch):
            p = xa[i] if xa.shape[0] else i
            q = xb[i] if xb.shape[0] else i
            _add_into(Ma, ea, sa, ra, p, Mb, eb, sb, rb, q, negb, M, e, s, r, i, bx, by, w)
        nb_set_mxcsr(_old)


@njit(nogil=True, cache=True)
def k_from_f64(x, M, e, s, r):
    """Exact balls (radius 0) of float64 values (finite), into zeroed outputs."""
    n = x.shape[0]
    D = M.shape[1]
    for i in range(n):
        v = x[i]
        if v == 0.0:
            continue
        fr, ex = math.frexp(abs(v))            # |v| = fr 2^ex, fr in [0.5, 1)
        q = np.uint64(math.ldexp(fr, 53))      # exact 53-bit integer, top bit 52
        # top bit to position 32 D - 1: q << (32 D - 53) when D >= 2
        q <<= np.uint64(11)                    # top bit at 63
        M[i, D - 1] = np.uint32(q >> np.uint64(32))
        if D >= 2:
            M[i, D - 2] = np.uint32(q & np.uint64(_U32))
        e[i] = ex - 32 * D
        s[i] = 1 if v < 0 else 0


@njit(nogil=True, cache=True)
def _bits53(M, i, p):
    """Bits [p, p + 53) of the digits of M[i] (bits below 0 are 0)."""
    D = M.shape[1]
    lshift = 0
    if p < 0:
        if p <= -53:
            return np.uint64(0)
        lshift = -p
        p = 0
    q = p >> 5
    sh = p & 31
    a = np.uint64(0)
    for h in range(3):
        if q + h < D:
            a2 = np.uint64(M[i, q + h])
            if h == 0:
                a = a2 >> np.uint64(sh)
            else:
                k = 32 * h - sh
                if k < 64:
                    a |= a2 << np.uint64(k)
    return (a << np.uint64(lshift)) & np.uint64((1 << 53) - 1)


@njit(nogil=True, cache=True, parallel=True)
def k_to_f64(M, e, s, r, double):
    """(m, m2, rr): float64 midpoints (double-double when `double`: m + m2) and
    radii rr with every real of the ball in [m + m2 - rr, m + m2 + rr]."""
    n, D = M.shape
    m = np.zeros(n)
    m2 = np.zeros(n)
    rr = np.zeros(n)
    parts = 2 if double else 1
    nch = _nch(n)
    for c in prange(nch):
        _old = nb_swap_mxcsr(_DEFCSR)     # the host's MXCSR must not matter (fpsem.fpenv)
        for i in range(c * n // nch, (c + 1) * n // nch):
            if r[i] != r[i] or r[i] == np.inf:
                rr[i] = np.inf
                continue
            if M[i, D - 1] == 0:
                rr[i] = r[i]
                continue
            sg = -1.0 if s[i] else 1.0
            top = e[i] + 32 * D                    # |value| < 2^top
            if top > 1024:                         # beyond float64: an unbounded view
                rr[i] = np.inf
                continue
            p1 = 32 * D - 53
            m[i] = _f53(M, e, s, i)                # the top 53 bits, truncated
            if double:
                p2 = p1 - 53
                m2[i] = sg * math.ldexp(float(_bits53(M, i, p2)), e[i] + p2)
            # the bits left out are below 2^(top - 53 parts); ldexp into the subnormal
            # range rounds: one subnormal step per part
            rem = math.ldexp(1.0, top - 53 * parts) if top - 53 * parts > -1074 else 0.0
            if top - 53 * parts < -1000:
                rem += 4e-323
            rr[i] = _up(r[i] + rem)
        nb_set_mxcsr(_old)
    return m, m2, rr


@njit(nogil=True, cache=True, parallel=True)
def k_sum_rows(M, e, s, r, R, n, Mo, eo, so, ro):
    """Row sums of an (R, n) array given its flat (R*n) fields, into (Mo, ...)."""
    Dout = Mo.shape[1]
    Wmax = M.shape[1] + 2 * Dout + 8
    nch = _nch(R)
    for c in prange(nch):
        _old = nb_swap_mxcsr(_DEFCSR)     # the host's MXCSR must not matter (fpsem.fpenv)
        aM = np.zeros((2, Dout), np.uint32)
        ae = np.zeros(2, np.int64)
        as_ = np.zeros(2, np.int64)
        ar = np.zeros(2)
        bx = np.zeros(Wmax, np.int64)
        by = np.zeros(Wmax, np.int64)
        w = np.zeros(Wmax, np.int64)
        for i in range(c * R // nch, (c + 1) * R // nch):
            for j in range(Dout):
                aM[0, j] = 0
            ae[0] = 0
            as_[0] = 0
            ar[0] = 0.0
            cur = 0
            for j in range(n):
                _add_into(aM, ae, as_, ar, cur, M, e, s, r, i * n + j, False, aM, ae, as_, ar, 1 - cur,
                          bx, by, w)
                cur = 1 - cur
            Mo[i] = aM[cur]
            eo[i] = ae[cur]
            so[i] = as_[cur]
            ro[i] = ar[cur]
        nb_set_mxcsr(_old)


@njit(nogil=True, cache=True)
def _cmp_mid(Ma, ea, sa, i, Mb, eb, sb, k):
    """Sign of mid(a_i) - mid(b_k) (exact)."""
    Da = Ma.shape[1]
    Db = Mb.shape[1]
    az = Ma[i, Da - 1] == 0
    bz = Mb[k, Db - 1] == 0
    if az and bz:
        return 0
    if az:
        return 1 if sb[k] else -1
    if bz:
        return -1 if sa[i] else 1
    if sa[i] != sb[k]:
        return -1 if sa[i] else 1
    sg = -1 if sa[i] else 1
    ta = ea[i] + 32 * Da
    tb = eb[k] + 32 * Db
    if ta != tb:
        return sg if ta > tb else -sg
    # same top: compare digit strings from the top (missing digits are 0)
    for j in range(max(Da, Db)):
        da = np.int64(Ma[i, Da - 1 - j]) if j < Da else 0
        db = np.int64(Mb[k, Db - 1 - j]) if j < Db else 0
        if da != db:
            return sg if da > db else -sg
    return 0


@njit(nogil=True, cache=True)
def _reach(M, e, s, r, k, best):
    """An upper bound of r_k - (m_best - m_k) (m_best >= m_k), or r_k when the
    float64 views cannot separate them: how far ball k reaches above m_best."""
    if r[k] != r[k] or r[k] == np.inf:
        return np.inf
    if r[k] == 0.0:
        return 0.0
    # float64 midpoints truncated to 53 bits: relative error < 2^-52 each
    fb = _f53(M, e, s, best)
    fk = _f53(M, e, s, k)
    gap = (fb - fk) - (abs(fb) + abs(fk)) * 2.0 ** -50    # a lower bound of m_best - m_k
    if not gap > 0.0:
        return r[k]
    v = r[k] - gap * (1 - 2.0 ** -50)
    return _up(v) if v > 0.0 else 0.0       # _up: the subtraction's rounding


@njit(nogil=True, cache=True)
def _f53(M, e, s, i):
    """The midpoint of ball i truncated to 53 bits, as float64 (0 where it underflows)."""
    D = M.shape[1]
    if M[i, D - 1] == 0:
        return 0.0
    top = e[i] + 32 * D
    if top > 1024:
        return np.inf if s[i] == 0 else -np.inf
    v = math.ldexp(float(_bits53(M, i, 32 * D - 53)), e[i] + 32 * D - 53)
    return -v if s[i] else v


@njit(nogil=True, cache=True, parallel=True)
def k_max_rows(M, e, s, r, R, n, Mo, eo, so, ro):
    """Row maxima: the ball of the largest midpoint m* with radius
    max(r*, max_j (r_j - (m* - m_j))) encloses the max over the row of every choice
    of reals in the balls (max(x_j) >= x* >= m* - r*, and x_j <= m_j + r_j)."""
    nch = _nch(R)
    for c in prange(nch):
        _old = nb_swap_mxcsr(_DEFCSR)     # the host's MXCSR must not matter (fpsem.fpenv)
        for i in range(c * R // nch, (c + 1) * R // nch):
            best = i * n
            for j in range(1, n):
                k = i * n + j
                if _cmp_mid(M, e, s, k, M, e, s, best) > 0:
                    best = k
            Mo[i] = M[best]
            eo[i] = e[best]
            so[i] = s[best]
            rad = r[best]
            for j in range(n):
                k = i * n + j
                if k != best:
                    rad = max(rad, _reach(M, e, s, r, k, best))
            ro[i] = rad
        nb_set_mxcsr(_old)


@njit(nogil=True, cache=True)
def k_max2(Ma, ea, sa, ra, Mb, eb, sb, rb, M, e, s, r, xa, xb):
    """Elementwise max of two equal-digit mp arrays: the ball of the larger midpoint
    with radius max(ra, rb) (max(x, y) >= x_big >= m_big - r_big, and
    max(x, y) <= m_big + max(ra, rb) since the other midpoint is not above m_big)."""
    n = M.shape[0]
    for i in range(n):
        p = xa[i] if xa.shape[0] else i
        q = xb[i] if xb.shape[0] else i
        c = _cmp_mid(Ma, ea, sa, p, Mb, eb, sb, q)
        if c >= 0:
            M[i] = Ma[p]
            e[i] = ea[p]
            s[i] = sa[p]
        else:
            M[i] = Mb[q]
            e[i] = eb[q]
            s[i] = sb[q]
        r[i] = max(ra[p], rb[q]) if (ra[p] == ra[p] and rb[q] == rb[q]) else np.inf


@njit(nogil=True, cache=True)
def k_acc_bits(M, e, r):
    """max over elements of log2(|mid| / r): the bits of a midpoint above its radius
    (inf when some nonzero midpoint has radius 0)."""
    n, D = M.shape
    best = -np.inf
    for i in range(n):
        if M[i, D - 1] == 0:
            continue
        if r[i] == 0.0:
            return np.inf
        if r[i] != r[i] or r[i] == np.inf:
            continue
        a = (e[i] + 32 * D) - math.log2(r[i])
        if a > best:
            best = a
    return best


@njit(nogil=True, cache=True, inline="always")
def _getbits(M, q, p, width):
    """Bits [p, p + width) of the digits of M[q] (width <= 32; bits below 0 are 0)."""
    mask = (1 << width) - 1
    if p <= -width:
        return 0
    if p < 0:
        return (np.int64(M[q, 0]) << (-p)) & mask
    D = M.shape[1]
    d = p >> 5
    sh = p & 31
    v = 0
    if d < D:
        v = np.int64(M[q, d]) >> sh
        if sh + width > 32 and d + 1 < D:
            v |= np.int64(M[q, d + 1]) << (32 - sh)
    return v & mask


@njit(nogil=True, cache=True, parallel=True)
def k_rows_limbs(M, e, s, r, B, m, k, frac_bits, L, width):
    """Midpoints of (B, m, k) balls as fixed-point integers per row for the exact
    BLAS products (see ball._ozaki_dot): mid = sign * N * 2^(e_row - frac_bits),
    N truncated toward 0 and cut into L limbs of `width` bits; the truncation goes
    to the radius. Returns (A (L, B, m, k) float64 signed limbs, e_row (B, m, 1), rad)."""
    D = M.shape[1]
    A = np.zeros((L, B, m, k))
    erow = np.zeros((B, m, 1), np.int64)
    rad = np.zeros((B, m, k))
    none = -(1 << 62)
    for bi in prange(B * m):
        _old = nb_swap_mxcsr(_DEFCSR)     # the host's MXCSR must not matter (fpsem.fpenv)
        b = bi // m
        i = bi % m
        base = (b * m + i) * k
        top = none
        for j in range(k):
            if M[base + j, D - 1] != 0:
                top = max(top, e[base + j] + 32 * D)
        if top == none:
            top = 0
        erow[b, i, 0] = top
        lsb = top - frac_bits                       # exponent of N's unit
        for j in range(k):
            q = base + j
            rr = r[q]
            if M[q, D - 1] == 0:
                rad[b, i, j] = rr
                continue
            sg = -1.0 if s[q] else 1.0
            off = e[q] - lsb                        # N = floor(M * 2^off)
            for t in range(L):
                v = _getbits(M, q, width * t - off, width)
                if v:
                    A[t, b, i, j] = sg * float(v)
            cut = -off                              # bits of M below `cut` are dropped
            trunc = False
            if cut > 0:
                for qq in range(min(cut >> 5, D)):
                    if M[q, qq] != 0:
                        trunc = True
                        break
                if not trunc and (cut >> 5) < D and (cut & 31):
                    if (np.int64(M[q, cut >> 5]) & ((1 << (cut & 31)) - 1)) != 0:
                        trunc = True
            if trunc:
                rr = _up(rr + (math.ldexp(1.0, lsb) if lsb > -1074 else 5e-324))
            rad[b, i, j] = rr
        nb_set_mxcsr(_old)
    return A, erow, rad


@njit(nogil=True, cache=True, parallel=True)
def k_span(w, mant):
    """Bits that every column of w (B, k, n) spans: exponent of its largest
    magnitude minus that of its smallest nonzero one, plus the mantissa bits
    (read in memory order, over the threads)."""
    B, k, n = w.shape
    hi = np.zeros((B, n))
    lo = np.full((B, n), np.inf)
    if w.strides[1] < w.strides[2]:            # a transposed matrix: walk columns
        for q in prange(B * n):
            b, j = q // n, q % n
            col = w[b, :, j]
            h = 0.0
            l = np.inf
            for i in range(k):
                a = abs(np.float64(col[i]))
                h = max(h, a)
                l = min(l, a if a > 0.0 else np.inf)
            hi[b, j] = h
            lo[b, j] = l
    else:
        # rows in blocks over the threads, each with its own extremes (select form,
        # which vectorises), merged after
        nt = 8
        per = (k + nt - 1) // nt
        H = np.zeros((B, nt, n))
        L = np.full((B, nt, n), np.inf)
        for q in prange(B * nt):
            b, t = q // nt, q % nt
            h = H[b, t]
            l = L[b, t]
            for i in range(t * per, min(k, (t + 1) * per)):
                row = w[b, i]
                for j in range(n):
                    a = abs(np.float64(row[j]))
                    h[j] = a if a > h[j] else h[j]
                    l[j] = a if (a > 0.0) & (a < l[j]) else l[j]
        for b in range(B):
            for t in range(nt):
                for j in range(n):
                    hi[b, j] = max(hi[b, j], H[b, t, j])
                    lo[b, j] = min(lo[b, j], L[b, t, j])
    span = 0
    for b in range(B):
        for j in range(n):
            if hi[b, j] > 0.0:
                _, et = math.frexp(hi[b, j])
                _, el = math.frexp(lo[b, j])
                span = max(span, et - el + mant)
    return span


@njit(nogil=True, cache=True, inline="always")
def _split1(wf, scj, V, b, i, j, T, scale):
    """Cut one element wf of column j, scaled by the column's power of 2 scj (exact
    unless it underflows), into T integer slices V[t, b, i, j] (|.| < 2^bits). True
    when something is left below the last slice; an element that underflows or comes
    out tiny is left whole to the column's rest bound, which covers it."""
    x = wf * scj
    if x == 0.0:
        return wf != 0.0
    if abs(x) < 2.0 ** -900:
        return True
    for t in range(T):
        v = math.trunc(x)
        V[t, b, i, j] = v
        x = (x - v) * scale                  # exact: the fraction, shifted
    return x != 0.0


@njit(nogil=True, cache=True, parallel=True)
def k_split_cols(w, bits, T):
    """Exact fixed-point slices of a float matrix w (B, k, n) per column (any
    layout, float32 or float64): w = sum_t V_t 2^(E - bits (t+1)), V_t integers
    with |V_t| < 2^bits, E (B, 1, n) the column exponents (|w| < 2^E). Returns
    (V (T, B, k, n) float64, E, rest) where rest (B, 1, n) bounds
    |w - sum of the T slices| per column (0 when exact)."""
    B, k, n = w.shape
    V = np.zeros((T, B, k, n))
    E = np.zeros((B, 1, n), np.int64)
    rest = np.zeros((B, 1, n))
    scale = 2.0 ** bits
    colmajor = w.strides[1] < w.strides[2]
    for b in range(B):
        hi = np.zeros(n)
        if colmajor:
            for j in prange(n):
                _old = nb_swap_mxcsr(_DEFCSR)     # the host's MXCSR must not matter (fpsem.fpenv)
                for i in range(k):
                    hi[j] = max(hi[j], abs(float(w[b, i, j])))
                nb_set_mxcsr(_old)
        else:
            for i in range(k):
                for j in range(n):
                    hi[j] = max(hi[j], abs(float(w[b, i, j])))
        sc = np.zeros(n)
        for j in range(n):
            if hi[j] > 0.0:
                E[b, 0, j] = math.frexp(hi[j])[1]      # hi < 2^E
                sc[j] = math.ldexp(1.0, bits - E[b, 0, j])
        left = np.zeros(n, np.bool_)
        if colmajor:
            for j in prange(n):
                _old = nb_swap_mxcsr(_DEFCSR)     # the host's MXCSR must not matter (fpsem.fpenv)
                for i in range(k):
                    if _split1(float(w[b, i, j]), sc[j], V, b, i, j, T, scale):
                        left[j] = True
                nb_set_mxcsr(_old)
        else:
            lft = np.zeros((k, n), np.bool_)
            for i in prange(k):
                _old = nb_swap_mxcsr(_DEFCSR)     # the host's MXCSR must not matter (fpsem.fpenv)
                for j in range(n):
                    if _split1(float(w[b, i, j]), sc[j], V, b, i, j, T, scale):
                        lft[i, j] = True
                nb_set_mxcsr(_old)
            for i in range(k):
                for j in range(n):
                    if lft[i, j]:
                        left[j] = True
        for j in range(n):
            if left[j]:
                rest[b, 0, j] = math.ldexp(1.0, E[b, 0, j] - bits * T)
    return V, E, rest


@njit(nogil=True, cache=True, parallel=True)
def k_from_digits16(dig, g, rad, M, e, s, r):
    """Balls from the exact BLAS products' base-2^16 digits dig (D16, n): D16 - 1
    digits in [0, 2^16) and a signed top digit, times 2^g, with radius rad, into
    (M, e, s, r)."""
    D1 = dig.shape[0] - 1
    n = dig.shape[1]
    Dout = M.shape[1]
    W = (16 * (D1 + 4)) // 32 + 2
    nch = _nch(n)
    for c in prange(nch):
        _old = nb_swap_mxcsr(_DEFCSR)     # the host's MXCSR must not matter (fpsem.fpenv)
        w = np.zeros(W, np.int64)
        d16 = np.zeros(D1 + 4, np.int64)
        for i in range(c * n // nch, (c + 1) * n // nch):
            neg = dig[D1, i] < 0
            for j in range(D1):
                d16[j] = dig[j, i]
            tp = dig[D1, i]
            # top digit may exceed 16 bits: split it into 16-bit digits
            for j in range(D1, D1 + 4):
                d16[j] = 0
            if neg:
                # magnitude of the two's-complement-like number: -(x) = ~x + 1
                cy = 1
                for j in range(D1):
                    t = (0xFFFF - d16[j]) + cy
                    d16[j] = t & 0xFFFF
                    cy = t >> 16
                tp = -tp - 1 + cy
            j = D1
            while tp > 0:
                d16[j] = tp & 0xFFFF
                tp >>= 16
                j += 1
            for q in range(W):
                w[q] = 0
            for j in range(D1 + 4):
                if d16[j]:
                    w[j >> 1] |= d16[j] << (16 * (j & 1))
            ee, inexact, zero = _normalize(w, W, g[i], M, i, Dout)
            e[i] = ee
            s[i] = 0 if zero else (1 if neg else 0)
            rr = rad[i]
            if inexact:
                rr = rr + (math.ldexp(1.0, ee) if ee > -1074 else 5e-324)
            r[i] = _up(rr)
        nb_set_mxcsr(_old)


@njit(nogil=True, cache=True, parallel=True)
def k_acc_digits(P, dig, d, r):
    """dig[d] += (P mod 2^32) << r and dig[d + 2] += (P div 2^32) << r, for exact
    integer-valued float64 P (|P| < 2^53): one pass instead of numpy's seven."""
    n = P.shape[0]
    nch = _nch(n)
    for c in prange(nch):
        _old = nb_swap_mxcsr(_DEFCSR)     # the host's MXCSR must not matter (fpsem.fpenv)
        for i in range(c * n // nch, (c + 1) * n // nch):
            p = np.int64(P[i])
            dig[d, i] += (p & 0xFFFFFFFF) << r
            dig[d + 2, i] += (p >> 32) << r
        nb_set_mxcsr(_old)


@njit(nogil=True, cache=True, parallel=True)
def k_carry16(dig):
    """Carry propagation: dig[0 .. D-2] into [0, 2^16), the top digit signed."""
    D, n = dig.shape
    nch = _nch(n)
    for c in prange(nch):
        _old = nb_swap_mxcsr(_DEFCSR)     # the host's MXCSR must not matter (fpsem.fpenv)
        lo = c * n // nch
        hi = (c + 1) * n // nch
        for d in range(D - 1):          # digit-major: contiguous rows of dig
            for i in range(lo, hi):
                cy = dig[d, i] >> 16
                dig[d, i] -= cy << 16
                dig[d + 1, i] += cy
        nb_set_mxcsr(_old)


@njit(nogil=True, cache=True, parallel=True)
def k_trim(M, e, s, r, Mo, eo, so, ro):
    """Keep the top Dout digits (Dout <= D): truncation into the radius."""
    n, D = M.shape
    Dout = Mo.shape[1]
    cut = D - Dout
    nch = _nch(n)
    for c in prange(nch):
        _old = nb_swap_mxcsr(_DEFCSR)     # the host's MXCSR must not matter (fpsem.fpenv)
        for i in range(c * n // nch, (c + 1) * n // nch):
            for j in range(Dout):
                Mo[i, j] = M[i, cut + j]
            eo[i] = e[i] + 32 * cut
            so[i] = s[i]
            inexact = False
            if M[i, D - 1] != 0:
                for j in range(cut):
                    if M[i, j] != 0:
                        inexact = True
                        break
            if inexact:
                ro[i] = _up(r[i] + (math.ldexp(1.0, eo[i]) if eo[i] > -1074 else 5e-324))
            else:
                ro[i] = r[i]
            if M[i, D - 1] == 0:
                eo[i] = 0
        nb_set_mxcsr(_old)


# ---------------------------------------------------------------------------------
# FLINT/Arb from compiled code (ctypes)
# ---------------------------------------------------------------------------------
FN_EXP, FN_TANH, FN_LOG, FN_SQRT, FN_SIN, FN_COS, FN_ERF, FN_INV = range(8)
_FLINT = None


def _load_flint():
    """libflint as loaded by python-flint (the same copy, so the same ABI), or None."""
    global _FLINT
    if _FLINT is not None:
        return _FLINT or None
    _FLINT = False
    try:
        import flint
    except ImportError:
        return None
    d = os.path.dirname(flint.__file__)
    cands = (glob.glob(os.path.join(d, "..", "python_flint.libs", "libflint*"))
             + glob.glob(os.path.join(d, ".dylibs", "libflint*"))
             + glob.glob(os.path.join(d, "libflint*")))
    for p in cands:
        try:
            lib = ctypes.CDLL(p)
            ver = (ctypes.c_char * 16).in_dll(lib, "flint_version").value.decode()
        except (OSError, ValueError):
            continue
        if not ver.startswith("3."):
            continue     # the arb_t layout used below is FLINT 3's
        _FLINT = lib
        return lib
    return None


# Function pointers are called through small intrinsics with the address as a
# runtime argument, so the kernels below hold no process-specific address and numba
# can cache them (calling ctypes objects bakes the address in: no cache, ~2 s of
# compilation in every process).
if numba is not None:
    from llvmlite import ir as _ir
    from numba.core import types as _nt
    from numba.extending import intrinsic

    _I64 = _ir.IntType(64)
    _I32 = _ir.IntType(32)
    _F64 = _ir.DoubleType()
    _LL = {"l": _I64, "i": _I32, "d": _F64, "v": _ir.VoidType()}
    _NT = {"l": _nt.int64, "i": _nt.int64, "d": _nt.float64, "v": _nt.void}

    def _cfunc(spec):
        """An intrinsic calling the C function at address fp: spec 'r:abc' gives the
        return and argument kinds (l: 64-bit integer or pointer, i: C int, d: double,
        v: void). C ints come back sign-extended to int64."""
        ret, args = spec.split(":")

        def typer(typingctx, fp, *xs):
            if len(xs) != len(args):
                return None
            sig = _NT[ret](fp, *xs)

            def codegen(context, builder, signature, llargs):
                fnty = _ir.FunctionType(_LL[ret], [_LL[k] for k in args])
                f = builder.inttoptr(context.cast(builder, llargs[0], signature.args[0], _nt.int64),
                                     fnty.as_pointer())
                vals = []
                for k, v, t in zip(args, llargs[1:], signature.args[1:]):
                    if k == "d":
                        vals.append(context.cast(builder, v, t, _nt.float64))
                    else:
                        v64 = context.cast(builder, v, t, _nt.int64)
                        vals.append(builder.trunc(v64, _I32) if k == "i" else v64)
                res = builder.call(f, vals)
                if ret == "v":
                    return context.get_dummy_value()
                return builder.sext(res, _I64) if ret == "i" else res
            return sig, codegen
        return intrinsic(prefer_literal=False)(_varargs(typer, len(args)))

    def _varargs(typer, n):
        # intrinsic needs a fixed signature: (typingctx, fp, x0, ..., x{n-1})
        names = ", ".join(f"x{i}" for i in range(n))
        ns = {"typer": typer}
        exec(f"def t(typingctx, fp{', ' if n else ''}{names}):\n"
             f"    return typer(typingctx, fp{', ' if n else ''}{names})", ns)
        return ns["t"]

    _c_v1 = _cfunc("v:l")
    _c_v2 = _cfunc("v:ll")
    _c_v3 = _cfunc("v:lll")
    _c_v4 = _cfunc("v:llll")
    _c_vmpn = _cfunc("v:llli")
    _c_vd = _cfunc("v:ld")
    _c_d1 = _cfunc("d:l")
    _c_i1 = _cfunc("i:l")
    _c_i3 = _cfunc("i:lll")
    _c_l1 = _cfunc("l:l")
    _c_l3 = _cfunc("l:lll")

# indices into the function-address table passed to the kernels
(_F_INIT, _F_CLEAR, _F_ZERO, _F_SET_MPN, _F_MUL2EXP, _F_MAG_SET_D, _F_MAG_GET_D, _F_IS_ZERO,
 _F_IS_FINITE, _F_IS_NAN, _F_BOUND, _F_FIXED, _F_GET_UI, _F_SGN, _F_ABS, _F_FMPZ_CLEAR, _F_BITS,
 _F_MAT_INIT, _F_MAT_CLEAR, _F_MAT_MUL, _F_ENTRY) = range(21)
_F_FN0 = 21          # then exp, tanh, log, sqrt, sin, cos, erf, inv (FN_* order)
_SYMBOLS = ("arb_init", "arb_clear", "arb_zero", "arf_set_mpn", "arf_mul_2exp_si", "mag_set_d",
            "mag_get_d", "arf_is_zero", "arb_is_finite", "arf_is_nan", "arf_abs_bound_lt_2exp_si",
            "arf_get_fmpz_fixed_si", "fmpz_get_ui_array", "fmpz_sgn", "fmpz_abs", "fmpz_clear",
            "fmpz_bits", "arb_mat_init", "arb_mat_clear", "arb_mat_mul", "arb_mat_entry_ptr",
            "arb_exp", "arb_tanh", "arb_log", "arb_sqrt", "arb_sin", "arb_cos", "arb_hypgeom_erf",
            "arb_inv")
_FPTRS = None


def _fptrs():
    """The int64 table of libflint function addresses, or None where libflint
    cannot be reached (then python-flint objects do the work)."""
    global _FPTRS
    if _FPTRS is not None:
        return _FPTRS if _FPTRS.size else None
    _FPTRS = np.zeros(0, np.int64)
    lib = _load_flint()
    if lib is None or numba is None or ctypes.sizeof(ctypes.c_void_p) != 8:
        return None
    try:
        addrs = [ctypes.cast(getattr(lib, nm), ctypes.c_void_p).value for nm in _SYMBOLS]
    except AttributeError:
        return None
    _FPTRS = np.array(addrs, dtype=np.int64)
    return _FPTRS


if numba is not None:
    @njit(nogil=True, cache=True)
    def _set(fp, x, M, i, e, s, r):
        """arb at address x := the mp ball i (finite radius)."""
        D = M.shape[1]
        if M[i, D - 1] == 0:
            _c_v1(fp[_F_ZERO], x)
        else:
            _c_vmpn(fp[_F_SET_MPN], x, M[i:].ctypes.data, D // 2, s[i])
            _c_v3(fp[_F_MUL2EXP], x, x, e[i])
        _c_vd(fp[_F_MAG_SET_D], x + 32, r[i])

    @njit(nogil=True, cache=True)
    def _get(fp, y, Mo, eo, so, ro, bad, i, z):
        """mp ball i of (Mo, eo, so, ro) := an enclosure of the arb at y (bad[i]
        where it is not finite or out of the mp exponent range)."""
        Dout = Mo.shape[1]
        if _c_i1(fp[_F_IS_FINITE], y) == 0 or _c_i1(fp[_F_IS_NAN], y) != 0:
            bad[i] = True
            return
        rad = _c_d1(fp[_F_MAG_GET_D], y + 32)       # an upper bound of the radius
        if _c_i1(fp[_F_IS_ZERO], y) != 0:
            ro[i] = rad
            return
        et = _c_l1(fp[_F_BOUND], y)                 # |mid| < 2^et, the least such
        if et > (1 << 40):
            bad[i] = True                   # beyond mp exponents (Arb may clamp them)
            return
        if et < -(1 << 40):
            ro[i] = _up(rad + 5e-324)       # |mid| < 2^-(2^40): [0 +/- rad + 1 subnormal]
            return
        ee = et - 32 * Dout
        inexact = _c_i3(fp[_F_FIXED], z, y, ee)    # rounds toward 0: |error| < 2^ee
        so[i] = 1 if _c_i1(fp[_F_SGN], z) < 0 else 0
        _c_v2(fp[_F_ABS], z, z)
        if _c_l1(fp[_F_BITS], z) > 32 * Dout:
            bad[i] = True
            return
        _c_v3(fp[_F_GET_UI], Mo[i:].ctypes.data, Dout // 2, z)
        e0 = ee
        # |mid| >= 2^(et-1): the top bit is at 32 Dout - 1 or one below
        if Mo[i, Dout - 1] < np.uint32(1 << 31):
            c = np.uint32(0)
            for j in range(Dout):
                v = Mo[i, j]
                Mo[i, j] = (v << np.uint32(1)) | c
                c = v >> np.uint32(31)
            ee -= 1
        eo[i] = ee
        if inexact:
            rad += math.ldexp(1.0, e0) if e0 > -1074 else 5e-324
        ro[i] = _up(rad)

    @njit(nogil=True, cache=True, parallel=True)
    def k_arb(fp, M, e, s, r, fn, prec, Mo, eo, so, ro, bad, tmp):
        """Arb's function fn (FN_*) at prec bits of every ball, into (Mo, ...);
        tmp (64, 16): per chunk two arb_t (48 bytes each) and an fmpz, allocated by
        the caller (an array made here is freed by numba after its last use)."""
        n = M.shape[0]
        nch = min(_nch(n), tmp.shape[0])
        f = fp[_F_FN0 + fn]
        for c in prange(nch):
            _old = nb_swap_mxcsr(_DEFCSR)     # the host's MXCSR must not matter (fpsem.fpenv)
            x = tmp[c].ctypes.data
            y = x + 48
            z = x + 96
            _c_v1(fp[_F_INIT], x)
            _c_v1(fp[_F_INIT], y)
            for i in range(c * n // nch, (c + 1) * n // nch):
                if r[i] != r[i] or r[i] == np.inf:
                    bad[i] = True
                    continue
                _set(fp, x, M, i, e, s, r)
                _c_v3(f, y, x, prec)
                _get(fp, y, Mo, eo, so, ro, bad, i, z)
            _c_v1(fp[_F_CLEAR], x)
            _c_v1(fp[_F_CLEAR], y)
            _c_v1(fp[_F_FMPZ_CLEAR], z)
            nb_set_mxcsr(_old)

    @njit(nogil=True, cache=True, parallel=True)
    def k_mat(fp, Ma, ea, sa, ra, Mb, eb, sb, rb, B, m, k, n, prec, Mo, eo, so, ro, bad, tmp):
        """(B, m, k) @ (B, k, n) by Arb's arb_mat_mul, batches in parallel; tmp (B, 64):
        per batch three arb_mat structs (opaque, < 128 bytes each) and an fmpz."""
        for b in prange(B):
            _old = nb_swap_mxcsr(_DEFCSR)     # the host's MXCSR must not matter (fpsem.fpenv)
            A = tmp[b].ctypes.data
            Bm = A + 128
            C = A + 256
            z = A + 384
            _c_v3(fp[_F_MAT_INIT], A, m, k)
            _c_v3(fp[_F_MAT_INIT], Bm, k, n)
            _c_v3(fp[_F_MAT_INIT], C, m, n)
            for i in range(m):
                for j in range(k):
                    _set(fp, _c_l3(fp[_F_ENTRY], A, i, j), Ma, (b * m + i) * k + j, ea, sa, ra)
            for i in range(k):
                for j in range(n):
                    _set(fp, _c_l3(fp[_F_ENTRY], Bm, i, j), Mb, (b * k + i) * n + j, eb, sb, rb)
            _c_v4(fp[_F_MAT_MUL], C, A, Bm, prec)
            for i in range(m):
                for j in range(n):
                    _get(fp, _c_l3(fp[_F_ENTRY], C, i, j), Mo, eo, so, ro, bad, (b * m + i) * n + j, z)
            _c_v1(fp[_F_MAT_CLEAR], A)
            _c_v1(fp[_F_MAT_CLEAR], Bm)
            _c_v1(fp[_F_MAT_CLEAR], C)
            _c_v1(fp[_F_FMPZ_CLEAR], z)
            nb_set_mxcsr(_old)


def arb_apply(v, fn, prec, Dout=None):
    """Apply Arb function `fn` (FN_*) to an mp array at `prec` bits. Returns
    (result mp array, bad mask) where bad marks results Arb could not bound
    (inf/nan: outside the function's domain or an unbounded input), or None when
    libflint is not reachable from compiled code."""
    fp = _fptrs()
    if fp is None:
        return None
    M, e, s, r = fields(v)
    out, fo = alloc(v.shape, Dout or M.shape[1])
    bad = np.zeros(v.shape, np.bool_)
    k_arb(fp, M, e, s, r, fn, int(prec), *fo, bad.reshape(-1), np.zeros((64, 16), np.int64))
    return out, bad


def arb_matmul(a, b, prec, Dout):
    """Enclosure of a @ b for mp arrays (B, m, k), (B, k, n) of equal digits by
    Arb's arb_mat_mul; None where libflint is not reachable or a ball is unbounded."""
    fp = _fptrs()
    if fp is None or not (np.isfinite(a["r"]).all() and np.isfinite(b["r"]).all()):
        return None
    B, m, kk = a.shape
    n = b.shape[2]
    Ma, ea, sa, ra = fields(a)
    Mb, eb, sb, rb = fields(b)
    out, fo = alloc((B, m, n), Dout)
    bad = np.zeros(B * m * n, np.bool_)
    k_mat(fp, Ma, ea, sa, ra, Mb, eb, sb, rb, B, m, kk, n, int(prec), *fo, bad, np.zeros((B, 64), np.int64))
    if bad.any():
        return None
    return out


# ---------------------------------------------------------------------------------
# exact conversions to and from python-flint objects (the general, slower path)
# ---------------------------------------------------------------------------------
def to_arb(v):
    """Object array of flint.arb balls equal to the mp balls of v (exact)."""
    from flint import arb, arf
    M, e, s, r = fields(v)
    D = M.shape[1]
    raw = M.astype("<u4").tobytes()
    nb = 4 * D
    out = np.empty(M.shape[0], dtype=object)
    el, sl, rl = e.tolist(), s.tolist(), r.tolist()
    fb = int.from_bytes
    whole = arb(0, math.inf)
    for i in range(M.shape[0]):
        if not rl[i] < math.inf:
            out[i] = whole
            continue
        N = fb(raw[i * nb:(i + 1) * nb], "little")
        out[i] = arb(arf((-N if sl[i] else N, el[i])), rl[i])
    return out.reshape(v.shape)


def from_arb(o, D):
    """mp balls of D digits enclosing the flint.arb balls of object array o
    (midpoints truncated to D digits, the truncation added to the radius)."""
    flat = np.asarray(o, dtype=object).reshape(-1)
    n = flat.size
    buf = bytearray(4 * D * n)
    e = np.zeros(n, np.int64)
    s = np.zeros(n, np.int64)
    r = np.zeros(n)
    nb = 4 * D
    width = 32 * D
    for i, a in enumerate(flat.tolist()):
        mid = a.mid()
        if mid.is_nan() or not a.is_finite():
            r[i] = math.inf
            continue
        try:
            rad = float(a.rad())
        except OverflowError:
            rad = math.inf
        rad = math.nextafter(rad, math.inf) if rad else 0.0    # float() may round down
        man, ex = (int(t) for t in mid.man_exp())
        if man == 0:
            r[i] = rad
            continue
        N = -man if man < 0 else man
        topx = ex + N.bit_length()
        if topx > _EXP_MAX:      # beyond the int64 exponents: no bounded mp ball
            r[i] = math.inf
            continue
        if topx < -_EXP_MAX:     # |x| < 2^-(2^40): [0 +/- the smallest subnormal] encloses it
            r[i] = max(rad, 5e-324)
            continue
        sh = width - N.bit_length()
        if sh >= 0:
            N <<= sh
        else:
            if N & ((1 << -sh) - 1):
                unit = math.ldexp(1.0, ex - sh) if ex - sh > -1074 else 5e-324
                rad = math.nextafter(rad + unit, math.inf) * _SLACK
            N >>= -sh
        buf[i * nb:(i + 1) * nb] = N.to_bytes(nb, "little")
        e[i] = ex - sh
        s[i] = 1 if man < 0 else 0
        r[i] = rad
    M = np.frombuffer(bytes(buf), dtype="<u4").reshape(n, D)
    return pack(M, e, s, r, np.shape(o))


def from_f64(x, D):
    x = np.asarray(x, dtype=np.float64)
    out, fo = alloc(x.shape, D)
    k_from_f64(np.ascontiguousarray(x.reshape(-1)), *fo)
    return out


def to_f64(v, double=False):
    """(m, r) or (m, m2, r) float64 views of mp balls (see k_to_f64)."""
    M, e, s, r = fields(v)
    m, m2, rr = k_to_f64(M, e, s, r, double)
    sh = v.shape
    return (m.reshape(sh), m2.reshape(sh), rr.reshape(sh)) if double else (m.reshape(sh), rr.reshape(sh))


def widen(v, D):
    """The same balls with D >= digits_of(v) digits (exact: zero digits below)."""
    D0 = digits_of(v)
    if D0 == D:
        return v
    if D0 > D:
        out, fo = alloc(v.shape, D)
        k_trim(*fields(v), *fo)
        return out
    out = np.zeros(v.shape, dtype=mp_dtype(D))
    out["m"][..., D - D0:] = v["m"]
    nz = v["m"][..., D0 - 1] != 0
    out["e"] = np.where(nz, v["e"] - 32 * (D - D0), 0)
    out["s"] = v["s"]
    out["r"] = v["r"]
    return out


def binary(kernel, a, b, D, *extra):
    """Run an elementwise two-operand kernel over broadcast mp arrays a, b into
    a new mp array of D digits."""
    shape = np.broadcast_shapes(a.shape, b.shape)
    out, fo = alloc(shape, D)
    kernel(*fields(a), *fields(b), *fo, _index(a, shape), _index(b, shape), *extra)
    return out


_NOIDX = np.zeros(0, np.int64)


def _index(x, shape):
    """Flat indices of x's elements for each element of its broadcast to `shape`
    (empty where x has that shape: the identity). Broadcasting by index keeps a
    small operand small instead of copying it out to the full shape."""
    if x.shape == tuple(shape):
        return _NOIDX
    return np.broadcast_to(np.arange(x.size, dtype=np.int64).reshape(x.shape), shape).reshape(-1)
