"""The ball reference on GPT-2: bits used, reference radius / observed error per
block, and the time of each run against the float32 forward of the same run.

    python bench/bench_ball.py                     # GPT-2 small, 64 tokens (issue target: <= 30 s)
    python bench/bench_ball.py --one-thread        # and against the one-thread envelope
    python bench/bench_ball.py --config tiny --tokens 8

Ratios only; nothing is asserted."""
import argparse
import resource
import time

import numpy as np

import fpsem
from fpsem.models import get_model
from fpsem.models.gpt2 import builtin_ids
from fpsem.models.tokenizer import ByteTokenizer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="small")
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--domains", default="ieee32,float32,bf16")
    ap.add_argument("--one-thread", action="store_true",
                    help="also run the envelope with the reference on the caller's thread "
                         "(bridges.envelope.CONCURRENT off) and print the ratio")
    a = ap.parse_args()
    m = get_model("gpt2", config=a.config)
    ids = builtin_ids(ByteTokenizer(), a.tokens, m.config)
    F = fpsem.domain("float32")
    t = time.perf_counter()
    m.forward(F, ids)
    t_f32 = time.perf_counter() - t
    t = time.perf_counter()
    env = fpsem.envelope(m, (ids,), domain=a.domains.split(","), compare=[])
    wall = time.perf_counter() - t
    print(f"gpt2/{a.config}, {a.tokens} tokens: reference {env.reference} ({env.reference_bits} bits)")
    for k, v in env.timings.items():
        print(f"  {k:28s} {v:8.2f} s  ({v / t_f32:8.1f}x float32 forward {t_f32:.3f} s)")
    print(f"  whole envelope {wall:.2f} s ({wall / t_f32:.1f}x float32); peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20:.2f} GB")
    if a.one_thread:
        import importlib
        E = importlib.import_module("fpsem.bridges.envelope")
        E.CONCURRENT = False
        t = time.perf_counter()
        fpsem.envelope(m, (ids,), domain=a.domains.split(","), compare=[])
        serial = time.perf_counter() - t
        E.CONCURRENT = True
        print(f"  the same, reference on the caller's thread: {serial:.2f} s "
              f"(concurrent run {serial / wall:.2f}x faster)")
    blocks = {}
    for s in env.stats():
        b = s.name.split(".")[0] + ("." + s.name.split(".")[1] if s.name.startswith("h.") else "")
        r = blocks.setdefault(b, [0.0, 0.0, 1.0, 0.0])
        if s.max_abs:
            r[0] = max(r[0], (s.ref_radius or 0.0) / s.max_abs)
        r[1] = max(r[1], s.max_abs or 0.0)
        r[2] = max(r[2], s.tightness or 1.0)
        r[3] = max(r[3], s.apriori_ratio or 0.0)
    print(f"  {'block':10s} {'radius/observed':>16s} {'max |err|':>10s} {'bound/observed':>15s} "
          f"{'obs/a-priori':>13s}")
    for b, (rr, e, tt, ar) in blocks.items():
        print(f"  {b:10s} {rr:16.2e} {e:10.3g} {tt - 1:14.2e}+1 {ar:13.3g}")
    for n in env.notes:
        print("  note:", n)
    print("  decision:", env.summary().splitlines()[-1])


if __name__ == "__main__":
    main()
