"""The binary32 reduction kernels built from fast lanes (every mode and subnormal
policy) against the pure reference loops, bit for bit, flags included."""
from __future__ import annotations

import zlib

import numpy as np
import pytest

from fpsem.emu import binary32 as E
from fpsem.emu import reduce as red

MODES = ["rne", "rtz", "rup", "rdn", "rna"]


def _operands(rng, shape, specials):
    x = (rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 4, shape)).astype(np.float32)
    bits = x.view(np.uint32).copy()
    if specials:
        pool = np.array([0x00000000, 0x80000000, 0x00000001, 0x807FFFFF, 0x00800000, 0x7F7FFFFF,
                         0xFF7FFFFF, 0x7F800000, 0xFF800000, 0x7FC00001, 0x7F800001, 0x3F800000,
                         0x1F800000, 0x20000000, 0x5F800000, 0x00400000], np.uint32)
        mask = rng.random(shape) < 0.08
        bits[mask] = rng.choice(pool, int(mask.sum()))
        tiny = rng.random(shape) < 0.05  # products and sums near the underflow threshold
        bits[tiny] = (rng.uniform(1, 2, int(tiny.sum())) * 2.0 ** -63).astype(np.float32).view(np.uint32)
    return bits


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("subn", [False, True])
@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("specials", [False, True])
def test_lane_dot_matches_reference(mode, subn, fused, specials):
    rng = np.random.default_rng(zlib.crc32(repr((mode, subn, fused, specials)).encode()))
    cfg = E.cfg(mode, ftz=subn, daz=subn)
    for B, m, k, n in [(1, 3, 1, 5), (2, 4, 9, 7), (1, 5, 33, 11)]:
        a = _operands(rng, (B, m, k), specials)
        b = _operands(rng, (B, k, n), specials)
        got, gf = red.lane_seq_dot(a, b, cfg, fused)
        want, wf = red.ref_seq_dot(a, b, cfg, fused)
        assert np.array_equal(got, want), (B, m, k, n)
        assert gf == wf


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("subn", [False, True])
def test_lane_sum_matches_reference(mode, subn):
    rng = np.random.default_rng(zlib.crc32(repr((mode, subn)).encode()))
    cfg = E.cfg(mode, ftz=subn, daz=subn, tininess="before" if subn else "after")
    for R, n in [(3, 1), (4, 17), (6, 64)]:
        x = _operands(rng, (R, n), True)
        got, gf = red.lane_seq_sum(x, cfg)
        want, wf = red.ref_seq_sum(x, cfg)
        assert np.array_equal(got, want)
        assert gf == wf
