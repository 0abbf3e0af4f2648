"""Theorem (fpsem's one rounding routine is IEEE correct rounding). For every
rational q, every format F in {binary16, bfloat16, binary32, binary64} and every
rounding-direction attribute, `fpsem.formats.round_fraction(q, F, mode)` encodes

    rne: the element of F nearest to q, ties to the even significand;
    rna: the element of F nearest to q, ties away from zero;
    rtz, rup, rdn: the element of F nearest to q in that direction;

over F's full range with gradual underflow (subnormals) and IEEE 754-2019 clause
7.4 overflow (to +-inf in nearest modes and away from zero in the directed ones that
point outwards, else to +-max finite). Checked against MPFR (gmpy2) at precision p
with emin/emax set to F's and subnormalize=True, which is correctly rounding by
specification; rna (MPFR has no nearest-away mode) against
"rne unless q is the exact midpoint of its rtz and away-from-zero roundings, then
the latter". Also: `decode(round_fraction(q).bits) == q` for q in F (exactness).

Hypotheses: none beyond q rational. (A binary64 detour is the counterexample:
rounding 1 + 2**-24 + 2**-60 first to binary64 and then to binary32 gives 1, while
correct rounding gives 1 + 2**-23: double rounding.)

Source: IEEE 754-2019 clauses 4.3.1 (nearest), 4.3.2 (directed), 7.4 (overflow),
7.5 (underflow, subnormals); Muller et al., "Handbook of Floating-Point
Arithmetic", 2nd ed., 2.2 and 3.1 (double rounding); MPFR documentation
(subnormalize, emin/emax emulation of IEEE formats).
"""
from fractions import Fraction

import gmpy2
from hypothesis import given
from hypothesis import strategies as st

from fpsem.formats import bfloat16, binary16, binary32, binary64, decode, round_fraction

FORMATS = [binary16, bfloat16, binary32, binary64]
MPFR_MODE = {"rne": gmpy2.RoundToNearest, "rtz": gmpy2.RoundToZero,
             "rup": gmpy2.RoundUp, "rdn": gmpy2.RoundDown, "away": gmpy2.RoundAwayZero}


def mpfr_round(q, fmt, mode):
    ctx = gmpy2.context(precision=fmt.p, emin=fmt.emin - fmt.p + 2, emax=fmt.emax + 1,
                        subnormalize=True, round=MPFR_MODE[mode])
    with ctx:
        r = gmpy2.mpfr(gmpy2.mpq(q.numerator, q.denominator))
    if gmpy2.is_infinite(r):
        return float(r)
    return Fraction(*r.as_integer_ratio())


def reference(q, fmt, mode):
    if mode != "rna":
        return mpfr_round(q, fmt, mode)
    a, b = mpfr_round(q, fmt, "rtz"), mpfr_round(q, fmt, "away")
    if a != b and not isinstance(b, float) and q - a == b - q:
        return b
    return mpfr_round(q, fmt, "rne")


def _check(q, fmt, mode):
    got = decode(round_fraction(q, fmt, mode).bits, fmt)
    want = reference(q, fmt, mode)
    assert got == want, (q, fmt.name, mode, got, want)


@st.composite
def rationals_near(draw):
    """Dyadic rationals with up to p + 4 significant bits (so ties and near-ties
    are common) anywhere from below the smallest subnormal to above overflow,
    and general rationals n/d."""
    fmt = draw(st.sampled_from(FORMATS))
    e = draw(st.integers(fmt.emin - fmt.p - 3, fmt.emax + 2))
    if draw(st.booleans()):
        m = draw(st.integers(1, 1 << (fmt.p + 4)))
        q = Fraction(m) * Fraction(2) ** (e - fmt.p - 3)
    else:
        n = draw(st.integers(1, 1 << 80))
        d = draw(st.integers(1, 1 << 80))
        q = Fraction(n, d) * Fraction(2) ** e
    return fmt, q * draw(st.sampled_from([1, -1]))


@given(rationals_near(), st.sampled_from(["rne", "rna", "rtz", "rup", "rdn"]))
def test_round_fraction_equals_mpfr(case, mode):
    fmt, q = case
    _check(q, fmt, mode)


@given(st.sampled_from(FORMATS), st.data())
def test_representable_values_are_fixed_points(fmt, data):
    top = round_fraction(fmt.max_finite, fmt, "rtz").bits
    bits = data.draw(st.integers(0, top))
    v = decode(bits, fmt)
    for mode in ("rne", "rna", "rtz", "rup", "rdn"):
        r = round_fraction(v, fmt, mode)
        assert r.bits == bits and not r.inexact


def test_edges():
    for fmt in FORMATS:
        tiny, mx, mn = fmt.min_subnormal, fmt.max_finite, fmt.min_normal
        ulp_top = Fraction(2) ** (fmt.emax - fmt.p + 1)
        for q in (tiny / 2, tiny / 2 * 3, tiny * Fraction(1, 3), mn - tiny / 2, mn - tiny / 4,
                  mx + ulp_top / 2, mx + ulp_top / 2 - tiny, mx * 2, 1 + fmt.u, 1 + fmt.u / 2,
                  1 + fmt.eps / 2 * 3, Fraction(1, 3), Fraction(2, 3)):
            for mode in ("rne", "rna", "rtz", "rup", "rdn"):
                _check(q, fmt, mode)
                _check(-q, fmt, mode)
    # ties: rne to even, rna away
    assert decode(round_fraction(1 + binary32.u, binary32, "rne").bits, binary32) == 1
    assert decode(round_fraction(1 + binary32.u, binary32, "rna").bits, binary32) == 1 + binary32.eps
    assert decode(round_fraction(binary32.min_subnormal / 2, binary32, "rne").bits, binary32) == 0
    assert decode(round_fraction(binary32.min_subnormal / 2, binary32, "rna").bits, binary32) \
        == binary32.min_subnormal


def test_counterexample_double_rounding_through_binary64():
    q = 1 + Fraction(1, 2 ** 24) + Fraction(1, 2 ** 60)
    via64 = decode(round_fraction(decode(round_fraction(q, binary64).bits, binary64), binary32).bits, binary32)
    direct = decode(round_fraction(q, binary32).bits, binary32)
    assert via64 == 1 and direct == 1 + binary32.eps
