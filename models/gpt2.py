"""GPT-2 (Radford et al. 2019, "Language Models are Unsupervised Multitask Learners"),
exactly as Hugging Face's GPT2LMHeadModel computes it, written once with fpsem.ops:

    x = wte[ids] + wpe[positions]
    for each block i:   a = ln_1(x);  x = x + c_proj(attn(c_attn(a)))          (pre-norm)
                        m = ln_2(x);  x = x + mlp.c_proj(gelu_tanh(mlp.c_fc(m)))
    logits = ln_f(x) @ wte^T                                            (tied LM head)

Attention is causal multi-head scaled dot-product attention with scores divided
by sqrt(head_dim) (HF: `attn_weights / value.size(-1) ** 0.5`), GELU is the tanh
form ("gelu_new"), layer norms use eps = 1e-5 with biased variance. Linear layers
use GPT-2's Conv1D layout, y = x @ W + b with W of shape (in, out).

Parameter names are Hugging Face's without the `transformer.` prefix
(`h.0.attn.c_attn.weight`, ...). Node names recorded with fpsem.trace follow the
same structure: wte, wpe, embed, h.{i}.ln_1, h.{i}.attn.c_attn, h.{i}.attn.attn
(attention output before the projection), h.{i}.attn.c_proj, h.{i}.resid_attn,
h.{i}.ln_2, h.{i}.mlp.c_fc, h.{i}.mlp.act, h.{i}.mlp.c_proj, h.{i}.resid_mlp, ln_f,
logits.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from fractions import Fraction

import numpy as np

from fpsem import ops
from fpsem.errors import FpsemError, ShapeError
from fpsem.trace import scope, step, tap

from .base import Model, config_from


@dataclass(frozen=True)
class GPT2Config:
    n_layer: int = 2
    n_embd: int = 64
    n_head: int = 4
    n_positions: int = 256
    vocab_size: int = 50257
    #: an exact decimal string: every domain rounds it once
    layer_norm_epsilon: str = "1e-5"
    preset: str = "tiny"

    @property
    def head_dim(self):
        return self.n_embd // self.n_head

    def check(self):
        for k in ("n_layer", "n_embd", "n_head", "n_positions", "vocab_size"):
            v = getattr(self, k)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise FpsemError(f"gpt2 config: {k} must be a positive integer, got {v!r}")
        if self.n_embd % self.n_head:
            raise FpsemError(f"gpt2 config: n_embd={self.n_embd} is not divisible by n_head={self.n_head}")
        try:
            eps = Fraction(str(self.layer_norm_epsilon))
        except (ValueError, ZeroDivisionError):
            raise FpsemError(f"gpt2 config: layer_norm_epsilon {self.layer_norm_epsilon!r} is not a number") from None
        if eps <= 0:
            raise FpsemError(f"gpt2 config: layer_norm_epsilon must be positive, got {self.layer_norm_epsilon}")
        return self

    def as_dict(self):
        return asdict(self)


CONFIGS = {
    # tiny keeps GPT-2's vocabulary (so real token ids work) with a small body;
    # head_dim 16 makes the score scale 1/sqrt(16) = 1/4 exact, as 1/8 is for 64.
    "tiny": GPT2Config(),
    "small": GPT2Config(n_layer=12, n_embd=768, n_head=12, n_positions=1024, preset="small"),
    "medium": GPT2Config(n_layer=24, n_embd=1024, n_head=16, n_positions=1024, preset="medium"),
    "large": GPT2Config(n_layer=36, n_embd=1280, n_head=20, n_positions=1024, preset="large"),
    "xl": GPT2Config(n_layer=48, n_embd=1600, n_head=25, n_positions=1024, preset="xl"),
}


def param_shapes(cfg):
    """HF GPT-2 parameter names (no `transformer.` prefix) -> shapes."""
    C, V = cfg.n_embd, cfg.vocab_size
    shapes = {"wte.weight": (V, C), "wpe.weight": (cfg.n_positions, C)}
    for i in range(cfg.n_layer):
        p = f"h.{i}."
        shapes.update({
            p + "ln_1.weight": (C,), p + "ln_1.bias": (C,),
            p + "attn.c_attn.weight": (C, 3 * C), p + "attn.c_attn.bias": (3 * C,),
            p + "attn.c_proj.weight": (C, C), p + "attn.c_proj.bias": (C,),
            p + "ln_2.weight": (C,), p + "ln_2.bias": (C,),
            p + "mlp.c_fc.weight": (C, 4 * C), p + "mlp.c_fc.bias": (4 * C,),
            p + "mlp.c_proj.weight": (4 * C, C), p + "mlp.c_proj.bias": (C,),
        })
    shapes.update({"ln_f.weight": (C,), "ln_f.bias": (C,)})
    return shapes


def init_params(cfg, seed=0):
    """GPT-2's initialisation (as in HF GPT2PreTrainedModel._init_weights): embeddings
    and linear weights N(0, 0.02), biases 0, layer norms weight 1 bias 0, and the
    residual projections (attn.c_proj, mlp.c_proj) N(0, 0.02 / sqrt(2 n_layer))."""
    rng = np.random.default_rng(seed)
    std = 0.02
    resid_std = std / math.sqrt(2 * cfg.n_layer)
    out = {}
    for name, shape in param_shapes(cfg).items():
        if name.endswith("bias"):
            out[name] = np.zeros(shape, np.float32)
        elif ".ln_" in name or name.startswith("ln_f"):
            out[name] = np.ones(shape, np.float32)
        else:
            s = resid_std if name.endswith("c_proj.weight") else std
            a = rng.standard_normal(shape, dtype=np.float32)
            a *= np.float32(s)
            out[name] = a
    return out


class GPT2(Model):
    name = "gpt2"
    summary = "GPT-2 language model (HF GPT2LMHeadModel semantics), tied LM head"
    is_rational = False
    decision_axis = -1

    def __init__(self, config=None, params=None, seed=0, source=None):
        cfg = config_from(GPT2Config, CONFIGS, config).check()
        if params is None:
            params = init_params(cfg, seed)
        shapes = param_shapes(cfg)
        missing = [k for k in shapes if k not in params]
        if missing:
            raise FpsemError(f"gpt2: missing parameter {missing[0]!r} ({len(missing)} missing)")
        super().__init__(cfg, {k: params[k] for k in shapes}, seed=seed, source=source)
        for k, s in shapes.items():
            if self.params[k].shape != s:
                raise ShapeError(f"gpt2: parameter {k} has shape {self.params[k].shape}, config expects {s}")

    @property
    def n_steps(self):
        """fpsem.trace.step calls per forward (one per block)."""
        return self.config.n_layer

    # -- inputs ------------------------------------------------------------------
    def default_inputs(self, n=8):
        from .tokenizer import ByteTokenizer
        return (builtin_ids(ByteTokenizer(), n, self.config),)

    def check_ids(self, ids, past=0):
        ids = np.asarray(ids)
        if ids.ndim != 1 or ids.dtype.kind not in "iu":
            raise ShapeError(f"gpt2: token ids must be a 1-D integer array, got {ids.dtype} {ids.shape}")
        if ids.size == 0:
            raise ShapeError("gpt2: no tokens")
        cfg = self.config
        if ids.min() < 0 or ids.max() >= cfg.vocab_size:
            bad = int(ids[(ids < 0) | (ids >= cfg.vocab_size)][0])
            raise ShapeError(f"gpt2: token id {bad} is outside the vocabulary [0, {cfg.vocab_size})")
        if past + ids.size > cfg.n_positions:
            raise ShapeError(f"gpt2: {past + ids.size} tokens exceed the context length {cfg.n_positions}")
        return ids.astype(np.int64)

    # -- forward -------------------------------------------------------------------
    def forward(self, D, ids, cache=None, return_cache=False, acc=None):
        """Logits (T, vocab) for token ids (T,), continuing a KV cache if given.

        cache: None or a list per block of (k, v), each (n_head, T_past, head_dim).
        With return_cache=True returns (logits, new_cache)."""
        cfg = self.config
        P = self.P(D)
        past = 0 if cache is None else D.shape(cache[0][0])[-2]
        ids = self.check_ids(ids, past)
        T = ids.size
        pos = np.arange(past, past + T)
        te = tap(D, "wte", ops.embedding(D, P["wte.weight"], ids))
        pe = tap(D, "wpe", ops.embedding(D, P["wpe.weight"], pos))
        x = tap(D, "embed", D.add(te, pe))
        new_cache = []
        eps = cfg.layer_norm_epsilon
        for i in range(cfg.n_layer):
            with scope(f"h.{i}"):
                p = f"h.{i}."
                a = tap(D, "ln_1", ops.layer_norm(D, x, P[p + "ln_1.weight"], P[p + "ln_1.bias"],
                                                  eps=eps, acc=acc))
                with scope("attn"):
                    y, kv = self._attn(D, a, P, p, None if cache is None else cache[i], acc)
                new_cache.append(kv)
                x = tap(D, "resid_attn", D.add(x, y))
                m = tap(D, "ln_2", ops.layer_norm(D, x, P[p + "ln_2.weight"], P[p + "ln_2.bias"],
                                                  eps=eps, acc=acc))
                with scope("mlp"):
                    h = tap(D, "c_fc", ops.linear(D, m, P[p + "mlp.c_fc.weight"], P[p + "mlp.c_fc.bias"], acc=acc))
                    h = tap(D, "act", ops.gelu_tanh(D, h))
                    h = tap(D, "c_proj", ops.linear(D, h, P[p + "mlp.c_proj.weight"],
                                                    P[p + "mlp.c_proj.bias"], acc=acc))
                x = tap(D, "resid_mlp", D.add(x, h))
            step(f"h.{i}")
        x = tap(D, "ln_f", ops.layer_norm(D, x, P["ln_f.weight"], P["ln_f.bias"], eps=eps, acc=acc))
        logits = tap(D, "logits", D.dot(x, D.transpose(P["wte.weight"]), acc=acc))
        return (logits, new_cache) if return_cache else logits

    def _attn(self, D, a, P, p, kv, acc):
        cfg = self.config
        T, C = D.shape(a)
        H, hd = cfg.n_head, cfg.head_dim
        qkv = tap(D, "c_attn", ops.linear(D, a, P[p + "attn.c_attn.weight"], P[p + "attn.c_attn.bias"], acc=acc))

        def heads(j):  # (T, C) slice j of q, k, v -> (H, T, hd)
            part = D.getitem(qkv, (slice(None), slice(j * C, (j + 1) * C)))
            return D.transpose(D.reshape(part, (T, H, hd)), (1, 0, 2))

        q, k, v = heads(0), heads(1), heads(2)
        kv = ops.kv_cache_append(D, kv, k, v)
        y = ops.scaled_dot_product_attention(D, q, kv[0], kv[1], causal=True, acc=acc)
        y = tap(D, "attn", D.reshape(D.transpose(y, (1, 0, 2)), (T, C)))
        out = tap(D, "c_proj", ops.linear(D, y, P[p + "attn.c_proj.weight"], P[p + "attn.c_proj.bias"], acc=acc))
        return out, kv

    # -- decoding ---------------------------------------------------------------------
    def generate(self, D, ids, k, acc=None):
        """Greedy decoding of k tokens with a KV cache: returns the new ids.
        (For enclosures, the token with the largest midpoint is taken.)"""
        from .values import point
        ids = self.check_ids(ids)
        if ids.size + k > self.config.n_positions + 1:
            raise ShapeError(f"gpt2: {ids.size} + {k} tokens exceed the context length {self.config.n_positions}")
        out = []
        with self.hold(D):
            logits, cache = self.forward(D, ids, return_cache=True, acc=acc)
            for t in range(k):
                last = point(D, D.getitem(logits, -1))
                nxt = int(np.argmax(last))
                out.append(nxt)
                if t + 1 < k:
                    logits, cache = self.forward(D, np.array([nxt]), cache=cache, return_cache=True, acc=acc)
        return out


def builtin_ids(tok, n, cfg):
    """n token ids of the built-in prompt (repeated as needed)."""
    from .tokenizer import BUILTIN_PROMPT
    if n < 1:
        raise ShapeError(f"gpt2: --tokens must be at least 1, got {n}")
    if n > cfg.n_positions:
        raise ShapeError(f"gpt2: {n} tokens exceed the context length {cfg.n_positions}")
    base = tok.encode(BUILTIN_PROMPT + " ")
    reps = -(-n // len(base))
    return np.array((base * reps)[:n], dtype=np.int64)
