"""Sharded safetensors checkpoints (model.safetensors.index.json), as HF's
save_pretrained(max_shard_size=...) writes them, for GPT-2 and BERT."""
import json
import os
import re
import shutil

import numpy as np
import pytest
from _cli import cli
from safetensors.numpy import load_file, save_file

import fpsem
from fpsem.errors import WeightsError
from fpsem.models import get_model
from fpsem.models.weights import INDEX, load_gpt2, read_checkpoint, save_gpt2, write_config_json


def shard(tensors, d, n):
    """Write `tensors` as n shards + an HF index into directory d."""
    os.makedirs(d, exist_ok=True)
    names = sorted(tensors)
    wm = {}
    for i in range(n):
        part = names[i::n]
        fn = f"model-{i + 1:05d}-of-{n:05d}.safetensors"
        save_file({k: tensors[k] for k in part}, os.path.join(d, fn))
        wm.update({k: fn for k in part})
    total = int(sum(v.nbytes for v in tensors.values()))
    with open(os.path.join(d, INDEX), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": wm}, f)
    return d


@pytest.fixture(scope="module")
def gpt2_ckpt(tmp_path_factory):
    """(single-file dir, 3-shard dir) of one tiny GPT-2."""
    base = tmp_path_factory.mktemp("gpt2")
    m = get_model("gpt2", config={"n_layer": 2, "n_embd": 32, "n_head": 2, "n_positions": 16, "vocab_size": 300},
                  seed=3)
    one = base / "one"
    one.mkdir()
    save_gpt2(m, str(one / "model.safetensors"))
    write_config_json(m.config, str(one / "config.json"))
    sh = shard(load_file(str(one / "model.safetensors")), str(base / "sharded"), 3)
    write_config_json(m.config, os.path.join(sh, "config.json"))
    return str(one), sh


def test_sharded_gpt2_equals_single_file(gpt2_ckpt):
    one, sh = gpt2_ckpt
    a = load_gpt2(one)
    for path in (sh, os.path.join(sh, INDEX)):
        b = load_gpt2(path)
        assert b.config == a.config and set(b.params) == set(a.params)
        assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    D = fpsem.domain("float32")
    ids = np.arange(5)
    assert np.array_equal(D.to_float64(a.forward(D, ids)), D.to_float64(load_gpt2(sh).forward(D, ids)))
    assert len(os.listdir(sh)) == 5   # three shards, the index, config.json


def _edit_index(sh, fn):
    p = os.path.join(sh, INDEX)
    with open(p) as f:
        ix = json.load(f)
    fn(ix)
    with open(p, "w") as f:
        json.dump(ix, f)


@pytest.mark.parametrize("edit, needle", [
    (lambda ix: ix.update(weight_map=[]), "weight_map must be a non-empty object"),
    (lambda ix: ix.update(extra=1), "unknown field 'extra'"),
    (lambda ix: ix.update(metadata={"total_size": -1}), "total_size must be a non-negative integer"),
    (lambda ix: ix["weight_map"].update({"transformer.wte.weight": "../model.safetensors"}),
     "is not a .safetensors file name beside the index"),
    (lambda ix: ix["weight_map"].update({"transformer.wte.weight": "model-00009-of-00009.safetensors"}),
     "shard model-00009-of-00009.safetensors (holding transformer.wte.weight) is missing"),
    (lambda ix: ix["weight_map"].pop("transformer.wte.weight"),
     "tensor transformer.wte.weight is not mapped to this shard by the index"),
    (lambda ix: ix["weight_map"].update({"transformer.ghost": ix["weight_map"]["transformer.wpe.weight"]}),
     "tensor transformer.ghost listed in the index is not in the shard"),
])
def test_bad_index(gpt2_ckpt, tmp_path, edit, needle):
    sh = str(tmp_path / "s")
    shutil.copytree(gpt2_ckpt[1], sh)
    _edit_index(sh, edit)
    with pytest.raises(WeightsError, match=re.escape(needle)):
        load_gpt2(sh)


def test_index_not_json_and_empty_dir(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    with pytest.raises(WeightsError, match="no model.safetensors or model.safetensors.index.json"):
        read_checkpoint(str(d))
    (d / INDEX).write_text("{oops")
    with pytest.raises(WeightsError, match="not valid JSON"):
        load_gpt2(str(d))


def test_cli_runs_sharded_gpt2(gpt2_ckpt, tmp_path):
    one, sh = gpt2_ckpt
    reps = []
    for w in (one, sh):
        j = tmp_path / (os.path.basename(w) + ".json")
        code, out, err = cli("run", "gpt2", "--weights", w, "--token-ids", "1,2,3", "-d", "float32", "-r", "none",
                              "--no-progress", "--json", str(j))
        assert code == 0, err
        reps.append(json.loads(j.read_text()))
    assert reps[0]["runs"][0]["top"] == reps[1]["runs"][0]["top"]
    assert reps[0]["inputs"]["weights_sha256"] != reps[1]["inputs"]["weights_sha256"]   # shards hashed
    assert reps[0]["inputs"]["config_sha256"] == reps[1]["inputs"]["config_sha256"]
    bad = tmp_path / "bad"
    shutil.copytree(sh, bad)
    os.remove(bad / "model-00002-of-00003.safetensors")
    code, out, err = cli("run", "gpt2", "--weights", str(bad), "-d", "float32", "-r", "none", "--no-progress")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "model-00002-of-00003.safetensors" in err, err


def test_sharded_bert(tmp_path):
    pytest.importorskip("tokenizers")
    from _minilm import tiny_checkpoint
    d = tiny_checkpoint(str(tmp_path / "one"))
    sh = str(tmp_path / "sh")
    shard(load_file(os.path.join(d, "model.safetensors")), sh, 2)
    for f in ("config.json", "tokenizer.json"):
        with open(os.path.join(d, f)) as a, open(os.path.join(sh, f), "w") as b:
            b.write(a.read())
    a, b = get_model("bert", weights=d), get_model("bert", weights=sh)
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    D = fpsem.domain("float32")
    inp = a.encode(["a man is playing", "the cat sat"])
    assert np.array_equal(D.to_float64(a.forward(D, *inp)), D.to_float64(b.forward(D, *inp)))
