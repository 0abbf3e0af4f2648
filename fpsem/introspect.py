"""Which primitives each op uses: found by running the op on its sample inputs
through a recording proxy of the float64 domain (not by reading source)."""
from __future__ import annotations

import numpy as np

from .domain import PRIMITIVES


class _Recorder:
    def __init__(self, D):
        object.__setattr__(self, "_D", D)
        object.__setattr__(self, "used", [])

    def __getattr__(self, name):
        attr = getattr(self._D, name)
        if name in PRIMITIVES and callable(attr):
            def wrapped(*a, **k):
                if name not in self.used:
                    self.used.append(name)
                return attr(*a, **k)
            return wrapped
        return attr


def primitives_used(opname, domain_name="float64"):
    from . import registry
    from fpsem.ops.records import BY_NAME
    rec = BY_NAME[opname]
    D = registry.domain(domain_name)
    proxy = _Recorder(D)
    args, kwargs = rec.build(D, np.random.default_rng(0))
    rec.fn(proxy, *args, **kwargs)
    order = list(PRIMITIVES)
    return sorted(proxy.used, key=order.index)


def op_table(name=None):
    from fpsem.ops import OPS
    from fpsem.ops.records import BY_NAME
    from .errors import UnsupportedOp
    names = sorted(OPS) if name is None else [name]
    if name is not None and name not in OPS:
        raise UnsupportedOp(f"unknown op {name!r}; `fpsem ops` lists them")
    rows = []
    for n in names:
        fn = OPS[n]
        doc = (fn.__doc__ or "").strip().splitlines()
        rows.append({
            "name": n,
            "group": fn.group,
            "primitives": primitives_used(n) if n in BY_NAME else [],
            "summary": doc[0] if doc else "",
            "rational": BY_NAME[n].rational if n in BY_NAME else None,
        })
    return rows
