"""Fused native kernels of the `cuda` domain (cuda_kernels/fused.cu), one function per op.

Each is `f(D, *args, **kw)` with the op's own signature and performs the generic op's
roundings in the same order (bit-identical to the generic decomposition in this domain,
checked by tests/test_cuda.py). The op registry calls it in place of the generic op
(`fpsem.ops._registry.register_fused`, done in `fpsem.ops`); it returns NotImplemented
for arguments it does not cover (or when the domain's option fused=False), and then the
generic op runs. Nothing here imports the ops: the generic op is the registry's to call.
"""
from __future__ import annotations

import functools

import numpy as np

from ..order import parse_order
from .cuda import EW_THREADS, CudaDomain

__all__ = ["KERNELS", "CudaDomain"]

def _sum_kind(order, maxw):
    """(kind, w) of a block-level sum in the fused kernels, or None."""
    if order.kind in ("sequential", "fma_chain", "native"):
        return 0, 0
    if order.kind == "tree" and order.k <= maxw:
        return 1, order.k
    return None


def softmax(D, x, axis=-1, acc=None):
    order = _order(D, "softmax", acc)
    sk = _sum_kind(order, 256)
    nd = D.ndim(x) if D.is_value(x) else -1
    if sk is None or nd < 1 or axis not in (-1, nd - 1) or x.shape[-1] == 0:
        return NotImplemented
    n = x.shape[-1]
    R = x.size // n
    out = D._empty(x.shape)
    if R:
        D._fn("fused", "softmax_rows")(np.uintp(out.ptr), np.uintp(x.ptr), np.int64(R), np.int64(n),
                                          np.int64(sk[0]), np.int64(sk[1]), block=(256, 1, 1),
                                          grid=(int(min(R, 65535)), 1))
    return out


def layer_norm(D, x, gamma=None, beta=None, eps="1e-5", acc=None):
    order = _order(D, "layer_norm", acc)
    sk = _sum_kind(order, 256)
    ok = sk is not None and D.is_value(x) and x.ndim >= 1 and x.shape[-1] > 0 and not isinstance(eps, float)
    n = x.shape[-1] if ok else 0
    for g in (gamma, beta):
        if g is not None and not (D.is_value(g) and g.shape == (n,)):
            ok = False
    if not ok:
        return NotImplemented
    R = x.size // n
    out = D._empty(x.shape)
    if R:
        D._fn("fused", "layer_norm_rows")(
            np.uintp(out.ptr), np.uintp(x.ptr), np.uintp((gamma or x).ptr), np.uintp((beta or x).ptr),
            np.int64(R), np.int64(n), np.int64(sk[0]), np.int64(sk[1]),
            np.int64(gamma is not None), np.int64(beta is not None),
            D.host_const(n), D.host_const(eps), block=(256, 1, 1), grid=(int(min(R, 65535)), 1))
    return out


def gelu_tanh(D, x, *, sqrt_2_over_pi):
    """`sqrt_2_over_pi`: the op's exact constant (a decimal string), bound at registration."""
    if not D.is_value(x):
        return NotImplemented
    out = D._empty(x.shape)
    if out.size:
        D._fn("fused", "gelu_tanh_ew")(
            np.uintp(out.ptr), np.uintp(x.ptr), np.int64(x.size), D.host_const(sqrt_2_over_pi),
            D.host_const("0.044715"), D.host_const("0.5"), D.host_const(1),
            block=(EW_THREADS, 1, 1), grid=D._grid(x.size))
    return out


def _attention_plan(D, q, k, v, acc, exp, extra_smem):
    """Launch parameters shared by the fused attention kernels, or None (use the generic op)."""
    if exp not in ("exp", "exp2") or not all(D.is_value(t) for t in (q, k, v)):
        return None
    if min(q.ndim, k.ndim, v.ndim) < 2 or not (q.shape[:-2] == k.shape[:-2] == v.shape[:-2]):
        return None
    Tq, d = q.shape[-2:]
    Tk, dk = k.shape[-2:]
    Tv, dv = v.shape[-2:]
    if dk != d or Tv != Tk or 0 in (Tq, Tk, d, dv):
        return None
    order = _order(D, "attention", acc)
    if order.kind not in ("sequential", "fma_chain", "native"):
        return None
    H = int(np.prod(q.shape[:-2], dtype=np.int64))
    if H < 1 or H > 65535 or (extra_smem + d + 129) * 4 > 48 * 1024:
        return None
    return dict(H=H, Tq=Tq, Tk=Tk, d=d, dv=dv, dotfma=int(order.kind != "sequential"),
                exp2=int(exp == "exp2"))


def scaled_dot_product_attention(D, q, k, v, causal=True, scale=None, acc=None, exp="exp",
                                 bias=None, mask=None):
    if bias is not None or mask is not None:
        return NotImplemented
    Tk = k.shape[-2] if D.is_value(k) and k.ndim >= 2 else 0
    p = _attention_plan(D, q, k, v, acc, exp, Tk)
    if p is None:
        return NotImplemented
    sc = np.float32(0) if scale is None else D.host_const(scale)
    out = D._empty(q.shape[:-1] + (p["dv"],))
    smem = 4 * (p["d"] + p["Tk"] + 129)
    D._fn("fused", "sdpa_rows")(
        np.uintp(out.ptr), np.uintp(q.ptr), np.uintp(k.ptr), np.uintp(v.ptr), np.int64(p["Tq"]),
        np.int64(p["Tk"]), np.int64(p["d"]), np.int64(p["dv"]), np.int64(bool(causal)), np.int64(0),
        np.int64(0), np.int64(p["dotfma"]), np.int64(scale is not None), np.int64(p["exp2"]), sc,
        block=(128, 1, 1), grid=(int(p["Tq"]), int(p["H"])), shared=smem)
    return out


def flash_attention(D, q, k, v, causal=True, block=64, scale=None, acc=None, exp="exp"):
    dv = v.shape[-1] if D.is_value(v) and v.ndim >= 2 else 0
    p = None if int(block) < 1 else _attention_plan(D, q, k, v, acc, exp, int(block) + dv)
    if p is None:
        return NotImplemented
    sc = np.float32(0) if scale is None else D.host_const(scale)
    out = D._empty(q.shape[:-1] + (p["dv"],))
    smem = 4 * (p["d"] + int(block) + p["dv"] + 129)
    D._fn("fused", "flash_rows")(
        np.uintp(out.ptr), np.uintp(q.ptr), np.uintp(k.ptr), np.uintp(v.ptr), np.int64(p["Tq"]),
        np.int64(p["Tk"]), np.int64(p["d"]), np.int64(p["dv"]), np.int64(bool(causal)), np.int64(0),
        np.int64(0), np.int64(p["dotfma"]), np.int64(scale is not None), np.int64(p["exp2"]),
        np.int64(block), sc, block=(128, 1, 1), grid=(int(p["Tq"]), int(p["H"])), shared=smem)
    return out


def _order(D, op, acc):
    order = D.acc if acc is None else parse_order(acc)
    D._check_order(op, order)
    return order


def _enabled(fn):
    @functools.wraps(fn)
    def run(D, *args, **kwargs):
        if not D.options["fused"]:
            return NotImplemented
        return fn(D, *args, **kwargs)
    return run


#: op name -> fused implementation (the registry's table is filled from this one)
KERNELS = {f.__name__: _enabled(f) for f in (softmax, layer_norm, gelu_tanh,
                                             scaled_dot_product_attention, flash_attention)}
