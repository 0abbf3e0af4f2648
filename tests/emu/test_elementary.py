"""Correctly rounded elementary functions against MPFR (Ziv loop), every mode."""
from __future__ import annotations

import numpy as np
import pytest

from fpsem import emu
from fpsem import formats as F
from fpsem.emu.elementary import FUNCTIONS
from fpsem.emu.oracle import elementary_oracle

from _emu_util import MODES, compare_to_oracle, edges, sweep_n


def _inputs(fn, rng, n):
    """Random bit patterns plus the function's interesting range."""
    u = rng.integers(0, 2 ** 32, n, dtype=np.int64).astype(np.uint32)
    lo, hi = {"exp": (-110, 90), "exp2": (-155, 130), "log": (0, 10), "tanh": (-12, 12),
              "erf": (-5, 5), "sin": (-100, 100), "cos": (-100, 100), "sigmoid": (-110, 30),
              "rsqrt": (0, 100)}[fn]
    r = rng.uniform(lo, hi, n).astype(np.float32).view(np.uint32)
    small = (rng.uniform(-30, 3, n).astype(np.float32)).view(np.uint32)  # log-spaced-ish
    small = np.exp2(rng.uniform(-40, 0, n)).astype(np.float32).view(np.uint32) | \
        (rng.integers(0, 2, n).astype(np.uint32) << 31)
    return np.concatenate([u, r, small, edges(F.binary32)])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fn", list(FUNCTIONS))
def test_elementary_binary32(fn, mode):
    rng = np.random.default_rng(abs(hash(fn)) % 2 ** 31)
    x = _inputs(fn, rng, sweep_n(150, 200_000))
    out, fl = getattr(emu.binary32, fn)(x, rounding=mode)
    bad = compare_to_oracle(F.binary32, fn, out, fl.bits, (x,), mode,
                            oracle=lambda ops: elementary_oracle(fn, ops[0], F.binary32, mode))
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("fn", ["exp", "tanh", "sin"])
@pytest.mark.parametrize("name", ["binary16", "bfloat16"])
def test_elementary_siblings(fn, name):
    E = getattr(emu, name)
    fmt = E.format
    x = np.arange(0, 1 << 16, 37, dtype=np.uint16)
    for mode in MODES:
        out, fl = getattr(E, fn)(x, rounding=mode)
        bad = compare_to_oracle(fmt, fn, out, fl.bits, (x,), mode,
                                oracle=lambda ops: elementary_oracle(fn, ops[0], fmt, mode))
        assert not bad, "\n".join(bad)


def test_exhaustive_binary16_exp_rne():
    """Every binary16 input, exp and tanh, round to nearest (65536 cases each)."""
    E = emu.binary16
    x = np.arange(0, 1 << 16, dtype=np.uint16)
    if not sweep_n(0, 1):
        x = x[::7]
    for fn in ("exp", "tanh"):
        out, fl = getattr(E, fn)(x)
        bad = compare_to_oracle(E.format, fn, out, fl.bits, (x,), "rne",
                                oracle=lambda ops: elementary_oracle(fn, ops[0], E.format, "rne"))
        assert not bad, "\n".join(bad)


@pytest.mark.parametrize("tininess", ["after", "before"])
@pytest.mark.parametrize("ftz", [False, True])
def test_elementary_underflow(ftz, tininess):
    rng = np.random.default_rng(1)
    x = rng.uniform(-104, -80, 300).astype(np.float32).view(np.uint32)
    for mode in MODES:
        out, fl = emu.binary32.exp(x, rounding=mode, ftz=ftz, tininess=tininess)
        bad = compare_to_oracle(F.binary32, "exp", out, fl.bits, (x,), mode, tininess, ftz,
                                oracle=lambda ops: elementary_oracle("exp", ops[0], F.binary32, mode,
                                                                     tininess, ftz))
        assert not bad, "\n".join(bad)
