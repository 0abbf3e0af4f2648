"""Elementwise arithmetic and activations.

Rounding counts are stated per op for a float domain; each primitive rounds as
D.accuracy(primitive) declares.
"""
from ._registry import INV_SQRT2, SQRT_2_OVER_PI, c, op


@op(group="elementwise")
def add(D, x, y):
    """x + y; one rounding."""
    return D.add(x, y)


@op(group="elementwise")
def sub(D, x, y):
    """x - y; one rounding."""
    return D.sub(x, y)


@op(group="elementwise")
def mul(D, x, y):
    """x * y; one rounding."""
    return D.mul(x, y)


@op(group="elementwise")
def div(D, x, y):
    """x / y; one rounding."""
    return D.div(x, y)


@op(group="elementwise")
def neg(D, x):
    """-x; exact."""
    return D.neg(x)


@op(name="abs", group="elementwise")
def abs_(D, x):
    """|x|; exact."""
    return D.abs(x)


@op(group="elementwise")
def sqrt(D, x):
    """sqrt(x); one rounding."""
    return D.sqrt(x)


@op(group="elementwise")
def square(D, x):
    """x * x; one rounding."""
    return D.mul(x, x)


@op(group="elementwise")
def fma(D, x, y, z):
    """x * y + z with a single rounding."""
    return D.fma(x, y, z)


@op(group="activation")
def relu(D, x):
    """max(x, 0) (IEEE maximum, so relu(-0) = +0 and relu(NaN) = NaN); exact."""
    return D.maximum(x, D.zeros(D.shape(x)))


@op(group="activation")
def gelu_tanh(D, x):
    """GELU, tanh form (GPT-2): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).

    Evaluated as h = 0.5*x; u = x*x*x; t = tanh(s*(x + 0.044715*u)); h*(1 + t):
    x*x, *x, *0.044715, +x, *s, tanh, +1, 0.5*x, final * -- 8 roundings plus
    tanh's own. s is sqrt(2/pi) to 50 digits (rounded once into D)."""
    u = D.mul(D.mul(x, x), x)
    inner = D.mul(c(D, SQRT_2_OVER_PI), D.add(x, D.mul(c(D, "0.044715"), u)))
    return D.mul(D.mul(c(D, "0.5"), x), D.add(c(D, 1), D.tanh(inner)))


@op(group="activation")
def gelu_erf(D, x):
    """GELU, erf form: 0.5 x (1 + erf(x / sqrt 2)); x/sqrt2 is x * (1/sqrt 2).
    Roundings: *, erf, +1, 0.5*x, final *."""
    return D.mul(D.mul(c(D, "0.5"), x), D.add(c(D, 1), D.erf(D.mul(x, c(D, INV_SQRT2)))))


@op(group="activation")
def sigmoid(D, x):
    """1 / (1 + exp(-x)). Roundings: exp, +, /. exp(-x) overflowing to inf
    gives 0, the correctly signed limit."""
    return D.div(c(D, 1), D.add(c(D, 1), D.exp(D.neg(x))))


@op(group="activation")
def silu(D, x):
    """x * sigmoid(x). Roundings: sigmoid's 3 and one *."""
    return D.mul(x, sigmoid(D, x))


@op(group="activation")
def tanh(D, x):
    """tanh(x) (a primitive)."""
    return D.tanh(x)


@op(group="activation")
def softplus(D, x):
    """log(1 + exp(x)) in the overflow-free form max(x, 0) + log(1 + exp(-|x|)).
    Roundings: exp, +1, log, final +."""
    return D.add(D.maximum(x, D.zeros(D.shape(x))),
                 D.log(D.add(c(D, 1), D.exp(D.neg(D.abs(x))))))
