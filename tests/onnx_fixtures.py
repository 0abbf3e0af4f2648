"""Small ONNX graphs built with onnx.helper (no torch), for the ONNX import tests.

    python tests/onnx_fixtures.py tests/data/onnx    # writes the checked-in .onnx files

Each builder returns (ModelProto, inputs tuple). Weights are seeded float32; names
follow the style of torch exports ("/h.0/attn/MatMul_output_0") where it matters.
"""
from __future__ import annotations

import os
import sys

import numpy as np


def _h():
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    return onnx, TensorProto, helper, numpy_helper


def _init(numpy_helper, name, a):
    return numpy_helper.from_array(np.asarray(a), name)


def mlp(seed=0, n_in=16, n_hidden=32, n_out=8, batch=4):
    """Gemm(transB) + Relu + MatMul + Add: a 2-layer perceptron."""
    onnx, TP, helper, nh = _h()
    rng = np.random.default_rng(seed)
    W1 = rng.uniform(-0.25, 0.25, (n_hidden, n_in)).astype(np.float32)
    b1 = rng.uniform(-0.25, 0.25, n_hidden).astype(np.float32)
    W2 = rng.uniform(-0.25, 0.25, (n_hidden, n_out)).astype(np.float32)
    b2 = rng.uniform(-0.25, 0.25, n_out).astype(np.float32)
    nodes = [
        helper.make_node("Gemm", ["x", "W1", "b1"], ["fc1"], transB=1, name="fc1"),
        helper.make_node("Relu", ["fc1"], ["act1"], name="act1"),
        helper.make_node("MatMul", ["act1", "W2"], ["mm2"], name="mm2"),
        helper.make_node("Add", ["mm2", "b2"], ["y"], name="fc2"),
    ]
    g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TP.FLOAT, ["batch", n_in])],
                          [helper.make_tensor_value_info("y", TP.FLOAT, ["batch", n_out])],
                          [_init(nh, "W1", W1), _init(nh, "b1", b1), _init(nh, "W2", W2), _init(nh, "b2", b2)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="fpsem-tests")
    x = rng.standard_normal((batch, n_in)).astype(np.float32)
    return m, (x,), {"W1": W1, "b1": b1, "W2": W2, "b2": b2}


def cnn(seed=0):
    """Conv(pad 1) + BatchNormalization + Relu + MaxPool + Conv(stride 2) + GlobalAveragePool
    + Flatten + Gemm: a ResNet-stem-like classifier on (1, 3, 8, 8)."""
    onnx, TP, helper, nh = _h()
    rng = np.random.default_rng(seed)
    w1 = rng.uniform(-0.3, 0.3, (4, 3, 3, 3)).astype(np.float32)
    b1 = rng.uniform(-0.1, 0.1, 4).astype(np.float32)
    sc = (1 + 0.1 * rng.standard_normal(4)).astype(np.float32)
    bb = (0.1 * rng.standard_normal(4)).astype(np.float32)
    mu = (0.1 * rng.standard_normal(4)).astype(np.float32)
    var = (1 + 0.2 * rng.uniform(0, 1, 4)).astype(np.float32)
    w2 = rng.uniform(-0.3, 0.3, (6, 4, 3, 3)).astype(np.float32)
    wf = rng.uniform(-0.3, 0.3, (5, 6)).astype(np.float32)
    bf = rng.uniform(-0.1, 0.1, 5).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "conv1.w", "conv1.b"], ["/conv1/Conv_output_0"], pads=[1, 1, 1, 1],
                         kernel_shape=[3, 3], name="/conv1/Conv"),
        helper.make_node("BatchNormalization", ["/conv1/Conv_output_0", "bn.s", "bn.b", "bn.m", "bn.v"],
                         ["/bn/BatchNormalization_output_0"], epsilon=1e-5, name="/bn/BatchNormalization"),
        helper.make_node("Relu", ["/bn/BatchNormalization_output_0"], ["/relu/Relu_output_0"], name="/relu/Relu"),
        helper.make_node("MaxPool", ["/relu/Relu_output_0"], ["/pool/MaxPool_output_0"], kernel_shape=[3, 3],
                         strides=[2, 2], pads=[1, 1, 1, 1], name="/pool/MaxPool"),
        helper.make_node("Conv", ["/pool/MaxPool_output_0", "conv2.w"], ["/conv2/Conv_output_0"],
                         kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], name="/conv2/Conv"),
        helper.make_node("GlobalAveragePool", ["/conv2/Conv_output_0"], ["/gap/GlobalAveragePool_output_0"],
                         name="/gap/GlobalAveragePool"),
        helper.make_node("Flatten", ["/gap/GlobalAveragePool_output_0"], ["/flat/Flatten_output_0"], name="/flat"),
        helper.make_node("Gemm", ["/flat/Flatten_output_0", "fc.w", "fc.b"], ["logits"], transB=1, name="/fc/Gemm"),
    ]
    inits = [_init(nh, k, v) for k, v in (("conv1.w", w1), ("conv1.b", b1), ("bn.s", sc), ("bn.b", bb),
                                         ("bn.m", mu), ("bn.v", var), ("conv2.w", w2), ("fc.w", wf),
                                         ("fc.b", bf))]
    g = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("x", TP.FLOAT, [1, 3, 8, 8])],
                          [helper.make_tensor_value_info("logits", TP.FLOAT, [1, 5])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="fpsem-tests")
    x = rng.standard_normal((1, 3, 8, 8)).astype(np.float32)
    return m, (x,)


def structure(seed=0):
    """Exact structural ops only (Reshape, Transpose, Slice, Concat, Gather, Split, Squeeze,
    Unsqueeze, Expand, Where on a host mask, Pad, Identity, with a Shape subgraph):
    every domain must return the input's values bit for bit."""
    onnx, TP, helper, nh = _h()
    rng = np.random.default_rng(seed)
    i64 = lambda name, v: _init(nh, name, np.asarray(v, dtype=np.int64))
    nodes = [
        helper.make_node("Shape", ["x"], ["shp"]),
        helper.make_node("Gather", ["shp", "zero"], ["d0"], axis=0),
        helper.make_node("Unsqueeze", ["d0", "ax0"], ["d0v"]),
        helper.make_node("Concat", ["d0v", "m1"], ["newshape"], axis=0),
        helper.make_node("Reshape", ["x", "newshape"], ["r"]),                      # (2, 12)
        helper.make_node("Transpose", ["r"], ["t"], perm=[1, 0]),                   # (12, 2)
        helper.make_node("Slice", ["t", "s0", "s1", "ax0", "st2"], ["sl"]),        # rows 1,3,..,9
        helper.make_node("Split", ["sl", "sp"], ["a", "b"], axis=0),
        helper.make_node("Concat", ["b", "a"], ["c"], axis=0),
        helper.make_node("Gather", ["c", "idx"], ["g"], axis=0),
        helper.make_node("Unsqueeze", ["g", "ax0"], ["u"]),
        helper.make_node("Expand", ["u", "eshape"], ["e"]),
        helper.make_node("Identity", ["e"], ["sq"]),
        helper.make_node("Where", ["mask", "sq", "zeros"], ["w"]),
        helper.make_node("Pad", ["w", "pads"], ["y"], mode="constant"),
    ]
    inits = [i64("zero", 0), i64("ax0", [0]), i64("m1", [-1]), i64("s0", [1]), i64("s1", [10]),
             i64("st2", [2]), i64("sp", [2, 3]), i64("idx", [4, 0, 2]), i64("eshape", [2, 3, 2]),
             _init(nh, "mask", np.array([[True, False], [False, True], [True, True]])),
             _init(nh, "zeros", np.zeros((1, 1), np.float32)), i64("pads", [0, 1, 0, 0, 0, 1])]
    g = helper.make_graph(nodes, "structure", [helper.make_tensor_value_info("x", TP.FLOAT, [2, 3, 4])],
                          [helper.make_tensor_value_info("y", TP.FLOAT, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="fpsem-tests")
    return m, (rng.standard_normal((2, 3, 4)).astype(np.float32),)


def gpt_block(seed=0, vocab=11, T=5, d=8, heads=2, opset=20):
    """A GPT-2-like block as torch exports it: token + position embeddings (Gather on int
    ids), LayerNormalization, fused QKV MatMul + Add, Split, head Reshape/Transpose,
    scaled scores (Div by Sqrt of a constant), causal mask from a Range/Shape subgraph,
    Where, Softmax, IsNaN guard, Gelu(tanh) MLP with Pow, residual Adds, final
    LayerNormalization and a tied LM head (MatMul with the transposed table)."""
    onnx, TP, helper, nh = _h()
    rng = np.random.default_rng(seed)
    hd = d // heads
    f32 = lambda *s, sc=0.2: (sc * rng.standard_normal(s)).astype(np.float32)
    P = {"wte": f32(vocab, d, sc=0.5), "wpe": f32(16, d, sc=0.3),
         "ln1.g": (1 + f32(d, sc=0.1)), "ln1.b": f32(d, sc=0.1),
         "attn.w": f32(d, 3 * d), "attn.b": f32(3 * d, sc=0.05),
         "proj.w": f32(d, d), "proj.b": f32(d, sc=0.05),
         "ln2.g": (1 + f32(d, sc=0.1)), "ln2.b": f32(d, sc=0.1),
         "fc.w": f32(d, 4 * d), "fc.b": f32(4 * d, sc=0.05),
         "fc2.w": f32(4 * d, d), "fc2.b": f32(d, sc=0.05),
         "lnf.g": (1 + f32(d, sc=0.1)), "lnf.b": f32(d, sc=0.1)}
    i64 = lambda v: np.asarray(v, dtype=np.int64)
    C = {"c0": i64(0), "c1": i64(1), "ax0": i64([0]), "ax1": i64([1]), "split3": i64([d, d, d]),
         "hshape": i64([1, -1, heads, hd]), "oshape": i64([1, -1, d]),
         "hd_f": np.array(hd, np.float32), "three": np.array(3.0, np.float32),
         "neg": np.array(-1e9, np.float32), "zero_f": np.array(0.0, np.float32)}
    n = helper.make_node
    A = "/h.0/attn/"
    nodes = [
        n("Shape", ["input_ids"], ["/Shape_output_0"]),
        n("Gather", ["/Shape_output_0", "c1"], ["/T"], axis=0),
        n("Range", ["c0", "/T", "c1"], ["/pos"]),
        n("Unsqueeze", ["/pos", "ax0"], ["/pos2"]),
        n("Gather", ["wte", "input_ids"], ["/wte/Gather_output_0"], name="/wte/Gather"),
        n("Gather", ["wpe", "/pos2"], ["/wpe/Gather_output_0"], name="/wpe/Gather"),
        n("Add", ["/wte/Gather_output_0", "/wpe/Gather_output_0"], ["/Add_output_0"], name="/Add"),
        n("LayerNormalization", ["/Add_output_0", "ln1.g", "ln1.b"], ["/h.0/ln_1/LayerNormalization_output_0"],
          axis=-1, epsilon=1e-5, name="/h.0/ln_1/LayerNormalization"),
        n("MatMul", ["/h.0/ln_1/LayerNormalization_output_0", "attn.w"], [A + "MatMul_output_0"], name=A + "MatMul"),
        n("Add", [A + "MatMul_output_0", "attn.b"], [A + "Add_output_0"], name=A + "Add"),
        n("Split", [A + "Add_output_0", "split3"], [A + "q", A + "k", A + "v"], axis=-1, name=A + "Split"),
        n("Reshape", [A + "q", "hshape"], [A + "q4"]), n("Transpose", [A + "q4"], [A + "qh"], perm=[0, 2, 1, 3]),
        n("Reshape", [A + "k", "hshape"], [A + "k4"]), n("Transpose", [A + "k4"], [A + "kh"], perm=[0, 2, 3, 1]),
        n("Reshape", [A + "v", "hshape"], [A + "v4"]), n("Transpose", [A + "v4"], [A + "vh"], perm=[0, 2, 1, 3]),
        n("MatMul", [A + "qh", A + "kh"], [A + "scores"], name=A + "MatMul_1"),
        n("Sqrt", ["hd_f"], [A + "sqrt_hd"]),
        n("Div", [A + "scores", A + "sqrt_hd"], [A + "scaled"], name=A + "Div"),
        # causal mask: key j visible to query i iff j <= i (host subgraph)
        n("Unsqueeze", ["/pos", "ax1"], [A + "pi"]),
        n("Unsqueeze", ["/pos", "ax0"], [A + "pj"]),
        n("LessOrEqual", [A + "pj", A + "pi"], [A + "causal"]),
        n("Where", [A + "causal", A + "scaled", "neg"], [A + "masked"], name=A + "Where"),
        n("Softmax", [A + "masked"], [A + "probs"], axis=-1, name=A + "Softmax"),
        n("IsNaN", [A + "probs"], [A + "isnan"]),
        n("Where", [A + "isnan", "zero_f", A + "probs"], [A + "probs_safe"], name=A + "Where_1"),
        n("MatMul", [A + "probs_safe", A + "vh"], [A + "ctx"], name=A + "MatMul_2"),
        n("Transpose", [A + "ctx"], [A + "ctxT"], perm=[0, 2, 1, 3]),
        n("Reshape", [A + "ctxT", "oshape"], [A + "merged"]),
        n("MatMul", [A + "merged", "proj.w"], [A + "c_proj"], name=A + "c_proj/MatMul"),
        n("Add", [A + "c_proj", "proj.b"], [A + "c_proj_b"], name=A + "c_proj/Add"),
        n("Add", ["/Add_output_0", A + "c_proj_b"], ["/h.0/Add_output_0"], name="/h.0/Add"),
        n("LayerNormalization", ["/h.0/Add_output_0", "ln2.g", "ln2.b"], ["/h.0/ln_2/LayerNormalization_output_0"],
          axis=-1, epsilon=1e-5, name="/h.0/ln_2/LayerNormalization"),
        n("MatMul", ["/h.0/ln_2/LayerNormalization_output_0", "fc.w"], ["/h.0/mlp/c_fc/MatMul_output_0"]),
        n("Add", ["/h.0/mlp/c_fc/MatMul_output_0", "fc.b"], ["/h.0/mlp/c_fc/Add_output_0"]),
        n("Gelu", ["/h.0/mlp/c_fc/Add_output_0"], ["/h.0/mlp/act/Gelu_output_0"], approximate="tanh"),
        n("Pow", ["/h.0/mlp/act/Gelu_output_0", "three"], ["/h.0/mlp/cube"]),
        n("Add", ["/h.0/mlp/act/Gelu_output_0", "/h.0/mlp/cube"], ["/h.0/mlp/act2"]),
        n("MatMul", ["/h.0/mlp/act2", "fc2.w"], ["/h.0/mlp/c_proj/MatMul_output_0"]),
        n("Add", ["/h.0/mlp/c_proj/MatMul_output_0", "fc2.b"], ["/h.0/mlp/c_proj/Add_output_0"]),
        n("Add", ["/h.0/Add_output_0", "/h.0/mlp/c_proj/Add_output_0"], ["/h.0/Add_1_output_0"]),
        n("LayerNormalization", ["/h.0/Add_1_output_0", "lnf.g", "lnf.b"], ["/ln_f/LayerNormalization_output_0"],
          axis=-1, epsilon=1e-5),
        n("Transpose", ["wte"], ["/lm_head/wT"], perm=[1, 0]),
        n("MatMul", ["/ln_f/LayerNormalization_output_0", "/lm_head/wT"], ["logits"], name="/lm_head/MatMul"),
    ]
    inits = [_init(nh, k, v) for k, v in {**P, **C}.items()]
    g = helper.make_graph(nodes, "gpt_block",
                          [helper.make_tensor_value_info("input_ids", TP.INT64, [1, "sequence"])],
                          [helper.make_tensor_value_info("logits", TP.FLOAT, [1, "sequence", vocab])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="fpsem-tests")
    ids = rng.integers(0, vocab, size=(1, T)).astype(np.int64)
    return m, (ids,)


def unsupported():
    """A graph with an op fpsem does not implement (Hardmax)."""
    onnx, TP, helper, nh = _h()
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["r"], name="r"),
                           helper.make_node("Hardmax", ["r"], ["y"], name="the_hardmax")], "unsupported",
                          [helper.make_tensor_value_info("x", TP.FLOAT, [2, 3])],
                          [helper.make_tensor_value_info("y", TP.FLOAT, [2, 3])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="fpsem-tests")
    return m, (np.ones((2, 3), np.float32),)


CHECKED_IN = {"tiny_gpt_block.onnx": gpt_block, "tiny_cnn.onnx": cnn}


def write_all(outdir):
    import onnx
    os.makedirs(outdir, exist_ok=True)
    for fname, build in CHECKED_IN.items():
        m, inputs = build()[:2]
        onnx.checker.check_model(m)
        onnx.save(m, os.path.join(outdir, fname))
        np.savez(os.path.join(outdir, fname.replace(".onnx", "_inputs.npz")),
                 **{i.name: a for i, a in zip([i for i in m.graph.input], inputs)})


if __name__ == "__main__":
    write_all(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "data", "onnx"))
