"""GPT-2 small (random weights), one forward pass over 64 tokens: wall time per
domain and the ratio ieee32 / float32, and each run's peak memory.

Targets (issue #6): ieee32 within 10x of the float32 domain's wall time (same
run, same machine); peak memory under 4 GB. Prints figures; asserts nothing.

    /work/venv/bin/python bench/bench_gpt2.py [--config small] [--tokens 64]
        [--domains float32,float32:acc=sequential,ieee32] [--repeat 2]

Each domain runs in a fresh subprocess so its peak resident memory
(getrusage ru_maxrss: parameters, activations and everything else) is its own;
the first forward pass (numba compilation, parameter conversion) is timed
separately from the best of --repeat further passes.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time


def one(spec, config, tokens, repeat):
    import numpy as np

    import fpsem
    from fpsem.models import get_model
    name, _, opt = spec.partition(":")
    opts = dict(kv.split("=", 1) for kv in opt.split(",") if kv) if opt else {}
    ok, why = fpsem.availability(name)
    if not ok:
        return {"domain": spec, "available": False, "why": why}
    D = fpsem.domain(name, **opts)
    t0 = time.perf_counter()
    m = get_model("gpt2", config=config, seed=0)
    t_init = time.perf_counter() - t0
    ids = m.default_inputs(tokens)[0]
    times = []
    with m.hold(D):
        for _ in range(repeat + 1):
            t0 = time.perf_counter()
            out = m.forward(D, ids)
            times.append(time.perf_counter() - t0)
    top = int(np.argmax(np.asarray(D.to_float64(D.getitem(out, -1)))))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    return {"domain": D.label, "available": True, "first_s": times[0], "best_s": min(times[1:] or times),
            "init_s": t_init, "peak_rss_bytes": rss, "top1": top}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="small")
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--domains", default="float32,float32:acc=sequential,ieee32")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        print(json.dumps(one(a.one, a.config, a.tokens, a.repeat)))
        return
    print(f"GPT-2 {a.config}, random weights, {a.tokens} tokens, one forward pass "
          f"(best of {a.repeat} after a first pass), {os.cpu_count()} CPUs")
    res = []
    for spec in a.domains.split(","):
        p = subprocess.run([sys.executable, __file__, "--one", spec, "--config", a.config,
                            "--tokens", str(a.tokens), "--repeat", str(a.repeat)],
                           capture_output=True, text=True)
        if p.returncode != 0:
            print(f"{spec:28s} FAILED: {p.stderr.strip().splitlines()[-1] if p.stderr.strip() else p.returncode}")
            continue
        r = json.loads(p.stdout.strip().splitlines()[-1])
        res.append(r)
        if not r["available"]:
            print(f"{spec:28s} unavailable: {r['why']}")
            continue
        gb = r["peak_rss_bytes"] / 2 ** 30
        print(f"{r['domain']:28s} first {r['first_s']:8.3f} s  best {r['best_s']:8.3f} s  "
              f"peak RSS {gb:5.2f} GB (target < 4 GB: {'ok' if gb < 4 else 'OVER'})  top-1 {r['top1']}")
    base = next((r for r in res if r.get("available") and r["domain"] == "float32"), None)
    if base:
        for r in res:
            if r.get("available") and r is not base:
                ratio = r["best_s"] / base["best_s"]
                target = " (target <= 10x)" if r["domain"].startswith("ieee32") else ""
                verdict = (" ok" if ratio <= 10 else " OVER") if target else ""
                print(f"ratio {r['domain']} / float32 = {ratio:6.2f}x{target}{verdict}")


if __name__ == "__main__":
    main()
