"""The NaN-free max of the ieee domains equals the emulator's reference loop bit for bit."""
import numpy as np
import pytest

import fpsem
from fpsem.domains.ieee import _ref_max
from fpsem.value import Value
from fpsem.value import raw as storage


@pytest.mark.parametrize("name", ["ieee32", "fp16", "bf16"])
def test_max_equals_the_reference(name):
    D = fpsem.domain(name)
    rng = np.random.default_rng(3)
    nbits = D.format.bits
    raw = rng.integers(0, 1 << nbits, size=(400, 7), dtype=np.uint64)
    sign = 1 << (nbits - 1)
    inf = ((1 << D.format.ebits) - 1) << (D.format.p - 1)
    raw = np.where((raw & (sign - 1)) > inf, raw & ~np.uint64(inf), raw)   # no NaN
    raw[:50, :2] = [0, sign]            # +0 / -0 pairs, both orders
    raw[50:100, :2] = [sign, 0]
    raw[100:120, :] = sign               # all -0
    raw[120:140, 3] = inf                # +inf
    raw[140:160, :] = inf | sign         # all -inf
    raw[160:180, :] = rng.integers(1, 4, size=(20, 7))   # subnormals
    b = raw.astype(D.E.dtype)
    got = D._bits(storage(D.max(Value(D, D._val(b)), axis=-1)))   # storage-level test
    ref, fl = _ref_max(b.astype(np.uint32), D._cfg)
    assert np.array_equal(got.astype(np.uint32), ref) and fl == 0


def test_a_nan_row_goes_to_the_reference():
    D = fpsem.domain("ieee32")
    x = D.asarray([[1.0, float("nan"), 2.0], [3.0, -0.0, 0.0]])
    with D.collect_flags() as fl:
        m = D.max(x, axis=-1)
    assert np.isnan(m[0]) and m[1] == 3 and not fl["invalid"]
