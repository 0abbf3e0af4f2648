"""Correctly rounded elementary functions in every rounding mode, vectorized.

Correctly rounded means: the exact real value f(x) rounded once in the requested
mode, with the flags that rounding raises (inexact, underflow per the tininess
rule, overflow), and FTZ/DAZ/NaN presets as for the arithmetic operations.

Functions: exp, exp2, log, tanh, erf, sin, cos, sigmoid (1/(1+e^-x)), rsqrt.

How (Ziv's strategy, two steps):

1. Fast path (numba). x is a binary32 (or narrower) value, exact in binary64. The
   platform libm evaluates y = f(x) in binary64 (glibc documents at most a few
   binary64 ulps for these functions; rsqrt is 1/sqrt with two IEEE operations,
   at most 1.5 ulp). We assume a relative error below 2**-47 (64 binary64 ulps,
   a margin of more than 10x over the documented bounds) and form the interval
   [y - |y| 2**-45, y + |y| 2**-45], which encloses f(x) with room for the
   roundings of that interval arithmetic itself. If both ends round to the same
   encoding with the same flags, that is the correctly rounded result (rounding is
   monotone and tininess is monotone in |value|). Otherwise the case is hard.

2. Rigorous path: the hard cases (about 2**-20 of random inputs) go to MPFR with
   a Ziv loop (fpsem.emu.oracle.elementary_oracle): evaluate at 128, 256, ...
   bits with MPFR's correct rounding and stop when the enclosing interval rounds
   unambiguously. This terminates because f(x) is never exactly a rounding
   boundary outside the exact cases handled explicitly:
   exp(0) = 1, exp2(integer), log(1) = 0, tanh/erf/sin(0) = 0, cos(0) = 1,
   sigmoid(0) = 1/2, rsqrt(4**k) (Lindemann-Weierstrass: e**x, log x, sin x, ...
   are transcendental for algebraic x != 0 (resp. != 1); 2**x is irrational for
   non-integer rational x; 1/sqrt(x) is either dyadic (x = 4**k) or not dyadic).

Regions where f(x) is closer to a binary32 value than binary64 can resolve are
handled analytically, as "base value plus a perturbation of known sign and of
magnitude below half an ulp" (then the rounding is determined by the sign alone):
|x| < 2**-26: exp(x), exp2(x) = 1 +- tiny; |x| < 2**-12: tanh(x), sin(x) = x -+ tiny
(|f(x)/x - 1| <= x**2/3 < 2**-25), cos(x) = 1 - tiny (x**2/2 < 2**-25);
|x| >= 10: tanh = +-(1 - tiny) (2e**-20 < 2**-27); |x| >= 4: erf = +-(1 - tiny)
(erfc(4) < 1.6e-8 < 2**-25); |x| < 2**-24: sigmoid = 1/2 +- tiny (|x|/4 < 2**-26);
x >= 18: sigmoid = 1 - tiny (e**-18 < 2**-25); results below the binary64 range:
+tiny; above it: overflow.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._kernels import f32_bits, round_d_t
from ._core import (INEXACT, INF, INVALID, DIVZERO, QNAN, ZERO, default_nan, inf_bits,
                    norm_pack, overflow, pack_zero, propagate1, unpack)

FUNCTIONS = {"exp": 0, "exp2": 1, "log": 2, "tanh": 3, "erf": 4, "sin": 5, "cos": 6,
             "sigmoid": 7, "rsqrt": 8}
EPS = 2.0 ** -45
_INF32 = np.float32(np.inf)
_MIN_NORMAL32 = np.float32(2.0 ** -126)
_FLT_MAX32 = np.float32(3.4028234663852886e38)


@njit(cache=True, error_model='numpy')
def _f64_round(y, cfg):
    """Round a finite nonzero binary64 value y (normal) with round_pack."""
    s = 1 if y < 0 else 0
    mt, ex = math.frexp(abs(y))
    M = np.int64(mt * 9007199254740992.0)  # 2**53: exact
    return norm_pack(s, M, ex - 53, cfg)


@njit(cache=True, error_model='numpy')
def _perturbed(base, direction, cfg):
    """Round base + direction * tiny (0 < tiny < half an ulp of base; base a
    finite encoding, possibly zero)."""
    P = cfg & 31
    c, s, e, m = unpack(base, cfg)
    if c == ZERO:
        # a tiny value of sign `direction`, far below the smallest subnormal
        return norm_pack(1 if direction < 0 else 0, 1, -2000, cfg)
    S = m << 38
    # value magnitude |base| +- tiny: add when the perturbation points away from zero
    if (direction > 0) == (s == 0):
        S += 1
    else:
        S -= 1
    return norm_pack(s, S, e - (P - 1) - 38, cfg)


@njit(cache=True, error_model='numpy', inline='always')
def _libm(fn, x):
    if fn == 0:
        return math.exp(x)
    if fn == 1:
        return 2.0 ** x
    if fn == 2:
        return math.log(x)
    if fn == 3:
        return math.tanh(x)
    if fn == 4:
        return math.erf(x)
    if fn == 5:
        return math.sin(x)
    if fn == 6:
        return math.cos(x)
    if fn == 7:
        return 1.0 / (1.0 + math.exp(-x))
    return 1.0 / math.sqrt(x)


@njit(cache=True, error_model='numpy')
def elem_s(fn, b, cfg):
    """(bits, flags, hard): hard=1 means the rigorous path must decide."""
    P = cfg & 31
    EB = (cfg >> 5) & 31
    bias = (1 << (EB - 1)) - 1
    one = bias << (P - 1)
    half = (bias - 1) << (P - 1)
    c, s, e, m = unpack(b, cfg)
    if c >= QNAN:
        r, f = propagate1(b, c, cfg)
        return r, f, 0
    if c == INF:
        if fn == 0 or fn == 1:
            return (0 if s else inf_bits(cfg)), 0, 0
        if fn == 2:
            if s:
                return default_nan(cfg), INVALID, 0
            return inf_bits(cfg), 0, 0
        if fn == 3 or fn == 4:
            return one | pack_zero(s, cfg), 0, 0
        if fn == 5 or fn == 6:
            return default_nan(cfg), INVALID, 0
        if fn == 7:
            return (0 if s else one), 0, 0
        if s:
            return default_nan(cfg), INVALID, 0
        return 0, 0, 0
    if c == ZERO:
        if fn == 0 or fn == 1 or fn == 6:
            return one, 0, 0
        if fn == 2:
            return inf_bits(cfg) | pack_zero(1, cfg), DIVZERO, 0
        if fn == 8:
            return inf_bits(cfg) | pack_zero(s, cfg), DIVZERO, 0
        if fn == 7:
            return half, 0, 0
        return pack_zero(s, cfg), 0, 0
    ax = np.float64(m) * 2.0 ** (e - (P - 1))
    x = -ax if s else ax
    sg = -1 if s else 1
    if fn == 0 or fn == 1:
        if ax < 2.0 ** -26:
            r, f = _perturbed(one, sg, cfg)
            return r, f, 0
        if fn == 1 and x == math.floor(x):
            if x > 2000.0:
                r, f = overflow(0, cfg)
                return r, f, 0
            k = np.int64(x) if x > -2000.0 else -2000
            r, f = norm_pack(0, 1, k, cfg)
            return r, f, 0
        lim = 700.0 if fn == 0 else 1000.0
        if x > lim:
            r, f = overflow(0, cfg)
            return r, f, 0
        if x < -lim:
            r, f = _perturbed(0, 1, cfg)
            return r, f, 0
    elif fn == 2:
        if s:
            return default_nan(cfg), INVALID, 0
        if x == 1.0:
            return 0, 0, 0
    elif fn == 3:
        if ax < 2.0 ** -12:
            r, f = _perturbed(b, -sg, cfg)
            return r, f, 0
        if ax >= 10.0:
            r, f = _perturbed(one | pack_zero(s, cfg), -sg, cfg)
            return r, f, 0
    elif fn == 4:
        if ax >= 4.0:
            r, f = _perturbed(one | pack_zero(s, cfg), -sg, cfg)
            return r, f, 0
    elif fn == 5:
        if ax < 2.0 ** -12:
            r, f = _perturbed(b, -sg, cfg)
            return r, f, 0
    elif fn == 6:
        if ax < 2.0 ** -12:
            r, f = _perturbed(one, -1, cfg)
            return r, f, 0
    elif fn == 7:
        if ax < 2.0 ** -24:
            r, f = _perturbed(half, sg, cfg)
            return r, f, 0
        if x >= 18.0:
            r, f = _perturbed(one, -1, cfg)
            return r, f, 0
        if x < -700.0:
            r, f = _perturbed(0, 1, cfg)
            return r, f, 0
    else:
        if s:
            return default_nan(cfg), INVALID, 0
        if m == (1 << (P - 1)) and ((e & 1) == 0):
            r, f = norm_pack(0, 1, -(e // 2), cfg)
            return r, f, 0
    y = _libm(fn, x)
    d = abs(y) * EPS
    lo = y - d
    hi = y + d
    if not (abs(lo) > 2.0 ** -1000 and abs(hi) < 1e300):
        return 0, 0, 1
    r1, f1 = _f64_round(lo, cfg)
    r2, f2 = _f64_round(hi, cfg)
    if r1 == r2 and (f1 | INEXACT) == (f2 | INEXACT):
        return r1, f1 | INEXACT, 0
    return 0, 0, 1


@njit(cache=True, error_model='numpy', boundscheck=False, inline='always')
def _fast_elem_lane(fn, mode, daz, xf, xb):
    """binary32 fast lane: (decided, bits). Decided when x is finite, nonzero,
    not an exact case, and both ends of the libm enclosure (the same
    [y - |y| 2**-45, y + |y| 2**-45] as elem_s, under the same libm error
    assumption) round to one binary32 that is normal and finite; then that is
    the correctly rounded result and the only flag is inexact (f(x) is not a
    binary32 value outside the exact cases; |f(x)| above 2**-126 and below
    FLT_MAX: neither tiny under either rule, nor overflowing, FTZ inert).
    Everything else goes to elem_s."""
    ax = abs(xf)
    ok = (ax > 0) & (ax < _INF32)
    if daz:
        ok = ok & (ax >= _MIN_NORMAL32)
    x = np.float64(xf)
    if fn == 1:  # exp2 of an integer is exact
        ok = ok & (x != math.floor(x))
    elif fn == 8:  # rsqrt: exact only for powers of 2 (some): leave all of them to elem_s
        T = xb & 0x7FFFFF
        ok = ok & (T & (T - 1) != 0) & (T != 0)
    y = _libm(fn, x)
    d = abs(y) * EPS
    if mode == 0:  # rne: the hardware conversion rounds each end exactly
        f1 = np.float32(y - d)
        f2 = np.float32(y + d)
        a1 = abs(f1)
        ok = ok & (f1 == f2) & (a1 > _MIN_NORMAL32) & (a1 < _FLT_MAX32)
        return ok, np.int64(f32_bits(f1))
    ok1, r1, i1 = round_d_t(y - d, 0.0, mode)
    ok2, r2, i2 = round_d_t(y + d, 0.0, mode)
    return ok & ok1 & ok2 & (r1 == r2), r1


@njit(cache=True, error_model='numpy', boundscheck=False, inline='always')
def _k_elem_fn(fn, fast, mode, daz, a, af, cfg, out, fl, hard):
    nh = 0
    for i in range(a.size):
        if fast:
            ok, r1 = _fast_elem_lane(fn, mode, daz, af[i], np.int64(a[i]))
            if ok:
                out[i] = np.uint32(r1 & 0xFFFFFFFF)
                fl[i] = INEXACT
                continue
        r, f, h = elem_s(fn, np.int64(a[i]), cfg)
        out[i] = r
        fl[i] = f
        if h:
            hard[nh] = i
            nh += 1
    return nh


@njit(cache=True, error_model='numpy', boundscheck=False)
def k_elem(fn, a, cfg, out, fl, hard):
    """fn constant per loop copy so that the libm call is direct. The fast
    lanes apply to binary32 (cfg P = 24, EB = 8) in every mode."""
    fast = (cfg & 1023) == (24 | (8 << 5))
    mode = (cfg >> 10) & 7
    daz = ((cfg >> 14) & 1) == 1
    af = a.view(np.float32)
    if fn == 0:
        return _k_elem_fn(0, fast, mode, daz, a, af, cfg, out, fl, hard)
    if fn == 1:
        return _k_elem_fn(1, fast, mode, daz, a, af, cfg, out, fl, hard)
    if fn == 2:
        return _k_elem_fn(2, fast, mode, daz, a, af, cfg, out, fl, hard)
    if fn == 3:
        return _k_elem_fn(3, fast, mode, daz, a, af, cfg, out, fl, hard)
    if fn == 4:
        return _k_elem_fn(4, fast, mode, daz, a, af, cfg, out, fl, hard)
    if fn == 5:
        return _k_elem_fn(5, fast, mode, daz, a, af, cfg, out, fl, hard)
    if fn == 6:
        return _k_elem_fn(6, fast, mode, daz, a, af, cfg, out, fl, hard)
    if fn == 7:
        return _k_elem_fn(7, fast, mode, daz, a, af, cfg, out, fl, hard)
    return _k_elem_fn(8, fast, mode, daz, a, af, cfg, out, fl, hard)


def evaluate(E, name, a, rounding="rne", ftz=False, daz=False, tininess="after", nan="x86"):
    """E: a FloatEmu. Returns (encodings, Flags)."""
    from ._api import Flags
    from .oracle import elementary_oracle
    fn = FUNCTIONS[name]
    cfg = E.cfg(rounding, ftz, daz, tininess, nan)
    shape, (x,) = E._in(a)
    out = np.empty(x.size, np.uint32)
    fl = np.empty(x.size, np.uint8)
    hard = np.empty(x.size, np.int64)
    nh = k_elem(fn, x, cfg, out, fl, hard)
    for i in hard[:nh]:
        bits, f = elementary_oracle(name, int(x[i]), E.format, rounding, tininess, ftz, daz)
        out[i] = bits
        fl[i] = f
    return out.reshape(shape).astype(E.dtype, copy=False), Flags(fl.reshape(shape))
