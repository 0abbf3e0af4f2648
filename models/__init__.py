"""fpsem.models: GPT-2 and a zoo of small models, each written once with fpsem.ops.

    >>> import fpsem, fpsem.models as M
    >>> m = M.get_model("gpt2")                  # tiny config, seeded random weights
    >>> logits = m.forward(fpsem.domain("float32"), *m.default_inputs())

Every model has `.name`, `.config` (a dataclass), `.params` (name -> float32 array,
the exact values every domain starts from), `.n_params`, `.default_inputs()`,
`.forward(D, *inputs)`, `.is_rational` and `.decision_axis`.
"""
from __future__ import annotations

import numpy as np

from fpsem.errors import FpsemError

from .base import Model
from .bert import Bert, BertConfig
from .gpt2 import CONFIGS as GPT2_CONFIGS
from .gpt2 import GPT2, GPT2Config
from .zoo import ZOO_MODELS

#: model name -> model class
ZOO = {"gpt2": GPT2, "bert": Bert, **ZOO_MODELS}


def _bestiary():
    from .bestiary.execute import model_classes
    return model_classes()


#: bestiary fixtures: the tiny derivation of every runnable catalogue entry, by its
#: bestiary name lower-cased with dashes ("resnet-18", "vit-b-16"); see bestiary/execute.py
BESTIARY = _bestiary()


def get_model(name, config=None, weights=None, seed=0):
    """A model by name: `config` a preset name, dict of overrides or config
    dataclass; `weights` a checkpoint path (gpt2 only); `seed` for random weights."""
    if isinstance(name, Model):
        return name
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise FpsemError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(name, str) and name.lower().endswith(".onnx"):
        # an ONNX file; config: None, "body"/"op" or {"semantics": ...} (onnx_import.py)
        from .onnx_import import load_onnx
        if weights is not None:
            raise FpsemError("--weights is for gpt2 and bert; an ONNX file carries its own weights")
        sem = config.get("semantics", "body") if isinstance(config, dict) else (config or "body")
        return load_onnx(name, semantics=sem)
    if name not in ZOO and name in BESTIARY:
        if weights is not None:
            raise FpsemError(f"model {name!r} has no checkpoint loader; --weights is for gpt2 and bert")
        return BESTIARY[name](config=config, seed=seed)
    if name not in ZOO:
        raise FpsemError(f"unknown model {name!r}; known: {', '.join(ZOO)}; "
                         f"bestiary fixtures: {', '.join(BESTIARY)}")
    if weights is not None:
        if name == "bert":
            from .bert import load_bert
            return load_bert(weights, config)
        if name != "gpt2":
            raise FpsemError(f"model {name!r} has no checkpoint loader; --weights is for gpt2 and bert")
        from .weights import load_gpt2
        return load_gpt2(weights, config)
    return ZOO[name](config=config, seed=seed)


__all__ = ["ZOO", "BESTIARY", "get_model", "Model", "GPT2", "GPT2Config", "GPT2_CONFIGS", "Bert", "BertConfig"]
