"""Theorem (causal masking). Let M be GPT-2 (Radford et al. 2019): a decoder-only
Transformer whose self-attention applies the causal mask of Vaswani et al. 2017,
sec. 3.2.3 (query i attends only keys j <= i). For token ids x of length T and any
t < T, the logits row t of M(x) depends on x[0..t] only:

    M(x)[t] = M(x[0..t])[t] = M(y)[t]   for every y with y[0..t] = x[0..t].

Over the reals this is immediate from the mask (every other op acts per position).
In floating point it holds *bit for bit* when every reduction's accumulation order
is independent of the number of rows and of the masked keys' values, which is the
case for each specified order (here: `sequential`) since masked scores are
replaced before the row maximum and their exponentials are exact zeros added in a
fixed position. Hypotheses: a domain with a specified order (ieee32 when this
build has it, else float32 with acc="sequential", whose numba kernels give the
same bits); any ids in the vocabulary; T <= n_positions.

Checked: the equality for random ids, prefix lengths and suffix replacements
(Hypothesis), plus the edge cases T = 1 and T = n_positions.
"""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import fpsem
from fpsem.models import GPT2, GPT2Config

CFG = GPT2Config(n_layer=2, n_embd=32, n_head=4, n_positions=16, vocab_size=97, preset="proof")


def _params(seed=11):
    rng = np.random.default_rng(seed)
    from fpsem.models.gpt2 import param_shapes
    return {k: (0.3 * rng.standard_normal(s) + (1.0 if k.endswith("ln_1.weight") or k.endswith("ln_2.weight")
                                                 or k == "ln_f.weight" else 0.0)).astype(np.float32)
            for k, s in param_shapes(CFG).items()}


MODEL = GPT2(CFG, _params(), source="proof")


def _domain():
    if fpsem.availability("ieee32")[0]:
        return fpsem.domain("ieee32", acc="sequential")
    return fpsem.domain("float32", acc="sequential")


D = _domain()
ids_st = st.lists(st.integers(0, CFG.vocab_size - 1), min_size=1, max_size=CFG.n_positions)


def _f(ids):
    return np.asarray(D.to_float64(MODEL.forward(D, np.array(ids, dtype=np.int64))))


def _same(a, b):
    return np.array_equal(a.view(np.int64), b.view(np.int64))  # bits, -0 and NaN included


@given(ids=ids_st, data=st.data())
def test_prefix_rows_depend_only_on_prefix(ids, data):
    T = len(ids)
    t = data.draw(st.integers(0, T - 1), label="t")
    full = _f(ids)
    assert _same(full[: t + 1], _f(ids[: t + 1]))
    suffix = data.draw(st.lists(st.integers(0, CFG.vocab_size - 1), min_size=T - t - 1, max_size=T - t - 1),
                       label="suffix")
    other = _f(ids[: t + 1] + suffix)
    assert _same(full[: t + 1], other[: t + 1])


def test_single_token():
    a = _f([5])
    assert a.shape == (1, CFG.vocab_size) and _same(a, _f([5, 1, 2])[:1])


def test_full_context():
    ids = list(np.arange(CFG.n_positions) % CFG.vocab_size)
    full = _f(ids)
    assert _same(full[:-1], _f(ids[:-1]))
