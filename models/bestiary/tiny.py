"""The `tiny` derivation of a bestiary architecture: the same layer sequence and kinds,
shrunk so one forward in the ieee32 emulator takes a fraction of a second.

Rules (one place, applied to every entry):

* widths: every *output* width of a record (channels, hidden sizes, heads' widths) is
  mapped by :func:`width`, ``2 * ceil(sqrt(c) / 4)`` (64 -> 4, 256 -> 8, 1024 -> 16,
  4096 -> 32): even, monotone, 4-32 for the usual sizes. *Input* widths are never mapped:
  they are set to the width that actually arrives (the tiny trace is propagated layer by
  layer), so concatenations, dense blocks and flattenings stay consistent. Where the
  original has cin != cout (so a projection shortcut) and the map would make them equal,
  the output width is bumped by 2, so the tiny block keeps the projection.
* heads: at most 2 (widths rounded to a multiple of the head count); vocabularies: 64.
* repeats: a run of identical consecutive records (a stage's repeated blocks, the
  Xception middle flow, YOLO's conv pairs: runs of a period of 1, 2 or 3 records) keeps at
  most ``MAX_REPEAT`` copies; the ``layers`` / ``depth`` counts of transformer, Swin,
  Mamba and dense blocks are capped at 2.
* inputs: images 32x32 unless the architecture needs more to keep every stage non-empty
  (AlexNet 67, GoogLeNet 64, YOLO 64, MobileViT 64, DeepLab 64, SAM 64, UNet 188: the paper's unpadded
  convolutions); 8 tokens; ViT / CLIP / SAM patches of 8; input channels (3, 1, 17, 80 mel
  bins, 100-d noise) are data and kept. LeNet-5 (60k parameters) is kept whole.

The tiny spec is an :class:`~.catalog.Entry` of the same records, so its ``params()``
counts the tiny fixture's trainable parameters by the same code as the full spec.
"""
from __future__ import annotations

import dataclasses
import math

from . import layers as L
from .catalog import Entry, Tower, get

MAX_REPEAT = 2
MAX_LAYERS = 2
MAX_HEADS = 2
VOCAB = 64
TOKENS = 8

#: tiny input shapes where the default (32x32 images, 8 tokens) does not fit
INPUTS = {
    "AlexNet": (3, 67, 67), "GoogLeNet": (3, 64, 64), "YOLOv1": (3, 64, 64), "MobileViT-S": (3, 64, 64),
    "DeepLab v3+": (3, 64, 64), "SAM ViT-B encoder": (3, 64, 64), "UNet": (1, 188, 188),
    "AlphaGo Zero": (17, 19, 19), "Whisper-small encoder": (80, 2 * TOKENS), "NeRF": (2, 6),
    "DETR-R50": (3, 64, 64), "DCGAN": (100,),
}
#: entries kept at full width (already tiny)
KEEP_WIDTH = {"LeNet-5"}
PATCH = 8
QUERIES = 4
SAMPLES = 4
WINDOW = 2      # Swin windows
SAM_WINDOW = 3  # SAM windows (8x8 grid: padded to 9x9, as 64 is padded to 70 in SAM)


def width(c, keep=False):
    if keep:
        return c
    return max(2, 2 * math.ceil(math.sqrt(c) / 4))


def _heads(h):
    return min(h, MAX_HEADS)


def _mult(c, m):
    return -(-c // m) * m


def _distinct(ci, co, tci, tco):
    """Keep cin != cout when the original has it (projection shortcuts)."""
    return tco + 2 if (ci != co and tci == tco) else tco


def _collapse(layers, cap=MAX_REPEAT):
    """Cap runs of identical consecutive blocks (period 1, 2 or 3) at `cap` copies."""
    key = lambda l: dataclasses.replace(l, label="") if hasattr(l, "label") else l
    out = list(layers)
    for period in (1, 2, 3):
        res, i = [], 0
        while i < len(out):
            blk = out[i:i + period]
            n = 1
            while out[i + n * period:i + (n + 1) * period] and \
                    [key(x) for x in out[i + n * period:i + (n + 1) * period]] == [key(x) for x in blk]:
                n += 1
            for r in range(min(n, cap)):
                res.extend(out[i + r * period:i + (r + 1) * period])
            i += n * period
        out = res
    return out


class _Ctx:
    def __init__(self, entry):
        self.entry = entry
        self.keep = entry.name in KEEP_WIDTH
        self.images = []   # tiny image shapes seen (for skips: U-Net, DeepLab)
        self.w = lambda c: width(c, self.keep)


def _shrink(l, shape, cx, nxt):
    """The tiny version of record `l` given the tiny input `shape`."""
    w, R = cx.w, dataclasses.replace
    C = shape[0] if len(shape) == 3 else None
    if isinstance(l, L.Conv2d):
        cout = w(l.cout)
        if l.groups == l.cin and l.groups > 1:          # depthwise
            return R(l, cin=C, cout=C * (l.cout // l.cin), groups=C)
        if l.cout <= 4:                                  # image / class-map outputs: kept
            cout = l.cout
        cout = _mult(_distinct(l.cin, l.cout, C, cout), l.groups)
        return R(l, cin=C, cout=cout)
    if isinstance(l, L.Conv1d):
        return R(l, cin=shape[0], cout=w(l.cout))
    if isinstance(l, L.ConvTranspose2d):
        return R(l, cin=C, cout=l.cout if l.cout <= 3 else w(l.cout))
    if isinstance(l, L.ConvBN):
        if l.groups == l.cin and l.groups > 1:
            return R(l, cin=C, cout=C, groups=C)
        return R(l, cin=C, cout=_distinct(l.cin, l.cout, C, w(l.cout)))
    if isinstance(l, L.BatchNorm):
        return R(l, c=shape[0])
    if isinstance(l, L.LayerNorm):
        return R(l, dim=shape[0] if len(shape) == 3 else shape[-1])
    if isinstance(l, L.Dense):
        fin = shape[-1]
        if l.tied:
            return R(l, fin=fin, fout=VOCAB)
        if isinstance(nxt, L.Reshape) and len(nxt.to) == 3:   # DCGAN's projection
            return R(l, fin=fin, fout=w(nxt.to[0]) * nxt.to[1] * nxt.to[2])
        return R(l, fin=fin, fout=l.fout if l.fout <= 10 else w(l.fout))
    if isinstance(l, (L.MaxPool, L.AvgPool, L.GlobalAvgPool, L.Flatten, L.TokenPool)):
        return l
    if isinstance(l, L.Subsample):
        return R(l, c=C)
    if isinstance(l, (L.PartialConv2d, L.RBFOutput)):
        return l  # LeNet-5 only, kept whole
    if isinstance(l, L.Reshape):
        if len(l.to) == 2:
            return R(l, to=(-1, shape[0]))
        if len(shape) == 1:
            return R(l, to=(shape[0] // (l.to[1] * l.to[2]), l.to[1], l.to[2]))
        side = math.isqrt(shape[0])
        return R(l, to=(shape[1], side, side))
    if isinstance(l, L.Embedding):
        return R(l, vocab=VOCAB, dim=w(l.dim))
    if isinstance(l, L.PositionalEncoding):
        d = shape[-1] if len(shape) == 2 else shape[0]
        seq = shape[0] if len(shape) == 2 else shape[1] * shape[2]
        return R(l, length=seq, dim=d)
    if isinstance(l, L.Parameter):
        if l.label == "query_embed":
            return R(l, count=QUERIES * shape[-1])
        if l.label == "token_type_embeddings":
            return R(l, count=2 * shape[-1])
        return l
    if isinstance(l, L.ResidualBlock):
        return R(l, cin=C, cout=_distinct(l.cin, l.cout, C, w(l.cout)))
    if isinstance(l, L.BottleneckBlock):
        return R(l, cin=C, mid=w(l.mid), cout=_distinct(l.cin, l.cout, C, w(l.cout)))
    if isinstance(l, (L.InvertedResidual, L.MBConv)):
        return R(l, cin=C, cout=_distinct(l.cin, l.cout, C, w(l.cout)))
    if isinstance(l, L.FireModule):
        return R(l, cin=C, squeeze=w(l.squeeze), e1=w(l.e1), e3=w(l.e3))
    if isinstance(l, L.InceptionModule):
        return R(l, cin=C, c1=w(l.c1), c3r=w(l.c3r), c3=w(l.c3), c5r=w(l.c5r), c5=w(l.c5),
                 pool_proj=w(l.pool_proj))
    if isinstance(l, L.SeparableConv):
        return R(l, cin=C, cout=w(l.cout))
    if isinstance(l, L.XceptionBlock):
        return R(l, cin=C, cout=_distinct(l.cin, l.cout, C, w(l.cout)))
    if isinstance(l, L.DenseBlock):
        return R(l, cin=C, layers=min(l.layers, MAX_LAYERS), growth=w(l.growth))
    if isinstance(l, L.TransitionLayer):
        return R(l, cin=C, cout=C * l.cout // l.cin)
    if isinstance(l, L.ShuffleUnit):
        co = _mult(w(l.cout), 2) if l.stride != 1 else C
        return R(l, cin=C, cout=co)
    if isinstance(l, L.ConvNeXtBlock):
        return R(l, dim=C)
    if isinstance(l, L.PatchEmbed):
        return R(l, cin=C, dim=w(l.dim), patch=min(l.patch, PATCH))
    if isinstance(l, L.TransformerEncoder):
        h = _heads(l.heads)
        t, d = shape
        kw = {}
        if l.window:
            kw["window"] = SAM_WINDOW
        if l.rel_pos:
            kw["rel_pos"] = SAM_WINDOW if l.window else math.isqrt(t)
        return R(l, d=d, heads=h, d_ff=w(l.d_ff), layers=min(l.layers, MAX_LAYERS), **kw)
    if isinstance(l, L.TransformerDecoder):
        return R(l, d=shape[-1], heads=_heads(l.heads), d_ff=w(l.d_ff), memory_len=cx.memory_len,
                 layers=min(l.layers, MAX_LAYERS))
    if isinstance(l, L.SwinStage):
        side = math.isqrt(shape[0])
        return R(l, dim=shape[1], depth=min(l.depth, MAX_LAYERS), heads=_heads(l.heads),
                 window=min(WINDOW, side))
    if isinstance(l, L.PatchMerging):
        return R(l, dim=shape[1])
    if isinstance(l, L.MobileViTBlock):
        return R(l, c=C, d=_mult(w(l.d), 2), layers=min(l.layers, MAX_LAYERS), heads=_heads(l.heads))
    if isinstance(l, L.UNetDown):
        return R(l, cin=C, cout=w(l.cout))
    if isinstance(l, L.UNetUp):
        return R(l, cin=C, cout=w(l.cout))
    if isinstance(l, L.ASPPModule):
        return R(l, cin=C, cout=w(l.cout))
    if isinstance(l, L.DeepLabDecoder):
        h, wd = shape[1:]
        low = next(s for s in reversed(cx.images) if s[1:] == (4 * h, 4 * wd))
        return R(l, cin=C, low_ch=low[0], classes=w(l.classes), low_proj=w(l.low_proj), ch=w(l.ch))
    if isinstance(l, L.MambaBlock):
        return R(l, d=shape[-1], layers=min(l.layers, MAX_LAYERS), d_state=w(l.d_state))
    if isinstance(l, L.NerfMLP):
        return R(l, samples=SAMPLES, width=w(l.width), dir_width=w(l.dir_width))
    if isinstance(l, L.Parallel) and l.mode == "heads":
        paths = []
        for p in l.paths:
            s, out = shape, []
            for i, x in enumerate(p):
                x2 = _shrink(x, s, cx, p[i + 1] if i + 1 < len(p) else None)
                if i == len(p) - 1 and isinstance(x2, L.Dense) and x.fout <= 400:
                    x2 = dataclasses.replace(x2, fout=x.fout if x.fout <= 4 else w(x.fout))
                out.append(x2)
                s = x2.trace(s).out
            paths.append(tuple(out))
        return R(l, paths=tuple(paths))
    raise NotImplementedError(f"no tiny rule for {l.kind}")


def _tiny_tower(tower, shape, cx):
    layers = _collapse(tower.layers)
    out = []
    for i, l in enumerate(layers):
        nxt = layers[i + 1] if i + 1 < len(layers) else None
        t = _shrink(l, shape, cx, nxt)
        out.append(t)
        shape = t.trace(shape).out
        if len(shape) == 3:
            cx.images.append(shape)
    return tuple(out), shape


def _input(entry, tower, k):
    if k == 0 and entry.name in INPUTS:
        return INPUTS[entry.name]
    s = tower.input_shape
    if len(s) == 3:
        return s if s[1] <= 32 else (s[0], 32, 32)
    if len(s) == 1 and tower.name != "decoder":
        return (TOKENS,)
    return s


def tiny(name) -> Entry:
    """The tiny derivation of a catalogue entry (same records, shrunk; see module doc)."""
    e = get(name) if isinstance(name, str) else name
    cx = _Ctx(e)
    towers, out = [], None
    for k, t in enumerate(e.towers):
        shape = _input(e, t, k)
        if t.name == "decoder":       # DETR: queries of the encoder's width, memory its tokens
            shape = (QUERIES, out[-1])
            cx.memory_len = out[0]
        layers, out = _tiny_tower(t, shape, cx)
        towers.append(Tower(t.name, tuple(shape), layers))
    return dataclasses.replace(e, towers=tuple(towers),
                               note=f"tiny derivation of {e.name} (models/bestiary/tiny.py)")
