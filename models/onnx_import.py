"""ONNX models as fpsem models: an interpreter of ONNX graphs over any fpsem domain.

    >>> m = fpsem.load_onnx("model.onnx")               # semantics="body" (default)
    >>> y = m.forward(fpsem.domain("ieee32"), x)        # or fpsem run model.onnx
    >>> fpsem.envelope(m, (x,), domain="float32")       # every node output is a node

Values. A graph value is either a *host* value (a numpy array: integer and boolean
tensors, shapes, and float constants not yet used by float arithmetic) or a
*domain* value. Static shape and integer subgraphs (Shape, Constant,
ConstantOfShape, Equal, Range, integer Cast/Add/Mul/Gather/Concat, ...) run on the
host with numpy, exactly as ONNX defines them. A float tensor becomes a domain
value (D.asarray: its exact value rounded once into D) when float arithmetic first
touches it; structural ops on host floats (Reshape, Transpose, Gather of
initializers) stay on the host, they are exact.

Node names. Every float output of every node is tapped under its ONNX output
name, so every node appears in an envelope.

Formats. The domain decides the format: a Cast between float types, and the
declared element types of the graph, do not change it (a float64 graph run in
ieee32 is a binary32 computation of that graph). Constants holding +-inf (attention
masks) are read as +-FLT_MAX in every domain, so the real-number reference runs the
same model; in a format narrower than binary32 (bf16, fp16) a constant beyond its
range saturates to its largest finite value (a float32 finfo.min mask would round
to -inf there, and 0 * -inf is NaN), as ONNX's saturating casts do.

Semantics (`semantics=`): ONNX defines some ops by a function body whose float
behaviour differs from fpsem's op. "body" (default) runs the body that the onnx
package builds for the node (LayerNormalization: one-pass variance E[x^2]-E[x]^2;
Gelu: x/fl(sqrt 2), constants as float32 literals); "op" runs fpsem's op
(two-pass `layer_norm`, `gelu_erf`/`gelu_tanh` with 50-digit constants).

The executors are a table keyed by op type (`EXECUTORS`); an op type not in it is
a one-line FpsemError naming the op type, the node and the opset.
"""
from __future__ import annotations

import dataclasses
import os
import re
from fractions import Fraction

import numpy as np

from fpsem import ops
from fpsem.errors import FpsemError, ShapeError, UnsupportedOp
from fpsem.trace import tap

from .base import Model

SEMANTICS = ("body", "op")
_F32_MAX = float(np.finfo(np.float32).max)
#: op types whose ONNX function body has a different float behaviour from fpsem's op
BODY_OPS = ("LayerNormalization", "Gelu")


class OnnxError(FpsemError):
    """An ONNX file or node that fpsem cannot run (names the op, node and opset)."""


def _need_onnx():
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise FpsemError("ONNX support needs the onnx package: pip install 'fpsem[onnx]'") from None
    import onnx
    return onnx


# -- values -------------------------------------------------------------------------
class Host:
    """A value computed on the host: a numpy array (ints, bools, float constants)."""
    __slots__ = ("a",)

    def __init__(self, a):
        self.a = np.asarray(a)

    @property
    def is_float(self):
        return _isf(self.a)

    def __repr__(self):
        return f"Host({self.a.dtype}{list(self.a.shape)})"


class Mask:
    """A comparison result of domain values (numpy bool, or the domain's own
    comparison value such as the interval domain's three-valued Tri)."""
    __slots__ = ("m",)

    def __init__(self, m):
        self.m = m


_ONNX_NP = {1: np.float32, 2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16, 6: np.int32,
            7: np.int64, 9: np.bool_, 10: np.float16, 11: np.float64, 12: np.uint32, 13: np.uint64}
_FLOAT_TYPES = (1, 10, 11, 16)   # float, float16, double, bfloat16
try:  # onnx's numpy helpers use ml_dtypes for bfloat16
    import ml_dtypes as _mld
    _ONNX_NP[16] = _mld.bfloat16
except ImportError:  # pragma: no cover
    pass


@dataclasses.dataclass(frozen=True)
class OnnxConfig:
    """What identifies an imported ONNX model run."""
    path: str
    semantics: str = "body"
    opset: int = 0
    nodes: int = 0
    preset: str = "onnx"


class _Ctx:
    """One run: the domain, the graph's opset, the value table and converted constants."""

    def __init__(self, model, D, tap_nodes=True):
        self.model, self.D, self.tap = model, D, tap_nodes
        self.opset = model.opset
        self.semantics = model.semantics
        self.env = {}
        self._dv_cache = {}
        self.node = None

    # -- errors naming the op, the node, the opset and the domain ---------------------
    def where_(self):
        n = self.node
        return (f"onnx {n.op_type} (node {_node_name(n)!r}, opset {self.opset}) [{self.D.label}]"
                if n is not None else f"onnx [{self.D.label}]")

    def err(self, problem, cls=OnnxError):
        return cls(f"{self.where_()}: {problem}")

    # -- conversions -------------------------------------------------------------------
    def dv(self, v):
        """A domain value: host floats (and ints used in float arithmetic) rounded once into D."""
        if isinstance(v, Host):
            key = id(v)
            hit = self._dv_cache.get(key)
            if hit is not None and hit[0] is v:
                return hit[1]
            a = v.a
            if a.dtype.name == "bfloat16":
                a = a.astype(np.float32)  # exact
            if a.dtype.kind == "b":
                raise self.err("a boolean tensor used as a number")
            if a.dtype.kind not in "fiu":
                raise self.err(f"tensor of dtype {a.dtype} is not numeric")
            if a.dtype.kind == "f" and np.isinf(a).any():
                # +-inf constants (attention masks) read as +-FLT_MAX in every domain, so
                # the real-number reference runs the same model (see OnnxModel's note)
                a = np.where(np.isinf(a), np.sign(a) * _F32_MAX, a)
            fmt = getattr(self.D, "format", None)
            if a.dtype.kind == "f" and fmt is not None and float(fmt.max_finite) < _F32_MAX:
                # a constant beyond a narrow format's range (finfo(float32).min masks in
                # bf16 round to -inf, and 0 * -inf is NaN) saturates to its largest finite
                # value, as ONNX's saturating casts do
                big = float(fmt.max_finite)
                if np.any(np.abs(a) > big):
                    a = np.clip(a, -big, big)
            out = self.D.asarray(a if a.dtype.kind == "f" or a.dtype.itemsize <= 4 else a.astype(object))
            self._dv_cache[key] = (v, out)
            return out
        if isinstance(v, Mask):
            raise self.err("a comparison result used as a number")
        return v

    def host(self, v, what="input"):
        """The numpy array of a host value; a domain value here is a user error."""
        if isinstance(v, Host):
            return v.a
        raise self.err(f"{what} must be a static (host-computable) tensor, got a value of the "
                       f"float domain; fpsem evaluates shapes, indices and axes on the host")

    def const(self, x):
        """An exact constant (a float32 attribute's exact value, an int) in D."""
        if isinstance(x, (float, np.floating)):
            x = Fraction(float(x))
        return self.D.const(x)


def _isf(a):
    """A float array (bfloat16 from ml_dtypes included, whose numpy kind is 'V')."""
    return a.dtype.kind == "f" or a.dtype.name == "bfloat16"


def _node_name(n):
    return n.name or (n.output[0] if n.output else n.op_type)


def _float_in(vals):
    """True when float arithmetic must run in the domain (any float or domain input)."""
    for v in vals:
        if v is None:
            continue
        if isinstance(v, Host):
            if _isf(v.a):
                return True
        elif not isinstance(v, Mask):
            return True
    return False


def _attrs(node):
    from onnx import helper
    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode()
        elif isinstance(v, list) and v and isinstance(v[0], bytes):
            v = [s.decode() for s in v]
        out[a.name] = v
    return out


def _tensor(t):
    from onnx import numpy_helper
    return numpy_helper.to_array(t)


# -- the executor table -----------------------------------------------------------------
EXECUTORS = {}


def executor(*names):
    def deco(f):
        for n in names:
            EXECUTORS[n] = f
        return f
    return deco


def _shape(ctx, v):
    return tuple(v.a.shape) if isinstance(v, Host) else tuple(ctx.D.shape(v))


def _axis(ax, nd):
    ax = int(ax)
    return ax + nd if ax < 0 else ax


# elementwise arithmetic ---------------------------------------------------------------
def _int_div(a, b):
    q = np.abs(a) // np.abs(b)
    return (q * np.sign(a) * np.sign(b)).astype(np.result_type(a, b))


_BIN = {
    "Add": ("add", np.add), "Sub": ("sub", np.subtract), "Mul": ("mul", np.multiply),
    "Div": ("div", _int_div),
}


@executor("Add", "Sub", "Mul", "Div")
def _binary(ctx, node, a, b):
    """x op y with ONNX (numpy) broadcasting; one rounding in D; integers on the host."""
    prim, host = _BIN[node.op_type]
    if not _float_in((a, b)):
        return Host(host(a.a, b.a))
    return getattr(ctx.D, prim)(ctx.dv(a), ctx.dv(b))


@executor("Sum", "Max", "Min", "Mean")
def _variadic(ctx, node, *xs):
    """Sum: left-to-right adds; Max/Min: IEEE maximum/minimum; Mean: the sum / n."""
    op = node.op_type
    if not _float_in(xs):
        f = {"Sum": np.add, "Max": np.maximum, "Min": np.minimum}.get(op)
        if f is None:
            raise ctx.err("Mean of integer tensors")
        out = xs[0].a
        for x in xs[1:]:
            out = f(out, x.a)
        return Host(out)
    D = ctx.D
    prim = {"Sum": D.add, "Mean": D.add, "Max": D.maximum, "Min": D.minimum}[op]
    out = ctx.dv(xs[0])
    for x in xs[1:]:
        out = prim(out, ctx.dv(x))
    if op == "Mean":
        out = D.div(out, ctx.const(len(xs)))
    return out


_UNARY = {"Sqrt": "sqrt", "Exp": "exp", "Log": "log", "Tanh": "tanh", "Erf": "erf",
          "Neg": "neg", "Abs": "abs", "Sin": "sin", "Cos": "cos"}


@executor(*_UNARY)
def _unary(ctx, node, x):
    """The domain primitive of the same name (accuracy per D.accuracy)."""
    if isinstance(x, Host) and x.a.dtype.kind in "iu" and node.op_type in ("Neg", "Abs"):
        return Host(np.negative(x.a) if node.op_type == "Neg" else np.abs(x.a))
    return getattr(ctx.D, _UNARY[node.op_type])(ctx.dv(x))


@executor("Reciprocal")
def _reciprocal(ctx, node, x):
    """1 / x; one rounding."""
    return ctx.D.div(ctx.const(1), ctx.dv(x))


@executor("Relu")
def _relu(ctx, node, x):
    """ops.relu: IEEE maximum(x, 0); exact."""
    if isinstance(x, Host) and not x.is_float:
        return Host(np.maximum(x.a, 0))
    return ops.relu(ctx.D, ctx.dv(x))


@executor("Sigmoid")
def _sigmoid(ctx, node, x):
    """ops.sigmoid: 1 / (1 + exp(-x)); roundings: exp, +, /."""
    return ops.sigmoid(ctx.D, ctx.dv(x))


@executor("Pow")
def _pow(ctx, node, x, y):
    """x**y. A constant exponent that is a multiple of 1/2 (2, 3, 0.5, -0.5, ...)
    uses ops.power (multiplications and one sqrt); any other exponent ops.pow_general
    (exp(y log x)). Integer tensors on the host."""
    if not _float_in((x, y)):
        return Host(np.power(x.a, y.a))
    if isinstance(y, Host):
        vals = np.unique(y.a)
        if vals.size == 1 and np.isfinite(vals[0]):
            q = Fraction(float(vals[0]))
            if q.denominator in (1, 2) and abs(q) <= 64:
                out = ops.power(ctx.D, ctx.dv(x), q)
                shape = np.broadcast_shapes(_shape(ctx, x), y.a.shape)
                return out if tuple(ctx.D.shape(out)) == shape else ctx.D.broadcast_to(out, shape)
    return ops.pow_general(ctx.D, ctx.dv(x), ctx.dv(y))


@executor("Clip")
def _clip(ctx, node, x, lo=None, hi=None):
    """min(max(x, lo), hi) with IEEE maximum/minimum; exact. Bounds from inputs
    (opset >= 11) or the min/max attributes."""
    at = _attrs(node)
    if ctx.opset < 11:
        lo = Host(np.float32(at["min"])) if "min" in at else None
        hi = Host(np.float32(at["max"])) if "max" in at else None
    if not _float_in((x,)):
        a = x.a
        if lo is not None:
            a = np.maximum(a, lo.a)
        if hi is not None:
            a = np.minimum(a, hi.a)
        return Host(a)
    D = ctx.D
    y = ctx.dv(x)
    if lo is not None:
        y = D.maximum(y, ctx.dv(lo))
    if hi is not None:
        y = D.minimum(y, ctx.dv(hi))
    return y


# comparisons, masks, selection ----------------------------------------------------------
_CMP = {"Equal": ("eq", np.equal), "Less": ("lt", np.less), "Greater": ("gt", np.greater),
        "LessOrEqual": ("le", np.less_equal), "GreaterOrEqual": ("ge", np.greater_equal)}


@executor(*_CMP)
def _compare(ctx, node, a, b):
    """Comparisons: on the host for host values, else the domain's comparison (exact)."""
    prim, host = _CMP[node.op_type]
    if isinstance(a, Host) and isinstance(b, Host):
        return Host(host(a.a, b.a))
    return Mask(getattr(ctx.D, prim)(ctx.dv(a), ctx.dv(b)))


@executor("Not")
def _not(ctx, node, x):
    return Host(np.logical_not(x.a)) if isinstance(x, Host) else Mask(~x.m)


@executor("And", "Or", "Xor")
def _logic(ctx, node, a, b):
    f = {"And": np.logical_and, "Or": np.logical_or, "Xor": np.logical_xor}[node.op_type]
    return Host(f(ctx.host(a), ctx.host(b)))


@executor("IsNaN")
def _isnan(ctx, node, x):
    """D.isnan: exact; all False in enclosure and exact domains (reals are never NaN)."""
    if isinstance(x, Host):
        return Host(np.isnan(x.a))
    return Host(ctx.D.isnan(x))


@executor("IsInf")
def _isinf(ctx, node, x):
    at = _attrs(node)
    if isinstance(x, Host):
        a = x.a
    else:
        lo, hi = ctx.D.bounds(x)
        if lo is not hi:
            return Host(np.zeros(np.shape(lo), dtype=bool))
        a = lo
    pos, neg = at.get("detect_positive", 1), at.get("detect_negative", 1)
    return Host((np.isposinf(a) & bool(pos)) | (np.isneginf(a) & bool(neg)))


@executor("Where")
def _where(ctx, node, c, x, y):
    """Select x where c else y; exact. c is a host bool tensor or a comparison."""
    if isinstance(c, Host) and isinstance(x, Host) and isinstance(y, Host):
        return Host(np.where(c.a, x.a, y.a))
    D = ctx.D
    xv, yv = ctx.dv(x), ctx.dv(y)
    cond = c.a.astype(bool) if isinstance(c, Host) else c.m
    shape = np.broadcast_shapes(np.shape(cond) if isinstance(cond, np.ndarray) else _shape(ctx, x),
                                _shape(ctx, x), _shape(ctx, y))
    if tuple(D.shape(xv)) != shape:
        xv = D.broadcast_to(xv, shape)
    if tuple(D.shape(yv)) != shape:
        yv = D.broadcast_to(yv, shape)
    return D.where(cond, xv, yv)


# matrix products -----------------------------------------------------------------------
@executor("MatMul")
def _matmul(ctx, node, a, b):
    """ops.matmul: numpy matmul shapes, each output a dot in D's accumulation order."""
    if not _float_in((a, b)):
        return Host(np.matmul(a.a, b.a))
    return ops.matmul(ctx.D, ctx.dv(a), ctx.dv(b))


@executor("Gemm")
def _gemm(ctx, node, a, b, c=None):
    """alpha * A' B' + beta * C: the dot in D's order, then *alpha (skipped when 1),
    *beta (skipped when 1) and one + for C."""
    at = _attrs(node)
    D = ctx.D
    A, B = ctx.dv(a), ctx.dv(b)
    if at.get("transA", 0):
        A = D.transpose(A)
    if at.get("transB", 0):
        B = D.transpose(B)
    y = D.dot(A, B)
    alpha, beta = float(np.float32(at.get("alpha", 1.0))), float(np.float32(at.get("beta", 1.0)))
    if alpha != 1.0:
        y = D.mul(ctx.const(alpha), y)
    if c is not None and beta != 0.0:
        cv = ctx.dv(c)
        if beta != 1.0:
            cv = D.mul(ctx.const(beta), cv)
        y = D.add(y, cv)
    return y


def _einsum_plan(eq, shapes):
    eq = eq.replace(" ", "")
    lhs, _, out = eq.partition("->")
    terms = lhs.split(",")
    letters = [c for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in eq]
    if "..." in eq:
        nell = max(len(s) - len(t.replace("...", "")) for t, s in zip(terms, shapes))
        ell = "".join(letters[:nell])
        terms = [t.replace("...", ell[nell - (len(s) - len(t.replace("...", ""))):])
                 for t, s in zip(terms, shapes)]
        out = out.replace("...", ell) if "->" in eq else None
    if not _ or out is None:
        cnt = {}
        for t in terms:
            for ch in t:
                cnt[ch] = cnt.get(ch, 0) + 1
        out = (ell if "..." in eq else "") + "".join(sorted(ch for ch, n in cnt.items() if n == 1 and ch not in (ell if "..." in eq else "")))
    return terms, out


@executor("Einsum")
def _einsum(ctx, node, *xs):
    """Einsum where it is a (batched) matrix product of two operands: indices in both
    operands and the output are batch axes, in both but not the output are
    contracted (one dot of their product length, in D's order), in one operand
    and the output are free. Anything else (diagonals, sums over one operand,
    three operands) is an unsupported-op error."""
    eq = _attrs(node)["equation"]
    D = ctx.D
    if len(xs) == 1:
        (ta,), to = _einsum_plan(eq, [_shape(ctx, xs[0])])
        if len(set(ta)) != len(ta):
            raise ctx.err(f"equation {eq!r} takes a diagonal; fpsem runs matrix-product einsums",
                          UnsupportedOp)
        summed = [ch for ch in ta if ch not in to]
        v = D.transpose(ctx.dv(xs[0]), [ta.index(ch) for ch in list(to) + summed])
        if summed:  # a sum over the trailing axes in D's order (row-major flattening)
            sh = tuple(D.shape(v))
            v = D.sum(D.reshape(v, sh[:len(to)] + (-1,)), axis=-1)
        return v
    if len(xs) != 2:
        raise ctx.err(f"equation {eq!r} has {len(xs)} operands; fpsem runs two-operand "
                      f"matrix-product einsums", UnsupportedOp)
    sa, sb = _shape(ctx, xs[0]), _shape(ctx, xs[1])
    (ta, tb), to = _einsum_plan(eq, [sa, sb])
    if len(set(ta)) != len(ta) or len(set(tb)) != len(tb) or any(ch not in ta + tb for ch in to) \
            or any(ch not in tb and ch not in to for ch in ta) or any(ch not in ta and ch not in to for ch in tb):
        raise ctx.err(f"equation {eq!r} is not a matrix product (repeated or summed-out indices)",
                      UnsupportedOp)
    batch = [ch for ch in to if ch in ta and ch in tb]
    contr = [ch for ch in ta if ch in tb and ch not in to]
    fa = [ch for ch in ta if ch not in tb]
    fb = [ch for ch in tb if ch not in ta]
    dim = {}
    for t, s in ((ta, sa), (tb, sb)):
        for ch, n in zip(t, s):
            dim[ch] = max(dim.get(ch, 1), n)
    A, B = ctx.dv(xs[0]), ctx.dv(xs[1])
    A = D.transpose(A, [ta.index(ch) for ch in batch + fa + contr])
    B = D.transpose(B, [tb.index(ch) for ch in batch + contr + fb])
    nb = [dim[ch] for ch in batch]
    A = D.broadcast_to(A, tuple(nb) + tuple(D.shape(A)[len(batch):]))
    B = D.broadcast_to(B, tuple(nb) + tuple(D.shape(B)[len(batch):]))
    m = int(np.prod([dim[ch] for ch in fa], dtype=np.int64))
    k = int(np.prod([dim[ch] for ch in contr], dtype=np.int64))
    n = int(np.prod([dim[ch] for ch in fb], dtype=np.int64))
    A = D.reshape(A, tuple(nb) + (m, k))
    B = D.reshape(B, tuple(nb) + (k, n))
    y = D.reshape(D.dot(A, B), tuple(nb) + tuple(dim[ch] for ch in fa + fb))
    order = batch + fa + fb
    return D.transpose(y, [order.index(ch) for ch in to]) if order != list(to) else y


# normalisation and activations ------------------------------------------------------------
@executor("Softmax", "LogSoftmax")
def _softmax(ctx, node, x):
    """ops.softmax / ops.log_softmax along `axis` (opset >= 13: that one axis,
    default -1; older opsets: the input flattened to 2-D at `axis`, default 1)."""
    D = ctx.D
    xv = ctx.dv(x)
    shape = tuple(D.shape(xv))
    fn = ops.softmax if node.op_type == "Softmax" else ops.log_softmax
    at = _attrs(node)
    if ctx.opset >= 13:
        return fn(D, xv, axis=_axis(at.get("axis", -1), len(shape)))
    ax = _axis(at.get("axis", 1), len(shape))
    n0 = int(np.prod(shape[:ax], dtype=np.int64))
    y = fn(D, D.reshape(xv, (n0, -1)), axis=-1)
    return D.reshape(y, shape)


def _ln_op(ctx, node, x, scale, bias=None):
    """ops.layer_norm (two-pass variance) over the axes from `axis` on."""
    D = ctx.D
    at = _attrs(node)
    xv = ctx.dv(x)
    shape = tuple(D.shape(xv))
    ax = _axis(at.get("axis", -1), len(shape))
    n = int(np.prod(shape[ax:], dtype=np.int64))
    tail = shape[ax:]
    flat = lambda v: D.reshape(D.broadcast_to(ctx.dv(v), tail), (n,))
    eps = Fraction(float(np.float32(at.get("epsilon", 1e-5))))
    y = ops.layer_norm(D, D.reshape(xv, shape[:ax] + (n,)), flat(scale),
                       flat(bias) if bias is not None else None, eps=eps)
    return D.reshape(y, shape)


@executor("LayerNormalization")
def _layernorm(ctx, node, x, scale, bias=None):
    """semantics 'body': ONNX's function body (one-pass variance
    E[x^2] - E[x]^2, then (x - mean) / sqrt(var + eps) * scale + bias);
    'op': ops.layer_norm (two-pass variance). eps: the float32 attribute's exact value.
    Real-number domains (interval, exact) run the two-pass form under both semantics:
    it is the same real function, enclosed more tightly."""
    extra = len([o for o in node.output if o]) > 1
    if ctx.semantics == "op":
        if extra:
            raise ctx.err("Mean/InvStdDev outputs are only computed with --onnx-semantics body",
                          UnsupportedOp)
        return _ln_op(ctx, node, x, scale, bias)
    if not ctx.D.is_float and not extra:
        # Over the reals the body's E[x^2] - E[x]^2 IS the two-pass variance (same eps,
        # scale, bias): the real function is the same, and an enclosure of the two-pass
        # form stays tight where the one-pass form's cancellation makes it unbounded.
        return _ln_op(ctx, node, x, scale, bias)
    return _run_body(ctx, node, [x, scale, bias])


@executor("Gelu")
def _gelu(ctx, node, x):
    """semantics 'body': ONNX's body (x/fl(sqrt 2) for erf; fl32 constants 0.044715 and
    fl(sqrt(fl32(2/pi))), Pow(x, 3) for tanh); 'op': ops.gelu_erf / ops.gelu_tanh."""
    if ctx.semantics == "op":
        f = ops.gelu_tanh if _attrs(node).get("approximate", "none") == "tanh" else ops.gelu_erf
        return f(ctx.D, ctx.dv(x))
    return _run_body(ctx, node, [x])


@executor("BatchNormalization")
def _batchnorm(ctx, node, x, scale, b, mean, var):
    """ops.batch_norm (inference): (x - mean) / sqrt(var + eps) * scale + b over axis 1."""
    at = _attrs(node)
    if at.get("training_mode", 0) or len([o for o in node.output if o]) > 1:
        raise ctx.err("training mode (batch statistics) is not supported", UnsupportedOp)
    eps = Fraction(float(np.float32(at.get("epsilon", 1e-5))))
    dv = ctx.dv
    return ops.batch_norm(ctx.D, dv(x), dv(mean), dv(var), dv(scale), dv(b), eps=eps)


@executor("LRN")
def _lrn(ctx, node, x):
    """Local response normalisation across channels (AlexNet, Inception v1):
    y = x / (bias + alpha/size * sum_{c' in window(c)} x_c'^2) ** beta.
    Roundings: x*x, the window sum in D's order (zero-padded channels), *alpha/size
    (the exact ratio rounded once), +bias, the power (ops.power for beta a multiple
    of 1/2, else exp(beta log t)), /."""
    D = ctx.D
    at = _attrs(node)
    size = int(at["size"])
    f32 = lambda k, dflt: Fraction(float(np.float32(at.get(k, dflt))))
    alpha, beta, bias = f32("alpha", 1e-4), f32("beta", 0.75), f32("bias", 1.0)
    xv = ctx.dv(x)
    shape = tuple(D.shape(xv))
    C = shape[1]
    lo, hi = (size - 1) // 2, -(-(size - 1) // 2)
    sq = D.mul(xv, xv)
    pw = [(0, 0)] * len(shape)
    pw[1] = (lo, hi)
    sqp = D.pad(sq, pw)
    win = D.stack([D.getitem(sqp, (slice(None), slice(i, i + C))) for i in range(size)], axis=-1)
    t = D.add(ctx.const(bias), D.mul(ctx.const(alpha / size), D.sum(win, axis=-1)))
    den = ops.power(D, t, beta) if beta.denominator in (1, 2) else \
        ops.pow_general(D, t, D.full(shape, beta))
    return D.div(xv, den)


# convolution and pooling ---------------------------------------------------------------------
def _pads(ctx, node, in_sp, kernel, strides, dil, ceil=False):
    """(begin, end) pads per spatial axis from pads / auto_pad."""
    at = _attrs(node)
    nsp = len(in_sp)
    ap = at.get("auto_pad", "NOTSET")
    if ap in ("SAME_UPPER", "SAME_LOWER"):
        out = []
        for n, k, s, d in zip(in_sp, kernel, strides, dil):
            o = -(-n // s)
            tot = max(0, (o - 1) * s + (k - 1) * d + 1 - n)
            lo = tot // 2 if ap == "SAME_UPPER" else tot - tot // 2
            out.append((lo, tot - lo))
        return out
    if ap == "VALID":
        return [(0, 0)] * nsp
    p = list(at.get("pads", [0] * (2 * nsp)))
    return [(p[i], p[i + nsp]) for i in range(nsp)]


@executor("Conv")
def _conv(ctx, node, x, w, b=None):
    """ops.conv2d (1-D via a height-1 axis): each output a dot of length C/g*kh*kw
    in D's order, then one + for the bias. Asymmetric pads by zero padding first."""
    D = ctx.D
    at = _attrs(node)
    xv, wv = ctx.dv(x), ctx.dv(w)
    xs, ws = tuple(D.shape(xv)), tuple(D.shape(wv))
    nsp = len(xs) - 2
    if nsp not in (1, 2):
        raise ctx.err(f"{nsp}-D convolution; fpsem runs 1-D and 2-D", UnsupportedOp)
    kernel = list(at.get("kernel_shape", ws[2:]))
    strides = list(at.get("strides", [1] * nsp))
    dil = list(at.get("dilations", [1] * nsp))
    pads = _pads(ctx, node, xs[2:], kernel, strides, dil)
    if nsp == 1:
        xv, wv = D.expand_dims(xv, 2), D.expand_dims(wv, 2)
        strides, dil, pads = [1] + strides, [1] + dil, [(0, 0)] + pads
    if any(p0 != p1 for p0, p1 in pads):
        xv = D.pad(xv, ((0, 0), (0, 0)) + tuple(pads))
        pad = (0, 0)
    else:
        pad = (pads[0][0], pads[1][0])
    y = ops.conv2d(D, xv, wv, ctx.dv(b) if b is not None else None, stride=tuple(strides),
                   padding=pad, dilation=tuple(dil), groups=int(at.get("group", 1)))
    return D.squeeze(y, 2) if nsp == 1 else y


def _pool_geometry(ctx, node, shape):
    at = _attrs(node)
    kernel = list(at["kernel_shape"])
    nsp = len(kernel)
    strides = list(at.get("strides", [1] * nsp))
    dil = list(at.get("dilations", [1] * nsp))
    pads = _pads(ctx, node, shape[2:], kernel, strides, dil)
    outs = []
    for ax, (n, k, s, d, (p0, p1)) in enumerate(zip(shape[2:], kernel, strides, dil, pads)):
        span = n + p0 + p1 - d * (k - 1) - 1
        o = (-(-span // s) if at.get("ceil_mode", 0) else span // s) + 1
        if at.get("ceil_mode", 0) and (o - 1) * s >= n + p0:
            o -= 1  # the last window must start inside the input or the begin padding
        outs.append(o)
    return kernel, strides, dil, pads, outs


def _windows(ctx, x, kernel, strides, dil, pads, outs, fill):
    """(N, C, *out, prod(kernel)) windows of x padded per `pads` (extended at the end
    so every window fits) with zeros (fill None) or copies of the 0-d value `fill`."""
    import itertools
    D = ctx.D
    shape = tuple(D.shape(x))
    for ax, ((p0, p1), n, k, s, d, o) in enumerate(zip(pads, shape[2:], kernel, strides, dil, outs)):
        need = (o - 1) * s + d * (k - 1) + 1
        p1 = max(p1, need - n - p0)
        if p0 or p1:
            pw = [(0, 0)] * len(shape)
            pw[2 + ax] = (p0, p1)
            x = D.pad(x, pw) if fill is None else _fill_pad(D, x, pw, fill)
    cols = []
    for offs in itertools.product(*[range(k) for k in kernel]):
        idx = (slice(None), slice(None)) + tuple(
            slice(i * d, i * d + s * (o - 1) + 1, s) for i, d, s, o in zip(offs, dil, strides, outs))
        cols.append(D.getitem(x, idx))
    return D.stack(cols, axis=-1)


@executor("MaxPool")
def _maxpool(ctx, node, x):
    """Maximum over each window (IEEE maximum); exact. Padding positions hold the
    minimum of the whole input, which never changes a window's maximum because every
    window holds at least one input element (ONNX's -inf padding, without infinities,
    which the exact and interval domains do not have)."""
    D = ctx.D
    if len([o for o in node.output if o]) > 1:
        raise ctx.err("the Indices output is not supported", UnsupportedOp)
    xv = ctx.dv(x)
    kernel, strides, dil, pads, outs = _pool_geometry(ctx, node, tuple(D.shape(xv)))
    lowest = D.neg(D.max(D.neg(xv), axis=None))
    return D.max(_windows(ctx, xv, kernel, strides, dil, pads, outs, lowest), axis=-1)


@executor("AveragePool")
def _avgpool(ctx, node, x):
    """Window sum in D's order, then one division by the window's element count:
    kernel size with count_include_pad=1, else the number of input elements in it
    (ONNX's default). Windows past the end (ceil_mode) never count that overhang."""
    D = ctx.D
    at = _attrs(node)
    xv = ctx.dv(x)
    shape = tuple(D.shape(xv))
    kernel, strides, dil, pads, outs = _pool_geometry(ctx, node, shape)
    s = D.sum(_windows(ctx, xv, kernel, strides, dil, pads, outs, None), axis=-1)
    # element count per window, from a host array of ones padded the same way
    cnt = None
    for ax, (n, k, st, d, (p0, p1), o) in enumerate(zip(shape[2:], kernel, strides, dil, pads, outs)):
        lo = np.arange(o) * st - p0
        pos = lo[:, None] + np.arange(k)[None, :] * d
        inc_pad = at.get("count_include_pad", 0)
        valid = (pos >= -p0) & (pos < n + p1) if inc_pad else (pos >= 0) & (pos < n)
        c = valid.sum(axis=1)
        shp = [1] * len(outs)
        shp[ax] = o
        c = c.reshape(shp)
        cnt = c if cnt is None else cnt * c
    return D.div(s, D.asarray(cnt.astype(np.int64)))


@executor("GlobalAveragePool", "GlobalMaxPool")
def _global_pool(ctx, node, x):
    """Over all spatial axes: the sum in D's order and one division by their size,
    or the maximum (exact). Output keeps the spatial axes as length 1."""
    D = ctx.D
    xv = ctx.dv(x)
    shape = tuple(D.shape(xv))
    flat = D.reshape(xv, shape[:2] + (-1,))
    if node.op_type == "GlobalMaxPool":
        y = D.max(flat, axis=-1)
    else:
        y = D.div(D.sum(flat, axis=-1), ctx.const(int(np.prod(shape[2:], dtype=np.int64))))
    return D.reshape(y, shape[:2] + (1,) * (len(shape) - 2))


# reductions ------------------------------------------------------------------------------------
_AXES_INPUT = {"ReduceSum": 13}   # opset from which axes is an input (others: 18)


@executor("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceSumSquare")
def _reduce(ctx, node, x, axes=None):
    """Over the given axes (all when none, unless noop_with_empty_axes): sum in D's
    order over the reduced axes flattened in row-major order; mean = that sum / n;
    max/min exact. ReduceSumSquare: x*x then the sum."""
    at = _attrs(node)
    op = node.op_type
    nd = len(_shape(ctx, x))
    if ctx.opset >= _AXES_INPUT.get(op, 18):
        ax = None if axes is None else [int(a) for a in ctx.host(axes, "axes").ravel()]
    else:
        ax = at.get("axes")
    keep = bool(at.get("keepdims", 1))
    if not ax:
        if at.get("noop_with_empty_axes", 0):
            return x
        ax = list(range(nd))
    ax = sorted({_axis(a, nd) for a in ax})
    if isinstance(x, Host) and not x.is_float:
        f = {"ReduceSum": np.sum, "ReduceMax": np.max, "ReduceMin": np.min, "ReduceProd": np.prod,
             "ReduceMean": None, "ReduceSumSquare": None}[op]
        if f is None:
            raise ctx.err("integer mean / sum of squares")
        return Host(f(x.a, axis=tuple(ax), keepdims=keep))
    D = ctx.D
    xv = ctx.dv(x)
    if op == "ReduceProd":
        raise ctx.err("ReduceProd of floats is not supported", UnsupportedOp)
    if op == "ReduceMin":
        xv = D.neg(xv)
    if op == "ReduceSumSquare":
        xv = D.mul(xv, xv)
    shape = tuple(D.shape(xv))
    rest = [i for i in range(nd) if i not in ax]
    moved = D.transpose(xv, rest + ax) if rest + ax != list(range(nd)) else xv
    n = int(np.prod([shape[i] for i in ax], dtype=np.int64))
    rows = D.reshape(moved, tuple(shape[i] for i in rest) + (n,))
    if op in ("ReduceMax", "ReduceMin"):
        y = D.max(rows, axis=-1)
        if op == "ReduceMin":
            y = D.neg(y)
    else:
        y = D.sum(rows, axis=-1)
        if op == "ReduceMean":
            y = D.div(y, ctx.const(n))
    if keep:
        y = D.reshape(y, tuple(1 if i in ax else shape[i] for i in range(nd)))
    return y


# structure (host numpy or domain structural primitives; all exact) -----------------------------
def _struct(ctx, x, host_fn, dom_fn):
    if isinstance(x, Host):
        return Host(host_fn(x.a))
    return dom_fn(ctx.D, x)


@executor("Identity", "Dropout")
def _identity(ctx, node, x, *rest):
    """The input (Dropout in inference: the identity; its mask output is all True)."""
    if node.op_type == "Dropout" and len(node.output) > 1 and node.output[1]:
        return x, Host(np.ones(_shape(ctx, x), dtype=bool))
    return x


@executor("Reshape")
def _reshape(ctx, node, x, shape=None):
    """Reshape; 0 copies the input's dimension (unless allowzero), -1 is inferred."""
    at = _attrs(node)
    s = [int(v) for v in (ctx.host(shape, "shape") if ctx.opset >= 5 else at["shape"])]
    cur = _shape(ctx, x)
    if not at.get("allowzero", 0):
        s = [cur[i] if v == 0 else v for i, v in enumerate(s)]
    return _struct(ctx, x, lambda a: a.reshape(s), lambda D, v: D.reshape(v, s))


@executor("Flatten")
def _flatten(ctx, node, x):
    shape = _shape(ctx, x)
    ax = _axis(_attrs(node).get("axis", 1), len(shape))
    s = (int(np.prod(shape[:ax], dtype=np.int64)), int(np.prod(shape[ax:], dtype=np.int64)))
    return _struct(ctx, x, lambda a: a.reshape(s), lambda D, v: D.reshape(v, s))


@executor("Transpose")
def _transpose(ctx, node, x):
    nd = len(_shape(ctx, x))
    perm = list(_attrs(node).get("perm", range(nd - 1, -1, -1)))
    return _struct(ctx, x, lambda a: np.transpose(a, perm), lambda D, v: D.transpose(v, perm))


def _axes_arg(ctx, node, axes, since=13):
    if ctx.opset >= since:
        return None if axes is None else [int(a) for a in ctx.host(axes, "axes").ravel()]
    return _attrs(node).get("axes")


@executor("Squeeze")
def _squeeze(ctx, node, x, axes=None):
    shape = _shape(ctx, x)
    ax = _axes_arg(ctx, node, axes)
    ax = [i for i, n in enumerate(shape) if n == 1] if ax is None else sorted(_axis(a, len(shape)) for a in ax)
    s = tuple(n for i, n in enumerate(shape) if i not in ax)
    return _struct(ctx, x, lambda a: a.reshape(s), lambda D, v: D.reshape(v, s))


@executor("Unsqueeze")
def _unsqueeze(ctx, node, x, axes=None):
    shape = list(_shape(ctx, x))
    ax = _axes_arg(ctx, node, axes)
    nd = len(shape) + len(ax)
    for a in sorted(_axis(a, nd) for a in ax):
        shape.insert(a, 1)
    return _struct(ctx, x, lambda a: a.reshape(shape), lambda D, v: D.reshape(v, shape))


@executor("Expand")
def _expand(ctx, node, x, shape):
    s = np.broadcast_shapes(_shape(ctx, x), tuple(int(v) for v in ctx.host(shape, "shape")))
    return _struct(ctx, x, lambda a: np.broadcast_to(a, s).copy(), lambda D, v: D.broadcast_to(v, s))


@executor("Tile")
def _tile(ctx, node, x, reps):
    r = [int(v) for v in ctx.host(reps, "repeats")]
    if isinstance(x, Host):
        return Host(np.tile(x.a, r))
    D, v = ctx.D, x
    for ax, k in enumerate(r):
        if k != 1:
            n = D.shape(v)[ax]
            v = D.take(v, np.tile(np.arange(n), k), axis=ax)
    return v


@executor("Concat")
def _concat(ctx, node, *xs):
    nonempty = [v for v in xs if int(np.prod(_shape(ctx, v), dtype=np.int64)) != 0]
    xs = nonempty or list(xs)  # ONNX allows empty inputs; they add nothing
    nd = len(_shape(ctx, xs[0]))
    ax = _axis(_attrs(node)["axis"], nd)
    if all(isinstance(v, Host) for v in xs):
        return Host(np.concatenate([v.a for v in xs], axis=ax))
    return ctx.D.concat([ctx.dv(v) for v in xs], axis=ax)


@executor("Split")
def _split(ctx, node, x, split=None):
    at = _attrs(node)
    shape = _shape(ctx, x)
    ax = _axis(at.get("axis", 0), len(shape))
    nout = len(node.output)
    if ctx.opset >= 13:
        sizes = None if split is None else [int(v) for v in ctx.host(split, "split")]
    else:
        sizes = at.get("split")
    if sizes is None:
        n = shape[ax]
        if "num_outputs" in at:
            nout = int(at["num_outputs"])
        step = -(-n // nout)
        sizes = [min(step, n - i * step) for i in range(nout)]
    outs, start = [], 0
    for sz in sizes:
        idx = (slice(None),) * ax + (slice(start, start + sz),)
        outs.append(Host(x.a[idx]) if isinstance(x, Host) else ctx.D.getitem(x, idx))
        start += sz
    return tuple(outs)


@executor("Slice")
def _slice(ctx, node, x, starts=None, ends=None, axes=None, steps=None):
    """Slicing with ONNX's clamping (python slices clamp the same way)."""
    shape = _shape(ctx, x)
    if ctx.opset >= 10:
        st = [int(v) for v in ctx.host(starts, "starts")]
        en = [int(v) for v in ctx.host(ends, "ends")]
        ax = [int(v) for v in ctx.host(axes, "axes")] if axes is not None else list(range(len(st)))
        sp = [int(v) for v in ctx.host(steps, "steps")] if steps is not None else [1] * len(st)
    else:
        at = _attrs(node)
        st, en = list(at["starts"]), list(at["ends"])
        ax = list(at.get("axes", range(len(st))))
        sp = [1] * len(st)
    idx = [slice(None)] * len(shape)
    for s, e, a, k in zip(st, en, ax, sp):
        a = _axis(a, len(shape))
        n = shape[a]
        # clamp huge sentinels so python's own clamping applies
        s = max(min(s, n), -n - 1)
        e = max(min(e, n), -n - 1)
        if k < 0 and e < -n:
            e = None
        elif k > 0 and e < -n:
            e = 0
        if k > 0 and s < -n:
            s = 0
        if k < 0 and s < -n:
            s = -n - 1  # an empty selection, as ONNX clamps start to -1
            idx[a] = slice(0, 0)
            continue
        idx[a] = slice(s, e, k)
    idx = tuple(idx)
    return _struct(ctx, x, lambda arr: arr[idx], lambda D, v: D.getitem(v, idx))


@executor("Gather")
def _gather(ctx, node, x, indices):
    """x taken at host integer indices along `axis` (negative indices count from the end)."""
    idx = ctx.host(indices, "indices").astype(np.int64)
    nd = len(_shape(ctx, x))
    ax = _axis(_attrs(node).get("axis", 0), nd)
    n = _shape(ctx, x)[ax]
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise ctx.err(f"index out of range for axis {ax} of length {n}", ShapeError)
    idx = np.where(idx < 0, idx + n, idx)
    return _struct(ctx, x, lambda a: np.take(a, idx, axis=ax), lambda D, v: D.take(v, idx, axis=ax))


@executor("GatherElements")
def _gather_elements(ctx, node, x, indices):
    """out[i][j][k] = x[index[i][j][k]][j][k] (axis 0): one flat take of host indices."""
    idx = ctx.host(indices, "indices").astype(np.int64)
    shape = _shape(ctx, x)
    ax = _axis(_attrs(node).get("axis", 0), len(shape))
    idx = np.where(idx < 0, idx + shape[ax], idx)
    if isinstance(x, Host):
        return Host(np.take_along_axis(x.a, idx, axis=ax))
    grid = list(np.indices(idx.shape, sparse=True))
    grid[ax] = idx
    flat = np.ravel_multi_index(tuple(np.broadcast_arrays(*grid)), shape)
    D = ctx.D
    return D.reshape(D.take(D.reshape(x, (-1,)), flat.reshape(-1), axis=0), idx.shape)


def _fill_pad(D, v, pw, fill):
    """v padded per pw ((before, after) per axis) with copies of the 0-d value `fill`."""
    for a, (b, e) in enumerate(pw):
        if not (b or e):
            continue
        cur = list(D.shape(v))
        pieces = []
        if b:
            cur[a] = b
            pieces.append(D.broadcast_to(fill, tuple(cur)))
        pieces.append(v)
        if e:
            cur[a] = e
            pieces.append(D.broadcast_to(fill, tuple(cur)))
        v = D.concat(pieces, axis=a)
    return v


@executor("GatherND")
def _gather_nd(ctx, node, x, indices):
    """data[index tuples] over the last axis of host `indices`, after `batch_dims`
    leading axes shared by data and indices: one flat take (exact)."""
    idx = ctx.host(indices, "indices").astype(np.int64)
    shape = _shape(ctx, x)
    b = int(_attrs(node).get("batch_dims", 0))
    k = idx.shape[-1]
    B, lead, rest = shape[:b], shape[b:b + k], shape[b + k:]
    idx = np.where(idx < 0, idx + np.array(lead, dtype=np.int64), idx)
    nb = int(np.prod(B, dtype=np.int64))
    inner = np.ravel_multi_index(tuple(np.moveaxis(idx, -1, 0)), lead) if k else np.zeros(idx.shape[:-1], np.int64)
    inner = inner.reshape(nb, -1)
    flat = (np.arange(nb)[:, None] * int(np.prod(lead, dtype=np.int64)) + inner).reshape(-1)
    out_shape = tuple(idx.shape[:-1]) + tuple(rest)
    rows = (nb * int(np.prod(lead, dtype=np.int64)), int(np.prod(rest, dtype=np.int64)))
    if isinstance(x, Host):
        return Host(x.a.reshape(rows)[flat].reshape(out_shape))
    D = ctx.D
    return D.reshape(D.take(D.reshape(x, rows), flat, axis=0), out_shape)


@executor("Pad")
def _pad(ctx, node, x, pads=None, value=None, axes=None):
    """Constant (zeros, or another constant filled with D.full), edge or reflect
    padding; negative pads crop. All exact."""
    at = _attrs(node)
    shape = _shape(ctx, x)
    nd = len(shape)
    mode = at.get("mode", "constant")
    if ctx.opset >= 11:
        p = [int(v) for v in ctx.host(pads, "pads")]
        cval = None if value is None or not isinstance(value, Host) else value.a.reshape(())
        ax = list(range(nd)) if axes is None else [_axis(int(a), nd) for a in ctx.host(axes, "axes")]
    else:
        p = list(at["pads"])
        cval = np.float32(at.get("value", 0.0))
        value = Host(cval)
        ax = list(range(nd))
    k = len(ax)
    pw = [(0, 0)] * nd
    for i, a in enumerate(ax):
        pw[a] = (p[i], p[i + k])
    # crop negative pads first
    crop = tuple(slice(max(0, -b), n - max(0, -e)) for (b, e), n in zip(pw, shape))
    pw = [(max(0, b), max(0, e)) for b, e in pw]
    if isinstance(x, Host):
        a = x.a[crop]
        if mode == "constant":
            return Host(np.pad(a, pw, mode="constant", constant_values=0 if cval is None else cval))
        return Host(np.pad(a, pw, mode={"edge": "edge", "reflect": "reflect", "wrap": "wrap"}[mode]))
    D = ctx.D
    v = D.getitem(x, crop) if any(c != slice(0, n) for c, n in zip(crop, shape)) else x
    if mode == "constant":
        if value is None or (isinstance(value, Host) and not np.any(value.a)):
            return D.pad(v, pw)
        return _fill_pad(D, v, pw, D.reshape(ctx.dv(value), ()))
    for a, (b, e) in enumerate(pw):
        if not (b or e):
            continue
        n = D.shape(v)[a]
        r = np.arange(-b, n + e)
        if mode == "edge":
            idx = np.clip(r, 0, n - 1)
        elif mode == "reflect":
            period = 2 * (n - 1)
            m = np.mod(r, period) if period else np.zeros_like(r)
            idx = np.where(m < n, m, period - m)
        elif mode == "wrap":
            idx = np.mod(r, n)
        else:
            raise ctx.err(f"pad mode {mode!r}", UnsupportedOp)
        v = D.take(v, idx, axis=a)
    return v


@executor("Cast", "CastLike")
def _cast(ctx, node, x, like=None):
    """Host tensors: numpy's conversion (ONNX's for constants). A domain value cast
    to a float type is unchanged (the domain is the format); to an integer or bool
    type it is converted on the host (point domains only)."""
    if node.op_type == "CastLike":
        to_np = like.a.dtype if isinstance(like, Host) else np.float32
        to_float = isinstance(like, Host) and like.is_float or not isinstance(like, Host)
    else:
        to = int(_attrs(node)["to"])
        to_float = to in _FLOAT_TYPES
        to_np = _ONNX_NP.get(to)
        if to_np is None and not to_float:
            raise ctx.err(f"cast to ONNX type {to}", UnsupportedOp)
    if isinstance(x, Host):
        if to_float and to_np is None:  # bfloat16: keep the exact value, D rounds it
            return Host(x.a.astype(np.float64))
        return Host(x.a.astype(to_np))
    if isinstance(x, Mask):
        if isinstance(x.m, np.ndarray):
            return Host(x.m.astype(to_np))
        raise ctx.err("an undecided comparison (enclosure domain) cast to a number", UnsupportedOp)
    if to_float:
        return x
    r, hi = ctx.D.bounds(x)
    if r is not hi:
        raise ctx.err(f"float-to-integer cast of an enclosure in {ctx.D.label}", UnsupportedOp)
    return Host((r != 0) if to_np == np.bool_ else np.trunc(r).astype(to_np))


# host-only shape and integer ops -------------------------------------------------------------------
@executor("Shape")
def _shape_op(ctx, node, x):
    s = np.array(_shape(ctx, x), dtype=np.int64)
    at = _attrs(node)
    return Host(s[at.get("start", 0):at.get("end", len(s))])


@executor("Size")
def _size(ctx, node, x):
    return Host(np.array(int(np.prod(_shape(ctx, x), dtype=np.int64)), dtype=np.int64))


@executor("Constant")
def _constant(ctx, node):
    at = _attrs(node)
    if "value" in at:
        return Host(_tensor(at["value"]))
    for k, dt in (("value_float", np.float32), ("value_floats", np.float32),
                  ("value_int", np.int64), ("value_ints", np.int64)):
        if k in at:
            return Host(np.array(at[k], dtype=dt))
    raise ctx.err(f"Constant with attribute(s) {sorted(at)}", UnsupportedOp)


@executor("ConstantOfShape")
def _constant_of_shape(ctx, node, shape):
    at = _attrs(node)
    v = _tensor(at["value"]).reshape(()) if "value" in at else np.float32(0)
    return Host(np.full(tuple(int(s) for s in ctx.host(shape, "shape")), v, dtype=np.asarray(v).dtype))


@executor("Range")
def _range(ctx, node, start, limit, delta):
    """Host: numpy arange. Float domain values (point domains): the count
    max(ceil((limit - start) / delta), 0) from their values, then
    start + i * delta with one * and one + per element, as ONNX defines it."""
    if all(isinstance(v, Host) for v in (start, limit, delta)):
        s, l, d = (v.a.reshape(()) for v in (start, limit, delta))
        return Host(np.arange(s, l, d).astype(np.result_type(s, l, d)))
    vals = []
    for v in (start, limit, delta):
        r, hi = (v.a, v.a) if isinstance(v, Host) else ctx.D.bounds(v)
        if r is not hi:
            raise ctx.err("Range of enclosures has no static length", UnsupportedOp)
        vals.append(float(np.asarray(r).reshape(())))
    n = max(int(np.ceil((vals[1] - vals[0]) / vals[2])), 0)
    D = ctx.D
    i = D.asarray(np.arange(n, dtype=np.int64))
    return D.add(D.reshape(ctx.dv(start), ()), D.mul(i, D.reshape(ctx.dv(delta), ())))


@executor("Floor", "Ceil", "Mod", "Trilu", "ArgMax", "ArgMin", "NonZero", "Sign")
def _host_misc(ctx, node, *xs):
    """Integer / index ops: host tensors only (a domain value here is a user error)."""
    a = [ctx.host(v) if v is not None else None for v in xs]
    at = _attrs(node)
    op = node.op_type
    if op == "Floor":
        return Host(np.floor(a[0]))
    if op == "Ceil":
        return Host(np.ceil(a[0]))
    if op == "Sign":
        return Host(np.sign(a[0]))
    if op == "Mod":
        return Host(np.fmod(a[0], a[1]) if at.get("fmod", 0) else np.mod(a[0], a[1]))
    if op == "NonZero":
        return Host(np.array(np.nonzero(a[0]), dtype=np.int64))
    if op in ("ArgMax", "ArgMin"):
        f = np.argmax if op == "ArgMax" else np.argmin
        r = f(a[0], axis=at.get("axis", 0))
        return Host(np.expand_dims(r, at.get("axis", 0)) if at.get("keepdims", 1) else r)
    k = int(a[1]) if len(a) > 1 and a[1] is not None else 0
    return Host(np.triu(a[0], k) if at.get("upper", 1) else np.tril(a[0], k))


# -- function bodies ------------------------------------------------------------------------------
def _type_proto(ctx, v):
    from onnx import helper
    if isinstance(v, Host):
        et = {np.dtype(t): k for k, t in _ONNX_NP.items()}.get(v.a.dtype, 1)
        shape = list(v.a.shape)
    else:
        et, shape = 1, list(ctx.D.shape(v))
    return helper.make_tensor_type_proto(et, shape).SerializeToString()


def _run_body(ctx, node, inputs):
    """Run the function body the onnx package defines for this node, node by node,
    through the same executor table (its intermediate values are not tapped)."""
    import onnx
    import onnx.defs
    schema = onnx.defs.get_schema(node.op_type, ctx.opset, node.domain or "")
    present = [v for v in inputs if v is not None]
    n_in = len([i for i in node.input if i])
    if schema.has_context_dependent_function:
        raw = schema.get_context_dependent_function(node.SerializeToString(),
                                                    [_type_proto(ctx, v) for v in present[:n_in]])
        fn = onnx.FunctionProto()
        fn.ParseFromString(raw)
    elif schema.has_function:
        fn = schema.function_body
    else:
        raise ctx.err("no ONNX function body for this op in this opset; use --onnx-semantics op",
                      UnsupportedOp)
    sub_opset = next((o.version for o in fn.opset_import if o.domain in ("", "ai.onnx")), ctx.opset)
    local = {}
    for formal, actual in zip(fn.input, list(node.input) + [""] * len(fn.input)):
        if actual:
            local[formal] = ctx.env[actual]
    outer = (ctx.env, ctx.tap, ctx.opset, ctx.node)
    ctx.env, ctx.tap, ctx.opset = local, False, sub_opset
    try:
        for sub in fn.node:
            _exec(ctx, sub)
        outs = tuple(local.get(o) for o in fn.output)
    finally:
        ctx.env, ctx.tap, ctx.opset, ctx.node = outer
    return outs if len([o for o in node.output if o]) > 1 else outs[0]


# -- running a graph -------------------------------------------------------------------------------
def _exec(ctx, node):
    ctx.node = node
    if node.domain not in ("", "ai.onnx"):
        raise OnnxError(f"onnx {node.domain}.{node.op_type} (node {_node_name(node)!r}, opset "
                        f"{ctx.opset}): custom-domain op; fpsem runs the standard ai.onnx ops only")
    f = EXECUTORS.get(node.op_type)
    if f is None:
        raise OnnxError(f"onnx {node.op_type} (node {_node_name(node)!r}, opset {ctx.opset}): "
                        f"op type not supported by fpsem (see fpsem.models.onnx_import.EXECUTORS)")
    args = [ctx.env[i] if i else None for i in node.input]
    missing = [i for i in node.input if i and i not in ctx.env]
    if missing:
        raise ctx.err(f"input {missing[0]!r} is not defined before this node")
    try:
        out = f(ctx, node, *args)
    except FpsemError as e:
        msg = str(e)
        if msg.startswith("onnx "):
            raise
        raise type(e)(f"{ctx.where_()}: {msg}") from None
    except (ValueError, IndexError, KeyError, TypeError) as e:
        raise ctx.err(f"{type(e).__name__}: {e}") from None
    outs = out if isinstance(out, tuple) else (out,)
    for name, v in zip(node.output, outs):
        if not name:
            continue
        ctx.env[name] = v
        if ctx.tap and v is not None and not isinstance(v, (Host, Mask)):
            tap(ctx.D, name, v)


def _has_inf_constants(g, init):
    if any(v.dtype.kind == "f" and np.isinf(v).any() for v in init.values()):
        return True
    for n in g.node:
        for a in n.attribute:
            if a.type == 4 and a.t.data_type in _FLOAT_TYPES:  # TENSOR attribute
                v = _tensor(a.t)
                if np.isinf(v).any():
                    return True
            elif a.type == 1 and not np.isfinite(a.f):
                return True
    return False


class OnnxModel(Model):
    """An ONNX graph as an fpsem model: `forward(D, *inputs)` interprets the graph in
    domain D with the graph inputs in order (numpy arrays; a dict by name also works)
    and returns the first graph output; `run(D, feeds)` returns every output."""

    is_rational = None
    summary = "an imported ONNX graph"
    n_steps = 1

    def __init__(self, proto, path=None, semantics="body"):
        if semantics not in SEMANTICS:
            raise FpsemError(f"onnx semantics must be one of {', '.join(SEMANTICS)}, got {semantics!r}")
        g = proto.graph
        self.proto = proto
        self.path = path
        self.semantics = semantics
        self.opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 1)
        self.init = {t.name: _tensor(t) for t in g.initializer}
        for n in g.node:
            if any(a.type in (5, 10) for a in n.attribute):  # GRAPH / GRAPHS
                raise OnnxError(f"onnx {n.op_type} (node {_node_name(n)!r}, opset {self.opset}): "
                                f"control flow with subgraphs is not supported by fpsem")
        self.input_names = [i.name for i in g.input if i.name not in self.init]
        self.output_names = [o.name for o in g.output]
        self.name = os.path.basename(path) if path else (g.name or "onnx-graph")
        fl = {k: v for k, v in self.init.items() if v.dtype.kind == "f"}
        super().__init__(OnnxConfig(path=str(path or ""), semantics=semantics, opset=self.opset,
                                    nodes=len(g.node)), fl, source=path or "an in-memory ONNX graph")
        self.notes = [f"ONNX semantics: {semantics} "
                      + ("(LayerNormalization, Gelu run their ONNX function bodies)" if semantics == "body"
                         else "(LayerNormalization, Gelu run fpsem's ops)")]
        if _has_inf_constants(g, self.init):
            self.notes.append("graph constants hold +-inf (attention masks): every domain reads them "
                              "as +-3.4028235e38 (float32's largest finite value), which the real-number "
                              "domains can represent; a masked score's exp is then 0 in float formats and "
                              "an enclosure of [0, e^-3.4e38] in the reference; onnxruntime keeps -inf")
        ops_used = sorted({n.op_type for n in g.node})
        self.op_types = ops_used
        self.is_rational = not any(o in ops_used for o in (
            "Exp", "Log", "Tanh", "Erf", "Sigmoid", "Softmax", "LogSoftmax", "Gelu", "Sin", "Cos", "Pow",
            "Sqrt", "LayerNormalization", "BatchNormalization"))

    def describe_weights(self):
        return f"weights from {self.source}; ONNX opset {self.opset}; {self.notes[0]}"

    # -- inputs ---------------------------------------------------------------------------------
    def _input_info(self):
        out = []
        for vi in self.proto.graph.input:
            if vi.name in self.init:
                continue
            tt = vi.type.tensor_type
            dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
            out.append((vi.name, tt.elem_type, dims))
        return out

    def _index_bound(self, name):
        """Smallest data length an integer input indexes through Gather (default inputs)."""
        best = None
        for n in self.proto.graph.node:
            if n.op_type == "Gather" and len(n.input) > 1 and n.input[1] == name and n.input[0] in self.init:
                ax = next((a.i for a in n.attribute if a.name == "axis"), 0)
                L = self.init[n.input[0]].shape[ax]
                best = L if best is None else min(best, L)
        return best

    def default_inputs(self):
        """Seeded inputs from the declared shapes: symbolic dims 1 (first) or 8; floats
        standard normal float32; integer inputs in [0, the table they index) or 0..1;
        names containing 'mask' all ones."""
        rng = np.random.default_rng(self.seed)
        out = []
        for name, et, dims in self._input_info():
            shape = tuple((1 if i == 0 else 8) if d is None else d for i, d in enumerate(dims))
            dt = _ONNX_NP.get(et, np.float32)
            if "mask" in name.lower():
                out.append(np.ones(shape, dtype=dt))
            elif np.dtype(dt).kind == "f":
                out.append(rng.standard_normal(shape).astype(dt))
            elif np.dtype(dt).kind == "b":
                out.append(np.ones(shape, dtype=bool))
            else:
                hi = self._index_bound(name) or 2
                out.append(rng.integers(0, hi, size=shape).astype(dt))
        return tuple(out)

    def load_inputs(self, path):
        """Inputs from an .npz: arrays named like the graph inputs, else in order."""
        try:
            z = np.load(path)
        except (OSError, ValueError) as e:
            raise FpsemError(f"--inputs {path}: cannot read it as .npz ({e})") from None
        with z:
            keys = list(z.files)
            if all(n in keys for n in self.input_names):
                return tuple(z[n] for n in self.input_names)
            if len(keys) == len(self.input_names):
                return tuple(z[k] for k in keys)
        raise FpsemError(f"--inputs {path}: has arrays {keys}; the graph's inputs are {self.input_names}")

    def feeds(self, inputs):
        if len(inputs) == 1 and isinstance(inputs[0], dict):
            d = inputs[0]
            missing = [n for n in self.input_names if n not in d]
            if missing:
                raise FpsemError(f"{self.name}: no value for graph input {missing[0]!r}")
            return {n: d[n] for n in self.input_names}
        if len(inputs) != len(self.input_names):
            raise ShapeError(f"{self.name}: {len(inputs)} inputs given, the graph has "
                             f"{len(self.input_names)} ({', '.join(self.input_names)})")
        return dict(zip(self.input_names, inputs))

    # -- running ----------------------------------------------------------------------------------
    def run(self, D, feeds, tap_nodes=True):
        """Every graph output by name: domain values (float) or numpy arrays (host)."""
        ctx = _Ctx(self, D, tap_nodes)
        for k, v in self.init.items():
            ctx.env[k] = Host(v)
        infos = {n: (et, dims) for n, et, dims in self._input_info()}
        for name in self.input_names:
            a = np.asarray(feeds[name])
            et, dims = infos[name]
            if len(dims) != a.ndim or any(d is not None and d != s for d, s in zip(dims, a.shape)):
                raise ShapeError(f"{self.name}: input {name!r} has shape {a.shape}, the graph declares "
                                 f"{['?' if d is None else d for d in dims]}")
            if a.dtype.name == "bfloat16":
                a = a.astype(np.float32)  # exact widening
            if a.dtype.kind == "f":
                v = D.asarray(a)
                if tap_nodes:
                    tap(D, name, v)
                ctx.env[name] = v
            else:
                ctx.env[name] = Host(a)
        for node in self.proto.graph.node:
            _exec(ctx, node)
        ctx.node = None
        out = {}
        for n in self.output_names:
            v = ctx.env.get(n)
            out[n] = v.a if isinstance(v, Host) else v
        return out

    def forward(self, D, *inputs):
        outs = self.run(D, self.feeds(inputs))
        for n in self.output_names:
            v = outs[n]
            if not isinstance(v, np.ndarray) or getattr(D, "is_value", lambda _: False)(v):
                return v
        first = outs[self.output_names[0]]
        return D.asarray(first) if np.asarray(first).dtype.kind == "f" else first


def load_onnx(path, semantics="body"):
    """An ONNX file (or ModelProto) as an fpsem model (see OnnxModel).

    semantics: "body" (default) runs ONNX's function bodies for ops whose body
    differs from fpsem's op in float behaviour (LayerNormalization, Gelu); "op"
    runs fpsem's ops."""
    onnx = _need_onnx()
    if isinstance(path, onnx.ModelProto):
        return OnnxModel(path, None, semantics)
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FpsemError(f"no such ONNX file: {path}")
    try:
        proto = onnx.load(path)
    except Exception as e:  # protobuf's DecodeError and friends
        raise FpsemError(f"{path}: not a readable ONNX model ({type(e).__name__}: {e})") from None
    return OnnxModel(proto, path, semantics)


__all__ = ["load_onnx", "OnnxModel", "OnnxError", "EXECUTORS", "SEMANTICS", "BODY_OPS"]
