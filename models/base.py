"""What every fpsem model is: named float32 parameters and a forward pass over a domain.

A model holds its parameters as read-only float32 numpy arrays (`params`, the
exact values every domain starts from: `D.asarray` takes floats exactly, so the
float32 values are the model; domains hold read-only data without copying it, so
change a weight by assigning a new array to `params[name]`) and runs
`forward(D, *inputs)` with `fpsem.ops` only.
Nodes worth comparing across domains are marked with `fpsem.trace.tap` inside
`fpsem.trace.scope` blocks; `fpsem.trace.step` is called once per block so a
progress bar can advance.
"""
from __future__ import annotations

import contextlib
import dataclasses

import numpy as np

from fpsem.errors import FpsemError, ShapeError


def _frozen(v):
    """A read-only contiguous float32 array of v's values (a view when v already is
    one: the caller's array keeps its own flags). Domains may hold read-only data
    without copying it (numpy's asarray convention), so a model's weights are not
    copied once per domain."""
    a = np.ascontiguousarray(v, dtype=np.float32)
    if a is v or a.base is not None:
        a = a.view()
    a.setflags(write=False)
    return a


class Params:
    """Parameters of one model converted into one domain, lazily, once each."""

    def __init__(self, model, D):
        self.model, self.D, self._vals = model, D, {}

    def __getitem__(self, name):
        v = self._vals.get(name)
        if v is None:
            try:
                arr = self.model.params[name]
            except KeyError:
                raise FpsemError(f"{self.model.name}: no parameter {name!r}") from None
            v = self._vals[name] = self.D.asarray(arr)
        return v


class Model:
    """Base class: subclasses set `name`, build `config` and `params`, write `forward`."""

    name = "model"
    #: False when forward uses a transcendental function (exp, tanh, ...): the exact
    #: domain can only run rational models.
    is_rational = False
    #: the axis of the output a decision (argmax) is taken along
    decision_axis = -1
    #: one line for `fpsem models`
    summary = ""
    #: fpsem.trace.step calls per forward (for progress bars)
    n_steps = 1

    def __init__(self, config, params, seed=0, source=None):
        self.config = config
        self.params = {k: _frozen(v) for k, v in params.items()}
        self.seed = seed
        #: where the weights came from: None for seeded random weights, else a path
        self.source = source
        self._held = {}

    # -- identity ---------------------------------------------------------------
    @property
    def n_params(self):
        return int(sum(int(v.size) for v in self.params.values()))

    @property
    def random_weights(self):
        return self.source is None

    def describe_weights(self):
        if self.source is None:
            return f"RANDOM weights (seed {self.seed}); not a trained model"
        notes = getattr(self, "weight_notes", None)
        return f"weights from {self.source}" + (f" ({'; '.join(notes)})" if notes else "")

    def __repr__(self):
        return f"<fpsem model {self.name} {self.config} ({self.n_params:,} parameters)>"

    # -- parameters in a domain --------------------------------------------------
    def P(self, D):
        """Parameter accessor for domain D (held across calls inside `hold(D)`)."""
        p = self._held.get(D)
        return p if p is not None else Params(self, D)

    @contextlib.contextmanager
    def hold(self, *domains):
        """Keep the converted parameters of `domains` alive for the block
        (generation calls forward many times)."""
        added = [D for D in domains if D not in self._held]
        for D in added:
            self._held[D] = Params(self, D)
        try:
            yield self
        finally:
            for D in added:
                self._held.pop(D, None)

    # -- inputs and outputs ------------------------------------------------------
    def default_inputs(self):
        raise NotImplementedError

    def forward(self, D, *inputs):
        raise NotImplementedError

    def __call__(self, D, *inputs, **kw):
        return self.forward(D, *inputs, **kw)

    def check_input(self, x, shape, what="input"):
        """A float input as a numpy array of the expected shape (user error otherwise)."""
        x = np.asarray(x)
        if x.shape != tuple(shape):
            raise ShapeError(f"{self.name}: {what} has shape {x.shape}, expected {tuple(shape)}")
        return x


def config_from(cls, presets, config, default="tiny"):
    """A config dataclass from None (the default preset), a preset name, a dict of
    overrides of the default preset, or a ready instance."""
    if config is None:
        return presets[default]
    if isinstance(config, cls):
        return config
    if isinstance(config, str):
        if config not in presets:
            raise FpsemError(f"unknown config {config!r}; choose one of {', '.join(presets)}")
        return presets[config]
    if isinstance(config, dict):
        base = presets[config.get("preset", default)]
        fields = {f.name for f in dataclasses.fields(cls)}
        bad = set(config) - fields - {"preset"}
        if bad:
            raise FpsemError(f"unknown config field {sorted(bad)[0]!r}; fields: {', '.join(sorted(fields))}")
        return dataclasses.replace(base, **{k: v for k, v in config.items() if k != "preset"})
    raise FpsemError(f"config must be a preset name, a dict or a {cls.__name__}")
