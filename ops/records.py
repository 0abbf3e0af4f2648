"""Op records (the JAX `op_record` pattern): one entry per op with a builder of
sample inputs, used by the tests, `fpsem ops` and the audit.

`make(rng)` returns (args, kwargs) where array arguments are numpy arrays of
small dyadic rationals (exactly representable in every binary format from
bfloat16 up, so the inputs mean the same in every domain) and the caller turns
them into domain values with D.asarray. `rational` says whether the op stays in
the rationals (so `exact` can run it).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import OPS


def dy(rng, shape, scale=4, den=16):
    """Dyadic rationals k/den with |k| <= scale*den: exact in bfloat16 and up."""
    return rng.integers(-scale * den, scale * den + 1, size=shape).astype(np.float64) / den


def pos(rng, shape, den=16):
    return rng.integers(1, 4 * den, size=shape).astype(np.float64) / den


@dataclass
class OpRecord:
    name: str
    make: Callable
    rational: bool = True
    # which positional args are arrays (converted with D.asarray); others passed as is
    arrays: tuple = ()
    note: str = ""
    kw_arrays: tuple = field(default_factory=tuple)
    #: custom builder f(D, rng) -> (args, kwargs) for arguments that are not plain arrays
    builder: Callable | None = None

    @property
    def fn(self):
        return OPS[self.name]

    def build(self, D, rng):
        if self.builder is not None:
            return self.builder(D, rng)
        args, kwargs = self.make(rng)
        args = [D.asarray(a) if i in self.arrays else a for i, a in enumerate(args)]
        kwargs = {k: (D.asarray(v) if k in self.kw_arrays else v) for k, v in kwargs.items()}
        return args, kwargs

    def run(self, D, rng):
        args, kwargs = self.build(D, rng)
        return self.fn(D, *args, **kwargs)


def _r(name, make, rational=True, arrays=(0,), kw_arrays=(), note="", builder=None):
    return OpRecord(name, make, rational, tuple(arrays), note, tuple(kw_arrays), builder)


def _build_decode(D, rng):
    # the KV cache argument is a (k, v) tuple of domain values
    q, k, v = dy(rng, (2, 1, 4), 1), dy(rng, (2, 5, 4), 1), dy(rng, (2, 5, 3))
    return [D.asarray(q), (D.asarray(k), D.asarray(v))], {}


def _attn(rng, T=5, d=4):
    return [dy(rng, (2, T, d), 1), dy(rng, (2, T, d), 1), dy(rng, (2, T, 3))], {}


RECORDS = [
    _r("add", lambda r: ([dy(r, (3, 4)), dy(r, (4,))], {}), arrays=(0, 1)),
    _r("sub", lambda r: ([dy(r, (3, 4)), dy(r, (3, 4))], {}), arrays=(0, 1)),
    _r("mul", lambda r: ([dy(r, (3, 4)), dy(r, (3, 4))], {}), arrays=(0, 1)),
    _r("div", lambda r: ([dy(r, (3, 4)), pos(r, (3, 4))], {}), arrays=(0, 1)),
    _r("neg", lambda r: ([dy(r, (5,))], {})),
    _r("abs", lambda r: ([dy(r, (5,))], {})),
    _r("sqrt", lambda r: ([pos(r, (6,))], {}), rational=False),
    _r("square", lambda r: ([dy(r, (5,))], {})),
    _r("fma", lambda r: ([dy(r, (5,)), dy(r, (5,)), dy(r, (5,))], {}), arrays=(0, 1, 2)),
    _r("relu", lambda r: ([dy(r, (2, 5))], {})),
    _r("gelu_tanh", lambda r: ([dy(r, (2, 5))], {}), rational=False),
    _r("gelu_erf", lambda r: ([dy(r, (2, 5))], {}), rational=False),
    _r("sigmoid", lambda r: ([dy(r, (2, 5))], {}), rational=False),
    _r("silu", lambda r: ([dy(r, (2, 5))], {}), rational=False),
    _r("tanh", lambda r: ([dy(r, (2, 5))], {}), rational=False),
    _r("softplus", lambda r: ([dy(r, (2, 5))], {}), rational=False),
    _r("power", lambda r: ([pos(r, (2, 5)), 3], {})),
    _r("pow_general", lambda r: ([pos(r, (2, 5)), dy(r, (2, 5))], {}), rational=False, arrays=(0, 1)),
    _r("sum", lambda r: ([dy(r, (3, 7))], {"axis": -1})),
    _r("mean", lambda r: ([dy(r, (3, 7))], {"axis": 0})),
    _r("max", lambda r: ([dy(r, (3, 7))], {"axis": 1})),
    _r("var", lambda r: ([dy(r, (3, 7))], {})),
    _r("logsumexp", lambda r: ([dy(r, (3, 7))], {}), rational=False),
    _r("matmul", lambda r: ([dy(r, (2, 3, 8)), dy(r, (8, 4))], {}), arrays=(0, 1)),
    _r("linear", lambda r: ([dy(r, (3, 8)), dy(r, (8, 4)), dy(r, (4,))], {}), arrays=(0, 1, 2)),
    _r("conv1d", lambda r: ([dy(r, (1, 4, 9)), dy(r, (6, 2, 3)), dy(r, (6,))],
                            {"stride": 2, "padding": 1, "groups": 2}), arrays=(0, 1, 2)),
    _r("conv2d", lambda r: ([dy(r, (1, 2, 6, 6)), dy(r, (3, 2, 3, 3)), dy(r, (3,))],
                            {"stride": 1, "padding": 1, "dilation": 1}), arrays=(0, 1, 2)),
    _r("max_pool2d", lambda r: ([dy(r, (1, 2, 6, 6)), 3], {"stride": 2, "padding": 1})),
    _r("avg_pool2d", lambda r: ([dy(r, (1, 2, 6, 6)), 2], {})),
    _r("global_avg_pool", lambda r: ([dy(r, (2, 3, 4, 4))], {})),
    _r("global_max_pool", lambda r: ([dy(r, (2, 3, 4, 4))], {})),
    _r("softmax", lambda r: ([dy(r, (3, 6))], {}), rational=False),
    _r("log_softmax", lambda r: ([dy(r, (3, 6))], {}), rational=False),
    _r("layer_norm", lambda r: ([dy(r, (3, 8)), dy(r, (8,)), dy(r, (8,))], {}),
       rational=False, arrays=(0, 1, 2)),
    _r("rms_norm", lambda r: ([dy(r, (3, 8)), dy(r, (8,))], {}), rational=False, arrays=(0, 1)),
    _r("batch_norm", lambda r: ([dy(r, (2, 3, 4)), dy(r, (3,)), pos(r, (3,)), dy(r, (3,)), dy(r, (3,))], {}),
       rational=False, arrays=(0, 1, 2, 3, 4)),
    _r("embedding", lambda r: ([dy(r, (10, 4)), np.array([3, 0, 9, 3])], {})),
    _r("sinusoidal_positions", lambda r: ([np.arange(4), 6], {}), rational=False, arrays=()),
    _r("rope", lambda r: ([dy(r, (2, 4, 6)), np.arange(4)], {}), rational=False),
    _r("scaled_dot_product_attention", _attn, rational=False, arrays=(0, 1, 2)),
    _r("flash_attention", lambda r: (_attn(r, T=7)[0], {"block": 3}), rational=False, arrays=(0, 1, 2)),
    _r("kv_cache_append", lambda r: ([None, dy(r, (2, 3, 4)), dy(r, (2, 3, 4))], {}), arrays=(1, 2)),
    _r("decode_attention", None, rational=False, builder=lambda D, r: _build_decode(D, r)),
    _r("multi_head_attention", lambda r: ([dy(r, (4, 8), 1), dy(r, (8, 24), 1), dy(r, (24,), 1),
                                           dy(r, (8, 8), 1), dy(r, (8,), 1), 2], {}),
       rational=False, arrays=(0, 1, 2, 3, 4)),
    _r("selective_scan", lambda r: ([dy(r, (4, 3), 1), pos(r, (4, 3)) / 4, -pos(r, (3, 2)),
                                     dy(r, (4, 2), 1), dy(r, (4, 2), 1), dy(r, (3,))], {}),
       rational=False, arrays=(0, 1, 2, 3, 4, 5)),
    _r("rnn_cell", lambda r: ([dy(r, (1, 3), 1), dy(r, (1, 4), 1), dy(r, (3, 4), 1), dy(r, (4, 4), 1),
                               dy(r, (4,)), dy(r, (4,))], {}), rational=False, arrays=(0, 1, 2, 3, 4, 5)),
    _r("lstm_cell", lambda r: ([dy(r, (1, 3), 1), dy(r, (1, 4), 1), dy(r, (1, 4), 1), dy(r, (3, 16), 1),
                                dy(r, (4, 16), 1), dy(r, (16,)), dy(r, (16,))], {}),
       rational=False, arrays=(0, 1, 2, 3, 4, 5, 6)),
    _r("gru_cell", lambda r: ([dy(r, (1, 3), 1), dy(r, (1, 4), 1), dy(r, (3, 12), 1), dy(r, (4, 12), 1),
                               dy(r, (12,)), dy(r, (12,))], {}), rational=False, arrays=(0, 1, 2, 3, 4, 5)),
    _r("spectral_conv1d", lambda r: ([dy(r, (1, 2, 8), 1), dy(r, (2, 3, 3), 1), dy(r, (2, 3, 3), 1), 3], {}),
       rational=False, arrays=(0, 1, 2)),
]


def _rnn_make(r):
    from .recurrent import rnn_cell
    return [dy(r, (3, 2), 1), dy(r, (1, 4), 1), rnn_cell, dy(r, (2, 4), 1), dy(r, (4, 4), 1)], {}


RECORDS.append(OpRecord("rnn", _rnn_make, False, (0, 1, 3, 4)))
BY_NAME = {r.name: r for r in RECORDS}
