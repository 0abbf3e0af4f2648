"""Theorem (fused multiply-add rounds once; fma through binary64 needs round-to-odd).

Statement 1 (IEEE 754-2019 clause 5.4.1, fusedMultiplyAdd): fma(a, b, c) is
(a*b) + c computed with unbounded range and precision and rounded once. The
emulator's `binary32.fma` and the ieee32 domain's fast RNE fma satisfy this for
all binary32 a, b, c.

Statement 2 (Boldo & Melquiond, "Emulation of FMA and correctly rounded sums:
proved algorithms using rounding to odd", IEEE Trans. Computers 57(4), 2008,
Thm. 4; also Muller et al., Handbook of Floating-Point Arithmetic, 2nd ed.,
section 5.3): with a, b, c binary32, the product a*b is exact in binary64
(24 + 24 <= 53 bits); let s = a*b + c rounded to odd in binary64 (TwoSum gives the
exact error e; force the last bit to 1 when e != 0). Because 53 >= 24 + 2,
RN24(RO53(a*b + c)) = RN24(a*b + c). Hypotheses: p_wide >= p + 2 and no
overflow/underflow of the binary64 intermediate (true for binary32 inputs:
|a*b| >= 2**-298 and <= 2**256).

Counterexample when the hypothesis "round to odd" is dropped: computing
float32(float64(a)*float64(b) + float64(c)) double-rounds. With
a = 33025 * 2**-27, b = 32513 * 2**-27 (so a*b = 2**-24 * (1 + 2**-30)) and
c = 1, the exact value 1 + 2**-24 + 2**-54 lies just above the binary32 midpoint
1 + 2**-24; binary64 rounds it onto the midpoint and the tie then goes to 1.0,
while the correct result is 1 + 2**-23.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fpsem import emu
from fpsem import formats as F
from fpsem.emu import oracle as O

f32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


@settings()
@given(a=f32, b=f32, c=f32, mode=st.sampled_from(["rne", "rtz", "rup", "rdn", "rna"]))
def test_emulator_fma_rounds_once(a, b, c, mode):
    bits = [np.array([v], np.float32).view(np.uint32) for v in (a, b, c)]
    out, fl = emu.binary32.fma(*bits, rounding=mode)
    eb, ef = O.op_oracle("fma", [int(x[0]) for x in bits], F.binary32, mode)
    assert int(out[0]) == eb and int(fl.bits[0]) == ef


@settings()
@given(a=f32, b=f32, c=f32)
def test_round_to_odd_fma_is_correctly_rounded(a, b, c):
    from fpsem.domains.ieee import _fma32_rto
    with np.errstate(all="ignore"):
        got = np.float32(_fma32_rto(np.float32(a), np.float32(b), np.float32(c)))
    if np.isnan(got):
        return
    exact = Fraction(a) * Fraction(b) + Fraction(c)
    want = F.round_fraction(exact, F.binary32, "rne",
                            negative_zero=(exact == 0 and np.signbit(np.float32(a) * np.float32(b)) and np.signbit(np.float32(c))))
    assert int(np.array([got], np.float32).view(np.uint32)[0]) == want.bits


def test_counterexample_naive_binary64_fma_double_rounds():
    a = np.float32(33025 * 2.0 ** -27)
    b = np.float32(32513 * 2.0 ** -27)
    c = np.float32(1.0)
    exact = Fraction(float(a)) * Fraction(float(b)) + 1
    assert exact == 1 + Fraction(1, 2 ** 24) + Fraction(1, 2 ** 54)
    naive = np.float32(np.float64(a) * np.float64(b) + np.float64(c))
    assert naive == np.float32(1.0)  # double rounding: wrong
    out, fl = emu.binary32.fma(*(np.array([v], np.float32).view(np.uint32) for v in (a, b, c)))
    assert out.view(np.float32)[0] == np.float32(1 + 2.0 ** -23)  # correct, rounded once
    from fpsem.domains.ieee import _fma32_rto
    assert _fma32_rto(a, b, c) == np.float32(1 + 2.0 ** -23)
