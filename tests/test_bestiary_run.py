"""Bestiary fixtures: the tiny derivation of every catalogue entry runs under `fpsem run`.

Every fixture runs in float32 and ieee32, gives the shape its tiny spec traces, holds
exactly the trainable parameters the tiny spec's records count, and its float32 / ieee32
errors stay inside fpsem.envelope's rigorous interval bounds.

Cost: the forwards are tiny (well under a second each in the emulator), but the ieee32
domain's numba kernels compile on first use of an array rank / layout (once per cache).
CI runs the ieee32 envelope on a representative subset (one per family of layer kinds);
FPSEM_PROFILE=thorough runs it on every fixture.
"""
import os

import numpy as np
import pytest
from click.testing import CliRunner

import fpsem
from fpsem.models import BESTIARY, ZOO, get_model
from fpsem.models.bestiary import CATALOG
from fpsem.models.bestiary.execute import NOT_EXECUTED, zoo_name
from fpsem.models.bestiary.layers import KINDS

NAMES = list(BESTIARY)
THOROUGH = os.environ.get("FPSEM_PROFILE") == "thorough"
#: one fixture per family of layer kinds (convs + pools, residual/bottleneck, depthwise + SE,
#: concat modules, windowed attention, transformers, scan, transposed convs, NeRF rendering)
SUBSET = ["lenet-5", "resnet-50", "efficientnet-b0", "googlenet", "densenet-121", "shufflenet-v2",
          "swin-t", "sam-vit-b-encoder", "detr-r50", "clip-vit-b-32", "mamba-130m", "unet",
          "deeplab-v3plus", "dcgan", "nerf", "mobilevit-s", "xception", "convnext-t"]
IEEE_ENV = NAMES if THOROUGH else SUBSET


def _f64(D, y):
    return np.asarray(D.to_float64(y), dtype=np.float64)


@pytest.fixture(scope="module")
def models():
    return {n: get_model(n) for n in NAMES}


def test_every_entry_is_runnable():
    assert {zoo_name(n) for n in CATALOG} == set(BESTIARY)
    assert not set(BESTIARY) & set(ZOO)          # distinct from the zoo's own names
    used = {l.kind for e in CATALOG.values() for t in e.towers for l in t.layers}
    assert not used & set(NOT_EXECUTED)
    assert set(NOT_EXECUTED) <= set(KINDS)


@pytest.mark.parametrize("name", NAMES)
def test_params_equal_tiny_spec(name, models):
    m = models[name]
    assert m.n_trainable == m.spec.params() > 0
    assert m.n_params == m.n_trainable + sum(m.params[b].size for b in m.buffers)
    assert all(v.dtype == np.float32 for v in m.params.values())
    # same kinds as the full architecture, in the same order (repeats collapsed)
    full = [l.kind for t in m.entry.towers for l in t.layers]
    kinds = [l.kind for t in m.spec.towers for l in t.layers]
    it = iter(full)
    assert all(k in it for k in kinds) and set(kinds) == set(full)


@pytest.mark.parametrize("name", NAMES)
def test_float32_and_ieee32(name, models):
    m = models[name]
    steps = []
    outs = {}
    for d in ("float32", "ieee32"):
        D = fpsem.domain(d)
        with fpsem.trace.progress(steps.append):
            outs[d] = _f64(D, m.forward(D, *m.default_inputs()))
        assert outs[d].shape == tuple(m.output_shape())
        assert np.all(np.isfinite(outs[d]))
    assert len(steps) == 2 * m.n_steps
    a, b = outs["float32"], outs["ieee32"]
    assert np.abs(a - b).max() <= 1e-4 * (np.abs(a).max() + 1)


def test_seeds():
    a, b, c = get_model("resnet-18"), get_model("resnet-18", seed=0), get_model("resnet-18", seed=1)
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert any(not np.array_equal(a.params[k], c.params[k]) for k in a.params)


@pytest.mark.parametrize("name", NAMES)
def test_float32_within_rigorous_envelope(name):
    env = fpsem.envelope(name, domain="float32")   # the ball reference measures every node
    st = [s for s in env.stats() if s.holds is not None]
    assert len(st) >= len(get_model(name).spec.towers[0].layers)
    assert all(s.holds for s in st), [s.name for s in st if not s.holds]


@pytest.mark.parametrize("name", IEEE_ENV)
def test_ieee32_within_rigorous_envelope(name):
    env = fpsem.envelope(name, domain="ieee32", reference="interval")
    st = [s for s in env.stats() if s.holds is not None]
    assert st and all(s.holds for s in st), [s.name for s in st if not s.holds]


def test_node_names_follow_layers():
    env = fpsem.envelope("resnet-18", domain="float32", reference="interval")
    assert "layers.0.stem" in env.nodes and "layers.2.conv2_1" in env.nodes and "logits" in env.nodes
    assert any(n.startswith("layers.2.conv1") for n in env.nodes)


@pytest.mark.parametrize("name", ["resnet-18", "vit-tiny", "gpt-2-small"])
def test_cli_run(name):
    from fpsem.cli import cli
    r = CliRunner().invoke(cli, ["run", name, "--domain", "float32", "--reference", "none", "--no-progress"])
    assert r.exit_code == 0, r.output
    assert name in r.output


def test_models_lists_bestiary():
    from fpsem.cli import cli
    r = CliRunner().invoke(cli, ["models", "--json"])
    assert r.exit_code == 0, r.output
    import json
    rows = {x["name"]: x for x in json.loads(r.output)["models"] if x.get("bestiary")}
    assert set(rows) == set(BESTIARY) and rows["resnet-18"]["trainable"] == get_model("resnet-18").n_trainable
