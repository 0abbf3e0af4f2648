"""The ieee32 / bf16 / fp16 domains: every primitive runs, options are honoured,
fast paths are bit-identical to the reference, orders follow fpsem.order."""
from __future__ import annotations

import numpy as np
import pytest

from fpsem.domain import PRIMITIVES
from fpsem.emu.flags import flags_dict
from fpsem.errors import NotRepresentable, UnsupportedOption
from fpsem.registry import domain

ORDERS = ["sequential", "fma_chain", "pairwise", "blocked(5)", "tree(4)", "exact_then_round"]
SPECIAL = np.array([0.0, -0.0, 1e-45, -3e-44, 1.1754942e-38, 3.4028235e38, -3.4028235e38,
                    np.inf, -np.inf, np.nan, 1.0, -1.0, 1.0000001, 0.99999994], np.float32)


def _same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and np.array_equal(a.view(np.uint8), b.view(np.uint8))


@pytest.mark.parametrize("name", ["ieee32", "bf16", "fp16"])
def test_every_primitive_runs(name):
    D = domain(name)
    x = D.asarray(np.array(["0.5", "1.25", "-2", "3/7"], dtype=object))
    y = D.asarray(np.array([1.5, -0.25, 2.0, 0.125]))
    for p in ("add", "sub", "mul", "div", "minimum", "maximum", "lt", "le", "gt", "ge", "eq", "ne"):
        assert D.shape(getattr(D, p)(x, y)) == (4,)
    for p in ("neg", "abs", "exp", "exp2", "log", "tanh", "erf", "sin", "cos"):
        assert D.shape(getattr(D, p)(D.abs(x) if p == "log" else x)) == (4,)
    assert D.shape(D.sqrt(D.abs(x))) == (4,)
    assert D.shape(D.fma(x, y, x)) == (4,)
    m = D.reshape(D.concat([x, y, x, y]), (4, 4))
    for acc in ORDERS:
        assert D.shape(D.dot(m, m, acc=acc)) == (4, 4)
        assert D.shape(D.sum(m, axis=0, acc=acc)) == (4,)
    assert D.shape(D.max(m, axis=1)) == (4,)
    assert D.shape(D.where(D.lt(x, y), x, y)) == (4,)
    assert D.to_fraction(D.const("1/2"))[()] == 0.5
    assert D.to_float64(x).dtype == np.float64
    assert all(D.supports(p) for p in PRIMITIVES)
    assert D.is_value(x)


def test_rejects_unknown_options():
    with pytest.raises(UnsupportedOption):
        domain("ieee32", rounding="stochastic")
    with pytest.raises(UnsupportedOption):
        domain("ieee32", nan="riscv")
    with pytest.raises(UnsupportedOption):
        domain("ieee32", tininess="sometimes")


def test_to_fraction_rejects_inf():
    D = domain("ieee32")
    with pytest.raises(NotRepresentable):
        D.to_fraction(D.asarray(np.array([np.inf])))


def test_asarray_rounds_once_in_mode():
    for mode, expect in [("rne", 0x3DCCCCCD), ("rtz", 0x3DCCCCCC), ("rup", 0x3DCCCCCD),
                         ("rdn", 0x3DCCCCCC), ("rna", 0x3DCCCCCD)]:
        D = domain("ieee32", rounding=mode)
        assert int(D.const("0.1").view(np.uint32)) == expect


@pytest.mark.parametrize("acc", ORDERS)
def test_fast_dot_and_sum_match_reference(acc):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((2, 9, 37)).astype(np.float32)
    b = rng.standard_normal((2, 37, 7)).astype(np.float32)
    a[0, 0, :5] = SPECIAL[:5]
    a[1, 2, 3] = np.nan
    b[0, 4, 1] = np.inf
    a[1, 5, :] *= np.float32(1e-39)  # subnormal products
    fast, ref = domain("ieee32"), domain("ieee32", exact_flags=True)
    with np.errstate(all="ignore"):
        assert _same(fast.dot(a, b, acc=acc), ref.dot(a, b, acc=acc))
        assert _same(fast.sum(a, axis=-1, acc=acc), ref.sum(a, axis=-1, acc=acc))


def test_sequential_dot_definition():
    """s = fl(x0*y0); s = fl(s + fl(x_i*y_i)), checked against the emulator op by op."""
    from fpsem import emu
    rng = np.random.default_rng(2)
    for mode in ("rne", "rup", "rtz"):
        D = domain("ieee32", rounding=mode)
        x = rng.standard_normal(23).astype(np.float32)
        y = rng.standard_normal(23).astype(np.float32)
        s, _ = emu.binary32.mul(x[0].view(np.uint32), y[0].view(np.uint32), rounding=mode)
        for i in range(1, 23):
            p, _ = emu.binary32.mul(x[i].view(np.uint32), y[i].view(np.uint32), rounding=mode)
            s, _ = emu.binary32.add(s, p, rounding=mode)
        assert int(D.dot(x, y).view(np.uint32)) == int(s)
        # fma_chain starts from +0
        s = np.uint32(0)
        for i in range(23):
            s, _ = emu.binary32.fma(x[i].view(np.uint32), y[i].view(np.uint32), s, rounding=mode)
        assert int(D.dot(x, y, acc="fma_chain").view(np.uint32)) == int(s)


def test_fast_fma_matches_reference():
    from fpsem import emu
    rng = np.random.default_rng(3)
    n = 200_000
    bits = [rng.integers(0, 2 ** 32, n, dtype=np.int64).astype(np.uint32) for _ in range(3)]
    # and products near c: heavy cancellation
    x = rng.standard_normal(n).astype(np.float32)
    y = rng.standard_normal(n).astype(np.float32)
    z = (-(x.astype(np.float64) * y)).astype(np.float32)
    D = domain("ieee32")
    for a, b, c in [bits, (x.view(np.uint32), y.view(np.uint32), z.view(np.uint32))]:
        with np.errstate(all="ignore"):
            got = D.fma(a.view(np.float32), b.view(np.float32), c.view(np.float32))
        ref, _ = emu.binary32.fma(a, b, c)
        assert np.array_equal(got.view(np.uint32), ref)


def test_flags_are_collected_per_domain_not_kept():
    D1, D2 = domain("ieee32"), domain("ieee32", rounding="rtz")
    one = D1.const(1)
    with D1.collect_flags() as f1, D2.collect_flags() as f2:
        D1.div(one, D1.const(0))
        assert f1["divide_by_zero"] and not f1["inexact"]
        D2.div(D2.const(1), D2.const(3))
    assert f1["divide_by_zero"] and not f1["inexact"]
    assert f2["inexact"] and not f2["divide_by_zero"]
    with D1.collect_flags() as f3:
        pass
    assert not any(f3.values())
    # the domain is a pure value: no flag state travels with it
    assert "_flagbox" not in vars(D1) and D1 == domain("ieee32")


def test_directed_mode_and_ftz_change_results():
    x = np.array([1.0], np.float32)
    y = np.array([1e-10], np.float32)
    up = domain("ieee32", rounding="rup").add(x, y)
    dn = domain("ieee32", rounding="rdn").add(x, y)
    assert up[0] > dn[0]
    tiny = np.array([1e-38], np.float32)
    assert domain("ieee32", ftz=True).mul(tiny, np.array([0.5], np.float32))[0] == 0
    assert domain("ieee32").mul(tiny, np.array([0.5], np.float32))[0] != 0
    assert domain("ieee32", daz=True).add(np.array([1e-40], np.float32), np.array([0.0], np.float32))[0] == 0


def test_nan_presets():
    nan_in = np.array([0x7F800001], np.uint32).view(np.float32)  # signalling NaN
    one = np.array([1.0], np.float32)
    got = {p: int(domain("ieee32", nan=p).add(nan_in, one).view(np.uint32)[0]) for p in ("x86", "cuda", "arm")}
    assert got == {"x86": 0x7FC00001, "cuda": 0x7FFFFFFF, "arm": 0x7FC00001}
    inv = {p: int(domain("ieee32", nan=p).sub(np.array([np.inf], np.float32), np.array([np.inf], np.float32)).view(np.uint32)[0])
           for p in ("x86", "cuda", "arm")}
    assert inv == {"x86": 0xFFC00000, "cuda": 0x7FFFFFFF, "arm": 0x7FC00000}


@pytest.mark.parametrize("name", ["bf16", "fp16"])
def test_small_formats_dot_orders_agree_with_reference_ops(name):
    D = domain(name)
    rng = np.random.default_rng(4)
    a = D.asarray(rng.standard_normal((3, 8)))
    b = D.asarray(rng.standard_normal((8, 2)))
    seq = D.to_float64(D.dot(a, b))
    assert np.allclose(seq, D.to_float64(a) @ D.to_float64(b), rtol=0.1, atol=0.1)


@pytest.mark.parametrize("name", ["bf16", "fp16"])
@pytest.mark.parametrize("daz", [False, True])
def test_widening_fast_path_is_the_emulator(name, daz):
    """bf16/fp16 values widened to binary32 for a dot or a sum: the cast (no DAZ, no
    NaN) gives the emulator's bits, for every one of the 2^16 encodings."""
    D = domain(name, daz=daz)
    bits = np.arange(2 ** 16, dtype=np.uint16)
    x = D._val(bits)
    ref = D._as64(x).astype(np.float32)
    finite = ~np.isnan(ref)
    assert _same(D._widen(x[finite]), ref[finite])
    assert _same(D._widen(x), ref)                 # with NaN: the emulator throughout


@pytest.mark.parametrize("name", ["bf16", "fp16"])
def test_float32_cast_fast_path_is_the_emulator(name):
    """float32 data into bf16/fp16 (D.asarray of weights): numpy's cast gives the
    emulator's bits (all 2^32 float32 were checked once; here a sample with every
    exponent, the rounding boundaries, subnormals and overflow)."""
    D = domain(name)
    rng = np.random.default_rng(11)
    bits = np.concatenate([rng.integers(0, 2 ** 32, 400_000, dtype=np.uint64),
                           np.arange(0, 2 ** 32, 2 ** 13, dtype=np.uint64)]).astype(np.uint32)
    low = np.uint32(2 ** 13 - 1 if name == "fp16" else 2 ** 16 - 1)
    half = np.uint32(2 ** 12 if name == "fp16" else 2 ** 15)
    ties = np.concatenate([(bits & ~low) | half, (bits & ~low) | (half - 1), (bits & ~low) | (half + 1)])
    x = np.concatenate([bits, ties]).view(np.float32)
    x = x[~np.isnan(x)]
    fast = D._cast_float32(x)
    assert fast is not None
    out, _ = D.E.from_float64(x.astype(np.float64), **D._kw)
    assert _same(fast, D._val(out))
    assert D._cast_float32(np.array([1.0, np.nan], np.float32)) is None
    assert domain(name, rounding="rtz")._cast_float32(x) is None
    # the flags it raises are the emulator's, on samples that raise some or none
    tiny = np.float32(2.0 ** domain(name).format.emin)
    for sample in (x[:5000], np.array([1.0, 2.0, -0.5], np.float32), np.array([3e38, 1.0], np.float32),
                   np.array([tiny * 0.75, 1.0], np.float32), np.array([tiny * 0.5, -tiny], np.float32),
                   np.array([tiny * (1 - 2.0 ** -20)], np.float32), x[np.abs(x) < tiny][:100]):
        for tininess in ("after", "before"):
            Dt = domain(name, tininess=tininess)
            with Dt.collect_flags() as got:
                Dt._cast_float32(sample)
            _, fl = Dt.E.from_float64(sample.astype(np.float64), **Dt._kw)
            assert got == flags_dict(fl.summary()), (sample[:4], got)
