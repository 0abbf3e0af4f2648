"""Vectorized loops over the reference scalar routines of `_core`, and the fast
RNE binary32 paths.

Fast paths (binary32, rne, no FTZ/DAZ): the operation is evaluated in binary64
and rounded once to binary32. For +, -, *, / and sqrt this double rounding is
innocuous because 53 >= 2*24 + 2 (Figueroa, "When is double rounding
innocuous?", SIGNUM 1995; Muller et al., Handbook of Floating-Point Arithmetic,
2nd ed., Thm 4.? "double rounding innocuous"), so RN24(RN53(x op y)) = RN24(x op y).
The fast loop only keeps results whose magnitude is strictly between the
smallest normal and infinity: there no underflow or overflow can have happened
(a rounded result > 2**-126 means the exact result exceeds the midpoint above
2**-126, so it is not tiny under either tininess rule; a finite RNE result means
no overflow), NaN propagation is not involved, and the only flag is inexact,
computed exactly:
  add/sub: TwoSum (Knuth) gives the exact error of the binary64 sum; the result
           is exact iff that error is 0 and float64(r) == d.
  mul:     the binary64 product of two binary32 values is exact (48 bits).
  div:     r * y is exact in binary64 (48 bits); the quotient is exact iff r*y == x.
  sqrt:    r * r is exact in binary64; exact iff r*r == x.
Every other lane (zero, subnormal, infinite, NaN results) is recomputed by the
reference routine, so the two paths agree bit for bit by construction; the tests
check it anyway on edge sets and random sweeps.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ._core import (INEXACT, add_s, compare_s, div_s, fma_s, from_f64_s, from_int_s,
                    minmax_s, mul_s, next_s, remainder_s, round_integral_s, sqrt_s,
                    to_f64_s, to_int_s)

MIN_NORMAL32 = np.float32(2.0 ** -126)
INF32 = np.float32(np.inf)
SLOW = np.uint8(255)


# ---------------------------------------------------------------- reference loops

@njit(cache=True, error_model='numpy')
def k_add(a, b, cfg, neg, out, fl):
    for i in range(a.size):
        r, f = add_s(np.int64(a[i]), np.int64(b[i]), cfg, neg)
        out[i] = r
        fl[i] = f


@njit(cache=True, error_model='numpy')
def k_mul(a, b, cfg, out, fl):
    for i in range(a.size):
        r, f = mul_s(np.int64(a[i]), np.int64(b[i]), cfg)
        out[i] = r
        fl[i] = f


@njit(cache=True, error_model='numpy')
def k_div(a, b, cfg, out, fl):
    for i in range(a.size):
        r, f = div_s(np.int64(a[i]), np.int64(b[i]), cfg)
        out[i] = r
        fl[i] = f


@njit(cache=True, error_model='numpy')
def k_sqrt(a, cfg, out, fl):
    for i in range(a.size):
        r, f = sqrt_s(np.int64(a[i]), cfg)
        out[i] = r
        fl[i] = f


@njit(cache=True, error_model='numpy')
def k_fma(a, b, c, cfg, out, fl):
    for i in range(a.size):
        r, f = fma_s(np.int64(a[i]), np.int64(b[i]), np.int64(c[i]), cfg)
        out[i] = r
        fl[i] = f


@njit(cache=True, error_model='numpy')
def k_remainder(a, b, cfg, out, fl):
    for i in range(a.size):
        r, f = remainder_s(np.int64(a[i]), np.int64(b[i]), cfg)
        out[i] = r
        fl[i] = f


@njit(cache=True, error_model='numpy')
def k_minmax(a, b, cfg, want_max, number, out, fl):
    for i in range(a.size):
        r, f = minmax_s(np.int64(a[i]), np.int64(b[i]), cfg, want_max, number)
        out[i] = r
        fl[i] = f


@njit(cache=True, error_model='numpy')
def k_compare(a, b, cfg, signaling, out, fl):
    for i in range(a.size):
        r, f = compare_s(np.int64(a[i]), np.int64(b[i]), cfg, signaling)
        out[i] = r
        fl[i] = f


@njit(cache=True, error_model='numpy')
def k_next(a, cfg, up, out, fl):
    for i in range(a.size):
        r, f = next_s(np.int64(a[i]), cfg, up)
        out[i] = r
        fl[i] = f


@njit(cache=True, error_model='numpy')
def k_round_integral(a, cfg, mode, exact, out, fl):
    for i in range(a.size):
        r, f = round_integral_s(np.int64(a[i]), cfg, mode, exact)
        out[i] = r
        fl[i] = f


@njit(cache=True, error_model='numpy')
def k_to_int(a, cfg, mode, width, exact, out, fl):
    for i in range(a.size):
        r, f = to_int_s(np.int64(a[i]), cfg, mode, width, exact)
        out[i] = r
        fl[i] = f


@njit(cache=True, error_model='numpy')
def k_from_f64(v, cfg, out, fl):
    """v: binary64 encodings as int64."""
    for i in range(v.size):
        r, f = from_f64_s(v[i], cfg)
        out[i] = r
        fl[i] = f


@njit(cache=True, error_model='numpy')
def k_to_f64(a, cfg, out, fl):
    for i in range(a.size):
        r, f = to_f64_s(np.int64(a[i]), cfg)
        out[i] = r
        fl[i] = f


@njit(cache=True, error_model='numpy')
def k_from_int(v, cfg, out, fl):
    for i in range(v.size):
        r, f = from_int_s(v[i], cfg)
        out[i] = r
        fl[i] = f


# ---------------------------------------------------------------- fast RNE binary32

@njit(cache=True, error_model='numpy')
def _fast_add_loop(xf, yf, neg, of, fl):
    sgn = -1.0 if neg else 1.0
    for i in range(xf.size):
        x = np.float64(xf[i])
        y = np.float64(yf[i]) * sgn
        d = x + y
        bb = d - x
        err = (x - (d - bb)) + (y - bb)  # TwoSum: exact error of d
        r = np.float32(d)
        of[i] = r
        ar = abs(r)
        ok = (ar > MIN_NORMAL32) and (ar < INF32)
        exact = (err == 0.0) and (np.float64(r) == d)
        fl[i] = (0 if exact else INEXACT) if ok else SLOW


@njit(cache=True, error_model='numpy')
def _fast_mul_loop(xf, yf, of, fl):
    for i in range(xf.size):
        d = np.float64(xf[i]) * np.float64(yf[i])
        r = np.float32(d)
        of[i] = r
        ar = abs(r)
        ok = (ar > MIN_NORMAL32) and (ar < INF32)
        fl[i] = (0 if np.float64(r) == d else INEXACT) if ok else SLOW


@njit(cache=True, error_model='numpy')
def _fast_div_loop(xf, yf, of, fl):
    for i in range(xf.size):
        x = np.float64(xf[i])
        y = np.float64(yf[i])
        r = np.float32(x / y)
        of[i] = r
        ar = abs(r)
        ok = (ar > MIN_NORMAL32) and (ar < INF32)
        fl[i] = (0 if np.float64(r) * y == x else INEXACT) if ok else SLOW


@njit(cache=True, error_model='numpy')
def _fast_sqrt_loop(xf, of, fl):
    for i in range(xf.size):
        x = np.float64(xf[i])
        r = np.float32(np.sqrt(x))
        of[i] = r
        ar = abs(r)
        ok = (ar > MIN_NORMAL32) and (ar < INF32)
        r64 = np.float64(r)
        fl[i] = (0 if r64 * r64 == x else INEXACT) if ok else SLOW


@njit(cache=True, error_model='numpy')
def _fixup2(op, a, b, cfg, out, fl):
    for i in range(a.size):
        if fl[i] == 255:
            if op == 0:
                r, f = add_s(np.int64(a[i]), np.int64(b[i]), cfg, 0)
            elif op == 1:
                r, f = add_s(np.int64(a[i]), np.int64(b[i]), cfg, 1)
            elif op == 2:
                r, f = mul_s(np.int64(a[i]), np.int64(b[i]), cfg)
            elif op == 3:
                r, f = div_s(np.int64(a[i]), np.int64(b[i]), cfg)
            else:
                r, f = sqrt_s(np.int64(a[i]), cfg)
            out[i] = r
            fl[i] = f


def fast_binary32(op, a, b, cfg):
    """op: 'add', 'sub', 'mul', 'div', 'sqrt'; a, b contiguous uint32 (b None for sqrt)."""
    out = np.empty(a.shape, np.uint32)
    fl = np.empty(a.shape, np.uint8)
    of = out.view(np.float32)
    af = a.view(np.float32)
    if op == "sqrt":
        _fast_sqrt_loop(af, of, fl)
        b = a
        code = 4
    else:
        bf = b.view(np.float32)
        if op in ("add", "sub"):
            _fast_add_loop(af, bf, op == "sub", of, fl)
            code = 0 if op == "add" else 1
        elif op == "mul":
            _fast_mul_loop(af, bf, of, fl)
            code = 2
        else:
            _fast_div_loop(af, bf, of, fl)
            code = 3
    _fixup2(code, a, b, cfg, out, fl)
    return out, fl
