"""The binary32 fast paths against the reference (SoftFloat-style) loops, bit
for bit and flag for flag: + - * / sqrt fma in every mode and subnormal policy,
the elementary-function fast lane against elem_s alone, and the ieee32
fma_chain / pairwise matmul kernels against the reference composition."""
from __future__ import annotations

import numpy as np
import pytest
from numba import njit

import fpsem
from fpsem import emu
from fpsem import formats as F
from fpsem.emu import _kernels as K
from fpsem.emu import elementary as EL

from _emu_util import MODES, edges, random_operands, sweep_n

B = emu.binary32


def _ref(op, a, b, c, cfg):
    n = a.size
    out = np.empty(n, np.uint32)
    fl = np.empty(n, np.uint8)
    if op in ("add", "sub"):
        K.k_add(a, b, cfg, int(op == "sub"), out, fl)
    elif op == "mul":
        K.k_mul(a, b, cfg, out, fl)
    elif op == "div":
        K.k_div(a, b, cfg, out, fl)
    elif op == "sqrt":
        K.k_sqrt(a, cfg, out, fl)
    else:
        K.k_fma(a, b, c, cfg, out, fl)
    return out, fl


def _operands(rng):
    e = edges(F.binary32)
    ea, eb = np.meshgrid(e, e)
    ea, eb = ea.ravel(), eb.ravel()
    ec = np.resize(e[::-1], ea.size)
    r = random_operands(rng, sweep_n(60_000, 1_000_000), F.binary32, 3)
    # near-ties: two-bit significands (exact products and midpoints), close exponents
    n = 20_000
    short = [((rng.integers(100, 150, n) << 23) | (rng.integers(0, 8, n) << 20)
              | (rng.integers(0, 2, n) << 31)).astype(np.uint32) for _ in range(3)]
    return [np.concatenate([x, y, s]) for x, y, s in zip((ea, eb, ec), r, short)]


@pytest.mark.parametrize("mode", MODES)
def test_fast_arith_matches_reference(mode):
    rng = np.random.default_rng(7 + MODES.index(mode))
    a, b, c = _operands(rng)
    for ftz, daz, tin in ((False, False, "after"), (True, True, "after"), (True, False, "before"),
                          (False, True, "after")):
        cfg = B.cfg(mode, ftz, daz, tin)
        for op in ("add", "sub", "mul", "div", "sqrt", "fma"):
            o1, f1 = K.fast_binary32(op, a, None if op == "sqrt" else b, cfg,
                                     c if op == "fma" else None)
            o2, f2 = _ref(op, a, b, c, cfg)
            bad = np.nonzero((o1 != o2) | (f1 != f2))[0]
            assert bad.size == 0, (op, mode, ftz, daz, tin, hex(a[bad[0]]), hex(b[bad[0]]),
                                   hex(c[bad[0]]), hex(o1[bad[0]]), hex(o2[bad[0]]))


def test_public_api_uses_fast_path_consistently():
    rng = np.random.default_rng(3)
    a, b, c = random_operands(rng, 5000, F.binary32, 3)
    for mode in MODES:
        o1, f1 = B.fma(a, b, c, rounding=mode, ftz=True)
        o2, f2 = _ref("fma", a, b, c, B.cfg(mode, True))
        assert np.array_equal(o1, o2) and np.array_equal(f1.bits, f2)


@njit(cache=True)
def _elem_ref(fn, a, cfg, out, fl, hard):
    nh = 0
    for i in range(a.size):
        r, f, h = EL.elem_s(fn, np.int64(a[i]), cfg)
        out[i] = r
        fl[i] = f
        if h:
            hard[nh] = i
            nh += 1
    return nh


@pytest.mark.parametrize("fn", list(EL.FUNCTIONS))
def test_elementary_fast_lane_matches_elem_s(fn):
    rng = np.random.default_rng(11 + EL.FUNCTIONS[fn])
    n = sweep_n(20_000, 300_000)
    u = rng.integers(0, 2 ** 32, n, dtype=np.int64).astype(np.uint32)
    r = rng.uniform(-100, 100, n).astype(np.float32).view(np.uint32)
    sm = (np.exp2(rng.uniform(-40, 7, n)).astype(np.float32).view(np.uint32)
          | (rng.integers(0, 2, n).astype(np.uint32) << 31))
    ints = np.arange(-200, 200, dtype=np.float32).view(np.uint32)
    pw = np.exp2(np.arange(-149, 128, dtype=np.float64)).astype(np.float32).view(np.uint32)
    x = np.concatenate([u, r, sm, ints, pw, edges(F.binary32)])
    code = EL.FUNCTIONS[fn]
    for mode in MODES:
        for daz in (False, True):
            cfg = B.cfg(mode, daz, daz)
            o1, f1, h1 = np.empty(x.size, np.uint32), np.empty(x.size, np.uint8), np.empty(x.size, np.int64)
            o2, f2, h2 = o1.copy(), f1.copy(), h1.copy()
            n1 = EL.k_elem(code, x, cfg, o1, f1, h1)
            n2 = _elem_ref(code, x, cfg, o2, f2, h2)
            hard = np.zeros(x.size, bool)
            hard[h1[:n1]] = True
            hard[h2[:n2]] = True
            # a lane hard for one and decided by the other: the oracle settles it elsewhere
            bad = np.nonzero(((o1 != o2) | (f1 != f2)) & ~hard)[0]
            assert bad.size == 0, (fn, mode, daz, hex(x[bad[0]]), hex(o1[bad[0]]), hex(o2[bad[0]]))


@pytest.mark.parametrize("acc", ["fma_chain", "pairwise"])
def test_fast_matmul_kernels_match_reference(acc):
    D = fpsem.domain("ieee32")
    R = fpsem.domain("ieee32", exact_flags=True)  # forces the reference kernels
    rng = np.random.default_rng(5)
    for trial in range(12):
        m, k, n = rng.integers(1, 5), rng.integers(1, 70), rng.integers(1, 7)
        a = (rng.standard_normal((m, k)) * np.exp2(rng.integers(-30, 30, (m, k)))).astype(np.float32)
        b = (rng.standard_normal((k, n)) * np.exp2(rng.integers(-30, 30, (k, n)))).astype(np.float32)
        if trial % 3 == 0:
            a.view(np.uint32)[rng.random((m, k)) < 0.3] &= 0x807FFFFF  # subnormals
        if trial % 4 == 1:
            b = np.round(b * 8) / 8  # short significands: exact sums and ties
            a = np.round(a * 8) / 8
        if trial % 5 == 0:
            a[0, 0] = np.inf
            b[-1, -1] = np.nan
        with np.errstate(all="ignore"):
            if trial % 6 == 5:
                a = (a * np.float32(1e30)).astype(np.float32)
            r1 = np.asarray(D.dot(a, b, acc=acc))
            r2 = np.asarray(R.dot(a, b, acc=acc))
        assert np.array_equal(r1.view(np.uint32), r2.view(np.uint32)), (acc, trial)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "sqrt"])
def test_rne_fast_path_slow_lanes_across_blocks(op):
    """Lanes the binary32 rne loops hand back to the reference (zero, subnormal,
    overflowing, NaN results) are found in every position of a long array: at
    both ends, on either side of the 4096-lane scan blocks and in the tail."""
    n = 3 * 4096 + 123
    rng = np.random.default_rng(11)
    x = (rng.standard_normal(n) * 4).astype(np.float32)
    y = (rng.standard_normal(n) * 4).astype(np.float32)
    hard = np.array([0, 1, 4095, 4096, 4097, 8191, 8192, 12287, 12288, n - 2, n - 1])
    tiny, big = np.float32(1e-38), np.float32(3e38)
    if op in ("add", "sub"):
        x[hard], y[hard] = tiny, (tiny if op == "sub" else -tiny) * np.float32(0.75)
        x[hard[::2]], y[hard[::2]] = big, (big if op == "add" else -big)
    elif op == "mul":
        x[hard], y[hard] = tiny, np.float32(0.3)
        x[hard[::2]], y[hard[::2]] = big, np.float32(3.0)
    elif op == "div":
        x[hard], y[hard] = tiny, np.float32(7.0)
        x[hard[::2]], y[hard[::2]] = np.float32(0.0), np.float32(0.0)
    else:
        x[hard] = np.float32(-1.0)
        x[hard[::2]] = np.float32(0.0)
        x = np.where(np.isin(np.arange(n), hard), x, np.abs(x)).astype(np.float32)
    xb, yb = x.view(np.uint32), y.view(np.uint32)
    B = emu.binary32
    cfg = B.cfg("rne")
    out, fl = np.empty(n, np.uint32), np.empty(n, np.uint8)
    if op == "sqrt":
        got, gf = B.sqrt(xb)
        K.k_sqrt(xb, cfg, out, fl)
    else:
        got, gf = getattr(B, op)(xb, yb)
        if op in ("add", "sub"):
            K.k_add(xb, yb, cfg, int(op == "sub"), out, fl)
        else:
            getattr(K, "k_" + op)(xb, yb, cfg, out, fl)
    assert np.array_equal(got, out)
    assert np.array_equal(gf.bits, fl)
    assert (fl[hard] & ~np.uint8(16)).any()  # the planted lanes really were special
