"""remainder, minimum/maximum(+Number), compare, round to integral, conversions,
next_up/next_down and NaN presets, against independent references."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from fpsem import emu
from fpsem import formats as F
from fpsem.emu import oracle as O

from _emu_util import MODES, edges, random_operands, sweep_n

B = emu.binary32


def _sample(n, seed=0):
    rng = np.random.default_rng(seed)
    a, b = random_operands(rng, n, F.binary32, 2)
    e = edges(F.binary32)
    ea, eb = np.meshgrid(e, e)
    return np.concatenate([a, ea.ravel()]), np.concatenate([b, eb.ravel()])


def _f(bits):
    return np.asarray(bits, np.uint32).view(np.float32)


def test_remainder_exact():
    a, b = _sample(sweep_n(3000, 300_000))
    out, fl = B.remainder(a, b)
    for x, y, r, f in zip(_f(a).tolist(), _f(b).tolist(), _f(out).tolist(), fl.bits.tolist()):
        if math.isnan(x) or math.isnan(y) or math.isinf(x) or y == 0:
            assert math.isnan(r)
            continue
        want = math.remainder(x, y)  # exact in binary64 for binary32 operands
        assert r == want and math.copysign(1, r) == math.copysign(1, want), (x, y, r, want)
        assert f == 0


def test_min_max():
    a, b = _sample(sweep_n(3000, 300_000), 1)
    x, y = _f(a), _f(b)
    for fn, npf, number in ((B.minimum, np.minimum, False), (B.maximum, np.maximum, False),
                            (B.minimum_number, np.fmin, True), (B.maximum_number, np.fmax, True)):
        out, fl = fn(a, b)
        want = npf(x, y)
        got = _f(out)
        assert np.array_equal(np.isnan(got), np.isnan(want))
        ok = ~np.isnan(want)
        assert np.array_equal(got[ok], want[ok])
        z = ok & (x == 0) & (y == 0)
        is_min = fn in (B.minimum, B.minimum_number)
        exp_sign = (np.signbit(x) | np.signbit(y)) if is_min else (np.signbit(x) & np.signbit(y))
        assert np.array_equal(np.signbit(got[z]), exp_sign[z])
        snan = ((a & 0x7FC00000) == 0x7F800000) & ((a & 0x3FFFFF) != 0) | \
               ((b & 0x7FC00000) == 0x7F800000) & ((b & 0x3FFFFF) != 0)
        assert np.array_equal(fl.invalid, snan)


def test_compare_quiet_and_signaling():
    a, b = _sample(sweep_n(3000, 300_000), 2)
    x, y = _f(a), _f(b)
    code, fl = B.compare(a, b)
    with np.errstate(invalid="ignore"):
        want = np.where(np.isnan(x) | np.isnan(y), 2, np.where(x < y, -1, np.where(x > y, 1, 0)))
    assert np.array_equal(code, want)
    code2, fl2 = B.compare(a, b, signaling=True)
    assert np.array_equal(fl2.invalid, want == 2)
    lt, _ = B.lt(a, b)
    assert np.array_equal(lt, x < y)


@pytest.mark.parametrize("mode", MODES)
def test_round_to_integral(mode):
    a, _ = _sample(sweep_n(3000, 300_000), 3)
    x = _f(a).astype(np.float64)
    ref = {"rne": np.rint, "rtz": np.trunc, "rup": np.ceil, "rdn": np.floor,
           "rna": lambda v: np.sign(v) * np.floor(np.abs(v) + 0.5)}[mode]
    with np.errstate(invalid="ignore"):
        want = ref(x).astype(np.float32)
        want = np.where(want == 0, np.copysign(np.float32(0), _f(a)), want)
    out, fl = B.round_to_integral(a, rounding=mode, exact=True)
    got = _f(out)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    assert np.array_equal(got[ok].view(np.uint32), want[ok].view(np.uint32))
    with np.errstate(invalid="ignore"):
        assert np.array_equal(fl.inexact[ok], (got[ok] != _f(a)[ok]))


@pytest.mark.parametrize("mode", MODES)
def test_to_and_from_integers(mode):
    a, _ = _sample(sweep_n(2000, 200_000), 4)
    for width in (32, 64):
        out, fl = B.to_int(a, width=width, rounding=mode)
        for bits, v, f in zip(a.tolist(), out.tolist(), fl.bits.tolist()):
            c = O.classify(bits, F.binary32)
            if c[0] != "num":
                assert f == O.INV
                continue
            q = c[1]
            fl_n = math.floor(q)
            r = q - fl_n
            up = {"rne": r > Fraction(1, 2) or (r == Fraction(1, 2) and fl_n % 2 == 1),
                  "rna": r >= Fraction(1, 2) if q >= 0 else r > Fraction(1, 2),
                  "rtz": (r > 0 and q < 0), "rup": r > 0, "rdn": False}[mode]
            k = fl_n + (1 if up and r > 0 else 0)
            if -2 ** (width - 1) <= k < 2 ** (width - 1):
                assert v == k, (q, mode, v, k)
                assert bool(f & O.NX) == (r != 0)
            else:
                assert f == O.INV
    rng = np.random.default_rng(5)
    ints = np.concatenate([rng.integers(-2 ** 63, 2 ** 63 - 1, 2000, dtype=np.int64),
                           np.array([0, 1, -1, 2 ** 24 + 1, -(2 ** 63), 2 ** 63 - 1, 16777217], np.int64)])
    out, fl = B.from_int(ints, rounding=mode)
    for v, bits, f in zip(ints.tolist(), out.tolist(), fl.bits.tolist()):
        r = F.round_fraction(Fraction(v), F.binary32, mode)
        assert bits == r.bits and bool(f & O.NX) == r.inexact


@pytest.mark.parametrize("mode", MODES)
def test_float64_conversions(mode):
    rng = np.random.default_rng(6)
    n = sweep_n(3000, 300_000)
    raw = rng.integers(0, 2 ** 63, n, dtype=np.int64) | (rng.integers(0, 2, n, dtype=np.int64) << 63)
    near = (rng.standard_normal(n) * 2.0 ** rng.integers(-160, 140, n))
    v = np.concatenate([raw.view(np.float64), near, [0.0, -0.0, np.inf, -np.inf, 2.0 ** -150, 2.0 ** -149 * 1.5]])
    out, fl = B.from_float64(v, rounding=mode)
    for x, bits, f in zip(v.tolist(), out.tolist(), fl.bits.tolist()):
        if math.isnan(x):
            assert O.classify(bits, F.binary32)[0] == "nan"
            continue
        if math.isinf(x):
            assert bits == (0x7F800000 | (0x80000000 if x < 0 else 0)) and f == 0
            continue
        eb, ef = O.round_exact(Fraction(x), F.binary32, mode, zero_sign=math.copysign(1, x) < 0)
        assert bits == eb and f == ef, (x, hex(bits), hex(eb), f, ef)
    a, _ = _sample(3000, 7)
    back, fl = B.to_float64(a)
    ok = ~np.isnan(back)
    assert np.array_equal(back[ok], _f(a)[ok].astype(np.float64))
    assert np.array_equal(np.isnan(back), np.isnan(_f(a)))


def test_from_fraction_and_to_fraction():
    qs = [Fraction(1, 3), Fraction(-2, 7), Fraction(1, 10 ** 50), Fraction(10 ** 40), Fraction(0)]
    for mode in MODES:
        out, fl = B.from_fraction(np.array(qs, dtype=object), rounding=mode)
        for q, bits in zip(qs, out.tolist()):
            assert bits == F.round_fraction(q, F.binary32, mode).bits
    back = B.to_fraction(np.array([0x3F800000, 0x00000001], np.uint32))
    assert back[0] == 1 and back[1] == Fraction(1, 2 ** 149)


def test_next_up_down():
    a, _ = _sample(3000, 8)
    x = _f(a)
    up, _ = B.next_up(a)
    dn, _ = B.next_down(a)
    ok = ~np.isnan(x)
    assert np.array_equal(_f(up)[ok], np.nextafter(x[ok], np.float32(np.inf)))
    assert np.array_equal(_f(dn)[ok], np.nextafter(x[ok], np.float32(-np.inf)))


def test_nan_presets_propagation():
    q1, q2, s1 = 0x7FC00001, 0xFFC00002, 0x7F800003
    one = 0x3F800000
    cases = {
        "x86": {(q1, q2): q1, (q2, q1): q2, (one, s1): 0x7FC00003, (q1, s1): q1},
        "arm": {(q1, q2): q1, (q1, s1): 0x7FC00003, (s1, q1): 0x7FC00003},
        "cuda": {(q1, q2): 0x7FFFFFFF, (q1, s1): 0x7FFFFFFF},
    }
    for preset, table in cases.items():
        for (a, b), want in table.items():
            out, fl = B.add(np.uint32(a), np.uint32(b), nan=preset)
            assert int(out) == want, (preset, hex(a), hex(b), hex(int(out)))
            assert bool(fl.invalid) == (s1 in (a, b))
    # fma on arm: the addend c comes first
    out, _ = B.fma(np.uint32(q1), np.uint32(one), np.uint32(q2), nan="arm")
    assert int(out) == q2
    out, _ = B.fma(np.uint32(q1), np.uint32(one), np.uint32(q2), nan="x86")
    assert int(out) == q1
    # inf * 0 + qNaN: invalid, default NaN
    out, fl = B.fma(np.uint32(0x7F800000), np.uint32(0), np.uint32(q1), nan="x86")
    assert int(out) == 0xFFC00000 and fl.invalid
