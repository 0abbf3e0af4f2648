"""GPT-2: parity with an independent float64 numpy implementation, the HF loader,
causal masking, KV-cache decoding, the tokenizer."""
import json
import math
import struct

import numpy as np
import pytest

import fpsem
from fpsem.errors import FpsemError, ShapeError, WeightsError
from fpsem.models import GPT2, GPT2Config, get_model
from fpsem.models.gpt2 import CONFIGS, param_shapes
from fpsem.models.tokenizer import (BYTE_ID, BPETokenizer, ByteTokenizer, bytes_to_unicode,
                                    pretokenize)
from fpsem.models.weights import load_gpt2, save_gpt2, write_config_json

CFG = GPT2Config(n_layer=2, n_embd=32, n_head=4, n_positions=24, vocab_size=300, preset="test")


def random_params(cfg, seed=1):
    """Every parameter randomized, biases and layer norms included."""
    rng = np.random.default_rng(seed)
    out = {}
    for k, shape in param_shapes(cfg).items():
        if ".ln_" in k or k.startswith("ln_f"):
            base = 1.0 if k.endswith("weight") else 0.0
            out[k] = (base + 0.2 * rng.standard_normal(shape)).astype(np.float32)
        elif k.endswith("bias"):
            out[k] = (0.1 * rng.standard_normal(shape)).astype(np.float32)
        else:
            out[k] = (0.2 * rng.standard_normal(shape)).astype(np.float32)
    return out


# -- an independent reference: plain numpy float64, written from the GPT-2 paper/HF code ---
def ref_forward(p, ids, cfg):
    p = {k: v.astype(np.float64) for k, v in p.items()}
    ids = np.asarray(ids)
    T, C, H = len(ids), cfg.n_embd, cfg.n_head
    hd = C // H

    def ln(x, g, b):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + 1e-5) * g + b

    def gelu(x):
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))

    x = p["wte.weight"][ids] + p["wpe.weight"][np.arange(T)]
    mask = np.tril(np.ones((T, T), dtype=bool))
    for i in range(cfg.n_layer):
        g = lambda n: p[f"h.{i}.{n}"]
        a = ln(x, g("ln_1.weight"), g("ln_1.bias"))
        qkv = a @ g("attn.c_attn.weight") + g("attn.c_attn.bias")
        q, k, v = np.split(qkv, 3, axis=-1)
        q, k, v = (z.reshape(T, H, hd).transpose(1, 0, 2) for z in (q, k, v))
        s = q @ k.transpose(0, 2, 1) / math.sqrt(hd)
        s = np.where(mask, s, -np.inf)
        w = np.exp(s - s.max(-1, keepdims=True))
        w /= w.sum(-1, keepdims=True)
        y = (w @ v).transpose(1, 0, 2).reshape(T, C)
        x = x + y @ g("attn.c_proj.weight") + g("attn.c_proj.bias")
        m = ln(x, g("ln_2.weight"), g("ln_2.bias"))
        h = gelu(m @ g("mlp.c_fc.weight") + g("mlp.c_fc.bias"))
        x = x + h @ g("mlp.c_proj.weight") + g("mlp.c_proj.bias")
    x = ln(x, p["ln_f.weight"], p["ln_f.bias"])
    return x @ p["wte.weight"].T


def path_roundings(cfg, T):
    """Roundings on the longest path from the parameters to one logit, counted as
    in Higham's gamma_n bounds (a length-n dot product: n roundings, Thm 3.1):
    per block ln_1 (two length-C sums + 6), c_attn (C + bias), scores (hd + scale),
    softmax (-max, exp, length-T sum, /), p.v (T), c_proj (C + 1), residual (1),
    ln_2 (2C + 6), c_fc (C + 1), gelu (9 + tanh), mlp.c_proj (4C + 1), residual (1);
    then ln_f (2C + 6) and the logit dot (C); plus the embedding sum (1)."""
    C, hd = cfg.n_embd, cfg.head_dim
    block = (2 * C + 6) + (C + 1) + (hd + 1) + (T + 3) + T + (C + 1) + 1 + (2 * C + 6) + (C + 1) + 10 + (4 * C + 1) + 1
    return 1 + cfg.n_layer * block + (2 * C + 6) + C


def tolerance(cfg, T, ref, u):
    # first-order bound: N roundings of relative size u each, relative to the scale of
    # the quantities they act on. The layer norms and the softmax are well conditioned
    # here (random weights of moderate size, ln variance far from eps), so the scale
    # of every intermediate is within a small factor of the logits' scale; we allow
    # a factor 4 for those condition numbers. For CFG, T = 12 this is ~4 * 1060 u *
    # scale, i.e. a few thousand float32 ulps of the logits' scale, while the observed
    # error is typically ~100x smaller (random-walk sqrt(N) accumulation).
    N = path_roundings(cfg, T)
    scale = np.abs(ref).max() + 1.0
    return 4 * N * u / (1 - N * u) * scale


@pytest.fixture(scope="module")
def model():
    return GPT2(CFG, random_params(CFG), source="test")


IDS = np.array([5, 17, 200, 3, 299, 0, 42, 42, 7, 150, 11, 260])


def test_float64_domain_matches_independent_numpy(model):
    got = fpsem.domain("float64").to_float64(model.forward(fpsem.domain("float64"), IDS))
    ref = ref_forward(model.params, IDS, CFG)
    err = np.abs(got - ref).max()
    assert err <= tolerance(CFG, len(IDS), ref, 2.0 ** -53), err


@pytest.mark.parametrize("acc", ["native", "sequential", "pairwise"])
def test_float32_domain_matches_independent_float64_numpy(model, acc):
    D = fpsem.domain("float32", acc=acc)
    got = D.to_float64(model.forward(D, IDS))
    ref = ref_forward(model.params, IDS, CFG)
    err = np.abs(got - ref).max()
    tol = tolerance(CFG, len(IDS), ref, 2.0 ** -24)
    assert 0 < err <= tol, (err, tol)
    assert got.shape == (len(IDS), CFG.vocab_size)


def test_parameter_counts():
    counts = {k: sum(math.prod(s) for s in param_shapes(c).values()) for k, c in CONFIGS.items()}
    assert counts["small"] == 124_439_808   # the published GPT-2 small count (tied head)
    assert counts["medium"] == 354_823_168
    assert counts["large"] == 774_030_080
    assert counts["xl"] == 1_557_611_200
    assert get_model("gpt2").n_params == counts["tiny"]


def test_random_init_statistics():
    cfg = GPT2Config(n_layer=4, n_embd=128, n_head=4, vocab_size=2000)
    m = GPT2(cfg, seed=3)
    assert m.random_weights and "RANDOM" in m.describe_weights()
    assert abs(m.params["wte.weight"].std() - 0.02) < 0.001
    assert abs(m.params["h.0.mlp.c_fc.weight"].std() - 0.02) < 0.001
    resid = 0.02 / math.sqrt(2 * cfg.n_layer)
    assert abs(m.params["h.1.attn.c_proj.weight"].std() - resid) < 0.0008
    assert abs(m.params["h.1.mlp.c_proj.weight"].std() - resid) < 0.0008
    assert np.all(m.params["h.0.ln_1.weight"] == 1) and np.all(m.params["h.0.attn.c_attn.bias"] == 0)
    assert np.array_equal(GPT2(cfg, seed=3).params["wte.weight"], m.params["wte.weight"])
    assert not np.array_equal(GPT2(cfg, seed=4).params["wte.weight"], m.params["wte.weight"])


# -- loader -----------------------------------------------------------------------------
@pytest.mark.parametrize("prefix", ["transformer.", ""])
def test_loader_round_trip(tmp_path, model, prefix):
    f = tmp_path / "model.safetensors"
    save_gpt2(model, str(f), prefix=prefix)
    write_config_json(CFG, str(tmp_path / "config.json"))
    for path in (f, tmp_path):
        m2 = load_gpt2(str(path))
        assert m2.config.n_layer == CFG.n_layer and m2.config.n_head == CFG.n_head
        assert set(m2.params) == set(model.params)
        for k in model.params:
            assert np.array_equal(m2.params[k], model.params[k]), k
        D = fpsem.domain("float32")
        assert np.array_equal(m2.forward(D, IDS), model.forward(D, IDS))
        assert not m2.random_weights


def test_loader_hf_extras_and_no_config(tmp_path, model):
    """lm_head tied (equal) and the attn.bias mask buffers are accepted; without
    config.json the sizes come from the tensors and n_head from --config."""
    from safetensors.numpy import save_file
    t = {"transformer." + k: v for k, v in model.params.items()}
    t["lm_head.weight"] = model.params["wte.weight"].copy()
    t["transformer.h.0.attn.bias"] = np.tril(np.ones((1, 1, 24, 24), np.float32))
    f = tmp_path / "ckpt.safetensors"
    save_file(t, str(f))
    m2 = load_gpt2(str(f), config=CFG)
    assert m2.config.n_head == CFG.n_head and m2.config.vocab_size == 300
    assert np.array_equal(m2.params["h.1.mlp.c_proj.bias"], model.params["h.1.mlp.c_proj.bias"])


def test_loader_float16_and_bfloat16(tmp_path, model):
    from safetensors.numpy import save_file
    f16 = {k: v.astype(np.float16) for k, v in model.params.items()}
    save_file(f16, str(tmp_path / "h.safetensors"))
    m = load_gpt2(str(tmp_path / "h.safetensors"), config=CFG)
    assert np.array_equal(m.params["wte.weight"], f16["wte.weight"].astype(np.float32))
    # bfloat16: numpy has no such dtype; write the file by hand
    header, blobs, off = {}, [], 0
    for k, v in model.params.items():
        b = (v.view(np.uint32) >> 16).astype("<u2").tobytes()
        header[k] = {"dtype": "BF16", "shape": list(v.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    hb = json.dumps(header).encode()
    (tmp_path / "b.safetensors").write_bytes(struct.pack("<Q", len(hb)) + hb + b"".join(blobs))
    m = load_gpt2(str(tmp_path / "b.safetensors"), config=CFG)
    want = (model.params["wte.weight"].view(np.uint32) & 0xFFFF0000).view(np.float32)
    assert np.array_equal(m.params["wte.weight"], want)


def test_loader_errors(tmp_path, model):
    from safetensors.numpy import save_file
    with pytest.raises(WeightsError, match="not found"):
        load_gpt2(str(tmp_path / "nope.safetensors"))
    (tmp_path / "junk.safetensors").write_bytes(b"hello world, not a checkpoint")
    with pytest.raises(WeightsError):
        load_gpt2(str(tmp_path / "junk.safetensors"))
    with pytest.raises(WeightsError, match="no model.safetensors"):
        load_gpt2(str(tmp_path))
    t = {k: v for k, v in model.params.items() if k != "h.1.ln_2.bias"}
    save_file(t, str(tmp_path / "missing.safetensors"))
    with pytest.raises(WeightsError, match="h.1.ln_2.bias"):
        load_gpt2(str(tmp_path / "missing.safetensors"), config=CFG)
    t = dict(model.params)
    t["lm_head.weight"] = t["wte.weight"] + 1
    save_file(t, str(tmp_path / "untied.safetensors"))
    with pytest.raises(WeightsError, match="tied"):
        load_gpt2(str(tmp_path / "untied.safetensors"), config=CFG)
    d = tmp_path / "bad"
    d.mkdir()
    save_gpt2(model, str(d / "model.safetensors"))
    write_config_json(GPT2Config(n_layer=2, n_embd=48, n_head=4, n_positions=24, vocab_size=300), str(d / "config.json"))
    with pytest.raises(WeightsError, match="shape"):
        load_gpt2(str(d))


# -- inputs -------------------------------------------------------------------------------
def test_user_errors_on_ids(model):
    D = fpsem.domain("float32")
    with pytest.raises(ShapeError, match="outside the vocabulary"):
        model.forward(D, np.array([1, 300]))
    with pytest.raises(ShapeError, match="outside the vocabulary"):
        model.forward(D, np.array([-1]))
    with pytest.raises(ShapeError, match="context length"):
        model.forward(D, np.zeros(25, dtype=np.int64))
    with pytest.raises(FpsemError, match="unknown model"):
        get_model("gpt5")


# -- causal masking and the KV cache (bit for bit under a specified order) ----------------
SEQ = fpsem.domain("float32", acc="sequential")


def test_causal_prefix_rows_are_bitwise_equal(model):
    full = model.forward(SEQ, IDS)
    for t in (1, 5, 11):
        assert np.array_equal(model.forward(SEQ, IDS[:t]), full[:t])
    changed = IDS.copy()
    changed[8:] = 1
    assert np.array_equal(model.forward(SEQ, changed)[:8], full[:8])


def test_kv_cache_decode_equals_full_forward(model):
    full = model.forward(SEQ, IDS)
    logits, cache = model.forward(SEQ, IDS[:4], return_cache=True)
    rows = [logits]
    for t in range(4, len(IDS)):
        logits, cache = model.forward(SEQ, IDS[t:t + 1], cache=cache, return_cache=True)
        rows.append(logits)
    assert np.array_equal(np.concatenate(rows), full)
    assert SEQ.shape(cache[0][0]) == (CFG.n_head, len(IDS), CFG.head_dim)


def test_generate_is_greedy_over_full_forward(model):
    out = model.generate(SEQ, IDS[:5], 4)
    seq = list(IDS[:5])
    for _ in range(4):
        seq.append(int(np.argmax(model.forward(SEQ, np.array(seq))[-1])))
    assert out == seq[5:]


def test_trace_names_and_steps(model):
    from fpsem.trace import progress, recording
    names, steps = [], []
    with recording(lambda n, D, x: names.append(n)), progress(steps.append):
        model.forward(fpsem.domain("float32"), IDS[:3])
    for n in ("wte", "wpe", "h.0.ln_1", "h.0.attn.c_attn", "h.0.attn.attn", "h.0.attn.c_proj",
              "h.0.resid_attn", "h.0.ln_2", "h.0.mlp.c_fc", "h.0.mlp.act", "h.0.mlp.c_proj",
              "h.1.resid_mlp", "ln_f", "logits"):
        assert n in names, n
    assert steps == ["h.0", "h.1"]


def test_exact_domain_refuses_cleanly(model):
    assert model.is_rational is False
    with pytest.raises(FpsemError):
        model.forward(fpsem.domain("exact"), IDS[:2])


def _maybe(name):
    ok, why = fpsem.availability(name)
    if not ok:
        pytest.skip(f"domain {name} not available in this build: {why}")
    return fpsem.domain(name)


def test_ieee32_sequential_matches_float32_sequential_bitwise(model):
    D = _maybe("ieee32").replace(acc="sequential")
    got = D.to_float64(model.forward(D, IDS[:6]))
    want = model.forward(SEQ, IDS[:6]).astype(np.float64)
    # elementwise + - * / sqrt agree bit for bit; exp and tanh may differ in the
    # last place between numpy's kernels and the correctly rounded emulator
    assert np.abs(got - want).max() <= 1e-4 * (np.abs(want).max() + 1)


def test_interval_encloses_float64_reference(model):
    D = _maybe("interval")
    from fpsem.models.values import bounds
    lo, hi = bounds(D, model.forward(D, IDS[:4]))
    ref = ref_forward(model.params, IDS[:4], CFG)
    slack = 1e-9 * (np.abs(ref).max() + 1)  # the float64 reference's own error
    assert np.all(lo <= ref + slack) and np.all(ref - slack <= hi)


# -- tokenizer ------------------------------------------------------------------------------
def test_byte_ids_are_gpt2_vocab_ids():
    assert BYTE_ID[ord("!")] == 0 and BYTE_ID[ord("A")] == 32 and BYTE_ID[ord(" ")] == 220
    assert BYTE_ID[ord("\n")] == 198 and sorted(BYTE_ID.values()) == list(range(256))
    t = ByteTokenizer()
    ids = t.encode("Hé!")
    assert t.decode(ids) == "Hé!" and len(ids) == 4
    assert t.token_str(1000) == "<1000>"


@pytest.mark.parametrize("text,pieces", [
    ("Hello world's  nice", ["Hello", " world", "'s", " ", " nice"]),
    ("a\n\n 12 !!x", ["a", "\n\n", " 12", " !!", "x"]),
    ("  ", ["  "]), ("x  ", ["x", "  "]), ("I'll", ["I", "'ll"]), ("é3", ["é", "3"]),
])
def test_pretokenizer(text, pieces):
    assert pretokenize(text) == pieces


def test_bpe_with_small_vocab(tmp_path):
    b2u = bytes_to_unicode()
    vocab = {ch: i for i, ch in enumerate(b2u.values())}
    G = b2u[ord(" ")]
    merges = [("h", "e"), ("l", "l"), ("he", "ll"), (G, "w")]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    (tmp_path / "vocab.json").write_text(json.dumps(vocab))
    (tmp_path / "merges.txt").write_text("#version: 0.2\n" + "\n".join(f"{a} {b}" for a, b in merges) + "\n")
    tok = BPETokenizer.from_dir(str(tmp_path))
    ids = tok.encode("hello wow")
    assert [tok.token_str(i) for i in ids] == ["hell", "o", " w", "o", "w"]
    assert tok.decode(ids) == "hello wow"
