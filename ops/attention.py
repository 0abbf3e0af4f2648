"""Attention: scaled dot-product, flash (tiled online softmax) and KV-cache decode.

Masking never uses infinities (the exact and interval domains have none): a
masked score is replaced, before the row maximum, by a score that is visible
anyway, and its exponential is replaced by an exact zero. Query i of Tq queries
against Tk keys sits at absolute position Tk - Tq + i and sees keys j <= that.

`exp="exp2"` uses base 2 instead of e (softmax with base 2 is still a softmax);
the exact domain can then evaluate attention on integer scores, which is how the
flash = SDPA theorem is checked over the rationals.
"""
import numpy as np

from ._registry import c, op


def causal_mask(Tq, Tk):
    """bool (Tq, Tk): True where query i may attend key j."""
    return np.arange(Tk)[None, :] <= (np.arange(Tq)[:, None] + (Tk - Tq))


def _scale(D, s, d, scale):
    if scale is None:
        return D.div(s, D.sqrt(c(D, d)))  # s / sqrt(d): sqrt exact for d = 64
    return D.mul(s, c(D, scale))


def _expf(D, exp):
    if exp == "exp":
        return D.exp
    if exp == "exp2":
        return D.exp2
    from fpsem.errors import UnsupportedOption
    raise UnsupportedOption(f"attention[{D.label}]: exp must be 'exp' or 'exp2', got {exp!r}")


def _visible_score(D, s, mask):
    """(..., Tq, 1): per query, the score of the first key it sees (the masked filler:
    a visible score, so the row maximum is that of the visible scores)."""
    seen = mask.any(axis=-1)
    if not seen.all():
        from fpsem.errors import ShapeError
        raise ShapeError(f"attention[{D.label}]: a query sees no key under the mask")
    shp = D.shape(s)
    rows = int(np.prod(shp[:-1], dtype=np.int64))
    first = np.arange(rows) * shp[-1] + mask.argmax(axis=-1).reshape(-1)
    return D.reshape(D.take(D.reshape(s, (rows * shp[-1],)), first, axis=0), shp[:-1] + (1,))


@op(group="attention")
def scaled_dot_product_attention(D, q, k, v, causal=True, scale=None, acc=None, exp="exp",
                                 bias=None, mask=None):
    """softmax(q k^T / sqrt(d) + bias + mask) v for q (..., Tq, d), k (..., Tk, d), v (..., Tk, dv).

    `bias`: a value added to the scaled scores (a relative position bias, say);
    `mask`: a numpy bool array broadcastable to the scores, True where a query sees a
    key (combined with the causal mask); every query must see some key.
    Roundings: the q.k dot (order `acc`), the scaling (1), + bias (1), -max (1), exp,
    the row sum (order `acc`), / (1), and the p.v dot (order `acc`)."""
    Tq, d = D.shape(q)[-2:]
    Tk = D.shape(k)[-2]
    s = _scale(D, D.dot(q, D.swapaxes(k, -1, -2), acc=acc), d, scale)
    if bias is not None:
        s = D.add(s, bias)
    if mask is not None:
        mask = np.broadcast_to(mask, D.shape(s)) & (causal_mask(Tq, Tk) if causal else True)
        fill = _visible_score(D, s, mask)
        s_f = D.where(mask, s, D.broadcast_to(fill, D.shape(s)))
        m = D.max(s_f, axis=-1, keepdims=True)
        e = D.where(mask, _expf(D, exp)(D.sub(s_f, m)), D.zeros(D.shape(s)))
    elif causal:
        mask = causal_mask(Tq, Tk)
        # key 0 is visible to every query: use its score as the masked filler
        s_f = D.where(mask, s, D.broadcast_to(D.getitem(s, (Ellipsis, slice(0, 1))), D.shape(s)))
        m = D.max(s_f, axis=-1, keepdims=True)
        e = D.where(mask, _expf(D, exp)(D.sub(s_f, m)), D.zeros(D.shape(s)))
    else:
        m = D.max(s, axis=-1, keepdims=True)
        e = _expf(D, exp)(D.sub(s, m))
    p = D.div(e, D.sum(e, axis=-1, keepdims=True, acc=acc))
    return D.dot(p, v, acc=acc)


@op(group="attention")
def flash_attention(D, q, k, v, causal=True, block=64, scale=None, acc=None, exp="exp"):
    """Attention by key blocks with an online softmax (Dao et al., FlashAttention, 2022):

        m' = max(m, rowmax s_B);  a = exp(m - m');  p = exp(s_B - m')
        l' = l a + rowsum p;      o' = o a + p v_B;  out = o / l

    Over the reals this equals scaled_dot_product_attention exactly; in floats it
    rounds differently (the rescalings and the final division), which the
    bridge reports. The per-block sums and products use order `acc`."""
    if isinstance(block, bool) or not isinstance(block, int) or block < 1:
        from fpsem.errors import ShapeError
        raise ShapeError(f"flash_attention[{D.label}]: block must be an integer >= 1, got {block!r}")
    Tq, d = D.shape(q)[-2:]
    Tk = D.shape(k)[-2]
    fexp = _expf(D, exp)
    mask = causal_mask(Tq, Tk) if causal else np.ones((Tq, Tk), dtype=bool)
    m = l = o = None
    for j0 in range(0, Tk, block):
        j1 = min(Tk, j0 + block)
        kb = D.getitem(k, (Ellipsis, slice(j0, j1), slice(None)))
        vb = D.getitem(v, (Ellipsis, slice(j0, j1), slice(None)))
        s = _scale(D, D.dot(q, D.swapaxes(kb, -1, -2), acc=acc), d, scale)
        mb = mask[:, j0:j1]
        if not mb.any():
            continue
        if m is None:
            # first block holds key 0, visible to every query under the causal mask
            fill = D.broadcast_to(D.getitem(s, (Ellipsis, slice(0, 1))), D.shape(s))
            m_new = D.max(D.where(mb, s, fill), axis=-1, keepdims=True)
        else:
            fill = D.broadcast_to(m, D.shape(s))
            m_new = D.maximum(m, D.max(D.where(mb, s, fill), axis=-1, keepdims=True))
        sf = D.where(mb, s, D.broadcast_to(m_new, D.shape(s)))
        p = D.where(mb, fexp(D.sub(sf, m_new)), D.zeros(D.shape(s)))
        ps = D.sum(p, axis=-1, keepdims=True, acc=acc)
        pv = D.dot(p, vb, acc=acc)
        if m is None:
            l, o = ps, pv
        else:
            a = fexp(D.sub(m, m_new))
            l = D.add(D.mul(l, a), ps)
            o = D.add(D.mul(o, a), pv)
        m = m_new
    return D.div(o, l)


@op(group="attention")
def kv_cache_append(D, cache, k_new, v_new):
    """Append new keys/values (..., t, d) to a cache (k, v) or None; structural."""
    if cache is None:
        return (k_new, v_new)
    k, v = cache
    return (D.concat([k, k_new], axis=-2), D.concat([v, v_new], axis=-2))


@op(group="attention")
def decode_attention(D, q_new, cache, scale=None, acc=None, exp="exp"):
    """One decode step: the newest query rows against every cached key.
    Identical to the last rows of the causal full forward whenever each dot
    product's order does not depend on the number of rows (every specified order)."""
    k, v = cache
    return scaled_dot_product_attention(D, q_new, k, v, causal=True, scale=scale, acc=acc, exp=exp)


@op(group="attention")
def multi_head_attention(D, x, w_qkv, b_qkv, w_o, b_o, n_head, causal=True, cache=None,
                         flash=False, acc=None):
    """GPT-2 style self-attention: qkv = x W + b, split heads, attention, merge, project.

    x: (T, C). Returns (y, new_cache) where the cache holds (k, v) of shape (H, T_total, C/H)."""
    from .linalg import linear
    T, C = D.shape(x)
    hd = C // n_head
    qkv = linear(D, x, w_qkv, b_qkv, acc=acc)
    split = lambda i: D.transpose(D.reshape(D.getitem(qkv, (slice(None), slice(i * C, (i + 1) * C))),
                                            (T, n_head, hd)), (1, 0, 2))
    q, k, v = split(0), split(1), split(2)
    cache = kv_cache_append(D, cache, k, v)
    kk, vv = cache
    if flash:
        y = flash_attention(D, q, kk, vv, causal=causal, acc=acc)
    else:
        y = scaled_dot_product_attention(D, q, kk, vv, causal=causal, acc=acc)
    y = D.reshape(D.transpose(y, (1, 0, 2)), (T, C))
    return linear(D, y, w_o, b_o, acc=acc), cache
