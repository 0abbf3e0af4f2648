"""Binary floating-point formats and exact rounding of rationals into them.

A `Format` is pure data (precision, exponent range, encoding width). The function
`round_fraction` rounds an exact rational to a format in any of the five IEEE 754
rounding-direction attributes using integer arithmetic only; it is the one place
where decimal strings and Fractions enter a float domain, so `asarray("0.1")` is
correctly rounded and never double rounded through binary64.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from .errors import FpsemError, UnsupportedOption

ROUNDINGS = ("rne", "rtz", "rup", "rdn", "rna")
ROUNDING_NAMES = {
    "rne": "round to nearest, ties to even",
    "rtz": "round toward zero",
    "rup": "round toward +infinity",
    "rdn": "round toward -infinity",
    "rna": "round to nearest, ties away from zero",
}


def check_rounding(mode, where="domain"):
    if mode not in ROUNDINGS:
        raise UnsupportedOption(
            f"{where}: unknown rounding {mode!r}; choose one of {', '.join(ROUNDINGS)}")
    return mode


@dataclass(frozen=True)
class Format:
    """An IEEE-style binary interchange format.

    p: precision in bits including the hidden bit; ebits: exponent field width.
    `ieee_specials` False means the format has no infinities and a single NaN
    pattern per sign (fp8 e4m3 "fn"); its emax is then one larger.
    """
    name: str
    p: int
    ebits: int
    ieee_specials: bool = True

    @property
    def bits(self):
        return 1 + self.ebits + self.p - 1

    @property
    def bias(self):
        return (1 << (self.ebits - 1)) - 1

    @property
    def emax(self):
        return self.bias if self.ieee_specials else self.bias + 1

    @property
    def emin(self):
        return 1 - self.bias

    @property
    def u(self):
        """Unit roundoff for round-to-nearest: 2**-p."""
        return Fraction(1, 1 << self.p)

    @property
    def eps(self):
        """Machine epsilon: the gap between 1 and the next larger value, 2**(1-p)."""
        return Fraction(1, 1 << (self.p - 1))

    @property
    def max_finite(self):
        if self.ieee_specials:
            return Fraction((1 << self.p) - 1) * Fraction(2) ** (self.emax - self.p + 1)
        # e4m3fn: the all-ones significand at emax encodes NaN
        return Fraction((1 << self.p) - 2) * Fraction(2) ** (self.emax - self.p + 1)

    @property
    def min_normal(self):
        return Fraction(2) ** self.emin

    @property
    def min_subnormal(self):
        return Fraction(2) ** (self.emin - self.p + 1)

    def __str__(self):
        return self.name


binary64 = Format("binary64", 53, 11)
binary32 = Format("binary32", 24, 8)
binary16 = Format("binary16", 11, 5)
bfloat16 = Format("bfloat16", 8, 8)
e5m2 = Format("e5m2", 3, 5)
e4m3 = Format("e4m3", 4, 4, ieee_specials=False)

FORMATS = {f.name: f for f in (binary64, binary32, binary16, bfloat16, e5m2, e4m3)}


def numpy_dtype(fmt):
    """The numpy dtype whose values are exactly `fmt`'s (ml_dtypes for bfloat16 and
    the fp8 formats), or None. Casting such an array to float64 is exact."""
    import ml_dtypes
    import numpy as np
    return {"binary64": np.dtype(np.float64), "binary32": np.dtype(np.float32),
            "binary16": np.dtype(np.float16), "bfloat16": np.dtype(ml_dtypes.bfloat16),
            "e5m2": np.dtype(ml_dtypes.float8_e5m2),
            "e4m3": np.dtype(ml_dtypes.float8_e4m3fn)}.get(getattr(fmt, "name", None))


def widen_ml_dtypes(data):
    """An ml_dtypes array (bfloat16, float8_*, int4, ...) as the float64 / int64
    array of the same numbers (exact); anything else unchanged."""
    dt = getattr(data, "dtype", None)
    if dt is None or not dt.type.__module__.startswith("ml_dtypes"):
        return data
    import ml_dtypes
    import numpy as np
    try:
        ml_dtypes.finfo(dt)
    except (ValueError, TypeError):
        return np.asarray(data).astype(np.int64)
    return np.asarray(data).astype(np.float64)


def get_format(name):
    try:
        return FORMATS[name]
    except KeyError:
        raise UnsupportedOption(
            f"unknown format {name!r}; known: {', '.join(FORMATS)}") from None


def _round_int(m, r, d, mode, neg):
    """Round m + r/d (0 <= r < d) to an integer under `mode` for a value of sign `neg`."""
    if r == 0:
        return m, False
    if mode == "rtz":
        return m, True
    if mode == "rup":
        return (m if neg else m + 1), True
    if mode == "rdn":
        return (m + 1 if neg else m), True
    twice = 2 * r
    if twice > d:
        return m + 1, True
    if twice < d:
        return m, True
    if mode == "rna":
        return m + 1, True
    return (m + (m & 1)), True  # rne


@dataclass(frozen=True)
class Rounded:
    """Result of rounding a rational: the encoding and what happened on the way."""
    bits: int
    inexact: bool
    overflow: bool
    underflow_before: bool   # tiny before rounding (ARM-style tininess)
    underflow_after: bool    # tiny after rounding with unbounded exponent (x86-style)


def round_fraction(q, fmt: Format, mode="rne", negative_zero=False) -> Rounded:
    """Round the exact rational `q` into `fmt` with rounding `mode`.

    Integer arithmetic only. Overflow follows IEEE 754-2019 clause 7.4 (infinity or
    the largest finite value depending on the direction); formats without
    infinities saturate to NaN in nearest modes as e4m3fn does.
    `negative_zero` gives the sign of an exact zero result.
    """
    check_rounding(mode, "round_fraction")
    q = Fraction(q)
    p, emin = fmt.p, fmt.emin
    sign_bit = 1 << (fmt.bits - 1)
    if q == 0:
        return Rounded(sign_bit if negative_zero else 0, False, False, False, False)
    neg = q < 0
    n, d = abs(q.numerator), q.denominator
    # E = floor(log2(n/d))
    E = n.bit_length() - d.bit_length()
    if (n << max(0, -E)) < (d << max(0, E)):
        E -= 1
    tiny_before = E < emin
    e_ulp = max(E, emin) - (p - 1)
    num, den = (n << -e_ulp, d) if e_ulp < 0 else (n, d << e_ulp)
    m, r = divmod(num, den)
    M, inexact = _round_int(m, r, den, mode, neg)
    # tininess after rounding: the value rounded to p bits with an unbounded
    # exponent range is still below the smallest normal (IEEE 754-2019 7.5)
    tiny_after = tiny_before
    if tiny_before and E + 1 == emin:
        e_unb = E - (p - 1)
        num2, den2 = (n << -e_unb, d) if e_unb < 0 else (n, d << e_unb)
        M2, _ = _round_int(*divmod(num2, den2), den2, mode, neg)
        tiny_after = M2 < (1 << p)
    if M == (1 << p):
        M >>= 1
        e_ulp += 1
    value = Fraction(M) * Fraction(2) ** e_ulp
    if value > fmt.max_finite:
        to_inf = mode in ("rne", "rna") or (mode == "rup" and not neg) or (mode == "rdn" and neg)
        if to_inf:
            if fmt.ieee_specials:
                bits = ((1 << fmt.ebits) - 1) << (p - 1)
            else:
                bits = (1 << (fmt.bits - 1)) - 1  # e4m3fn NaN
        else:
            bits = _encode(fmt.max_finite, fmt)
        return Rounded(bits | (sign_bit if neg else 0), True, True, tiny_before, tiny_after)
    bits = _encode_parts(M, e_ulp, fmt)
    underflow_flagged = inexact and tiny_before
    return Rounded(bits | (sign_bit if neg else 0), inexact, False,
                   underflow_flagged, inexact and tiny_after)


def _encode_parts(M, e_ulp, fmt):
    p = fmt.p
    if M == 0:
        return 0
    if M < (1 << (p - 1)):
        return M  # subnormal: exponent field 0 (e_ulp == emin - p + 1 here)
    while M >= (1 << p):
        M >>= 1
        e_ulp += 1
    biased = e_ulp + (p - 1) + fmt.bias
    return (biased << (p - 1)) | (M - (1 << (p - 1)))


def _encode(value, fmt):
    f = Fraction(value)
    n, d = f.numerator, f.denominator
    e = 0
    while d > 1:
        d >>= 1
        e -= 1
    M = n
    while M >= (1 << fmt.p):
        if M & 1:
            raise FpsemError(f"_encode: {value} is not representable in {fmt}")
        M >>= 1
        e += 1
    return _encode_parts(M, e, fmt)


def decode(bits, fmt: Format):
    """The exact value of an encoding: a Fraction, or a float inf / nan."""
    p = fmt.p
    neg = (bits >> (fmt.bits - 1)) & 1
    E = (bits >> (p - 1)) & ((1 << fmt.ebits) - 1)
    T = bits & ((1 << (p - 1)) - 1)
    if fmt.ieee_specials and E == (1 << fmt.ebits) - 1:
        if T == 0:
            return float("-inf") if neg else float("inf")
        return float("nan")
    if not fmt.ieee_specials and E == (1 << fmt.ebits) - 1 and T == (1 << (p - 1)) - 1:
        return float("nan")
    if E == 0:
        v = Fraction(T) * Fraction(2) ** (fmt.emin - p + 1)
    else:
        v = Fraction((1 << (p - 1)) | T) * Fraction(2) ** (E - fmt.bias - p + 1)
    return -v if neg else v
