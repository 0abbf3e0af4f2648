"""Which primitives each op uses: found by running the op on its sample inputs
under an observer of the float64 domain (fpsem.trace.observe), not by reading
source: the primitives the op itself calls (depth 0)."""
from __future__ import annotations

import numpy as np

from .domain import PRIMITIVES
from .trace import observe


def primitives_used(opname, domain_name="float64"):
    from . import registry
    from fpsem.ops.records import BY_NAME
    rec = BY_NAME[opname]
    D = registry.domain(domain_name)
    args, kwargs = rec.build(D, np.random.default_rng(0))
    used = set()
    with observe(lambda c: used.add(c.name) if c.depth == 0 and c.name in PRIMITIVES else None, domain=D):
        rec.fn(D, *args, **kwargs)
    order = list(PRIMITIVES)
    return sorted(used, key=order.index)


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
