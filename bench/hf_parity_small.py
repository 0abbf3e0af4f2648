"""GPT-2 small (124M) from a checkpoint written by Hugging Face transformers:
fpsem's float64 / float32 / ieee32 logits against transformers' own forward.

Needs torch and transformers (the device machine has them). Random weights
(HF's init, every parameter then perturbed), 64 tokens. Prints relative
differences; asserts nothing.
    python bench/hf_parity_small.py [--tokens 64]
"""
import argparse
import tempfile
import time

import numpy as np
import torch
import transformers

import fpsem
from fpsem.models import get_model

ap = argparse.ArgumentParser()
ap.add_argument("--tokens", type=int, default=64)
a = ap.parse_args()
torch.manual_seed(0)
hf = transformers.GPT2LMHeadModel(transformers.GPT2Config()).eval()
with torch.no_grad():
    for n, p in hf.named_parameters():
        if p.dim() == 1:
            p.add_(torch.randn_like(p) * 0.02)
d = tempfile.mkdtemp()
hf.save_pretrained(d, safe_serialization=True)
ids = np.random.default_rng(0).integers(0, 50257, a.tokens)
with torch.no_grad():
    ref64 = hf.double()(torch.tensor(ids)[None]).logits[0].numpy()
    ref32 = hf.float()(torch.tensor(ids)[None]).logits[0].numpy().astype(np.float64)
m = get_model("gpt2", weights=d)
scale = np.abs(ref64).max()
print(f"GPT-2 small from a transformers checkpoint, {a.tokens} tokens, max|logit| {scale:.3g}")
print(f"  torch float32 vs torch float64: rel {np.abs(ref32 - ref64).max() / scale:.2e}")
for name in ("float64", "float32", "ieee32"):
    D = fpsem.domain(name)
    t = time.perf_counter()
    got = D.to_float64(m.forward(D, ids))
    dt = time.perf_counter() - t
    print(f"  fpsem {name:8s} vs torch float64: rel {np.abs(got - ref64).max() / scale:.2e}; "
          f"vs torch float32: rel {np.abs(got - ref32).max() / scale:.2e}; "
          f"argmax agree {(got.argmax(-1) == ref64.argmax(-1)).mean():.3f}; {dt:.2f}s")
