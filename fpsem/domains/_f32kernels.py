"""Ordered reduction kernels shared by the numpy float domains and `ieee32`.

Each kernel is one declared accumulation order (fpsem.order), written as a numba
loop in plain IEEE arithmetic: every float32/float64 `+` and `*` in the loop is one
correctly rounded RNE operation (LLVM does not contract a*b + c into an FMA
without fast-math flags), so the loops are bit-exact implementations of the
orders, not approximations.
"""
from __future__ import annotations

import concurrent.futures
import functools
import os
import threading

import numba
import numpy as np
from numba import njit, prange

from .. import fpenv
from ..emu._kernels import bits_f64, f64_bits
from ..emu._kernels import fma_hw as _fma_hw
from ..fpenv import nb_set_mxcsr, nb_swap_mxcsr

_NJ = dict(cache=True, nogil=True, error_model="numpy", boundscheck=False)


@njit(**_NJ)
def seq_sum(x):
    """(R, n) -> (R,): s = t0; s = s + t_i, left to right (dtype of x)."""
    R, n = x.shape
    out = np.empty(R, dtype=x.dtype)
    for r in range(R):
        s = x[r, 0]
        for i in range(1, n):
            s = s + x[r, i]
        out[r] = s
    return out


# Output tiles for the matmul kernels: IB rows share each loaded row of b (the
# logits' 154 MB embedding matrix is then streamed m/IB times, not m times) and
# JB columns keep the tile's accumulators in cache; contiguous 1-D row views let
# LLVM vectorize the j loop. Tiles run in parallel (prange); every output is
# still accumulated by one thread in ascending k, so the bits do not depend on
# the tiling or the thread count.
IB, JB = 16, 1024


@njit(inline="always", **_NJ)
def _tile(blk, m, n):
    """Rows [i0, i1) and columns [j0, j1) of output tile number blk."""
    njb = (n + JB - 1) // JB
    ib = blk // njb
    i0, j0 = ib * IB, (blk - ib * njb) * JB
    return i0, min(m, i0 + IB), j0, min(n, j0 + JB)


@njit(inline="always", **_NJ)
def _ntiles(m, n):
    return ((m + IB - 1) // IB) * ((n + JB - 1) // JB)


# The prange kernels take the caller's MXCSR (`csr`) and run each tile under it:
# numba's worker threads keep the MXCSR they were created with, which need not
# be the caller's (fpsem.fpenv). The Python wrappers pass the current one.
def seq_dot(a, b):
    """(B, m, k) @ (B, k, n), sequential: c = fl(a_0 b_0); c = fl(c + fl(a_k b_k)),
    k ascending (dtype of a)."""
    return _seq_dot(a, b, fpenv.nb_mxcsr())


@njit(parallel=True, **_NJ)
def _seq_dot(a, b, csr):
    B, m, k = a.shape
    n = b.shape[2]
    c = np.empty((B, m, n), dtype=a.dtype)
    for t in range(B):
        at, bt, ct = a[t], b[t], c[t]
        for blk in prange(_ntiles(m, n)):
            old = nb_swap_mxcsr(csr)
            i0, i1, j0, j1 = _tile(blk, m, n)
            b0 = bt[0, j0:j1]
            for i in range(i0, i1):
                a0 = at[i, 0]
                crow = ct[i, j0:j1]
                for j in range(j1 - j0):
                    crow[j] = a0 * b0[j]
            for kk in range(1, k):
                brow = bt[kk, j0:j1]
                for i in range(i0, i1):
                    aik = at[i, kk]
                    crow = ct[i, j0:j1]
                    for j in range(j1 - j0):
                        crow[j] = crow[j] + aik * brow[j]
            nb_set_mxcsr(old)
    return c


@njit(inline="always", **_NJ)
def fma32(x, y, z):
    """binary32 fma(x, y, z) rounded once (RNE), through binary64.

    The product of two binary32 values is exact in binary64 (48 <= 53 bits);
    s = RN64(p + z) with TwoSum error e gives p + z = s + e exactly. Round to odd
    on the bits (truncate toward zero: one encoding down when e points toward
    zero; then set the last bit), then one RN to binary32: round-to-odd at
    53 >= 24 + 2 bits followed by RN is correctly rounded (Boldo & Melquiond
    2008). Non-finite s: e is NaN, both tests are false and s passes through."""
    p = np.float64(x) * np.float64(y)
    zz = np.float64(z)
    s = p + zz
    bb = s - p
    e = (p - (s - bb)) + (zz - bb)
    inx = (e > 0.0) | (e < 0.0)
    toward = inx & ((e > 0.0) != (s > 0.0))
    return np.float32(bits_f64((f64_bits(s) - np.int64(toward)) | np.int64(inx)))


@njit(**_NJ)
def fma32_array(x, y, z):
    """Elementwise fma32 over same-shape contiguous float32 arrays."""
    out = np.empty(x.shape, dtype=np.float32)
    xf, yf, zf, of = x.ravel(), y.ravel(), z.ravel(), out.ravel()
    for i in range(xf.size):
        of[i] = fma32(xf[i], yf[i], zf[i])
    return out


def fma_dot32(a, b):
    """(B, m, k) @ (B, k, n), fma_chain: s = +0; s = fma(a_k, b_k, s), k ascending
    (tiled like seq_dot)."""
    return _fma_dot32(a, b, fpenv.nb_mxcsr())


@njit(parallel=True, **_NJ)
def _fma_dot32(a, b, csr):
    B, m, k = a.shape
    n = b.shape[2]
    c = np.zeros((B, m, n), np.float32)
    for t in range(B):
        at, bt, ct = a[t], b[t], c[t]
        for blk in prange(_ntiles(m, n)):
            old = nb_swap_mxcsr(csr)
            i0, i1, j0, j1 = _tile(blk, m, n)
            for kk in range(k):
                brow = bt[kk, j0:j1]
                for i in range(i0, i1):
                    aik = at[i, kk]
                    crow = ct[i, j0:j1]
                    for j in range(j1 - j0):
                        crow[j] = fma32(aik, brow[j], crow[j])
            nb_set_mxcsr(old)
    return c


# ------------------------------------------------------------------ ordered dot programs
# pairwise, blocked(kb) and tree(w) are compositions (fpsem.domains._orders.dot3)
# of sequential pieces with the correctly rounded add. prog_dot runs the same
# composition per output tile: the order is compiled in Python into a postfix
# program (fpsem.domains._orders.dot_program) over a small stack of tile buffers,
#   SEQ(k0, k1, ks)  push  fl-sequential dot over k = k0, k0+ks, ... < k1
#   ADD              pop y, pop x, push x + y
#   PW(k0, k1)       push  the pairwise dot of k0 <= k < k1 (k1 - k0 <= 8), one pass
#   ADDPW(k0, k1)    top = top + PW(k0, k1)   (PW followed by ADD, fused)
# Every + and * below is one IEEE RNE operation of the array dtype, applied to
# the same operands as in the composition, so each output has the composition's
# bits whatever the tiling or the thread count. The k loop of a SEQ piece is
# unrolled by four: r = (((r + p0) + p1) + p2) + p3 is the sequential order with
# the partial sums kept in registers instead of memory.
OP_SEQ, OP_ADD, OP_PW, OP_ADDPW = 0, 1, 2, 3
PW_MAX = 8
PIB, PJB = 16, 256


@njit(**_NJ)
def _seq_piece(at, bt, i0, i1, j0, j1, k0, k1, ks, dst):
    """dst[i - i0, :] = sequential dot over k = k0, k0 + ks, ... < k1 (>= 1 term).
    r = fl(a0 b0), then groups of four terms kept in registers, then the last
    terms one pass each: every + and * is the sequential order's, so the bits
    are the same whatever the grouping (three loops only: each unrolled variant
    costs compile time on a cold cache)."""
    w = j1 - j0
    cnt = (k1 - k0 + ks - 1) // ks
    b0 = bt[k0, j0:j1]
    for i in range(i0, i1):
        a0 = at[i, k0]
        r = dst[i - i0, :w]
        for j in range(w):
            r[j] = a0 * b0[j]
    q = 1
    while q + 4 <= cnt:
        ka = k0 + q * ks
        kb, kc, kd = ka + ks, ka + 2 * ks, ka + 3 * ks
        b0, b1, b2, b3 = bt[ka, j0:j1], bt[kb, j0:j1], bt[kc, j0:j1], bt[kd, j0:j1]
        for i in range(i0, i1):
            a0, a1, a2, a3 = at[i, ka], at[i, kb], at[i, kc], at[i, kd]
            r = dst[i - i0, :w]
            for j in range(w):
                r[j] = (((r[j] + a0 * b0[j]) + a1 * b1[j]) + a2 * b2[j]) + a3 * b3[j]
        q += 4
    while q < cnt:
        ka = k0 + q * ks
        b0 = bt[ka, j0:j1]
        for i in range(i0, i1):
            a0 = at[i, ka]
            r = dst[i - i0, :w]
            for j in range(w):
                r[j] = r[j] + a0 * b0[j]
        q += 1


@njit(**_NJ)
def _add_piece(x, y, nr, w):
    """x[:nr, :w] = x + y, elementwise."""
    for ii in range(nr):
        xr, yr = x[ii, :w], y[ii, :w]
        for j in range(w):
            xr[j] = xr[j] + yr[j]


@njit(**_NJ)
def _pw_piece(at, bt, i0, i1, j0, j1, lo, size, dst, add):
    """dst (= or +=) the pairwise dot P(lo, lo + size), size <= 8, written out:
    P(lo, hi) = P(lo, h) + P(h, hi), h = lo + (hi - lo) // 2, leaves fl(a_k b_k)."""
    w = j1 - j0
    if size == 1:
        b0 = bt[lo + 0, j0:j1]
        for i in range(i0, i1):
            a0 = at[i, lo + 0]
            r = dst[i - i0, :w]
            if add:
                for j in range(w):
                    r[j] = r[j] + (a0 * b0[j])
            else:
                for j in range(w):
                    r[j] = a0 * b0[j]
    elif size == 2:
        b0 = bt[lo + 0, j0:j1]
        b1 = bt[lo + 1, j0:j1]
        for i in range(i0, i1):
            a0, a1 = at[i, lo + 0], at[i, lo + 1]
            r = dst[i - i0, :w]
            if add:
                for j in range(w):
                    r[j] = r[j] + (a0 * b0[j] + a1 * b1[j])
            else:
                for j in range(w):
                    r[j] = a0 * b0[j] + a1 * b1[j]
    elif size == 3:
        b0 = bt[lo + 0, j0:j1]
        b1 = bt[lo + 1, j0:j1]
        b2 = bt[lo + 2, j0:j1]
        for i in range(i0, i1):
            a0, a1, a2 = at[i, lo + 0], at[i, lo + 1], at[i, lo + 2]
            r = dst[i - i0, :w]
            if add:
                for j in range(w):
                    r[j] = r[j] + (a0 * b0[j] + (a1 * b1[j] + a2 * b2[j]))
            else:
                for j in range(w):
                    r[j] = a0 * b0[j] + (a1 * b1[j] + a2 * b2[j])
    elif size == 4:
        b0 = bt[lo + 0, j0:j1]
        b1 = bt[lo + 1, j0:j1]
        b2 = bt[lo + 2, j0:j1]
        b3 = bt[lo + 3, j0:j1]
        for i in range(i0, i1):
            a0, a1, a2, a3 = at[i, lo + 0], at[i, lo + 1], at[i, lo + 2], at[i, lo + 3]
            r = dst[i - i0, :w]
            if add:
                for j in range(w):
                    r[j] = r[j] + ((a0 * b0[j] + a1 * b1[j]) + (a2 * b2[j] + a3 * b3[j]))
            else:
                for j in range(w):
                    r[j] = (a0 * b0[j] + a1 * b1[j]) + (a2 * b2[j] + a3 * b3[j])
    elif size == 5:
        b0 = bt[lo + 0, j0:j1]
        b1 = bt[lo + 1, j0:j1]
        b2 = bt[lo + 2, j0:j1]
        b3 = bt[lo + 3, j0:j1]
        b4 = bt[lo + 4, j0:j1]
        for i in range(i0, i1):
            a0, a1, a2, a3, a4 = at[i, lo + 0], at[i, lo + 1], at[i, lo + 2], at[i, lo + 3], at[i, lo + 4]
            r = dst[i - i0, :w]
            if add:
                for j in range(w):
                    r[j] = r[j] + ((a0 * b0[j] + a1 * b1[j]) + (a2 * b2[j] + (a3 * b3[j] + a4 * b4[j])))
            else:
                for j in range(w):
                    r[j] = (a0 * b0[j] + a1 * b1[j]) + (a2 * b2[j] + (a3 * b3[j] + a4 * b4[j]))
    elif size == 6:
        b0 = bt[lo + 0, j0:j1]
        b1 = bt[lo + 1, j0:j1]
        b2 = bt[lo + 2, j0:j1]
        b3 = bt[lo + 3, j0:j1]
        b4 = bt[lo + 4, j0:j1]
        b5 = bt[lo + 5, j0:j1]
        for i in range(i0, i1):
            a0, a1, a2, a3, a4, a5 = at[i, lo + 0], at[i, lo + 1], at[i, lo + 2], at[i, lo + 3], at[i, lo + 4], at[i, lo + 5]
            r = dst[i - i0, :w]
            if add:
                for j in range(w):
                    r[j] = r[j] + ((a0 * b0[j] + (a1 * b1[j] + a2 * b2[j])) + (a3 * b3[j] + (a4 * b4[j] + a5 * b5[j])))
            else:
                for j in range(w):
                    r[j] = (a0 * b0[j] + (a1 * b1[j] + a2 * b2[j])) + (a3 * b3[j] + (a4 * b4[j] + a5 * b5[j]))
    elif size == 7:
        b0 = bt[lo + 0, j0:j1]
        b1 = bt[lo + 1, j0:j1]
        b2 = bt[lo + 2, j0:j1]
        b3 = bt[lo + 3, j0:j1]
        b4 = bt[lo + 4, j0:j1]
        b5 = bt[lo + 5, j0:j1]
        b6 = bt[lo + 6, j0:j1]
        for i in range(i0, i1):
            a0, a1, a2, a3, a4, a5, a6 = at[i, lo + 0], at[i, lo + 1], at[i, lo + 2], at[i, lo + 3], at[i, lo + 4], at[i, lo + 5], at[i, lo + 6]
            r = dst[i - i0, :w]
            if add:
                for j in range(w):
                    r[j] = r[j] + ((a0 * b0[j] + (a1 * b1[j] + a2 * b2[j])) + ((a3 * b3[j] + a4 * b4[j]) + (a5 * b5[j] + a6 * b6[j])))
            else:
                for j in range(w):
                    r[j] = (a0 * b0[j] + (a1 * b1[j] + a2 * b2[j])) + ((a3 * b3[j] + a4 * b4[j]) + (a5 * b5[j] + a6 * b6[j]))
    elif size == 8:
        b0 = bt[lo + 0, j0:j1]
        b1 = bt[lo + 1, j0:j1]
        b2 = bt[lo + 2, j0:j1]
        b3 = bt[lo + 3, j0:j1]
        b4 = bt[lo + 4, j0:j1]
        b5 = bt[lo + 5, j0:j1]
        b6 = bt[lo + 6, j0:j1]
        b7 = bt[lo + 7, j0:j1]
        for i in range(i0, i1):
            a0, a1, a2, a3, a4, a5, a6, a7 = at[i, lo + 0], at[i, lo + 1], at[i, lo + 2], at[i, lo + 3], at[i, lo + 4], at[i, lo + 5], at[i, lo + 6], at[i, lo + 7]
            r = dst[i - i0, :w]
            if add:
                for j in range(w):
                    r[j] = r[j] + (((a0 * b0[j] + a1 * b1[j]) + (a2 * b2[j] + a3 * b3[j])) + ((a4 * b4[j] + a5 * b5[j]) + (a6 * b6[j] + a7 * b7[j])))
            else:
                for j in range(w):
                    r[j] = ((a0 * b0[j] + a1 * b1[j]) + (a2 * b2[j] + a3 * b3[j])) + ((a4 * b4[j] + a5 * b5[j]) + (a6 * b6[j] + a7 * b7[j]))


@njit(inline="always", **_NJ)
def _cdiv(x, y):
    return (x + y - 1) // y


def prog_dot(a, b, prog, depth):
    """(B, m, k) @ (B, k, n) under the order compiled into `prog` (rows of
    (op, k0, k1, ks), see above; `depth` stack slots); dtype of a. Output tiles
    are split over threads (`_tiles_threaded`)."""
    B, m, k = a.shape
    n = b.shape[2]
    c = np.empty((B, m, n), dtype=a.dtype)
    nib, njb = _cdiv(m, PIB), _cdiv(n, PJB)
    nt = nib * njb
    # read-only views: numba types writeable and read-only arrays apart, so operands
    # with mixed flags (weights, broadcast views) compiled the tile kernel, the
    # biggest of all, up to four times on a cold cache; now once per dtype
    a, b = _readonly(a), _readonly(b)
    kernel = _seq_tiles if np.all((prog[:, 0] == OP_SEQ) | (prog[:, 0] == OP_ADD)) else _prog_tiles
    _tiles_threaded(kernel, B * nt, B * m * n * k, (a, b, c, nt, nib, prog, depth))
    return c


def _readonly(x):
    v = x.view()
    v.flags.writeable = False
    return v


@njit(inline="always", **_NJ)
def _prog_tile(blk, nt, nib, m, n):
    """(batch, i0, i1, j0, j1) of output tile blk: row tiles innermost, so
    consecutive tiles share one panel of b."""
    t = blk // nt
    r = blk - t * nt
    jb = r // nib
    ib = r - jb * nib
    i0, j0 = ib * PIB, jb * PJB
    return t, i0, min(m, i0 + PIB), j0, min(n, j0 + PJB)


@njit(inline="always", **_NJ)
def _store_tile(ct, s0, i0, i1, j0, j1):
    w = j1 - j0
    for ii in range(i1 - i0):
        cr, sr = ct[i0 + ii, j0:j1], s0[ii, :w]
        for j in range(w):
            cr[j] = sr[j]


@njit(**_NJ)
def _prog_tiles(a, b, c, nt, nib, prog, depth, blk0, blk1):
    """Output tiles blk0 <= blk < blk1 of prog_dot, any program."""
    m, n = a.shape[1], b.shape[2]
    st = np.empty((depth, PIB, PJB), dtype=a.dtype)
    for blk in range(blk0, blk1):
        t, i0, i1, j0, j1 = _prog_tile(blk, nt, nib, m, n)
        at, bt = a[t], b[t]
        top = -1
        for q in range(prog.shape[0]):
            op, k0, k1, ks = prog[q, 0], prog[q, 1], prog[q, 2], prog[q, 3]
            if op == OP_SEQ:
                top += 1
                _seq_piece(at, bt, i0, i1, j0, j1, k0, k1, ks, st[top])
            elif op == OP_ADD:
                _add_piece(st[top - 1], st[top], i1 - i0, j1 - j0)
                top -= 1
            elif op == OP_PW:
                top += 1
                _pw_piece(at, bt, i0, i1, j0, j1, k0, k1 - k0, st[top], False)
            else:
                _pw_piece(at, bt, i0, i1, j0, j1, k0, k1 - k0, st[top], True)
        _store_tile(c[t], st[0], i0, i1, j0, j1)


@njit(**_NJ)
def _seq_tiles(a, b, c, nt, nib, prog, depth, blk0, blk1):
    """_prog_tiles for programs of SEQ and ADD only (sequential, blocked, tree):
    without the pairwise pieces, whose unrolled code is most of the full
    kernel's compile time, so a cold cache compiles only what these orders use."""
    m, n = a.shape[1], b.shape[2]
    st = np.empty((depth, PIB, PJB), dtype=a.dtype)
    for blk in range(blk0, blk1):
        t, i0, i1, j0, j1 = _prog_tile(blk, nt, nib, m, n)
        at, bt = a[t], b[t]
        top = -1
        for q in range(prog.shape[0]):
            if prog[q, 0] == OP_SEQ:
                top += 1
                _seq_piece(at, bt, i0, i1, j0, j1, prog[q, 1], prog[q, 2], prog[q, 3], st[top])
            else:
                _add_piece(st[top - 1], st[top], i1 - i0, j1 - j0)
                top -= 1
        _store_tile(c[t], st[0], i0, i1, j0, j1)


# Threads for the tiled kernels: a nogil numba function run on contiguous tile
# ranges from a small Python thread pool. (A numba parallel loop did the same at
# the price of 4-7 s more compilation per dtype on a cold cache, which every first
# `fpsem run` paid.) Tiles write disjoint outputs; the bits do not depend on the
# split. The thread count follows numba's (NUMBA_NUM_THREADS, set_num_threads).
_POOL = None
_POOL_PID = None
_POOL_LOCK = threading.Lock()
_MIN_PARALLEL_WORK = 1 << 18  # multiply-adds; below this one thread is faster


def _pool(nthreads):
    global _POOL, _POOL_PID
    with _POOL_LOCK:
        # a forked child inherits the pool object but not its threads: make a new one
        if _POOL is None or _POOL._max_workers < nthreads or _POOL_PID != os.getpid():
            _POOL = concurrent.futures.ThreadPoolExecutor(max_workers=nthreads,
                                                          thread_name_prefix="fpsem-tiles")
            _POOL_PID = os.getpid()
        return _POOL


def _under(csr, kernel, *args):
    old = nb_swap_mxcsr(csr)
    try:
        kernel(*args)
    finally:
        nb_set_mxcsr(old)


def _tiles_threaded(kernel, ntiles, work, args):
    """kernel(*args, lo, hi) over 0 <= tile < ntiles, split over numba's thread count."""
    nth = min(numba.get_num_threads(), ntiles)
    if nth <= 1 or work < _MIN_PARALLEL_WORK:
        kernel(*args, 0, ntiles)
        return
    cuts = [ntiles * i // nth for i in range(nth + 1)]
    # pool threads run under the caller's MXCSR (they keep the one they were created with)
    csr = fpenv.nb_mxcsr()
    futs = [_pool(nth).submit(_under, csr, kernel, *args, cuts[i], cuts[i + 1]) for i in range(1, nth)]
    kernel(*args, cuts[0], cuts[1])
    for f in futs:
        f.result()


# ------------------------------------------------------------------ dispatch
@functools.lru_cache(maxsize=256)
def _program(order, k):
    from ._orders import dot_program
    prog, depth = dot_program(order, k)
    prog.setflags(write=False)
    return prog, depth


def ordered_dot(a, b, order):
    """Fast kernel for (B, m, k) @ (B, k, n), k >= 1, C-contiguous float32 or
    float64 operands, under `order` (sequential, pairwise, blocked, tree; and
    fma_chain, whose NaN outputs the caller recomputes); None if there is none."""
    kind = order.kind
    if kind == "fma_chain":
        return fma_dot_hw(a, b)
    if kind in ("sequential", "pairwise", "blocked", "tree"):
        prog, depth = _program(order, a.shape[2])
        return prog_dot(a, b, prog, depth)
    return None


def ordered_sum(x, order):
    """Row sums of a C-contiguous float32/float64 (R, n), n >= 1, under `order`
    (pairwise, blocked, tree): the order's dot program with unit weights. Each
    product fl(1 * x_k) is x_k itself (finite values, signed zeros, subnormals and
    infinities alike), so every add is the one `_orders.sum_rows` performs and
    the bits are the composition's; NaN outputs carry unspecified payloads, and
    the caller recomputes them. The rows become the columns of the dot, so the
    kernel's vector loop runs across rows."""
    prog, depth = _program(order, x.shape[1])
    ones = np.ones((1, 1, x.shape[1]), x.dtype)
    return prog_dot(ones, np.ascontiguousarray(x.T)[None], prog, depth)[0, 0]


# ------------------------------------------------------------------ fma_chain
def fma_dot_hw(a, b):
    """(B, m, k) @ (B, k, n), fma_chain: s = +0; s = fma(a_k, b_k, s), k ascending,
    with the CPU's fused multiply-add: the same correctly rounded fma as fma32
    (round to odd through binary64), so the same bits wherever the result is not
    NaN (NaN payloads may differ: callers recompute NaN outputs with fma_dot32).
    Tiled like prog_dot, k unrolled by four (s stays in a register)."""
    return _fma_dot_hw(a, b, fpenv.nb_mxcsr())


@njit(parallel=True, **_NJ)
def _fma_dot_hw(a, b, csr):
    B, m, k = a.shape
    n = b.shape[2]
    c = np.empty((B, m, n), dtype=a.dtype)
    nib, njb = _cdiv(m, PIB), _cdiv(n, PJB)
    nt = nib * njb
    zero = a.dtype.type(0)
    for blk in prange(B * nt):
        old = nb_swap_mxcsr(csr)
        t = blk // nt
        r = blk - t * nt
        jb = r // nib
        ib = r - jb * nib
        i0, j0 = ib * PIB, jb * PJB
        i1, j1 = min(m, i0 + PIB), min(n, j0 + PJB)
        at, bt, ct = a[t], b[t], c[t]
        w = j1 - j0
        for i in range(i0, i1):
            cr = ct[i, j0:j1]
            for j in range(w):
                cr[j] = zero
        k4 = k - k % 4
        for kk in range(0, k4, 4):
            b0, b1, b2, b3 = bt[kk, j0:j1], bt[kk + 1, j0:j1], bt[kk + 2, j0:j1], bt[kk + 3, j0:j1]
            for i in range(i0, i1):
                a0, a1, a2, a3 = at[i, kk], at[i, kk + 1], at[i, kk + 2], at[i, kk + 3]
                cr = ct[i, j0:j1]
                for j in range(w):
                    cr[j] = _fma_hw(a3, b3[j], _fma_hw(a2, b2[j], _fma_hw(a1, b1[j], _fma_hw(a0, b0[j], cr[j]))))
        for kk in range(k4, k):
            b0 = bt[kk, j0:j1]
            for i in range(i0, i1):
                a0 = at[i, kk]
                cr = ct[i, j0:j1]
                for j in range(w):
                    cr[j] = _fma_hw(a0, b0[j], cr[j])
        nb_set_mxcsr(old)
    return c


@njit(**_NJ)
def fma_array_hw(x, y, z):
    """Elementwise fma(x, y, z) over same-shape contiguous arrays of one float
    dtype, rounded once (RNE) by the CPU's fused multiply-add (see _fma_hw).
    Non-finite operands follow IEEE 754: fma(1e300, 1e300, -inf) = -inf, since
    the exact product is finite."""
    out = np.empty(x.shape, dtype=x.dtype)
    xf, yf, zf, of = x.ravel(), y.ravel(), z.ravel(), out.ravel()
    for i in range(xf.size):
        of[i] = _fma_hw(xf[i], yf[i], zf[i])
    return out
