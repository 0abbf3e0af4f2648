"""One-shot verification and measurement of the cuda domain on a GPU machine.

    OUT=/some/dir python bench/cuda_check.py [--quick] [--skip-tests] [--skip-ulp] ...

1. pytest tests/test_cuda.py (bit-exactness against the emulator / ordered float32,
   fused == generic), log in $OUT/pytest.log
2. exhaustive ulp scan of CUDA's float32 expf, exp2f, logf, tanhf, erff, sinf, cosf and
   the fast intrinsics over every float32 input (2^32 bit patterns, NaNs skipped),
   reference: CUDA's double-precision libm (see cuda_kernels/ulp.cu); $OUT/ulp.json
3. matmul 4096^3 against cuBLAS SGEMM (CuPy, TF32 off) and GPT-2 small 64 tokens
   cuda vs float32 (bench/bench_cuda.py); $OUT/bench.json
4. fpsem run gpt2 --domain cuda (envelope against interval); $OUT/run_gpt2.txt
Prints a summary table last.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)


def ulp_scan(fast, funcs, step=1):
    from pycuda.compiler import SourceModule

    from fpsem.domains.cuda import _kernel_dir, runtime
    rt = runtime()
    drv = rt.drv
    d = _kernel_dir()
    src = open(os.path.join(d, "common.cu")).read() + open(os.path.join(d, "ulp.cu")).read()
    mod = SourceModule(src, options=rt.flags(False, False, 0, fast), no_extern_c=True, arch=rt.arch)
    res = {}
    for f in funcs:
        fn = mod.get_function("scan_" + f)
        acc = drv.mem_alloc(24)
        drv.memset_d8(acc, 0, 24)
        t0 = time.time()
        total = 1 << 32
        chunk = 1 << 30
        for start in range(0, total, chunk):
            fn(np.uint64(start), np.uint64(chunk), np.uintp(int(acc)), np.uintp(int(acc) + 8),
               np.uintp(int(acc) + 16), block=(256, 1, 1), grid=(132 * 16, 1))
        drv.Context.synchronize()
        h = np.empty(3, np.uint64)
        drv.memcpy_dtoh(h, acc)
        e = np.array([h[0] >> np.uint64(32)], dtype=np.uint64).astype(np.uint32).view(np.float32)[0]
        u = int(h[0] & np.uint64(0xFFFFFFFF))
        x = np.array([u], np.uint32).view(np.float32)[0]
        res[f] = {"max_ulp": float(e), "at": float(x), "at_bits": f"{u:#010x}", "not_correctly_rounded": int(h[1]),
                  "special_mismatch": int(h[2]), "inputs": total - 2 * (2 ** 23 - 1), "seconds": time.time() - t0}
        print(("fast " if fast else "libm ") + f, res[f], flush=True)
    return res


def ftz_tininess(n=1 << 18):
    """Which tininess rule does the GPU's flush-to-zero follow? Products, quotients and
    fmas whose exact results lie just below the smallest normal 2^-126, compared with
    the emulator under tininess='after' and 'before' (counts of differing results)."""
    import fpsem
    from fpsem.emu import binary32 as E
    rng = np.random.default_rng(1)
    a = rng.uniform(1, 2, n).astype(np.float32)
    target = 2.0 ** -126 * (1 - rng.uniform(0, 2 ** -21, n))
    b = (target / a.astype(np.float64)).astype(np.float32)
    # plus products that separate the rules for certain: (1 + 2^-j)(1 - 2^-j) = 1 - 2^-2j,
    # scaled to 2^-126 (1 - 2^-2j), 13 <= j <= 24: below 2^-126 by less than a quarter ulp,
    # so rounding at 24 bits with an unbounded exponent gives 2^-126 in rne/rup ('after':
    # not tiny, no flush) while the exact value is below 2^-126 ('before': tiny, flushed)
    sx, sy = [], []
    for j in range(13, 25):
        for e1 in range(1, 126):
            sx.append(2.0 ** -e1 * (1 + 2.0 ** -j))
            sy.append(2.0 ** -(126 - e1) * (1 - 2.0 ** -j))
    a = np.concatenate([a, np.array(sx, np.float32)])
    b = np.concatenate([b, np.array(sy, np.float32)])
    ab, bb = a.view(np.uint32), b.view(np.uint32)
    one_over_b = (1 / b.astype(np.float64)).astype(np.float32)
    res = {}
    for mode in ("rne", "rtz", "rup", "rdn"):
        D = fpsem.domain("cuda", rounding=mode, ftz=True, daz=True)
        ga, gb = D.upload(a), D.upload(b)
        out = {"mul": D.to_host(D.mul(ga, gb)).view(np.uint32),
               "div": D.to_host(D.div(ga, D.upload(one_over_b))).view(np.uint32),
               "fma": D.to_host(D.fma(ga, gb, D.zeros(a.shape))).view(np.uint32)}
        for op, got in out.items():
            for rule in ("after", "before"):
                kw = dict(rounding=mode, ftz=True, daz=True, tininess=rule, nan="cuda")
                if op == "mul":
                    want = E.mul(ab, bb, **kw)[0]
                elif op == "div":
                    want = E.div(ab, one_over_b.view(np.uint32), **kw)[0]
                else:
                    want = E.fma(ab, bb, np.zeros_like(ab), **kw)[0]
                res[f"{op}_{mode}_{rule}"] = int(np.sum(got != want))
    res["n"] = n
    print("ftz tininess (differing results per rule):", res, flush=True)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-tests", action="store_true")
    ap.add_argument("--skip-ulp", action="store_true")
    ap.add_argument("--skip-bench", action="store_true")
    ap.add_argument("--skip-run", action="store_true")
    ap.add_argument("--pytest-args", default="")
    ap.add_argument("--run-args", default="--config small --tokens 16")
    a = ap.parse_args()
    out = os.environ.get("OUT", "/tmp/cuda_check")
    os.makedirs(out, exist_ok=True)
    summary = {}
    from fpsem.domains.cuda import CudaDomain, runtime
    print("available:", CudaDomain.available(), flush=True)
    rt = runtime()
    summary["device"] = rt.name
    summary["arch"] = rt.arch
    if not a.skip_tests:
        t0 = time.time()
        p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                            os.path.join(ROOT, "tests", "test_cuda.py")] + a.pytest_args.split(),
                           capture_output=True, text=True, cwd=ROOT)
        open(os.path.join(out, "pytest.log"), "w").write(p.stdout + p.stderr)
        tail = [ln for ln in p.stdout.splitlines() if ln.strip()][-1:] or ["?"]
        summary["pytest"] = {"rc": p.returncode, "last": tail[0], "seconds": round(time.time() - t0, 1)}
        print(p.stdout[-6000:], flush=True)
    try:
        summary["ftz_tininess"] = ftz_tininess()
    except Exception as e:  # pragma: no cover
        summary["ftz_tininess"] = f"{type(e).__name__}: {e}"
    if not a.skip_ulp:
        funcs = ["exp", "exp2", "log", "tanh", "erf", "sin", "cos"]
        ulp = {"libm": ulp_scan(False, funcs), "fast": ulp_scan(True, ["exp", "exp2", "log", "tanh", "sin", "cos"])}
        json.dump(ulp, open(os.path.join(out, "ulp.json"), "w"), indent=1)
        summary["ulp"] = {k: {f: (v["max_ulp"], v["not_correctly_rounded"], v["special_mismatch"]) for f, v in d.items()}
                          for k, d in ulp.items()}
    if not a.skip_bench:
        import bench_cuda
        b = {"matmul": bench_cuda.bench_matmul(4096, 10)}
        print(json.dumps(b, indent=1), flush=True)
        b["gpt2"] = bench_cuda.bench_gpt2(64, 3)
        print(b["gpt2"]["stdout"][-3000:], b["gpt2"]["stderr"][-1500:], flush=True)
        json.dump(b, open(os.path.join(out, "bench.json"), "w"), indent=1)
        mm = b["matmul"]
        summary["matmul"] = {k: round(v, 3) for k, v in mm.items() if isinstance(v, float)}
    if not a.skip_run:
        cmd = [sys.executable, "-m", "fpsem", "run", "gpt2", "--domain", "cuda", "--no-progress"] + a.run_args.split()
        t0 = time.time()
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=400)
        open(os.path.join(out, "run_gpt2.txt"), "w").write(" ".join(cmd) + "\n" + p.stdout + p.stderr)
        summary["run_gpt2"] = {"rc": p.returncode, "seconds": round(time.time() - t0, 1)}
        print(p.stdout[-3000:], p.stderr[-1000:], flush=True)
    json.dump(summary, open(os.path.join(out, "summary.json"), "w"), indent=1)
    print("SUMMARY", json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
