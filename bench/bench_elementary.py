"""Quick timing of the correctly rounded elementary functions of fpsem.emu (binary32),
every rounding mode, against numpy float32 np.exp measured in the same run.

    python bench/bench_elementary.py [--n 10000000] [--fns exp,log,tanh] [--modes rne,rup]

One core (NUMBA_NUM_THREADS=1, OPENBLAS_NUM_THREADS=1 unless set). Minimum of --reps.
"""
from __future__ import annotations

import argparse
import os
import time

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402


CLOCK = time.perf_counter


def best(fn, reps):
    """Minimum of `reps` timed runs after a warm-up (other jobs only ever add time)."""
    fn()
    ts = []
    for _ in range(reps):
        t = CLOCK()
        fn()
        ts.append(CLOCK() - t)
    return float(np.min(ts))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--fns", default="exp,log,tanh,sin,erf")
    ap.add_argument("--modes", default="rne,rtz,rup,rdn,rna")
    ap.add_argument("--cpu", action="store_true",
                    help="time.process_time instead of wall time (less noisy on a shared machine)")
    args = ap.parse_args()
    if args.cpu:
        global CLOCK
        CLOCK = time.process_time
    from fpsem import emu
    B = emu.binary32
    n = args.n
    rng = np.random.default_rng(0)
    z = rng.standard_normal(n).astype(np.float32)
    az = np.abs(z)
    args_ = {"log": az.view(np.uint32)}
    tes = [best(lambda: np.exp(z), args.reps)]
    res = {}
    for fn in args.fns.split(","):
        a = args_.get(fn, z.view(np.uint32))
        for mode in args.modes.split(","):
            res[fn, mode] = best(lambda: getattr(B, fn)(a, rounding=mode), args.reps)
            print(f"  {fn} {mode}: {res[fn, mode] / n * 1e9:6.2f} ns/op", flush=True)
        tes.append(best(lambda: np.exp(z), args.reps))  # interleaved: noise only adds time
    te = min(tes)
    print(f"n = {n:,}; numpy float32 np.exp {te / n * 1e9:.2f} ns/op (min of {len(tes)} interleaved)")
    for fn in args.fns.split(","):
        print(f"{fn:6s} " + "  ".join(f"{m} {res[fn, m] / te:5.2f}x" for m in args.modes.split(",")))


if __name__ == "__main__":
    main()
