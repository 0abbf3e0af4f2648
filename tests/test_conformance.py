"""Conformance (array-api-compat style): every domain implements every primitive,
or lists the gap here with a reason. An unexpected pass fails (strict xfail)."""
import numpy as np
import pytest

import fpsem
from fpsem.domain import PRIMITIVES
from fpsem.registry import DOMAINS, availability

# domain -> {primitive: reason}
XFAIL = {
    "cuda": {},
}

SAMPLE = {
    "asarray": lambda D: D.asarray([1, "1/2"]),
    "const": lambda D: D.const("3/4"),
    "full": lambda D: D.full((2,), 1),
    "to_fraction": lambda D: D.to_fraction(D.asarray([1, 2])),
    "to_float64": lambda D: D.to_float64(D.asarray([1, 2])),
    "reshape": lambda D: D.reshape(D.asarray([[1, 2], [3, 4]]), (4,)),
    "transpose": lambda D: D.transpose(D.asarray([[1, 2], [3, 4]])),
    "broadcast_to": lambda D: D.broadcast_to(D.asarray([1, 2]), (3, 2)),
    "expand_dims": lambda D: D.expand_dims(D.asarray([1, 2]), 0),
    "squeeze": lambda D: D.squeeze(D.asarray([[1, 2]]), 0),
    "getitem": lambda D: D.getitem(D.asarray([1, 2, 3]), slice(1, None)),
    "take": lambda D: D.take(D.asarray([1, 2, 3]), np.array([2, 0])),
    "concat": lambda D: D.concat([D.asarray([1]), D.asarray([2])]),
    "stack": lambda D: D.stack([D.asarray([1]), D.asarray([2])]),
    "pad": lambda D: D.pad(D.asarray([1, 2]), [(1, 1)]),
    "flip": lambda D: D.flip(D.asarray([1, 2]), 0),
    "add": lambda D: D.add(D.asarray([1]), D.asarray([2])),
    "sub": lambda D: D.sub(D.asarray([1]), D.asarray([2])),
    "mul": lambda D: D.mul(D.asarray([3]), D.asarray([2])),
    "div": lambda D: D.div(D.asarray([1]), D.asarray([4])),
    "neg": lambda D: D.neg(D.asarray([1])),
    "abs": lambda D: D.abs(D.asarray([-1])),
    "sqrt": lambda D: D.sqrt(D.asarray([4])),
    "fma": lambda D: D.fma(D.asarray([2]), D.asarray([3]), D.asarray([1])),
    "minimum": lambda D: D.minimum(D.asarray([1]), D.asarray([2])),
    "maximum": lambda D: D.maximum(D.asarray([1]), D.asarray([2])),
    "exp": lambda D: D.exp(D.asarray([0])),
    "exp2": lambda D: D.exp2(D.asarray([3])),
    "log": lambda D: D.log(D.asarray([1])),
    "tanh": lambda D: D.tanh(D.asarray([0])),
    "erf": lambda D: D.erf(D.asarray([0])),
    "sin": lambda D: D.sin(D.asarray([0])),
    "cos": lambda D: D.cos(D.asarray([0])),
    "lt": lambda D: D.lt(D.asarray([1]), D.asarray([2])),
    "le": lambda D: D.le(D.asarray([1]), D.asarray([2])),
    "gt": lambda D: D.gt(D.asarray([1]), D.asarray([2])),
    "ge": lambda D: D.ge(D.asarray([1]), D.asarray([2])),
    "eq": lambda D: D.eq(D.asarray([1]), D.asarray([2])),
    "ne": lambda D: D.ne(D.asarray([1]), D.asarray([2])),
    "where": lambda D: D.where(D.lt(D.asarray([1, 3]), D.asarray([2, 2])), D.asarray([1, 1]), D.asarray([0, 0])),
    "sum": lambda D: D.sum(D.asarray([[1, 2, 3]])),
    "max": lambda D: D.max(D.asarray([[1, 2, 3]])),
    "dot": lambda D: D.dot(D.asarray([[1, 2]]), D.asarray([[3], [4]])),
}


def test_sample_covers_every_primitive():
    assert set(SAMPLE) == set(PRIMITIVES)


AVAILABLE = [n for n in DOMAINS if availability(n)[0]]
CASES = [(d, p) for d in AVAILABLE for p in PRIMITIVES]


@pytest.mark.parametrize("dname,prim", CASES, ids=[f"{d}-{p}" for d, p in CASES])
def test_primitive_implemented(dname, prim, request):
    reason = XFAIL.get(dname, {}).get(prim)
    if reason:
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True))
    D = fpsem.domain(dname)
    assert D.supports(prim) or reason, f"{dname} does not implement {prim}"
    SAMPLE[prim](D)
    assert str(D.accuracy(prim)) != "unsupported"


def test_unavailable_domains_are_user_errors():
    for name in DOMAINS:
        ok, why = availability(name)
        if not ok:
            with pytest.raises(fpsem.FpsemError, match=name):
                fpsem.domain(name)
