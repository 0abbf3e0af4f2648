"""Fuzzing every command (issue 18): Hypothesis over the arguments of run, envelope,
audit, verify, bestiary and sweep (domain specs included) and over corrupted files
(audit baselines and their values, sweep specs, tokenizer files). Whatever the
input: no traceback; a bad one is exit 2 and one line on stderr; one that is valid
by chance runs (exit 0, or 1 for an audit or verify that reports findings).

Example counts are small and fixed (the `ci` profile of conftest.py);
FPSEM_PROFILE=thorough runs many more. Values are kept cheap on purpose: no
strategy can ask for a 2^32-encoding verify or a 2^20-bit interval."""
from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from test_bad_inputs import assert_user_error, cli

# 25 examples a test in CI; many more under FPSEM_PROFILE=thorough
_N = 25 if os.environ.get("FPSEM_PROFILE", "ci") == "ci" else 500
_FUZZ = settings(max_examples=_N, suppress_health_check=list(HealthCheck))
# junk that cannot spell a domain, model or function name (no letters but e and x)
_junk = st.text(st.sampled_from("0123456789,_ -+.xe()[]'\"\\é\n\t:=/"), max_size=12)


def _check(code, out, err, ok=(0,)):
    assert "Traceback" not in err and "Traceback" not in out
    if code not in ok:
        assert_user_error(code, err)


# ------------------------------------------------------------------ domain specs
_NAMES = ["ieee32", "bf16", "fp16", "float32", "float64", "interval", "ball", "exact", "cuda", "nosuch", ""]
_KEYS = ["rounding", "ftz", "daz", "acc", "prec", "precision", "endpoints", "nan", "fused", "bogus", ""]
_VALUES = st.one_of(st.sampled_from(["rne", "rtz", "rup", "true", "false", "maybe", "pairwise", "blocked(4)",
                                     "blocked(0)", "tree(3)", "kahan", "mpfr", "binary64", "auto", "16", "64",
                                     "0", "-1", "99999999999", "x86", "cuda"]), _junk)
_spec = st.builds(lambda n, kv: n + (":" + ",".join(f"{k}={v}" for k, v in kv) if kv else ""),
                  st.sampled_from(_NAMES), st.lists(st.tuples(st.sampled_from(_KEYS), _VALUES), max_size=3))


@_FUZZ
@given(spec=_spec, where=st.sampled_from(["run", "envelope", "reference"]))
def test_fuzz_domain_specs(spec, where):
    """A domain spec with any name, keys and values, wherever a domain is given."""
    if where == "run":
        argv = ["run", "mlp", "-r", "none", "--no-progress", "-d", spec]
    elif where == "envelope":
        argv = ["envelope", "mlp", "--no-apriori", "--domain", spec]
    else:
        argv = ["envelope", "mlp", "--no-apriori", "--reference", spec]
    _check(*cli(*argv))


# ------------------------------------------------------------------ options of every command
_BASE = {
    "envelope": ["envelope", "mlp", "--no-apriori"],
    "audit": ["audit", "--no-models", "-q", "--domains", "float64"],
    "verify": ["verify", "exp", "--range", "0x3f800000:0x3f800008", "--modes", "rne", "--serial"],
    "bestiary": ["bestiary"],
    "ops": ["ops"],
}
_OPTS = {
    "envelope": ["--config", "--acc", "--compare", "--worst", "--json", "--plot", "--reference"],
    "audit": ["--suite", "--domains", "--json", "--junit", "--baseline", "--update-baseline"],
    "verify": ["--modes", "--format", "--chunk", "--seed", "--range", "--workers", "--scheduler"],
    "bestiary": [None, "--json"],
    "ops": [None, "--json"],
}


@_FUZZ
@given(data=st.data())
def test_fuzz_command_options(data, tmp_path_factory):
    """Any command, any of its options, a junk value (output paths made unwritable)."""
    cmd = data.draw(st.sampled_from(sorted(_BASE)))
    opt = data.draw(st.sampled_from(_OPTS[cmd]))
    value = data.draw(_junk)
    if opt in ("--json", "--plot", "--junit", "--update-baseline") and value.strip("- \n\t"):
        value = "/nonexistent-dir/" + value.replace("/", "_")
    if opt == "--range" and ":" in value:
        value = value.replace(":", ";")  # no huge valid range by chance
    argv = [*_BASE[cmd], *([opt] if opt else []), value]
    _check(*cli(*argv), ok=(0, 1) if cmd in ("audit", "verify") else (0,))


# ------------------------------------------------------------------ corrupted files
def _corrupt(data, raw):
    raw = bytearray(raw)
    kind = data.draw(st.sampled_from(["truncate", "bytes", "insert"]))
    if kind == "truncate":
        return bytes(raw[:data.draw(st.integers(0, max(0, len(raw) - 1)))])
    if kind == "bytes":
        for _ in range(data.draw(st.integers(1, 6))):
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
        return bytes(raw)
    i = data.draw(st.integers(0, len(raw)))
    return bytes(raw[:i]) + data.draw(st.sampled_from([b"[", b"]", b"{", b'"', b",", b"null", b"\xff", b"\n"])) \
        + bytes(raw[i:])


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    d = tmp_path_factory.mktemp("base")
    code, out, err = cli("audit", "--no-models", "-q", "--domains", "float64", "--update-baseline",
                         str(d / "b.json"))
    assert code == 0, err
    return (d / "b.json").read_bytes(), (d / "b.json.values.npz").read_bytes()


@_FUZZ
@given(data=st.data())
def test_fuzz_corrupted_baselines(data, baseline, tmp_path_factory):
    """A damaged baseline or values file: a user error naming the file, a clean run or
    drift findings (a damaged hash or value is drift), never a traceback."""
    js, npz = baseline
    d = tmp_path_factory.mktemp("b")
    which = data.draw(st.sampled_from(["json", "npz", "field"]))
    if which == "json":
        js = _corrupt(data, js)
    elif which == "npz":
        npz = _corrupt(data, npz)
    else:  # a field of the right JSON with a value of another type
        doc = json.loads(js)
        key = data.draw(st.sampled_from(["hashes", "values", "schema", "platform"]))
        doc[key] = data.draw(st.one_of(st.none(), st.integers(), st.text(max_size=3), st.lists(st.integers(), max_size=2),
                                       st.fixed_dictionaries({"file": st.text(max_size=5), "sha256": st.text(max_size=5)})))
        js = json.dumps(doc).encode()
    (d / "b.json").write_bytes(js)
    (d / "b.json.values.npz").write_bytes(npz)
    _check(*cli("audit", "--no-models", "-q", "--domains", "float64", "--baseline", str(d / "b.json")), ok=(0, 1))


_SPEC = ('[model]\nname = "gpt2"\nconfig = { n_layer = 1, n_embd = 8, n_head = 2, n_positions = 8, vocab_size = 16 }\n'
         '[inputs]\nkind = "token_ids"\nids = [[1, 2]]\n'
         '[[domains]]\nname = "float32"\nacc = "pairwise"\n[run]\nplot = false\n').encode()


@settings(max_examples=(_N * 3) // 5, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_fuzz_corrupted_sweep_specs(data, tmp_path_factory):
    d = tmp_path_factory.mktemp("s")
    (d / "s.toml").write_bytes(_corrupt(data, _SPEC))
    _check(*cli("sweep", str(d / "s.toml"), "--out", str(d / "o"), "--serial"))


@_FUZZ
@given(data=st.data())
def test_fuzz_corrupted_tokenizer_files(data, tmp_path_factory):
    """vocab.json / merges.txt damaged: one line naming the file, or a run."""
    from test_bad_inputs import CFG, _ckpt, _safetensors_bytes, _tensors
    d = _ckpt(tmp_path_factory.mktemp("t"), _safetensors_bytes(_tensors()), CFG)
    vocab = json.dumps({c: i for i, c in enumerate("abcdefgh")} | {"ab": 8, "cd": 9}).encode()
    merges = b"#version: 0.2\na b\nc d\n"
    if data.draw(st.booleans()):
        vocab = _corrupt(data, vocab)
    else:
        merges = _corrupt(data, merges)
    (d / "vocab.json").write_bytes(vocab)
    (d / "merges.txt").write_bytes(merges)
    _check(*cli("run", "gpt2", "--weights", str(d), "--vocab", str(d / "vocab.json"), "--merges",
                str(d / "merges.txt"), "-d", "float64", "-r", "none", "--prompt", "abcd", "--no-progress"))
