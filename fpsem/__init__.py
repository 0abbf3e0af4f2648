"""fpsem: what a network really computes in floating point.

Every operator in `fpsem.ops` is written once against a number domain; run it
over exact rationals, rigorous intervals, a bit-exact IEEE binary32 emulator,
numpy float32 or CUDA kernels, and compare.

    >>> import fpsem
    >>> D = fpsem.domain("float32")
    >>> x = D.asarray(["0.1", "0.2"])
    >>> D.to_fraction(D.sum(x))[()]  # the float32 sum, as an exact rational
    Fraction(5033165, 16777216)
"""
from . import jitcache as _jitcache

_jitcache.configure()  # before any kernel module imports numba: a per-user cache, not site-packages

from .errors import (DomainUnavailable, FpsemError, NotRepresentable, ShapeError,
                     UnknownDomain, UnsupportedOp, UnsupportedOption, WeightsError)
from .domain import PRIMITIVES, Accuracy, Domain
from .order import Order, blocked, parse_order, tree
from .registry import DOMAINS, availability, domain

__version__ = "0.1.0"

__all__ = [
    "domain", "DOMAINS", "availability", "Domain", "Accuracy", "PRIMITIVES",
    "Order", "parse_order", "blocked", "tree",
    "FpsemError", "UnknownDomain", "DomainUnavailable", "UnsupportedOption",
    "UnsupportedOp", "ShapeError", "NotRepresentable", "WeightsError",
    "envelope", "load_onnx",
]


def envelope(model, inputs=None, *, domain="ieee32", reference="auto", config=None, **opts):
    """Run `model` under `domain` and `reference` and return an Envelope of
    node-by-node error statistics (see fpsem.bridges)."""
    from .bridges import envelope as _envelope
    return _envelope(model, inputs, domain=domain, reference=reference, config=config, **opts)


def load_onnx(path, semantics="body"):
    """An ONNX model file as an fpsem model (needs the onnx package: fpsem[onnx]);
    see fpsem.models.onnx_import."""
    from .models.onnx_import import load_onnx as _load
    return _load(path, semantics=semantics)
