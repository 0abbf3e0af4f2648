"""Running error bounds on GPT-2: the plain forward of each float domain and the
forward under `Running(D)` driven as the envelope drives it (at every tapped
node: the node's local statistics, then a rebase), against the float32 forward
measured in the same run.

    python bench/bench_running.py                         # GPT-2 small, 64 tokens
    python bench/bench_running.py --config tiny --tokens 8
    python bench/bench_running.py --domains float32 --profile 25   # cProfile of the Running run
    python bench/bench_running.py --digests d.json        # hashes of every node's bounds (bit-for-bit checks)

On a shared machine, OPENBLAS_NUM_THREADS=1 gives steadier comparisons (two BLAS
threads slow down many times when the other core is busy). Digests compare
equal only between runs with the same BLAS and thread count: BLAS's float64
sums are the shadow's and the bounds'. Ratios only; nothing is asserted."""
import argparse
import cProfile
import hashlib
import json
import pstats
import time

import numpy as np

import fpsem
from fpsem.bridges.envelope import _running_apriori
from fpsem.bridges.record import resolve_model, record
from fpsem.bridges.running import Running
from fpsem.models import get_model
from fpsem.models.gpt2 import builtin_ids
from fpsem.models.tokenizer import ByteTokenizer
from fpsem.value import raw


def _digest(rv, RD):
    """sha256 of the bits of a running value's four parts (f, e, s, es) as float64."""
    h = hashlib.sha256()
    for v in (RD.tD.f64(rv.f), rv.e, rv.s, rv.es):
        v = np.ascontiguousarray(np.asarray(v, dtype=np.float64))
        h.update(repr(v.shape).encode())
        h.update(v.tobytes())
    return h.hexdigest()[:16]


def running_forward(spec, D, digests=None):
    """The envelope's loop (envelope._run_once) without the reference comparison:
    returns (seconds, node count, largest finite local bound). digests: a dict to
    fill with a hash of every node's (f, e, s, es), to compare two builds bit for bit."""
    RD = Running(D)
    worst = [0.0, 0]

    def on_node(name, x):
        rv = raw(x)
        if digests is not None:
            digests[name] = _digest(rv, RD)
        ap = _running_apriori(RD, rv)
        RD.rebase(rv)
        worst[1] += 1
        if ap is not None:
            worst[0] = max(worst[0], ap.bound)

    _, _, t = record(spec, RD, on_node)
    return t, worst[1], worst[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="small")
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--domains", default="float32,ieee32,bf16,fp16")
    ap.add_argument("--profile", type=int, default=0, help="cProfile the Running runs, print N top entries")
    ap.add_argument("--repeat", type=int, default=1, help="best of N for every timing")
    ap.add_argument("--digests", help="write per-node hashes of (f, e, s, es) to this JSON file (untimed run)")
    a = ap.parse_args()
    m = get_model("gpt2", config=a.config)
    ids = builtin_ids(ByteTokenizer(), a.tokens, m.config)
    spec = resolve_model(m, (ids,))

    def best(fn):
        ts = []
        for _ in range(a.repeat):
            r = fn()
            ts.append(r[0] if isinstance(r, tuple) else r)
        return min(ts), r

    def plain(D):
        t = time.perf_counter()
        m.forward(D, ids)
        return time.perf_counter() - t

    F = fpsem.domain("float32")
    plain(F)                                    # warm up: weights, numba kernels
    t_f32, _ = best(lambda: plain(F))
    print(f"gpt2/{a.config}, {a.tokens} tokens: float32 forward {t_f32:.3f} s")
    print(f"  {'domain':10s} {'forward':>9s} {'x f32':>7s} {'running':>9s} {'x f32':>7s}  nodes  max bound")
    all_dig = {}
    for name in a.domains.split(","):
        D = fpsem.domain(name)
        plain(D)
        t_p, _ = best(lambda: plain(D))
        running_forward(spec, D)                # warm up (numba compiles, caches)
        if a.profile:
            pr = cProfile.Profile()
            pr.enable()
        t_r, (_, n, wb) = best(lambda: running_forward(spec, D))
        if a.profile:
            pr.disable()
        print(f"  {name:10s} {t_p:8.3f}s {t_p / t_f32:7.1f} {t_r:8.3f}s {t_r / t_f32:7.1f}  {n:5d}  {wb:.3e}",
              flush=True)
        if a.digests:
            dig = {}
            running_forward(spec, D, dig)
            all_dig[name] = dig
        if a.profile:
            pstats.Stats(pr).sort_stats("tottime").print_stats(a.profile)
    if a.digests:
        with open(a.digests, "w") as fh:
            json.dump(all_dig, fh, indent=0, sort_keys=True)


if __name__ == "__main__":
    main()
