"""Interval domain tightness and speed on GPT-2 small (12 layers, 768 wide), 64 tokens.

Prints, next to the issue #4 targets:
  * the median and worst relative width (hi - lo) / |mid| of the logits with binary64
    endpoints (target <= 1e-9),
  * wall time of the interval run over the float32-domain run (target <= 20x),
  * the median relative width of the residual stream after every block, which shows
    how the enclosure widens layer by layer (the wrapping effect of interval
    arithmetic: each product with a point weight matrix multiplies relative width
    by about sqrt(fan-in), since widths add in absolute value while values cancel).

Usage:  python bench/bench_interval.py [--tokens 64] [--config small] [--layers N] [--repeat 3]
Random GPT-2 initialisation (seed 0) unless --weights points at a checkpoint.
No timed assertions: this prints numbers.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import fpsem
import fpsem.models as MM
from fpsem.trace import recording


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--config", default="small")
    ap.add_argument("--layers", type=int, default=None, help="override n_layer")
    ap.add_argument("--weights", default=None)
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per domain (median)")
    a = ap.parse_args(argv)
    cfg = a.config if a.layers is None else {**MM.GPT2_CONFIGS[a.config].as_dict(), "n_layer": a.layers}
    model = MM.get_model("gpt2", config=cfg, weights=a.weights)
    ids = model.default_inputs(a.tokens)[0]
    F = fpsem.domain("float32")
    D = fpsem.domain("interval")
    c = model.config
    print(f"GPT-2 {c.preset}: n_layer={c.n_layer} n_embd={c.n_embd} vocab={c.vocab_size}, {ids.size} tokens")

    # warm up both domains on a 4-token prefix (numba kernels loaded or compiled,
    # BLAS threads started); the timed runs below still convert every parameter
    model.forward(F, ids[:4])
    model.forward(D, ids[:4])
    def timed(Dom):
        t0 = time.perf_counter()
        out = model.forward(Dom, ids)
        return out, time.perf_counter() - t0

    widths = {}

    def rec(name, Dom, x):
        if Dom is D and (name.endswith("resid_mlp") or name in ("embed", "ln_f")):
            widths[name] = float(np.median(D.rel_width(x)))

    # interleaved repeats, median of each (a 2 GB working set makes single runs noisy)
    tf, ti = [], []
    for _ in range(a.repeat):
        lf, t = timed(F)
        tf.append(t)
        li, t = timed(D)
        ti.append(t)
    t_f32, t_iv = float(np.median(tf)), float(np.median(ti))
    with recording(rec):
        model.forward(D, ids)

    rw = D.rel_width(li)
    lo, hi = D.to_float64(li)
    finite = np.isfinite(lo) & np.isfinite(hi)
    inside = float(np.mean((lo <= lf) & (lf <= hi)))
    print("\nresidual stream, median relative width after each block:")
    for k, v in widths.items():
        print(f"  {k:>16s}  {v:.3e}")
    print("\nlogits (binary64 endpoints):")
    print(f"  median relative width   {np.median(rw):.3e}   target <= 1e-9")
    print(f"  worst relative width    {np.max(rw):.3e}   target <= 1e-9")
    print(f"  bounded entries         {finite.mean():.1%}")
    print(f"  float32 logits inside   {inside:.1%}")
    print("\ntime:")
    print(f"  float32 domain   {t_f32:8.2f} s   (median of {a.repeat}; runs {', '.join(f'{t:.2f}' for t in tf)})")
    print(f"  interval domain  {t_iv:8.2f} s   ratio {t_iv / t_f32:.1f}x   target <= 20x"
          f"   (runs {', '.join(f'{t:.2f}' for t in ti)})")


if __name__ == "__main__":
    main()
