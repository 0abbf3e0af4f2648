"""Hugging Face GPT-2 checkpoints: model.safetensors (+ config.json) -> GPT2.

Accepted: a `model.safetensors` file, or a directory holding `model.safetensors`
and usually `config.json` (and, for the tokenizer, `vocab.json` + `merges.txt`).
Parameter names are HF's, with or without the `transformer.` prefix; weights in
GPT-2's Conv1D layout (in, out). The LM head is tied to `wte`: an `lm_head.weight`
that differs from `wte.weight` is refused. The attention-mask buffers some
checkpoints carry (`attn.bias`, `attn.masked_bias`) are ignored. float16, bfloat16
and float32 tensors are accepted; float16/bfloat16 widen to float32 exactly, and a
float64 tensor is rounded to float32 once (said in the warnings).
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import struct

import numpy as np

from fpsem.errors import FpsemError, WeightsError

from .gpt2 import CONFIGS, GPT2, GPT2Config, param_shapes

#: n_embd -> n_head of the published GPT-2 sizes (used when config.json is absent)
_HEADS = {768: 12, 1024: 16, 1280: 20, 1600: 25}
_IGNORED_SUFFIXES = (".attn.bias", ".attn.masked_bias")


def _read_safetensors(path):
    """name -> numpy array (float32 for float tensors)."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) != 8:
                raise WeightsError(f"{path}: not a safetensors file (too short)")
            (n,) = struct.unpack("<Q", head)
            if n > 100_000_000:
                raise WeightsError(f"{path}: not a safetensors file (header length {n})")
            header = json.loads(f.read(n))
    except OSError as e:
        raise WeightsError(f"cannot read weights {path}: {e.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise WeightsError(f"{path}: not a safetensors file (bad header)") from None
    _check_header(path, header, os.path.getsize(path) - 8 - n)
    try:
        # safetensors hands bfloat16 and float8 tensors over as ml_dtypes arrays
        from safetensors import safe_open
        with safe_open(path, framework="np") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # safetensors raises its own error types
        raise WeightsError(f"{path}: cannot load safetensors ({str(e).splitlines()[0]})") from None
    return {k: _widen(v) for k, v in tensors.items()}


def _widen(a):
    """ml_dtypes float tensors (bfloat16, float8) as float32, exactly (each format
    is a subset of binary32); ml_dtypes integers stay (load_gpt2 refuses them)."""
    if not a.dtype.type.__module__.startswith("ml_dtypes"):
        return a
    import ml_dtypes
    try:
        ml_dtypes.finfo(a.dtype)
    except (ValueError, TypeError):
        return a
    return a.astype(np.float32)


_SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
          "BOOL": 1, "U16": 2, "U32": 4, "U64": 8, "F8_E4M3": 1, "F8_E5M2": 1}


def _check_header(path, header, data_len):
    """Every field of a safetensors header, before any tensor is read: an object of
    name -> {dtype, shape, data_offsets}, offsets inside the data and matching the
    shape; a malformed file gets a one-line error naming the tensor and field."""
    if not isinstance(header, dict):
        raise WeightsError(f"{path}: not a safetensors file (the header is a JSON "
                           f"{type(header).__name__}, not an object)")
    if data_len < 0:
        raise WeightsError(f"{path}: not a safetensors file (header longer than the file)")
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(meta, dict):
            raise WeightsError(f"{path}: tensor {name}: header entry is not an object")
        dt, shape, off = meta.get("dtype"), meta.get("shape"), meta.get("data_offsets")
        if dt not in _SIZES:
            raise WeightsError(f"{path}: tensor {name}: unsupported or missing dtype {dt!r}")
        if not (isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape)):
            raise WeightsError(f"{path}: tensor {name}: shape must be a list of non-negative integers, got {shape!r}")
        if not (isinstance(off, list) and len(off) == 2 and all(type(o) is int for o in off)):
            raise WeightsError(f"{path}: tensor {name}: data_offsets must be [begin, end], got {off!r}")
        a, b = off
        if not 0 <= a <= b:
            raise WeightsError(f"{path}: tensor {name}: data_offsets {off} are reversed or negative")
        if b > data_len:
            raise WeightsError(f"{path}: tensor {name}: data_offsets end {b} is past the end of the data "
                               f"({data_len} bytes; truncated file?)")
        need = int(np.prod(shape, dtype=object)) * _SIZES[dt]
        if b - a != need:
            raise WeightsError(f"{path}: tensor {name}: {b - a} bytes of data for shape {shape} {dt} "
                               f"({need} expected)")


def _config_from_json(path, tensors):
    cj = read_json_object(path, "a GPT-2 config.json")
    act = cj.get("activation_function", "gelu_new")
    if act not in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
        raise WeightsError(f"{path}: activation_function {act!r} is not GPT-2's tanh GELU")
    for flag in ("scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn"):
        if cj.get(flag):
            raise WeightsError(f"{path}: {flag}=true is not supported")
    if cj.get("scale_attn_weights") is False:
        raise WeightsError(f"{path}: scale_attn_weights=false is not supported")
    def field(*names, default=None):
        for nm in names:
            if nm in cj:
                v = cj[nm]
                # an integer, not 12.5, "12" or true
                if type(v) is not int:
                    raise WeightsError(f"{path}: {nm} must be an integer, got {v!r}")
                return v
        if default is None:
            raise WeightsError(f"{path}: missing {names[0]}")
        return default

    eps = cj.get("layer_norm_epsilon", 1e-5)
    if type(eps) not in (int, float) or not math.isfinite(eps) or eps <= 0:
        raise WeightsError(f"{path}: layer_norm_epsilon must be a positive finite number, got {eps!r}")
    cfg = GPT2Config(
        n_layer=field("n_layer", "num_hidden_layers"),
        n_embd=field("n_embd", "hidden_size"),
        n_head=field("n_head", "num_attention_heads"),
        n_positions=field("n_positions", "max_position_embeddings", default=1024),
        vocab_size=field("vocab_size"),
        layer_norm_epsilon=repr(float(eps)),
        preset="checkpoint",
    )
    try:
        return cfg.check()
    except FpsemError as e:
        raise WeightsError(f"{path}: {e}") from None


def _infer_config(tensors, hint=None):
    if "wte.weight" not in tensors or "wpe.weight" not in tensors:
        raise WeightsError("checkpoint has no wte.weight / wpe.weight: not a GPT-2 checkpoint")
    V, C = tensors["wte.weight"].shape
    P = tensors["wpe.weight"].shape[0]
    layers = {int(k.split(".")[1]) for k in tensors if k.startswith("h.") and k.split(".")[1].isdigit()}
    L = max(layers) + 1 if layers else 0
    if hint is not None and hint.n_embd == C:
        H = hint.n_head
    else:
        H = _HEADS.get(C, max(1, C // 64))
    return GPT2Config(n_layer=L, n_embd=C, n_head=H, n_positions=P, vocab_size=V, preset="checkpoint")


def normalize_names(tensors, path="checkpoint"):
    """Strip `transformer.` (or `model.transformer.`), drop mask buffers, check lm_head."""
    out = {}
    lm_head = None
    for k, v in tensors.items():
        name = k
        for pre in ("model.transformer.", "transformer."):
            if name.startswith(pre):
                name = name[len(pre):]
                break
        if name in ("lm_head.weight", "model.lm_head.weight"):
            lm_head = v
            continue
        if name.endswith(_IGNORED_SUFFIXES):
            continue
        if name in out:
            raise WeightsError(f"{path}: parameter {name} appears twice (with and without prefix)")
        out[name] = v
    if lm_head is not None and "wte.weight" in out:
        if lm_head.shape != out["wte.weight"].shape or not np.array_equal(lm_head, out["wte.weight"]):
            raise WeightsError(f"{path}: lm_head.weight differs from wte.weight; GPT-2's LM head is tied")
    return out


def load_gpt2(path, config=None):
    """A GPT2 model from a HF checkpoint file or directory. `config` (a preset name
    or GPT2Config) only supplies n_head when there is no config.json."""
    if not os.path.exists(path):
        raise WeightsError(f"weights not found: {path}")
    cfg_json = None
    if os.path.isdir(path):
        st = os.path.join(path, "model.safetensors")
        if not os.path.isfile(st):
            if not os.path.isfile(os.path.join(path, INDEX)):
                raise WeightsError(f"{path}: directory has no model.safetensors or {INDEX}")
            st = None
        cj = os.path.join(path, "config.json")
        cfg_json = cj if os.path.isfile(cj) else None
    else:
        st = None if path.endswith(".index.json") else path
        cj = os.path.join(os.path.dirname(os.path.abspath(path)), "config.json")
        cfg_json = cj if os.path.isfile(cj) else None
    raw, st = read_checkpoint(st or path)   # st None: a sharded checkpoint
    tensors = normalize_names(raw, st)
    hint = CONFIGS.get(config) if isinstance(config, str) else config
    cfg = _config_from_json(cfg_json, tensors) if cfg_json else _infer_config(tensors, hint)
    params, notes = check_float_params(tensors, param_shapes(cfg), st,
                                       " (config.json and tensors disagree)" if cfg_json else "",
                                       f" for {cfg.n_layer} layers")
    m = GPT2(cfg, params, source=os.path.abspath(path))
    if notes:
        m.weight_notes = notes
    return m


def save_gpt2(model, path, prefix="transformer."):
    """Write a model's parameters as a HF-named safetensors file (for tests and export)."""
    from safetensors.numpy import save

    from fpsem.io import atomic_write
    data = save({prefix + k: np.ascontiguousarray(v) for k, v in model.params.items()})
    atomic_write(path, lambda fh: fh.write(data), binary=True)


def write_config_json(cfg, path):
    from fpsem.io import atomic_write
    atomic_write(path, lambda f: json.dump({"model_type": "gpt2", "n_layer": cfg.n_layer, "n_embd": cfg.n_embd,
                   "n_head": cfg.n_head, "n_positions": cfg.n_positions, "n_ctx": cfg.n_positions,
                   "vocab_size": cfg.vocab_size, "layer_norm_epsilon": float(cfg.layer_norm_epsilon),
                   "activation_function": "gelu_new"}, f, indent=1))


# -- sharded checkpoints and parameter checks (shared by GPT-2 and BERT) ----------------
#: the index of a sharded safetensors checkpoint (HF `save_pretrained` with max_shard_size)
INDEX = "model.safetensors.index.json"


def read_checkpoint(path):
    """(name -> array, where) from a `.safetensors` file, a `model.safetensors.index.json`,
    or a directory holding model.safetensors (preferred) or the index."""
    if os.path.isdir(path):
        st, ix = os.path.join(path, "model.safetensors"), os.path.join(path, INDEX)
        if os.path.isfile(st):
            return _read_safetensors(st), st
        if os.path.isfile(ix):
            return read_sharded(ix), ix
        raise WeightsError(f"{path}: directory has no model.safetensors or {INDEX}")
    if path.endswith(".index.json"):
        return read_sharded(path), path
    return _read_safetensors(path), path


def read_json_object(path, what):
    """A checkpoint's JSON file that must hold an object (config.json, an index); one-line errors."""
    try:
        with open(path, encoding="utf-8") as f:
            obj = json.load(f)
    except OSError as e:
        raise WeightsError(f"cannot read {path}: {e.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise WeightsError(f"{path}: not valid JSON ({getattr(e, 'msg', e)})") from None
    if not isinstance(obj, dict):
        raise WeightsError(f"{path}: {what} must be a JSON object, not a {type(obj).__name__}")
    return obj


def _load_index(path):
    ix = read_json_object(path, "a sharded-checkpoint index")
    bad = sorted(set(ix) - {"metadata", "weight_map"})
    if bad:
        raise WeightsError(f"{path}: unknown field {bad[0]!r} (an index has metadata and weight_map)")
    meta = ix.get("metadata", {})
    if not isinstance(meta, dict):
        raise WeightsError(f"{path}: metadata must be an object, got {meta!r}")
    ts = meta.get("total_size", 0)
    if type(ts) is not int or ts < 0:
        raise WeightsError(f"{path}: metadata.total_size must be a non-negative integer, got {ts!r}")
    wm = ix.get("weight_map")
    if not isinstance(wm, dict) or not wm:
        raise WeightsError(f"{path}: weight_map must be a non-empty object of tensor name -> shard file")
    for name, shard in wm.items():
        # a shard is a file beside the index: no directories, no way out of it
        if (not isinstance(shard, str) or not shard.endswith(".safetensors") or shard != os.path.basename(shard)
                or shard.startswith(".") or "\\" in shard):
            raise WeightsError(f"{path}: weight_map[{name!r}] = {shard!r} is not a .safetensors file "
                               f"name beside the index")
    return wm


def read_sharded(index_path):
    """name -> array from every shard a `model.safetensors.index.json` lists. The
    index is checked against the shards: every tensor it maps is in its shard, and
    every tensor of a shard is mapped to that shard (a one-line error otherwise)."""
    wm = _load_index(index_path)
    where = os.path.dirname(os.path.abspath(index_path))
    shards = list(dict.fromkeys(wm.values()))
    for shard in shards:   # every shard there before any is read
        if not os.path.isfile(os.path.join(where, shard)):
            first = next(k for k, v in wm.items() if v == shard)
            raise WeightsError(f"{index_path}: shard {shard} (holding {first}) is missing")
    out = {}
    for shard in shards:
        sp = os.path.join(where, shard)
        tensors = _read_safetensors(sp)
        for name in tensors:
            if wm.get(name) != shard:
                raise WeightsError(f"{sp}: tensor {name} is not mapped to this shard by the index"
                                   + (f" (the index says {wm[name]})" if name in wm else ""))
            out[name] = tensors[name]
        missing = [k for k, v in wm.items() if v == shard and k not in tensors]
        if missing:
            raise WeightsError(f"{sp}: tensor {missing[0]} listed in the index is not in the shard "
                               f"({len(missing)} missing)")
    return out


def check_float_params(tensors, shapes, where, shape_hint="", missing_hint=""):
    """(params, notes): the float32 parameters `shapes` names, each checked (present,
    float, that shape, finite); float16/bfloat16 widen exactly, float64 rounds to
    float32 once (noted). A tensor `shapes` does not name is an error."""
    params, rounded = {}, []
    for k, shape in shapes.items():
        if k not in tensors:
            raise WeightsError(f"{where}: missing parameter {k}{missing_hint}")
        a = tensors[k]
        if a.dtype.kind != "f":
            raise WeightsError(f"{where}: parameter {k} has non-float dtype {a.dtype}")
        if tuple(a.shape) != shape:
            raise WeightsError(f"{where}: parameter {k} has shape {tuple(a.shape)}, expected {shape}{shape_hint}")
        bad = int(a.size - np.count_nonzero(np.isfinite(a)))
        if bad:  # would run to all-NaN outputs and a meaningless "same decision"
            raise WeightsError(f"{where}: parameter {k} has {bad} NaN or infinite values")
        if a.dtype == np.float64:
            f = a.astype(np.float32)
            if not np.isfinite(f).all():
                raise WeightsError(f"{where}: parameter {k} overflows float32")
            if not np.array_equal(f, a):
                rounded.append(k)
        params[k] = np.ascontiguousarray(a, dtype=np.float32)
    extra = sorted(set(tensors) - set(shapes))
    if extra:
        raise WeightsError(f"{where}: unexpected parameter {extra[0]} ({len(extra)} unexpected)")
    notes = [f"{len(rounded)} float64 parameter(s) rounded to float32 once (e.g. {rounded[0]})"] if rounded else []
    return params, notes


def checkpoint_files(path):
    """The files a checkpoint path reads (for hashing): the safetensors file, or the
    index and its shards, plus config.json beside them."""
    if os.path.isdir(path):
        st = os.path.join(path, "model.safetensors")
        path = st if os.path.isfile(st) else os.path.join(path, INDEX)
    files = [path]
    if path.endswith(".index.json") and os.path.isfile(path):
        files += [os.path.join(os.path.dirname(os.path.abspath(path)), s)
                  for s in dict.fromkeys(_load_index(path).values())]
    cj = os.path.join(os.path.dirname(os.path.abspath(path)), "config.json")
    return files + ([cj] if os.path.isfile(cj) else [])



__all__ = ["load_gpt2", "save_gpt2", "write_config_json", "normalize_names", "read_checkpoint", "read_sharded",
           "check_float_params", "checkpoint_files", "dataclasses"]
