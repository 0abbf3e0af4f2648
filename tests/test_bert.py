"""BERT-family checkpoints: `fpsem run bert --weights DIR --prompt ...`.

Numerics are checked against an independent implementation (tests/_bert_oracle.py,
HF's formulas written directly on python-flint Arb balls from the raw tensors): its
enclosures must meet fpsem's ball reference, and every float domain's value must lie
within its rigorous error bound of the oracle's enclosure (the tolerance is the
envelope's bound, derived from the domain's declared semantics, not a guess).
The trained all-MiniLM-L6-v2 tests skip cleanly when the checkpoint is absent.
"""
import json
import os
import shutil

import numpy as np
import pytest
from _cli import cli
from _minilm import SKIP_REASON, minilm_dir, tiny_checkpoint, truncated

import fpsem
from fpsem.errors import FpsemError
from fpsem.models import get_model

pytest.importorskip("tokenizers", reason="the `tokenizers` package reads tokenizer.json (pip install 'fpsem[bert]')")

PROMPTS = ["A man is playing a guitar.", "the cat sat.", "a chef is cooking pasta"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_checkpoint(str(tmp_path_factory.mktemp("bert") / "tiny"))


def _tensors(d):
    from safetensors.numpy import load_file
    t = load_file(os.path.join(d, "model.safetensors"))
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    return {k[5:] if k.startswith("bert.") else k: v for k, v in t.items()}, cfg


def _check_against_oracle(d, prompts, domains):
    """Envelope of `domains` vs the auto ball reference, and the independent Arb oracle:
    (1) the two rigorous enclosures of each real value intersect; (2) each float
    value is within its rigorous bound of the oracle's enclosure."""
    import _bert_oracle as O
    m = get_model("bert", weights=d)
    ids, lens = m.encode(prompts)
    t, cfg = _tensors(d)
    pooled, sims = O.forward(t, cfg, [list(ids[p, :n]) for p, n in enumerate(lens)])
    keep = ["similarity"] + [f"pooled.s{p}" for p in range(len(prompts))]
    env = fpsem.envelope(m, (ids, lens), domain=domains, reference="auto", keep=keep)
    oracle = {"similarity": O.mid_rad(sims), **{f"pooled.s{p}": O.mid_rad(e) for p, e in enumerate(pooled)}}
    for name, (om, orad) in oracle.items():
        assert orad.max() <= 1e-12 * (np.abs(om).max() + 1)        # the oracle is tight
        rlo, rhi = env.reference_tensors[name]
        assert np.all(rlo <= om + orad) and np.all(om - orad <= rhi), name   # enclosures meet
        for D in env.domains:
            f = env.tensors[(D, name)]
            st = env.node(name, D)
            assert st.rigorous and st.bound_abs is not None
            assert np.all(np.abs(f - om) <= st.bound_abs + orad), (D, name)
    return m, env


def test_tiny_checkpoint_every_domain_against_independent_oracle(tiny):
    m, env = _check_against_oracle(tiny, PROMPTS, ["float32", "bf16", "fp16", "float64", "ieee32"])
    assert env.nodes[-1] == "similarity" and env.node("similarity").shape == (2,)
    # ieee32 with numpy's order is float32 bit for bit only where the order matches; both are bounded
    assert env.node("similarity", "bf16").bound_abs > env.node("similarity", "float32").bound_abs
    assert m.n_steps == 2 and len([n for n in env.nodes if n.endswith("output.LayerNorm") and "attention" not in n]) == 2 * 3


def test_tiny_interval_reference_encloses(tiny):
    """The interval domain, too, runs the model and encloses the float64 result."""
    from fpsem.models.values import bounds
    m = get_model("bert", weights=tiny)
    inp = m.encode(PROMPTS)
    lo, hi = bounds(fpsem.domain("interval"), m.forward(fpsem.domain("interval"), *inp))
    f64 = np.asarray(fpsem.domain("float64").to_float64(m.forward(fpsem.domain("float64"), *inp)))
    slack = 1e-12
    assert np.all(lo - slack <= f64) and np.all(f64 <= hi + slack) and np.all(hi - lo < 1e-6)


def test_single_prompt_outputs_the_embedding(tiny):
    m = get_model("bert", weights=tiny)
    D = fpsem.domain("float64")
    e = np.asarray(D.to_float64(m.forward(D, *m.encode(["the cat sat."]))))
    assert e.shape == (32,) and np.isfinite(e).all()


def test_tokenizer_is_the_checkpoints(tiny):
    m = get_model("bert", weights=tiny)
    # [CLS] a man is playing guitar ##s . [SEP]: WordPiece splits "guitars"
    assert m.tokenizer.encode("A man is playing guitars.") == [2, 4, 5, 6, 7, 8, 19, 18, 3]
    assert m.tokenizer.encode("xyzzy")[1] == 1          # [UNK]


def _run(args):
    """(exit code, stdout + stderr)"""
    code, out, err = cli(*args)
    return code, out + err


def test_cli_bert_run_json(tiny, tmp_path):
    out = tmp_path / "r.json"
    code, text = _run(["run", "bert", "--weights", tiny, "-d", "float32,bf16", "--no-progress",
                       "-p", PROMPTS[0], "-p", PROMPTS[1], "-p", PROMPTS[2], "--json", str(out)])
    assert code == 0, text
    assert "cosine similarity with the query" in text and "most similar to the query" in text
    rep = json.loads(out.read_text())
    assert rep["model"] == "bert" and rep["prompts"] == PROMPTS
    assert [len(t) for t in rep["tokens"]] == [9, 6, 7]
    ms = rep["most_similar"]
    assert ms["certain"] is True and ms["gap_lower_bound"] > 0
    for lab in ("float32", "bf16"):
        d = ms["domains"][lab]
        assert d["error_bound"] > 0 and d["pick"] in (1, 2)
        # a pick differing from the certain real one needs a bound of at least half the gap
        assert not (d["flips"] and d["cannot_flip"])
    f32 = next(r for r in rep["runs"] if r["domain"] == "float32")
    assert len(f32["output"]) == 2 and ms["domains"]["float32"]["pick"] == f32["argmax"] + 1


def test_cli_bert_random_weights_and_defaults():
    code, text = _run(["run", "bert", "-d", "float32", "-r", "none", "--no-progress"])
    assert code == 0, text
    assert "RANDOM weights" in text and "cosine similarity" in text


# -- bad checkpoints and options: one line, exit 2 ---------------------------------------------
def _bad(args, *needles):
    code, text = _run(args)
    assert code == 2, text
    assert "Traceback" not in text and len(text.strip().splitlines()) == 1, text
    assert text.startswith("fpsem: error: "), text
    for n in needles:
        assert n in text, text


def _edit_config(d, **changes):
    p = os.path.join(d, "config.json")
    with open(p) as f:
        cfg = json.load(f)
    for k, v in changes.items():
        if v is _DEL:
            cfg.pop(k)
        else:
            cfg[k] = v
    with open(p, "w") as f:
        json.dump(cfg, f)


_DEL = object()


@pytest.mark.parametrize("changes, needle", [
    ({"model_type": "roberta"}, "model_type 'roberta'"),
    ({"hidden_size": _DEL}, "missing hidden_size"),
    ({"hidden_size": 33}, "not divisible"),
    ({"num_hidden_layers": 2.0}, "num_hidden_layers must be a positive integer"),
    ({"num_attention_heads": True}, "num_attention_heads must be a positive integer"),
    ({"vocab_size": 0}, "vocab_size must be a positive integer"),
    ({"hidden_act": "swish"}, "hidden_act 'swish'"),
    ({"layer_norm_eps": -1}, "layer_norm_eps must be a positive finite number"),
    ({"layer_norm_eps": "1e-12"}, "layer_norm_eps must be a positive finite number"),
    ({"position_embedding_type": "relative_key"}, "position_embedding_type"),
    ({"is_decoder": True}, "is_decoder=true"),
    ({"num_hidden_layers": 3}, "missing parameter encoder.layer.2."),
    ({"intermediate_size": 65}, "has shape (64, 32), expected (65, 32)"),
    ({"vocab_size": 5}, "embeddings.word_embeddings.weight has shape (20, 32), expected (5, 32)"),
])
def test_bad_config(tiny, tmp_path, changes, needle):
    d = str(tmp_path / "c")
    shutil.copytree(tiny, d)
    _edit_config(d, **changes)
    _bad(["run", "bert", "--weights", d, "-d", "float32", "-r", "none", "--no-progress"], "config.json"
         if "missing parameter" not in needle and "has shape" not in needle and "tokenizer" not in needle
         else "", needle)


def test_bad_files(tiny, tmp_path):
    base = ["-d", "float32", "-r", "none", "--no-progress"]
    d = str(tmp_path / "d")
    shutil.copytree(tiny, d)
    with open(os.path.join(d, "config.json"), "w") as f:
        f.write("{not json")
    _bad(["run", "bert", "--weights", d] + base, "config.json: not valid JSON")
    with open(os.path.join(d, "config.json"), "w") as f:
        f.write("[1, 2]")
    _bad(["run", "bert", "--weights", d] + base, "must be a JSON object")
    os.remove(os.path.join(d, "config.json"))
    _bad(["run", "bert", "--weights", d] + base, "no config.json")
    _bad(["run", "bert", "--weights", str(tmp_path / "nowhere")] + base, "weights not found")
    _bad(["run", "bert", "--weights", os.path.join(tiny, "config.json")] + base, "is a directory")

    e = str(tmp_path / "e")
    shutil.copytree(tiny, e)
    with open(os.path.join(e, "tokenizer.json"), "w") as f:
        f.write('{"model": 1}')
    _bad(["run", "bert", "--weights", e, "-p", "a man"] + base, "tokenizer.json: not a valid tokenizer.json")
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(tiny, "tokenizer.json"))
    tok.add_tokens(["newword"])
    tok.save(os.path.join(e, "tokenizer.json"))
    _bad(["run", "bert", "--weights", e] + base, "the tokenizer has 21 tokens, more than the model's vocab_size 20")
    os.remove(os.path.join(e, "tokenizer.json"))
    _bad(["run", "bert", "--weights", e, "-p", "a man"] + base, "needs a tokenizer")

    # tensors: NaN, an unexpected name, a truncated file
    from safetensors.numpy import load_file, save_file
    f = str(tmp_path / "f")
    shutil.copytree(tiny, f)
    st = os.path.join(f, "model.safetensors")
    t = load_file(st)
    t2 = dict(t)
    t2["bert.encoder.layer.0.output.dense.weight"] = t2["bert.encoder.layer.0.output.dense.weight"].copy()
    t2["bert.encoder.layer.0.output.dense.weight"][0, 0] = np.nan
    save_file(t2, st)
    _bad(["run", "bert", "--weights", f] + base, "encoder.layer.0.output.dense.weight", "NaN or infinite")
    save_file({**t, "bert.encoder.layer.0.extra.weight": np.zeros(3, np.float32)}, st)
    _bad(["run", "bert", "--weights", f] + base, "unexpected parameter encoder.layer.0.extra.weight")
    save_file(t, st)
    with open(st, "r+b") as fh:
        fh.truncate(os.path.getsize(st) - 100)
    _bad(["run", "bert", "--weights", f] + base, "truncated file")


def test_bad_options(tiny):
    base = ["-d", "float32", "-r", "none", "--no-progress"]
    _bad(["run", "bert", "--weights", tiny, "-p", "word " * 20] + base, "tokens; the model takes at most 16")
    _bad(["run", "bert", "--weights", tiny, "--token-ids", "1,2"] + base, "bert takes --prompt")
    _bad(["run", "bert", "--weights", tiny, "--config", "tiny"] + base, "config.json describes it")
    _bad(["run", "gpt2", "-p", "a", "-p", "b"] + base, "gpt2 takes one --prompt")
    _bad(["run", "mlp", "-p", "a"] + base, "are for gpt2, not mlp")
    with pytest.raises(FpsemError, match="no prompts"):
        get_model("bert", weights=tiny).encode([])


# -- the trained all-MiniLM-L6-v2 ---------------------------------------------------------------
@pytest.fixture(scope="module")
def minilm():
    d = minilm_dir()
    if d is None:
        pytest.skip(SKIP_REASON)
    return d


def test_minilm_loads_and_tokenizes(minilm):
    m = get_model("bert", weights=minilm)
    c = m.config
    assert (c.num_hidden_layers, c.hidden_size, c.num_attention_heads, c.intermediate_size) == (6, 384, 12, 1536)
    assert c.layer_norm_eps == "1e-12" and c.hidden_act == "gelu" and m.n_params == 22_565_376
    # bert-base-uncased's vocabulary: [CLS]=101, [SEP]=102, "a"=1037; padding/truncation off
    ids = m.tokenizer.encode("A man is playing a guitar.")
    assert ids[0] == 101 and ids[-1] == 102 and ids[1] == 1037 and len(ids) == 9
    assert len(m.tokenizer.encode("word " * 300)) == 302


def test_minilm_full_model_cli_float32(minilm, tmp_path):
    """The whole trained model through the CLI: the semantics a trained encoder has
    (a paraphrase is closer than an unrelated sentence)."""
    out = tmp_path / "r.json"
    code, text = _run(["run", "bert", "--weights", minilm, "-d", "float32", "-r", "none", "--no-progress",
                       "-p", "A man is playing a guitar.", "-p", "Someone is playing an instrument.",
                       "-p", "A chef is cooking pasta.", "--json", str(out)])
    assert code == 0, text
    sims = json.loads(out.read_text())["runs"][0]["output"]
    assert sims[0] > sims[1] + 0.3


def test_minilm_first_layer_against_independent_oracle(minilm, tmp_path):
    """Trained weights (the embeddings and the first layer, so the ball reference and
    the Arb oracle run in seconds): float32 and bf16 within their rigorous bounds of
    the oracle."""
    d = truncated(minilm, str(tmp_path / "m1"), 1)
    m, env = _check_against_oracle(d, ["A man plays guitar.", "A chef cooks."],
                                   ["float32", "bf16"])
    assert env.decision().reference.certain is not None
