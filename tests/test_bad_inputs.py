"""Every bad input is one line on stderr and exit 2, never a traceback nor a
silent reinterpretation (issue 18): CLI options, checkpoint files (safetensors
header fields and offsets, config.json fields, non-finite weights), op
arguments; plus Hypothesis fuzzing over CLI option values and corrupted files
(fixed seed, small example counts: the `ci` profile of conftest.py)."""
from __future__ import annotations

import json
import re
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fpsem
import fpsem.ops as ops
from _cli import cli


def assert_user_error(code, err, *needles):
    lines = err.strip().splitlines()
    assert code == 2, (code, err)
    assert len(lines) == 1 and lines[0].startswith("fpsem: error: "), err
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0], (n, lines[0])


# ------------------------------------------------------------------ options
@pytest.mark.parametrize("argv,needle", [
    (["run", "gpt2", "--seed", "-1"], "--seed"),
    (["run", "gpt2", "--token-ids", "99999999999999999999999"], "too large"),
    (["run", "gpt2", "--token-ids", "1 2 3"], "'1 2 3'"),
    (["run", "gpt2", "--token-ids", "1,,2"], "empty item"),
    (["run", "gpt2", "--token-ids", "1_000"], "'1_000'"),
    (["run", "gpt2", "--token-ids", "-1"], "'-1'"),
    (["run", "gpt2", "--token-ids", ""], "empty"),
    (["run", "gpt2", "--token-ids", "50257"], "outside the vocabulary"),
    (["run", "gpt2", "--top", "-1"], "--top"),
    (["run", "gpt2", "--top", "0"], "--top"),
    (["run", "gpt2", "--tokens", "0"], "--tokens"),
    (["run", "gpt2", "--generate", "-1"], "--generate"),
    (["run", "gpt2", "--acc", "blocked(99999999999999999999)"], "at most"),
    (["run", "gpt2", "--acc", "tree(3)"], "power of two"),
    (["run", "gpt2", "-d", "nosuch"], "nosuch"),
    (["run", "nosuchmodel"], "nosuchmodel"),
    (["envelope", "mlp", "--worst", "-1"], "--worst"),
    (["run", "gpt2", "--no-such-option"], "--no-such-option"),
    (["run"], "MODEL"),
    (["audit", "--suite", "huge"], "huge"),
    (["audit", "--domains", ""], "--domains names nothing"),
    (["envelope", "mlp", "--domain", ""], "--domain names nothing"),
    (["envelope", "mlp", "--reference", "bogus"], "bogus"),
    (["envelope", "mlp", "--acc", "bogus"], "bogus"),
    (["envelope", "nosuch"], "nosuch"),
    (["bestiary", "nosuch"], "nosuch"),
    (["ops", "nosuch"], "nosuch"),
    (["run", "gpt2", "--weights", "/nonexistent/w.safetensors"], "not found"),
    (["run", "gpt2", "-d", "float32", "--rounding", "rtz"], "rounding"),
    (["run", "gpt2", "--tokens", "99999"], "context length"),
    (["run", "mlp", "--prompt", "hi"], "for gpt2"),
    # interval and ball options are validated in the value, not only by name
    (["run", "mlp", "-d", "interval:precision=0"], "precision must be an int"),
    (["run", "mlp", "-d", "interval:precision=abc"], "precision must be an int"),
    (["run", "mlp", "-d", "interval:endpoints=mpfr,precision=1"], "precision must be an int"),
    (["run", "mlp", "-d", "interval:precision=200"], "endpoints='mpfr'"),
    (["run", "mlp", "-d", "interval:endpoints=float64"], "endpoints must be"),
    (["run", "mlp", "-d", "interval:prec=100"], "its options: endpoints, precision"),
    (["envelope", "mlp", "--reference", "ball:prec=8"], "[16, 65536]"),
    (["envelope", "mlp", "--reference", "ball:prec=1e3"], "integer number of bits"),
])
def test_bad_cli_options(argv, needle):
    code, out, err = cli(*argv)
    assert_user_error(code, err, needle)


def test_model_api_seed():
    from fpsem.models import get_model
    with pytest.raises(fpsem.FpsemError, match="seed"):
        get_model("gpt2", seed=-1)


# ------------------------------------------------------------------ checkpoint files
CFG = {"model_type": "gpt2", "n_layer": 1, "n_embd": 8, "n_head": 2, "n_positions": 8,
       "vocab_size": 16, "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new"}


def _tensors(dtype=np.float32):
    from fpsem.models import GPT2, GPT2Config
    cfg = GPT2Config(n_layer=1, n_embd=8, n_head=2, n_positions=8, vocab_size=16, preset="x")
    return {"transformer." + k: np.array(v, dtype=dtype) for k, v in GPT2(cfg).params.items()}


def _safetensors_bytes(tensors, dt="F32", tamper=None):
    """A safetensors file by hand (so headers can be made malformed)."""
    header, blobs, off = {}, [], 0
    for k, v in tensors.items():
        b = v.tobytes() if dt != "BF16" else (v.astype(np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
        header[k] = {"dtype": dt, "shape": list(v.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if tamper:
        header = tamper(header)
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def _ckpt(tmp_path, data, config=CFG):
    d = tmp_path / "ckpt"
    d.mkdir(exist_ok=True)
    (d / "model.safetensors").write_bytes(data)
    (d / "config.json").write_text(json.dumps(config) if not isinstance(config, str) else config)
    return d


def _run_ckpt(d):
    return cli("run", "gpt2", "--weights", str(d), "-d", "float64", "-r", "none", "--token-ids", "1,2",
               "--no-progress")


def _first(h):
    return next(k for k in h if k != "__metadata__")


@pytest.mark.parametrize("name,data,needle", [
    ("header list", lambda: struct.pack("<Q", 2) + b"[]", "JSON list"),
    ("header null", lambda: struct.pack("<Q", 4) + b"null", "JSON NoneType"),
    ("header string", lambda: struct.pack("<Q", 5) + b'"abc"', "JSON str"),
    ("header too long", lambda: struct.pack("<Q", 1000) + b"{}", "header"),
    ("missing offsets", lambda: _safetensors_bytes(_tensors(), tamper=lambda h: {
        k: ({kk: vv for kk, vv in v.items() if kk != "data_offsets"} if k == _first(h) else v)
        for k, v in h.items()}), "data_offsets"),
    ("reversed offsets", lambda: _safetensors_bytes(_tensors(), tamper=lambda h: {
        k: (dict(v, data_offsets=v["data_offsets"][::-1]) if v["data_offsets"][0] != v["data_offsets"][1]
            and k == _first(h) else v) for k, v in h.items()}), "data_offsets"),
    ("bf16 truncated", lambda: _safetensors_bytes(_tensors(), "BF16")[:-10], "past the end"),
    ("bf16 reversed", lambda: _safetensors_bytes(_tensors(), "BF16", tamper=lambda h: {
        k: dict(v, data_offsets=[v["data_offsets"][1], v["data_offsets"][0]]) for k, v in h.items()}),
     "reversed"),
    ("bad shape", lambda: _safetensors_bytes(_tensors(), tamper=lambda h: {
        k: dict(v, shape=[-1]) for k, v in h.items()}), "shape"),
    ("bad dtype", lambda: _safetensors_bytes(_tensors(), tamper=lambda h: {
        k: dict(v, dtype="Q7") for k, v in h.items()}), "dtype"),
])
def test_malformed_safetensors(tmp_path, name, data, needle):
    code, out, err = _run_ckpt(_ckpt(tmp_path, data()))
    assert_user_error(code, err, needle, "model.safetensors")


@pytest.mark.parametrize("config,needle", [
    ("[1, 2]", "JSON object"),
    (dict(CFG, n_head=0), "n_head"),
    (dict(CFG, n_head=3), "divisible"),
    (dict(CFG, n_layer="1"), "n_layer"),
    (dict(CFG, n_embd=8.5), "n_embd"),
    (dict(CFG, layer_norm_epsilon=-1e-5), "layer_norm_epsilon"),
    (dict(CFG, layer_norm_epsilon="1e-5"), "layer_norm_epsilon"),
    ({k: v for k, v in CFG.items() if k != "vocab_size"}, "vocab_size"),
])
def test_malformed_config_json(tmp_path, config, needle):
    code, out, err = _run_ckpt(_ckpt(tmp_path, _safetensors_bytes(_tensors()), config))
    assert_user_error(code, err, needle, "config.json")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_weights_are_rejected(tmp_path, bad):
    t = _tensors()
    t["transformer.h.0.mlp.c_fc.weight"][1, 2] = bad
    code, out, err = _run_ckpt(_ckpt(tmp_path, _safetensors_bytes(t)))
    assert_user_error(code, err, "model.safetensors", "h.0.mlp.c_fc.weight", "NaN or infinite")


def test_float64_weights_rounded_with_a_note(tmp_path):
    t = _tensors(np.float64)
    t["transformer.wte.weight"][0, 0] = 0.1  # not a binary32 value
    code, out, err = _run_ckpt(_ckpt(tmp_path, _safetensors_bytes(t, "F64")))
    assert code == 0, err
    assert "float64 parameter(s) rounded to float32 once" in out.replace("\n", "")


def test_valid_checkpoint_runs(tmp_path):
    code, out, err = _run_ckpt(_ckpt(tmp_path, _safetensors_bytes(_tensors())))
    assert code == 0, err
    code, out, err = _run_ckpt(_ckpt(tmp_path, _safetensors_bytes(_tensors(), "BF16")))
    assert code == 0, err


@pytest.mark.parametrize("vocab,merges,needle", [
    ("[1, 2]", "a b\n", "must map tokens to ids"),
    ('{"a": "x"}', "a b\n", "non-negative integer"),
    ('{"a": -1}', "a b\n", "non-negative integer"),
    ('{"a": 1, "b": 1}', "a b\n", "share an id"),
    ('{"a": 1}', b"\xff\xfe", "UTF-8"),
    ('{"a": 1}', "a b c\n", "malformed merge line"),
    ("{", "a b\n", "not valid JSON"),
])
def test_malformed_tokenizer_files(tmp_path, vocab, merges, needle):
    v, m = tmp_path / "vocab.json", tmp_path / "merges.txt"
    v.write_text(vocab)
    m.write_bytes(merges if isinstance(merges, bytes) else merges.encode())
    code, out, err = cli("run", "gpt2", "--vocab", str(v), "--merges", str(m), "-r", "none", "--no-progress",
                         "-d", "float64")
    assert_user_error(code, err, needle)


# ------------------------------------------------------------------ op arguments
D = fpsem.domain("float32")
X4 = D.asarray(np.ones((1, 2, 5, 5)))
W4 = D.asarray(np.ones((3, 2, 2, 2)))
Q = D.asarray(np.ones((4, 8)))


@pytest.mark.parametrize("call,needle", [
    (lambda: ops.conv2d(D, D.asarray(np.ones((2, 5, 5))), W4), "conv2d[float32]: x (N, C, H, W) must be 4-D"),
    (lambda: ops.conv2d(D, X4, W4, stride=0), "conv2d[float32]: stride"),
    (lambda: ops.conv2d(D, X4, W4, padding=-1), "conv2d[float32]: padding"),
    (lambda: ops.conv2d(D, X4, W4, dilation=0), "conv2d[float32]: dilation"),
    (lambda: ops.conv2d(D, X4, W4, groups=0), "conv2d[float32]: groups"),
    (lambda: ops.max_pool2d(D, X4, 0), "max_pool2d[float32]: kernel"),
    (lambda: ops.max_pool2d(D, X4, 2, stride=0), "max_pool2d[float32]: stride"),
    (lambda: ops.avg_pool2d(D, X4, (2, 0)), "avg_pool2d[float32]: kernel"),
    (lambda: ops.flash_attention(D, Q, Q, Q, block=0), "flash_attention[float32]: block"),
    (lambda: ops.flash_attention(D, Q, Q, Q, block=-1), "flash_attention[float32]: block"),
    (lambda: ops.relu(D, [1.0, 2.0]), "relu: shape[float32]: expected a float32 value, got list"),
    (lambda: ops.matmul(D, D.asarray(np.ones((2, 3))), D.asarray(np.ones((4, 5)))),
     "matmul: dot[float32]: inner dimensions differ"),
    (lambda: ops.embedding(D, D.asarray(np.ones((4, 3))), [-1]), "embedding[float32]: id -1 is negative"),
    (lambda: ops.layer_norm(D, Q, eps="-1"), "layer_norm[float32]: eps"),
    (lambda: ops.relu("float32", Q), "relu: the first argument must be a domain"),
    (lambda: fpsem.domain("float32", acc="blocked(99999999999999999999)"), "at most"),
    (lambda: fpsem.domain("ieee32", exact_flags="x"), "exact_flags must be True or False"),
])
def test_bad_op_arguments(call, needle):
    with pytest.raises(fpsem.FpsemError) as e:
        call()
    assert needle in str(e.value)


def test_every_op_rejects_wrong_arguments_cleanly():
    """Every registered op given plain data, None, a string, an int or a 0-d value
    where its first argument goes: a FpsemError naming the op (or a result), never
    an internal exception."""
    import inspect

    from fpsem.ops import OPS
    v2 = D.asarray(np.ones((2, 3)))
    bad = [[1.0, 2.0], None, "x", 3, D.asarray(np.array(1.0))]
    for name, fn in sorted(OPS.items()):
        params = [p for p in list(inspect.signature(fn.generic).parameters.values())[1:]
                  if p.default is inspect._empty]
        for b in bad:
            try:
                fn(D, b, *[v2] * (len(params) - 1))
            except fpsem.FpsemError as e:
                assert name in str(e), (name, str(e))


# ------------------------------------------------------------------ fuzz
_IDS_OK = re.compile(r"\s*[0-9]{1,18}\s*(,\s*[0-9]{1,18}\s*)*")
_text = st.text(st.sampled_from("0123456789,_ -+.xe()[]'\"\\é\n\t"), max_size=12)


@settings(max_examples=25, suppress_health_check=list(HealthCheck))
@given(opt=st.sampled_from(["--token-ids", "--acc", "--top", "--seed", "--tokens", "--generate",
                            "--rounding", "-d", "--json", "--save-logits"]), value=_text)
def test_fuzz_cli_option_values(opt, value):
    """A malformed value of any option: exit 2 and one line, or (valid by chance) a run."""
    if opt == "--token-ids" and _IDS_OK.fullmatch(value) and max(int(s) for s in value.split(",")) < 50257:
        return  # a valid id list
    if opt in ("--json", "--save-logits") and value.strip() and "/" not in value:
        value = "/nonexistent-dir/" + value  # an output path that cannot be written
    base = ["run", "gpt2", "-r", "none", "--no-progress", "-d", "float64"]
    ids = [] if opt in ("--token-ids", "--tokens") else ["--token-ids", "1,2"]
    code, out, err = cli(*base, *ids, opt, value)
    assert "Traceback" not in err
    if code != 0:
        assert_user_error(code, err)


_GOOD = None


def _good_file():
    global _GOOD
    if _GOOD is None:
        _GOOD = _safetensors_bytes(_tensors())
    return _GOOD


@settings(max_examples=30, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_fuzz_corrupted_checkpoints(tmp_path_factory, data):
    """Truncated, overwritten or header-edited safetensors files and config.json
    values: a clean run (the damage was harmless) or one line and exit 2."""
    raw = bytearray(_good_file())
    hlen = struct.unpack("<Q", raw[:8])[0]
    kind = data.draw(st.sampled_from(["truncate", "bytes", "header", "config"]))
    config = dict(CFG)
    if kind == "truncate":
        raw = raw[:data.draw(st.integers(0, len(raw) - 1))]
    elif kind == "bytes":
        for _ in range(data.draw(st.integers(1, 8))):
            i = data.draw(st.integers(0, len(raw) - 1))
            raw[i] = data.draw(st.integers(0, 255))
    elif kind == "header":
        i = data.draw(st.integers(8, 8 + hlen - 1))
        raw[i:i + 1] = data.draw(st.sampled_from([b"-", b"9", b"]", b"}", b'"', b"0", b" ", b""]))
    else:
        key = data.draw(st.sampled_from(sorted(CFG)))
        config[key] = data.draw(st.one_of(st.integers(-3, 20), st.none(), st.text(max_size=3),
                                          st.floats(allow_nan=True), st.lists(st.integers(), max_size=2)))
    d = _ckpt(tmp_path_factory.mktemp("fz"), bytes(raw), config)
    code, out, err = _run_ckpt(d)
    assert "Traceback" not in err
    if code != 0:
        assert_user_error(code, err)


def test_interval_precision_spelled_on_the_cli():
    """'precision=200' from a domain spec is the int 200 (it was rejected as a string)."""
    from fpsem.registry import domain_from_spec
    D = domain_from_spec("interval:endpoints=mpfr,precision=200")
    assert D.precision == 200
    assert domain_from_spec("interval:precision=53") == fpsem.domain("interval")
