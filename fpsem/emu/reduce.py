"""Ordered reductions on encodings: the reference loops of the accumulation orders
that every other order is composed of (fpsem.domains._orders).

    ref_seq_sum(x, cfg)          rows of x (R, n): s = x0; s = fl(s + x_i)
    ref_seq_dot(a, b, cfg, fused) (B, m, k) @ (B, k, n), per output in k order:
                                 fused: s = +0; s = fma(a_k, b_k, s) (one rounding a step)
                                 else:  s = fl(a0 b0); s = fl(s + fl(a_k b_k))
    ref_max(x, cfg)              rows of x: IEEE maximum, left to right
    lane_seq_sum / lane_seq_dot  binary32 only: the same sequence of operations, each
                                 through the exact binary64 fast lane where it decides
                                 (bit-identical, flags included) and the reference
                                 routine elsewhere

Inputs are uint32 encodings (narrower formats widened), cfg from `FloatEmu.cfg`;
each returns (encodings, flag mask OR-ed over the call). Every routine ends in the
emulator's one rounding routine, so the results are bit-exact in every mode.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .. import fpenv
from ..fpenv import nb_set_mxcsr, nb_swap_mxcsr
from . import _core as C
from ._core import OP_ADD, OP_FMA, OP_MUL
from ._kernels import _fast_lane, bits_f32

_NJ = dict(cache=True, nogil=True, error_model="numpy")

@njit(**_NJ)
def ref_seq_sum(x, cfg):
    R, n = x.shape
    out = np.empty(R, np.uint32)
    fl = 0
    for r in range(R):
        s = np.int64(x[r, 0])
        for i in range(1, n):
            s, f = C.add_s(s, np.int64(x[r, i]), cfg, 0)
            fl |= f
        out[r] = s
    return out, fl


@njit(**_NJ)
def ref_seq_dot(a, b, cfg, fused):
    B, m, k = a.shape
    n = b.shape[2]
    out = np.empty((B, m, n), np.uint32)
    fl = 0
    for t in range(B):
        for i in range(m):
            for j in range(n):
                if fused:
                    s = np.int64(0)
                    for kk in range(k):
                        s, f = C.fma_s(np.int64(a[t, i, kk]), np.int64(b[t, kk, j]), s, cfg)
                        fl |= f
                else:
                    s, f = C.mul_s(np.int64(a[t, i, 0]), np.int64(b[t, 0, j]), cfg)
                    fl |= f
                    for kk in range(1, k):
                        p, f = C.mul_s(np.int64(a[t, i, kk]), np.int64(b[t, kk, j]), cfg)
                        fl |= f
                        s, f = C.add_s(s, p, cfg, 0)
                        fl |= f
                out[t, i, j] = s
    return out, fl


# binary32 in any mode and subnormal policy (and rne with exact flags): the same
# per-element sequence of reference operations as ref_seq_sum/ref_seq_dot, each
# op through the fast lane of fpsem.emu._kernels (`_fast_lane`: binary64 with an
# exact error term, then one rounding in the mode; bit-identical to the
# reference, flags included, wherever it answers ok) and the reference routine
# where it does not (zero, subnormal, huge or non-finite results, DAZ inputs).
# Row-major over b (b[k, :] contiguous) and parallel over output rows; each
# output keeps its k order, so the bits do not depend on the threads.
@njit(inline="always", **_NJ)
def _lane_op(op, mode, daz, x, y, z, cfg):
    ok, res, f = _fast_lane(op, mode, daz, bits_f32(np.int32(x)), bits_f32(np.int32(y)),
                            bits_f32(np.int32(z)))
    if ok:
        return res & 0xFFFFFFFF, np.int64(f)
    if op == OP_ADD:
        return C.add_s(x, y, cfg, 0)
    if op == OP_MUL:
        return C.mul_s(x, y, cfg)
    return C.fma_s(x, y, z, cfg)


@njit(inline="always", **_NJ)
def _lane_pass(op, mode, daz, xs, zs, af, bf, cf, cfg, out, ok):
    """One op over a row: the fast lanes in a branch-free (vectorizable) pass,
    then the reference for the lanes they could not decide. xs/ys/zs: scalar
    (-1: use the array) bits; af/bf/cf: row bit arrays (y is always bf[j])."""
    n = out.size
    fl = np.int64(0)
    for j in range(n):
        x = xs if xs >= 0 else np.int64(af[j])
        y = np.int64(bf[j])
        z = np.int64(cf[j]) if zs < 0 else zs
        o, res, f = _fast_lane(op, mode, daz, bits_f32(np.int32(x)), bits_f32(np.int32(y)),
                               bits_f32(np.int32(z)))
        out[j] = np.uint32(res & 0xFFFFFFFF)
        ok[j] = o
        fl |= np.int64(f) * np.int64(o)
    for j in range(n):
        if not ok[j]:
            x = xs if xs >= 0 else np.int64(af[j])
            y = np.int64(bf[j])
            z = np.int64(cf[j]) if zs < 0 else zs
            if op == OP_ADD:
                v, f = C.add_s(x, y, cfg, 0)
            elif op == OP_MUL:
                v, f = C.mul_s(x, y, cfg)
            else:
                v, f = C.fma_s(x, y, z, cfg)
            out[j] = v
            fl |= f
    return fl


def lane_seq_dot(a, b, cfg, fused):
    return _lane_seq_dot_k(a, b, cfg, fused, fpenv.nb_mxcsr())


@njit(parallel=True, **_NJ)
def _lane_seq_dot_k(a, b, cfg, fused, csr):
    # csr: the caller's MXCSR, set in each worker (see fpsem.fpenv)
    B, m, k = a.shape
    n = b.shape[2]
    mode = C.cfg_mode(cfg)
    daz = C.cfg_daz(cfg) == 1
    out = np.empty((B, m, n), np.uint32)
    fls = np.zeros(B * m, np.int64)
    for r in prange(B * m):
        old = nb_swap_mxcsr(csr)
        t = r // m
        i = r - t * m
        acc = out[t, i]
        tmp = np.empty(n, np.uint32)
        tmp2 = np.empty(n, np.uint32)
        ok = np.empty(n, np.bool_)
        fl = np.int64(0)
        if fused:
            for j in range(n):
                acc[j] = 0
        for kk in range(k):
            x = np.int64(a[t, i, kk])
            brow = b[t, kk]
            if fused:
                fl |= _lane_pass(OP_FMA, mode, daz, x, -1, brow, brow, acc, cfg, tmp, ok)
                acc[:] = tmp
            elif kk == 0:
                fl |= _lane_pass(OP_MUL, mode, daz, x, 0, brow, brow, brow, cfg, acc, ok)
            else:
                fl |= _lane_pass(OP_MUL, mode, daz, x, 0, brow, brow, brow, cfg, tmp, ok)
                fl |= _lane_pass(OP_ADD, mode, daz, -1, 0, acc, tmp, tmp, cfg, tmp2, ok)
                acc[:] = tmp2
        fls[r] = fl
        nb_set_mxcsr(old)
    fl = np.int64(0)
    for r in range(B * m):
        fl |= fls[r]
    return out, fl


@njit(**_NJ)
def lane_seq_sum(x, cfg):
    R, n = x.shape
    mode = C.cfg_mode(cfg)
    daz = C.cfg_daz(cfg) == 1
    out = np.empty(R, np.uint32)
    fl = np.int64(0)
    for r in range(R):
        s = np.int64(x[r, 0])
        for i in range(1, n):
            s, f = _lane_op(OP_ADD, mode, daz, s, np.int64(x[r, i]), 0, cfg)
            fl |= f
        out[r] = s
    return out, fl


@njit(**_NJ)
def ref_max(x, cfg):
    R, n = x.shape
    out = np.empty(R, np.uint32)
    fl = 0
    for r in range(R):
        s = np.int64(x[r, 0])
        for i in range(1, n):
            s, f = C.minmax_s(s, np.int64(x[r, i]), cfg, True, False)
            fl |= f
        out[r] = s
    return out, fl
