"""The audit suite: fixed-seed cases for every op and primitive, plus the zoo models.

A case is data (the JAX op-record pattern): a name, a builder of raw inputs from
a seeded numpy RNG, and the function to run `f(D, *domain_values)`. Inputs are
binary64 arrays whose values are binary32 values (so float32 and ieee32 start
from identical bits); every domain rounds them once with `D.asarray`, and every
reference is computed from the domain's own rounded inputs.

Edge cases: signed zeros, the smallest subnormal, subnormals, the smallest
normal, values next to 1, large values near the overflow threshold, and (in a
separate `specials` case, bit checks and baselines only) infinities and NaN.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

F32 = np.float32


def _f32(vals):
    return np.asarray(np.asarray(vals, dtype=np.float64).astype(F32), dtype=np.float64)


EDGE = _f32([0.0, -0.0, 2.0 ** -149, -2.0 ** -149, 2.0 ** -140, -3 * 2.0 ** -133, 2.0 ** -126,
             -2.0 ** -126, 1.0, -1.0, 1 + 2.0 ** -23, 1 - 2.0 ** -24, 0.1, -2.5, 3.0, 1e-20, 65504.0,
             1.5e19, -3e30, 1e38, -3.4028234663852886e38, 3.4028234663852886e38])
SPECIALS = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 1.0, -1.0, 2.0 ** -149], dtype=np.float64)

#: per unary primitive: (domain of the random draws (lo, hi), extra edge values)
UNARY_PRIMS = {
    "sqrt": ((0.0, 1e4), EDGE),
    "exp": ((-20.0, 20.0), _f32([0.0, -0.0, 1e-30, -1e-30, 88.7, 88.73, -87.3, -103.0, -104.0, -150.0,
                                 89.0, 1.0, -1.0, 0.5])),
    "exp2": ((-30.0, 30.0), _f32([0.0, -0.0, 127.9, 128.0, -126.0, -149.0, -149.5, -150.5, 0.5, 1e-30])),
    "log": ((1e-3, 1e3), _f32([1.0, 1 + 2.0 ** -23, 1 - 2.0 ** -24, 2.0 ** -149, 2.0 ** -126, 3.4e38,
                               0.5, 2.0, 10.0, 0.0, -0.0, -1.0])),
    "tanh": ((-10.0, 10.0), _f32([0.0, -0.0, 1e-30, -1e-30, 2.0 ** -149, 1e-4, 9.0, 10.0, -20.0, 0.55])),
    "erf": ((-5.0, 5.0), _f32([0.0, -0.0, 1e-30, -2.0 ** -149, 1e-4, 3.9, 4.0, -6.0, 0.5])),
    "sin": ((-10.0, 10.0), _f32([0.0, -0.0, 1e-30, 2.0 ** -149, 3.1415927, 1e4, -1e4, 1.5707964])),
    "cos": ((-10.0, 10.0), _f32([0.0, -0.0, 1e-30, 3.1415927, 1e4, 1.5707964])),
}
BINARY_PRIMS = ("add", "sub", "mul", "div")


@dataclass
class Case:
    """One audited computation: `fn(D, *[D.asarray(a) for a in arrays])`."""
    name: str
    make: Callable             # rng -> list of float64 arrays (or non-array args for ops)
    fn: Callable
    prims: tuple = ()          # primitives used (for the bit-agreement promise); () = ask introspect
    rational: bool = True      # the exact domain can run it
    kind: str = "op"           # 'prim' | 'op'
    prim: str | None = None    # for kind 'prim': the primitive whose declared accuracy is checked
    finite: bool = True        # inputs finite (specials cases are bits/baseline only)
    seed: int = 0
    op_record: object = None
    tags: set = field(default_factory=set)

    def inputs(self):
        return self.make(np.random.default_rng(self.seed))


def _draw(rng, lo, hi, n):
    return _f32(rng.uniform(lo, hi, n))


def _unary_case(prim, n, seed, edges=True):
    (lo, hi), edge = UNARY_PRIMS[prim]

    def make(rng):
        x = _draw(rng, lo, hi, n)
        return [np.concatenate([x, edge]) if edges else x]
    return Case(f"prim:{prim}", make, lambda D, x: getattr(D, prim)(x), prims=("asarray", prim),
                rational=False, kind="prim", prim=prim, seed=seed)


def _binary_case(prim, n, seed):
    def make(rng):
        a = _f32(rng.standard_normal(n) * np.exp2(rng.integers(-10, 10, n)))
        b = _f32(rng.standard_normal(n) * np.exp2(rng.integers(-10, 10, n)))
        ea, eb = np.meshgrid(EDGE, EDGE, indexing="ij")
        return [np.concatenate([a, ea.ravel()]), np.concatenate([b, eb.ravel()])]
    return Case(f"prim:{prim}", make, lambda D, x, y: getattr(D, prim)(x, y), prims=("asarray", prim),
                rational=True, kind="prim", prim=prim, seed=seed)


def _fma_case(n, seed):
    def make(rng):
        a, b, c = (_f32(rng.standard_normal(n) * np.exp2(rng.integers(-8, 8, n))) for _ in range(3))
        e = EDGE
        ea, eb, ec = (np.resize(e, 3 * len(e)), np.resize(e[::-1], 3 * len(e)), np.resize(np.roll(e, 5), 3 * len(e)))
        # cancellation: c = -fl(a*b) exercises the single rounding
        c2 = -_f32(a * b)
        return [np.concatenate([a, ea, a]), np.concatenate([b, eb, b]), np.concatenate([c, ec, c2])]
    return Case("prim:fma", make, lambda D, x, y, z: D.fma(x, y, z), prims=("asarray", "fma"),
                rational=True, kind="prim", prim="fma", seed=seed)


def _specials_case(prim, seed):
    def make(rng):
        a, b = np.meshgrid(SPECIALS, SPECIALS, indexing="ij")
        return [a.ravel(), b.ravel()]
    return Case(f"specials:{prim}", make, lambda D, x, y: getattr(D, prim)(x, y), prims=("asarray", prim),
                rational=False, kind="prim", prim=None, finite=False, seed=seed)


def _reduce_case(prim, order, n, rows, seed):
    def make(rng):
        x = _f32(rng.standard_normal((rows, n)) * np.exp2(rng.integers(-6, 6, (rows, n))))
        if prim == "dot":
            y = _f32(rng.standard_normal((n, 3)))
            return [x, y]
        return [x]
    if prim == "sum":
        fn = lambda D, x: D.sum(x, axis=-1, acc=order)
    else:
        fn = lambda D, x, y: D.dot(x, y, acc=order)
    return Case(f"prim:{prim}[{order}]", make, fn, prims=("asarray", prim), rational=True, kind="prim",
                prim=prim, seed=seed, tags={"order:" + order})


def _op_case(rec, seed):
    from fpsem.ops.records import BY_NAME  # noqa: F401  (records register on import)

    def fn(D, rng_seed=seed, rec=rec):
        args, kwargs = rec.build(D, np.random.default_rng(rng_seed))
        return rec.fn(D, *args, **kwargs)
    return Case(f"op:{rec.name}" + (f"#{seed}" if seed else ""), lambda rng: [], fn, prims=(),
                rational=rec.rational, kind="op", seed=seed, op_record=rec)


ORDERS = ("sequential", "pairwise", "blocked(8)", "tree(4)", "fma_chain", "exact_then_round")


def build_cases(suite="quick"):
    """Every case of a suite, in a fixed order."""
    if suite not in ("quick", "full"):
        from fpsem.errors import FpsemError
        raise FpsemError(f"unknown suite {suite!r}; choose quick or full")
    from fpsem.ops.records import RECORDS
    n = 48 if suite == "quick" else 2000
    cases = []
    for p in BINARY_PRIMS:
        cases.append(_binary_case(p, n, seed=11))
        cases.append(_specials_case(p, seed=12))
    cases.append(_fma_case(n, seed=13))
    for p in UNARY_PRIMS:
        cases.append(_unary_case(p, n, seed=14))
    orders = ("sequential", "pairwise") if suite == "quick" else ORDERS
    for o in orders:
        cases.append(_reduce_case("sum", o, 37, 3, seed=15))
        cases.append(_reduce_case("dot", o, 29, 4, seed=16))
    seeds = (0,) if suite == "quick" else (0, 1, 2)
    for rec in RECORDS:
        for s in seeds:
            cases.append(_op_case(rec, s))
    return cases


#: zoo models audited at their tiny config: (name, config)
def model_cases(suite="quick"):
    try:
        from fpsem.models import ZOO
    except ImportError:
        return []
    names = list(ZOO)
    return [(m, "tiny") for m in names]
