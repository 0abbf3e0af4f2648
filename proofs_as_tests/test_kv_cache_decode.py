"""Theorem (KV-cache decoding). For GPT-2 (Radford et al. 2019) with causal
self-attention (Vaswani et al. 2017), decoding with a key/value cache, i.e. a
prefill of x[0..p) followed by chunks x[p..p+c1), x[p+c1..p+c1+c2), ... each
attending to the cached keys and values of every earlier position, yields exactly
the rows of the full forward pass:

    concat(prefill logits, chunk logits, ...) = M(x).

Over the reals: each row of attention is softmax(q_t K[0..t]^T / sqrt(d)) V[0..t],
and K, V rows of earlier positions do not depend on later tokens (causality), so
the cached rows equal the recomputed ones. In floating point the equality is bit
for bit under any accumulation order that does not depend on the number of query
rows (every specified order, here `sequential`): each output element is the same
sequence of roundings in both computations. Hypotheses: ieee32 if this build has
it, else float32 with acc="sequential"; ids in the vocabulary; T <= n_positions.

Checked with Hypothesis over ids, prefill lengths and chunkings; edge cases:
prefill of everything, one-token prefill with one-token steps, and greedy
generation equal to argmax over full forwards.
"""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import fpsem
from fpsem.models import GPT2, GPT2Config
from fpsem.models.gpt2 import param_shapes

CFG = GPT2Config(n_layer=2, n_embd=32, n_head=2, n_positions=16, vocab_size=89, preset="proof")
_rng = np.random.default_rng(23)
MODEL = GPT2(CFG, {k: (0.3 * _rng.standard_normal(s) + (1.0 if ".ln_" in k and k.endswith("weight") else 0.0)
                       ).astype(np.float32) for k, s in param_shapes(CFG).items()}, source="proof")


def _domain():
    if fpsem.availability("ieee32")[0]:
        return fpsem.domain("ieee32", acc="sequential")
    return fpsem.domain("float32", acc="sequential")


D = _domain()


def _bits(x):
    return np.asarray(D.to_float64(x)).view(np.int64)


def _decode(ids, chunks):
    out, cache, i = [], None, 0
    for c in chunks:
        lg, cache = MODEL.forward(D, np.array(ids[i:i + c], dtype=np.int64), cache=cache, return_cache=True)
        out.append(_bits(lg))
        i += c
    return np.concatenate(out), cache


@st.composite
def ids_and_chunks(draw):
    ids = draw(st.lists(st.integers(0, CFG.vocab_size - 1), min_size=1, max_size=CFG.n_positions))
    chunks, left = [], len(ids)
    while left:
        c = draw(st.integers(1, left))
        chunks.append(c)
        left -= c
    return ids, chunks


@given(ids_and_chunks())
def test_cached_decode_equals_full_forward(ic):
    ids, chunks = ic
    got, cache = _decode(ids, chunks)
    want = _bits(MODEL.forward(D, np.array(ids, dtype=np.int64)))
    assert np.array_equal(got, want)
    assert D.shape(cache[-1][0]) == (CFG.n_head, len(ids), CFG.head_dim)


def test_prefill_everything():
    ids = [3, 1, 4, 1, 5, 9, 2, 6]
    got, _ = _decode(ids, [len(ids)])
    assert np.array_equal(got, _bits(MODEL.forward(D, np.array(ids))))


def test_one_token_steps_to_full_context():
    ids = list((np.arange(CFG.n_positions) * 7) % CFG.vocab_size)
    got, _ = _decode(ids, [1] * len(ids))
    assert np.array_equal(got, _bits(MODEL.forward(D, np.array(ids))))


def test_greedy_generation_matches_full_forwards():
    prompt = [10, 20, 30]
    gen = MODEL.generate(D, np.array(prompt), 5)
    seq = list(prompt)
    for _ in range(5):
        seq.append(int(np.argmax(np.asarray(D.to_float64(MODEL.forward(D, np.array(seq))))[-1])))
    assert gen == seq[3:]
