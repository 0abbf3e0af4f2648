"""Theorem (correct rounding of the binary32 emulator).

Statement. For every binary32 encodings a, b, c, every rounding-direction
attribute m in {rne, rtz, rup, rdn, rna}, both tininess rules, and each operation
op in {add, sub, mul, div, sqrt, fma}, `fpsem.emu.binary32.op(a, b[, c], rounding=m)`
returns the encoding of round_m(exact real result) -- the result "computed exactly
and then rounded" of IEEE 754-2019 clause 4.3 and 5.4.1 (fusedMultiplyAdd: one
rounding, 5.4.1), with the zero signs of 6.3, the invalid-operation cases of 7.2,
division by zero of 7.3, overflow results of 7.4 (infinity or the largest finite
number depending on the direction), and the flags of clause 7 raised exactly when
the standard says (underflow = tiny and inexact, 7.5, tininess after or before
rounding as selected). NaN results are checked to be NaN (payloads are the NaN
preset's business, IEEE 754-2019 6.2.3, tested in tests/emu).

Hypotheses: none beyond valid encodings; subnormal operands and results are
included (IEEE gradual underflow, no FTZ/DAZ here).

Check. The oracle (fpsem.emu.oracle) computes the exact real result with Python
rationals and rounds it twice independently -- with MPFR (gmpy2, precision 24,
emin -148, emax 128, subnormalize) for the four MPFR modes and with integer
arithmetic (fpsem.formats.round_fraction) for all five -- and asserts that both
agree. The property is tested on Hypothesis-drawn encodings (biased to edge
classes) plus the decisive edge cases below.
"""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fpsem import emu
from fpsem import formats as F
from fpsem.emu import oracle as O

MODES = ("rne", "rtz", "rup", "rdn", "rna")
EDGE = [0, 0x80000000, 1, 0x007FFFFF, 0x00800000, 0x7F7FFFFF, 0x7F800000, 0x7FC00000,
        0x7F800001, 0x3F800000, 0x3F7FFFFF, 0x3F800001, 0x33800000, 0x34000000, 0x00000003]
enc = st.one_of(st.integers(0, 2 ** 32 - 1), st.sampled_from(EDGE + [e | 0x80000000 for e in EDGE]),
                st.integers(0, 2 ** 23).map(lambda m: m | 0x3F000000))


def _agrees(op, args, mode, tininess="after"):
    arrs = [np.array([a], np.uint32) for a in args]
    out, fl = getattr(emu.binary32, op)(*arrs, rounding=mode, tininess=tininess)
    eb, ef = O.op_oracle(op, list(args), F.binary32, mode, tininess)
    got = int(out[0])
    ok = (O.classify(got, F.binary32)[0] == "nan") if eb == O.NAN else got == eb
    return ok and int(fl.bits[0]) == ef, (hex(got), int(fl.bits[0]), eb, ef)


@settings()
@given(a=enc, b=enc, mode=st.sampled_from(MODES), op=st.sampled_from(["add", "sub", "mul", "div"]),
       tininess=st.sampled_from(["after", "before"]))
def test_binary_ops_correctly_rounded(a, b, mode, op, tininess):
    ok, info = _agrees(op, (a, b), mode, tininess)
    assert ok, info


@settings()
@given(a=enc, b=enc, c=enc, mode=st.sampled_from(MODES))
def test_fma_correctly_rounded(a, b, c, mode):
    ok, info = _agrees("fma", (a, b, c), mode)
    assert ok, info


@settings()
@given(a=enc, mode=st.sampled_from(MODES))
def test_sqrt_correctly_rounded(a, mode):
    ok, info = _agrees("sqrt", (a,), mode)
    assert ok, info


def test_decisive_cases():
    # 1 + 2**-24 is the midpoint between 1 and its successor: ties differ between rne and rna
    half = 0x33800000  # 2**-24
    out, _ = emu.binary32.add(np.uint32(0x3F800000), np.uint32(half), rounding="rne")
    assert int(out) == 0x3F800000
    out, _ = emu.binary32.add(np.uint32(0x3F800000), np.uint32(half), rounding="rna")
    assert int(out) == 0x3F800001
    # max * 2 overflows to inf (rne) but to max (rtz), flags overflow|inexact
    two = np.uint32(0x40000000)
    out, fl = emu.binary32.mul(np.uint32(0x7F7FFFFF), two, rounding="rtz")
    assert int(out) == 0x7F7FFFFF and fl.overflow and fl.inexact
    # x - x = -0 only in rdn
    out, _ = emu.binary32.sub(np.uint32(0x3F800000), np.uint32(0x3F800000), rounding="rdn")
    assert int(out) == 0x80000000
    # tininess: 2**-126 (1 + 2**-23)(1 - 2**-23) = 2**-126 (1 - 2**-46) rounds (rne) to
    # min_normal: tiny before rounding, not tiny after (unbounded rounding gives 2**-126)
    a, b = np.uint32(0x00800001), np.uint32(0x3F7FFFFE)
    for tin, uf in (("after", False), ("before", True)):
        out, fl = emu.binary32.mul(a, b, rounding="rne", tininess=tin)
        assert int(out) == 0x00800000 and bool(fl.underflow) == uf
    for mode in MODES:
        for x in EDGE:
            for y in EDGE:
                assert _agrees("mul", (x, y), mode)[0]
                assert _agrees("add", (x, y | 0x80000000), mode)[0]
