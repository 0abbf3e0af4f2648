"""Independent scalar oracle for the emulator: gmpy2 (MPFR) and exact rationals.

Nothing here shares code with `_core`: values are decoded to Fractions, the
exact real result is computed with rationals (or MPFR at high precision for
sqrt and the elementary functions), and then rounded twice, independently:
by MPFR in a context with the format's precision, exponent range and
`subnormalize=True` (modes rne, rtz, rup, rdn), and by `fpsem.formats.round_fraction`
(integer arithmetic; every mode including rna, and the flags). `check_rounding`
asserts the two agree, so the oracle is itself cross-checked.

MPFR exponent convention: x = m * 2**e with 1/2 <= m < 1, hence for binary32
emax = 128 (largest finite < 2**128) and emin = -148 (smallest subnormal
2**-149 = 0.5 * 2**-148): in general emax = fmt.emax + 1 and
emin = fmt.emin - fmt.p + 2.

NaN results are reported as the string "nan" (payload rules are presets and are
tested separately); flags are a bitmask (1 invalid, 2 divzero, 4 overflow,
8 underflow, 16 inexact).
"""
from __future__ import annotations

import math
from fractions import Fraction

import gmpy2
from gmpy2 import mpfr, mpq

from .. import formats as F

INV, DZ, OF, UF, NX = 1, 2, 4, 8, 16
MPFR_MODES = {"rne": gmpy2.RoundToNearest, "rtz": gmpy2.RoundToZero,
              "rup": gmpy2.RoundUp, "rdn": gmpy2.RoundDown}
NAN = "nan"
INF = float("inf")


def mpfr_context(fmt, mode, prec=None):
    return gmpy2.context(precision=prec or fmt.p, emin=fmt.emin - fmt.p + 2,
                         emax=fmt.emax + 1, subnormalize=prec is None,
                         round=MPFR_MODES[mode])


def classify(bits, fmt):
    """('nan', is_signalling) / ('inf', sign) / ('num', Fraction, sign)."""
    v = F.decode(int(bits), fmt)
    sign = (int(bits) >> (fmt.bits - 1)) & 1
    if isinstance(v, float):
        if v != v:
            if not fmt.ieee_specials:
                return ("nan", False)
            quiet_bit = 1 << (fmt.p - 2)
            return ("nan", not (int(bits) & quiet_bit))
        return ("inf", sign)
    return ("num", v, sign)


def _daz(c, fmt, daz):
    if daz and c[0] == "num" and c[1] != 0 and abs(c[1]) < fmt.min_normal:
        return ("num", Fraction(0), c[2])
    return c


def encode_value(v, sign, fmt):
    """Encoding of an exactly representable Fraction (sign used for zero) or inf."""
    sb = 1 << (fmt.bits - 1)
    if v == INF or v == -INF:
        inf = ((1 << fmt.ebits) - 1) << (fmt.p - 1)
        return inf | (sb if v < 0 else 0)
    if v == 0:
        return sb if sign else 0
    r = F.round_fraction(Fraction(v), fmt, "rtz")
    assert not r.inexact
    return r.bits


def round_exact(q, fmt, mode, zero_sign=0, tininess="after", ftz=False, approx=False):
    """(bits, flags) of rounding the exact rational q. approx=True means q is not
    exact but lies strictly inside the interval of the true value's rounding
    (used for irrational results): inexact is forced on."""
    if q == 0 and not approx:
        return (1 << (fmt.bits - 1)) if zero_sign else 0, 0
    r = F.round_fraction(q, fmt, mode, negative_zero=bool(zero_sign))
    fl = 0
    if r.inexact or approx:
        fl |= NX
    if r.overflow:
        fl |= OF
    tiny_before = abs(q) < fmt.min_normal
    if tininess == "before":
        tiny = tiny_before
    else:
        # round to p bits with an unbounded exponent range
        big = F.Format("unbounded", fmt.p, fmt.ebits + 6)
        rb = F.round_fraction(q, big, mode)
        tiny = abs(F.decode(rb.bits, big)) < fmt.min_normal
    if ftz and tiny:
        return (1 << (fmt.bits - 1)) if q < 0 else 0, UF | NX
    if tiny and (fl & NX):
        fl |= UF
    if not fl & NX:
        fl &= ~UF
    return r.bits, fl


def check_rounding(q, fmt, mode, bits):
    """Cross-check round_fraction against MPFR for an exact rational q != 0."""
    if mode not in MPFR_MODES or q == 0 or not fmt.ieee_specials:
        return
    with mpfr_context(fmt, mode):
        x = mpfr(mpq(q.numerator, q.denominator))
    if gmpy2.is_infinite(x):
        got = encode_value(INF if x > 0 else -INF, 0, fmt)
    else:
        got = encode_value(Fraction(*x.as_integer_ratio()), 1 if q < 0 else 0, fmt)
    if fmt.ieee_specials:
        assert got == bits, (q, fmt, mode, hex(got), hex(bits))


def _nan(flags=0):
    return NAN, flags


def _sig(*cs):
    return INV if any(c[0] == "nan" and c[1] for c in cs) else 0


def op_oracle(op, args, fmt, mode="rne", tininess="after", ftz=False, daz=False):
    """Expected (bits or 'nan', flags) of op in {add, sub, mul, div, fma, sqrt}.
    Formats without infinities (e4m3) give NaN where IEEE gives infinity."""
    bits, fl = _op_oracle(op, args, fmt, mode, tininess, ftz, daz)
    if not fmt.ieee_specials and op == "div" and fl == DZ:
        return NAN, fl  # x/0: no infinity to return
    return bits, fl


def _op_oracle(op, args, fmt, mode, tininess, ftz, daz):
    cs = [_daz(classify(a, fmt), fmt, daz) for a in args]
    if any(c[0] == "nan" for c in cs):
        if op == "fma":
            (a, b, c) = cs
            if (a[0] == "inf" and b[0] == "num" and b[1] == 0) or \
               (b[0] == "inf" and a[0] == "num" and a[1] == 0):
                return _nan(INV)
        return _nan(_sig(*cs))
    sb = 1 << (fmt.bits - 1)
    inf = ((1 << fmt.ebits) - 1) << (fmt.p - 1)
    zs = 1 if mode == "rdn" else 0

    def val(c):
        return (INF if c[1] == 0 else -INF) if c[0] == "inf" else c[1]

    def sgn(c):
        return c[1] if c[0] == "inf" else c[2]

    def fin(c):
        return c[0] == "num"

    if op in ("add", "sub"):
        a, b = cs
        bs = sgn(b) ^ (op == "sub")
        if not fin(a) or not fin(b):
            if not fin(a) and not fin(b) and sgn(a) != bs:
                return _nan(INV)
            s = sgn(a) if not fin(a) else bs
            return inf | (sb if s else 0), 0
        q = a[1] + (-b[1] if op == "sub" else b[1])
        if q == 0:
            s = sgn(a) if (a[1] == 0 and b[1] == 0 and sgn(a) == bs) else zs
            return (sb if s else 0), 0
        return _finish(q, fmt, mode, tininess, ftz)
    if op == "mul":
        a, b = cs
        s = sgn(a) ^ sgn(b)
        if not fin(a) or not fin(b):
            if (fin(a) and a[1] == 0) or (fin(b) and b[1] == 0):
                return _nan(INV)
            return inf | (sb if s else 0), 0
        q = a[1] * b[1]
        if q == 0:
            return (sb if s else 0), 0
        return _finish(q, fmt, mode, tininess, ftz)
    if op == "div":
        a, b = cs
        s = sgn(a) ^ sgn(b)
        if not fin(a):
            if not fin(b):
                return _nan(INV)
            return inf | (sb if s else 0), 0
        if not fin(b):
            return (sb if s else 0), 0
        if b[1] == 0:
            if a[1] == 0:
                return _nan(INV)
            return inf | (sb if s else 0), DZ
        q = a[1] / b[1]
        if q == 0:
            return (sb if s else 0), 0
        return _finish(q, fmt, mode, tininess, ftz)
    if op == "fma":
        a, b, c = cs
        sp = sgn(a) ^ sgn(b)
        if not fin(a) or not fin(b):
            if (fin(a) and a[1] == 0) or (fin(b) and b[1] == 0):
                return _nan(INV)
            if not fin(c) and sgn(c) != sp:
                return _nan(INV)
            return inf | (sb if sp else 0), 0
        if not fin(c):
            return inf | (sb if sgn(c) else 0), 0
        p = a[1] * b[1]
        q = p + c[1]
        if q == 0:
            if p == 0 and c[1] == 0 and sp == sgn(c):
                return (sb if sp else 0), 0
            return (sb if zs else 0), 0
        return _finish(q, fmt, mode, tininess, ftz)
    if op == "sqrt":
        (a,) = cs
        if a[0] == "inf":
            return (inf, 0) if a[1] == 0 else _nan(INV)
        if a[1] == 0:
            return (sb if a[2] else 0), 0
        if a[1] < 0:
            return _nan(INV)
        x = a[1]
        n, d = x.numerator, x.denominator
        # exact iff n*d is a perfect square
        r = math.isqrt(n * d)
        if r * r == n * d:
            return _finish(Fraction(r, d), fmt, mode, tininess, ftz)
        with gmpy2.context(precision=200, round=gmpy2.RoundToZero):
            v = gmpy2.sqrt(mpq(n, d))
        lo = Fraction(*v.as_integer_ratio())
        ulp = Fraction(2) ** (gmpy2.get_exp(v) - 200)
        bits, fl = round_exact(lo + ulp / 2, fmt, mode, 0, tininess, ftz, approx=True)
        if mode in MPFR_MODES and fmt.ieee_specials:
            with mpfr_context(fmt, mode):
                m = gmpy2.sqrt(mpq(n, d))
            assert encode_value(Fraction(*m.as_integer_ratio()), 0, fmt) == bits
        return bits, fl
    raise ValueError(op)


def _finish(q, fmt, mode, tininess, ftz):
    bits, fl = round_exact(q, fmt, mode, 0, tininess, ftz)
    if not (ftz and (fl & UF) and bits & ~(1 << (fmt.bits - 1)) == 0):
        check_rounding(q, fmt, mode, bits)
    return bits, fl


def elementary_oracle(fn, bits, fmt, mode="rne", tininess="after", ftz=False, daz=False):
    """Correctly rounded elementary function through MPFR with a Ziv loop:
    evaluate at precision p with MPFR's correct rounding (error < 1 ulp at p),
    and accept when both ends of the enclosing interval round alike."""
    c = _daz(classify(bits, fmt), fmt, daz)
    if c[0] == "nan":
        return _nan(_sig(c))
    x = None if c[0] == "inf" else mpq(c[1].numerator, c[1].denominator)
    sb = 1 << (fmt.bits - 1)
    inf = ((1 << fmt.ebits) - 1) << (fmt.p - 1)
    if c[0] == "inf":
        neg = c[1] == 1
        table = {"exp": 0 if neg else INF, "exp2": 0 if neg else INF,
                 "log": NAN if neg else INF, "tanh": -1 if neg else 1,
                 "erf": -1 if neg else 1, "sin": NAN, "cos": NAN,
                 "sigmoid": 0 if neg else 1, "rsqrt": NAN if neg else 0}
        v = table[fn]
        if v == NAN:
            return _nan(INV)
        if v == INF:
            return inf, 0
        return encode_value(Fraction(v), 0, fmt), 0
    xs = c[2]
    xq = c[1]
    # exact special points
    if xq == 0:
        if fn in ("exp", "exp2", "cos"):
            return encode_value(Fraction(1), 0, fmt), 0
        if fn == "log":
            return inf | sb, DZ
        if fn == "rsqrt":
            return inf | (sb if xs else 0), DZ
        if fn == "sigmoid":
            return encode_value(Fraction(1, 2), 0, fmt), 0
        return (sb if xs else 0), 0  # tanh, erf, sin: odd, keep the zero's sign
    if fn in ("log", "rsqrt") and xq < 0:
        return _nan(INV)
    if fn == "log" and xq == 1:
        return 0, 0
    if fn == "exp2" and xq.denominator == 1:
        return round_exact(Fraction(2) ** max(-3000, min(3000, int(xq))), fmt, mode, 0, tininess, ftz)
    if fn == "rsqrt":
        n, d = xq.numerator, xq.denominator
        r = math.isqrt(n * d)
        if r * r == n * d:  # sqrt(x) = r/d rational, 1/sqrt(x) = d/r
            return _finish(Fraction(d, r), fmt, mode, tininess, ftz)
    # saturation clamps (oracle only): beyond these points f(x) lies in the same
    # open gap between representable numbers (or overflows / underflows alike)
    # for every format here, so every mode rounds f(x) and f(clamp) the same.
    clamp = {"exp": 1000, "exp2": 2000, "sigmoid": 1000, "tanh": 100, "erf": 30}
    if fn in clamp and abs(xq) > clamp[fn]:
        xq = Fraction(clamp[fn]) * (1 if xq > 0 else -1)
        x = mpq(xq.numerator, xq.denominator)
    f = {"exp": gmpy2.exp, "exp2": gmpy2.exp2, "log": gmpy2.log, "tanh": gmpy2.tanh,
         "erf": gmpy2.erf, "sin": gmpy2.sin, "cos": gmpy2.cos, "rsqrt": gmpy2.rec_sqrt,
         "sigmoid": lambda t: 1 / (1 + gmpy2.exp(-t))}[fn]
    prec = 128
    while True:
        with gmpy2.context(precision=prec, round=gmpy2.RoundToNearest, emin=-10 ** 7, emax=10 ** 7):
            X = mpfr(x)
            sgn = -1 if xq < 0 else 1
            if fn in ("erf", "tanh") and abs(xq) > 1:
                # 1 - t with t = erfc|x| or 2/(e^{2|x|}+1), t known to a few ulps
                t = gmpy2.erfc(abs(X)) if fn == "erf" else 2 / (gmpy2.exp(2 * abs(X)) + 1)
                tq = Fraction(*t.as_integer_ratio())
                vq = sgn * (1 - tq)
                err = tq * Fraction(1, 2 ** (prec - 5))
            elif fn == "sigmoid" and xq > 1:
                t = 1 / (1 + gmpy2.exp(X))
                tq = Fraction(*t.as_integer_ratio())
                vq = 1 - tq
                err = tq * Fraction(1, 2 ** (prec - 5))
            else:
                v = f(X)
                vq = Fraction(*v.as_integer_ratio())
                # MPFR: error < 1 ulp(prec); sigmoid composes 3 roundings
                err = abs(vq) * Fraction(1, 2 ** (prec - 5))
        lo = round_exact(vq - err, fmt, mode, 0, tininess, ftz, approx=True)
        hi = round_exact(vq + err, fmt, mode, 0, tininess, ftz, approx=True)
        if lo == hi:
            return lo
        prec *= 2
        if prec > 1 << 14:
            raise AssertionError(f"Ziv loop does not converge for {fn}({xq})")
