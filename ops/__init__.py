"""fpsem.ops: every operator, written once against a number domain.

Each op is `f(D, *args, **kw)`: the domain first (mpmath's pattern), only domain
primitives inside, no branching on values, constants from exact strings. Its
docstring says what it computes and where it rounds. `OPS` maps names to ops.
"""
from ._registry import OPS, op
from .elementwise import (abs_, add, div, fma, gelu_erf, gelu_tanh, mul, neg, relu, sigmoid,
                          silu, softplus, sqrt, square, sub, tanh)
from .reductions import logsumexp, max_, mean, sum_, var
from .linalg import (avg_pool2d, conv1d, conv2d, global_avg_pool, global_max_pool, linear,
                     matmul, max_pool2d)
from .nn import (batch_norm, embedding, layer_norm, log_softmax, rms_norm, rope,
                 sinusoidal_positions, softmax)
from .attention import (causal_mask, decode_attention, flash_attention, kv_cache_append,
                        multi_head_attention, scaled_dot_product_attention)
from .recurrent import gru_cell, lstm_cell, rnn, rnn_cell, selective_scan
from .spectral import spectral_conv1d
from .power import pow_general, power

# names that shadow builtins are exported under both spellings
globals()["abs"] = abs_
globals()["sum"] = sum_
globals()["max"] = max_
sdpa = scaled_dot_product_attention

__all__ = sorted(OPS) + ["OPS", "op", "causal_mask", "sdpa", "abs_", "sum_", "max_"]
