"""Every op in float32 and float64 against the real result.

The tolerance is the ball oracle (tests/_ball.py): it encloses every execution
that keeps the domain's declared accuracies (0.5 ulp for correctly rounded
primitives, k ulp for the declared numpy kernels, gamma_k for reductions in
the domain's order), so it is derived from the declarations, not tuned. The
real result comes from the exact domain where the op is rational and from a
60-digit mpmath domain otherwise; it must lie in the ball too (a check of the
oracle itself), and the ball must be tight enough to mean something.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import fpsem
from fpsem.ops.records import RECORDS
from fpsem.value import raw
from _ball import BallDomain
from _mp import MpDomain

FLOATS = ["float32", "float64"]
ORDERS = ["native", "sequential", "pairwise", "blocked(3)", "tree(4)", "fma_chain"]


def _flat(D, out):
    if isinstance(out, tuple):
        return np.concatenate([_flat(D, o) for o in out])
    return np.asarray(D.to_float64(out), dtype=np.float64).ravel()


def _ball_flat(out):
    if isinstance(out, tuple):
        parts = [_ball_flat(o) for o in out]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    out = raw(out)  # the oracle's own (m, r) storage
    return out.m.ravel(), out.r.ravel()


def _check(rec, dname, seed, acc=None):
    opts = {} if acc is None else {"acc": acc}
    T = fpsem.domain(dname, **opts)
    B = BallDomain(T)
    got = _flat(T, rec.run(T, np.random.default_rng(seed)))
    m, r = _ball_flat(rec.run(B, np.random.default_rng(seed)))
    ref_D = fpsem.domain("exact") if rec.rational else MpDomain()
    ref = _flat(ref_D, rec.run(ref_D, np.random.default_rng(seed)))
    assert np.all(np.abs(ref - m) <= r), f"{rec.name}: oracle ball misses the real result"
    bad = np.abs(got - m) > r
    assert not bad.any(), (
        f"{rec.name}[{T.label}] outside its declared-accuracy envelope at {np.flatnonzero(bad)[:5]}: "
        f"got {got[bad][:3]}, real {ref[bad][:3]}, radius {r[bad][:3]}")
    # the envelope is meaningful: a relative radius far below 1
    u = 2.0 ** -T.format.p
    scale = max(float(np.max(np.abs(ref))), 1e-3) if ref.size else 1.0
    assert np.max(r, initial=0) < 1e4 * u * scale, f"{rec.name}: oracle radius too loose to test anything"


@pytest.mark.parametrize("rec", RECORDS, ids=[r.name for r in RECORDS])
@pytest.mark.parametrize("dname", FLOATS)
def test_op_within_declared_accuracy(rec, dname):
    _check(rec, dname, seed=1)


@pytest.mark.parametrize("acc", ORDERS)
@pytest.mark.parametrize("name", ["matmul", "linear", "sum", "layer_norm", "softmax", "conv2d",
                                  "scaled_dot_product_attention"])
def test_reducing_ops_every_order(name, acc):
    from fpsem.ops.records import BY_NAME
    _check(BY_NAME[name], "float32", seed=2, acc=acc)


RATIONAL = [r for r in RECORDS if r.rational]


@given(seed=st.integers(0, 2**31 - 1), idx=st.integers(0, len(RECORDS) - 1))
def test_random_inputs(seed, idx):
    _check(RECORDS[idx], "float32", seed)


@pytest.mark.parametrize("rec", RATIONAL, ids=[r.name for r in RATIONAL])
def test_rational_ops_run_exactly(rec):
    """The exact domain runs every rational op and gives the float64 result's
    real counterpart: float64 of an exact op on dyadic inputs agrees to rounding."""
    E = fpsem.domain("exact")
    out = rec.run(E, np.random.default_rng(3))
    fr = E.to_fraction(out) if not isinstance(out, tuple) else E.to_fraction(out[0])
    assert fr.dtype == object


def test_irrational_ops_raise_in_exact():
    from fpsem.ops.records import BY_NAME
    E = fpsem.domain("exact")
    with pytest.raises(fpsem.NotRepresentable, match=r"softmax|exp\[exact\]"):
        BY_NAME["softmax"].run(E, np.random.default_rng(0))


def test_flash_equals_sdpa_in_float64_closely():
    from fpsem.ops import flash_attention, sdpa
    D = fpsem.domain("float64")
    rng = np.random.default_rng(5)
    q, k, v = (D.asarray(rng.standard_normal((2, 9, 4))) for _ in range(3))
    a, b = sdpa(D, q, k, v), flash_attention(D, q, k, v, block=4)
    # both within their envelopes of the same real value: agree to a few ulp of float64
    assert np.allclose(a, b, rtol=1e-13, atol=1e-14)
