"""Theorem (identity residual blocks). A residual block y = x + F(x) whose branch
ends in a linear layer with zero weight and zero bias computes the identity
(He et al. 2016, "Identity Mappings in Deep Residual Networks"; the pre-norm
GPT-2 block of Radford et al. 2019 has two such branches, ending in attn.c_proj
and mlp.c_proj). This holds not only over the reals but exactly in every domain:

* IEEE binary32 (float32, ieee32), any accumulation order: the branch output is a
  dot product of finite values with zeros plus a zero bias, i.e. +-0 exactly, and
  x + (+-0) = x for every finite nonzero x (IEEE 754-2019 sec. 6.3); for x = +-0 the
  sum is a zero, equal as a value. Hypothesis: the branch's inputs are finite
  (true here: layer norm outputs of finite inputs with eps > 0).
* interval: the real result x is enclosed, and the enclosure is at most a few
  binary64 ulps wide (a dot product of exact zeros may carry the domain's
  underflow slack (below 1e-300), which then widens x + 0 by
  one binary64 ulp on each side: sound, and far below binary32 resolution).

Checked: for random GPT-2 parameters with both residual projections of block 0
zeroed (Hypothesis over seeds and token ids), the tapped node h.0.resid_mlp equals
the block input `embed` (value equality; bitwise except possibly the sign of
zero) in float32 (native and sequential) and ieee32 when available, is enclosed
within 4 binary64 ulps by interval when available, and the unmodified block does
change its input.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fpsem
from fpsem.models import GPT2, GPT2Config
from fpsem.models.gpt2 import param_shapes
from fpsem.models.values import bounds
from fpsem.trace import recording

CFG = GPT2Config(n_layer=1, n_embd=16, n_head=2, n_positions=8, vocab_size=50, preset="proof")


def _model(seed, zero=True):
    rng = np.random.default_rng(seed)
    p = {k: (0.5 * rng.standard_normal(s)).astype(np.float32) for k, s in param_shapes(CFG).items()}
    if zero:
        for k in ("attn.c_proj.weight", "attn.c_proj.bias", "mlp.c_proj.weight", "mlp.c_proj.bias"):
            p["h.0." + k][...] = 0
    return GPT2(CFG, p, source="proof")


def _domains():
    out = [fpsem.domain("float32"), fpsem.domain("float32", acc="sequential")]
    for name in ("ieee32", "interval"):
        if fpsem.availability(name)[0]:
            out.append(fpsem.domain(name))
    return out


def _nodes(model, D, ids):
    got = {}
    with recording(lambda n, Dx, x: got.__setitem__(n, bounds(Dx, x))):
        model.forward(D, np.array(ids, dtype=np.int64))
    return got


@given(seed=st.integers(0, 2 ** 31 - 1),
       ids=st.lists(st.integers(0, CFG.vocab_size - 1), min_size=1, max_size=CFG.n_positions))
def test_zeroed_residual_branches_are_exact_identity(seed, ids):
    m = _model(seed)
    for D in _domains():
        n = _nodes(m, D, ids)
        (xlo, xhi), (ylo, yhi) = n["embed"], n["h.0.resid_mlp"]
        if D.is_enclosure:
            assert np.array_equal(xlo, xhi)  # the embedding sum of two binary32 values is exact here
            slack = 4 * np.spacing(np.abs(xlo)) + 1e-300
            assert np.all(ylo <= xlo) and np.all(xhi <= yhi), D.label
            assert np.all(yhi - ylo <= slack), D.label
            continue
        assert np.array_equal(xlo, ylo) and np.array_equal(xhi, yhi), D.label
        assert np.array_equal(n["h.0.resid_attn"][0], xlo), D.label


@pytest.mark.parametrize("D", _domains(), ids=lambda D: D.label)
def test_nonzero_branch_changes_the_stream(D):
    n = _nodes(_model(3, zero=False), D, [1, 2, 3])
    assert not np.array_equal(n["embed"][0], n["h.0.resid_mlp"][0])


def test_zero_token_embeddings():
    """Edge case: an all-zero residual stream stays exactly zero."""
    m = _model(5)
    m.params["wte.weight"] = np.zeros_like(m.params["wte.weight"])   # a model's own arrays are read-only
    m.params["wpe.weight"] = np.zeros_like(m.params["wpe.weight"])
    for D in _domains():
        lo, hi = _nodes(m, D, [0, 1])["h.0.resid_mlp"]
        tol = 1e-300 if D.is_enclosure else 0.0
        assert np.all(np.abs(lo) <= tol) and np.all(np.abs(hi) <= tol), D.label
