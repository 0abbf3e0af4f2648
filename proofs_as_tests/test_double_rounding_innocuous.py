"""Theorem (innocuous double rounding; Figueroa 1995).

Statement. Let x, y be binary floating-point numbers of precision p and let
op be +, -, *, / or sqrt. If q >= 2p + 2 then RN_p(RN_q(x op y)) = RN_p(x op y),
where RN_k is round-to-nearest-even to k significant bits (exponent range wide
enough, no overflow). Source: S. A. Figueroa, "When is double rounding
innocuous?", ACM SIGNUM Newsletter 30(3), 1995; Muller et al., Handbook of
Floating-Point Arithmetic, 2nd ed., Thm 4.? (double rounding). For binary32
through binary64, p = 24, q = 53 >= 50: this is the exactness argument of the
emulator's RNE fast paths (fpsem.emu._kernels); subnormal binary32 results are
fine too, because binary64 has at least 2p+2 more bits than the subnormal grid.

Check. The fast path (binary64 then one rounding) equals the exact-rational
rounding for random and edge operands, and equals numpy float32 bit for bit.

Counterexamples when the hypotheses are dropped:
 * q = p + 1 (no longer >= 2p+2): 1 + (2**-24 + 2**-30) rounds to 25 bits as
   1 + 2**-24 (a binary32 midpoint), then ties to 1; directly it rounds to 1 + 2**-23.
 * a directed mode applied after a nearest binary64 rounding: 1 + 2**-60 rounds
   to 1 in binary64 and then rup gives 1, while rup(1 + 2**-60) = 1 + 2**-23.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fpsem import emu
from fpsem import formats as F

f32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


def _rn(q, p):
    r = F.round_fraction(q, F.Format(f"p{p}", p, 11), "rne")
    return F.decode(r.bits, F.Format(f"p{p}", p, 11))


@settings()
@given(x=f32, y=f32, op=st.sampled_from(["add", "sub", "mul", "div", "sqrt"]))
def test_binary64_then_binary32_is_correct_rounding(x, y, op):
    xf, yf = np.float32(x), np.float32(y)
    with np.errstate(all="ignore"):
        d = {"add": np.float64(xf) + np.float64(yf), "sub": np.float64(xf) - np.float64(yf),
             "mul": np.float64(xf) * np.float64(yf),
             "div": np.float64(xf) / np.float64(yf),
             "sqrt": np.sqrt(np.float64(abs(xf)))}[op]
        twice = np.float32(d)
        numpy32 = {"add": xf + yf, "sub": xf - yf, "mul": xf * yf,
                   "div": xf / yf, "sqrt": np.sqrt(abs(xf))}[op]
    args = [np.array([abs(xf) if op == "sqrt" else xf], np.float32).view(np.uint32)]
    if op != "sqrt":
        args.append(np.array([yf], np.float32).view(np.uint32))
    ref, _ = getattr(emu.binary32, op)(*args, rounding="rne", ftz=False)
    r = ref.view(np.float32)[0]
    if np.isnan(r):
        assert np.isnan(twice) and np.isnan(numpy32)
        return
    assert np.array_equal(np.array([twice]).view(np.uint32), np.array([r]).view(np.uint32))
    assert np.array_equal(np.array([numpy32]).view(np.uint32), np.array([r]).view(np.uint32))


def test_numpy_float32_bit_for_bit_random_sweep():
    rng = np.random.default_rng(0)
    n = 200_000
    a = rng.integers(0, 2 ** 32, n, dtype=np.int64).astype(np.uint32)
    b = rng.integers(0, 2 ** 32, n, dtype=np.int64).astype(np.uint32)
    af, bf = a.view(np.float32), b.view(np.float32)
    with np.errstate(all="ignore"):
        for op, want in (("add", af + bf), ("sub", af - bf), ("mul", af * bf), ("div", af / bf)):
            got, _ = getattr(emu.binary32, op)(a, b)
            ok = (got == want.view(np.uint32)) | (np.isnan(want) & np.isnan(got.view(np.float32)))
            assert ok.all(), op
        got, _ = emu.binary32.sqrt(a)
        want = np.sqrt(af)
        assert ((got == want.view(np.uint32)) | (np.isnan(want) & np.isnan(got.view(np.float32)))).all()


def test_counterexample_q_too_small():
    exact = 1 + Fraction(1, 2 ** 24) + Fraction(1, 2 ** 30)
    assert _rn(_rn(exact, 25), 24) == 1
    assert _rn(exact, 24) == 1 + Fraction(1, 2 ** 23)
    # with q = 53 the same sum is innocuous
    assert _rn(_rn(exact, 53), 24) == 1 + Fraction(1, 2 ** 23)


def test_counterexample_directed_after_nearest():
    x = np.uint32(0x3F800000)
    tiny = np.array([2.0 ** -60], np.float32).view(np.uint32)
    naive = F.round_fraction(Fraction(float(np.float64(1.0) + 2.0 ** -60)), F.binary32, "rup").bits
    assert naive == 0x3F800000
    out, _ = emu.binary32.add(x, tiny, rounding="rup")
    assert int(out[0]) == 0x3F800001
