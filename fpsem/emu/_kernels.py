"""Vectorized loops over the reference scalar routines of `_core`, and the fast
binary32 paths.

Fast paths (binary32, every rounding mode, any ftz/daz/tininess policy): + - sqrt
and fma are evaluated in binary64 together with the exact sign of what binary64
lost (TwoSum error for add/sub and fma, x - q*q for sqrt), and `round_d_t` rounds
that once to binary32 in the requested mode. In rne this is also the classical
innocuous double rounding (53 >= 2*24 + 2; Figueroa, SIGNUM 1995); the sign
information makes it exact for fma and for directed modes too (see `round_d_t`
for the argument). rne without DAZ has its own binary32 loops (below); * and /
in the other modes run the reference loops, which are faster there.

A fast lane is kept only when the binary32 result is a normal number strictly
inside (2**-126, FLT_MAX): there no underflow (either tininess rule, so ftz
cannot apply) or overflow happened, NaN propagation is not involved, and the
only flag is inexact, known exactly from the same error terms. Every other lane
(zero, subnormal, infinite, NaN results; subnormal inputs under daz) is
recomputed by the reference routine, so the two paths agree bit for bit by
construction; tests/emu/test_fast_paths.py checks it anyway on edge sets,
near-ties and random sweeps in every mode and policy.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from ._core import (OP_ADD, OP_CODES, OP_DIV, OP_FMA, OP_MUL, OP_SQRT, OP_SUB,  # noqa: F401
                    cfg_daz, cfg_mode, INEXACT, add_s, compare_s, div_s, fma_s, from_f64_s, from_int_s,
                    minmax_s, mul_s, next_s, remainder_s, round_integral_s, sqrt_s,
                    to_f64_s, to_int_s)

MIN_NORMAL32 = np.float32(2.0 ** -126)
INF32 = np.float32(np.inf)
SLOW = np.uint8(255)


# ---------------------------------------------------------------- reference loops

# Each op's loop inlines its scalar routine at the LLVM level (forceinline: one
# typed copy, inlined by LLVM; numba's IR-level inline='always' re-typed the
# whole routine at every call site and took 20-50 s to compile a kernel), and
# `_specialised` instantiates the loop once per rounding mode, and for binary32
# also with the format bits constant, so that LLVM folds the mode and format
# arithmetic of the rounding routine: a runtime mode costs 30-40% per element.
# LLVM sees the constant bits through `const | (cfg & ~mask)`.
_INL = dict(error_model='numpy', forceinline=True)
_mul_i = njit(**_INL)(mul_s.py_func)
_div_i = njit(**_INL)(div_s.py_func)
_sqrt_i = njit(**_INL)(sqrt_s.py_func)
_fma_i = njit(**_INL)(fma_s.py_func)
_add_i = njit(**_INL)(add_s.py_func)
# binary32's format field of cfg (P, EB, specials) and the mode field
_B32_FMT = 24 | (8 << 5)
_FMT_MASK = 1023 | (1 << 18)
_MODE_MASK = 7 << 10


@njit(nogil=True, cache=True, error_model='numpy', forceinline=True)
def _specialised(loop, a, b, c, cfg, neg, out, fl):
    """loop(a, b, c, cfg', neg, out, fl) with cfg' == cfg, its mode field (and
    binary32's format field) visible to LLVM as constants."""
    r = cfg & ~_MODE_MASK
    if (cfg & _FMT_MASK) == _B32_FMT:
        _by_mode(loop, a, b, c, _B32_FMT | (r & ~_FMT_MASK), cfg_mode(cfg), neg, out, fl)
    else:
        _by_mode(loop, a, b, c, r, cfg_mode(cfg), neg, out, fl)


@njit(nogil=True, cache=True, error_model='numpy', forceinline=True)
def _by_mode(loop, a, b, c, r, m, neg, out, fl):
    """loop with cfg = r | (m << 10), one call site per mode (r has no mode bits)."""
    if m == 0:
        loop(a, b, c, r, neg, out, fl)
    elif m == 1:
        loop(a, b, c, r | (1 << 10), neg, out, fl)
    elif m == 2:
        loop(a, b, c, r | (2 << 10), neg, out, fl)
    elif m == 3:
        loop(a, b, c, r | (3 << 10), neg, out, fl)
    else:
        loop(a, b, c, r | (4 << 10), neg, out, fl)


@njit(nogil=True, error_model='numpy', forceinline=True)
def _add_loop(a, b, c, cfg, neg, out, fl):
    for i in range(a.size):
        r, f = _add_i(np.int64(a[i]), np.int64(b[i]), cfg, neg)
        out[i] = r
        fl[i] = f


@njit(nogil=True, error_model='numpy', forceinline=True)
def _mul_loop(a, b, c, cfg, neg, out, fl):
    for i in range(a.size):
        r, f = _mul_i(np.int64(a[i]), np.int64(b[i]), cfg)
        out[i] = r
        fl[i] = f


@njit(nogil=True, error_model='numpy', forceinline=True)
def _div_loop(a, b, c, cfg, neg, out, fl):
    for i in range(a.size):
        r, f = _div_i(np.int64(a[i]), np.int64(b[i]), cfg)
        out[i] = r
        fl[i] = f


@njit(nogil=True, error_model='numpy', forceinline=True)
def _sqrt_loop(a, b, c, cfg, neg, out, fl):
    for i in range(a.size):
        r, f = _sqrt_i(np.int64(a[i]), cfg)
        out[i] = r
        fl[i] = f


@njit(nogil=True, error_model='numpy', forceinline=True)
def _fma_loop(a, b, c, cfg, neg, out, fl):
    for i in range(a.size):
        r, f = _fma_i(np.int64(a[i]), np.int64(b[i]), np.int64(c[i]), cfg)
        out[i] = r
        fl[i] = f


@njit(nogil=True, cache=True, error_model='numpy')
def k_add(a, b, cfg, neg, out, fl):
    _specialised(_add_loop, a, b, a, cfg, neg, out, fl)


@njit(nogil=True, cache=True, error_model='numpy')
def k_mul(a, b, cfg, out, fl):
    _specialised(_mul_loop, a, b, a, cfg, 0, out, fl)


@njit(nogil=True, cache=True, error_model='numpy')
def k_div(a, b, cfg, out, fl):
    _specialised(_div_loop, a, b, a, cfg, 0, out, fl)


@njit(nogil=True, cache=True, error_model='numpy')
def k_sqrt(a, cfg, out, fl):
    _specialised(_sqrt_loop, a, a, a, cfg, 0, out, fl)


@njit(nogil=True, cache=True, error_model='numpy')
def k_fma(a, b, c, cfg, out, fl):
    _specialised(_fma_loop, a, b, c, cfg, 0, out, fl)


@njit(nogil=True, cache=True, error_model='numpy')
def k_remainder(a, b, cfg, out, fl):
    for i in range(a.size):
        r, f = remainder_s(np.int64(a[i]), np.int64(b[i]), cfg)
        out[i] = r
        fl[i] = f


@njit(nogil=True, cache=True, error_model='numpy')
def k_minmax(a, b, cfg, want_max, number, out, fl):
    for i in range(a.size):
        r, f = minmax_s(np.int64(a[i]), np.int64(b[i]), cfg, want_max, number)
        out[i] = r
        fl[i] = f


@njit(nogil=True, cache=True, error_model='numpy')
def k_compare(a, b, cfg, signaling, out, fl):
    for i in range(a.size):
        r, f = compare_s(np.int64(a[i]), np.int64(b[i]), cfg, signaling)
        out[i] = r
        fl[i] = f


@njit(nogil=True, cache=True, error_model='numpy')
def k_next(a, cfg, up, out, fl):
    for i in range(a.size):
        r, f = next_s(np.int64(a[i]), cfg, up)
        out[i] = r
        fl[i] = f


@njit(nogil=True, cache=True, error_model='numpy')
def k_round_integral(a, cfg, mode, exact, out, fl):
    for i in range(a.size):
        r, f = round_integral_s(np.int64(a[i]), cfg, mode, exact)
        out[i] = r
        fl[i] = f


@njit(nogil=True, cache=True, error_model='numpy')
def k_to_int(a, cfg, mode, width, exact, out, fl):
    for i in range(a.size):
        r, f = to_int_s(np.int64(a[i]), cfg, mode, width, exact)
        out[i] = r
        fl[i] = f


@njit(nogil=True, cache=True, error_model='numpy')
def k_from_f64(v, cfg, out, fl):
    """v: binary64 encodings as int64."""
    for i in range(v.size):
        r, f = from_f64_s(v[i], cfg)
        out[i] = r
        fl[i] = f


@njit(nogil=True, cache=True, error_model='numpy')
def k_to_f64(a, cfg, out, fl):
    for i in range(a.size):
        r, f = to_f64_s(np.int64(a[i]), cfg)
        out[i] = r
        fl[i] = f


@njit(nogil=True, cache=True, error_model='numpy')
def k_from_int(v, cfg, out, fl):
    for i in range(v.size):
        r, f = from_int_s(v[i], cfg)
        out[i] = r
        fl[i] = f


# ---------------------------------------------------------------- fast binary32, every mode

@intrinsic
def f32_bits(typingctx, x):
    """Reinterpret a float32 as int32 (no conversion)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))
    return types.int32(types.float32), codegen


@intrinsic
def bits_f32(typingctx, x):
    """Reinterpret an int32 as float32."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())
    return types.float32(types.int32), codegen


@intrinsic
def f64_bits(typingctx, x):
    """Reinterpret a float64 as int64."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


@intrinsic
def bits_f64(typingctx, x):
    """Reinterpret an int64 as float64."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


FLT_MAX32 = np.float32(3.4028234663852886e38)


@njit(nogil=True, cache=True, error_model='numpy', boundscheck=False, inline='always')
def round_d_t(d, t, mode):
    """Round v = d + tail to binary32 in `mode`, where d = RN53(v) is a binary64
    value and t has the sign of v - d (t is only consulted when d lies on the
    25-bit grid, i.e. d is a binary32 value or the midpoint of two, where the
    caller computes it exactly). Returns (ok, bits, inexact): ok is False when
    the binary32 result is not a normal finite number strictly inside
    (2**-126, FLT_MAX); then nothing was decided.

    Why: every binary32 value and every midpoint of two lies on the binary64
    grid, and v lies within half a binary64 ulp of d, so v and d are on the same
    side of every such point other than d itself. r = RN24(d) (the hardware
    conversion) is then RN24(v) unless d is a midpoint with t != 0, and
    D = sign(v - r) is sign(d - r), or sign(t) when d == r. Directed modes step
    r by one encoding towards v when D points that way. With |r| strictly inside
    (2**-126, FLT_MAX), |v| is above 2**-126 and below FLT_MAX: no underflow
    (either tininess rule; FTZ cannot apply) and no overflow in any mode."""
    # branch-free on purpose (the signs are data-dependent: branches mispredict)
    r = np.float32(d)
    ar = abs(r)
    ok = (ar > MIN_NORMAL32) & (ar < FLT_MAX32)
    rb = np.int64(f32_bits(r))
    r64 = np.float64(r)
    sr = np.int64(r > 0) * 2 - 1
    neq = d != r64
    Dt = np.int64(t > 0.0) - np.int64(t < 0.0)
    Dd = np.int64(d > r64) - np.int64(d < r64)
    D = Dd if neq else Dt
    if mode == 0 or mode == 4:  # rne, rna
        nb = rb + (np.int64(D == sr) * 2 - 1)
        mid = 0.5 * (r64 + np.float64(bits_f32(np.int32(nb))))
        tie = neq & (d == mid)
        pick_n = tie & (Dt == D)  # v beyond the midpoint
        if mode == 4:
            pick_n = pick_n | (tie & (Dt == 0) & (nb > rb))  # ties away (int order = magnitude)
        res = nb if pick_n else rb
    elif mode == 2:  # rup
        res = rb + sr * np.int64(D > 0)
    elif mode == 3:  # rdn
        res = rb - sr * np.int64(D < 0)
    else:  # rtz: one encoding towards zero, either sign
        res = rb - np.int64(D == -sr)
    return ok, res, D != 0


@njit(nogil=True, cache=True, error_model='numpy', boundscheck=False, inline='always')
def _fast_lane(op, mode, daz, xf, yf, zf):
    """(ok, bits, flags) of one lane (float32 scalars); see _fast_loop."""
    x = np.float64(xf)
    y = np.float64(yf)
    if op == OP_ADD or op == OP_SUB:
        if op == OP_SUB:
            y = -y
        d = x + y
        bb = d - x
        t = (x - (d - bb)) + (y - bb)  # TwoSum: v = d + t exactly
    elif op == OP_SQRT:
        d = np.sqrt(x)
        t = x - d * d  # exact when d has <= 26 bits
    else:
        z = np.float64(zf)
        p = x * y  # exact
        d = p + z
        bb = d - p
        t = (p - (d - bb)) + (z - bb)
    if mode == 0 and op != OP_FMA:
        # RNE, one operation (here: under DAZ): RN24(RN53(v)) = RN24(v) (innocuous
        # double rounding, 53 >= 2*24 + 2); inexact iff d != r or the tail is nonzero.
        r = np.float32(d)
        ar = abs(r)
        ok = (ar > MIN_NORMAL32) & (ar < FLT_MAX32)
        res = np.int64(f32_bits(r))
        inx = (np.float64(r) != d) | (t != 0.0)
    else:
        ok, res, inx = round_d_t(d, t, mode)
    if daz:
        ax = abs(xf)
        ay = abs(yf)
        az = abs(zf)
        sub = (((ax < MIN_NORMAL32) & (ax != 0)) | ((ay < MIN_NORMAL32) & (ay != 0))
               | ((az < MIN_NORMAL32) & (az != 0)))
        ok = ok & (not sub)
    return ok, res, np.uint8(np.int64(inx) * INEXACT) if ok else SLOW


@njit(nogil=True, cache=True, error_model='numpy', boundscheck=False, inline='always')
def _fast_loop_op(op, mode, daz, af, bf, cf, out, fl):
    nslow = 0
    for i in range(af.size):
        ok, res, f = _fast_lane(op, mode, daz, af[i], bf[i], cf[i])
        out[i] = np.uint32(res & 0xFFFFFFFF)
        fl[i] = f
        nslow += np.int64(not ok)
    return nslow


@njit(nogil=True, cache=True, error_model='numpy', boundscheck=False)
def _fast_loop(op, mode, daz, af, bf, cf, out, fl):
    """One pass over binary32 operands (views as float32) of add, sub, sqrt or
    fma: the operation in binary64 with an exact tail sign, then round_d_t (RNE:
    the hardware conversion). Lanes it cannot decide (results zero, subnormal,
    near overflow, non-finite; DAZ with a subnormal input) get flag 255 and are
    counted; the caller recomputes them with the reference routine. The loop is
    instantiated once per operation (constant op) so that LLVM sees straight
    code. (mul and div outside the rne loop go straight to the reference loops,
    which are faster there.)"""
    if op == OP_ADD:
        return _fast_loop_op(OP_ADD, mode, daz, af, bf, cf, out, fl)
    if op == OP_SUB:
        return _fast_loop_op(OP_SUB, mode, daz, af, bf, cf, out, fl)
    if op == OP_SQRT:
        return _fast_loop_op(OP_SQRT, mode, daz, af, bf, cf, out, fl)
    return _fast_loop_op(OP_FMA, mode, daz, af, bf, cf, out, fl)


# The common case (binary32, rne, no DAZ, not fma): one straight-line, branch-free
# loop per operation, so that LLVM vectorizes it, computed in binary32 itself:
# numba's float32 + - * / sqrt are the CPU's IEEE binary32 operations in RNE
# (no fast-math, no FTZ/DAZ in numba's MXCSR), so r is the correctly rounded
# result by definition. Inexactness is decided exactly: add/sub by binary32
# TwoSum (error-free whenever r is finite, Knuth); mul: the binary64 product of
# two binary32 values is exact; div and sqrt: r*y and r*r are exact in binary64
# (24 + 24 bits), so the result is exact iff they give x back. Lanes whose r is
# not strictly inside (2**-126, FLT_MAX) get flag 255 and are recomputed by the
# reference (same contract as _fast_loop). Working in binary32 keeps 8 lanes per
# AVX2 vector where binary64 had 4.
_F_INX = np.uint8(INEXACT)
_F_NONE = np.uint8(0)


@njit(nogil=True, cache=True, error_model='numpy', boundscheck=False, inline='always')
def _rne_store(i, r, inx, out, fl):
    # byte-wide selects, no int64 arithmetic and no reduction in the loop: both
    # would widen the 8 float32 lanes to 64-bit ones and halve the vector speed
    ar = abs(r)
    ok = (ar > MIN_NORMAL32) & (ar < FLT_MAX32)
    out[i] = f32_bits(r)
    fl[i] = (_F_INX if inx else _F_NONE) if ok else SLOW


@njit(nogil=True, cache=True, error_model='numpy', boundscheck=False)
def _rne_addsub(af, bf, sign, out, fl):
    zero = np.float32(0.0)
    for i in range(af.size):
        x = af[i]
        y = sign * bf[i]
        r = x + y
        bb = r - x
        t = (x - (r - bb)) + (y - bb)  # TwoSum: x + y = r + t exactly (r finite)
        _rne_store(i, r, t != zero, out, fl)


@njit(nogil=True, cache=True, error_model='numpy', boundscheck=False)
def _rne_mul(af, bf, out, fl):
    for i in range(af.size):
        r = af[i] * bf[i]
        _rne_store(i, r, np.float64(r) != np.float64(af[i]) * np.float64(bf[i]), out, fl)


@njit(nogil=True, cache=True, error_model='numpy', boundscheck=False)
def _rne_div(af, bf, out, fl):
    for i in range(af.size):
        r = af[i] / bf[i]
        _rne_store(i, r, np.float64(r) * np.float64(bf[i]) != np.float64(af[i]), out, fl)


@intrinsic
def fma_hw(typingctx, x, y, z):
    """fma(x, y, z) for float32 or float64 operands of one type: LLVM's
    llvm.fma intrinsic, defined as libm fma, i.e. the exact x*y + z rounded
    once to the operand format (RNE in the default environment). It compiles to
    the FMA instruction where the CPU has one (x86 FMA3, IEEE 754 fusedMultiplyAdd,
    no FTZ/DAZ in numba's default MXCSR) and to a call of libm fmaf/fma otherwise;
    LLVM never splits it into a rounded product and a rounded sum."""
    if not (isinstance(x, types.Float) and x == y == z):
        return None
    lt, name = (ir.FloatType(), "llvm.fma.f32") if x.bitwidth == 32 else (ir.DoubleType(), "llvm.fma.f64")

    def codegen(context, builder, signature, args):
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(lt, [lt, lt, lt]), name)
        return builder.call(fn, args)
    return x(x, x, x), codegen


_SQRT_EXACT_MIN = np.float32(2.0 ** -100)


@njit(nogil=True, cache=True, error_model='numpy', boundscheck=False)
def _rne_sqrt(af, out, fl):
    # inexact iff x - r*r != 0. For x >= 2**-100 that residual is a multiple of
    # ulp(r)**2 >= 2**-146 and below 2**25 ulp(x), so fma(r, r, -x), which rounds
    # it once, is zero exactly when the residual is (no underflow to zero); all in
    # binary32, 8 lanes a vector. Smaller x (rare) go to the reference as slow lanes.
    for i in range(af.size):
        x = af[i]
        r = np.sqrt(x)
        inx = fma_hw(r, r, -x) != np.float32(0.0)
        ok = (r > MIN_NORMAL32) & (r < FLT_MAX32) & (x >= _SQRT_EXACT_MIN)
        out[i] = f32_bits(r)
        fl[i] = (_F_INX if inx else _F_NONE) if ok else SLOW


def _rne_loop(op, af, bf, out, fl):
    if op == OP_ADD or op == OP_SUB:
        return _rne_addsub(af, bf, np.float32(1.0 if op == OP_ADD else -1.0), out, fl)
    if op == OP_MUL:
        return _rne_mul(af, bf, out, fl)
    if op == OP_DIV:
        return _rne_div(af, bf, out, fl)
    return _rne_sqrt(af, out, fl)


def _slow_lanes(fl):
    """Indices of the lanes flagged SLOW (255, above every flag combination),
    in order: numpy's vectorized byte max per block of 4096 lanes, then only the
    blocks that hold one are searched."""
    B = 4096
    n = fl.size
    head = n - n % B
    blocks = np.flatnonzero(fl[:head].reshape(-1, B).max(axis=1) == SLOW) if head else np.empty(0, np.int64)
    parts = [b * B + np.flatnonzero(fl[b * B:(b + 1) * B] == SLOW) for b in blocks.tolist()]
    parts.append(head + np.flatnonzero(fl[head:] == SLOW))
    return np.concatenate(parts).astype(np.int64, copy=False)


@njit(nogil=True, cache=True, error_model='numpy', boundscheck=False)
def _fixup(op, a, b, c, cfg, out, fl, idx):
    """Recompute the lanes `idx` (flag 255) with the reference routines."""
    for i in idx:
        if op == OP_ADD:
            r, f = add_s(np.int64(a[i]), np.int64(b[i]), cfg, 0)
        elif op == OP_SUB:
            r, f = add_s(np.int64(a[i]), np.int64(b[i]), cfg, 1)
        elif op == OP_MUL:
            r, f = mul_s(np.int64(a[i]), np.int64(b[i]), cfg)
        elif op == OP_DIV:
            r, f = div_s(np.int64(a[i]), np.int64(b[i]), cfg)
        elif op == OP_SQRT:
            r, f = sqrt_s(np.int64(a[i]), cfg)
        else:
            r, f = fma_s(np.int64(a[i]), np.int64(b[i]), np.int64(c[i]), cfg)
        out[i] = r
        fl[i] = f


def fast_binary32(op, a, b, cfg, c=None):
    """op: 'add', 'sub', 'mul', 'div', 'sqrt', 'fma'; a, b, c contiguous uint32
    (b None for sqrt, c only for fma). Any rounding mode, FTZ, DAZ, tininess
    and NaN preset (all in cfg): bit-identical to the reference loops."""
    code = OP_CODES[op]
    mode = cfg_mode(cfg)
    daz = bool(cfg_daz(cfg))
    out = np.empty(a.shape, np.uint32)
    fl = np.empty(a.shape, np.uint8)
    if b is None:
        b = a
    if c is None:
        c = a
    if mode == 0 and not daz and code != OP_FMA:
        _rne_loop(code, a.view(np.float32), b.view(np.float32), out, fl)
        nslow = 1  # not counted in the loop (see _rne_store): the scan decides
    elif code == OP_MUL or code == OP_DIV:
        # the reference loops, instantiated per mode, beat binary64 lanes here
        # (mul 3.0-3.6 vs 4.2-6.3 ns/op, div 4.8-6.3 vs 6.4-9.2 on the bench machine)
        if code == OP_MUL:
            k_mul(a, b, cfg, out, fl)
        else:
            k_div(a, b, cfg, out, fl)
        return out, fl
    else:
        nslow = _fast_loop(code, mode, daz, a.view(np.float32), b.view(np.float32),
                           c.view(np.float32), out, fl)
    if nslow:
        # slow lanes are rare: find them with one scan of the flags (no temporaries)
        idx = _slow_lanes(fl)
        if idx.size:
            _fixup(code, a, b, c, cfg, out, fl, idx)
    return out, fl
