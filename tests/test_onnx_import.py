"""ONNX import: parity with onnxruntime on small graphs built with onnx.helper, the
body|op semantics, the unsupported-op error, `fpsem run MODEL.onnx` and observed runtimes.

Parity tolerances are derived, not guessed: each is a sum of two standard-model
forward error bounds (fpsem's float32 run and onnxruntime's), built from gamma_k
(fpsem.bounds.gamma) with k the roundings a term can go through in ANY summation
order, so the bound holds whatever order onnxruntime's kernels use.
"""
import json
from fractions import Fraction

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import fpsem  # noqa: E402
from fpsem.bounds import eta, gamma  # noqa: E402
from fpsem.cli import main  # noqa: E402
from fpsem.formats import binary32  # noqa: E402
from fpsem.models.onnx_import import OnnxError, load_onnx  # noqa: E402
import onnx_fixtures as F  # noqa: E402

# one more relative unit per bound for evaluating the bound itself in float64
SLACK = 1 + 2.0 ** -40


def g(k):
    return float(gamma(k, binary32)) * SLACK


ETA = float(eta(binary32))


def ort_run(m, inputs):
    s = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    return s.run(None, {i.name: a for i, a in zip(s.get_inputs(), inputs)})[0]


def fp32(m, inputs, semantics="body", domain="float32"):
    M = load_onnx(m, semantics=semantics)
    D = fpsem.domain(domain)
    return np.asarray(D.to_float64(M.forward(D, *inputs)))


def _affine_bound(x_abs, W_abs, b_abs, k, e_in):
    """|computed - exact| for x @ W + b with |x| <= x_abs (computed operands) and input
    error e_in: gamma_{k+1} (|x||W| + |b|) + e_in |W| + 2(k+1) eta (underflow)."""
    return g(k + 1) * (x_abs @ W_abs + b_abs) + e_in @ W_abs + 2 * (k + 1) * ETA


def test_mlp_parity_with_onnxruntime_within_derived_bound():
    m, (x,), P = F.mlp()
    ours, theirs = fp32(m, (x,)), ort_run(m, (x,))
    # layer 1 (Gemm, k = 16 products + bias), then ReLU (1-Lipschitz, exact)
    h = np.maximum(x.astype(np.float64) @ P["W1"].T.astype(np.float64) + P["b1"], 0)
    e1 = _affine_bound(np.abs(x), np.abs(P["W1"].T), np.abs(P["b1"]), 16, np.zeros_like(x))
    a_abs = np.abs(h) + e1                      # bounds both runs' computed activations
    e2 = _affine_bound(a_abs, np.abs(P["W2"]), np.abs(P["b2"]), 32, e1)
    tol = 2 * e2                                # |ours - real| + |theirs - real|
    diff = np.abs(ours - theirs)
    assert np.all(diff <= tol), (diff.max(), tol.min())


def test_structural_graph_is_bit_exact_in_every_domain():
    m, (x,) = F.structure()
    expect = ort_run(m, (x,))
    for d in ("float32", "float64", "ieee32", "bf16", "interval", "exact"):
        D = fpsem.domain(d)
        xin = x
        if d == "bf16":  # bf16 rounds the input: compare with the rounded input's image
            xin = np.asarray(D.to_float64(D.asarray(x)), dtype=np.float32)
            expect_d = ort_run(m, (xin,))
        else:
            expect_d = expect
        y = load_onnx(m).forward(D, xin)
        v = D.to_float64(y)
        if isinstance(v, tuple):
            assert np.array_equal(v[0], v[1])
            v = v[0]
        np.testing.assert_array_equal(np.asarray(v, dtype=np.float64), expect_d.astype(np.float64))


def test_cnn_parity_with_onnxruntime_within_derived_bound():
    """Conv(27 + bias) -> BN -> ReLU -> MaxPool -> Conv(36) -> GAP(4) -> Gemm(6 + bias).
    BN is the affine map x*a + c with a = s/sqrt(v + eps), c = b - m*a: any evaluation
    of it with at most 6 roundings on a path (fpsem: -, +eps, sqrt, /, *, +) errs by at
    most gamma_6 (|x a| + |b| + |m a|) (+ |a| times the input error)."""
    m, (x,) = F.cnn()
    init = {t.name: onnx.numpy_helper.to_array(t).astype(np.float64) for t in m.graph.initializer}
    ours, theirs = fp32(m, (x,)), ort_run(m, (x,))
    D64 = fpsem.domain("float64")
    import fpsem.ops as ops
    X = x.astype(np.float64)
    # exact-enough magnitudes from a float64 run; every bound below is absolute
    c1 = np.asarray(ops.conv2d(D64, X, init["conv1.w"], init["conv1.b"], padding=1))
    cols_abs = np.asarray(ops.conv2d(D64, np.abs(X), np.abs(init["conv1.w"]), np.abs(init["conv1.b"]), padding=1))
    e = g(28) * cols_abs + 2 * 28 * ETA
    a = init["bn.s"] / np.sqrt(init["bn.v"] + float(np.float32(1e-5)))
    r4 = lambda v: v.reshape(1, -1, 1, 1)
    bn = r4(a) * c1 + r4(init["bn.b"] - init["bn.m"] * a)
    e = np.abs(r4(a)) * e * (1 + g(6)) + g(6) * (np.abs(r4(a)) * (np.abs(c1) + e) + np.abs(r4(init["bn.b"]))
                                                 + np.abs(r4(init["bn.m"] * a)))
    relu = np.maximum(bn, 0)
    # max pool 3x3 / 2, pad 1: exact; the error of a max is at most the window's largest error
    pool = np.asarray(ops.max_pool2d(D64, relu, 3, 2, 1))
    e = np.asarray(ops.max_pool2d(D64, e, 3, 2, 1))
    c2 = np.asarray(ops.conv2d(D64, pool, init["conv2.w"], stride=2, padding=1))
    c2_abs = np.asarray(ops.conv2d(D64, np.abs(pool) + e, np.abs(init["conv2.w"]), stride=2, padding=1))
    e_prop = np.asarray(ops.conv2d(D64, e, np.abs(init["conv2.w"]), stride=2, padding=1))
    e = g(36) * c2_abs + e_prop + 2 * 36 * ETA
    # GAP over 2x2: a 4-term sum and one division
    gap = c2.mean(axis=(2, 3))
    e = g(4) * (np.abs(c2) + e).mean(axis=(2, 3)) * (1 + g(1)) + e.mean(axis=(2, 3)) * (1 + g(1)) \
        + g(1) * np.abs(gap)
    e_out = _affine_bound(np.abs(gap) + e, np.abs(init["fc.w"].T), np.abs(init["fc.b"]), 6, e)
    diff = np.abs(ours - theirs)
    assert np.all(diff <= 2 * e_out), (diff.max(), (2 * e_out).min())


def test_gpt_block_runs_in_every_domain_and_ieee32_matches_sequential_float32():
    m, (ids,) = F.gpt_block()
    M = load_onnx(m)
    a = fp32(m, (ids,), domain="ieee32")
    b = np.asarray(fpsem.domain("float32", acc="sequential").to_float64(
        M.forward(fpsem.domain("float32", acc="sequential"), ids)))
    # same order, same rounding, correctly rounded elementary functions in ieee32 but
    # not in numpy float32: the bits may differ only through exp/tanh/erf
    assert a.shape == b.shape == (1, 5, 11)
    R = fpsem.domain("interval")
    lo, hi = R.to_float64(M.forward(R, ids))
    f = fp32(m, (ids,))
    assert np.all(np.isfinite(lo)) and np.all(lo <= hi)
    assert np.abs(f - ort_run(m, (ids,))).max() < 1e-4  # sanity only; bounds: test_observe_*


def test_body_and_op_semantics_differ_for_layernorm():
    """LayerNormalization's ONNX body uses the one-pass variance E[x^2] - E[x]^2; fpsem's
    op the two-pass one: on data with a large mean relative to its spread they give
    different float32 results, and the exact real value is the same."""
    from onnx import TensorProto, helper
    d = 64
    rng = np.random.default_rng(3)
    x = (1000 + rng.standard_normal((2, d))).astype(np.float32)
    g_ = np.ones(d, np.float32)
    b_ = np.zeros(d, np.float32)
    gr = helper.make_graph([helper.make_node("LayerNormalization", ["x", "g", "b"], ["y"], epsilon=1e-5)], "ln",
                           [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, d])],
                           [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, d])],
                           [onnx.numpy_helper.from_array(g_, "g"), onnx.numpy_helper.from_array(b_, "b")])
    m = helper.make_model(gr, opset_imports=[helper.make_opsetid("", 17)])
    body = fp32(m, (x,), "body", "ieee32")
    op = fp32(m, (x,), "op", "ieee32")
    assert not np.array_equal(body, op)
    R = fpsem.domain("interval")
    lo_b, hi_b = R.to_float64(load_onnx(m, "body").forward(R, x))
    lo_o, hi_o = R.to_float64(load_onnx(m, "op").forward(R, x))
    # both enclose the same real function: the enclosures intersect everywhere
    assert np.all(np.maximum(lo_b, lo_o) <= np.minimum(hi_b, hi_o))
    # the two-pass op is the more accurate one on this data
    mid = (lo_o + hi_o) / 2
    assert np.abs(op - mid).max() < np.abs(body - mid).max()


def test_pow_half_integer_exponents_run_exactly():
    from onnx import TensorProto, helper
    gr = helper.make_graph([helper.make_node("Pow", ["x", "p"], ["y"])], "pow",
                           [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
                           [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])],
                           [onnx.numpy_helper.from_array(np.array(3.0, np.float32), "p")])
    m = helper.make_model(gr, opset_imports=[helper.make_opsetid("", 17)])
    E = fpsem.domain("exact")
    y = load_onnx(m).forward(E, np.array([0.5, -1.5, 3.0], np.float32))
    assert list(E.to_fraction(y)) == [Fraction(1, 8), Fraction(-27, 8), Fraction(27)]


def test_isnan_is_false_for_enclosures_and_true_for_nan_points():
    I, F32 = fpsem.domain("interval"), fpsem.domain("float32")
    assert not I.isnan(I.asarray([1, 2])).any()
    assert F32.isnan(F32.asarray(np.array([1.0, np.nan], np.float32))).tolist() == [False, True]


def test_unsupported_op_is_one_line_error_naming_op_node_opset(capsys, tmp_path):
    m, (x,) = F.unsupported()
    with pytest.raises(OnnxError) as e:
        load_onnx(m).forward(fpsem.domain("float32"), x)
    msg = str(e.value)
    assert "\n" not in msg and "Hardmax" in msg and "the_hardmax" in msg and "opset 17" in msg
    p = tmp_path / "u.onnx"
    onnx.save(m, str(p))
    code, out, err = _run(capsys, "run", str(p), "-d", "float32", "--no-progress")
    assert code == 2 and err.count("\n") == 1 and "Hardmax" in err and "the_hardmax" in err


def _run(capsys, *args):
    with pytest.raises(SystemExit) as e:
        main(list(args))
        raise SystemExit(0)
    cap = capsys.readouterr()
    return e.value.code or 0, cap.out, cap.err


def test_cli_run_onnx_float32_ieee32_envelope_and_semantics(capsys, tmp_path):
    m, (x,) = F.cnn()
    p, j = tmp_path / "cnn.onnx", tmp_path / "r.json"
    onnx.save(m, str(p))
    np.savez(tmp_path / "in.npz", x=x)
    code, out, err = _run(capsys, "run", str(p), "--domain", "float32,ieee32", "--inputs",
                          str(tmp_path / "in.npz"), "--json", str(j), "--no-progress")
    assert code == 0, err
    rep = json.loads(j.read_text())
    assert rep["onnx_semantics"] == "body" and "ONNX semantics: body" in out
    names = [s["name"] for s in rep["envelope"][0]["nodes"]]
    assert names[:3] == ["x", "/conv1/Conv_output_0", "/bn/BatchNormalization_output_0"]
    assert names[-1] == "logits"
    assert all(s["holds"] for s in rep["envelope"][0]["nodes"])
    code, out, err = _run(capsys, "run", str(p), "--domain", "float32", "--onnx-semantics", "op",
                          "--json", str(j), "--no-progress", "-r", "none")
    assert code == 0, err
    assert json.loads(j.read_text())["onnx_semantics"] == "op"


def test_cli_compare_onnxruntime_reports_rigorous_bounds(capsys, tmp_path):
    m, (ids,) = F.gpt_block()
    p, j = tmp_path / "g.onnx", tmp_path / "r.json"
    onnx.save(m, str(p))
    code, out, err = _run(capsys, "run", str(p), "--domain", "float32", "--compare", "onnxruntime",
                          "--json", str(j), "--no-progress")
    assert code == 0, err
    rep = json.loads(j.read_text())
    cmp_ = rep["compare"]
    assert cmp_["label"] == "onnxruntime" and cmp_["reference"].startswith("ball")
    nodes = {s["name"]: s for s in cmp_["nodes"]}
    assert "logits" in nodes and "/h.0/ln_1/LayerNormalization_output_0" in nodes
    assert all(s["rigorous"] and s["holds"] is not False for s in nodes.values())
    assert nodes["logits"]["bound_abs"] < 1e-4


def test_observe_npz_of_node_values(tmp_path):
    """Any runtime's per-node values (here: fpsem's own float32 run saved to .npz) are
    measured against the reference; the float32 domain's envelope gives the same numbers."""
    from fpsem.bridges import observe
    from fpsem.trace import recording
    m, (x,) = F.cnn()
    M = load_onnx(m)
    D = fpsem.domain("float32")
    vals = {}
    with recording(lambda n, _D, v: vals.__setitem__(n, np.asarray(v).copy())):
        M.forward(D, x)
    np.savez(tmp_path / "nodes.npz", **vals)
    env_o = observe(M, str(tmp_path / "nodes.npz"), (x,), label="saved")
    env = fpsem.envelope(M, (x,), domain="float32", compare=(), reference="interval")
    for n in env.nodes:
        assert env_o.node(n, "saved").max_abs == env.node(n).max_abs
        assert env_o.node(n, "saved").bound_abs == env.node(n).bound_abs


def test_cli_compare_npz_of_node_values(capsys, tmp_path):
    m, (x,) = F.cnn()
    p, j = tmp_path / "cnn.onnx", tmp_path / "r.json"
    onnx.save(m, str(p))
    vals = {"/conv1/Conv_output_0": np.zeros((1, 4, 8, 8), np.float32), "logits": ort_run(m, (x,))}
    np.savez(tmp_path / "obs.npz", **vals)
    np.savez(tmp_path / "in.npz", x=x)
    code, out, err = _run(capsys, "run", str(p), "-d", "float32", "--inputs", str(tmp_path / "in.npz"),
                          "--compare", str(tmp_path / "obs.npz"), "--json", str(j), "--no-progress")
    assert code == 0, err
    nodes = {s["name"]: s for s in json.loads(j.read_text())["compare"]["nodes"]}
    assert set(nodes) == set(vals)
    # the zeros are far from the real conv output; onnxruntime's logits are close
    assert nodes["/conv1/Conv_output_0"]["max_abs"] > 0.1
    assert nodes["logits"]["bound_abs"] < 1e-5


def test_envelope_of_onnx_path_has_every_node(tmp_path):
    m, (x,) = F.cnn()
    p = tmp_path / "cnn.onnx"
    onnx.save(m, str(p))
    env = fpsem.envelope(str(p), (x,), domain="ieee32")
    float_outputs = [o for n in m.graph.node for o in n.output]
    assert env.nodes == ["x"] + float_outputs
    assert any("ONNX semantics: body" in n for n in env.notes)
