"""fpsem as an ONNX backend (`onnx.backend.base.Backend`), one backend per domain.

    >>> from fpsem.models.onnx_backend import backend_for
    >>> B = backend_for("ieee32")
    >>> rep = B.prepare(model_proto); outputs = rep.run([x])

`onnx.backend.test.BackendTest(backend_for("float32"), __name__)` then runs the
official node tests through fpsem's interpreter. Outputs are returned in the
element type the graph declares: a domain value is taken to float64 (exact for
every binary format up to binary64) and converted with numpy, so a float32
output of the ieee32 domain is its exact binary32 result.
"""
from __future__ import annotations

import numpy as np

_BACKENDS = {}


def _bases():
    from onnx.backend.base import Backend, BackendRep
    return Backend, BackendRep


def backend_for(domain="float32", semantics="body"):
    """The Backend class that runs models in `domain` (a name or domain object)."""
    import fpsem
    D = fpsem.domain(domain) if isinstance(domain, str) else domain
    key = (D, semantics)
    if key in _BACKENDS:
        return _BACKENDS[key]
    Backend, BackendRep = _bases()
    from .onnx_import import _ONNX_NP, OnnxModel

    class FpsemRep(BackendRep):
        def __init__(self, model):
            self.model = model
            self.out_types = {}
            for o in model.proto.graph.output:
                self.out_types[o.name] = _ONNX_NP.get(o.type.tensor_type.elem_type)

        def run(self, inputs, **kwargs):
            if isinstance(inputs, dict):
                feeds = inputs
            else:
                if isinstance(inputs, np.ndarray):
                    inputs = [inputs]
                feeds = dict(zip(self.model.input_names, inputs))
            outs = self.model.run(D, feeds, tap_nodes=False)
            res = []
            for name in self.model.output_names:
                v = outs[name]
                if not isinstance(v, np.ndarray) or (D.is_value(v) and v.dtype.kind == "f"):
                    lo, hi = D.bounds(v)  # exact for binary formats up to binary64
                    v = lo if lo is hi else _mid((lo, hi))
                dt = self.out_types.get(name)
                res.append(np.asarray(v).astype(dt) if dt is not None else np.asarray(v))
            return tuple(res)

    class FpsemBackend(Backend):
        domain = D

        @classmethod
        def is_compatible(cls, model, device="CPU", **kwargs):
            return True

        @classmethod
        def prepare(cls, model, device="CPU", **kwargs):
            super().prepare(model, device, **kwargs)
            return FpsemRep(OnnxModel(model, None, semantics))

        @classmethod
        def run_node(cls, node, inputs, device="CPU", outputs_info=None, **kwargs):
            raise NotImplementedError("fpsem runs whole models (prepare/run)")

        @classmethod
        def supports_device(cls, device):
            return device == "CPU"

    FpsemBackend.__name__ = f"FpsemBackend_{D.name}"
    _BACKENDS[key] = FpsemBackend
    return FpsemBackend


def _mid(lohi):
    lo, hi = (np.asarray(a, dtype=np.float64) for a in lohi)
    return np.where(lo == hi, lo, lo / 2 + hi / 2)


__all__ = ["backend_for"]
