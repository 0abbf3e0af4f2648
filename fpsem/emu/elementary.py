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

   For binary32 the fast path runs as two passes (see "binary32 fast lanes"
   below): a straight-line loop over all lanes that decides almost all of them
   and marks the rest, then the scalar elem_s on the marked lanes. For exp,
   log, tanh, erf, sin and cos that loop evaluates its own polynomials (no libm
   call, so it vectorizes) whose relative error is proven below 2**-45 (sin/cos:
   plus a per-lane term for the argument reduction; the enclosure then uses
   2**-42); the decision in every rounding mode needs only the two hardware
   round-to-nearest conversions of the enclosure's ends (_decide). exp2,
   sigmoid and rsqrt keep the libm value in that loop.

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

from ..fpenv import host_independent

from ._kernels import bits_f64, f32_bits, f64_bits
from .flags import Flags
from ._core import (cfg_daz, cfg_ebits, cfg_mode, cfg_p, INEXACT, INF, INVALID, DIVZERO, QNAN, ZERO, default_nan, inf_bits,
                    norm_pack, overflow, pack_zero, propagate1, unpack)

FUNCTIONS = {"exp": 0, "exp2": 1, "log": 2, "tanh": 3, "erf": 4, "sin": 5, "cos": 6,
             "sigmoid": 7, "rsqrt": 8}
EPS = 2.0 ** -45
_INF32 = np.float32(np.inf)
_MIN_NORMAL32 = np.float32(2.0 ** -126)
_FLT_MAX32 = np.float32(3.4028234663852886e38)


@njit(nogil=True, cache=True, error_model='numpy')
def _f64_round(y, cfg):
    """Round a finite nonzero binary64 value y (normal) with round_pack."""
    s = 1 if y < 0 else 0
    mt, ex = math.frexp(abs(y))
    M = np.int64(mt * 9007199254740992.0)  # 2**53: exact
    return norm_pack(s, M, ex - 53, cfg)


@njit(nogil=True, cache=True, error_model='numpy')
def _perturbed(base, direction, cfg):
    """Round base + direction * tiny (0 < tiny < half an ulp of base; base a
    finite encoding, possibly zero)."""
    P = cfg_p(cfg)
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


@njit(nogil=True, cache=True, error_model='numpy', forceinline=True)
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


@njit(nogil=True, cache=True, error_model='numpy')
def elem_s(fn, b, cfg):
    """(bits, flags, hard): hard=1 means the rigorous path must decide."""
    P = cfg_p(cfg)
    EB = cfg_ebits(cfg)
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


# -- binary32 fast lanes ------------------------------------------------------
#
# Pass 1 (one straight loop per function and mode, no calls for exp, log, tanh,
# erf, sin, cos, so it vectorizes) computes an approximation y of f(x) in binary64 and its
# enclosure [y - |y| eps, y + |y| eps], and writes every lane whose enclosure
# decides the binary32 result (flags: inexact only); the other lanes get the
# sentinel flag byte _UNDECIDED. Pass 2 runs elem_s on the sentinel lanes only.
#
# exp, log, tanh, erf, sin, cos use the polynomial evaluations below, whose
# relative error is PROVEN below 2**-45 (see each function; sin/cos add a per-lane
# term for the argument reduction) for the inputs their lane admits; the
# enclosure uses EPS_POLY = 2**-42 (8x margin, which also covers the roundings of
# y -+ |y| eps themselves: |y| eps is exact, y -+ |y| eps is off by at most 2**-53 |y|).
# Undecided lanes (about 2 * 2**-42 / 2**-24 = 2**-17 of random inputs) fall back to
# elem_s (libm, 2**-45) and then to MPFR, so the looser eps costs nothing measurable.
# The other functions keep the libm value with EPS = 2**-45 (the assumption above).

EPS_POLY = 2.0 ** -42
_UNDECIDED = 255
_MAGIC = 6755399441055744.0  # 1.5 * 2**52: x + _MAGIC - _MAGIC = rint(x) for |x| < 2**51
_INVLN2 = float.fromhex("0x1.71547652b82fep+0")
_LN2 = float.fromhex("0x1.62e42fefa39efp-1")       # RN53(ln 2), relative error < 2**-54
_LN2_HI = float.fromhex("0x1.62e42ffp-1")          # 29 significant bits (multiple of 2**-29)
_LN2_LO = float.fromhex("-0x1.718432a1b0e26p-35")  # RN53(ln 2 - _LN2_HI): |error| < 2**-88
_SQRT_HALF_BITS = 0x3FE6A09E667F3BCD               # RN53(sqrt(1/2))
# Taylor coefficients 1/n!, each the correctly rounded quotient (n! is exact in binary64)
_E = [1.0 / math.factorial(n) for n in range(13)]
_E2, _E3, _E4, _E5, _E6, _E7, _E8, _E9, _E10, _E11, _E12 = _E[2:]
# atanh series coefficients 1/(2j+1), correctly rounded
_L1, _L2, _L3, _L4, _L5, _L6, _L7, _L8 = [1.0 / (2 * j + 1) for j in range(1, 9)]


@njit(nogil=True, cache=True, error_model='numpy', forceinline=True)
def _reduce_ln2(x):
    """(k, r, 2**k) with k = rint(x / ln 2) and r = x - k ln 2 up to 2**-54 absolute,
    for a binary32 value x with |x| < 128 (exact in binary64).

    k comes from the binary64 product x * _INVLN2 (relative error < 2**-52, so
    |x / ln 2 - k| <= 1/2 + 2**-44 and |r| < 0.3466 + 2**-44 < 0.35). k ln 2 is split
    as k _LN2_HI + k _LN2_LO: k _LN2_HI is exact (|k| <= 185, 8 + 29 bits), and
    x - k _LN2_HI is exact (k != 0 needs |x| > 0.34, so x is a multiple of 2**-25;
    both are multiples of 2**-29 below 2**8 in magnitude, so the difference fits 37
    bits; k = 0 gives x itself). The last two operations add at most
    2**-53 * 0.35 + 2**-53 * 185 * 2**-34 and the split misses |k| 2**-88: under 2**-54 in all."""
    t = x * _INVLN2 + _MAGIC
    kf = t - _MAGIC
    k = np.int64(kf)
    r = (x - kf * _LN2_HI) - kf * _LN2_LO
    scale = bits_f64((k + 1023) << 52)  # 2**k, exact (|k| <= 185: binary64 normal)
    return k, r, scale


@njit(nogil=True, cache=True, error_model='numpy', forceinline=True)
def _expm1_q(r):
    """Horner value of Q(r) = 1 + r/2! + ... + r**11/12!, the degree-11 Taylor
    polynomial of (e**r - 1)/r (coefficients _E2.._E12): e**r ~ 1 + r Q(r) for
    _poly_exp, expm1(r) ~ r Q(r) for _poly_tanh (their docstrings bound it)."""
    q = _E12
    q = q * r + _E11
    q = q * r + _E10
    q = q * r + _E9
    q = q * r + _E8
    q = q * r + _E7
    q = q * r + _E6
    q = q * r + _E5
    q = q * r + _E4
    q = q * r + _E3
    q = q * r + _E2
    return q * r + 1.0


@njit(nogil=True, cache=True, error_model='numpy', forceinline=True)
def _poly_exp(x):
    """exp(x) for binary32 x with |x| < 104 (others: any finite value comes back).

    Error (relative, e**r >= e**-0.35): the degree-12 Taylor polynomial misses at
    most 0.35**13/13! e**0.35 / e**-0.35 < 2**-51; Horner in binary64 (positive
    coefficients, 24 roundings) adds at most gamma_24 e**0.35 / e**-0.35 <= 24.1
    2**-53 * 2.02 < 2**-47.3; coefficient roundings 2**-53 * 2.02 < 2**-51.9; the
    error of r (< 2**-54 absolute) moves e**r by < 2**-53.9 relatively; scaling by
    2**k is exact. Total < 2**-47 (proven bound used: 2**-45)."""
    k, r, scale = _reduce_ln2(x)
    return (_expm1_q(r) * r + 1.0) * scale


@njit(nogil=True, cache=True, error_model='numpy', forceinline=True)
def _poly_tanh(x):
    """tanh(x) for binary32 x with 0 < |x| < 10, as sign(x) em / (em + 2) with
    em = expm1(2|x|) in [0, e**20).

    expm1: z = 2|x| (exact), z = k ln 2 + r as in _reduce_ln2 (k in [0, 29]),
    p = r Q(r) ~ expm1(r) with Q the degree-11 Taylor polynomial of (e**r - 1)/r.
    Relative error of p (u = 2**-53): truncation <= 0.35**12/13! e**0.35 / 0.85
    < 8u ((e**r - 1)/r >= 0.85 on |r| <= 0.35); Horner (degree 11: gamma_22,
    positive coefficients, Q(|r|)/Q(r) <= 1.19/0.85 = 1.4) < 30.8u; coefficient
    roundings 1.4u; the product r Q one more u: eps_p < 42u < 2**-47.6 (k = 0:
    r = z exactly). k = 0: em = p. k >= 1: em = 2**k p + (2**k - 1) (2**k p and
    2**k - 1 exact, the sum rounded once); the absolute error 2**k |p| eps_p is at
    most 2.03 eps_p |em| (worst at k = 1: 2 * 0.419 / 0.414); the error of r
    (< 2**-54 absolute) changes em = 2**k e**r - 1 by 2**k e**r 2**-54 <= 3.5 * 2**-54 |em|
    (2**k e**r >= 2 e**-0.35 = 1.409); so eps_em < 2.03 * 42u + u + 1.75u < 2**-46.6.
    tanh = em / (em + 2): d(tanh)/tanh = (d em / em) 2 / (em + 2), a factor <= 1,
    plus two roundings (2u). Total < 2**-46.5 (proven bound used: 2**-45)."""
    z = 2.0 * abs(x)
    k, r, scale = _reduce_ln2(z)
    p = r * _expm1_q(r)
    em = scale * p + (scale - 1.0)  # k = 0: exactly p
    t = em / (em + 2.0)
    return -t if x < 0 else t


@njit(nogil=True, cache=True, error_model='numpy', forceinline=True)
def _poly_log(x):
    """log(x) for a positive finite binary32 x (any, subnormals included: x is a
    normal binary64) other than 1.

    x = 2**k m with m in [RN53(sqrt 1/2), 2 RN53(sqrt 1/2)) by integer operations on
    the encoding (exact); f = m - 1 is exact (Sterbenz: 1/2 <= m <= 2); s =
    f / (2 + f) with |s| <= 0.17158 and relative error < 2**-51.4 (two roundings);
    log m = 2 atanh(s) = 2 s P(s**2), P(w) = sum_j w**j / (2j + 1), truncated after
    j = 8: the tail is < w**9 / 19 / (1 - w) < 2**-49.9 (w = s**2 <= 0.02944).
    Horner (16 roundings, positive terms, P >= 1) gamma_16 < 2**-48.9, coefficient
    roundings 2**-53, the error of w (< 2**-50) moves P by < 0.011 of it; the product
    2 s P one more rounding: eps_L < 2**-48 for L = log m (|L| <= 0.34658).
    y = k RN53(ln 2) + L: k = 0 gives L (one exact addition). k != 0: |k ln 2| >=
    0.693, so |y| >= 0.34657 >= |L| (1 - 2**-40) and |k ln 2| <= 2 |y|; the product
    k RN53(ln 2) is off by 2 * 2**-53 of |k ln 2|, the sum rounds once: relative error
    < 2**-53 + 4 * 2**-53 + 2**-48 (1 + 2**-40) < 2**-47.5 (proven bound used: 2**-45)."""
    b = f64_bits(x)
    k = (b - _SQRT_HALF_BITS) >> 52
    m = bits_f64(b - (k << 52))
    f = m - 1.0
    s = f / (2.0 + f)
    w = s * s
    q = _L8
    q = q * w + _L7
    q = q * w + _L6
    q = q * w + _L5
    q = q * w + _L4
    q = q * w + _L3
    q = q * w + _L2
    q = q * w + _L1
    q = q * w + 1.0
    L = (2.0 * s) * q
    return np.float64(k) * _LN2 + L


_TWO_OVER_PI = float.fromhex("0x1.45f306dc9c883p-1")
_PIO2_1 = float.fromhex("0x1.921fb544p+0")      # pi/2 to 31 bits (a multiple of 2**-32)
_PIO2_2 = float.fromhex("0x1.0b4611a6p-34")     # the next 33 bits (a multiple of 2**-66)
_PIO2_3 = float.fromhex("0x1.3198a2e037073p-69")  # RN53(pi/2 - _PIO2_1 - _PIO2_2): miss < 2**-122.8
# sin r / r and cos r Taylor coefficients (-1)**i / (2i+1)! and (-1)**i / (2i)!, correctly rounded
_S1, _S2, _S3, _S4, _S5, _S6, _S7 = [(-1.0) ** i / math.factorial(2 * i + 1) for i in range(1, 8)]
_C1, _C2, _C3, _C4, _C5, _C6, _C7, _C8 = [(-1.0) ** i / math.factorial(2 * i) for i in range(1, 9)]


@njit(nogil=True, cache=True, error_model='numpy', forceinline=True)
def _poly_sincos(x, cosine):
    """(y, eps): sin(x) (cos(x) when cosine) for binary32 x with |x| < 2**16, with
    a per-lane proven relative error bound eps (u = 2**-53).

    Reduction: k = rint(x 2/pi) (|k| < 41725; the binary64 product is off by
    < 2**-36, so |r| < pi/4 + 2**-35 < 0.786), r = x - k pi/2 by three pieces:
    k _PIO2_1 and k _PIO2_2 are exact (<= 16 + 33 bits); x - k _PIO2_1 is exact
    (k != 0 needs |x| > 0.78, so x is a multiple of 2**-24; both are multiples of
    2**-32 below 2**17); the next two subtractions round (u |r| each, plus u 2**-53.4
    since |k _PIO2_3| < 2**-53.4), k _PIO2_3 rounds (< 2**-106.4) and the split
    misses |k| 2**-122.8 < 2**-107.4. So |r~ - r| <= 2u |r~| + 2**-104.5.
    sin r = r S(r**2) with S the Taylor polynomial of degree 7 in w = r**2
    (alternating: truncation < 0.786**16/17! / 0.9005 < 0.6u relative, sin r / r
    >= 0.9005), Horner gamma_14 sinh(.786)/.786 / 0.9005 < 17.3u, coefficients
    1.3u, w's rounding moves S by < 0.2u, the product u: < 21u.
    cos r = C(r**2), degree 8: truncation < 0.786**18/18! / cos(.786) < 2**-58,
    Horner gamma_16 cosh(.786)/cos(.786) < 30.1u, coefficients 1.9u, w's rounding
    |r tan(r)/2| u < 0.4u: < 33u.
    The error of r~ moves sin r by |r cot r| <= 1 and cos r by |r tan r| < 0.79
    times its relative size, so the relative error of y is below
    35u + 2u + 2**-104.5 / |r~| < 2**-45 + 2**-101 / |r~|. eps = EPS_POLY + 2**-98 / |r~|
    (8x margin on both parts; r~ = 0 gives an infinite eps: undecided)."""
    t = x * _TWO_OVER_PI + _MAGIC
    kf = t - _MAGIC
    k = np.int64(kf)
    r = ((x - kf * _PIO2_1) - kf * _PIO2_2) - kf * _PIO2_3
    w = r * r
    sp = _S7
    sp = sp * w + _S6
    sp = sp * w + _S5
    sp = sp * w + _S4
    sp = sp * w + _S3
    sp = sp * w + _S2
    sp = sp * w + _S1
    sp = sp * w + 1.0
    sn = r * sp
    cp = _C8
    cp = cp * w + _C7
    cp = cp * w + _C6
    cp = cp * w + _C5
    cp = cp * w + _C4
    cp = cp * w + _C3
    cp = cp * w + _C2
    cp = cp * w + _C1
    cp = cp * w + 1.0
    q = (k + np.int64(cosine)) & 3  # x = k pi/2 + r; cos x = sin(x + pi/2)
    v = cp if (q & 1) == 1 else sn
    y = -v if (q & 2) == 2 else v
    return y, EPS_POLY + 2.0 ** -98 / abs(r)


def _erf_tables():
    """Coefficients for _poly_erf, computed once with MPFR at 256 bits and rounded
    to binary64 (each within 2**-53 relative, plus 2**-250).
    _ERF0[n] = (2/sqrt(pi)) (-1)**n / (n! (2n+1)), n = 0..13 (erf(x) = x sum _ERF0[n] x**2n);
    _ERF_TAB[j, n] = erf^(n)(c_j) / n!, c_j = 3/4 + (2j+1)/16, j = 0..25, n = 0..10,
    from erf^(n)(c) = (2/sqrt(pi)) (-1)**(n-1) H_{n-1}(c) e**(-c**2) (n >= 1; H the
    physicists' Hermite polynomials, exact rationals at c)."""
    import gmpy2
    from fractions import Fraction
    with gmpy2.context(precision=256):
        k = 2 / gmpy2.sqrt(gmpy2.const_pi())
        e0 = [float(k * (-1) ** n / (math.factorial(n) * (2 * n + 1))) for n in range(14)]
        tab = np.empty((26, 11))
        for j in range(26):
            c = Fraction(3, 4) + Fraction(2 * j + 1, 16)
            cm = gmpy2.mpfr(c.numerator) / c.denominator  # exact (dyadic)
            g = k * gmpy2.exp(-cm * cm)
            H = [Fraction(1), 2 * c]
            for m in range(1, 10):
                H.append(2 * c * H[m] - 2 * m * H[m - 1])
            tab[j, 0] = float(gmpy2.erf(cm))
            for n in range(1, 11):
                h = H[n - 1]
                tab[j, n] = float(g * (-1) ** (n - 1) * gmpy2.mpq(h.numerator, h.denominator)
                                  / math.factorial(n))
    return np.array(e0), tab


_ERF0, _ERF_TAB = _erf_tables()


@njit(nogil=True, cache=True, error_model='numpy', forceinline=True)
def _poly_erf(x):
    """erf(x) for binary32 x with 0 < |x| < 4 (u = 2**-53).

    |x| < 3/4: x S(x**2), S the Taylor series of erf(x)/x to degree 13 in w = x**2
    (alternating, terms decreasing: the truncation is below the first omitted term,
    < 1.5e-16 S(w) < 2**-52.5 S(w), as S(w) >= erf(.75)/.75 > 0.948). Horner gamma_26
    times sum |a_n| w**n / S(w) = erfi(x)/erf(x) <= 1.457: < 37.9u; coefficients
    1.46u; the rounding of w moves S by |w S'(w)/S(w)| u < 0.2u; the product x S: u.
    Total < 42u.
    3/4 <= |x| < 4: the Taylor polynomial of degree 10 of erf at the centre c_j of
    the interval [3/4 + j/8, 3/4 + (j+1)/8) holding |x| (j = floor(8 (|x| - 3/4)),
    exact operations); h = |x| - c_j is exact (|x| a multiple of 2**-24, c_j of
    2**-4, |h| <= 1/16). Truncation: with |H_n(t)| <= 1.0865 sqrt(2**n n!) e**(t**2/2)
    (Cramer's inequality, A&S 22.14.17), |erf^(11)| <= (2/sqrt(pi)) 1.0865
    sqrt(2**10 10!) and the remainder is < 1.23 * 60959 / 11! * 16**-11 < 1.1e-16,
    < 2**-52.6 relative to erf >= erf(3/4) > 0.711. Horner gamma_20 times
    sum |a_n| |h|**n / erf(x) <= 1.108 (checked over the 26 rows against erf at each
    interval's left end): < 22.2u; coefficients 1.11u. Total < 24u.
    Both < 2**-47.5 (proven bound used: 2**-45)."""
    ax = abs(x)
    w = ax * ax
    q = _ERF0[13]
    for n in range(12, -1, -1):
        q = q * w + _ERF0[n]
    small = ax * q
    j = np.int64((ax - 0.75) * 8.0)
    j = min(max(j, 0), 25)
    h = ax - (0.75 + (2 * j + 1) * 0.0625)
    p = _ERF_TAB[j, 10]
    for n in range(9, -1, -1):
        p = p * h + _ERF_TAB[j, n]
    v = small if ax < 0.75 else p
    return -v if x < 0 else v


@njit(nogil=True, cache=True, error_model='numpy', inline='always')
def _decide(y, eps, mode):
    """(ok, bits) for a real v known to lie in [lo, hi] = [y - |y| eps, y + |y| eps]
    (computed in binary64; the caller's eps covers those two roundings) and known
    not to be a binary32 value. ok: every value in [lo, hi] rounds in `mode` to the
    one normal finite binary32 `bits` with only the inexact flag.

    f1 = RN24(lo), f2 = RN24(hi) by the hardware conversion. f1 == f2 =: f means
    [lo, hi] lies in the rounding cell of f (RN is monotone), between the two
    midpoints next to f. We require |f| strictly inside (2**-126, FLT_MAX): then
    every v in the cell has 2**-126 < |v| < FLT_MAX (the cell of a binary32 above
    2**-126 lies above 2**-126, that of one below FLT_MAX below FLT_MAX): never
    tiny under either rule (FTZ inert), never overflowing, and the results below
    (f or its neighbour towards zero or away from zero) are normal and finite.
    rne: the result is f. rna: the same unless [lo, hi] holds a midpoint, and the
    only midpoints in the closed cell are its ends, so it suffices that neither lo
    nor hi is one (a binary64 value in the binary32 normal range is a midpoint iff
    its low 29 significand bits are exactly 1 << 28). Directed modes: if moreover
    f is not in [lo, hi], the interval holds no binary32 value (f is the only one
    in the cell) and lies on one side of f: A = (|v| > |f| for all v), B = (|v| < |f|);
    then RZ = A ? f : f - 1 ulp in magnitude; RU = f + (A and f > 0) - (B and f < 0)
    in magnitude steps; RD symmetrically. Magnitude steps are +-1 on the encoding
    (sign-magnitude; no carry or borrow out of the magnitude in this range)."""
    d = abs(y) * eps
    lo = y - d
    hi = y + d
    f1 = np.float32(lo)
    f2 = np.float32(hi)
    a1 = abs(f1)
    ok = (f1 == f2) & (a1 > _MIN_NORMAL32) & (a1 < _FLT_MAX32)
    b = np.int64(f32_bits(f1))
    if mode == 0:
        return ok, b
    if mode == 4:
        lb = f64_bits(lo) & 0x1FFFFFFF
        hb = f64_bits(hi) & 0x1FFFFFFF
        return ok & (lb != 0x10000000) & (hb != 0x10000000), b
    af = np.float64(a1)
    alo = abs(lo)
    ahi = abs(hi)
    A = (alo > af) & (ahi > af)
    Bm = (alo < af) & (ahi < af)
    ok = ok & (A | Bm)
    neg = np.int64(f1 < 0)
    Ai = np.int64(A)
    if mode == 1:  # rtz
        return ok, b - (1 - Ai)
    if mode == 2:  # rup
        return ok, b + Ai * (1 - neg) - (1 - Ai) * neg
    return ok, b - (1 - Ai) * (1 - neg) + Ai * neg  # rdn


@njit(nogil=True, cache=True, error_model='numpy', boundscheck=False, inline='always')
def _pass1(fn, mode, daz, af, out, fl):
    """The fast pass over binary32 inputs af; see above. Branch-free per lane."""
    for i in range(af.size):
        xf = af[i]
        ax = abs(xf)
        ok = (ax > 0) & (ax < _INF32)
        if daz:
            ok = ok & (ax >= _MIN_NORMAL32)
        x = np.float64(xf)
        if fn == 0:
            ok = ok & (ax < np.float32(104.0))
            y = _poly_exp(x if ok else 0.5)
            eps = EPS_POLY
        elif fn == 2:
            ok = ok & (xf > 0) & (xf != np.float32(1.0))
            y = _poly_log(x if ok else 0.5)
            eps = EPS_POLY
        elif fn == 3:
            ok = ok & (ax < np.float32(10.0))
            y = _poly_tanh(x if ok else 0.5)
            eps = EPS_POLY
        elif fn == 4:
            ok = ok & (ax < np.float32(4.0))
            y = _poly_erf(x if ok else 0.5)
            eps = EPS_POLY
        elif fn == 5 or fn == 6:
            ok = ok & (ax < np.float32(65536.0))
            y, eps = _poly_sincos(x if ok else 0.5, fn == 6)
        else:
            if fn == 1:  # exp2 of an integer is exact
                ok = ok & (x != math.floor(x))
            elif fn == 8:  # rsqrt: exact only for powers of 2 (some): leave all of them to elem_s
                T = f32_bits(xf) & 0x7FFFFF
                ok = ok & (T & (T - 1) != 0) & (T != 0)
            y = _libm(fn, x)
            eps = EPS
        ok2, r = _decide(y, eps, mode)
        ok = ok & ok2
        out[i] = np.uint32(r & 0xFFFFFFFF)
        fl[i] = np.uint8(INEXACT) if ok else np.uint8(_UNDECIDED)


def _make_pass1(fn, mode):
    # one compiled loop per (function, mode), compiled on first use, with both
    # codes constant (several loops in one function measured slower: the
    # optimizer then did not treat every copy alike)
    @njit(nogil=True, cache=True, error_model='numpy', boundscheck=False)
    def p1(daz, af, out, fl):
        _pass1(fn, mode, daz, af, out, fl)
    return p1


@njit(nogil=True, cache=True, error_model='numpy', boundscheck=False)
def _pass2(fn, a, cfg, out, fl, hard):
    """elem_s on the lanes pass 1 left undecided (all lanes when it did not run)."""
    nh = 0
    for i in range(a.size):
        if fl[i] == _UNDECIDED:
            r, f, h = elem_s(fn, np.int64(a[i]), cfg)
            out[i] = r
            fl[i] = f
            if h:
                hard[nh] = i
                nh += 1
    return nh
_PASS1 = [[_make_pass1(fn, mode) for mode in range(5)] for fn in range(len(FUNCTIONS))]


def k_elem(fn, a, cfg, out, fl, hard):
    """Evaluate function code fn on the encodings a (uint32 view for binary32);
    fills out/fl and returns the number nh of lanes whose indices hard[:nh] the
    rigorous path must decide. The fast lanes apply to binary32 (cfg P = 24,
    EB = 8) in every mode."""
    if cfg_p(cfg) == 24 and cfg_ebits(cfg) == 8:
        mode = cfg_mode(cfg)
        daz = cfg_daz(cfg) == 1
        _PASS1[fn][mode](daz, a.view(np.float32), out, fl)
    else:
        fl.fill(_UNDECIDED)
    return _pass2(fn, a, cfg, out, fl, hard)


@host_independent
def evaluate(E, name, a, rounding="rne", ftz=False, daz=False, tininess="after", nan="x86"):
    """E: a FloatEmu. Returns (encodings, Flags)."""
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
