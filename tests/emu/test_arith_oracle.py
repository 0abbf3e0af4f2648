"""binary32 (and siblings) +, -, *, /, fma, sqrt against the gmpy2/rational oracle:
every mode, the cross product of edge classes, and random sweeps (1e6 per op and
mode under FPSEM_PROFILE=thorough)."""
from __future__ import annotations

import itertools
import zlib

import numpy as np
import pytest

from fpsem import formats as F
from fpsem import emu

from _emu_util import MODES, compare_to_oracle, edges, random_operands, sweep_n

FORMATS = {"binary32": F.binary32, "binary16": F.binary16, "bfloat16": F.bfloat16,
           "e5m2": F.e5m2, "e4m3": F.e4m3}


def _run(E, op, args, mode, **kw):
    fn = getattr(E, op)
    out, fl = fn(*args, rounding=mode, **kw)
    return out, fl.bits


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_binary_edges(op, mode):
    fmt = F.binary32
    e = edges(fmt)
    a, b = (np.array(t, dtype=np.uint32) for t in zip(*itertools.product(e, e)))
    out, fl = _run(emu.binary32, op, (a, b), mode)
    bad = compare_to_oracle(fmt, op, out, fl, (a, b), mode)
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "fma", "sqrt"])
def test_random_sweep(op, mode):
    fmt = F.binary32
    rng = np.random.default_rng(zlib.crc32(repr((op, mode)).encode()))
    arity = {"sqrt": 1, "fma": 3}.get(op, 2)
    n = sweep_n(1500)
    args = random_operands(rng, n, fmt, arity)
    out, fl = _run(emu.binary32, op, args, mode)
    bad = compare_to_oracle(fmt, op, out, fl, args, mode)
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("mode", MODES)
def test_fma_edges(mode):
    fmt = F.binary32
    e = edges(fmt)
    trip = np.array(list(itertools.product(e, e, e)), dtype=np.uint32)
    if not _util_thorough():
        rng = np.random.default_rng(7)
        trip = trip[rng.choice(len(trip), 4000, replace=False)]
    a, b, c = trip.T.copy()
    out, fl = _run(emu.binary32, "fma", (a, b, c), mode)
    bad = compare_to_oracle(fmt, "fma", out, fl, (a, b, c), mode)
    assert not bad, "\n".join(bad)


def _util_thorough():
    from _emu_util import THOROUGH
    return THOROUGH


@pytest.mark.parametrize("mode", MODES)
def test_sqrt_edges(mode):
    fmt = F.binary32
    a = edges(fmt)
    out, fl = _run(emu.binary32, "sqrt", (a,), mode)
    bad = compare_to_oracle(fmt, "sqrt", out, fl, (a,), mode)
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("tininess", ["after", "before"])
@pytest.mark.parametrize("ftz,daz", [(True, False), (False, True), (True, True)])
@pytest.mark.parametrize("op", ["add", "mul", "div", "fma", "sqrt"])
def test_subnormal_policies(op, ftz, daz, tininess):
    fmt = F.binary32
    rng = np.random.default_rng(11)
    arity = {"sqrt": 1, "fma": 3}.get(op, 2)
    n = sweep_n(400, 100_000)
    for mode in MODES:
        args = random_operands(rng, n, fmt, arity)
        # bias towards the subnormal range
        args = [np.where(rng.integers(0, 3, n) == 0, a & np.uint32(0x807FFFFF), a).astype(np.uint32)
                for a in args]
        out, fl = _run(emu.binary32, op, args, mode, ftz=ftz, daz=daz, tininess=tininess)
        bad = compare_to_oracle(fmt, op, out, fl, args, mode, tininess, ftz, daz)
        assert not bad, "\n".join(bad)


@pytest.mark.parametrize("tininess", ["after", "before"])
@pytest.mark.parametrize("mode", MODES)
def test_tininess_boundary(mode, tininess):
    """Products landing just below the smallest normal: the two tininess rules differ."""
    fmt = F.binary32
    rng = np.random.default_rng(5)
    n = 2000
    a = ((rng.integers(0, 1 << 23, n) | (np.int64(0x3F) << 23)) ).astype(np.uint32)  # [0.5, 1)
    b = np.full(n, 0x00800000, np.uint32) + rng.integers(0, 4, n).astype(np.uint32)
    sign = (rng.integers(0, 2, n) << 31).astype(np.uint32)
    a = a | sign
    out, fl = _run(emu.binary32, "mul", (a, b), mode, tininess=tininess)
    bad = compare_to_oracle(fmt, "mul", out, fl, (a, b), mode, tininess)
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("name", ["binary16", "bfloat16", "e5m2", "e4m3"])
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "fma", "sqrt"])
def test_sibling_formats(name, op):
    fmt = FORMATS[name]
    E = getattr(emu, name)
    rng = np.random.default_rng(3)
    arity = {"sqrt": 1, "fma": 3}.get(op, 2)
    for mode in MODES:
        if arity == 2:
            e = edges(fmt)
            ea, eb = (np.array(t, dtype=np.uint32) for t in zip(*itertools.product(e, e)))
        else:
            ea = eb = None
        args = random_operands(rng, sweep_n(300, 100_000), fmt, arity)
        if ea is not None:
            args = [np.concatenate([ea, args[0]]), np.concatenate([eb, args[1]])]
        args = [a.astype(E.dtype) for a in args]
        out, fl = _run(E, op, args, mode)
        assert out.dtype == E.dtype
        bad = compare_to_oracle(fmt, op, out, fl, args, mode)
        assert not bad, "\n".join(bad)
