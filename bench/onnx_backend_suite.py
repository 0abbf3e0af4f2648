"""Run the ONNX package's own backend node tests through fpsem (float32, float64, ieee32).

    python bench/onnx_backend_suite.py [--domains float32,float64,ieee32] [--json OUT] [--md OUT]
        [--filter REGEX]

Every node test of `onnx.backend.test` (the model and its test_data_set_* protobufs,
shipped in the onnx package) whose op type is one fpsem implements for ONNX (the
issue's list, OPS below) is run with fpsem's ONNX backend and compared the way
`onnx.backend.test.BackendTest` compares (numpy assert_allclose with the case's
rtol/atol, default 1e-3 / 1e-7, and the declared dtype). The `_expanded` variants
(the op's function body spelled out as nodes) count under the op they expand.
Other op types are excluded (listed with the reason "not in fpsem's ONNX op list").
The "real" model tests (ResNet-50, VGG-19, ...) are not in the package: their data
is downloaded from the ONNX model zoo at test time, which these machines cannot do.
Prints pass counts per op and domain; never asserts timings.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import re
import sys
import time
import traceback

import numpy as np

OPS = ["Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Exp", "Log", "Tanh", "Erf", "Relu", "Sigmoid",
       "MatMul", "Gemm", "Softmax", "LayerNormalization", "Conv", "MaxPool", "AveragePool",
       "GlobalAveragePool", "ReduceMean", "ReduceSum", "ReduceMax", "Gather", "GatherElements",
       "Reshape", "Transpose", "Split", "Concat", "Slice", "Expand", "Flatten", "Squeeze",
       "Unsqueeze", "Identity", "Where", "IsNaN", "Cast", "BatchNormalization", "Gelu", "Clip",
       "Pad", "Einsum", "Shape", "Constant", "ConstantOfShape", "Equal", "Range", "LRN", "GatherND"]


def cases():
    """(name, TestCase, op, expanded) for every node test whose op is in OPS, and
    the excluded ones with their op type."""
    from onnx.backend.test.loader import load_model_tests
    out, excluded = [], {}
    tests = load_model_tests(kind="node")
    base_op = {t.name: (t.model.graph.node[0].op_type if len(t.model.graph.node) == 1 else None)
               for t in tests}
    for t in tests:
        exp = "_expanded" in t.name
        base = re.sub(r"_expanded(_ver\d+)?$", "", t.name) if exp else t.name
        op = base_op.get(base) or base_op.get(t.name)
        if op in OPS:
            out.append((t.name, t, op, exp))
        else:
            excluded[t.name] = op or "multi-node graph"
    return out, excluded


def light_models():
    """The 'light' real models shipped inside the onnx package (ResNet-50, VGG-19, ...):
    (name, path, inputs, expected outputs). Inputs as BackendTest builds them:
    arange(n)/n in float32; outputs from the shipped *_output_0.pb."""
    import onnx
    from onnx import numpy_helper
    from onnx.backend.test.loader import DATA_DIR
    d = os.path.join(DATA_DIR, "light")
    out = []
    for f in sorted(glob.glob(os.path.join(d, "light_*.onnx"))):
        m = onnx.load(f)
        inits = {i.name for i in m.graph.initializer}
        ins = []
        for x in m.graph.input:
            if x.name in inits:
                continue
            shape = tuple(dd.dim_value if dd.HasField("dim_value") else 1 for dd in x.type.tensor_type.shape.dim)
            n = int(np.prod(shape))
            ins.append((np.arange(n).reshape(shape) / n).astype(np.float32))
        outs = []
        for i in range(len(m.graph.output)):
            t = onnx.TensorProto()
            with open(os.path.splitext(f)[0] + f"_output_{i}.pb", "rb") as fh:
                t.ParseFromString(fh.read())
            outs.append(numpy_helper.to_array(t))
        out.append((os.path.basename(f)[len("light_"):-len(".onnx")], m, [(ins, outs)]))
    return out


def _norm(x):
    from onnx.backend.test.runner import _normalize_tensor
    return np.asarray(_normalize_tensor(x))


def run_sets(B, model, data_sets, rtol, atol):
    rep = B.prepare(model)
    for ins, refs in data_sets:
        outs = rep.run([_norm(i) for i in ins])
        for r, o in zip([_norm(r) for r in refs], outs):
            if r.dtype == object or r.dtype.kind in "USO":
                np.testing.assert_array_equal(r, o)
                continue
            np.testing.assert_equal(r.dtype, np.asarray(o).dtype)
            np.testing.assert_allclose(r, o, rtol=rtol, atol=atol)


def _attempt(f):
    try:
        f()
        return "pass", ""
    except AssertionError as e:
        return "fail", " ".join(str(e).split())[:160]
    except Exception as e:  # noqa: BLE001 - every error is reported by name
        return "error", f"{type(e).__name__}: " + " ".join(str(e).split())[:200]


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--domains", default="float32,float64,ieee32")
    ap.add_argument("--json", default=None)
    ap.add_argument("--md", default=None)
    ap.add_argument("--filter", default=None)
    ap.add_argument("--light", action="store_true", help="also the 'light' real models")
    a = ap.parse_args(argv)
    from fpsem.models.onnx_backend import backend_for
    cs, excluded = cases()
    if a.filter:
        cs = [c for c in cs if re.search(a.filter, c[0])]
    doms = [d.strip() for d in a.domains.split(",") if d.strip()]
    results = {}
    for d in doms:
        B = backend_for(d)
        t0 = time.perf_counter()
        for nm, t, op, exp in cs:
            st, why = _attempt(lambda: run_sets(B, t.model, t.data_sets, t.rtol, t.atol))
            results.setdefault(nm, {"op": op, "expanded": exp})[d] = (st, why)
        print(f"{d}: {sum(results[c[0]][d][0] == 'pass' for c in cs)}/{len(cs)} pass "
              f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    per_op = {}
    for nm, r in results.items():
        if nm.startswith("__"):
            continue
        row = per_op.setdefault(r["op"], {"cases": 0, **{d: 0 for d in doms}})
        row["cases"] += 1
        for d in doms:
            row[d] += r[d][0] == "pass"
    lines = ["| op | node tests | " + " | ".join(doms) + " |", "| --- | --- | " + " | ".join("---" for _ in doms) + " |"]
    for op in OPS:
        if op in per_op:
            r = per_op[op]
            lines.append(f"| {op} | {r['cases']} | " + " | ".join(f"{r[d]}" for d in doms) + " |")
    tot = {d: sum(r[d] for r in per_op.values()) for d in doms}
    lines.append(f"| **all** | {len(results)} | " + " | ".join(f"**{tot[d]}**" for d in doms) + " |")
    table = "\n".join(lines)
    print(table)
    print("\nnot passing:")
    for nm, r in sorted(results.items()):
        if nm.startswith("__"):
            continue
        bad = {d: r[d] for d in doms if r[d][0] != "pass"}
        if bad:
            reasons = sorted({f"{s}: {w}" for s, w in bad.values()})
            print(f"- {nm} ({', '.join(bad)}): {reasons[0][:220]}")
    print(f"\nexcluded (op type not in fpsem's ONNX op list): {len(excluded)} node tests")
    if a.light:
        print("\n| light model | " + " | ".join(doms) + " |\n| --- | " + " | ".join("---" for _ in doms) + " |")
        light = {}
        for nm, m, sets in light_models():
            row = []
            for d in doms:
                t0 = time.perf_counter()
                st, why = _attempt(lambda: run_sets(backend_for(d), m, sets, 1e-3, 1e-7))
                light.setdefault(nm, {})[d] = (st, why, time.perf_counter() - t0)
                row.append(st + (f" ({why[:90]})" if why else ""))
            print(f"| {nm} | " + " | ".join(row) + " |", flush=True)
        results["__light__"] = light
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"results": results, "per_op": per_op, "excluded": excluded}, f, indent=1)
    if a.md:
        with open(a.md, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
