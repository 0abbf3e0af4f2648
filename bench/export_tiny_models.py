"""Export tiny random-initialised GPT-2, BERT, ViT and ResNet to ONNX (torch + transformers).

    python bench/export_tiny_models.py OUTDIR

Needs torch and transformers (not fpsem dependencies; run it where they are installed).
Writes OUTDIR/{gpt2,bert,vit,resnet}_{legacy,dynamo}.onnx with an inputs .npz and
torch's own output (.npy) each, whichever exporters work there, and prints one line
per export. (tests/data/onnx holds three of these, made on the device machine with
torch 2.11 and transformers 5.17 by an equivalent one-file script.) The files are
consumed by bench/onnx_models_parity.py and tests/test_onnx_exports.py.
"""
import os
import sys
import traceback

import numpy as np


def models():
    import torch
    import transformers as tf
    torch.manual_seed(0)
    out = {}
    cfg = tf.GPT2Config(vocab_size=64, n_positions=32, n_embd=32, n_layer=2, n_head=2)
    out["gpt2"] = (tf.GPT2LMHeadModel(cfg).eval(), {"input_ids": torch.randint(0, 64, (1, 8))}, ["logits"])
    cfg = tf.BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=32)
    out["bert"] = (tf.BertModel(cfg).eval(), {"input_ids": torch.randint(0, 64, (1, 8)),
                                                "attention_mask": torch.ones(1, 8, dtype=torch.int64)},
                   ["last_hidden_state"])
    cfg = tf.ViTConfig(image_size=16, patch_size=4, num_channels=3, hidden_size=32, num_hidden_layers=2,
                       num_attention_heads=2, intermediate_size=64)
    out["vit"] = (tf.ViTModel(cfg, add_pooling_layer=False).eval(), {"pixel_values": torch.randn(1, 3, 16, 16)},
                  ["last_hidden_state"])
    cfg = tf.ResNetConfig(num_channels=3, embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1],
                          layer_type="basic")
    out["resnet"] = (tf.ResNetModel(cfg).eval(), {"pixel_values": torch.randn(1, 3, 32, 32)},
                     ["last_hidden_state"])
    return out


def main(outdir):
    import torch
    os.makedirs(outdir, exist_ok=True)
    print("torch", torch.__version__, flush=True)
    for name, (model, inputs, outs) in models().items():
        names = list(inputs)

        class W(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, *args):
                r = self.m(**dict(zip(names, args)))
                return r[outs[0]] if isinstance(r, dict) else getattr(r, outs[0])

        w = W(model).eval()
        args = tuple(inputs[n] for n in names)
        np.savez(os.path.join(outdir, f"{name}_inputs.npz"), **{n: a.numpy() for n, a in inputs.items()})
        with torch.no_grad():  # torch's own output, for comparison
            np.save(os.path.join(outdir, f"{name}_torch_out.npy"), w(*args).numpy())
        for exporter in ("legacy", "dynamo"):
            path = os.path.join(outdir, f"{name}_{exporter}.onnx")
            try:
                kw = {"dynamo": True, "opset_version": 20, "external_data": False} if exporter == "dynamo" \
                    else {"dynamo": False, "opset_version": 18}
                with torch.no_grad():
                    torch.onnx.export(w, args, path, input_names=names, output_names=outs, **kw)
                print(f"ok {name} {exporter} {os.path.getsize(path)} bytes", flush=True)
            except Exception as e:  # noqa: BLE001 - report and go on
                print(f"FAILED {name} {exporter}: {type(e).__name__}: {str(e)[:300]}", flush=True)
                traceback.print_exc(limit=2)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "exports")
