"""scaled_dot_product_attention with an additive bias and a boolean mask, checked
over the rationals against a direct Fraction computation (base-2 softmax on integer
scores, so the exact domain evaluates it), and a query that sees no key is an error."""
from fractions import Fraction

import numpy as np
import pytest

import fpsem
from fpsem import ops
from fpsem.errors import ShapeError

E = fpsem.domain("exact")


def _oracle(q, k, v, bias, mask):
    s = q @ k.T + bias
    out = []
    for i in range(s.shape[0]):
        w = [Fraction(2) ** int(s[i, j]) if mask[i, j] else Fraction(0) for j in range(s.shape[1])]
        tot = sum(w)
        out.append([sum(w[j] * int(v[j, c]) for j in range(len(w))) / tot for c in range(v.shape[1])])
    return out


@pytest.mark.parametrize("causal", [False, True])
def test_mask_and_bias_exact(causal):
    rng = np.random.default_rng(3)
    T, d = 5, 3
    q, k, v = (rng.integers(-3, 4, (T, d)) for _ in range(3))
    bias = rng.integers(-2, 3, (T, T))
    mask = rng.random((T, T)) < 0.6
    mask[np.arange(T), np.arange(T)] = True      # every query sees itself
    if not causal:
        mask[:, 0] = False                       # key 0 hidden: the filler is not key 0
    got = ops.scaled_dot_product_attention(E, E.asarray(q), E.asarray(k), E.asarray(v), causal=causal,
                                           scale="1", exp="exp2", bias=E.asarray(bias), mask=mask)
    full = mask & (np.tril(np.ones((T, T), bool)) if causal else True)
    assert E.to_fraction(got).tolist() == _oracle(q, k, v, bias, full)


def test_query_seeing_no_key_is_an_error():
    x = E.asarray(np.ones((2, 2), dtype=np.int64))
    mask = np.array([[True, False], [False, False]])
    with pytest.raises(ShapeError, match="sees no key"):
        ops.scaled_dot_product_attention(E, x, x, x, causal=False, scale="1", exp="exp2", mask=mask)


def test_masked_scores_never_reach_the_row_maximum():
    """Key 0 hidden behind a huge bias: the filler is a visible score, so float32 gives
    the bits of attention over the visible keys alone (the zero terms add exactly)."""
    F = fpsem.domain("float32")
    rng = np.random.default_rng(4)
    T, d = 6, 4
    q, k, v = (rng.standard_normal((T, d)).astype(np.float32) for _ in range(3))
    bias = np.zeros((T, T), np.float32)
    bias[:, 0] = 1e4
    mask = np.ones((T, T), bool)
    mask[:, 0] = False
    got = ops.scaled_dot_product_attention(F, q, k, v, causal=False, bias=F.asarray(bias), mask=mask)
    ref = ops.scaled_dot_product_attention(F, q, k[1:], v[1:], causal=False, bias=F.asarray(bias[:, 1:]))
    assert np.all(np.isfinite(F.to_float64(got)))
    assert np.array_equal(F.to_float64(got), F.to_float64(ref))
