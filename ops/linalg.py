"""Matrix products, convolutions and pooling.

Convolution is im2col (structural, exact) followed by one `dot` per group, so
each output is a dot product of length C_in/groups * kh * kw accumulated in the
order `acc` over the flattened (channel, row, column) index; the bias is added
after with one rounding.
"""
import numbers

from ._registry import c, op


@op(group="linalg")
def matmul(D, a, b, acc=None):
    """a @ b (numpy matmul shapes); each output a length-k dot in order `acc`."""
    return D.dot(a, b, acc=acc)


@op(group="linalg")
def linear(D, x, w, b=None, acc=None):
    """x @ w + b with w of shape (in, out) (the Conv1D layout of GPT-2).
    Roundings: the dot's, then one + for the bias."""
    y = D.dot(x, w, acc=acc)
    return D.add(y, b) if b is not None else y


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _ints(D, opname, what, v, lo, pair=True):
    """Integer argument(s) >= lo, as a pair (or one int), else a ShapeError naming them."""
    from fpsem.errors import ShapeError
    vals = (v,) if not pair or isinstance(v, numbers.Integral) else v
    try:
        ok = all(isinstance(t, numbers.Integral) and not isinstance(t, bool) and t >= lo for t in vals) \
            and (not pair or len(_pair(v)) == 2)
    except TypeError:
        ok = False
    if not ok:
        kind = "an integer" if not pair else "an integer or a pair of integers"
        raise ShapeError(f"{opname}[{D.label}]: {what} must be {kind} >= {lo}, got {v!r}")
    return _pair(v) if pair else v


def _ndim4(D, opname, what, x):
    from fpsem.errors import ShapeError
    if D.ndim(x) != 4:
        raise ShapeError(f"{opname}[{D.label}]: {what} must be 4-D, got shape {D.shape(x)}")


def _out_len(n, k, s, p, d):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def _patches(D, x, kh, kw, stride, dilation, Ho, Wo):
    """(N, C, H, W) -> (N, Ho, Wo, C, kh*kw) windows (structural only)."""
    sh, sw = stride
    dh, dw = dilation
    cols = []
    for i in range(kh):
        for j in range(kw):
            r0, c0 = i * dh, j * dw
            cols.append(D.getitem(x, (slice(None), slice(None),
                                      slice(r0, r0 + sh * (Ho - 1) + 1, sh),
                                      slice(c0, c0 + sw * (Wo - 1) + 1, sw))))
    st = D.stack(cols, axis=2)  # (N, C, kh*kw, Ho, Wo)
    return D.transpose(st, (0, 3, 4, 1, 2))


@op(group="linalg")
def conv2d(D, x, w, b=None, stride=1, padding=0, dilation=1, groups=1, acc=None):
    """2-D cross-correlation as in torch.nn.functional.conv2d.

    x: (N, C, H, W); w: (O, C/groups, kh, kw); b: (O,). Zero padding; each
    output is a dot of length C/groups*kh*kw in order `acc`, plus one rounding
    for the bias."""
    from fpsem.errors import ShapeError
    _ndim4(D, "conv2d", "x (N, C, H, W)", x)
    _ndim4(D, "conv2d", "w (O, C/groups, kh, kw)", w)
    N, C, H, W = D.shape(x)
    O, Cg, kh, kw = D.shape(w)
    stride = _ints(D, "conv2d", "stride", stride, 1)
    padding = _ints(D, "conv2d", "padding", padding, 0)
    dilation = _ints(D, "conv2d", "dilation", dilation, 1)
    groups = _ints(D, "conv2d", "groups", groups, 1, pair=False)
    if C % groups or O % groups or Cg != C // groups:
        raise ShapeError(f"conv2d[{D.label}]: input channels {C}, weight {D.shape(w)} and groups={groups} do not fit")
    if padding != (0, 0):
        x = D.pad(x, ((0, 0), (0, 0), (padding[0], padding[0]), (padding[1], padding[1])))
    Ho = _out_len(H, kh, stride[0], padding[0], dilation[0])
    Wo = _out_len(W, kw, stride[1], padding[1], dilation[1])
    if Ho < 1 or Wo < 1:
        raise ShapeError(f"conv2d[{D.label}]: kernel {kh}x{kw} larger than padded input {H}x{W}")
    outs = []
    Og = O // groups
    for g in range(groups):
        xg = D.getitem(x, (slice(None), slice(g * Cg, (g + 1) * Cg)))
        cols = D.reshape(_patches(D, xg, kh, kw, stride, dilation, Ho, Wo), (N * Ho * Wo, Cg * kh * kw))
        wg = D.reshape(D.getitem(w, slice(g * Og, (g + 1) * Og)), (Og, Cg * kh * kw))
        outs.append(D.dot(cols, D.transpose(wg), acc=acc))  # (N*Ho*Wo, Og)
    y = outs[0] if groups == 1 else D.concat(outs, axis=1)
    y = D.transpose(D.reshape(y, (N, Ho, Wo, O)), (0, 3, 1, 2))
    if b is not None:
        y = D.add(y, D.reshape(b, (1, O, 1, 1)))
    return y


@op(group="linalg")
def conv1d(D, x, w, b=None, stride=1, padding=0, dilation=1, groups=1, acc=None):
    """1-D cross-correlation: x (N, C, L), w (O, C/groups, k); conv2d with height 1."""
    x4 = D.expand_dims(x, 2)
    w4 = D.expand_dims(w, 2)
    y = conv2d(D, x4, w4, b, stride=(1, stride), padding=(0, padding),
               dilation=(1, dilation), groups=groups, acc=acc)
    return D.squeeze(y, 2)


def _edge_pad(D, x, ph, pw):
    """Replicate border values (structural). For max pooling with padding <= k/2
    every window that reaches into the padding also holds the replicated border
    element, so the maximum equals PyTorch's -inf padding."""
    import numpy as np
    N, C, H, W = D.shape(x)
    rows = np.clip(np.arange(-ph, H + ph), 0, H - 1)
    cols = np.clip(np.arange(-pw, W + pw), 0, W - 1)
    return D.take(D.take(x, rows, axis=2), cols, axis=3)


@op(group="pooling")
def max_pool2d(D, x, kernel, stride=None, padding=0):
    """Max over kh x kw windows (exact); padding must be at most half the kernel."""
    from fpsem.errors import ShapeError
    _ndim4(D, "max_pool2d", "x (N, C, H, W)", x)
    kh, kw = _ints(D, "max_pool2d", "kernel", kernel, 1)
    sh, sw = _ints(D, "max_pool2d", "stride", stride if stride is not None else kernel, 1)
    ph, pw = _ints(D, "max_pool2d", "padding", padding, 0)
    if 2 * ph > kh or 2 * pw > kw:
        raise ShapeError(f"max_pool2d[{D.label}]: padding {padding} exceeds half the kernel {kernel}")
    N, C, H, W = D.shape(x)
    if ph or pw:
        x = _edge_pad(D, x, ph, pw)
    Ho = _out_len(H, kh, sh, ph, 1)
    Wo = _out_len(W, kw, sw, pw, 1)
    p = _patches(D, x, kh, kw, (sh, sw), (1, 1), Ho, Wo)  # (N, Ho, Wo, C, khkw)
    return D.transpose(D.max(p, axis=-1), (0, 3, 1, 2))


@op(group="pooling")
def avg_pool2d(D, x, kernel, stride=None, padding=0, acc=None):
    """Mean over windows counting zero padding (PyTorch's count_include_pad=True):
    the window sum in order `acc`, then one division by kh*kw."""
    _ndim4(D, "avg_pool2d", "x (N, C, H, W)", x)
    kh, kw = _ints(D, "avg_pool2d", "kernel", kernel, 1)
    sh, sw = _ints(D, "avg_pool2d", "stride", stride if stride is not None else kernel, 1)
    ph, pw = _ints(D, "avg_pool2d", "padding", padding, 0)
    N, C, H, W = D.shape(x)
    if ph or pw:
        x = D.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    Ho = _out_len(H, kh, sh, ph, 1)
    Wo = _out_len(W, kw, sw, pw, 1)
    p = _patches(D, x, kh, kw, (sh, sw), (1, 1), Ho, Wo)
    s = D.sum(p, axis=-1, acc=acc)
    return D.transpose(D.div(s, c(D, kh * kw)), (0, 3, 1, 2))


@op(group="pooling")
def global_avg_pool(D, x, acc=None):
    """(N, C, H, W) -> (N, C): sum over H*W in order `acc`, one division."""
    N, C, H, W = D.shape(x)
    s = D.sum(D.reshape(x, (N, C, H * W)), axis=-1, acc=acc)
    return D.div(s, c(D, H * W))


@op(group="pooling")
def global_max_pool(D, x):
    """(N, C, H, W) -> (N, C): maximum over H*W; exact."""
    N, C, H, W = D.shape(x)
    return D.max(D.reshape(x, (N, C, H * W)), axis=-1)
