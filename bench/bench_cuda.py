"""cuda domain speed: the bit-exact ordered matmul against cuBLAS SGEMM (through CuPy,
TF32 off), and GPT-2 small over 64 tokens in the cuda domain against numpy float32.

    python bench/bench_cuda.py [--size 4096] [--gpt2] [--json out.json]

Times device work with CUDA events after warm-up, median of --reps runs; prints ratios,
asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

os.environ.setdefault("CUPY_TF32", "0")


def _events_time(fn, reps, drv):
    fn()
    drv.Context.synchronize()
    ts = []
    for _ in range(reps):
        a, b = drv.Event(), drv.Event()
        a.record()
        fn()
        b.record()
        b.synchronize()
        ts.append(b.time_since(a) / 1e3)
    return statistics.median(ts), ts


def bench_matmul(size, reps, modes=("rne", "rtz", "rup", "rdn")):
    import fpsem
    from fpsem.domains.cuda import runtime
    drv = runtime().drv
    M = N = K = size
    flop = 2.0 * M * N * K
    rng = np.random.default_rng(0)
    a = rng.standard_normal((M, K)).astype(np.float32)
    b = rng.standard_normal((K, N)).astype(np.float32)
    res = {"size": size, "device": runtime().name}
    for mode in modes:
        D = fpsem.domain("cuda", rounding=mode, acc="fma_chain")
        ga, gb = D.upload(a), D.upload(b)
        t, _ = _events_time(lambda: D.dot(ga, gb), reps, drv)
        res[f"fma_chain_{mode}_s"] = t
        res[f"fma_chain_{mode}_tflops"] = flop / t / 1e12
    D = fpsem.domain("cuda", acc="sequential")
    ga, gb = D.upload(a), D.upload(b)
    t, _ = _events_time(lambda: D.dot(ga, gb), reps, drv)
    res["sequential_rne_tflops"] = flop / t / 1e12
    try:
        import cupy as cp
        ca, cb = cp.asarray(a), cp.asarray(b)
        cp.matmul(ca, cb)
        cp.cuda.Device().synchronize()
        ts = []
        for _ in range(reps):
            e0, e1 = cp.cuda.Event(), cp.cuda.Event()
            e0.record()
            cp.matmul(ca, cb)
            e1.record()
            e1.synchronize()
            ts.append(cp.cuda.get_elapsed_time(e0, e1) / 1e3)
        t = statistics.median(ts)
        res["cublas_sgemm_s"] = t
        res["cublas_sgemm_tflops"] = flop / t / 1e12
        res["ratio_fma_chain_rne_to_cublas"] = res["fma_chain_rne_tflops"] / res["cublas_sgemm_tflops"]
        # sanity: same result up to rounding order
        D = fpsem.domain("cuda")
        mine = D.to_host(D.dot(D.upload(a[:512]), D.upload(b[:, :512])))
        ref = cp.asnumpy(cp.matmul(cp.asarray(a[:512]), cp.asarray(b[:, :512])))
        res["rel_diff_vs_cublas_512"] = float(np.linalg.norm(mine - ref) / np.linalg.norm(ref))
        res["cupy_tf32_env"] = os.environ.get("CUPY_TF32")
    except Exception as e:  # pragma: no cover
        res["cublas_error"] = f"{type(e).__name__}: {e}"
    return res


def bench_gpt2(tokens=64, repeat=3):
    """Runs bench/bench_gpt2.py (one fresh process per domain)."""
    here = os.path.dirname(os.path.abspath(__file__))
    cmd = [sys.executable, os.path.join(here, "bench_gpt2.py"), "--config", "small", "--tokens", str(tokens),
           "--domains", "float32,cuda", "--repeat", str(repeat)]
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True)
    return {"cmd": " ".join(cmd[1:]), "rc": p.returncode, "stdout": p.stdout[-4000:], "stderr": p.stderr[-2000:],
            "wall_s": time.time() - t0}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--gpt2", action="store_true")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    out = {"matmul": bench_matmul(a.size, a.reps)}
    if a.gpt2:
        out["gpt2"] = bench_gpt2()
    print(json.dumps(out, indent=1))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
