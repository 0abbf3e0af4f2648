"""fpsem vs onnxruntime on ONNX exports, with rigorous bounds for both.

    python bench/onnx_models_parity.py [DIR]     # default: tests/data/onnx

For every DIR/<name>_<exporter>.onnx with DIR/<name>_inputs.npz: the output of
fpsem's float32, ieee32 and bf16 runs and onnxruntime's (CPU) as the max relative
difference from onnxruntime, and, against the interval reference, the rigorous
bound on |value - real| at the output for fpsem float32 and for onnxruntime's own
value (observed, through fpsem.bridges.observe). Prints a markdown table; times are
measured, never asserted.
"""
import glob
import os
import sys
import time

import numpy as np


def main(d):
    import onnxruntime as ort

    import fpsem
    from fpsem.bridges import observe, onnxruntime_nodes
    from fpsem.models.onnx_import import load_onnx
    print("| export | nodes | ONNX ops | float32 vs ORT | ieee32 vs ORT | bf16 vs ORT "
          "| rigorous bound, fpsem float32 | rigorous bound, ORT (observed) | interval time |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for path in sorted(glob.glob(os.path.join(d, "*_*.onnx"))):
        name = os.path.basename(path)[:-5]
        inp = os.path.join(d, name.rsplit("_", 1)[0] + "_inputs.npz")
        if not os.path.exists(inp):
            continue
        m = load_onnx(path)
        z = np.load(inp)
        feeds = {n: z[n] for n in m.input_names}
        s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        ref = s.run(None, feeds)[0].astype(np.float64)
        scale = np.abs(ref).max()
        rel = []
        for dn in ("float32", "ieee32", "bf16"):
            D = fpsem.domain(dn)
            y = np.asarray(D.to_float64(m.forward(D, feeds)))
            rel.append(np.abs(y - ref).max() / scale)
        t0 = time.perf_counter()
        env = fpsem.envelope(m, feeds, domain="float32", compare=())
        t_int = time.perf_counter() - t0
        vals, _, _ = onnxruntime_nodes(m, feeds)
        env_o = observe(m, vals, feeds, label="onnxruntime")
        out = env.nodes[-1]
        ops_ = len({n.op_type for n in m.proto.graph.node})
        print(f"| {name} | {len(m.proto.graph.node)} | {ops_} | {rel[0]:.1e} | {rel[1]:.1e} | {rel[2]:.1e} "
              f"| {env.node(out).bound_abs:.2e} | {env_o.node(out, 'onnxruntime').bound_abs:.2e} "
              f"| {t_int:.2f} s |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "data", "onnx"))
