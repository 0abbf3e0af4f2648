"""BERT-family sentence encoders (Devlin et al. 2019; Reimers & Gurevych 2019), as
Hugging Face's BertModel computes them, with sentence-transformers' mean pooling,
written once with fpsem.ops:

    x = LayerNorm(word[ids] + type[0] + pos[0..T))                    (post-norm blocks)
    for each layer i:   a = LayerNorm(x + attention.output.dense(attention(x)))
                        x = LayerNorm(a + output.dense(act(intermediate.dense(a))))
    e_p = mean over the tokens of x                                   (sentence embedding)
    similarity_j = e_0 . e_j / (sqrt(e_0 . e_0) sqrt(e_j . e_j)),  j = 1..P-1

Attention is bidirectional multi-head scaled dot-product attention, scores
divided by sqrt(head_dim) (rounded once in the domain, then one division, as HF's
`scores / math.sqrt(head_size)`). Every sentence runs alone, unpadded, so no
attention mask enters the arithmetic: over the reals that is exactly what a
padded batch computes (its masked keys get weight exp(-huge) = 0), and it is what
sentence-transformers returns. Token type ids are 0 (single sentences). Linear
layers are torch's nn.Linear, y = x @ W^T + b with W of shape (out, in). The
pooled embedding's L2 normalisation (sentence-transformers' Normalize module)
does not change a cosine, so the output is the cosine itself.

The first prompt is the query: the model's output (node `similarity`) is its
cosine similarity with each other prompt, and the decision is which of them is
most similar. With one prompt the output is its embedding (node `pooled.s0`).

Parameter names are HF's without the `bert.` prefix
(`encoder.layer.0.attention.self.query.weight`, ...). Node names:
embeddings.s{p}, encoder.layer.{i}.s{p}.attention.self.{query,key,value},
...attention.self (context before the projection), ...attention.output.dense,
...attention.output.LayerNorm, ...intermediate.dense, ...intermediate.act,
...output.dense, ...output.LayerNorm, pooled.s{p}, similarity.

Checkpoints: `load_bert(DIR)` reads config.json + model.safetensors (or a sharded
model.safetensors.index.json) + tokenizer.json, every field validated with a
one-line WeightsError.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from fractions import Fraction

import numpy as np

from fpsem import ops
from fpsem.errors import FpsemError, ShapeError, WeightsError
from fpsem.trace import scope, step, tap

from .base import Model, config_from

_ACTS = {"gelu": ops.gelu_erf, "gelu_new": ops.gelu_tanh, "gelu_pytorch_tanh": ops.gelu_tanh,
         "relu": ops.relu}


@dataclass(frozen=True)
class BertConfig:
    num_hidden_layers: int = 2
    hidden_size: int = 64
    num_attention_heads: int = 4
    intermediate_size: int = 256
    max_position_embeddings: int = 64
    vocab_size: int = 1000
    type_vocab_size: int = 2
    #: an exact decimal string: every domain rounds it once
    layer_norm_eps: str = "1e-12"
    #: "gelu" (erf form, HF's default for BERT), "gelu_new" / "gelu_pytorch_tanh" (tanh form), "relu"
    hidden_act: str = "gelu"
    preset: str = "tiny"

    @property
    def head_dim(self):
        return self.hidden_size // self.num_attention_heads

    def check(self):
        for k in ("num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size",
                  "max_position_embeddings", "vocab_size", "type_vocab_size"):
            v = getattr(self, k)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise FpsemError(f"bert config: {k} must be a positive integer, got {v!r}")
        if self.hidden_size % self.num_attention_heads:
            raise FpsemError(f"bert config: hidden_size={self.hidden_size} is not divisible by "
                             f"num_attention_heads={self.num_attention_heads}")
        try:
            eps = Fraction(str(self.layer_norm_eps))
        except (ValueError, ZeroDivisionError):
            raise FpsemError(f"bert config: layer_norm_eps {self.layer_norm_eps!r} is not a number") from None
        if eps <= 0:
            raise FpsemError(f"bert config: layer_norm_eps must be positive, got {self.layer_norm_eps}")
        if self.hidden_act not in _ACTS:
            raise FpsemError(f"bert config: hidden_act {self.hidden_act!r} is not one of {', '.join(_ACTS)}")
        return self

    def as_dict(self):
        return asdict(self)


CONFIGS = {
    # a tiny random encoder for the zoo; head_dim 16 makes 1/sqrt(16) exact
    "tiny": BertConfig(),
    # the shape of all-MiniLM-L6-v2 (a real checkpoint supplies the weights)
    "minilm-l6": BertConfig(num_hidden_layers=6, hidden_size=384, num_attention_heads=12,
                            intermediate_size=1536, max_position_embeddings=512, vocab_size=30522,
                            preset="minilm-l6"),
}


def param_shapes(cfg):
    """HF BertModel parameter names (no `bert.` prefix, no pooler) -> shapes."""
    C, F = cfg.hidden_size, cfg.intermediate_size
    shapes = {"embeddings.word_embeddings.weight": (cfg.vocab_size, C),
              "embeddings.position_embeddings.weight": (cfg.max_position_embeddings, C),
              "embeddings.token_type_embeddings.weight": (cfg.type_vocab_size, C),
              "embeddings.LayerNorm.weight": (C,), "embeddings.LayerNorm.bias": (C,)}
    for i in range(cfg.num_hidden_layers):
        p = f"encoder.layer.{i}."
        for lin, (o, n) in (("attention.self.query", (C, C)), ("attention.self.key", (C, C)),
                            ("attention.self.value", (C, C)), ("attention.output.dense", (C, C)),
                            ("intermediate.dense", (F, C)), ("output.dense", (C, F))):
            shapes[p + lin + ".weight"] = (o, n)
            shapes[p + lin + ".bias"] = (o,)
        for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes[p + ln + ".weight"] = (C,)
            shapes[p + ln + ".bias"] = (C,)
    return shapes


def init_params(cfg, seed=0):
    """BERT's initialisation (HF BertPreTrainedModel._init_weights): embeddings and
    linear weights N(0, 0.02), biases 0, layer norms weight 1 bias 0."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in param_shapes(cfg).items():
        if "LayerNorm" in name:
            out[name] = (np.ones if name.endswith("weight") else np.zeros)(shape, np.float32)
        elif name.endswith("bias"):
            out[name] = np.zeros(shape, np.float32)
        else:
            out[name] = rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)
    return out


class Bert(Model):
    name = "bert"
    summary = "BERT-family sentence encoder (HF BertModel), mean pooling, cosine similarity of prompts"
    is_rational = False
    decision_axis = -1

    def __init__(self, config=None, params=None, seed=0, source=None, tokenizer=None):
        cfg = config_from(BertConfig, CONFIGS, config).check()
        if params is None:
            params = init_params(cfg, seed)
        shapes = param_shapes(cfg)
        missing = [k for k in shapes if k not in params]
        if missing:
            raise FpsemError(f"bert: missing parameter {missing[0]!r} ({len(missing)} missing)")
        super().__init__(cfg, {k: params[k] for k in shapes}, seed=seed, source=source)
        for k, s in shapes.items():
            if self.params[k].shape != s:
                raise ShapeError(f"bert: parameter {k} has shape {self.params[k].shape}, config expects {s}")
        #: a HFTokenizer (from a checkpoint's tokenizer.json) or None
        self.tokenizer = tokenizer

    @property
    def n_steps(self):
        return self.config.num_hidden_layers

    # -- inputs ----------------------------------------------------------------------
    def default_inputs(self):
        """Three built-in sentences through the checkpoint's tokenizer, or (random
        weights, no tokenizer) three fixed token-id sequences."""
        if self.tokenizer is not None:
            return self.encode(BUILTIN_PROMPTS)
        V = self.config.vocab_size
        seqs = [[(7 * j + 3 * p + 1) % V for j in range(n)] for p, n in enumerate((6, 5, 7))]
        return pack(seqs)

    def encode(self, prompts):
        """(ids, lengths) for a list of prompt strings, with the checkpoint's tokenizer."""
        if self.tokenizer is None:
            raise FpsemError("bert: --prompt needs a tokenizer: pass --weights DIR holding tokenizer.json")
        return pack([self.tokenizer.encode(p) for p in prompts])

    def check_inputs(self, ids, lengths):
        ids, lengths = np.asarray(ids), np.asarray(lengths)
        if ids.ndim != 2 or ids.dtype.kind not in "iu":
            raise ShapeError(f"bert: token ids must be a 2-D integer array (prompts, tokens), got {ids.dtype} {ids.shape}")
        if lengths.shape != (ids.shape[0],) or lengths.dtype.kind not in "iu":
            raise ShapeError(f"bert: lengths must be {ids.shape[0]} integers, got {lengths.dtype} {lengths.shape}")
        if ids.shape[0] == 0:
            raise ShapeError("bert: no prompts")
        cfg = self.config
        for p, n in enumerate(lengths):
            if not 1 <= n <= ids.shape[1]:
                raise ShapeError(f"bert: prompt {p} has length {int(n)}, outside [1, {ids.shape[1]}]")
            if n > cfg.max_position_embeddings:
                raise ShapeError(f"bert: prompt {p} has {int(n)} tokens; the model takes at most "
                                 f"{cfg.max_position_embeddings}")
            row = ids[p, :n]
            if row.min() < 0 or row.max() >= cfg.vocab_size:
                bad = int(row[(row < 0) | (row >= cfg.vocab_size)][0])
                raise ShapeError(f"bert: token id {bad} is outside the vocabulary [0, {cfg.vocab_size})")
        return ids.astype(np.int64), lengths.astype(np.int64)

    # -- forward --------------------------------------------------------------------------
    def forward(self, D, ids, lengths, acc=None):
        """Cosine similarities (P-1,) of prompt 0's mean-pooled embedding with each
        other prompt's; with one prompt, its embedding (hidden_size,).

        Roundings beyond the ops': the embedding sums (2 adds), the pooling mean
        (a sum in order `acc`, one /), and per similarity two dots and a squared-norm
        sum (order `acc`), two sqrt, one * and one /."""
        ids, lengths = self.check_inputs(ids, lengths)
        cfg = self.config
        P = self.P(D)
        eps = cfg.layer_norm_eps
        act = _ACTS[cfg.hidden_act]
        xs = []
        for p, n in enumerate(lengths):
            # embedding rows gathered on the host (an exact gather): the domain never
            # converts the whole 30522-row table
            w = D.asarray(self.params["embeddings.word_embeddings.weight"][ids[p, :n]])
            t = D.asarray(np.broadcast_to(self.params["embeddings.token_type_embeddings.weight"][0],
                                          (int(n), cfg.hidden_size)))
            pe = D.asarray(self.params["embeddings.position_embeddings.weight"][:n])
            e = D.add(D.add(w, t), pe)
            xs.append(tap(D, f"embeddings.s{p}", ops.layer_norm(
                D, e, P["embeddings.LayerNorm.weight"], P["embeddings.LayerNorm.bias"], eps=eps, acc=acc)))
        for i in range(cfg.num_hidden_layers):
            with scope(f"encoder.layer.{i}"):
                for p in range(len(xs)):
                    with scope(f"s{p}"):
                        xs[p] = self._layer(D, xs[p], P, f"encoder.layer.{i}.", act, eps, acc)
            step(f"encoder.layer.{i}")
        pooled = [tap(D, f"pooled.s{p}", ops.mean(D, x, axis=0, acc=acc)) for p, x in enumerate(xs)]
        if len(pooled) == 1:
            return pooled[0]
        E = D.stack(pooled[1:], axis=0)                                  # (P-1, C)
        dots = D.dot(E, pooled[0], acc=acc)                              # e_j . e_0
        nq = D.sqrt(D.dot(pooled[0], pooled[0], acc=acc))
        nc = D.sqrt(D.sum(D.mul(E, E), axis=-1, acc=acc))
        return tap(D, "similarity", D.div(dots, D.mul(nc, nq)))

    def _layer(self, D, x, P, p, act, eps, acc):
        cfg = self.config
        T = D.shape(x)[0]
        H, hd = cfg.num_attention_heads, cfg.head_dim

        def lin(h, name):
            return tap(D, name, ops.linear(D, h, D.transpose(P[p + name + ".weight"]), P[p + name + ".bias"], acc=acc))

        def heads(h):  # (T, C) -> (H, T, hd)
            return D.transpose(D.reshape(h, (T, H, hd)), (1, 0, 2))

        q, k, v = (heads(lin(x, "attention.self." + n)) for n in ("query", "key", "value"))
        ctx = ops.scaled_dot_product_attention(D, q, k, v, causal=False, acc=acc)
        ctx = tap(D, "attention.self", D.reshape(D.transpose(ctx, (1, 0, 2)), (T, cfg.hidden_size)))
        a = lin(ctx, "attention.output.dense")
        a = tap(D, "attention.output.LayerNorm", ops.layer_norm(
            D, D.add(a, x), P[p + "attention.output.LayerNorm.weight"], P[p + "attention.output.LayerNorm.bias"],
            eps=eps, acc=acc))
        h = tap(D, "intermediate.act", act(D, lin(a, "intermediate.dense")))
        h = lin(h, "output.dense")
        return tap(D, "output.LayerNorm", ops.layer_norm(
            D, D.add(h, a), P[p + "output.LayerNorm.weight"], P[p + "output.LayerNorm.bias"], eps=eps, acc=acc))


#: the built-in prompts (query first) when --weights names a checkpoint and no --prompt is given
BUILTIN_PROMPTS = ("A man is playing a guitar.", "Someone is playing an instrument.",
                   "A chef is cooking pasta in a kitchen.")


def pack(seqs):
    """(ids (P, T) int64 padded with 0, lengths (P,) int64) for P token-id lists."""
    if not seqs:
        raise ShapeError("bert: no prompts")
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    if lengths.min() == 0:
        raise ShapeError(f"bert: prompt {int(np.argmin(lengths))} has no tokens")
    ids = np.zeros((len(seqs), int(lengths.max())), dtype=np.int64)
    for p, s in enumerate(seqs):
        ids[p, :len(s)] = s
    return ids, lengths


# -- checkpoints ---------------------------------------------------------------------------
class HFTokenizer:
    """A Hugging Face `tokenizer.json` through the `tokenizers` library; padding and
    truncation that the file may configure are switched off (each prompt runs alone,
    and a prompt longer than the model takes is an error, not silently cut)."""

    def __init__(self, path, vocab_size):
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise FpsemError("the `tokenizers` package is needed to read tokenizer.json: "
                             "pip install 'fpsem[bert]'") from None
        try:
            tok = Tokenizer.from_file(path)
        except Exception as e:  # tokenizers raises plain Exception subclasses with long messages
            raise WeightsError(f"{path}: not a valid tokenizer.json ({str(e).splitlines()[0][:200]})") from None
        tok.no_padding()
        tok.no_truncation()
        n = tok.get_vocab_size(with_added_tokens=True)
        if n > vocab_size:
            raise WeightsError(f"{path}: the tokenizer has {n} tokens, more than the model's "
                               f"vocab_size {vocab_size}")
        self.path, self._tok = path, tok

    def encode(self, text):
        if not isinstance(text, str):
            raise FpsemError(f"bert: a prompt must be a string, got {type(text).__name__}")
        enc = self._tok.encode(text)
        if not enc.ids:
            raise ShapeError(f"bert: prompt {text!r} has no tokens")
        return list(enc.ids)

    def tokens(self, text):
        return list(self._tok.encode(text).tokens)


def _int_field(cj, path, name, default=None):
    if name not in cj:
        if default is None:
            raise WeightsError(f"{path}: missing {name}")
        return default
    v = cj[name]
    if type(v) is not int or v < 1:
        raise WeightsError(f"{path}: {name} must be a positive integer, got {v!r}")
    return v


def config_from_json(path):
    """A BertConfig from a HF config.json, every field that changes the arithmetic
    checked; fields that only matter for training (dropout, initializer_range, ...)
    are ignored."""
    from .weights import read_json_object
    cj = read_json_object(path, "a BERT config.json")
    mt = cj.get("model_type", "bert")
    if mt != "bert":
        raise WeightsError(f"{path}: model_type {mt!r} is not supported (only 'bert'; "
                           f"RoBERTa-style position offsets and other families differ)")
    pet = cj.get("position_embedding_type", "absolute")
    if pet != "absolute":
        raise WeightsError(f"{path}: position_embedding_type {pet!r} is not supported (only 'absolute')")
    for flag in ("is_decoder", "add_cross_attention"):
        if flag in cj and cj[flag] not in (False, None):
            raise WeightsError(f"{path}: {flag}={json.dumps(cj[flag])} is not supported (an encoder only)")
    act = cj.get("hidden_act", "gelu")
    if act not in _ACTS:
        raise WeightsError(f"{path}: hidden_act {act!r} is not supported ({', '.join(_ACTS)})")
    eps = cj.get("layer_norm_eps", 1e-12)
    if type(eps) not in (int, float) or not math.isfinite(eps) or eps <= 0:
        raise WeightsError(f"{path}: layer_norm_eps must be a positive finite number, got {eps!r}")
    cfg = BertConfig(
        num_hidden_layers=_int_field(cj, path, "num_hidden_layers"),
        hidden_size=_int_field(cj, path, "hidden_size"),
        num_attention_heads=_int_field(cj, path, "num_attention_heads"),
        intermediate_size=_int_field(cj, path, "intermediate_size"),
        max_position_embeddings=_int_field(cj, path, "max_position_embeddings", 512),
        vocab_size=_int_field(cj, path, "vocab_size"),
        type_vocab_size=_int_field(cj, path, "type_vocab_size", 2),
        layer_norm_eps=repr(float(eps)), hidden_act=act, preset="checkpoint")
    try:
        return cfg.check()
    except FpsemError as e:
        raise WeightsError(f"{path}: {e}") from None


#: checkpoint tensors that mean pooling does not use: the [CLS] pooler, the
#: pre-training heads and the position-id buffer
_UNUSED = ("pooler.", "cls.", "embeddings.position_ids")


def normalize_bert_names(tensors, path):
    """Strip `bert.`, map legacy LayerNorm gamma/beta, drop the unused pooler/heads."""
    out, unused = {}, []
    for k, v in tensors.items():
        name = k[len("bert."):] if k.startswith("bert.") else k
        if name.startswith(_UNUSED) or k.startswith("cls."):
            unused.append(name)
            continue
        if ".LayerNorm.gamma" in name or ".LayerNorm.beta" in name:
            name = name.replace(".LayerNorm.gamma", ".LayerNorm.weight").replace(".LayerNorm.beta", ".LayerNorm.bias")
        if name in out:
            raise WeightsError(f"{path}: parameter {name} appears twice (with and without the bert. prefix)")
        out[name] = v
    return out, unused


def load_bert(path, config=None):
    """A Bert model from a HF checkpoint directory (config.json, model.safetensors or
    model.safetensors.index.json, and tokenizer.json for prompts)."""
    from .weights import check_float_params, read_checkpoint
    if config is not None:
        raise FpsemError("--config does not apply to a checkpoint: config.json describes it")
    if not os.path.isdir(path):
        raise WeightsError(f"{path}: a BERT checkpoint is a directory (config.json, model.safetensors, "
                           f"tokenizer.json)" if os.path.exists(path) else f"weights not found: {path}")
    cj = os.path.join(path, "config.json")
    if not os.path.isfile(cj):
        raise WeightsError(f"{path}: directory has no config.json")
    cfg = config_from_json(cj)
    tensors, where = read_checkpoint(path)
    tensors, unused = normalize_bert_names(tensors, where)
    params, notes = check_float_params(tensors, param_shapes(cfg), where)
    tj = os.path.join(path, "tokenizer.json")
    tok = HFTokenizer(tj, cfg.vocab_size) if os.path.isfile(tj) else None
    m = Bert(cfg, params, source=os.path.abspath(path), tokenizer=tok)
    if unused:
        notes.append(f"{len(unused)} tensor(s) unused by mean pooling ignored (e.g. {unused[0]})")
    if tok is None:
        notes.append("no tokenizer.json: prompts cannot be tokenized")
    m.weight_notes = notes
    return m
