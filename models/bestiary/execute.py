"""Run a bestiary spec: every layer record executed with fpsem.ops over any domain.

    >>> import fpsem
    >>> from fpsem.models import get_model
    >>> m = get_model("resnet-18")          # the tiny derivation, seeded random weights
    >>> y = m.forward(fpsem.domain("ieee32"), *m.default_inputs())

`BestiaryModel` turns the tiny derivation (models/bestiary/tiny.py) of a catalogue entry
into a zoo model. Its parameters are created by the forward pass itself: the first run (in
float32, at construction) asks for every tensor by name with `X.p(name, shape, init)`, and
later runs, in any domain, read the same names; so the executed weights are exactly the
ones the records describe, and `n_trainable` equals the tiny spec's `params()` (a test).
BatchNorm running statistics, frozen BatchNorm terms and LeNet-5's hand-set RBF weights
are buffers (held in `params`, which every domain converts, but not counted as trainable).

What the records leave open is chosen per architecture in `ARCH` (activation, pre- or
post-norm transformers, output squashing), following the papers. Simplifications, all
stated where they happen: nearest (not bilinear) upsampling in DeepLab's decoder, DETR's
positions added once to the encoder input and its queries fed as the decoder input, Swin's
shifted-window mask as an exact zero weight (PyTorch adds -100), LeNet-5's squashing as
plain tanh and its RBF penalties negated as logits, NeRF with evenly spaced samples (no
importance resampling), ConvTranspose as zero insertion + convolution (exact zeros join
the dot products).

Names: single-tower models tap `layers.<i>.<part>` and the layer's output as
`layers.<i>.<label or kind>`; multi-tower ones `<tower>.<i>....`; the result is `logits`
(classifiers, decoders) or `output`. `fpsem.trace.step` is called once per top-level
layer.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fpsem import ops
from fpsem.errors import FpsemError, ShapeError, UnsupportedOption
from fpsem.trace import full_name, scope, step, tap

from ..base import Model, config_from
from . import layers as L
from .catalog import CATALOG
from .tiny import tiny

PI = "3.14159265358979323846264338327950288419716939937510"

#: per-architecture choices the records leave open
ARCH = {
    "LeNet-5": dict(act="tanh"),
    "MobileNet V2": dict(act="relu6"),
    "EfficientNet-B0": dict(act="silu"),
    "MobileViT-S": dict(act="silu"),
    "ConvNeXt-T": dict(act="gelu_erf", plain_act=False),
    "ViT-Tiny": dict(act="gelu_erf"), "ViT-B/16": dict(act="gelu_erf"),
    "Swin-T": dict(act="gelu_erf"),
    "SAM ViT-B encoder": dict(act="gelu_erf", plain_act=False),
    "YOLOv1": dict(act="leaky"),
    "BERT-base": dict(act="gelu_erf", post_norm=True, out_act="tanh"),
    "GPT-2 small": dict(act="gelu_tanh"),
    "CLIP ViT-B/32": dict(act="gelu_tanh"),
    "Whisper-small encoder": dict(act="gelu_erf"),
    "Mamba-130M": dict(act="silu"),
    "DETR-R50": dict(post_norm=True),
    "DCGAN": dict(out_act="tanh"),
    "CycleGAN": dict(out_act="tanh", instance_norm=True),
}

#: kinds of the layer records this executor runs (every kind in layers.KINDS but these)
NOT_EXECUTED = {
    "wavenet_block": "no catalogue entry uses it (would need a causal dilated conv1d and a skip sum)",
    "fpn_module": "no catalogue entry uses it (needs the whole feature pyramid as input)",
}


def _c(D, v):
    return D.const(v)


# ----------------------------------------------------------------------------- context

class _X:
    """One forward pass: the domain, the parameter source, per-architecture choices."""

    def __init__(self, model, D, init=False):
        self.m, self.D, self.init = model, D, init
        self.P = None if init else model.P(D)
        self.arch = ARCH.get(model.entry.name, {})
        self.tied = None
        self.images = []   # (value, spec shape) of every image-shaped layer output
        self.skips = []    # U-Net's contracting outputs
        self.memory = None
        self.logit_scale = None
        self.rays = None

    def p(self, name, shape, init="w", fan=None, buffer=False):
        full = full_name(name)
        if not self.init:
            return self.P[full]
        rng = self.m._init_rng
        shape = tuple(int(s) for s in shape)
        if init == "w":       # He: std sqrt(2 / fan_in)
            a = rng.standard_normal(shape) * math.sqrt(2.0 / fan)
        elif init == "lin":   # std 1/sqrt(fan_in): no activation follows
            a = rng.standard_normal(shape) / math.sqrt(fan)
        elif init == "b":
            b = 1.0 / math.sqrt(fan)
            a = rng.uniform(-b, b, shape)
        elif init == "gamma":
            a = 1 + 0.1 * rng.standard_normal(shape)
        elif init in ("beta", "mean"):
            a = 0.1 * rng.standard_normal(shape)
        elif init == "var":
            a = 1 + 0.2 * rng.uniform(0, 1, shape)
        elif init == "embed":
            a = 0.5 * rng.standard_normal(shape)
        elif init == "small":
            a = 0.1 * rng.standard_normal(shape)
        elif init == "ones":
            a = np.ones(shape)
        elif init == "sign":
            a = np.sign(rng.standard_normal(shape))
        elif init == "A_log":  # S4D-real: A = -(1..N)
            a = np.log(np.tile(np.arange(1, shape[1] + 1), (shape[0], 1)))
        elif init == "logit_scale":
            a = np.full(shape, math.log(1 / 0.07))
        else:  # pragma: no cover
            raise ValueError(init)
        arr = np.asarray(a, dtype=np.float32)
        if full in self.m._store:
            raise FpsemError(f"parameter {full} requested twice")
        self.m._store[full] = arr
        if buffer:
            self.m._buffers.add(full)
        return self.D.asarray(arr)

    def act(self, x, name=None):
        return _act(self.D, name or self.arch.get("act", "relu"), x)


def _act(D, name, x):
    if name in (None, "none"):
        return x
    if name == "relu":
        return ops.relu(D, x)
    if name == "relu6":
        return D.minimum(ops.relu(D, x), D.broadcast_to(_c(D, 6), D.shape(x)))
    if name == "leaky":
        return D.maximum(x, D.mul(x, _c(D, "0.1")))
    if name == "tanh":
        return D.tanh(x)
    if name == "sigmoid":
        return ops.sigmoid(D, x)
    return getattr(ops, name)(D, x)


# ----------------------------------------------------------------------------- primitives
# images are (1, C, H, W), 1-D signals (1, C, L), vectors (1, D), tokens (..., T, D)

def _conv(X, l, x, name="conv"):
    D = X.D
    with scope(name):
        fan = (l.cin // l.groups) * l.k * l.k
        w = X.p("weight", (l.cout, l.cin // l.groups, l.k, l.k), "w", fan)
        b = X.p("bias", (l.cout,), "b", fan) if l.bias else None
        y = ops.conv2d(D, x, w, b, stride=l.stride, padding=l._pad(), dilation=l.dilation, groups=l.groups)
    return tap(D, name, y)


def _conv1d(X, l, x, name="conv"):
    D = X.D
    with scope(name):
        fan = (l.cin // l.groups) * l.k
        w = X.p("weight", (l.cout, l.cin // l.groups, l.k), "w", fan)
        b = X.p("bias", (l.cout,), "b", fan) if l.bias else None
        pad = (l.k // 2) * l.dilation if l.pad is None else l.pad
        y = ops.conv1d(D, x, w, b, stride=l.stride, padding=pad, dilation=l.dilation, groups=l.groups)
    return tap(D, name, y)


def _dilate(D, x, s, axis):
    """Insert s-1 zeros between neighbours along `axis` (structural, exact)."""
    if s == 1:
        return x
    shp = D.shape(x)
    z = D.zeros(shp)
    st = D.stack([x] + [z] * (s - 1), axis=axis + 1)
    new = shp[:axis] + (shp[axis] * s,) + shp[axis + 1:]
    y = D.reshape(st, new)
    return D.getitem(y, (slice(None),) * axis + (slice(0, (shp[axis] - 1) * s + 1),))


def _conv_t(X, l, x, name="convt"):
    """ConvTranspose2d (PyTorch weight layout (cin, cout, k, k)) as zero insertion, padding
    k-1-pad (+ output_pad at the end) and a convolution with the flipped kernel."""
    D = X.D
    with scope(name):
        fan = l.cin * l.k * l.k // (l.stride * l.stride)
        w = X.p("weight", (l.cin, l.cout, l.k, l.k), "w", max(1, fan))
        b = X.p("bias", (l.cout,), "b", max(1, fan)) if l.bias else None
        flip = np.arange(l.k)[::-1]
        wc = D.transpose(D.take(D.take(w, flip, axis=2), flip, axis=3), (1, 0, 2, 3))
        y = _dilate(D, _dilate(D, x, l.stride, 2), l.stride, 3)
        q = l.k - 1 - l.pad
        if q < 0:
            raise ShapeError(f"conv_transpose2d: padding {l.pad} > kernel - 1")
        y = D.pad(y, ((0, 0), (0, 0), (q, q + l.output_pad), (q, q + l.output_pad)))
        y = ops.conv2d(D, y, wc, b)
    return tap(D, name, y)


def _bn(X, l, x, name="bn"):
    D = X.D
    with scope(name):
        buf = not l.trainable
        g = X.p("weight", (l.c,), "gamma", buffer=buf)
        b = X.p("bias", (l.c,), "beta", buffer=buf)
        mu = X.p("running_mean", (l.c,), "mean", buffer=True)
        var = X.p("running_var", (l.c,), "var", buffer=True)
        y = ops.batch_norm(D, x, mu, var, g, b)
    return tap(D, name, y)


def _ln_last(X, x, dim, name="ln", bias=True, rms=False, eps="1e-5"):
    D = X.D
    with scope(name):
        g = X.p("weight", (dim,), "gamma")
        if rms:
            y = ops.rms_norm(D, x, g, eps=eps)
        else:
            b = X.p("bias", (dim,), "beta") if bias else None
            y = ops.layer_norm(D, x, g, b, eps=eps)
    return tap(D, name, y)


def _ln(X, l, x, shape, name="ln"):
    """LayerNorm over the features: the last axis of tokens/vectors, channels of images."""
    D = X.D
    if len(shape) == 3:
        t = D.transpose(x, (0, 2, 3, 1))
        y = _ln_last(X, t, l.dim, name, l.bias, l.rms, eps="1e-6")
        return D.transpose(y, (0, 3, 1, 2))
    return _ln_last(X, x, l.dim, name, l.bias, l.rms)


def _instance_norm(D, x):
    """InstanceNorm2d without affine terms (CycleGAN): per channel over H*W."""
    n, c, h, w = D.shape(x)
    y = ops.layer_norm(D, D.reshape(x, (n, c, h * w)))
    return D.reshape(y, (n, c, h, w))


def _linear(X, x, fin, fout, name, bias=True, init="w"):
    D = X.D
    with scope(name):
        w = X.p("weight", (fin, fout), init, fin)
        b = X.p("bias", (fout,), "b", fin) if bias else None
        y = ops.linear(D, x, w, b)
    return tap(D, name, y)


def _dense(X, l, x, name="dense"):
    D = X.D
    if l.tied:
        if X.tied is None:
            raise FpsemError("tied dense layer without an embedding before it")
        y = D.dot(x, D.transpose(X.tied))
        if l.bias:
            with scope(name):
                y = D.add(y, X.p("bias", (l.fout,), "b", l.fin))
        return tap(D, name, y)
    return _linear(X, x, l.fin, l.fout, name, l.bias)


def _edge_pad(D, x, top, bottom, left, right):
    n, c, h, w = D.shape(x)
    rows = np.clip(np.arange(-top, h + bottom), 0, h - 1)
    cols = np.clip(np.arange(-left, w + right), 0, w - 1)
    return D.take(D.take(x, rows, axis=2), cols, axis=3)


def _max_pool(X, l, x, shape):
    """Max pooling; ceil mode by replicating the last row/column (the last window starts
    inside the input, so it holds the replicated element: the maximum is PyTorch's)."""
    D = X.D
    s = l.stride or l.k
    out = l.trace(shape).out
    n, c, h, w = D.shape(x)
    need_h = (out[1] - 1) * s + l.k - (h + 2 * l.pad)
    need_w = (out[2] - 1) * s + l.k - (w + 2 * l.pad)
    if l.pad or need_h > 0 or need_w > 0:
        x = _edge_pad(D, x, l.pad, l.pad + max(0, need_h), l.pad, l.pad + max(0, need_w))
    y = ops.max_pool2d(D, x, l.k, s)
    return D.getitem(y, (slice(None), slice(None), slice(0, out[1]), slice(0, out[2])))


def _upsample(D, x, f):
    """Nearest-neighbour upsampling by f: a take with repeated indices (exact)."""
    n, c, h, w = D.shape(x)
    return D.take(D.take(x, np.repeat(np.arange(h), f), axis=2), np.repeat(np.arange(w), f), axis=3)


def _to_tokens(D, x):
    n, c = D.shape(x)[:2]
    return D.transpose(D.reshape(x, (c, -1)), (1, 0))


def _to_image(D, t, h, w):
    T, c = D.shape(t)
    return D.reshape(D.transpose(t, (1, 0)), (1, c, h, w))


def _pointwise(X, l, x, name):
    """A dense layer per position of an image (1, C, H, W)."""
    D = X.D
    n, c, h, w = D.shape(x)
    y = _linear(X, _to_tokens(D, x), l.fin, l.fout, name, l.bias)
    return _to_image(D, y, h, w)


# ----------------------------------------------------------------------------- attention

def _attend(D, q, k, v, causal=False, bias=None, mask=None):
    """softmax(q k^T / sqrt(hd) + bias) v over (..., T, hd); `mask` (numpy bool) zeroes
    weights exactly: the attention op (ops/attention.py)."""
    return ops.scaled_dot_product_attention(D, q, k, v, causal=causal, bias=bias, mask=mask)


def _heads_split(D, x, h):
    shp = D.shape(x)
    y = D.reshape(x, shp[:-1] + (h, shp[-1] // h))
    nd = len(shp) + 1
    return D.swapaxes(y, nd - 3, nd - 2)           # (..., h, T, hd)


def _heads_merge(D, y):
    shp = D.shape(y)
    nd = len(shp)
    y = D.swapaxes(y, nd - 3, nd - 2)              # (..., T, h, hd)
    return D.reshape(y, shp[:-3] + (shp[-2], shp[-3] * shp[-1]))


def _mha(X, x, mem, d, heads, name="attn", causal=False, qkv_bias=True, k_bias=True, out_bias=True,
         bias_fn=None, mask=None):
    D = X.D
    with scope(name):
        q = _linear(X, x, d, d, "q", qkv_bias, "lin")
        k = _linear(X, mem, d, d, "k", qkv_bias and k_bias, "lin")
        v = _linear(X, mem, d, d, "v", qkv_bias, "lin")
        q, k, v = (_heads_split(D, t, heads) for t in (q, k, v))
        bias = bias_fn(q) if bias_fn is not None else None
        y = _heads_merge(D, _attend(D, q, k, v, causal=causal, bias=bias, mask=mask))
        y = _linear(X, y, d, d, "o", out_bias, "lin")
    return y


def _mlp(X, x, d, dff, bias=True, act=None):
    D = X.D
    h = tap(D, "mlp.act", X.act(_linear(X, x, d, dff, "mlp.fc1", bias), act))
    return _linear(X, h, dff, d, "mlp.fc2", bias, "lin")


def _rel_pos_bias(X, S, hd):
    """SAM's decomposed relative positions on an S x S grid: a function q -> bias."""
    D = X.D
    Rh = X.p("rel_pos_h", (2 * S - 1, hd), "small")
    Rw = X.p("rel_pos_w", (2 * S - 1, hd), "small")
    idx = (np.arange(S)[:, None] - np.arange(S)[None, :] + S - 1).reshape(-1)

    def fn(q):                                     # q (..., h, S*S, hd)
        shp = D.shape(q)
        B = int(np.prod(shp[:-2]))
        rq = D.reshape(q, (B, S, S, hd))
        Rhg = D.transpose(D.reshape(D.take(Rh, idx, axis=0), (S, S, hd)), (0, 2, 1))   # (i, c, k)
        Rwg = D.transpose(D.reshape(D.take(Rw, idx, axis=0), (S, S, hd)), (0, 2, 1))   # (j, c, l)
        a = D.reshape(D.transpose(rq, (1, 0, 2, 3)), (S, B * S, hd))
        rel_h = D.transpose(D.reshape(D.dot(a, Rhg), (S, B, S, S)), (1, 0, 2, 3))      # (B, i, j, k)
        b = D.reshape(D.transpose(rq, (2, 0, 1, 3)), (S, B * S, hd))
        rel_w = D.transpose(D.reshape(D.dot(b, Rwg), (S, B, S, S)), (1, 2, 0, 3))      # (B, i, j, l)
        full = D.add(D.expand_dims(rel_h, 4), D.expand_dims(rel_w, 3))                 # (B, i, j, k, l)
        return D.reshape(full, shp[:-2] + (S * S, S * S))
    return fn


def _encoder(X, l, x, post=None):
    """l.layers transformer layers on (..., T, d)."""
    D = X.D
    post = X.arch.get("post_norm", False) if post is None else post
    d = l.d
    for i in range(l.layers):
        with scope(f"block{i}"):
            if l.window or l.rel_pos:
                a = _ln_last(X, x, d, "ln_1")
                y = _sam_attn(X, l, a)
                x = tap(D, "resid_attn", D.add(x, y))
                m = _ln_last(X, x, d, "ln_2")
                x = tap(D, "resid_mlp", D.add(x, _mlp(X, m, d, l.d_ff, l.mlp_bias)))
                continue
            kw = dict(causal=l.causal, qkv_bias=l.qkv_bias, k_bias=l.k_bias, out_bias=l.out_bias)
            if post:
                x = _ln_last(X, D.add(x, _mha(X, x, x, d, l.heads, **kw)), d, "ln_1", eps="1e-12")
                x = _ln_last(X, D.add(x, _mlp(X, x, d, l.d_ff, l.mlp_bias)), d, "ln_2", eps="1e-12")
            else:
                a = _ln_last(X, x, d, "ln_1")
                x = tap(D, "resid_attn", D.add(x, _mha(X, a, a, d, l.heads, **kw)))
                m = _ln_last(X, x, d, "ln_2")
                x = tap(D, "resid_mlp", D.add(x, _mlp(X, m, d, l.d_ff, l.mlp_bias)))
    if l.final_norm:
        x = _ln_last(X, x, d, "ln_f")
    return x


def _sam_attn(X, l, a):
    """SAM attention: windows of l.window on the padded square grid (or global), with
    decomposed relative positions of size l.rel_pos."""
    D = X.D
    T, d = D.shape(a)
    S = math.isqrt(T)
    hd = d // l.heads
    if not l.window:
        with scope("attn"):
            fn = _rel_pos_bias(X, S, hd) if l.rel_pos else None
        y = _mha(X, D.expand_dims(a, 0), D.expand_dims(a, 0), d, l.heads, bias_fn=fn)
        return D.reshape(y, (T, d))
    w = l.window
    Sp = -(-S // w) * w
    g = D.reshape(a, (S, S, d))
    if Sp != S:
        g = D.pad(g, ((0, Sp - S), (0, Sp - S), (0, 0)))
    n = Sp // w
    win = D.reshape(D.transpose(D.reshape(g, (n, w, n, w, d)), (0, 2, 1, 3, 4)), (n * n, w * w, d))
    with scope("attn"):
        fn = _rel_pos_bias(X, w, hd) if l.rel_pos else None
    y = _mha(X, win, win, d, l.heads, bias_fn=fn)
    y = D.reshape(D.transpose(D.reshape(y, (n, n, w, w, d)), (0, 2, 1, 3, 4)), (Sp, Sp, d))
    y = D.getitem(y, (slice(0, S), slice(0, S)))
    return D.reshape(y, (T, d))


def _swin(X, l, x):
    """Swin blocks: (shifted) window attention with a relative position bias table."""
    D = X.D
    T, c = D.shape(x)
    S = math.isqrt(T)
    w = l.window
    n = S // w
    if n * w != S:
        raise ShapeError(f"swin_stage: grid {S} is not a multiple of the window {w}")
    coords = np.stack(np.meshgrid(np.arange(w), np.arange(w), indexing="ij")).reshape(2, -1)
    rel = coords[:, :, None] - coords[:, None, :] + (w - 1)
    ridx = (rel[0] * (2 * w - 1) + rel[1]).reshape(-1)
    for i in range(l.depth):
        shift = (w // 2) if (i % 2 and S > w) else 0
        with scope(f"block{i}"):
            h = _ln_last(X, x, c, "ln_1")
            g = D.reshape(h, (S, S, c))
            roll = (np.arange(S) + shift) % S
            if shift:
                g = D.take(D.take(g, roll, axis=0), roll, axis=1)
            win = D.reshape(D.transpose(D.reshape(g, (n, w, n, w, c)), (0, 2, 1, 3, 4)), (n * n, w * w, c))
            mask = None
            if shift:
                reg = np.zeros((S, S), dtype=np.int64)
                for a, sa in enumerate((slice(0, S - w), slice(S - w, S - shift), slice(S - shift, S))):
                    for b, sb in enumerate((slice(0, S - w), slice(S - w, S - shift), slice(S - shift, S))):
                        reg[sa, sb] = 3 * a + b
                rw = reg.reshape(n, w, n, w).transpose(0, 2, 1, 3).reshape(n * n, w * w)
                mask = (rw[:, :, None] == rw[:, None, :])[:, None]          # (nW, 1, w2, w2)
            with scope("attn"):
                table = X.p("rel_bias_table", ((2 * w - 1) ** 2, l.heads), "small")
            bias = D.transpose(D.reshape(D.take(table, ridx, axis=0), (w * w, w * w, l.heads)), (2, 0, 1))
            y = _mha(X, win, win, c, l.heads, bias_fn=lambda q: bias, mask=mask)
            y = D.reshape(D.transpose(D.reshape(y, (n, n, w, w, c)), (0, 2, 1, 3, 4)), (S, S, c))
            if shift:
                back = (np.arange(S) - shift) % S
                y = D.take(D.take(y, back, axis=0), back, axis=1)
            x = tap(D, "resid_attn", D.add(x, D.reshape(y, (T, c))))
            m = _ln_last(X, x, c, "ln_2")
            x = tap(D, "resid_mlp", D.add(x, _mlp(X, m, c, l.mlp_ratio * c)))
    return x


def _patch_merge(X, l, x):
    D = X.D
    T, c = D.shape(x)
    S = math.isqrt(T)
    g = D.reshape(x, (S, S, c))
    parts = [D.getitem(g, (slice(a, None, 2), slice(b, None, 2))) for a, b in ((0, 0), (1, 0), (0, 1), (1, 1))]
    y = D.reshape(D.concat(parts, axis=-1), (T // 4, 4 * c))
    y = _ln_last(X, y, 4 * c, "norm")
    return _linear(X, y, 4 * c, 2 * c, "reduction", bias=False, init="lin")


def _decoder(X, l, x):
    """DETR decoder layers (post-norm): self-attention, cross-attention to the memory, MLP."""
    D = X.D
    d = l.d
    for i in range(l.layers):
        with scope(f"block{i}"):
            x = _ln_last(X, D.add(x, _mha(X, x, x, d, l.heads, "self_attn", causal=l.causal)), d, "ln_1")
            x = _ln_last(X, D.add(x, _mha(X, x, X.memory, d, l.heads, "cross_attn")), d, "ln_2")
            x = _ln_last(X, D.add(x, _mlp(X, x, d, l.d_ff)), d, "ln_3")
    if l.final_norm:
        x = _ln_last(X, x, d, "ln_f")
    return x


def _mamba(X, l, x):
    """Mamba residual blocks (as the zoo's `mamba`), weights named as in the authors' code."""
    D = X.D
    d, E, N, r, K = l.d, l.expand * l.d, l.d_state, l.dt_rank, l.d_conv
    T = D.shape(x)[0]
    for i in range(l.layers):
        with scope(f"block{i}"):
            h = _ln_last(X, x, d, "norm", rms=True)
            xz = _linear(X, h, d, 2 * E, "in_proj", bias=False, init="lin")
            xs = D.getitem(xz, (slice(None), slice(0, E)))
            z = D.getitem(xz, (slice(None), slice(E, 2 * E)))
            with scope("conv"):
                cw = X.p("weight", (E, 1, K), "b", K)
                cb = X.p("bias", (E,), "b", K)
            xc = D.pad(D.expand_dims(D.transpose(xs), 0), ((0, 0), (0, 0), (K - 1, 0)))
            xc = ops.conv1d(D, xc, cw, cb, groups=E)
            xs = tap(D, "conv", ops.silu(D, D.transpose(D.reshape(xc, (E, T)))))
            dbc = _linear(X, xs, E, r + 2 * N, "x_proj", bias=False, init="lin")
            dt = D.getitem(dbc, (slice(None), slice(0, r)))
            B = D.getitem(dbc, (slice(None), slice(r, r + N)))
            C = D.getitem(dbc, (slice(None), slice(r + N, r + 2 * N)))
            delta = tap(D, "delta", ops.softplus(D, _linear(X, dt, r, E, "dt_proj", init="lin")))
            A = D.neg(D.exp(X.p("A_log", (E, N), "A_log")))
            y = tap(D, "ssm", ops.selective_scan(D, xs, delta, A, B, C, X.p("D", (E,), "ones")))
            y = D.mul(y, ops.silu(D, z))
            x = tap(D, "resid", D.add(x, _linear(X, y, E, d, "out_proj", bias=False, init="lin")))
    return x


def _nerf(X, l, x):
    """NeRF (Fig. 7) on `samples` evenly spaced points per ray in [2, 6], rendered by the
    volume rendering quadrature: output (R, 4) = (rgb, accumulated opacity)."""
    D = X.D
    rays = X.rays
    R = D.shape(rays)[0]
    o = D.getitem(rays, (slice(None), slice(0, 3)))
    dr = D.getitem(rays, (slice(None), slice(3, 6)))
    n = l.samples
    ts = [2 + Fraction_(4 * j, n) for j in range(n)]
    delta = _c(D, Fraction_(4, n))

    def fourier(p, L_):
        feats = [p] if l.include_input else []
        for k in range(L_):
            ang = D.mul(p, _c(D, 2 ** k))
            ang = D.mul(ang, _c(D, PI))
            feats += [D.sin(ang), D.cos(ang)]
        return D.concat(feats, axis=-1)

    pts = D.stack([D.add(o, D.mul(dr, _c(D, t))) for t in ts], axis=1)          # (R, n, 3)
    pts = D.reshape(pts, (R * n, 3))
    dirs = D.reshape(D.stack([dr] * n, axis=1), (R * n, 3))
    px, dx = fourier(pts, l.pos_freqs), fourier(dirs, l.dir_freqs)
    dense = l._dense()
    h = px
    for i in range(l.depth):
        h = X.act(_linear(X, h, dense[i].fin, dense[i].fout, f"fc{i}"))
        if i + 1 == l.skip:
            h = D.concat([h, px], axis=-1)
    sigma = ops.relu(D, _linear(X, h, l.width, 1, "sigma", init="lin"))
    feat = _linear(X, h, l.width, l.width, "feature", init="lin")
    hd = X.act(_linear(X, D.concat([feat, dx], axis=-1), l.width + D.shape(dx)[-1], l.dir_width, "dir"))
    rgb = ops.sigmoid(D, _linear(X, hd, l.dir_width, 3, "rgb", init="lin"))
    sigma = D.reshape(sigma, (R, n))
    rgb = D.reshape(rgb, (R, n, 3))
    alpha = D.sub(_c(D, 1), D.exp(D.neg(D.mul(sigma, delta))))                  # (R, n)
    one = D.broadcast_to(_c(D, 1), (R,))
    trans = one
    color, acc = None, None
    for j in range(n):
        a = D.getitem(alpha, (slice(None), j))
        wj = D.mul(trans, a)
        cj = D.mul(D.expand_dims(wj, 1), D.getitem(rgb, (slice(None), j)))
        color = cj if color is None else D.add(color, cj)
        acc = wj if acc is None else D.add(acc, wj)
        trans = D.mul(trans, D.sub(one, a))
    return D.concat([color, D.expand_dims(acc, 1)], axis=1)


def Fraction_(a, b):
    from fractions import Fraction
    return Fraction(a, b)


# ----------------------------------------------------------------------------- composites

def _seq(X, parts, x, shape, acts=(), names=None):
    """Primitive parts in sequence; the activation after the parts whose index is in acts."""
    for j, p in enumerate(parts):
        nm = names[j] if names else f"{p.kind}{j}"
        x = _prim(X, p, x, shape, nm)
        shape = p.trace(shape).out
        if j in acts:
            x = X.act(x)
    return x, shape


def _prim(X, p, x, shape, name):
    if isinstance(p, L.Conv2d):
        return _conv(X, p, x, name)
    if isinstance(p, L.BatchNorm):
        return _bn(X, p, x, name)
    if isinstance(p, L.MaxPool):
        return _max_pool(X, p, x, shape)
    if isinstance(p, L.AvgPool):
        return ops.avg_pool2d(X.D, x, p.k, p.stride or p.k, p.pad)
    if isinstance(p, L.GlobalAvgPool):
        return ops.global_avg_pool(X.D, x)
    if isinstance(p, L.SeparableConv):
        return _sepconv(X, p, x, shape, name)
    if isinstance(p, L.Dense):
        return _dense(X, p, x, name)
    if isinstance(p, L.ConvBN):
        with scope(name):
            c, b = p.parts()
            return _bn(X, b, _conv(X, c, x))
    if isinstance(p, L.Flatten):
        return X.D.reshape(x, (1, -1))
    raise UnsupportedOption(f"no executor for part {p.kind}")


def _sepconv(X, l, x, shape, name="sepconv"):
    with scope(name):
        y, _ = _seq(X, l.parts(), x, shape, names=["dw", "pw", "bn"][:len(l.parts())])
    return y


def _add(D, a, b):
    return D.add(a, b)


def _res_basic(X, l, x, shape):
    D = X.D
    (par,) = l.parts()
    main, proj = par.paths
    if l.norm == "bn":
        h, _ = _seq(X, main, x, shape, acts={1}, names=["conv1", "bn1", "conv2", "bn2"])
        s = _seq(X, proj, x, shape, names=["down", "down_bn"])[0] if proj else x
        return X.act(D.add(h, s))
    if l.norm == "preact":
        h, _ = _seq(X, main, x, shape, acts={0, 2}, names=["bn1", "conv1", "bn2", "conv2"])
        s = _seq(X, proj, x, shape, names=["down"])[0] if proj else x
        return D.add(h, s)
    inorm = X.arch.get("instance_norm")
    h = _conv(X, main[0], x, "conv1")
    h = X.act(_instance_norm(D, h) if inorm else h)
    h = _conv(X, main[1], h, "conv2")
    if inorm:
        h = _instance_norm(D, h)
    return D.add(x, h)


def _bottleneck(X, l, x, shape):
    D = X.D
    (par,) = l.parts()
    main, proj = par.paths
    h, _ = _seq(X, main, x, shape, acts={1, 3}, names=["conv1", "bn1", "conv2", "bn2", "conv3", "bn3"])
    s = _seq(X, proj, x, shape, names=["down", "down_bn"])[0] if proj else x
    return X.act(D.add(h, s))


def _mobile(X, l, x, shape):
    """InvertedResidual / MBConv: act after every BatchNorm but the last; SE gate."""
    D = X.D
    parts = l.parts()
    resid = len(parts) == 1 and isinstance(parts[0], L.Parallel)
    main = parts[0].paths[0] if resid else parts
    h, s = x, shape
    for j, p in enumerate(main):
        if isinstance(p, L.Parallel):                     # squeeze-excite: x * sigmoid(...)
            with scope("se"):
                gap, d1, d2 = p.paths[1]
                g = ops.global_avg_pool(D, h)
                g = X.act(_dense(X, d1, g, "reduce"))
                g = ops.sigmoid(D, _dense(X, d2, g, "expand"))
                h = tap(D, "se", D.mul(h, D.reshape(g, (1, -1, 1, 1))))
            continue
        h = _prim(X, p, h, s, f"{p.kind}{j}")
        s = p.trace(s).out
        if isinstance(p, L.BatchNorm) and j != len(main) - 1:
            h = X.act(h)
    return D.add(x, h) if resid else h


def _fire(X, l, x, shape):
    D = X.D
    sq, par = l.parts()
    h = X.act(_conv(X, sq, x, "squeeze"))
    (e1,), (e3,) = par.paths
    return D.concat([X.act(_conv(X, e1, h, "expand1x1")), X.act(_conv(X, e3, h, "expand3x3"))], axis=1)


def _concat_paths(X, par, x, shape, act_after=(L.Conv2d,), names=None):
    D = X.D
    outs = []
    for i, path in enumerate(par.paths):
        h, s = x, shape
        with scope(names[i] if names else f"branch{i}"):
            for j, p in enumerate(path):
                h = _prim(X, p, h, s, f"{p.kind}{j}")
                s = p.trace(s).out
                if isinstance(p, act_after) and not (j + 1 < len(path) and isinstance(path[j + 1], L.BatchNorm)):
                    h = X.act(h)
                if isinstance(p, L.BatchNorm):
                    h = X.act(h)
        outs.append(h)
    return D.concat(outs, axis=1)


def _inception(X, l, x, shape):
    (par,) = l.parts()
    return _concat_paths(X, par, x, shape)


def _xception(X, l, x, shape):
    D = X.D
    (par,) = l.parts()
    main, short = par.paths
    h, s = x, shape
    for j, p in enumerate(main):
        if isinstance(p, L.SeparableConv):
            h = _sepconv(X, p, X.act(h), s, f"sepconv{j}")
        else:
            h = _max_pool(X, p, h, s)
        s = p.trace(s).out
    sk = _seq(X, short, x, shape, names=["down", "down_bn"])[0] if short else x
    return D.add(h, sk)


def _dense_block(X, l, x, shape):
    D = X.D
    for j, par in enumerate(l.parts()):
        with scope(f"layer{j}"):
            bn1, c1, bn2, c2 = par.paths[1]
            h = _bn(X, bn1, x, "norm1")
            h = _conv(X, c1, X.act(h), "conv1")
            h = _bn(X, bn2, h, "norm2")
            h = _conv(X, c2, X.act(h), "conv2")
        x = D.concat([x, h], axis=1)
        shape = par.trace(shape).out
    return x


def _transition(X, l, x, shape):
    bn, cv, pool = l.parts()
    h = X.act(_bn(X, bn, x, "norm"))
    h = _conv(X, cv, h, "conv")
    return ops.avg_pool2d(X.D, h, 2)


def _shuffle(X, l, x, shape):
    D = X.D
    b = l._branches()
    n, c, hh, ww = D.shape(x)
    if l.stride == 1:
        h = l.cout // 2
        left = D.getitem(x, (slice(None), slice(0, h)))
        right = D.getitem(x, (slice(None), slice(h, c)))
        with scope("branch2"):
            r, _ = _seq(X, b, right, (h, hh, ww), acts={1, 5})
        y = D.concat([left, r], axis=1)
    else:
        with scope("branch1"):
            lf, _ = _seq(X, b[:4], x, shape, acts={3})
        with scope("branch2"):
            r, _ = _seq(X, b[4:], x, shape, acts={1, 5})
        y = D.concat([lf, r], axis=1)
    n, c2, h2, w2 = D.shape(y)
    y = D.reshape(D.swapaxes(D.reshape(y, (1, 2, c2 // 2, h2, w2)), 1, 2), (1, c2, h2, w2))
    return y                                           # channel shuffle, 2 groups


def _convnext(X, l, x, shape):
    D = X.D
    (par,) = l.parts()
    dw, ln, pw1, pw2, ls = par.paths[0]
    n, c, h, w = D.shape(x)
    y = _conv(X, dw, x, "dwconv")
    t = _ln_last(X, _to_tokens(D, y), c, "norm", eps="1e-6")
    t = X.act(_linear(X, t, pw1.fin, pw1.fout, "pwconv1"))
    t = _linear(X, t, pw2.fin, pw2.fout, "pwconv2", init="lin")
    t = D.mul(t, X.p("layer_scale", (c,), "small"))
    return D.add(x, _to_image(D, t, h, w))


def _patch_embed(X, l, x):
    D = X.D
    cv = L.Conv2d(l.cin, l.dim, l.patch, l.patch, 0, bias=l.bias)
    t = _to_tokens(D, _conv(X, cv, x, "proj"))
    if l.cls_token:
        t = D.concat([D.reshape(X.p("cls_token", (l.dim,), "small"), (1, l.dim)), t], axis=0)
    return t


def _mobilevit(X, l, x, shape):
    D = X.D
    c, d, p = l.c, l.d, l.patch
    n, _, H, W = D.shape(x)
    if H % p or W % p:
        raise ShapeError(f"mobilevit_block: {H}x{W} is not a multiple of the patch {p}")
    with scope("local"):
        cb1 = L.ConvBN(c, c, 3)
        y = X.act(_prim(X, cb1, x, shape, "conv3x3"))
        y = _conv(X, L.Conv2d(c, d, 1, pad=0, bias=False), y, "conv1x1")
    h, w = H // p, W // p
    # unfold: (1, d, h, p, w, p) -> (p*p, h*w, d): one sequence per pixel position in a patch
    u = D.reshape(y, (d, h, p, w, p))
    u = D.reshape(D.transpose(u, (2, 4, 1, 3, 0)), (p * p, h * w, d))
    with scope("transformer"):
        u = _encoder(X, l._tr(), u, post=False)
    f = D.transpose(D.reshape(u, (p, p, h, w, d)), (4, 2, 0, 3, 1))
    f = D.reshape(f, (1, d, H, W))
    f = X.act(_prim(X, L.ConvBN(d, c, 1, pad=0), f, (d, H, W), "proj"))
    return X.act(_prim(X, L.ConvBN(2 * c, c, 3), D.concat([x, f], axis=1), (2 * c, H, W), "fusion"))


def _unet_down(X, l, x, shape):
    parts = l.parts()
    names = (["pool"] if l.pool else []) + ["conv1", "conv2"]
    acts = {len(parts) - 2, len(parts) - 1}
    y, _ = _seq(X, parts, x, shape, acts=acts, names=names)
    X.skips.append(y)
    return y


def _unet_up(X, l, x, shape):
    D = X.D
    X.skips.pop()                                      # the level we came up from
    skip = X.skips.pop()
    up = _conv_t(X, L.ConvTranspose2d(l.cin, l.cout, 2, 2), x, "up")
    n, c, h, w = D.shape(up)
    _, _, hs, ws = D.shape(skip)
    t, s = (hs - h) // 2, (ws - w) // 2
    crop = D.getitem(skip, (slice(None), slice(None), slice(t, t + h), slice(s, s + w)))
    y = D.concat([crop, up], axis=1)
    y = X.act(_conv(X, L.Conv2d(2 * l.cout, l.cout, 3, pad=l.pad), y, "conv1"))
    y = X.act(_conv(X, L.Conv2d(l.cout, l.cout, 3, pad=l.pad), y, "conv2"))
    X.skips.append(y)
    return y


def _aspp(X, l, x, shape):
    D = X.D
    par, cv, bn = l.parts()
    n, c, h, w = D.shape(x)
    outs = []
    for i, path in enumerate(par.paths):
        with scope(f"branch{i}"):
            if isinstance(path[0], L.ImagePool):
                ip = path[0]
                g = D.reshape(ops.global_avg_pool(D, x), (1, ip.cin, 1, 1))
                g = _conv(X, L.Conv2d(ip.cin, ip.cout, 1, pad=0, bias=False), g)
                g = X.act(_bn(X, L.BatchNorm(ip.cout), g))
                outs.append(D.broadcast_to(g, (1, ip.cout, h, w)))
            else:
                outs.append(X.act(_seq(X, path, x, shape, names=["conv", "bn"])[0]))
    y = D.concat(outs, axis=1)
    return X.act(_bn(X, bn, _conv(X, cv, y, "project"), "project_bn"))


def _deeplab_dec(X, l, x, shape):
    D = X.D
    c, h, w = shape
    low = next(v for v, s in reversed(X.images) if s == (l.low_ch, 4 * h, 4 * w))
    lowp = X.act(_prim(X, L.ConvBN(l.low_ch, l.low_proj, 1, pad=0), low, (l.low_ch, 4 * h, 4 * w), "low_proj"))
    y = D.concat([_upsample(D, x, 4), lowp], axis=1)
    convs = l._convs()
    y, _ = _seq(X, convs, y, (l.cin + l.low_proj, 4 * h, 4 * w), acts={1, 3},
                names=["conv1", "bn1", "conv2", "bn2", "classifier"])
    return _upsample(D, y, 4)


def _heads(X, l, x, shape):
    """Parallel('heads'): every path from the same input; path 0 is returned, the others
    are tapped as `head<i>`. ReLU between the layers of a path (DETR's box MLP and
    AlphaGo Zero's heads), tanh on a 1-unit value output."""
    D = X.D
    outs = []
    for i, path in enumerate(l.paths):
        h, s = x, shape
        with scope(f"head{i}"):
            for j, p in enumerate(path):
                h = _prim(X, p, h, s, f"{p.kind}{j}")
                s = p.trace(s).out
                if j + 1 < len(path) and isinstance(p, (L.ConvBN, L.Dense)):
                    h = X.act(h)
            if s == (1,) or s[-1:] == (1,) and len(path) > 1:
                h = D.tanh(h)
            outs.append(tap(D, "out", h))
    return outs[0]


# ----------------------------------------------------------------------------- top level

_NORMS = (L.BatchNorm, L.LayerNorm)
#: no activation between a plain layer and these (a norm, or the start of a transformer: DETR's input_proj)
_NO_ACT_BEFORE = _NORMS + (L.PositionalEncoding, L.TransformerEncoder)
_STRUCT = (L.Reshape, L.Flatten)
_PLAIN = (L.Conv2d, L.Conv1d, L.Dense, L.ConvTranspose2d, L.Subsample, L.PartialConv2d)


def _next_real(layers, i):
    for l in layers[i + 1:]:
        if not isinstance(l, _STRUCT):
            return l
    return None


def _last_param(layers, i):
    return all((l.params() == 0 and not isinstance(l, L.RBFOutput)) or isinstance(l, _STRUCT)
               for l in layers[i + 1:])


def _c3_table(cin, counts):
    """LeNet-5's C3 connection table (LeCun et al. 1998, Table I) for 6 inputs and
    3/4/4/6-input maps: contiguous triples, contiguous quadruples, split quadruples, all."""
    rows = []
    for j, n in enumerate(counts):
        if n == cin:
            rows.append(list(range(cin)))
        elif n == 3:
            rows.append([(j + t) % cin for t in range(3)])
        elif j < 12:
            rows.append([(j - 6 + t) % cin for t in range(4)])
        else:
            rows.append([(j - 12 + t) % cin for t in (0, 1, 3, 4)])
    return rows


def _partial_conv(X, l, x):
    D = X.D
    table = _c3_table(l.cin, l.inputs_per_map)
    outs = []
    with scope("partial_conv"):
        for j, idx in enumerate(table):
            fan = len(idx) * l.k * l.k
            w = X.p(f"map{j}.weight", (1, len(idx), l.k, l.k), "w", fan)
            b = X.p(f"map{j}.bias", (1,), "b", fan)
            outs.append(ops.conv2d(D, D.take(x, np.array(idx), axis=1), w, b))
    return tap(D, "partial_conv", D.concat(outs, axis=1))


def _layer(X, l, x, shape, layers, i):
    """One top-level record: its output, and whether the tower-level activation follows
    (the executor of its kind, from `_EXECUTORS`)."""
    nxt = _next_real(layers, i)
    last = _last_param(layers, i)
    c = _Place(last, X.arch.get("plain_act", True) and not last and not isinstance(nxt, _NO_ACT_BEFORE))
    for kind in type(l).__mro__:
        run = _EXECUTORS.get(kind)
        if run is not None:
            return run(X, l, x, shape, c)
    raise UnsupportedOption(f"bestiary executor: no rule for layer kind {l.kind!r}")


@dataclass(frozen=True)
class _Place:
    """Where a record sits in its tower: `last` (no parameters after it) and whether a
    plain layer there is followed by the tower's activation."""
    last: bool
    plain_act: bool


def _x_conv(X, l, x, shape, c):
    y = _conv_t(X, l, x) if isinstance(l, L.ConvTranspose2d) else _conv(X, l, x)
    if X.arch.get("instance_norm") and not c.last:
        y = _instance_norm(X.D, y)
    return y, c.plain_act


def _x_subsample(X, l, x, shape, c):
    D = X.D
    with scope("subsample"):
        coef = X.p("coef", (l.c,), "gamma")
        b = X.p("bias", (l.c,), "beta")
        s = ops.avg_pool2d(D, x, l.k)          # the coefficient absorbs the 1/k^2
        y = D.add(D.mul(s, D.reshape(coef, (1, l.c, 1, 1))), D.reshape(b, (1, l.c, 1, 1)))
    return tap(D, "subsample", y), True


def _x_rbf(X, l, x, shape, c):
    D = X.D
    with scope("rbf"):
        w = X.p("centres", (l.fout, l.fin), "sign", buffer=True)
    diff = D.sub(D.expand_dims(x, 1), D.expand_dims(w, 0))                  # (1, fout, fin)
    return D.neg(D.sum(D.mul(diff, diff), axis=-1)), False


def _x_reshape(X, l, x, shape, c):
    D = X.D
    if len(shape) == 1:
        return D.reshape(x, (1,) + tuple(l.to)), False
    if len(l.to) == 2:                                                       # image/signal -> tokens
        ch = D.shape(x)[1]
        return D.transpose(D.reshape(x, (ch, -1)), (1, 0)), False
    return _to_image(D, x, l.to[1], l.to[2]), False


def _x_token_pool(X, l, x, shape, c):
    D = X.D
    nd = len(D.shape(x))
    if l.mode == "cls":              # CLIP's text tower pools its last (end-of-text) token
        pos = -1 if "eot" in l.label else 0
        idx = (slice(None), pos) if nd == 3 else slice(pos, None) if pos == -1 else slice(0, 1)
        return D.getitem(x, idx), False
    return ops.mean(D, x, axis=nd - 2, keepdims=nd == 2), False


def _x_embedding(X, l, x, shape, c):
    D = X.D
    with scope("embedding"):
        table = X.p("weight", (l.vocab, l.dim), "embed")
    X.tied = table
    ids = np.asarray(x)
    if ids.ndim == 2:                                  # a batch of sequences (CLIP's texts)
        return tap(D, "embedding", D.stack([ops.embedding(D, table, r) for r in ids], axis=0)), False
    return tap(D, "embedding", ops.embedding(D, table, ids)), False


def _x_positions(X, l, x, shape, c):
    D = X.D
    T = shape[0]
    if l.learned:
        with scope("pos"):
            pe = X.p("weight", (l.length, l.dim), "small")
        pe = D.getitem(pe, slice(0, T))
    else:
        pe = ops.sinusoidal_positions(D, np.arange(T), l.dim)
    return D.add(x, pe), False


def _x_parameter(X, l, x, shape, c):
    D = X.D
    with scope("param"):
        if l.label == "token_type_embeddings":
            tt = X.p(l.label, (2, shape[-1]), "small")
            return D.add(x, D.getitem(tt, slice(0, 1))), False
        if l.label == "query_embed":
            return X.p(l.label, shape, "embed"), False
        if l.label == "logit_scale":
            X.logit_scale = X.p(l.label, (1,), "logit_scale")
            return x, False
    raise UnsupportedOption(f"parameter {l.label!r}: no executor")


def _x_parallel(X, l, x, shape, c):
    if l.mode == "heads":
        return _heads(X, l, x, shape), False
    raise UnsupportedOption(f"bestiary executor: no rule for layer kind {l.kind!r}")


def _then(act, fn, *, with_shape=True):
    """An executor from a block function fn(X, l, x[, shape]) and the activation rule
    after it: a bool, or 'plain' (the tower's rule for plain layers)."""
    def run(X, l, x, shape, c):
        y = fn(X, l, x, shape) if with_shape else fn(X, l, x)
        return y, c.plain_act if act == "plain" else act
    return run


# layer kind -> executor(X, l, x, shape, place) -> (output, activation follows);
# a kind is looked up along its class's MRO
_EXECUTORS = {
    L.Conv2d: _x_conv,
    L.ConvTranspose2d: _x_conv,
    L.Conv1d: _then("plain", _conv1d, with_shape=False),
    L.Dense: lambda X, l, x, shape, c: (_dense(X, l, x), c.plain_act and not l.tied),
    L.ConvBN: lambda X, l, x, shape, c: (_prim(X, l, x, shape, "conv_bn"), not c.last),
    L.BatchNorm: _then(True, _bn, with_shape=False),
    L.LayerNorm: _then(False, _ln),
    L.SeparableConv: _then(True, _sepconv),
    L.MaxPool: _then(False, _max_pool),
    L.AvgPool: lambda X, l, x, shape, c: (ops.avg_pool2d(X.D, x, l.k, l.stride or l.k, l.pad), False),
    L.GlobalAvgPool: lambda X, l, x, shape, c: (ops.global_avg_pool(X.D, x), False),
    L.Flatten: lambda X, l, x, shape, c: (X.D.reshape(x, (1, -1)), False),
    L.Subsample: _x_subsample,
    L.PartialConv2d: _then(True, _partial_conv, with_shape=False),
    L.RBFOutput: _x_rbf,
    L.Reshape: _x_reshape,
    L.TokenPool: _x_token_pool,
    L.Embedding: _x_embedding,
    L.PositionalEncoding: _x_positions,
    L.Parameter: _x_parameter,
    L.ResidualBlock: _then(False, _res_basic),
    L.BottleneckBlock: _then(False, _bottleneck),
    L.InvertedResidual: _then(False, _mobile),
    L.MBConv: _then(False, _mobile),
    L.FireModule: _then(False, _fire),
    L.InceptionModule: _then(False, _inception),
    L.XceptionBlock: _then(False, _xception),
    L.DenseBlock: _then(False, _dense_block),
    L.TransitionLayer: _then(False, _transition),
    L.ShuffleUnit: _then(False, _shuffle),
    L.ConvNeXtBlock: _then(False, _convnext),
    L.PatchEmbed: _then(False, _patch_embed, with_shape=False),
    L.TransformerEncoder: _then(False, _encoder, with_shape=False),
    L.TransformerDecoder: _then(False, _decoder, with_shape=False),
    L.SwinStage: _then(False, _swin, with_shape=False),
    L.PatchMerging: _then(False, _patch_merge, with_shape=False),
    L.MobileViTBlock: _then(False, _mobilevit),
    L.UNetDown: _then(False, _unet_down),
    L.UNetUp: _then(False, _unet_up),
    L.ASPPModule: _then(False, _aspp),
    L.DeepLabDecoder: _then(False, _deeplab_dec),
    L.MambaBlock: _then(False, _mamba, with_shape=False),
    L.NerfMLP: _then(False, _nerf, with_shape=False),
    L.Parallel: _x_parallel,
}


def _run_tower(X, tower, x, prefix):
    D = X.D
    shape = tower.input_shape
    layers = tower.layers
    for i, l in enumerate(layers):
        with scope(f"{prefix}.{i}"):
            x, act = _layer(X, l, x, shape, layers, i)
            if act:
                x = X.act(x)
            x = tap(D, l.label.replace(" ", "_") or l.kind, x)
        shape = l.trace(shape).out
        if len(shape) == 3 and not isinstance(l, L.Reshape):
            X.images.append((x, shape))
        step(f"{prefix}.{i}")
    return x, shape


# ----------------------------------------------------------------------------- the model

def zoo_name(entry_name):
    """'ResNet-18' -> 'resnet-18', 'ViT-B/16' -> 'vit-b-16', 'DeepLab v3+' -> 'deeplab-v3plus'."""
    s = entry_name.lower().replace("+", "plus")
    out = "".join(ch if (ch.isalnum() or ch == ".") else "-" for ch in s)
    while "--" in out:
        out = out.replace("--", "-")
    return out.strip("-")


@dataclass(frozen=True)
class TinyConfig:
    arch: str
    input_shapes: tuple
    preset: str = "tiny"


class BestiaryModel(Model):
    """A bestiary architecture's tiny derivation as a zoo model (subclassed per entry)."""

    entry_name = None
    summary = ""

    def __init__(self, config=None, seed=0):
        self.entry = CATALOG[self.entry_name]
        self.spec = tiny(self.entry)
        cfg = TinyConfig(self.entry.name, tuple(t.input_shape for t in self.spec.towers))
        cfg = config_from(TinyConfig, {"tiny": cfg}, config)
        self.seed = seed
        self._store, self._buffers = {}, set()
        self._init_rng = np.random.default_rng(seed)
        import fpsem
        self.params = {}
        X = _X(self, fpsem.domain("float32"), init=True)
        self._forward(X, *self._inputs(seed))
        super().__init__(cfg, self._store, seed=seed)
        self._buffers = frozenset(self._buffers)
        del self._store, self._init_rng

    # -- identity ---------------------------------------------------------------------
    @property
    def n_trainable(self):
        return int(sum(v.size for k, v in self.params.items() if k not in self._buffers))

    @property
    def buffers(self):
        return sorted(self._buffers)

    @property
    def n_steps(self):
        return sum(len(t.layers) for t in self.spec.towers)

    @property
    def is_rational(self):
        return False

    @property
    def decision_axis(self):
        return 1 if len(self.output_shape()) == 4 else -1

    N_TEXTS = 2

    def output_shape(self):
        """The shape forward returns, from the tiny spec's trace."""
        towers = self.spec.towers
        if self.entry.name.startswith("CLIP"):
            return (1, self.N_TEXTS)
        if self.entry.name == "NeRF":
            return (towers[0].input_shape[0], 4)
        out = L.run_seq(towers[-1].layers, towers[-1].input_shape).out
        return out if len(out) == 2 else (1,) + out   # tokens (T, D) as they are; else a batch of 1

    # -- inputs ----------------------------------------------------------------------------
    def _inputs(self, seed):
        rng = np.random.default_rng(seed + 1000)
        out = []
        for t in self.spec.towers:
            s = t.input_shape
            if t.name == "decoder":
                continue
            if self.entry.name == "NeRF":
                o = 0.1 * rng.standard_normal((s[0], 3))
                d = rng.standard_normal((s[0], 3))
                d /= np.linalg.norm(d, axis=1, keepdims=True)
                out.append(np.concatenate([o, d], axis=1).astype(np.float32))
            elif len(s) == 1 and isinstance(t.layers[0], L.Embedding):
                n = self.N_TEXTS if self.entry.name.startswith("CLIP") else 1
                ids = rng.integers(0, t.layers[0].vocab, (n, s[0]) if n > 1 else s[0])
                out.append(ids.astype(np.int64))
            else:
                out.append(rng.standard_normal((1,) + tuple(s)).astype(np.float32))
        return tuple(out)

    def default_inputs(self):
        return self._inputs(self.seed)

    # -- forward -----------------------------------------------------------------------
    def forward(self, D, *inputs):
        ins = self._inputs(self.seed)
        if len(inputs) != len(ins):
            raise ShapeError(f"{self.name}: expected {len(ins)} input(s), got {len(inputs)}")
        for a, b in zip(inputs, ins):
            self.check_input(a, b.shape)
        return self._forward(_X(self, D), *inputs)

    def _forward(self, X, *inputs):
        D = X.D
        towers = self.spec.towers
        multi = len(towers) > 1
        name = self.entry.name
        if name.startswith("CLIP"):
            img, ids = inputs
            xi, _ = _run_tower(X, towers[0], D.asarray(img), "image")
            txt, _ = _run_tower(X, towers[1], np.asarray(ids), "text")      # (n, e): texts batched

            def unit(v):
                return D.div(v, D.sqrt(D.sum(D.mul(v, v), axis=-1, keepdims=True)))
            sim = D.dot(unit(xi), D.transpose(unit(txt)))                  # (1, n)
            return tap(D, "logits", D.mul(D.exp(X.logit_scale), sim))
        x = inputs[0]
        if name == "NeRF":
            X.rays = D.asarray(x)
            x = X.rays
        elif not (len(towers[0].input_shape) == 1 and isinstance(towers[0].layers[0], L.Embedding)):
            x = D.asarray(x)
        else:
            x = np.asarray(x)
        x, shape = _run_tower(X, towers[0], x, towers[0].name if multi else "layers")
        if multi:                                                          # DETR
            X.memory = x
            x, shape = _run_tower(X, towers[1], None, towers[1].name)
        if "out_act" in X.arch:
            x = X.act(x, X.arch["out_act"])
        return tap(D, "logits" if len(D.shape(x)) == 2 and name != "NeRF" else "output", x)


def runnable():
    """({zoo name: entry name} of the catalogue entries the executor runs, {entry name: the
    layer kind that blocks it}). Every entry runs today (tests/test_bestiary_run.py); the
    second dict is kept for entries added later with a kind listed in NOT_EXECUTED."""
    ok, why = {}, {}
    for name, e in CATALOG.items():
        blocked = [l.kind for t in e.towers for l in t.layers if l.kind in NOT_EXECUTED]
        if blocked:
            why[name] = blocked[0]
        else:
            ok[zoo_name(name)] = name
    return ok, why


def model_classes():
    ok, _ = runnable()
    out = {}
    for zn, en in ok.items():
        e = CATALOG[en]
        cls = type(f"Bestiary_{zn}", (BestiaryModel,), {
            "name": zn, "entry_name": en,
            "summary": f"{en}: tiny derivation of the bestiary spec ({e.citation.split(',')[0]})"})
        out[zn] = cls
    return out
