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

# native fused kernels, registered against the ops they replace (the domain module
# imports nothing from here; pycuda loads only when a cuda domain runs)
import functools as _functools  # noqa: E402
from fpsem.domains import _cuda_fused  # noqa: E402
from ._registry import SQRT_2_OVER_PI as _SQRT_2_OVER_PI, register_fused  # noqa: E402

for _name, _impl in _cuda_fused.KERNELS.items():
    if _name == "gelu_tanh":  # the op's exact constant, so kernel and op round the same number
        _impl = _functools.partial(_impl, sqrt_2_over_pi=_SQRT_2_OVER_PI)
    register_fused(_name, _cuda_fused.CudaDomain, _impl)

# names that shadow builtins are exported under both spellings
globals()["abs"] = abs_
globals()["sum"] = sum_
globals()["max"] = max_
sdpa = scaled_dot_product_attention

__all__ = sorted(OPS) + ["OPS", "op", "causal_mask", "sdpa", "abs_", "sum_", "max_"]
