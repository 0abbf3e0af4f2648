"""Softmax, normalisation, embeddings and positions."""
import numpy as np

from ._registry import LN2, c, op


@op(group="softmax")
def softmax(D, x, axis=-1, acc=None):
    """softmax(x) = exp(x - max x) / sum exp(x - max x).
    Roundings: - (1), exp (D.accuracy('exp')), the sum in order `acc`, / (1)."""
    m = D.max(x, axis=axis, keepdims=True)
    e = D.exp(D.sub(x, m))
    return D.div(e, D.sum(e, axis=axis, keepdims=True, acc=acc))


@op(group="softmax")
def log_softmax(D, x, axis=-1, acc=None):
    """x - max x - log(sum exp(x - max x)).
    Roundings: -, exp, the sum's, log, final -."""
    m = D.max(x, axis=axis, keepdims=True)
    z = D.sub(x, m)
    return D.sub(z, D.log(D.sum(D.exp(z), axis=axis, keepdims=True, acc=acc)))


@op(group="norm")
def layer_norm(D, x, gamma=None, beta=None, eps="1e-5", acc=None):
    """(x - mean) / sqrt(var + eps) * gamma + beta over the last axis, two-pass
    population variance. eps is an exact decimal. Roundings per output: the
    mean's (sum, /n), -, the variance's (*, sum, /n), + eps, sqrt, /, *gamma, +beta."""
    from fpsem.domain import to_fraction_scalar
    if to_fraction_scalar(eps, "layer_norm eps") < 0:
        from fpsem.errors import UnsupportedOption
        raise UnsupportedOption(f"layer_norm[{D.label}]: eps must be >= 0, got {eps}")
    n = D.shape(x)[-1]
    mu = D.div(D.sum(x, axis=-1, keepdims=True, acc=acc), c(D, n))
    xc = D.sub(x, mu)
    var = D.div(D.sum(D.mul(xc, xc), axis=-1, keepdims=True, acc=acc), c(D, n))
    y = D.div(xc, D.sqrt(D.add(var, c(D, eps))))
    if gamma is not None:
        y = D.mul(y, gamma)
    if beta is not None:
        y = D.add(y, beta)
    return y


@op(group="norm")
def rms_norm(D, x, gamma=None, eps="1e-6", acc=None):
    """x / sqrt(mean(x^2) + eps) * gamma over the last axis."""
    n = D.shape(x)[-1]
    ms = D.div(D.sum(D.mul(x, x), axis=-1, keepdims=True, acc=acc), c(D, n))
    y = D.div(x, D.sqrt(D.add(ms, c(D, eps))))
    return D.mul(y, gamma) if gamma is not None else y


@op(group="norm")
def batch_norm(D, x, mean, var, gamma=None, beta=None, eps="1e-5"):
    """Inference batch norm over channel axis 1: (x - mean) / sqrt(var + eps) * gamma + beta."""
    shape = (1, D.shape(x)[1]) + (1,) * (D.ndim(x) - 2)
    r = lambda v: D.reshape(v, shape)
    y = D.div(D.sub(x, r(mean)), D.sqrt(D.add(r(var), c(D, eps))))
    if gamma is not None:
        y = D.mul(y, r(gamma))
    if beta is not None:
        y = D.add(y, r(beta))
    return y


@op(group="embedding")
def embedding(D, table, ids):
    """Rows of `table` (vocab, d) at integer `ids` (numpy ints); exact gather."""
    ids = np.asarray(ids)
    if ids.dtype.kind in "iu" and ids.size and ids.min() < 0:
        # numpy's take would wrap -1 to the last row: an id is never negative
        from fpsem.errors import ShapeError
        raise ShapeError(f"embedding[{D.label}]: id {int(ids.min())} is negative")
    return D.take(table, ids, axis=0)


def _inv_freq(D, d, base):
    """base ** (-2i/d) for i < d/2, as exp(-(2i/d) * log(base)): exact ratio 2i/d
    rounded once, then *, log, exp."""
    from fractions import Fraction
    ratios = D.asarray(np.array([Fraction(-2 * i, d) for i in range(d // 2)], dtype=object))
    return D.exp(D.mul(ratios, D.log(c(D, base))))


@op(group="embedding")
def sinusoidal_positions(D, positions, d, base=10000):
    """The Transformer's fixed encoding: pe[p, 2i] = sin(p w_i), pe[p, 2i+1] = cos(p w_i),
    w_i = base^(-2i/d). Roundings: w_i's, p*w_i, sin/cos."""
    pos = D.asarray(np.asarray(positions, dtype=np.int64).reshape(-1, 1))
    ang = D.mul(pos, D.reshape(_inv_freq(D, d, base), (1, d // 2)))
    pe = D.stack([D.sin(ang), D.cos(ang)], axis=-1)  # (T, d/2, 2) interleaves sin, cos
    return D.reshape(pe, (len(np.atleast_1d(positions)), d))


@op(group="embedding")
def rope(D, x, positions, base=10000):
    """Rotary position embedding, half-split (GPT-NeoX / LLaMA) form on the last axis:
    out = [x1 cos - x2 sin, x2 cos + x1 sin] with angle p * base^(-2i/d).
    x: (..., T, d); positions: T integers."""
    d = D.shape(x)[-1]
    pos = D.asarray(np.asarray(positions, dtype=np.int64).reshape(-1, 1))
    ang = D.mul(pos, D.reshape(_inv_freq(D, d, base), (1, d // 2)))  # (T, d/2)
    cs, sn = D.cos(ang), D.sin(ang)
    x1 = D.getitem(x, (Ellipsis, slice(0, d // 2)))
    x2 = D.getitem(x, (Ellipsis, slice(d // 2, d)))
    return D.concat([D.sub(D.mul(x1, cs), D.mul(x2, sn)),
                     D.add(D.mul(x2, cs), D.mul(x1, sn))], axis=-1)


__all__ = ["softmax", "log_softmax", "layer_norm", "rms_norm", "batch_norm", "embedding",
           "sinusoidal_positions", "rope", "LN2"]
