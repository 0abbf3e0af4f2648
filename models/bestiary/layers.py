"""Typed layer records for the bestiary: architecture specs as data.

Every record is a frozen dataclass with

``params()``            number of trainable parameters (BatchNorm counts gamma and beta,
                        2 per channel; running statistics are buffers, as in PyTorch and
                        as in the "trainable params" figure Keras and the papers give);
``trace(in_shape)``     a :class:`Trace`: output shape, multiply-accumulates for one
                        input, the longest dot product and the longest plain sum;
``macs(in_shape)``, ``out_shape(in_shape)``, ``dot_len(in_shape)``  shorthands.

Shapes: images are ``(C, H, W)``, 1-D signals ``(C, L)``, token sequences ``(T, D)``,
token ids ``(T,)`` and vectors ``(D,)``; the batch dimension is left out.

Counting conventions (stated once, used everywhere):

* MACs count the multiply-accumulates of convolutions, dense layers, attention
  (Q K^T and A V, exact for causal masks) and state-space scans; normalisation,
  activations, pooling and residual additions are not MACs (the usual convention of
  the papers' "multiply-adds").
* ``dot`` is the longest dot product any output element of the layer is a
  reduction of (convolution fan-in ``C_in/groups * k * k``, dense fan-in, attention
  head width for the scores and key count for ``A V``); the bias addition is not
  counted as a term.
* ``sum`` is the longest plain sum (average pooling, LayerNorm mean and variance,
  softmax denominators). Inference BatchNorm is an affine map (no reduction) and max
  pooling is exact.

A composite record (residual block, inception module, ...) describes itself by a list of
primitive parts (``parts()``), so its parameters, MACs and longest reductions are
computed by the same code as the primitives', never typed in.
"""
from __future__ import annotations

import math
from dataclasses import MISSING, dataclass, fields
from typing import ClassVar

from fpsem.errors import ShapeError

Shape = tuple


@dataclass(frozen=True)
class Trace:
    out: Shape
    macs: int = 0
    dot: int = 0   # longest dot product
    sum: int = 0   # longest plain sum


def _prod(xs):
    p = 1
    for x in xs:
        p *= x
    return p


def _conv_len(n, k, s, p, d=1, ceil=False):
    eff = d * (k - 1) + 1
    num = n + 2 * p - eff
    if num < 0:
        raise ShapeError(f"kernel {k} (dilation {d}) does not fit an input of size {n} with padding {p}")
    out = (-(-num // s) if ceil else num // s) + 1
    if ceil and (out - 1) * s >= n + p:  # PyTorch: the last window must start inside the input
        out -= 1
    return out


def _need(shape, rank, who):
    if len(shape) != rank:
        raise ShapeError(f"{who}: expected a rank-{rank} input, got shape {shape}")


def run_seq(layers, shape) -> Trace:
    macs = dot = sm = 0
    for layer in layers:
        t = layer.trace(shape)
        shape = t.out
        macs += t.macs
        dot = max(dot, t.dot)
        sm = max(sm, t.sum)
    return Trace(tuple(shape), macs, dot, sm)


class Layer:
    """Base of every record. Subclasses are frozen dataclasses."""

    kind: ClassVar[str] = "layer"

    def parts(self):
        """Primitive parts, applied in sequence (composites override)."""
        raise NotImplementedError

    def params(self) -> int:
        return sum(p.params() for p in self.parts())

    def trace(self, shape) -> Trace:
        return run_seq(self.parts(), tuple(shape))

    # shorthands
    def macs(self, shape) -> int:
        return self.trace(shape).macs

    def out_shape(self, shape) -> Shape:
        return self.trace(shape).out

    def dot_len(self, shape) -> int:
        return self.trace(shape).dot

    def describe(self) -> str:
        """A one-line rendering: the kind and every field that differs from its default."""
        args = []
        for f in fields(self):
            if f.name == "label":
                continue
            v = getattr(self, f.name)
            if f.name == "paths":
                args.append(f"{len(v)} paths")
            elif f.default is MISSING or v != f.default:
                args.append(f"{f.name}={v}")
        return f"{self.kind}({', '.join(args)})"


# ----------------------------------------------------------------------------- primitives

@dataclass(frozen=True)
class Conv2d(Layer):
    kind: ClassVar[str] = "conv2d"
    cin: int
    cout: int
    k: int
    stride: int = 1
    pad: int | None = None      # None: "same"-style k//2 * dilation
    groups: int = 1
    bias: bool = True
    dilation: int = 1
    label: str = ""

    def _pad(self):
        return (self.k // 2) * self.dilation if self.pad is None else self.pad

    def params(self):
        if self.cin % self.groups or self.cout % self.groups:
            raise ShapeError(f"conv2d: groups={self.groups} must divide {self.cin} and {self.cout}")
        return self.cout * (self.cin // self.groups) * self.k * self.k + (self.cout if self.bias else 0)

    def trace(self, shape):
        _need(shape, 3, "conv2d")
        c, h, w = shape
        if c != self.cin:
            raise ShapeError(f"conv2d: expects {self.cin} input channels, got {c} (shape {shape})")
        p = self._pad()
        ho = _conv_len(h, self.k, self.stride, p, self.dilation)
        wo = _conv_len(w, self.k, self.stride, p, self.dilation)
        fan = (self.cin // self.groups) * self.k * self.k
        return Trace((self.cout, ho, wo), self.cout * ho * wo * fan, fan, 0)


@dataclass(frozen=True)
class Conv1d(Layer):
    kind: ClassVar[str] = "conv1d"
    cin: int
    cout: int
    k: int
    stride: int = 1
    pad: int | None = None
    groups: int = 1
    bias: bool = True
    dilation: int = 1
    label: str = ""

    def params(self):
        return self.cout * (self.cin // self.groups) * self.k + (self.cout if self.bias else 0)

    def trace(self, shape):
        _need(shape, 2, "conv1d")
        c, n = shape
        if c != self.cin:
            raise ShapeError(f"conv1d: expects {self.cin} input channels, got {c}")
        p = (self.k // 2) * self.dilation if self.pad is None else self.pad
        lo = _conv_len(n, self.k, self.stride, p, self.dilation)
        fan = (self.cin // self.groups) * self.k
        return Trace((self.cout, lo), self.cout * lo * fan, fan, 0)


@dataclass(frozen=True)
class ConvTranspose2d(Layer):
    kind: ClassVar[str] = "conv_transpose2d"
    cin: int
    cout: int
    k: int
    stride: int = 1
    pad: int = 0
    output_pad: int = 0
    bias: bool = True
    label: str = ""

    def params(self):
        return self.cin * self.cout * self.k * self.k + (self.cout if self.bias else 0)

    def trace(self, shape):
        _need(shape, 3, "conv_transpose2d")
        c, h, w = shape
        if c != self.cin:
            raise ShapeError(f"conv_transpose2d: expects {self.cin} input channels, got {c}")
        ho = (h - 1) * self.stride - 2 * self.pad + self.k + self.output_pad
        wo = (w - 1) * self.stride - 2 * self.pad + self.k + self.output_pad
        taps = -(-self.k // self.stride)
        return Trace((self.cout, ho, wo), h * w * self.cin * self.cout * self.k * self.k,
                     self.cin * taps * taps, 0)


@dataclass(frozen=True)
class BatchNorm(Layer):
    """Inference BatchNorm: an affine map per channel (2 trainable params per channel;
    `trainable=False` for frozen BatchNorm whose affine terms are buffers)."""
    kind: ClassVar[str] = "batch_norm"
    c: int
    trainable: bool = True
    label: str = ""

    def params(self):
        return 2 * self.c if self.trainable else 0

    def trace(self, shape):
        if shape[0] != self.c:
            raise ShapeError(f"batch_norm: expects {self.c} channels, got shape {shape}")
        return Trace(tuple(shape))


@dataclass(frozen=True)
class LayerNorm(Layer):
    """LayerNorm over `dim`: the last axis of tokens, the channel axis of an image
    (ConvNeXt, SAM's LayerNorm2d). rms=True: RMSNorm (scale only)."""
    kind: ClassVar[str] = "layer_norm"
    dim: int
    bias: bool = True
    rms: bool = False
    label: str = ""

    def params(self):
        return self.dim * (1 if self.rms or not self.bias else 2)

    def trace(self, shape):
        axis = 0 if len(shape) == 3 else -1
        if shape[axis] != self.dim:
            raise ShapeError(f"layer_norm: expects {self.dim} features, got shape {shape}")
        return Trace(tuple(shape), 0, 0, self.dim)


@dataclass(frozen=True)
class Dense(Layer):
    """y = x W + b on the last axis. tied=True: the weight is shared with an embedding
    (GPT-2's output layer) and not counted again."""
    kind: ClassVar[str] = "dense"
    fin: int
    fout: int
    bias: bool = True
    tied: bool = False
    label: str = ""

    def params(self):
        return (0 if self.tied else self.fin * self.fout) + (self.fout if self.bias else 0)

    def trace(self, shape):
        if not shape or shape[-1] != self.fin:
            raise ShapeError(f"dense: expects {self.fin} input features, got shape {shape}")
        rows = _prod(shape[:-1])
        return Trace(tuple(shape[:-1]) + (self.fout,), rows * self.fin * self.fout, self.fin, 0)


@dataclass(frozen=True)
class MaxPool(Layer):
    kind: ClassVar[str] = "max_pool"
    k: int
    stride: int | None = None
    pad: int = 0
    ceil: bool = False
    label: str = ""

    def params(self):
        return 0

    def trace(self, shape):
        _need(shape, 3, "max_pool")
        c, h, w = shape
        s = self.stride or self.k
        return Trace((c, _conv_len(h, self.k, s, self.pad, ceil=self.ceil),
                      _conv_len(w, self.k, s, self.pad, ceil=self.ceil)))


@dataclass(frozen=True)
class AvgPool(Layer):
    kind: ClassVar[str] = "avg_pool"
    k: int
    stride: int | None = None
    pad: int = 0
    label: str = ""

    def params(self):
        return 0

    def trace(self, shape):
        _need(shape, 3, "avg_pool")
        c, h, w = shape
        s = self.stride or self.k
        return Trace((c, _conv_len(h, self.k, s, self.pad), _conv_len(w, self.k, s, self.pad)),
                     0, 0, self.k * self.k)


@dataclass(frozen=True)
class Subsample(Layer):
    """LeNet-5's S2/S4: 2x2 sum times a trainable coefficient plus a trainable bias per map."""
    kind: ClassVar[str] = "subsample"
    c: int
    k: int = 2
    label: str = ""

    def params(self):
        return 2 * self.c

    def trace(self, shape):
        c, h, w = shape
        if c != self.c:
            raise ShapeError(f"subsample: expects {self.c} maps, got {c}")
        return Trace((c, h // self.k, w // self.k), 0, 0, self.k * self.k)


@dataclass(frozen=True)
class PartialConv2d(Layer):
    """A convolution whose output map j sees only inputs_per_map[j] input maps (LeNet-5 C3)."""
    kind: ClassVar[str] = "partial_conv2d"
    cin: int
    inputs_per_map: tuple
    k: int
    label: str = ""

    def params(self):
        return sum(self.inputs_per_map) * self.k * self.k + len(self.inputs_per_map)

    def trace(self, shape):
        c, h, w = shape
        if c != self.cin:
            raise ShapeError(f"partial_conv2d: expects {self.cin} maps, got {c}")
        ho, wo = h - self.k + 1, w - self.k + 1
        return Trace((len(self.inputs_per_map), ho, wo),
                     ho * wo * sum(self.inputs_per_map) * self.k * self.k,
                     max(self.inputs_per_map) * self.k * self.k, 0)


@dataclass(frozen=True)
class RBFOutput(Layer):
    """LeNet-5's Euclidean RBF output units: ||x - w_i||^2 with FIXED (hand-set, not
    trained) weights, so no trainable parameters."""
    kind: ClassVar[str] = "rbf_output"
    fin: int
    fout: int
    label: str = ""

    def params(self):
        return 0

    def trace(self, shape):
        if shape[-1] != self.fin:
            raise ShapeError(f"rbf_output: expects {self.fin} inputs, got {shape}")
        return Trace((self.fout,), self.fin * self.fout, self.fin, 0)


@dataclass(frozen=True)
class GlobalAvgPool(Layer):
    kind: ClassVar[str] = "global_avg_pool"
    label: str = ""

    def params(self):
        return 0

    def trace(self, shape):
        _need(shape, 3, "global_avg_pool")
        return Trace((shape[0],), 0, 0, shape[1] * shape[2])


@dataclass(frozen=True)
class Flatten(Layer):
    kind: ClassVar[str] = "flatten"
    label: str = ""

    def params(self):
        return 0

    def trace(self, shape):
        return Trace((_prod(shape),))


@dataclass(frozen=True)
class Reshape(Layer):
    """Reshape (tokens to image and back); `to` may contain one -1."""
    kind: ClassVar[str] = "reshape"
    to: tuple
    transpose: bool = False   # tokens (T, D) <-> image (D, H, W): move the feature axis
    label: str = ""

    def params(self):
        return 0

    def trace(self, shape):
        n = _prod(shape)
        to = list(self.to)
        if -1 in to:
            i = to.index(-1)
            to[i] = n // -_prod(to)
        if _prod(to) != n:
            raise ShapeError(f"reshape: cannot reshape {shape} to {tuple(self.to)}")
        return Trace(tuple(to))


@dataclass(frozen=True)
class TokenPool(Layer):
    """(T, D) -> (D,): the class token ('cls') or the mean over tokens ('mean')."""
    kind: ClassVar[str] = "token_pool"
    mode: str = "cls"
    label: str = ""

    def params(self):
        return 0

    def trace(self, shape):
        _need(shape, 2, "token_pool")
        return Trace((shape[1],), 0, 0, shape[0] if self.mode == "mean" else 0)


@dataclass(frozen=True)
class Embedding(Layer):
    kind: ClassVar[str] = "embedding"
    vocab: int
    dim: int
    label: str = ""

    def params(self):
        return self.vocab * self.dim

    def trace(self, shape):
        _need(shape, 1, "embedding")
        return Trace((shape[0], self.dim))


@dataclass(frozen=True)
class PositionalEncoding(Layer):
    """Added position code: learned (length x dim parameters) or sinusoidal (none)."""
    kind: ClassVar[str] = "positional_encoding"
    length: int
    dim: int
    learned: bool = True
    label: str = ""

    def params(self):
        return self.length * self.dim if self.learned else 0

    def trace(self, shape):
        if shape[-1] != self.dim and not (len(shape) == 3 and shape[0] == self.dim):
            raise ShapeError(f"positional_encoding: expects dim {self.dim}, got shape {shape}")
        seq = shape[0] if len(shape) == 2 else _prod(shape[1:])
        if seq > self.length:
            raise ShapeError(f"positional_encoding: {seq} positions, table has {self.length}")
        return Trace(tuple(shape))


@dataclass(frozen=True)
class Parameter(Layer):
    """A free learned tensor that is no layer of its own (CLIP's logit scale, DETR's object
    queries, BERT's token-type table); the shape passes through."""
    kind: ClassVar[str] = "parameter"
    count: int
    label: str = ""

    def params(self):
        return self.count

    def trace(self, shape):
        return Trace(tuple(shape))


@dataclass(frozen=True)
class Parallel(Layer):
    """Paths applied to the same input and merged: 'add' (residual; an empty path is the
    identity), 'concat' (on the channel axis of images / the feature axis of tokens),
    'mul' (gating, e.g. squeeze-excitation; the output has path 0's shape) or 'heads'
    (separate outputs; the shape of path 0 is passed on)."""
    kind: ClassVar[str] = "parallel"
    mode: str
    paths: tuple
    label: str = ""

    def params(self):
        return sum(l.params() for p in self.paths for l in p)

    def trace(self, shape):
        ts = [run_seq(p, shape) for p in self.paths]
        macs = sum(t.macs for t in ts)
        dot = max(t.dot for t in ts)
        sm = max(t.sum for t in ts)
        if self.mode == "concat":
            axis = 0 if len(ts[0].out) == 3 else -1
            rest = [t.out[:axis] + t.out[axis + 1:] if axis == -1 else t.out[1:] for t in ts]
            if axis == -1:
                rest = [t.out[:-1] for t in ts]
            if any(r != rest[0] for r in rest):
                raise ShapeError(f"parallel(concat): path shapes disagree: {[t.out for t in ts]}")
            ch = sum(t.out[axis] for t in ts)
            out = (ch,) + ts[0].out[1:] if axis == 0 else ts[0].out[:-1] + (ch,)
        else:
            out = ts[0].out
            if self.mode == "add" and any(t.out != out for t in ts):
                raise ShapeError(f"parallel(add): path shapes disagree: {[t.out for t in ts]}")
        return Trace(out, macs, dot, sm)


# ----------------------------------------------------------------------------- composites

def _cbn(cin, cout, k, stride=1, groups=1, dilation=1, pad=None, bn=True, bias=False):
    c = Conv2d(cin, cout, k, stride, pad, groups, bias, dilation)
    return [c, BatchNorm(cout, trainable=bn)]


@dataclass(frozen=True)
class ConvBN(Layer):
    """Convolution (no bias by default) followed by BatchNorm."""
    kind: ClassVar[str] = "conv_bn"
    cin: int
    cout: int
    k: int
    stride: int = 1
    pad: int | None = None
    groups: int = 1
    dilation: int = 1
    bias: bool = False
    bn_trainable: bool = True
    label: str = ""

    def parts(self):
        return _cbn(self.cin, self.cout, self.k, self.stride, self.groups, self.dilation,
                    self.pad, self.bn_trainable, self.bias)


@dataclass(frozen=True)
class ResidualBlock(Layer):
    """Two 3x3 convolutions and a shortcut (ResNet basic block, WRN pre-activation block,
    AlphaGo Zero tower block, CycleGAN generator block).

    norm: 'bn' (BatchNorm after each conv), 'preact' (BatchNorm before each conv, WRN),
    'none' (no normalisation, or InstanceNorm without affine terms as in CycleGAN).
    The shortcut is a 1x1 projection when stride or width change (with BatchNorm for
    'bn', without for 'preact')."""
    kind: ClassVar[str] = "residual_block"
    cin: int
    cout: int
    stride: int = 1
    norm: str = "bn"
    conv_bias: bool = False
    label: str = ""

    def parts(self):
        ci, co, s = self.cin, self.cout, self.stride
        b = self.conv_bias
        if self.norm == "bn":
            main = [*_cbn(ci, co, 3, s, bias=b), *_cbn(co, co, 3, bias=b)]
            proj = _cbn(ci, co, 1, s, pad=0) if (s != 1 or ci != co) else []
            return [Parallel("add", (tuple(main), tuple(proj)))]
        if self.norm == "preact":
            main = [BatchNorm(ci), Conv2d(ci, co, 3, s, bias=b), BatchNorm(co), Conv2d(co, co, 3, bias=b)]
            proj = [Conv2d(ci, co, 1, s, 0, bias=b)] if (s != 1 or ci != co) else []
            return [Parallel("add", (tuple(main), tuple(proj)))]
        main = [Conv2d(ci, co, 3, s, bias=b), Conv2d(co, co, 3, bias=b)]
        return [Parallel("add", (tuple(main), ()))]


@dataclass(frozen=True)
class BottleneckBlock(Layer):
    """ResNet bottleneck: 1x1 reduce, 3x3, 1x1 expand, BatchNorm after each; projection
    shortcut when stride or width change. The stride sits on the first 1x1 convolution
    as in He et al. (2016) (torchvision's 'v1.5' puts it on the 3x3: same parameters,
    more MACs); dilation for DeepLab's output stride 16."""
    kind: ClassVar[str] = "bottleneck_block"
    cin: int
    mid: int
    cout: int
    stride: int = 1
    dilation: int = 1
    bn_trainable: bool = True
    label: str = ""

    def parts(self):
        ci, m, co, s, t = self.cin, self.mid, self.cout, self.stride, self.bn_trainable
        main = [*_cbn(ci, m, 1, s, pad=0, bn=t), *_cbn(m, m, 3, dilation=self.dilation, bn=t),
                *_cbn(m, co, 1, pad=0, bn=t)]
        proj = _cbn(ci, co, 1, s, pad=0, bn=t) if (s != 1 or ci != co) else []
        return [Parallel("add", (tuple(main), tuple(proj)))]


@dataclass(frozen=True)
class InvertedResidual(Layer):
    """MobileNetV2 block: 1x1 expand (skipped for expand=1), 3x3 depthwise, 1x1 linear
    projection, BatchNorm after each; identity shortcut when stride 1 and cin == cout."""
    kind: ClassVar[str] = "inverted_residual"
    cin: int
    cout: int
    expand: int
    stride: int = 1
    k: int = 3
    label: str = ""

    def parts(self):
        hid = self.cin * self.expand
        main = []
        if self.expand != 1:
            main += _cbn(self.cin, hid, 1, pad=0)
        main += _cbn(hid, hid, self.k, self.stride, groups=hid)
        main += _cbn(hid, self.cout, 1, pad=0)
        if self.stride == 1 and self.cin == self.cout:
            return [Parallel("add", (tuple(main), ()))]
        return main


@dataclass(frozen=True)
class MBConv(Layer):
    """EfficientNet MBConv: inverted residual with squeeze-and-excitation (reduced to
    max(1, cin * se_ratio) channels, both SE convolutions with bias)."""
    kind: ClassVar[str] = "mb_conv"
    cin: int
    cout: int
    expand: int
    k: int = 3
    stride: int = 1
    se_ratio: float = 0.25
    label: str = ""

    def parts(self):
        hid = self.cin * self.expand
        sq = max(1, int(self.cin * self.se_ratio))
        main = []
        if self.expand != 1:
            main += _cbn(self.cin, hid, 1, pad=0)
        main += _cbn(hid, hid, self.k, self.stride, groups=hid)
        main.append(Parallel("mul", ((), (GlobalAvgPool(), Dense(hid, sq), Dense(sq, hid)))))
        main += _cbn(hid, self.cout, 1, pad=0)
        if self.stride == 1 and self.cin == self.cout:
            return [Parallel("add", (tuple(main), ()))]
        return main


@dataclass(frozen=True)
class FireModule(Layer):
    """SqueezeNet fire module: 1x1 squeeze, then 1x1 and 3x3 expand concatenated (biases)."""
    kind: ClassVar[str] = "fire_module"
    cin: int
    squeeze: int
    e1: int
    e3: int
    label: str = ""

    def parts(self):
        return [Conv2d(self.cin, self.squeeze, 1, pad=0),
                Parallel("concat", ((Conv2d(self.squeeze, self.e1, 1, pad=0),),
                                    (Conv2d(self.squeeze, self.e3, 3, pad=1),)))]


@dataclass(frozen=True)
class InceptionModule(Layer):
    """GoogLeNet inception (v1): 1x1 | 1x1-3x3 | 1x1-5x5 | 3x3 maxpool-1x1, concatenated;
    convolutions with bias, no BatchNorm (bn=True: torchvision's BN variant)."""
    kind: ClassVar[str] = "inception_module"
    cin: int
    c1: int
    c3r: int
    c3: int
    c5r: int
    c5: int
    pool_proj: int
    bn: bool = False
    label: str = ""

    def parts(self):
        def cv(ci, co, k):
            return _cbn(ci, co, k) if self.bn else [Conv2d(ci, co, k)]
        p = (tuple(cv(self.cin, self.c1, 1)),
             tuple(cv(self.cin, self.c3r, 1) + cv(self.c3r, self.c3, 3)),
             tuple(cv(self.cin, self.c5r, 1) + cv(self.c5r, self.c5, 5)),
             tuple([MaxPool(3, 1, 1)] + cv(self.cin, self.pool_proj, 1)))
        return [Parallel("concat", p)]


@dataclass(frozen=True)
class SeparableConv(Layer):
    """Depthwise k x k then pointwise 1x1 (no biases), optionally followed by BatchNorm."""
    kind: ClassVar[str] = "separable_conv"
    cin: int
    cout: int
    k: int = 3
    stride: int = 1
    dilation: int = 1
    bn: bool = True
    label: str = ""

    def parts(self):
        out = [Conv2d(self.cin, self.cin, self.k, self.stride, None, self.cin, False, self.dilation),
               Conv2d(self.cin, self.cout, 1, pad=0, bias=False)]
        return out + ([BatchNorm(self.cout)] if self.bn else [])


@dataclass(frozen=True)
class XceptionBlock(Layer):
    """Xception block: `reps` separable convs (+BN) growing cin -> cout on the first,
    then a 3x3/2 max pool when stride 2; a 1x1/stride conv+BN shortcut when the shape
    changes, else identity (Chollet 2017, Fig. 5)."""
    kind: ClassVar[str] = "xception_block"
    cin: int
    cout: int
    reps: int
    stride: int = 1
    grow_first: bool = True
    label: str = ""

    def parts(self):
        main, c = [], self.cin
        widths = ([self.cout] * self.reps if self.grow_first
                  else [self.cin] * (self.reps - 1) + [self.cout])
        for w in widths:
            main.append(SeparableConv(c, w))
            c = w
        if self.stride != 1:
            main.append(MaxPool(3, self.stride, 1))
        short = (_cbn(self.cin, self.cout, 1, self.stride, pad=0)
                 if (self.stride != 1 or self.cin != self.cout) else [])
        return [Parallel("add", (tuple(main), tuple(short)))]


@dataclass(frozen=True)
class DenseBlock(Layer):
    """DenseNet-BC dense block: `layers` times BN-ReLU-1x1 (bn_size*growth) - BN-ReLU-3x3
    (growth), each output concatenated to the running feature map."""
    kind: ClassVar[str] = "dense_block"
    cin: int
    layers: int
    growth: int = 32
    bn_size: int = 4
    label: str = ""

    def parts(self):
        out, c, g = [], self.cin, self.growth
        for _ in range(self.layers):
            f = (BatchNorm(c), Conv2d(c, self.bn_size * g, 1, pad=0, bias=False),
                 BatchNorm(self.bn_size * g), Conv2d(self.bn_size * g, g, 3, bias=False))
            out.append(Parallel("concat", ((), f)))
            c += g
        return out


@dataclass(frozen=True)
class TransitionLayer(Layer):
    """DenseNet transition: BN, 1x1 conv (no bias), 2x2 average pool."""
    kind: ClassVar[str] = "transition_layer"
    cin: int
    cout: int
    label: str = ""

    def parts(self):
        return [BatchNorm(self.cin), Conv2d(self.cin, self.cout, 1, pad=0, bias=False), AvgPool(2)]


@dataclass(frozen=True)
class ShuffleUnit(Layer):
    """ShuffleNet v2 unit. stride 1: channel split, the right half goes through
    1x1-dw3x3-1x1 (BN after each), concat, shuffle. stride 2: both branches see the
    whole input (left: dw3x3/2-1x1), each gives cout/2 channels."""
    kind: ClassVar[str] = "shuffle_unit"
    cin: int
    cout: int
    stride: int = 1
    label: str = ""

    def params(self):
        return sum(l.params() for l in self._branches())

    def _branches(self):
        h = self.cout // 2
        if self.stride == 1:
            return [*_cbn(h, h, 1, pad=0), *_cbn(h, h, 3, groups=h), *_cbn(h, h, 1, pad=0)]
        return [*_cbn(self.cin, self.cin, 3, 2, groups=self.cin), *_cbn(self.cin, h, 1, pad=0),
                *_cbn(self.cin, h, 1, pad=0), *_cbn(h, h, 3, 2, groups=h), *_cbn(h, h, 1, pad=0)]

    def trace(self, shape):
        c, hh, ww = shape
        h = self.cout // 2
        if self.stride == 1:
            t = run_seq(self._branches(), (h, hh, ww))
            return Trace((self.cout,) + t.out[1:], t.macs, t.dot, t.sum)
        b = self._branches()
        left, right = run_seq(b[:4], shape), run_seq(b[4:], shape)
        return Trace((self.cout,) + left.out[1:], left.macs + right.macs,
                     max(left.dot, right.dot), 0)


@dataclass(frozen=True)
class ConvNeXtBlock(Layer):
    """ConvNeXt block: 7x7 depthwise (bias), LayerNorm, Linear 4x (bias), GELU, Linear
    back (bias), layer scale, residual."""
    kind: ClassVar[str] = "convnext_block"
    dim: int
    label: str = ""

    def parts(self):
        d = self.dim
        main = (Conv2d(d, d, 7, groups=d), LayerNorm(d), _Pointwise(d, 4 * d),
                _Pointwise(4 * d, d), Parameter(d, "layer_scale"))
        return [Parallel("add", (main, ()))]


@dataclass(frozen=True)
class _Pointwise(Layer):
    """A dense layer applied per position of a (C, N) or (C, H, W) map (1x1 conv)."""
    kind: ClassVar[str] = "dense"
    fin: int
    fout: int
    bias: bool = True

    def params(self):
        return self.fin * self.fout + (self.fout if self.bias else 0)

    def trace(self, shape):
        if shape[0] != self.fin:
            raise ShapeError(f"dense: expects {self.fin} channels, got {shape}")
        n = _prod(shape[1:])
        return Trace((self.fout,) + tuple(shape[1:]), n * self.fin * self.fout, self.fin, 0)


@dataclass(frozen=True)
class PatchEmbed(Layer):
    """Non-overlapping patch x patch convolution to `dim` features, flattened to tokens;
    cls_token adds one learned token."""
    kind: ClassVar[str] = "patch_embed"
    cin: int
    dim: int
    patch: int
    cls_token: bool = False
    bias: bool = True
    label: str = ""

    def params(self):
        return (Conv2d(self.cin, self.dim, self.patch, self.patch, 0, bias=self.bias).params()
                + (self.dim if self.cls_token else 0))

    def trace(self, shape):
        t = Conv2d(self.cin, self.dim, self.patch, self.patch, 0, bias=self.bias).trace(shape)
        n = t.out[1] * t.out[2] + (1 if self.cls_token else 0)
        return Trace((n, self.dim), t.macs, t.dot, 0)


def _attn_params(d, qkv_bias=True, k_bias=True, out_bias=True, kv_dim=None):
    kv = kv_dim or d
    p = d * d + 2 * kv * d + d * d
    if qkv_bias:
        p += 2 * d + (d if k_bias else 0)
    if out_bias:
        p += d
    return p


def _attn_macs(tq, tk, d, kv_dim=None, causal=False):
    kv = kv_dim or d
    proj = tq * d * d + 2 * tk * kv * d + tq * d * d
    pairs = tq * (tq + 1) // 2 if causal else tq * tk
    return proj + 2 * pairs * d


@dataclass(frozen=True)
class TransformerEncoder(Layer):
    """`layers` identical transformer layers on (T, d): multi-head self-attention
    (Q, K, V, output projections) and a 2-layer MLP (d -> d_ff -> d), two LayerNorms.
    causal: decoder-only masking (GPT-2). window > 0: attention inside window x window
    tiles of a square token grid, padded (SAM). rel_pos > 0: decomposed relative
    position tables of 2*(2*rel_pos-1)*head_dim parameters (SAM). final_norm: one more
    LayerNorm after the last layer."""
    kind: ClassVar[str] = "transformer_encoder"
    d: int
    heads: int
    d_ff: int
    layers: int = 1
    causal: bool = False
    qkv_bias: bool = True
    k_bias: bool = True
    out_bias: bool = True
    mlp_bias: bool = True
    final_norm: bool = False
    window: int = 0
    rel_pos: int = 0
    label: str = ""

    def params(self):
        d = self.d
        per = (_attn_params(d, self.qkv_bias, self.k_bias, self.out_bias)
               + 2 * d * self.d_ff + ((self.d_ff + d) if self.mlp_bias else 0) + 4 * d)
        if self.rel_pos:
            per += 2 * (2 * self.rel_pos - 1) * (d // self.heads)
        return self.layers * per + (2 * d if self.final_norm else 0)

    def trace(self, shape):
        _need(shape, 2, "transformer_encoder")
        t, d = shape
        if d != self.d:
            raise ShapeError(f"transformer_encoder: expects width {self.d}, got {shape}")
        hd = d // self.heads
        if self.window:
            side = math.isqrt(t)
            if side * side != t:
                raise ShapeError(f"windowed attention needs a square token grid, got {t} tokens")
            nw2 = (-(-side // self.window)) ** 2
            tk = self.window ** 2
            queries = nw2 * tk  # the grid is padded to whole windows
            attn = t * 4 * d * d + nw2 * 2 * tk * tk * d
            span = self.window
        else:
            tk = queries = t
            span = math.isqrt(t)
            attn = _attn_macs(t, t, d, causal=self.causal)
        if self.rel_pos:  # q . R_h and q . R_w per query and head
            attn += queries * 2 * span * d
        mlp = 2 * t * d * self.d_ff
        return Trace((t, d), self.layers * (attn + mlp), max(d, self.d_ff, hd, tk), max(tk, d))


@dataclass(frozen=True)
class TransformerDecoder(Layer):
    """`layers` transformer decoder layers on (T, d): self-attention, cross-attention to a
    memory of `memory_len` tokens, MLP; three LayerNorms each; final_norm adds one."""
    kind: ClassVar[str] = "transformer_decoder"
    d: int
    heads: int
    d_ff: int
    memory_len: int
    layers: int = 1
    causal: bool = False
    final_norm: bool = False
    label: str = ""

    def params(self):
        d = self.d
        per = 2 * _attn_params(d) + 2 * d * self.d_ff + self.d_ff + d + 6 * d
        return self.layers * per + (2 * d if self.final_norm else 0)

    def trace(self, shape):
        _need(shape, 2, "transformer_decoder")
        t, d = shape
        if d != self.d:
            raise ShapeError(f"transformer_decoder: expects width {self.d}, got {shape}")
        m = self.memory_len
        per = (_attn_macs(t, t, d, causal=self.causal) + _attn_macs(t, m, d)
               + 2 * t * d * self.d_ff)
        return Trace((t, d), self.layers * per, max(d, self.d_ff, t, m), max(t, m, d))


@dataclass(frozen=True)
class SwinStage(Layer):
    """`depth` Swin blocks on a square grid of (T, dim) tokens: (shifted) window attention
    with a (2w-1)^2 x heads relative position bias table, MLP ratio 4, two LayerNorms."""
    kind: ClassVar[str] = "swin_stage"
    dim: int
    depth: int
    heads: int
    window: int = 7
    mlp_ratio: int = 4
    label: str = ""

    def params(self):
        c, w = self.dim, self.window
        per = (4 * c + _attn_params(c) + (2 * w - 1) ** 2 * self.heads
               + 2 * c * self.mlp_ratio * c + self.mlp_ratio * c + c)
        return self.depth * per

    def trace(self, shape):
        _need(shape, 2, "swin_stage")
        t, c = shape
        side = math.isqrt(t)
        w = min(self.window, side)
        nw = (-(-side // w)) ** 2
        tk = w * w
        per = t * 4 * c * c + nw * 2 * tk * tk * c + 2 * t * c * self.mlp_ratio * c
        return Trace((t, c), self.depth * per, max(self.mlp_ratio * c, tk, c), max(tk, c))


@dataclass(frozen=True)
class PatchMerging(Layer):
    """Swin patch merging: concatenate 2x2 neighbours (4C), LayerNorm, Linear 4C -> 2C
    without bias."""
    kind: ClassVar[str] = "patch_merging"
    dim: int
    label: str = ""

    def params(self):
        return 8 * self.dim + 8 * self.dim * self.dim

    def trace(self, shape):
        t, c = shape
        if c != self.dim:
            raise ShapeError(f"patch_merging: expects {self.dim} features, got {shape}")
        t4 = t // 4
        return Trace((t4, 2 * c), t4 * 4 * c * 2 * c, 4 * c, 4 * c)


@dataclass(frozen=True)
class MobileViTBlock(Layer):
    """MobileViT block (Mehta & Rastegari 2022): 3x3 conv+BN, 1x1 to d (no bias),
    `layers` pre-norm transformer layers over patch x patch unfolded tokens (MLP 2d),
    LayerNorm, 1x1 back to C (+BN), fusion 3x3 on the concatenation (+BN)."""
    kind: ClassVar[str] = "mobilevit_block"
    c: int
    d: int
    layers: int
    patch: int = 2
    heads: int = 4
    label: str = ""

    def _tr(self):
        return TransformerEncoder(self.d, self.heads, 2 * self.d, self.layers, final_norm=True)

    def params(self):
        c, d = self.c, self.d
        return (ConvBN(c, c, 3).params() + c * d + self._tr().params()
                + ConvBN(d, c, 1, pad=0).params() + ConvBN(2 * c, c, 3).params())

    def trace(self, shape):
        c, h, w = shape
        p2 = self.patch ** 2
        n = (h // self.patch) * (w // self.patch)
        t0 = ConvBN(c, c, 3).trace(shape)
        tt = self._tr().trace((n, self.d))
        hw = h * w
        macs = (t0.macs + hw * c * self.d + p2 * tt.macs + hw * self.d * c
                + ConvBN(2 * c, c, 3).trace((2 * c, h, w)).macs)
        return Trace(shape, macs, max(t0.dot, tt.dot, 2 * c * 9, self.d), max(tt.sum, self.d))


@dataclass(frozen=True)
class UNetDown(Layer):
    """U-Net contracting step: [2x2 max pool], two 3x3 convolutions with bias (unpadded,
    pad=0, as in Ronneberger et al.)."""
    kind: ClassVar[str] = "unet_down"
    cin: int
    cout: int
    pool: bool = True
    pad: int = 0
    label: str = ""

    def parts(self):
        return ([MaxPool(2)] if self.pool else []) + [
            Conv2d(self.cin, self.cout, 3, pad=self.pad), Conv2d(self.cout, self.cout, 3, pad=self.pad)]


@dataclass(frozen=True)
class UNetUp(Layer):
    """U-Net expanding step: 2x2 up-convolution halving the channels, concatenation with
    the (cropped) skip feature map of `cout` channels, two 3x3 convolutions."""
    kind: ClassVar[str] = "unet_up"
    cin: int
    cout: int
    pad: int = 0
    label: str = ""

    def params(self):
        return (ConvTranspose2d(self.cin, self.cout, 2, 2).params()
                + Conv2d(2 * self.cout, self.cout, 3).params() + Conv2d(self.cout, self.cout, 3).params())

    def trace(self, shape):
        up = ConvTranspose2d(self.cin, self.cout, 2, 2).trace(shape)
        cat = (2 * self.cout,) + up.out[1:]
        rest = run_seq([Conv2d(2 * self.cout, self.cout, 3, pad=self.pad),
                        Conv2d(self.cout, self.cout, 3, pad=self.pad)], cat)
        return Trace(rest.out, up.macs + rest.macs, max(up.dot, rest.dot), 0)


@dataclass(frozen=True)
class ImagePool(Layer):
    """DeepLab image-level features: global average pool, 1x1 conv (no bias) + BN to
    `cout`, broadcast back to the input's spatial size."""
    kind: ClassVar[str] = "image_pool"
    cin: int
    cout: int
    label: str = ""

    def params(self):
        return self.cin * self.cout + 2 * self.cout

    def trace(self, shape):
        _need(shape, 3, "image_pool")
        c, h, w = shape
        return Trace((self.cout, h, w), self.cin * self.cout, self.cin, h * w)


@dataclass(frozen=True)
class ASPPModule(Layer):
    """DeepLab v3 atrous spatial pyramid pooling: 1x1, three dilated 3x3, image pooling,
    each conv+BN to `cout`, concatenated and projected by 1x1 conv+BN."""
    kind: ClassVar[str] = "aspp_module"
    cin: int
    cout: int = 256
    rates: tuple = (6, 12, 18)
    label: str = ""

    def parts(self):
        ci, co = self.cin, self.cout
        paths = [tuple(_cbn(ci, co, 1, pad=0))]
        paths += [tuple(_cbn(ci, co, 3, dilation=r)) for r in self.rates]
        paths.append((ImagePool(ci, co),))
        return [Parallel("concat", tuple(paths)), *_cbn(co * (2 + len(self.rates)), co, 1, pad=0)]


@dataclass(frozen=True)
class DeepLabDecoder(Layer):
    """DeepLab v3+ decoder: upsample x4, 1x1 conv+BN of the stride-4 features to
    `low_proj`, concatenate, two 3x3 conv+BN, 1x1 classifier (bias), upsample x4."""
    kind: ClassVar[str] = "deeplab_decoder"
    cin: int
    low_ch: int
    classes: int
    low_proj: int = 48
    ch: int = 256
    label: str = ""

    def _convs(self):
        return [*_cbn(self.cin + self.low_proj, self.ch, 3), *_cbn(self.ch, self.ch, 3),
                Conv2d(self.ch, self.classes, 1, pad=0)]

    def params(self):
        return ConvBN(self.low_ch, self.low_proj, 1, pad=0).params() + sum(l.params() for l in self._convs())

    def trace(self, shape):
        c, h, w = shape
        low = ConvBN(self.low_ch, self.low_proj, 1, pad=0).trace((self.low_ch, 4 * h, 4 * w))
        t = run_seq(self._convs(), (self.cin + self.low_proj, 4 * h, 4 * w))
        return Trace((self.classes, 16 * h, 16 * w), low.macs + t.macs, max(low.dot, t.dot), 0)


@dataclass(frozen=True)
class FPNModule(Layer):
    """Feature pyramid network top-down path (Lin et al. 2017): per level a 1x1 lateral
    and a 3x3 output convolution to `cout` (with bias). The input shape is the coarsest
    level's; level i (finest first) is 2**(L-1-i) times larger. Output: the finest level."""
    kind: ClassVar[str] = "fpn_module"
    in_channels: tuple
    cout: int = 256
    label: str = ""

    def params(self):
        return sum(Conv2d(c, self.cout, 1, pad=0).params() + Conv2d(self.cout, self.cout, 3).params()
                   for c in self.in_channels)

    def trace(self, shape):
        _, h, w = shape
        L = len(self.in_channels)
        macs = dot = 0
        for i, c in enumerate(self.in_channels):
            f = 2 ** (L - 1 - i)
            t = run_seq([Conv2d(c, self.cout, 1, pad=0), Conv2d(self.cout, self.cout, 3)], (c, h * f, w * f))
            macs += t.macs
            dot = max(dot, t.dot)
        return Trace((self.cout, h * 2 ** (L - 1), w * 2 ** (L - 1)), macs, dot, 0)


@dataclass(frozen=True)
class MambaBlock(Layer):
    """`layers` Mamba residual blocks (Gu & Dao 2023) on (T, d): RMSNorm, in_proj d -> 2E
    (E = expand*d, no bias), causal depthwise conv1d (d_conv taps, bias), x_proj E ->
    dt_rank + 2 d_state (no bias), dt_proj dt_rank -> E (bias), A_log (E x d_state), D (E),
    selective scan, out_proj E -> d (no bias). The scan is a length-T linear recurrence per
    channel and state; `dot` reports the dot products (the recurrence is not a dot)."""
    kind: ClassVar[str] = "mamba_block"
    d: int
    layers: int = 1
    d_state: int = 16
    d_conv: int = 4
    expand: int = 2
    label: str = ""

    @property
    def dt_rank(self):
        return -(-self.d // 16)

    def params(self):
        d, E, N, r = self.d, self.expand * self.d, self.d_state, self.dt_rank
        per = (d + d * 2 * E + E * self.d_conv + E + E * (r + 2 * N) + r * E + E + E * N + E + E * d)
        return self.layers * per

    def trace(self, shape):
        _need(shape, 2, "mamba_block")
        t, d = shape
        E, N, r = self.expand * self.d, self.d_state, self.dt_rank
        per = t * (d * 2 * E + E * self.d_conv + E * (r + 2 * N) + r * E + 2 * E * N + E * d)
        return Trace((t, d), self.layers * per, max(d, E, r, N), d)


@dataclass(frozen=True)
class WaveNetBlock(Layer):
    """WaveNet residual block (van den Oord et al. 2016): dilated causal conv (kernel 2)
    to 2 x gate channels (filter and gate), tanh * sigmoid, 1x1 to the residual and 1x1 to
    the skip channels (biases). Input (C, L)."""
    kind: ClassVar[str] = "wavenet_block"
    residual: int
    gate: int
    skip: int
    dilation: int
    k: int = 2
    label: str = ""

    def params(self):
        r, g, s = self.residual, self.gate, self.skip
        return r * 2 * g * self.k + 2 * g + g * r + r + g * s + s

    def trace(self, shape):
        c, n = shape
        if c != self.residual:
            raise ShapeError(f"wavenet_block: expects {self.residual} channels, got {shape}")
        r, g, s = self.residual, self.gate, self.skip
        return Trace(shape, n * (r * 2 * g * self.k + g * r + g * s), max(r * self.k, g), 0)


@dataclass(frozen=True)
class NerfMLP(Layer):
    """NeRF MLP (Mildenhall et al. 2020, Fig. 7): Fourier features of the position
    (3 * 2 * pos_freqs) through `depth` ReLU layers of `width`, the features concatenated
    again at the input of layer skip+1; sigma head; a width feature layer; the view
    direction's features (3 * 2 * dir_freqs) concatenated into a dir_width layer and an RGB
    head. Applied to `samples` points per ray: input (R, 6) rays, output (R, 4)."""
    kind: ClassVar[str] = "nerf_mlp"
    samples: int
    pos_freqs: int = 10
    dir_freqs: int = 4
    depth: int = 8
    width: int = 256
    skip: int = 4
    dir_width: int = 128
    include_input: bool = False
    label: str = ""

    def _dense(self):
        px = 3 * 2 * self.pos_freqs + (3 if self.include_input else 0)
        dx = 3 * 2 * self.dir_freqs + (3 if self.include_input else 0)
        out, fin = [], px
        for i in range(self.depth):
            out.append(Dense(fin, self.width))
            fin = self.width + (px if i + 1 == self.skip else 0)
        out += [Dense(self.width, 1), Dense(self.width, self.width),
                Dense(self.width + dx, self.dir_width), Dense(self.dir_width, 3)]
        return out

    def params(self):
        return sum(l.params() for l in self._dense())

    def trace(self, shape):
        _need(shape, 2, "nerf_mlp")
        r = shape[0]
        per = sum(l.fin * l.fout for l in self._dense())
        return Trace((r, 4), r * self.samples * per, max(l.fin for l in self._dense()), 0)


KINDS = {cls.kind: cls for cls in (
    Conv2d, Conv1d, ConvTranspose2d, BatchNorm, LayerNorm, Dense, MaxPool, AvgPool, Subsample,
    PartialConv2d, RBFOutput, GlobalAvgPool, Flatten, Reshape, TokenPool, Embedding,
    PositionalEncoding, Parameter, Parallel, ConvBN, ResidualBlock, BottleneckBlock,
    InvertedResidual, MBConv, FireModule, InceptionModule, SeparableConv, XceptionBlock,
    DenseBlock, TransitionLayer, ShuffleUnit, ConvNeXtBlock, PatchEmbed, TransformerEncoder,
    TransformerDecoder, SwinStage, PatchMerging, MobileViTBlock, UNetDown, UNetUp, ImagePool, ASPPModule,
    DeepLabDecoder, FPNModule, MambaBlock, WaveNetBlock, NerfMLP)}
