"""Parity with the reference implementation: Hugging Face transformers' own
GPT2LMHeadModel (PyTorch), on a checkpoint that transformers itself writes.

Every parameter is randomised (biases and layer-norm parameters included) and
rounded to float32, so both sides start from the same exact values. Skipped
where torch/transformers are not installed (they are not fpsem dependencies);
it runs on the device machine, which has both.

Tolerances: in float64 both sides compute the same real function with
different summation orders and gelu/softmax evaluations; each logit is a chain
of about 10 n_layer dot products of length <= 4 n_embd, so the difference is
bounded by a few gamma_{4 n_embd} (binary64) times the magnitudes involved,
about 1e-12 relative to the logits' scale here; 1e-10 leaves a 100x margin
while still catching any semantic slip (a wrong layout, eps, scale or gelu form
changes logits at 1e-3 or more). In float32 the same argument with binary32's
u = 6e-8 gives about 1e-4 relative to the logits' scale.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import fpsem  # noqa: E402
from fpsem.models import get_model  # noqa: E402


def _checkpoint(tmp_path, n_layer=2, n_embd=64, n_head=4, vocab=1000, n_positions=64, seed=0):
    torch.manual_seed(seed)
    cfg = transformers.GPT2Config(vocab_size=vocab, n_positions=n_positions, n_embd=n_embd,
                                  n_layer=n_layer, n_head=n_head)
    model = transformers.GPT2LMHeadModel(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            # randomise everything (HF's init leaves biases 0 and LN weights 1)
            p.copy_((torch.randn_like(p) * (0.1 if "ln" in name else 0.05)
                     + (1.0 if name.endswith("ln_1.weight") or name.endswith("ln_2.weight")
                        or name.endswith("ln_f.weight") else 0.0)).float())
    path = tmp_path / "ckpt"
    model.save_pretrained(path, safe_serialization=True)
    return model, path


@pytest.mark.parametrize("prefix", [True, False])
def test_hf_gpt2_logits_parity(tmp_path, prefix):
    hf, path = _checkpoint(tmp_path)
    if not prefix:  # the loader must accept checkpoints with and without `transformer.`
        from safetensors.numpy import load_file, save_file
        f = path / "model.safetensors"
        t = load_file(str(f))
        save_file({k.removeprefix("transformer."): v for k, v in t.items()}, str(f))
    ids = np.random.default_rng(1).integers(0, 1000, 24)
    m = get_model("gpt2", weights=str(path))
    with torch.no_grad():
        ref64 = hf.double()(torch.tensor(ids)[None]).logits[0].numpy()
        ref32 = hf.float()(torch.tensor(ids)[None]).logits[0].numpy().astype(np.float64)
    scale = np.abs(ref64).max()
    D64 = fpsem.domain("float64")
    got64 = D64.to_float64(m.forward(D64, ids))
    assert np.abs(got64 - ref64).max() <= 1e-10 * scale
    for name in ("float32", "ieee32"):
        D = fpsem.domain(name)
        got = D.to_float64(m.forward(D, ids))
        assert np.abs(got - ref64).max() <= 1e-4 * scale, name
        assert np.abs(got - ref32).max() <= 2e-4 * scale, name
        assert (got.argmax(-1) == ref64.argmax(-1)).mean() > 0.9
