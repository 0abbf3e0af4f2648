"""Theorem (flash attention is attention). Over the reals, for q (..., Tq, d),
k (..., Tk, d), v (..., Tk, dv), any key-block size b >= 1, causal or not, any
exponential base beta > 1,

    flash_attention(q, k, v, block=b) = softmax_beta(q k^T * scale + mask) v
                                      = scaled_dot_product_attention(q, k, v)

exactly: the online-softmax recurrence m' = max(m, rowmax s_B), a = beta^(m - m'),
l' = l a + rowsum beta^(s_B - m'), o' = o a + beta^(s_B - m') v_B, out = o / l is an
algebraic identity (every rescaling by a = beta^(m - m') cancels in o / l).

Checked in the `exact` domain with base beta = 2 (`exp="exp2"`) and integer q, k
(so every score is an integer and every beta^(s - m) is an exact rational): both
ops return the same Fractions, element by element. The mask is respected
(Tq <= Tk, query i at position Tk - Tq + i). In floats the identity fails (the
rescalings round), which is the counterexample: float32 flash and SDPA differ in
the last bits for some inputs.

Hypotheses: real (exact) arithmetic; any block size; in floats only closeness holds.

Source: T. Dao, D. Y. Fu, S. Ermon, A. Rudra, C. Ré, "FlashAttention: Fast and
Memory-Efficient Exact Attention with IO-Awareness", NeurIPS 2022, Alg. 1 and the
proof of Thm 1 (correctness); M. Milakov & N. Gimelshein, "Online normalizer
calculation for softmax", 2018 (the online softmax identity); Vaswani et al.,
"Attention is all you need", 2017, eq. (1).
"""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import fpsem
from fpsem import ops

EX = fpsem.domain("exact")
F32 = fpsem.domain("float32", acc="sequential")


@st.composite
def attention_inputs(draw):
    B = draw(st.integers(1, 2))
    Tk = draw(st.integers(1, 9))
    Tq = draw(st.integers(1, Tk))
    d = draw(st.integers(1, 4))
    dv = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    q = rng.integers(-3, 4, (B, Tq, d))
    k = rng.integers(-3, 4, (B, Tk, d))
    v = rng.integers(-8, 9, (B, Tk, dv)) / 4  # float64 dyadics, taken exactly
    block = draw(st.integers(1, Tk + 1))
    causal = draw(st.booleans())
    return q, k, v, block, causal


def _both(q, k, v, block, causal):
    a = ops.flash_attention(EX, EX.asarray(q), EX.asarray(k), EX.asarray(v), causal=causal,
                            block=block, scale="1", exp="exp2")
    b = ops.scaled_dot_product_attention(EX, EX.asarray(q), EX.asarray(k), EX.asarray(v),
                                         causal=causal, scale="1", exp="exp2")
    return EX.to_fraction(a), EX.to_fraction(b)


@given(attention_inputs())
def test_flash_equals_sdpa_over_the_rationals(case):
    a, b = _both(*case)
    assert a.shape == b.shape and (a == b).all()


@given(attention_inputs())
def test_equals_the_definition(case):
    """Both equal softmax_2(s + mask) v computed directly from the definition."""
    from fractions import Fraction
    q, k, v, block, causal = case
    a, _ = _both(q, k, v, block, causal)
    Tq, Tk = q.shape[1], k.shape[1]
    for bi in range(q.shape[0]):
        s = q[bi] @ k[bi].T
        for i in range(Tq):
            vis = [j for j in range(Tk) if not causal or j <= Tk - Tq + i]
            w = {j: Fraction(2) ** int(s[i, j]) for j in vis}
            tot = sum(w.values())
            for c in range(v.shape[2]):
                want = sum(w[j] * Fraction(v[bi, j, c]) for j in vis) / tot
                assert a[bi, i, c] == want


def test_edges():
    rng = np.random.default_rng(1)
    q = rng.integers(-3, 4, (1, 6, 2))
    k = rng.integers(-3, 4, (1, 6, 2))
    v = rng.integers(-3, 4, (1, 6, 2))
    for block in (1, 2, 3, 5, 6, 64):
        for causal in (True, False):
            a, b = _both(q, k, v, block, causal)
            assert (a == b).all()
    # a single query decoding against the whole cache; large score gaps (2**-40 weights)
    a, b = _both(np.array([[[20, 0]]]), np.array([[[1, 0], [-1, 0], [2, 0]]]),
                 np.array([[[1], [2], [3]]]), 2, True)
    assert (a == b).all()


def test_counterexample_floats():
    """In float32 the rescalings round: flash and SDPA disagree in some bits."""
    rng = np.random.default_rng(0)
    differ = 0
    for _ in range(20):
        q, k, v = (rng.standard_normal((1, 16, 8)).astype(np.float32) for _ in range(3))
        a = ops.flash_attention(F32, q, k, v, block=4)
        b = ops.scaled_dot_product_attention(F32, q, k, v)
        differ += int(np.any(a.view(np.uint32) != b.view(np.uint32)))
        assert np.allclose(a, b, rtol=1e-5, atol=1e-6)
    assert differ > 0
