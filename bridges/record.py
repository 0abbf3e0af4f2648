"""Recording runs: one model, several domains, the same inputs, named nodes.

A model (a zoo name or any callable `f(D, *inputs)`) marks the values worth
comparing with `fpsem.trace.tap(D, name, x)` inside `fpsem.trace.scope` blocks.
`record(fn, D, inputs, on_node)` installs a recorder and calls `on_node(name, x)`
for every tap in execution order; a name seen twice in one run gets a `#2`
suffix, and a returned domain value that was not tapped last is recorded as
`output`.

Memory stays bounded: the reference run keeps one compact float64 enclosure
(lo, hi) per node (the point domains: lo == hi); each float domain then streams
its statistics node by node and drops the tensor, unless the node was asked for.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from fpsem import trace
from fpsem.errors import FpsemError
from fpsem.semantics import reference_kind  # noqa: F401 - re-exported for the bridges

from ._num import abs_diff_up, frac_down, frac_up


class ModelError(FpsemError):
    """A model that cannot be resolved or run as asked."""


@dataclass
class ModelSpec:
    """What the bridges need from a model: a forward, inputs and a few facts."""
    name: str
    forward: object
    inputs: tuple
    is_rational: bool | None = None
    decision_axis: int = -1
    obj: object = None
    notes: list = field(default_factory=list)


def resolve_model(model, inputs=None, config=None, **model_opts) -> ModelSpec:
    """A zoo name (through fpsem.models.get_model) or a callable f(D, *inputs)."""
    if isinstance(model, str):
        try:
            from fpsem.models import get_model
        except ImportError as e:
            raise ModelError(f"model {model!r}: the model zoo is not available in this build ({e})") from None
        m = get_model(model, config=config, **model_opts)
        return _from_object(m, inputs, getattr(m, "name", model))
    if hasattr(model, "forward") and callable(model.forward):
        return _from_object(model, inputs, getattr(model, "name", type(model).__name__))
    if callable(model):
        if config is not None:
            raise ModelError("config= applies to zoo models only; got a callable")
        if inputs is None:
            di = getattr(model, "default_inputs", None)
            inputs = di() if callable(di) else ()
        return ModelSpec(name=getattr(model, "__name__", "model"), forward=model,
                         inputs=_as_tuple(inputs), is_rational=getattr(model, "is_rational", None),
                         decision_axis=getattr(model, "decision_axis", -1), obj=model)
    raise ModelError(f"model must be a zoo name or a callable f(D, *inputs), got {type(model).__name__}")


def _from_object(m, inputs, name):
    if inputs is None:
        inputs = m.default_inputs()
    return ModelSpec(name=name, forward=m.forward, inputs=_as_tuple(inputs),
                     is_rational=getattr(m, "is_rational", None),
                     decision_axis=getattr(m, "decision_axis", -1), obj=m,
                     notes=list(getattr(m, "notes", ())))


def _as_tuple(inputs):
    return tuple(inputs) if isinstance(inputs, tuple) else (inputs,)


@contextlib.contextmanager
def _hold(spec, D):
    hold = getattr(spec.obj, "hold", None)
    if callable(hold):
        with hold(D):
            yield
    else:
        yield


def record(spec: ModelSpec, D, on_node, progress=None, forward_kw=None):
    """Run spec.forward(D, *inputs, **forward_kw), calling on_node(name, x) for
    every tap. Returns (what the forward returned, names in order, seconds)."""
    names = []
    seen = {}
    last = [None]

    def cb(name, Dx, x):
        n = seen.get(name, 0) + 1
        seen[name] = n
        full = name if n == 1 else f"{name}#{n}"
        names.append(full)
        last[0] = x
        on_node(full, x)

    t0 = time.perf_counter()
    ctx = trace.progress(progress) if progress is not None else contextlib.nullcontext()
    with ctx, trace.recording(cb), _hold(spec, D):
        res = spec.forward(D, *spec.inputs, **(forward_kw or {}))
    # a forward asked for its cache returns (output, cache)
    out = res[0] if (forward_kw or {}).get("return_cache") else res
    if out is not None and out is not last[0] and _is_value(D, out):
        cb("output", D, out)
    return res, names, time.perf_counter() - t0


def _is_value(D, x):
    try:
        return bool(D.is_value(x))
    except Exception:
        return False


# -- reference data ----------------------------------------------------------------
@dataclass
class RefData:
    """A compact reference for one node: float64 lo <= real <= hi (rigorous for
    kind 'enclosure' and 'exact'), a point estimate, and for 'exact' the rationals.

    For enclosures `rad` bounds |real - point| elementwise (float64, rounded up):
    the observed error |f - point| of a float run is then known to within rad, and
    |f - point| + rad is a rigorous bound of |f - real|."""
    kind: str            # 'enclosure' | 'exact' | 'float'
    lo: np.ndarray
    hi: np.ndarray
    point: np.ndarray
    fracs: np.ndarray | None = None
    rad: np.ndarray | None = None
    point2: np.ndarray | None = None   # low part of a double-double point (point + point2)

    @property
    def shape(self):
        return self.point.shape

    @property
    def rigorous(self):
        return self.kind in ("enclosure", "exact")


def _pred(x):
    return np.nextafter(x, -np.inf)


def _succ(x):
    return np.nextafter(x, np.inf)


def reference_data(D, x, kind, double=False) -> RefData:
    """The reference node compactly. double=True keeps a double-double point for
    enclosures that can give one (errors of binary64 runs need it)."""
    if kind == "exact":
        q = D.to_fraction(x)
        q = np.asarray(q, dtype=object)
        point = D.point(x)
        lo = np.empty(q.shape)
        hi = np.empty(q.shape)
        lf, hf, qf = lo.ravel(), hi.ravel(), q.ravel()
        for i in range(qf.size):
            v = Fraction(qf[i])
            lf[i] = frac_down(v)
            hf[i] = frac_up(v)
        return RefData("exact", lo, hi, point, q, rad=np.zeros(q.shape))
    mid_rad = getattr(D, "mid_rad", None)
    if mid_rad is not None:
        m2 = None
        if double:
            m, m2, r = (np.asarray(v, dtype=np.float64) for v in mid_rad(x, double=True))
        else:
            m, r = (np.asarray(v, dtype=np.float64) for v in mid_rad(x))
        with np.errstate(over="ignore", invalid="ignore"):
            c = m if m2 is None else m + m2
            exact = (r == 0) if m2 is None else ((r == 0) & (m2 == 0))
            lo = np.where(exact, c, _pred(_pred(c - r)))
            hi = np.where(exact, c, _succ(_succ(c + r)))
            if m2 is not None:  # c is m + m2 rounded: step once more for that rounding
                lo, hi = np.where(exact, lo, _pred(lo)), np.where(exact, hi, _succ(hi))
        return RefData("enclosure", lo, hi, m, rad=r, point2=m2)
    lo, hi = D.bounds(x)
    if lo is not hi:
        with np.errstate(over="ignore", invalid="ignore"):
            mid = np.where(lo == hi, lo, lo * 0.5 + hi * 0.5)
            mid = np.where(np.isfinite(mid), mid, 0.0)
            rad = np.maximum(abs_diff_up(mid, lo), abs_diff_up(hi, mid))
        return RefData("enclosure", lo, hi, mid, rad=rad)
    return RefData("float", lo, lo, lo)
