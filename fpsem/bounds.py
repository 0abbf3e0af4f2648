"""A-priori worst-case error bounds from the standard model of floating-point arithmetic.

Standard model (Higham, "Accuracy and Stability of Numerical Algorithms", 2nd ed.,
eq. 2.4, and Thm 2.2): for x, y and the result in the normal range,
fl(x op y) = (x op y)(1 + d) with |d| <= u, u = 2**-p for round-to-nearest and
u = 2**(1-p) for directed rounding. With gradual underflow an absolute term is
added: fl(x op y) = (x op y)(1 + d) + e, |e| <= eta, eta = half the smallest
subnormal for nearest (the smallest subnormal for directed), and e = 0 for + and -
(eq. 2.8 and the remark after it).

gamma_k = k u / (1 - k u) (Higham Lemma 3.1). Sums and dot products in any fixed
order satisfy |fl(s) - s| <= gamma_k sum|t_i| with k the largest number of
roundings a term goes through (`Order.roundings`); with underflow the dot product
gains at most n * eta from the products (Higham 3.1 with the underflow model;
each product contributes at most eta of absolute error and that error is then
multiplied by at most (1 + u)^(n-1) < 2).

All arithmetic here is on Fractions: a bound is exact rational arithmetic, never a
float that could itself round down.
"""
from __future__ import annotations

from fractions import Fraction

from .errors import FpsemError
from .formats import Format
from .order import parse_order


def unit_roundoff(fmt: Format, rounding="rne") -> Fraction:
    return fmt.u if rounding in ("rne", "rna") else fmt.eps


def eta(fmt: Format, rounding="rne") -> Fraction:
    """Absolute error bound of one multiplication that underflows."""
    return fmt.min_subnormal / 2 if rounding in ("rne", "rna") else fmt.min_subnormal


def gamma(k: int, fmt: Format, rounding="rne") -> Fraction:
    u = unit_roundoff(fmt, rounding)
    if k * u >= 1:
        raise FpsemError(f"gamma_{k}({fmt}): k*u >= 1, the standard bound does not apply")
    return k * u / (1 - k * u)


def dot_rel_bound(n: int, order, fmt: Format, rounding="rne", dot=True) -> Fraction:
    """gamma_k for a length-n sum (dot=False) or dot product under `order`:
    |fl(x.y) - x.y| <= bound * sum |x_i y_i|  (+ n*eta with underflow)."""
    order = parse_order(order)
    return gamma(order.roundings(n, dot=dot), fmt, rounding)


def dot_abs_bound(abs_dot, n, order, fmt, rounding="rne", underflow=True) -> Fraction:
    """Absolute bound for one dot product given sum|x_i y_i| (a Fraction or float, exact)."""
    b = dot_rel_bound(n, order, fmt, rounding) * Fraction(abs_dot)
    if underflow:
        b += 2 * n * eta(fmt, rounding)
    return b
