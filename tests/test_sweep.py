"""`fpsem sweep`: the census on Dask equals the serial run bit for bit, resumes after an
interruption (or a killed worker) without repeating or losing a chunk, and rejects bad
specs with one line (exit 2)."""
import functools
import inspect
import json
import os
import sys

import pytest

import fpsem
from fpsem.bridges import sweep as S
from fpsem.cli import main
from fpsem.errors import FpsemError

TINY = {"n_layer": 1, "n_embd": 16, "n_head": 2, "vocab_size": 64, "n_positions": 32}
# specified orders only: a native (BLAS) order may change bits with the thread count
SPEC = {
    "model": {"name": "gpt2", "config": TINY, "seed": 1},
    "inputs": {"kind": "random", "count": 6, "length": 5, "seed": 3},
    "domains": [{"name": "float32", "acc": "sequential"}, {"name": "bf16", "rounding": "rtz"}],
    "record": {"node_max": True},
    "run": {"chunk": 2, "plot": False},
}


def run(capsys, *args):
    with pytest.raises(SystemExit) as e:
        main(list(args))
        raise SystemExit(0)
    cap = capsys.readouterr()
    return e.value.code or 0, cap.out, cap.err


def _files(out):
    d = os.path.join(out, "chunks")
    return {n: open(os.path.join(d, n), "rb").read() for n in sorted(os.listdir(d))}


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("serial"))
    summary = S.run_sweep(S.normalize(SPEC), out)
    return out, summary


def test_serial_sweep_records_and_summary(serial):
    out, s = serial
    assert s["n_inputs"] == 6 and s["chunks"] == 3 and s["chunks_run"] == 3
    assert s["reference"] == S.default_reference()
    files = _files(out)
    assert list(files) == ["chunk-000000.jsonl", "chunk-000001.jsonl", "chunk-000002.jsonl"]
    recs = S.load_results(out, s["spec_hash"], 3)
    dec = [r for r in recs if r["pos"] is not None]
    assert len(dec) == 6 * 5 * 2          # inputs x positions x domains
    assert {r["domain"] for r in dec} == {"float32(acc=sequential)", "bf16(rounding=rtz)"}
    nodes = [r for r in recs if r["pos"] is None]
    assert len(nodes) == 12 and "logits" in nodes[0]["nodes"]
    for lab, d in s["domains"].items():
        assert d["positions"] == 30 and 0 <= d["certified"] <= 30
        assert d["margin"]["min"] <= d["margin"]["p50"] <= d["margin"]["max"]
        # a certain verdict has a positive margin, by definition
        assert all(r["margin"] > 0 for r in dec if r["domain"] == lab and r["certain"])
    # the same spec again: nothing to run, same bytes
    s2 = S.run_sweep(S.normalize(SPEC), out)
    assert s2["chunks_run"] == 0 and s2["chunks_resumed"] == 3 and _files(out) == files


def test_reference_default_follows_envelope():
    from fpsem.bridges.envelope import envelope
    ref = inspect.signature(envelope).parameters["reference"].default
    assert ref == "auto" and S.normalize(SPEC)["reference"] == [S.default_reference(), {}]
    assert S.default_reference() in ("ball", "interval")
    spec = dict(SPEC, reference={"name": "interval", "endpoints": "binary64"})
    assert S.normalize(spec)["reference"] == ["interval", {"endpoints": "binary64"}]


class _Stop(Exception):
    pass


def test_interrupted_sweep_resumes_without_repeating_or_losing(serial, tmp_path):
    out = str(tmp_path)
    calls = []

    def failing(job):
        if len(calls) == 2:
            raise _Stop("interrupted after two chunks")
        calls.append(job["inputs"][0][0])
        return S.sweep_chunk(job)

    with pytest.raises(_Stop):
        S.run_sweep(S.normalize(SPEC), out, chunk_fn=failing)
    assert sorted(_files(out)) == ["chunk-000000.jsonl", "chunk-000001.jsonl"]
    again = []

    def counting(job):
        again.append(job["inputs"][0][0])
        return S.sweep_chunk(job)

    s = S.run_sweep(S.normalize(SPEC), out, chunk_fn=counting)
    assert again == [4] and s["chunks_resumed"] == 2 and s["chunks_run"] == 1
    assert _files(out) == _files(serial[0])
    assert s["domains"] == serial[1]["domains"]


def test_torn_chunk_is_redone(serial, tmp_path):
    out = str(tmp_path)
    S.run_sweep(S.normalize(SPEC), out)
    p = os.path.join(out, "chunks", "chunk-000001.jsonl")
    text = open(p).read()
    open(p, "w").write(text[: len(text) // 2])                  # as if written without os.replace
    open(os.path.join(out, "chunks", ".tmp-x"), "w").write("{")  # a temp file of a killed run
    s = S.run_sweep(S.normalize(SPEC), out)
    assert s["chunks_run"] == 1 and _files(out) == _files(serial[0])


def _kill_worker_once(job, marker):
    # the first attempt at the chunk holding input 2 takes its worker process down
    if job["inputs"][0][0] == 2 and not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)
    return S.sweep_chunk(job)


@pytest.fixture(scope="module")
def cluster():
    pytest.importorskip("distributed")
    import cloudpickle
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests
    from fpsem.bridges.dask_run import client
    with client(workers=2) as c:
        yield c


def test_local_cluster_equals_serial_bit_for_bit(serial, cluster, tmp_path):
    s = S.run_sweep(S.normalize(SPEC), str(tmp_path), client=cluster)
    assert _files(str(tmp_path)) == _files(serial[0])
    assert s["domains"] == serial[1]["domains"]


def test_killed_worker_chunk_is_retried(serial, cluster, tmp_path):
    marker = str(tmp_path / "killed")
    out = str(tmp_path / "out")
    S.run_sweep(S.normalize(SPEC), out, client=cluster,
                chunk_fn=functools.partial(_kill_worker_once, marker=marker))
    assert os.path.exists(marker)         # a worker did die
    assert _files(out) == _files(serial[0])


def test_cli_sweep_serial_then_resume(capsys, tmp_path):
    spec = tmp_path / "s.toml"
    (tmp_path / "prompts.txt").write_text("Hello\n\nab cd\n")
    spec.write_text(
        '[model]\nname = "gpt2"\nconfig = { n_layer = 1, n_embd = 16, n_head = 2, n_positions = 32 }\n'
        '[inputs]\nkind = "prompts"\nfile = "prompts.txt"\n'
        '[[domains]]\nname = "float32"\nacc = "pairwise"\n[record]\npositions = "last"\n'
        '[run]\nchunk = 1\nplot = true\n')
    out = tmp_path / "o"
    code, text, err = run(capsys, "sweep", str(spec), "--out", str(out), "--serial")
    assert code == 0, err
    assert "2 inputs in 2 chunks (2 run, 0 already done)" in text and "float32(acc=pairwise)" in text
    assert err == ""                         # not a terminal: no progress output
    assert (out / "margins.png").read_bytes()[:4] == b"\x89PNG"
    s = json.loads((out / "summary.json").read_text())
    assert s["domains"]["float32(acc=pairwise)"]["positions"] == 2
    code, text, err = run(capsys, "sweep", str(spec), "--out", str(out), "--serial", "--json")
    assert code == 0 and json.loads(text)["chunks_resumed"] == 2


@pytest.mark.parametrize("body, msg", [
    ("[model\nname=1", "not valid TOML"),
    ('[model]\nname = "gpt2"\n[inputs]\nkind = "random"\ncount = 2\nlength = 3\n', "[[domains]]"),
    ('[model]\nname = "gpt2"\n[inputs]\nkind = "words"\n[[domains]]\nname = "float32"\n', "kind must be"),
    ('[model]\nname = "gpt2"\n[inputs]\nkind = "random"\ncount = 0\nlength = 3\n[[domains]]\nname = "float32"\n',
     "count"),
    ('[model]\nname = "gpt2"\n[inputs]\nkind = "random"\ncount = 2\nlength = 3\n[[domains]]\nname = "fp99"\n',
     "unknown domain"),
    ('[model]\nname = "gpt2"\n[inputs]\nkind = "random"\ncount = 2\nlength = 3\n[[domains]]\nname = "interval"\n',
     "not a float domain"),
    ('[model]\nname = "gpt2"\ncolour = 1\n[inputs]\nkind = "random"\ncount = 2\nlength = 3\n'
     '[[domains]]\nname = "float32"\n', "unknown key 'colour'"),
    ('[model]\nname = "gpt2"\n[inputs]\nkind = "token_ids"\nids = [[1, 2, 99999]]\n[[domains]]\nname = "float32"\n',
     "outside the vocabulary"),
    ('[model]\nname = "gpt2"\n[inputs]\nkind = "prompts"\nfile = "missing.txt"\n[[domains]]\nname = "float32"\n',
     "missing.txt"),
    ('[model]\nname = "gpt2"\n[inputs]\nkind = "random"\ncount = 2\nlength = 3\n[[domains]]\nname = "float32"\n'
     'acc = "zigzag"\n', "accumulation order"),
])
def test_bad_specs_one_line_exit_2(capsys, tmp_path, body, msg):
    spec = tmp_path / "bad.toml"
    spec.write_text(body)
    code, out, err = run(capsys, "sweep", str(spec), "--out", str(tmp_path / "o"), "--serial")
    assert code == 2 and msg in err and len(err.strip().splitlines()) == 1, err


def test_out_dir_of_another_spec_is_refused(serial):
    spec = dict(SPEC, inputs=dict(SPEC["inputs"], seed=4))
    with pytest.raises(FpsemError, match="another sweep"):
        S.run_sweep(S.normalize(spec), serial[0])


def test_domains_pickle_for_workers():
    import pickle
    D = fpsem.domain("bf16", rounding="rtz")
    assert pickle.loads(pickle.dumps(D)) == D
