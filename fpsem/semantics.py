"""What a domain promises about its numbers, declared once per domain.

`Semantics` is the bridges' only source of truth about float behaviour: whether
two domains promise identical bits (`bit_promise`), which other domains a run
can be checked against bit for bit (`companions`), what kind of reference a
domain makes and which reference to use by default (`default_reference`). No
bridge tests a domain's name; it reads these declarations.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .formats import Format
from .order import Order

#: elementary functions whose accuracy is part of the semantics
ELEMENTARY = ("exp", "exp2", "log", "tanh", "erf", "sin", "cos")
#: primitives whose results are the same in every domain that runs them
_STRUCTURAL_GROUPS = ("struct", "compare", "select", "convert")
_SAFE = ("exact", "correctly_rounded")
#: the primitives a companion must promise (arithmetic and reductions; elementary
#: functions may differ and the bridge says so per pair)
BASIC = ("asarray", "add", "sub", "mul", "div", "neg", "abs", "sqrt", "fma",
         "minimum", "maximum", "max", "sum", "dot")


@dataclass(frozen=True)
class Semantics:
    """A domain's declared semantics.

    kind: 'point' (values in a binary format), 'enclosure' (sets containing the
    real result) or 'exact' (the real result itself).
    storage / accumulation: the binary formats values are stored in and sums and
    dots accumulate in (None for enclosures and exact values).
    rounding, ftz, daz: rounding direction and subnormal policy.
    order: default accumulation order of sum and dot.
    fma: 'as_ordered' (fused multiply-add only where the order says fma_chain;
    elementwise products never contracted), 'unspecified' or 'none'.
    nan: NaN specialization preset (payloads are not part of any bit promise).
    elementary: ((function, accuracy kind), ...) for ELEMENTARY.
    precision: significand bits of stored values (midpoints for balls; inf for
    exact values and for enclosures whose precision adapts to the run).
    """
    kind: str
    storage: Format | None
    accumulation: Format | None
    rounding: str
    ftz: bool
    daz: bool
    order: Order
    fma: str
    nan: str | None
    elementary: tuple
    precision: float

    @property
    def rigorous(self):
        return self.kind in ("enclosure", "exact")


def _kind_of(D, p):
    from .domain import PRIMITIVES
    if p in ("const", "full"):
        p = "asarray"  # an exact constant rounded once into the domain, as asarray does
    if p not in PRIMITIVES:
        return None, p
    return D.accuracy(p).kind, p


def bit_promise(A, B, prims=None) -> str:
    """'' when domains A and B promise identical bits for every computation that
    uses only `prims` (default: every primitive), else the first reason why not.

    The promise needs two point domains with the same storage and accumulation
    formats, rounding and subnormal policy; for sum and dot the same specified
    order (and the same FMA policy), each step correctly rounded; every other
    primitive used exact or correctly rounded in both. With prims=None a
    primitive one of them does not implement is skipped (a computation using it
    runs in only one of them)."""
    sa, sb = A.semantics, B.semantics
    for D, s in ((A, sa), (B, sb)):
        if s.kind != "point":
            return f"{D.label} is not a point float domain ({s.kind})"
    if sa.storage != sb.storage:
        return f"different formats ({sa.storage} vs {sb.storage})"
    if sa.accumulation != sb.accumulation:
        return f"different accumulation formats ({sa.accumulation} vs {sb.accumulation})"
    for opt in ("rounding", "ftz", "daz"):
        if getattr(sa, opt) != getattr(sb, opt):
            return f"different {opt} ({getattr(sa, opt)} vs {getattr(sb, opt)})"
    from .domain import PRIMITIVES
    every = prims is None
    seen = set()
    # reductions first: an order that differs is the main reason bits differ
    for p0 in sorted(PRIMITIVES if every else prims, key=lambda p: p not in ("sum", "dot")):
        (ka, p), (kb, _) = _kind_of(A, p0), _kind_of(B, p0)
        if ka is None or p in seen or PRIMITIVES[p][0] in _STRUCTURAL_GROUPS:
            continue
        seen.add(p)
        if "unsupported" in (ka, kb):
            if every:
                continue
            return f"{p}: {ka} / {kb}"
        if p in ("sum", "dot"):
            if not (sa.order.specified and sb.order.specified):
                return "an accumulation order is native (unspecified)"
            if sa.order != sb.order:
                return f"different accumulation orders ({sa.order} vs {sb.order})"
            if ka not in _SAFE + ("ordered",) or kb not in _SAFE + ("ordered",):
                return f"{p}: {ka} / {kb}"
            if sa.fma != sb.fma:
                return f"different FMA policies ({sa.fma} vs {sb.fma})"
            continue
        for D, k in ((A, ka), (B, kb)):
            if k not in _SAFE:
                return f"{D.label} {p} is {D.accuracy(p)}, not correctly rounded"
    return ""


def companions(D):
    """The other available point domains, with D's accumulation order, whose bits
    D promises to match in arithmetic and reductions (elementary functions may
    still differ: `bit_promise` says so per pair). Registry order."""
    from .errors import FpsemError
    from .registry import DOMAINS, availability, domain_class
    if D.semantics.kind != "point" or not D.semantics.order.specified:
        return []
    out = []
    for name in DOMAINS:
        cls = domain_class(name)
        if isinstance(D, cls) and type(D) is cls:
            continue
        # a cheap test on the class's declarations before building it
        if getattr(cls, "format", None) != D.format or not getattr(cls, "is_float", False):
            continue
        if not availability(name)[0]:
            continue
        try:
            C = cls(**({"acc": D.acc} if "acc" in cls.OPTIONS else {}))
        except FpsemError:
            continue   # it cannot take D's order
        if not bit_promise(D, C, BASIC):
            out.append(C)
    return out


def reference_kind(D):
    """'exact', 'enclosure' or 'float': what a reference in domain D gives."""
    k = D.semantics.kind
    return "float" if k == "point" else k


def default_reference(rational):
    """Name of the default reference domain: an available exact domain for
    rational models, else the available enclosure domain of highest precision
    (the ball domain, whose precision adapts to the run; the interval domain
    without python-flint)."""
    from .registry import DOMAINS, availability, domain_class
    best, best_prec = None, -1.0
    for name in DOMAINS:
        if not availability(name)[0]:
            continue
        sem = domain_class(name)().semantics
        if sem.kind != ("exact" if rational else "enclosure"):
            continue
        prec = sem.precision
        if prec > best_prec:
            best, best_prec = name, prec
    return best


INF = math.inf
