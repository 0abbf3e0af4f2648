"""Theorem (edge-replication padding is -inf padding for max pooling). For
x in R^{N x C x H x W}, kernel k, stride s >= 1 and padding p with p <= k - 1
(in particular p <= k/2, which fpsem.ops.max_pool2d enforces and PyTorch requires),

    max over windows of edge_pad(x, p)  =  max over windows of pad(x, p, value=-inf),

i.e. fpsem's max_pool2d (which has no infinities in the exact and interval domains
and replicates the border instead) equals torch.nn.functional.max_pool2d. Proof:
every window has length k > p along each axis, so it contains a real index, hence
the border element that each padded cell replicates.

Hypotheses: p <= k - 1. Dropping it breaks the theorem: with p = k a window lies
entirely in the padding, where -inf padding gives -inf and edge padding the border
value (counterexample built with the op's own `_edge_pad`).

Source: PyTorch documentation, torch.nn.MaxPool2d ("padding ... implicit negative
infinity padding", "pad should be at most half of effective kernel size");
Goodfellow, Bengio & Courville, "Deep Learning", 2016, 9.3 (pooling).
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fpsem
from fpsem import ops
from fpsem.errors import ShapeError
from ops.linalg import _edge_pad, _out_len, _patches  # the op's own helpers

F32 = fpsem.domain("float32")
EX = fpsem.domain("exact")


def reference(x, k, s, p):
    """-inf padded max pooling, directly."""
    N, C, H, W = x.shape
    xp = np.full((N, C, H + 2 * p, W + 2 * p), -np.inf, dtype=np.float64)
    xp[:, :, p:p + H, p:p + W] = x
    Ho, Wo = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1
    out = np.empty((N, C, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            out[:, :, i, j] = xp[:, :, i * s:i * s + k, j * s:j * s + k].max(axis=(2, 3))
    return out


def edge_pool(D, x, k, s, p):
    """max_pool2d's construction with any padding (no p <= k/2 check)."""
    N, C, H, W = D.shape(x)
    xp = _edge_pad(D, x, p, p) if p else x
    Ho, Wo = _out_len(H, k, s, p, 1), _out_len(W, k, s, p, 1)
    return D.transpose(D.max(_patches(D, xp, k, k, (s, s), (1, 1), Ho, Wo), axis=-1), (0, 3, 1, 2))


@st.composite
def cases(draw):
    k = draw(st.integers(1, 5))
    s = draw(st.integers(1, 3))
    H = draw(st.integers(k, 9))
    W = draw(st.integers(k, 9))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    x = np.random.default_rng(seed).integers(-50, 50, (1, 2, H, W)).astype(np.float32)
    return x, k, s


@given(cases(), st.data())
def test_op_equals_minus_inf_padding(case, data):
    x, k, s = case
    p = data.draw(st.integers(0, k // 2))
    y = ops.max_pool2d(F32, x, k, stride=s, padding=p)
    assert np.array_equal(y, reference(x, k, s, p))
    ye = EX.to_fraction(ops.max_pool2d(EX, EX.asarray(x), k, stride=s, padding=p))
    assert (ye == reference(x, k, s, p).astype(object)).all()


@given(cases(), st.data())
def test_up_to_k_minus_one(case, data):
    x, k, s = case
    p = data.draw(st.integers(0, k - 1))
    assert np.array_equal(edge_pool(F32, x, k, s, p), reference(x, k, s, p))


def test_edges():
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4) * -1  # maxima at the top-left corner
    for k, s, p in [(2, 2, 1), (3, 1, 1), (3, 2, 1), (4, 1, 2), (1, 1, 0), (4, 4, 2)]:
        assert np.array_equal(ops.max_pool2d(F32, x, k, stride=s, padding=p), reference(x, k, s, p))
    with pytest.raises(ShapeError):
        ops.max_pool2d(F32, x, 2, padding=2)


def test_counterexample_padding_k():
    x = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)
    k = p = 2
    ref = reference(x, k, 1, p)
    got = edge_pool(F32, x, k, 1, p)
    assert ref[0, 0, 0, 0] == -np.inf and got[0, 0, 0, 0] == 0
    assert not np.array_equal(got, ref)
