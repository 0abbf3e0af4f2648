"""Per-layer and per-architecture figures of the bestiary, computed from the specs.

Bounds: for a layer whose longest dot product has n terms and whose longest plain sum has
m terms, the a-priori relative bound of its reductions under an accumulation order is
max(dot_rel_bound(n, order, fmt), dot_rel_bound(m, order, fmt, dot=False)), from
`fpsem.bounds` (the same code the bridge uses): |fl(x.y) - x.y| <= bound * sum|x_i y_i|.
Where k u >= 1 the standard bound says nothing and the bound is reported as None
("none (k u >= 1)"), e.g. bfloat16 with sequential sums of 256 or more terms.
"""
from __future__ import annotations

from decimal import ROUND_CEILING, Context, Decimal
from fractions import Fraction

from fpsem.bounds import dot_rel_bound
from fpsem.errors import FpsemError
from fpsem.formats import bfloat16, binary16, binary32
from fpsem.order import parse_order

from .catalog import CATALOG, Entry, get

FORMATS = (binary32, bfloat16, binary16)
ORDERS = ("sequential", "pairwise")
NO_BOUND = "none (k u >= 1)"


def layer_bound(dot: int, total: int, order, fmt) -> Fraction | None:
    """Worst-case relative bound of a layer's reductions, or None where k u >= 1."""
    try:
        b = Fraction(0)
        if dot:
            b = max(b, dot_rel_bound(dot, order, fmt))
        if total:
            b = max(b, dot_rel_bound(total, order, fmt, dot=False))
        return b
    except FpsemError:
        return None


def roundings(dot: int, total: int, order="sequential") -> int:
    o = parse_order(order)
    return max(o.roundings(dot, dot=True), o.roundings(total, dot=False))


def fmt_up(q: Fraction | None, digits=3) -> str:
    """A decimal string of q rounded UP to `digits` significant digits (a bound stays a bound)."""
    if q is None:
        return NO_BOUND
    if q == 0:
        return "0"
    d = Context(prec=digits, rounding=ROUND_CEILING).divide(Decimal(q.numerator), Decimal(q.denominator))
    return f"{d:.{digits - 1}e}"


def _bounds(dot, total):
    out = {}
    for f in FORMATS:
        out[f.name] = {}
        for o in ORDERS:
            b = layer_bound(dot, total, o, f)
            out[f.name][o] = None if b is None else {
                "exact": f"{b.numerator}/{b.denominator}", "upper": fmt_up(b, 4)}
    return out


def layers_of(entry: Entry) -> list[dict]:
    rows = []
    for tower in entry.towers:
        shape = tower.input_shape
        for i, layer in enumerate(tower.layers):
            t = layer.trace(shape)
            rows.append({
                "tower": tower.name, "index": i, "label": getattr(layer, "label", ""),
                "kind": layer.kind, "spec": layer.describe(),
                "in_shape": list(shape), "out_shape": list(t.out),
                "params": layer.params(), "macs": t.macs,
                "dot_len": t.dot, "sum_len": t.sum,
                "bounds": _bounds(t.dot, t.sum),
                "_k": roundings(t.dot, t.sum),
            })
            shape = t.out
    return rows


def summary(entry: Entry, rows=None) -> dict:
    rows = rows if rows is not None else layers_of(entry)
    params = entry.params()
    fig, src = entry.compare_figure()
    worst = max(rows, key=lambda r: r["_k"])
    return {
        "name": entry.name,
        "params": params,
        "paper_params": entry.paper_params,
        "paper_params_text": entry.paper_params_text,
        "citation": entry.citation,
        "compared_with": fig,
        "compared_source": src,
        "deviation": None if fig is None else (params - fig) / fig,
        "tolerance": entry.tolerance,
        "paper_exact": entry.paper_exact,
        "note": entry.note,
        "input": {t.name: list(t.input_shape) for t in entry.towers},
        "input_note": entry.input_note,
        "macs": sum(r["macs"] for r in rows),
        "worst_layer": {
            "tower": worst["tower"], "index": worst["index"], "label": worst["label"],
            "spec": worst["spec"], "dot_len": worst["dot_len"], "sum_len": worst["sum_len"],
            "bounds": worst["bounds"]},
    }


def table() -> list[dict]:
    return [summary(e) for e in CATALOG.values()]


def detail(name: str) -> dict:
    e = get(name)
    rows = layers_of(e)
    out = summary(e, rows)
    out["layers"] = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
    return out
