"""Benchmarks of fpsem.emu and the ieee32 domain; prints ratios measured in the same run.

    python bench/bench_emu.py [--n 10000000] [--quick] [--only matmul]

Targets (issue #3): rne add/mul/div/sqrt within 1.5x of numpy float32; the
reference path <= 8 ns/op per core in any mode; correctly rounded exp/log/tanh
within 5x of numpy float32 np.exp; ordered matmul within 6x of numpy float32 BLAS.
One core throughout: numba pinned to one thread (NUMBA_NUM_THREADS=1 unless
set; the ordered matmul kernels otherwise run their tiles in parallel) and BLAS
pinned to one thread (OPENBLAS_NUM_THREADS=1 unless set). Each row is the median of --reps runs after a
warm-up, and every ratio is against a numpy figure measured in the same run.
Never asserts on time.
"""
from __future__ import annotations

import argparse
import os
import time

# the targets are per core: single-threaded BLAS unless the caller says otherwise
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

REPS = 5


def best(fn, reps=None):
    """Median of `reps` timed runs after one warm-up (compile) run."""
    fn()  # warm up / compile
    ts = []
    for _ in range(reps or REPS):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--quick", action="store_true", help="skip the per-mode reference sweep")
    ap.add_argument("--reps", type=int, default=5, help="timed repeats per row (median)")
    ap.add_argument("--only", choices=("matmul",), default=None,
                    help="run only one section (matmul: the ordered matmul rows)")
    args = ap.parse_args()
    global REPS
    REPS = args.reps
    n = args.n
    from fpsem import emu
    B = emu.binary32
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(n) * 10).astype(np.float32)
    y = (rng.standard_normal(n) * 10).astype(np.float32)
    z = rng.standard_normal(n).astype(np.float32)
    ax = np.abs(x)
    xb, yb, zb, axb = (v.view(np.uint32) for v in (x, y, z, ax))
    if args.only == "matmul":
        return matmul_section(rng)
    print(f"fpsem.emu.binary32 benchmarks, n = {n:,} elements, single core\n")
    print(f"{'what':44s} {'time':>9s} {'ns/op':>7s} {'ratio':>7s} {'target':>8s}")

    def row(what, t, ref=None, target=""):
        ratio = f"{t / ref:6.2f}x" if ref else ""
        print(f"{what:44s} {t * 1e3:7.1f}ms {t / n * 1e9:7.2f} {ratio:>7s} {target:>8s}")

    np_t = {}
    for op, f in [("add", lambda: np.add(x, y)), ("mul", lambda: np.multiply(x, y)),
                  ("div", lambda: np.divide(x, y)), ("sqrt", lambda: np.sqrt(ax))]:
        np_t[op] = best(f)
        row(f"numpy float32 {op}", np_t[op])
    for op in ("add", "mul", "div"):
        t = best(lambda: getattr(B, op)(xb, yb))
        row(f"emu rne {op} (fast path, with flags)", t, np_t[op], "<=1.5x")
    t = best(lambda: B.sqrt(axb))
    row("emu rne sqrt (fast path, with flags)", t, np_t["sqrt"], "<=1.5x")
    print()
    modes = ("rne", "rtz", "rup", "rdn", "rna") if not args.quick else ("rup",)
    from fpsem.emu import _kernels as K
    out = np.empty(n, np.uint32)
    fl = np.empty(n, np.uint8)
    print("public API in every mode (binary64 fast lanes, reference for the rest) and the raw")
    print("SoftFloat-style reference kernel alone (k_*), ns/op; target <= 8 ns/op")
    for mode in modes:
        cfg = B.cfg(mode)
        for op in ("add", "mul", "div", "sqrt", "fma"):
            if op == "sqrt":
                f = lambda: B.sqrt(axb, rounding=mode, ftz=True)
                g = lambda: K.k_sqrt(axb, cfg, out, fl)
            elif op == "fma":
                f = lambda: B.fma(xb, yb, zb, rounding=mode, ftz=True)
                g = lambda: K.k_fma(xb, yb, zb, cfg, out, fl)
            else:
                f = lambda: getattr(B, op)(xb, yb, rounding=mode, ftz=True)
                kern = {"add": lambda: K.k_add(xb, yb, cfg, 0, out, fl),
                        "mul": lambda: K.k_mul(xb, yb, cfg, out, fl),
                        "div": lambda: K.k_div(xb, yb, cfg, out, fl)}
                g = kern[op]
            t = best(f, reps=3)
            tk = best(g, reps=3)
            print(f"{'API ' + op + ' ' + mode + ' (ftz)':44s} {t * 1e3:7.1f}ms {t / n * 1e9:7.2f} "
                  f"{'':>7s} {'<=8ns':>8s}   k_{op}: {tk / n * 1e9:6.2f} ns/op")
    print()
    te = best(lambda: np.exp(z))
    row("numpy float32 np.exp", te)
    all_modes = ("rne", "rtz", "rup", "rdn", "rna")
    for fn, arg in (("exp", zb), ("log", axb), ("tanh", zb), ("sin", zb), ("erf", zb)):
        target = "<=5x" if fn in ("exp", "log", "tanh") else ""
        for mode in (all_modes if target else ("rne", "rup")):
            t = best(lambda: getattr(B, fn)(arg, rounding=mode), reps=3)
            row(f"emu correctly rounded {fn} {mode}", t, te, target)
    print()
    matmul_section(rng)


def matmul_section(rng):
    import fpsem
    # ordered matmul, GPT-2 shaped
    m_, k_, n_ = 64, 768, 2304
    a = rng.standard_normal((m_, k_)).astype(np.float32)
    b = rng.standard_normal((k_, n_)).astype(np.float32)
    tb = best(lambda: a @ b)
    D = fpsem.domain("ieee32")
    print(f"matmul {m_}x{k_} @ {k_}x{n_} ({m_ * k_ * n_ / 1e6:.0f}M multiply-adds)")
    print(f"{'numpy float32 BLAS (' + os.environ['OPENBLAS_NUM_THREADS'] + ' thread)':44s} {tb * 1e3:7.1f}ms "
          f"{tb / (m_ * k_ * n_) * 1e9:7.3f}  (ns per multiply-add)")
    for acc in ("sequential", "fma_chain", "pairwise", "blocked(64)", "tree(32)"):
        t = best(lambda: D.dot(a, b, acc=acc), reps=3)
        print(f"{'ieee32 dot ' + acc:44s} {t * 1e3:7.1f}ms {t / (m_ * k_ * n_) * 1e9:7.3f} "
              f"{t / tb:6.2f}x {'<=6x':>8s}")
    Dr = fpsem.domain("ieee32", rounding="rup")
    a2, b2 = a[:8], b
    t = best(lambda: Dr.dot(a2, b2), reps=1)
    print(f"{'ieee32 dot sequential rup (lanes + reference, 8 rows)':44s} {t * 1e3:7.1f}ms "
          f"{t / (8 * k_ * n_) * 1e9:7.2f} ns per mul+add")


if __name__ == "__main__":
    main()
