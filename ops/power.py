"""Powers: x**p for an exact rational exponent with denominator 1 or 2, and the
general x**y = exp(y log x).

ONNX's Pow (and the exports of GELU, LayerNorm and attention scaling that use it)
nearly always has a constant exponent such as 2, 3, 0.5 or -0.5; those are
evaluated with multiplications and one square root, so they stay in the exact
domain and round a known number of times. Any other exponent goes through
exp(y log x), which rounds in log, *, exp.
"""
from fractions import Fraction

from ._registry import c, op


def _int_power(D, x, n):
    """x**n for an integer n >= 1 by binary exponentiation (left to right over the
    bits of n): ceil(log2 n) squarings plus one multiplication per extra set bit."""
    bits = bin(n)[3:]
    y = x
    for b in bits:
        y = D.mul(y, y)
        if b == "1":
            y = D.mul(y, x)
    return y


@op(group="elementwise")
def power(D, x, p):
    """x**p for an exact rational p (int, Fraction or decimal string) whose
    denominator is 1 or 2.

    p = n >= 1: binary exponentiation (n = 2: one rounding; n = 3: two, x*x then *x).
    p = 0: exactly 1 (also for x = 0, as IEEE pow and ONNX define).
    p = n + 1/2: sqrt(x) (one rounding) times x**n.
    p < 0: 1 / x**|p|, one more rounding for the division."""
    q = Fraction(p) if not isinstance(p, str) else Fraction(p.strip())
    if q.denominator not in (1, 2):
        from fpsem.errors import UnsupportedOption
        raise UnsupportedOption(f"power[{D.label}]: exponent {q} is not a multiple of 1/2; "
                                f"use pow_general (exp(y log x))")
    neg = q < 0
    a = abs(q)
    whole = int(a)  # floor of |p|
    if a == 0:
        return D.full(D.shape(x), 1)
    y = None
    if a.denominator == 2:
        y = D.sqrt(x)
    if whole:
        xn = _int_power(D, x, whole)
        y = xn if y is None else D.mul(xn, y)
    return D.div(c(D, 1), y) if neg else y


@op(group="elementwise")
def pow_general(D, x, y):
    """x**y = exp(y * log x) for x > 0 (x = 0 gives exp(-inf) = 0 for y > 0 where the
    domain has infinities; x < 0 gives NaN, as log does).
    Roundings: log (D.accuracy('log')), *, exp (D.accuracy('exp')); the error of
    log x is amplified by |y| through exp."""
    return D.exp(D.mul(y, D.log(x)))


__all__ = ["power", "pow_general"]
