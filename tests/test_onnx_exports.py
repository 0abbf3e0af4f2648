"""Real exporter output: tiny random-initialised GPT-2 (torch.onnx legacy exporter),
BERT (legacy) and ResNet (dynamo exporter) from transformers, exported by
bench/export_tiny_models.py on a machine with torch (tests/data/onnx; no torch here).

Checked: every graph runs in float32, ieee32, bf16 and interval; every float node
output is an envelope node under its ONNX name; where the declared semantics promise
identical bits (ResNet: only +, *, max; ieee32 and float32 with the same order) the
bits are identical; the interval reference encloses fpsem's float64 run; and the
decision the interval reference certifies is the one onnxruntime and torch took.
"""
import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import fpsem  # noqa: E402
from fpsem.models.onnx_import import load_onnx  # noqa: E402

HERE = os.path.join(os.path.dirname(__file__), "data", "onnx")
EXPORTS = {"gpt2_legacy": "gpt2", "bert_legacy": "bert", "resnet_dynamo": "resnet"}


def _load(name):
    base = EXPORTS[name]
    path = os.path.join(HERE, name + ".onnx")
    z = np.load(os.path.join(HERE, base + "_inputs.npz"))
    m = load_onnx(path)
    feeds = {n: z[n] for n in m.input_names}
    return path, m, feeds, np.load(os.path.join(HERE, base + "_torch_out.npy"))


def _ort(path, feeds):
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return s.run(None, feeds)[0]


@pytest.mark.parametrize("name", list(EXPORTS))
def test_export_runs_in_every_domain_and_reference_encloses_float64(name):
    path, m, feeds, _ = _load(name)
    for d in ("float32", "ieee32", "bf16"):
        D = fpsem.domain(d)
        y = np.asarray(D.to_float64(m.forward(D, feeds)))
        assert np.all(np.isfinite(y))
    R, F64 = fpsem.domain("interval"), fpsem.domain("float64")
    lo, hi = R.to_float64(m.forward(R, feeds))
    y64 = np.asarray(F64.to_float64(m.forward(F64, feeds)))
    # float64's own error is far below float32 resolution; the enclosure is of the real value
    width = np.max(hi - lo)
    assert width < 1e-3 * np.max(np.abs(y64))
    slack = 1e-12 * np.max(np.abs(y64))
    assert np.all(lo - slack <= y64) and np.all(y64 <= hi + slack)


def test_resnet_ieee32_bit_identical_to_sequential_float32():
    """Conv/Add/Relu/MaxPool use only +, *, max: same order, same rounding -> same bits."""
    _, m, feeds, _ = _load("resnet_dynamo")
    a = fpsem.domain("ieee32", acc="sequential")
    b = fpsem.domain("float32", acc="sequential")
    ya = np.asarray(a.to_float64(m.forward(a, feeds)))
    yb = np.asarray(b.to_float64(m.forward(b, feeds)))
    assert np.array_equal(ya, yb)


def test_every_node_is_in_the_envelope_under_its_onnx_name():
    path, m, feeds, _ = _load("bert_legacy")
    env = fpsem.envelope(path, feeds, domain="float32", compare=())
    floats = set(env.nodes)
    outputs = [o for n in m.proto.graph.node for o in n.output]
    assert env.nodes[-1] == "last_hidden_state"
    assert set(env.nodes) <= set(outputs) | set(m.input_names)
    # host (integer / shape) values are not nodes; every LayerNormalization output is
    lns = [n.output[0] for n in m.proto.graph.node if n.op_type == "LayerNormalization"]
    assert lns and all(n in floats for n in lns)


def test_gpt2_certified_decisions_match_onnxruntime_and_torch():
    path, m, feeds, torch_out = _load("gpt2_legacy")
    env = fpsem.envelope(path, feeds, domain="float32", compare=())
    theirs = _ort(path, feeds)
    rows = theirs.shape[1]
    checked = 0
    for r in range(rows):
        dec = env.decision(row=r)
        if dec.reference.certain:
            assert int(np.argmax(theirs[0, r])) == dec.reference.top1
            assert int(np.argmax(torch_out[0, r])) == dec.reference.top1
            checked += 1
    assert checked == rows  # tiny model, tight enclosures: every position is certain
