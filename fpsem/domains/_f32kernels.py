"""Ordered reduction kernels shared by the numpy float domains and `ieee32`.

Each kernel is one declared accumulation order (fpsem.order), written as a numba
loop in plain IEEE arithmetic: every float32/float64 `+` and `*` in the loop is one
correctly rounded RNE operation (LLVM does not contract a*b + c into an FMA
without fast-math flags), so the loops are bit-exact implementations of the
orders, not approximations.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..emu._kernels import bits_f64, f64_bits

_NJ = dict(cache=True, error_model="numpy", boundscheck=False)


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


@njit(parallel=True, **_NJ)
def seq_dot(a, b):
    """(B, m, k) @ (B, k, n), sequential: c = fl(a_0 b_0); c = fl(c + fl(a_k b_k)),
    k ascending (dtype of a)."""
    B, m, k = a.shape
    n = b.shape[2]
    c = np.empty((B, m, n), dtype=a.dtype)
    for t in range(B):
        at, bt, ct = a[t], b[t], c[t]
        for blk in prange(_ntiles(m, n)):
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


@njit(parallel=True, **_NJ)
def fma_dot32(a, b):
    """(B, m, k) @ (B, k, n), fma_chain: s = +0; s = fma(a_k, b_k, s), k ascending
    (tiled like seq_dot)."""
    B, m, k = a.shape
    n = b.shape[2]
    c = np.zeros((B, m, n), np.float32)
    for t in range(B):
        at, bt, ct = a[t], b[t], c[t]
        for blk in prange(_ntiles(m, n)):
            i0, i1, j0, j1 = _tile(blk, m, n)
            for kk in range(k):
                brow = bt[kk, j0:j1]
                for i in range(i0, i1):
                    aik = at[i, kk]
                    crow = ct[i, j0:j1]
                    for j in range(j1 - j0):
                        crow[j] = fma32(aik, brow[j], crow[j])
    return c
