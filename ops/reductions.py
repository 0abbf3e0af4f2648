"""Reductions with an explicit accumulation order (`acc`, default: the domain's)."""
from ._registry import c, inv, op


@op(name="sum", group="reduction")
def sum_(D, x, axis=-1, keepdims=False, acc=None):
    """Sum along `axis` in order `acc`: n-1 roundings arranged by the order."""
    return D.sum(x, axis=axis, keepdims=keepdims, acc=acc)


@op(group="reduction")
def mean(D, x, axis=-1, keepdims=False, acc=None):
    """sum / n: the sum's roundings, then one division by the exact integer n."""
    n = D.shape(x)[axis] if axis is not None else D.size(x)
    return D.div(D.sum(x, axis=axis, keepdims=keepdims, acc=acc), c(D, n))


@op(name="max", group="reduction")
def max_(D, x, axis=-1, keepdims=False):
    """Maximum along `axis` (IEEE maximum semantics); exact."""
    return D.max(x, axis=axis, keepdims=keepdims)


@op(group="reduction")
def var(D, x, axis=-1, keepdims=False, acc=None):
    """Population variance mean((x - mean(x))^2) (two-pass).
    Roundings: the mean's, one - and one * per element, then the mean's again."""
    m = mean(D, x, axis=axis, keepdims=True, acc=acc)
    d = D.sub(x, m)
    return mean(D, D.mul(d, d), axis=axis, keepdims=keepdims, acc=acc)


@op(group="reduction")
def logsumexp(D, x, axis=-1, keepdims=False, acc=None):
    """m + log(sum(exp(x - m))), m = max x. Roundings: -, exp, the sum's, log, +."""
    m = D.max(x, axis=axis, keepdims=True)
    s = D.sum(D.exp(D.sub(x, m)), axis=axis, keepdims=True, acc=acc)
    out = D.add(m, D.log(s))
    return out if keepdims else D.squeeze(out, axis)


__all__ = ["sum_", "mean", "max_", "var", "logsumexp", "inv"]
