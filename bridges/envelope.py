"""Error envelopes: node-by-node error of float runs against a reference.

    >>> env = fpsem.envelope("gpt2", config="tiny")              # ieee32 vs interval
    >>> env.nodes[:3], env.node("logits").bound_abs
    >>> env.worst(5, by="ulp"); env.diverge(); env.decision()
    >>> env.to_json(); env.table(); env.plot("envelope.png")

For every node and every float domain: observed max/mean absolute error,
relative error and error in ulps of the domain's format against the reference
point (the exact value, the enclosure's midpoint, or another float run);
`bound_abs`, a rigorous upper bound of |float - real| taken from the
reference enclosure (None when the reference is itself a float domain: then
the observations are labelled "vs <domain> (not rigorous)"); the local
a-priori standard-model bound where the node is a dot product (+ bias), see
fpsem.bridges.apriori; and a hash of the node's bits for cross-domain
agreement.
"""
from __future__ import annotations

import collections
import contextlib
import functools
import json
import math
import time
from dataclasses import asdict, dataclass, field
from fractions import Fraction

import numpy as np

from fpsem.errors import FpsemError
from fpsem.value import Value, raw
from fpsem.registry import domain as make_domain
from fpsem.semantics import bit_promise, companions, default_reference
from fpsem import threads as _threads
from fpsem import trace

from . import apriori as _ap
from .running import RV, Running, local_stats
from ._num import INF, abs_diff_up, bits_hash, frac_up, two_sum, ulp, ulp_lower, up
from .record import ModelSpec, RefData, record, reference_data, reference_kind, resolve_model


class UnknownNode(FpsemError, KeyError):
    """A node name that the envelope did not record."""

    def __str__(self):
        return self.args[0] if self.args else "unknown node"


BY = {"ulp": "max_ulp", "abs": "max_abs", "rel": "max_rel", "bound": "bound_abs",
      "bound_ulp": "bound_ulp", "ratio": "apriori_ratio", "apriori": "apriori"}


@dataclass
class NodeStats:
    """Statistics of one node of one float domain against the reference."""
    name: str
    domain: str
    index: int
    shape: tuple
    size: int
    reference: str
    rigorous: bool               # bound_abs comes from a rigorous reference
    nonfinite: int = 0           # elements that are inf/nan in the float run
    max_abs: float = 0.0         # observed, vs reference point
    mean_abs: float = 0.0
    max_rel: float = 0.0         # over elements whose reference point is nonzero
    mean_rel: float = 0.0
    max_ulp: float = 0.0         # |f - ref| / ulp(ref) in the domain's format
    mean_ulp: float = 0.0
    bound_abs: float | None = None   # rigorous: |f - real| <= bound_abs for every element
    bound_ulp: float | None = None   # rigorous, in ulps of the smallest |real| the enclosure allows
    ref_width: float | None = None   # widest reference enclosure (hi - lo)
    ref_radius: float | None = None  # widest reference radius: the observed errors are known to +/- this
    measured: bool = True            # False: the reference is too wide to measure the observed error
    ref_scale: float | None = None   # largest |reference point| of the node
    tightness: float | None = None   # bound_abs / max_abs (>= 1; 1 + ref_radius/max_abs at the worst node)
    apriori: float | None = None     # local standard-model bound (max over elements)
    apriori_ratio: float | None = None  # max local observed / local bound (<= 1 is a theorem)
    apriori_observed: float | None = None
    apriori_what: str | None = None
    worst_index: tuple | None = None
    worst_value: float | None = None
    worst_ref: float | None = None
    hash: str = ""

    @property
    def holds(self):
        """The observed error is within the rigorous bound (None without one, or
        when the reference is too wide to measure the observed error)."""
        if self.bound_abs is None or self.max_abs is None:
            return None
        return bool(self.max_abs <= self.bound_abs)

    def to_dict(self):
        d = asdict(self)
        d["shape"] = list(self.shape)
        d["worst_index"] = list(self.worst_index) if self.worst_index is not None else None
        d["holds"] = self.holds
        return {k: _jsonable(v) for k, v in d.items()}


def _jsonable(v):
    if isinstance(v, float) and not math.isfinite(v):
        return "inf" if v > 0 else ("-inf" if v < 0 else "nan")
    if isinstance(v, (np.floating,)):
        return _jsonable(float(v))
    if isinstance(v, (np.integer,)):
        return int(v)
    return v


def _fmax(a):
    return float(np.max(a)) if a.size else 0.0


def _fmean(a):
    return float(np.mean(a)) if a.size else 0.0


#: the observed error counts as measured when the reference radius is at most
#: this fraction of it (the error is then known to 1%)
RESOLVE = 1e-2


def node_stats(name, index, D, f, ref: RefData, ref_label, ap=None, hash=None) -> NodeStats:
    """Compare float64 image `f` of a float domain's node with the reference.

    Observed errors are |f - point| against the reference's point; with an
    enclosure they are known to within the reference radius r, and the rigorous
    bound is |f - point| + r (rounded up). Where r exceeds RESOLVE times the
    observed error, the observed fields are None and `measured` is False: the
    reference is too wide to say what the error is (the bound still holds)."""
    f = np.asarray(f, dtype=np.float64)
    if f.shape != ref.shape:
        raise FpsemError(f"node {name}: {D.label} has shape {f.shape}, reference {ref_label} {ref.shape}")
    fmt = D.format
    st = NodeStats(name=name, domain=D.label, index=index, shape=tuple(f.shape), size=int(f.size),
                   reference=ref_label if ref.rigorous else f"{ref_label} (not rigorous)",
                   rigorous=ref.rigorous, hash=bits_hash(f) if hash is None else hash)
    finite = np.isfinite(f)
    st.nonfinite = int((~finite).sum())
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        ebound = None
        if ref.kind == "exact":
            err, ebound = _exact_errors(f, ref.fracs)
            rad = np.zeros(f.shape)
        elif ref.kind == "enclosure":
            rad = ref.rad if ref.rad is not None else np.maximum(abs_diff_up(f, ref.lo), abs_diff_up(ref.hi, f))
            if ref.point2 is not None:
                s1, e1 = two_sum(f, -ref.point)
                d = s1 + (e1 - ref.point2)
                err = np.abs(d)
                dup = up(err, 4)
            else:
                err = np.abs(f - ref.point)
                dup = abs_diff_up(f, ref.point)
            ebound = up(dup + rad, 1)
            bad = ~np.isfinite(f) | ~np.isfinite(ebound)
            ebound = np.where(bad, INF, ebound)
            err = np.where(~np.isfinite(f), INF, err)
        else:
            err = np.abs(f - ref.point)
            rad = np.zeros(f.shape)
        err = np.where(np.isnan(err), INF, err)
        nz = ref.point != 0
        rel = err[nz] / np.abs(ref.point[nz])
        ulps = err / ulp(ref.point, fmt)
        max_abs = _fmax(err)
        max_rad = _fmax(rad)
        st.ref_radius = max_rad if ref.rigorous else None
        st.ref_scale = _fmax(np.abs(np.where(np.isfinite(ref.point), ref.point, 0.0)))
        if ref.rigorous and max_rad > 0:
            scale = max_abs if max_abs > 0 else 2.0 ** -60 * _fmax(np.abs(np.where(finite, f, 0.0)))
            st.measured = bool(math.isfinite(max_rad) and max_rad <= RESOLVE * scale) or (st.nonfinite > 0 and
                                                                                       not math.isfinite(max_abs))
        if st.measured:
            st.max_abs, st.mean_abs = max_abs, _fmean(err)
            st.max_rel, st.mean_rel = _fmax(rel), _fmean(rel)
            st.max_ulp, st.mean_ulp = _fmax(ulps), _fmean(ulps)
        else:
            st.max_abs = st.mean_abs = st.max_rel = st.mean_rel = st.max_ulp = st.mean_ulp = None
        if f.size:
            w = int(np.argmax(ulps))
            st.worst_index = tuple(int(i) for i in np.unravel_index(w, f.shape))
            st.worst_value = float(f.ravel()[w])
            st.worst_ref = float(ref.point.ravel()[w]) if st.measured else None
        if ebound is not None:
            st.bound_abs = _fmax(ebound)
            st.bound_ulp = _fmax(up(ebound / ulp_lower(ref.lo, ref.hi, fmt), 1))
            st.ref_width = _fmax(up(ref.hi - ref.lo, 1))
            if st.measured and st.max_abs:
                st.tightness = st.bound_abs / st.max_abs
    if ap is not None:
        st.apriori, st.apriori_ratio = ap.bound, ap.ratio
        st.apriori_observed, st.apriori_what = ap.observed, ap.what
    return st


def _exact_errors(f, fracs):
    """(nearest, upward) float64 of |f_i - q_i| computed exactly with rationals."""
    err = np.empty(f.shape)
    eup = np.empty(f.shape)
    ef, uf, ff, qf = err.ravel(), eup.ravel(), f.ravel(), np.asarray(fracs, dtype=object).ravel()
    for i in range(ff.size):
        v = float(ff[i])
        if not math.isfinite(v):
            ef[i] = uf[i] = INF
            continue
        d = abs(Fraction(v) - Fraction(qf[i]))
        try:
            ef[i] = float(d)
        except OverflowError:
            ef[i] = INF
        uf[i] = frac_up(d)
    return err, eup


# -- decisions -------------------------------------------------------------------
@dataclass
class Verdict:
    """Top-1 of one row in one domain, and whether the real top-1 is certainly it."""
    domain: str
    top1: int
    certain: bool | None   # None: no rigorous bound to decide with
    margin: float | None   # lower(top1) - max_j upper(j); > 0 iff certain
    runner_up: int | None = None


@dataclass
class Decision:
    """The decision (argmax along the model's decision axis) at one row of a node.

    `top1` / `certain` / `margin` are those of the primary float domain: certain
    means every real result within the rigorous bound has the same top-1
    (lower bound of the top-1 logit > upper bounds of all others).
    `reference` is the same test on the reference enclosure itself.
    """
    node: str
    row: int
    rows: int
    top1: int
    certain: bool | None
    margin: float | None
    agrees: bool | None     # float top-1 == the real top-1; None when the reference does not certify it
    reference: Verdict
    domains: dict = field(default_factory=dict)
    uncertain_rows: int | None = 0  # rows (of all) whose primary-domain decision is not certain

    def to_dict(self):
        d = asdict(self)
        return json.loads(json.dumps(d, default=_jsonable), parse_constant=lambda c: c)


def _verdict(label, lo, hi, point, rigorous):
    """lo <= real <= hi (rigorous) per class; point picks the top-1."""
    finite = np.isfinite(point)
    t = int(np.argmax(np.where(finite, point, -INF))) if finite.any() else 0
    if point.size == 1:
        return Verdict(label, t, True if rigorous else None, INF if rigorous else None, None)
    others = np.delete(np.arange(point.size), t)
    j = int(others[np.argmax(hi[others])])
    if not rigorous:
        p2 = point.copy()
        p2[t] = -INF
        return Verdict(label, t, None, None, int(np.argmax(p2)))
    with np.errstate(invalid="ignore", over="ignore"):
        margin = float(lo[t]) - float(hi[j])
    certain = bool(lo[t] > hi[j])
    return Verdict(label, t, certain, margin, j)


def _float_bounds(f, ref):
    """Per-element rigorous [f - b, f + b] with b the bound from the reference enclosure."""
    b = np.maximum(abs_diff_up(f, ref.lo), abs_diff_up(ref.hi, f))
    with np.errstate(invalid="ignore", over="ignore"):
        lo = np.nextafter(f - b, -INF)
        hi = np.nextafter(f + b, INF)
    return lo, hi


# -- divergence --------------------------------------------------------------------
@dataclass
class Divergence:
    """First node where two float domains stop agreeing bit for bit (node None: they agree)."""
    a: str
    b: str
    node: str | None
    index: tuple | None = None
    a_value: float | None = None
    b_value: float | None = None
    differing: int | None = None       # differing elements in that node
    agreeing_nodes: int = 0            # nodes before it that agree
    diverged_nodes: list = field(default_factory=list)  # every node whose bits differ
    note: str = ""

    def __bool__(self):
        return self.node is not None

    @property
    def promised(self):
        """True when the two domains' declared semantics promise identical bits."""
        return not self.note

    def to_dict(self):
        d = asdict(self)
        d["index"] = list(self.index) if self.index is not None else None
        return {k: _jsonable(v) for k, v in d.items()}


# -- the envelope ------------------------------------------------------------------
class Envelope:
    """Node-by-node error envelope of one or more float domains against a reference."""

    def __init__(self, model, domains, reference, reference_kind, nodes, stats, divergences,
                 tensors, ref_kept, decision_data, timings, notes):
        self.model = model
        self.domains = domains            # labels, primary first
        self.reference = reference        # label
        self.reference_kind = reference_kind
        self.nodes = nodes                # names in execution order
        self._stats = stats               # label -> {name: NodeStats}
        self._divergences = divergences   # list of Divergence
        self.tensors = tensors            # (label, name) -> float64 array (kept nodes)
        self.reference_tensors = ref_kept  # name -> (lo, hi)
        self._decision_data = decision_data
        self.timings = timings
        self.notes = notes
        #: bits of a ball reference's midpoints (None for other references)
        self.reference_bits = None
        #: sha256 of what the envelope was computed from (the model's input arrays)
        self.inputs = {}
        #: with keep_outputs=True: label -> what the forward returned (the reference
        #: under env.reference), so a caller shows results without running again
        self.outputs = {}

    # -- queries -----------------------------------------------------------------
    @property
    def domain(self):
        return self.domains[0]

    def _dom(self, domain):
        if domain is None:
            return self.domains[0]
        label = getattr(domain, "label", domain)
        if label not in self._stats:
            raise FpsemError(f"envelope has no float domain {label!r}; it has {', '.join(self.domains)}")
        return label

    def node(self, name, domain=None) -> NodeStats:
        """Statistics of node `name` (of the primary float domain unless `domain`)."""
        d = self._stats[self._dom(domain)]
        if name not in d:
            close = [n for n in self.nodes if name in n][:5]
            hint = f"; did you mean {', '.join(close)}" if close else ""
            raise UnknownNode(f"no node {name!r} in this envelope ({len(self.nodes)} nodes){hint}")
        return d[name]

    def stats(self, domain=None):
        """All NodeStats of a domain in execution order."""
        d = self._stats[self._dom(domain)]
        return [d[n] for n in self.nodes if n in d]

    def worst(self, k=5, by="ulp", domain=None):
        """The k nodes with the largest `by` (ulp, abs, rel, bound, bound_ulp, ratio, apriori)."""
        if by not in BY:
            raise FpsemError(f"worst(by={by!r}): choose one of {', '.join(BY)}")
        attr = BY[by]
        rows = [s for s in self.stats(domain) if getattr(s, attr) is not None]
        rows.sort(key=lambda s: (-_key(getattr(s, attr)), s.index))
        return rows[:int(k)]

    def diverge(self, a=None, b=None):
        """First bit-level divergence between two float domains (default: the
        primary domain against the first other float domain)."""
        if not self._divergences:
            only = self.domains[0]
            return Divergence(only, only, None, note="only one float domain ran: nothing to compare "
                                                     "(pass compare=[...] or several domains)")
        if a is None and b is None:
            return self._divergences[0]
        a, b = self._dom(a), self._dom(b)
        for d in self._divergences:
            if {d.a, d.b} == {a, b}:
                return d
        raise FpsemError(f"no bit comparison between {a} and {b} was recorded")

    def divergences(self):
        return list(self._divergences)

    def decision(self, row=-1, node=None) -> Decision:
        """Top-1 (argmax along the decision axis) at `row` of the decision node and
        whether the rigorous bound makes it certain, with the margin."""
        dd = self._decision_data
        if dd is None:
            raise FpsemError("this envelope kept no decision node (pass decision='<node>')")
        if node is not None and node != dd["node"]:
            raise FpsemError(f"decision node is {dd['node']!r}; rerun with decision={node!r}")
        ref = dd["ref"]
        R = ref[0].shape[0]
        if not -R <= row < R:
            raise FpsemError(f"decision row {row} out of range for {R} rows")
        r = row % R
        rigorous = self.reference_kind in ("enclosure", "exact")
        rv = _verdict(self.reference, ref[0][r], ref[1][r], ref[2][r], rigorous)
        verdicts = {}
        uncertain = 0
        for label, (flo, fhi, fv) in dd["float"].items():
            verdicts[label] = _verdict(label, flo[r], fhi[r], fv[r], rigorous)
            verdicts[label].certain = verdicts[label].certain if rigorous else None
            if label == self.domains[0]:
                for rr in range(R):
                    v = _verdict(label, flo[rr], fhi[rr], fv[rr], rigorous)
                    uncertain += 0 if v.certain else 1
            if not rigorous:
                verdicts[label].margin = None
        p = verdicts[self.domains[0]]
        agrees = (p.top1 == rv.top1) if rv.certain else None
        return Decision(node=dd["node"], row=r, rows=R, top1=p.top1, certain=p.certain,
                        margin=p.margin, agrees=agrees, reference=rv,
                        domains=verdicts, uncertain_rows=uncertain if rigorous else None)

    # -- output ---------------------------------------------------------------------
    def to_dict(self):
        from fpsem.io import json_header
        dec = None
        if self._decision_data is not None:
            dec = self.decision().to_dict()
        return {
            **json_header("envelope", self.inputs),
            "model": self.model,
            "domains": self.domains,
            "reference": self.reference,
            "reference_kind": self.reference_kind,
            "reference_bits": self.reference_bits,
            "rigorous": self.reference_kind in ("enclosure", "exact"),
            "nodes": self.nodes,
            "stats": {d: [s.to_dict() for s in self.stats(d)] for d in self.domains},
            "divergence": [d.to_dict() for d in self._divergences],
            "decision": dec,
            "timings": self.timings,
            "notes": self.notes,
        }

    def to_json(self, path=None, indent=1):
        text = json.dumps(self.to_dict(), indent=indent, default=_jsonable)
        if path is not None:
            from fpsem.io import write_text
            write_text(path, text + "\n")
        return text

    def table(self, domain=None, limit=None):
        """A rich Table of the nodes of one domain (print() or a plain REPL shows it as text)."""
        from fpsem.console import text_table
        label = self._dom(domain)
        rig = self.reference_kind in ("enclosure", "exact")
        t = text_table(title=f"{self.model}: {label} vs {self.reference}"
                  + ("" if rig else " (observed only, reference not rigorous)"))
        for col, just in (("#", "right"), ("node", "left"), ("shape", "left"), ("max abs", "right"),
                          ("max rel", "right"), ("max ulp", "right"), ("bound abs", "right"),
                          ("bound/obs", "right"), ("a-priori", "right"), ("obs/a-priori", "right"),
                          ("bits", "left")):
            t.add_column(col, justify=just)
        divs = {d.b: d for d in self._divergences if d.a == label}
        first_div = {d.node for d in self._divergences if d.a == label and d.node}
        rows = self.stats(label)
        if limit is not None and len(rows) > limit:
            rows = rows[:limit]
        for s in rows:
            bits = "[red]diverges[/]" if s.name in first_div else ""
            if not bits and divs:
                bits = "same" if all(s.name not in d.diverged_nodes for d in divs.values()) else "differs"
            if s.measured:
                obs = (_g(s.max_abs), _g(s.max_rel), _g(s.max_ulp, 3))
            else:
                obs = ("ref too wide", "-", "-")
            t.add_row(str(s.index), s.name, "x".join(map(str, s.shape)), *obs, _g(s.bound_abs),
                      _tight(s.tightness), _g(s.apriori), _g(s.apriori_ratio, 2), bits)
        return t

    def summary(self):
        """A few lines: the worst node, the decision and the divergence."""
        lines = [f"{self.model}: {len(self.nodes)} nodes, {' / '.join(self.domains)} vs "
                 f"{self.reference}{'' if self.reference_kind != 'float' else ' (not rigorous)'}"]
        w = self.worst(1, by="ulp")
        if w:
            s = w[0]
            lines.append(f"worst node by ulp: {s.name}: max {_g(s.max_ulp, 3)} ulp, max abs {_g(s.max_abs)}"
                         + (f", rigorous bound {_g(s.bound_abs)}" if s.bound_abs is not None else ""))
        last = self.stats()[-1] if self.nodes else None
        if last is not None and last.bound_abs is not None:
            lines.append(f"last node {last.name}: |error| <= {_g(last.bound_abs)} (rigorous)")
        ratios = [s.apriori_ratio for s in self.stats() if s.apriori_ratio is not None]
        if ratios:
            lines.append(f"a-priori bounds on {len(ratios)} nodes; max observed/a-priori {_g(max(ratios), 3)}")
        d = self.diverge()
        if d.a != d.b:
            expect = (f" (expected: {d.note})" if d.note else " (UNEXPECTED: their semantics promise identical bits)")
            lines.append(f"bits {d.a} vs {d.b}: " + (f"first divergence at {d.node} (element {d.index})" + expect
                                                      if d else "identical at every node"))
        if self._decision_data is not None:
            dec = self.decision()
            cert = {True: "certain", False: "NOT certain", None: "unknown (no rigorous reference)"}[dec.certain]
            lines.append(f"decision at {dec.node}[{dec.row}]: top-1 {dec.top1}, {cert}"
                         + (f", margin {_g(dec.margin)}" if dec.margin is not None else "")
                         + ("" if dec.agrees else
                            f"; the real top-1 is {dec.reference.top1} (certified by {self.reference})"
                            if dec.agrees is False else
                            f"; the real top-1 is not certified by {self.reference}"))
        return "\n".join(lines)

    def __repr__(self):
        return f"<Envelope {self.model}: {len(self.nodes)} nodes, {', '.join(self.domains)} vs {self.reference}>"

    def __str__(self):
        """print(env): the node table of every float domain, then the summary."""
        from fpsem.console import render_text
        return "\n".join([render_text(self.table(d)) for d in self.domains] + [self.summary()])

    def __rich_console__(self, console, options):
        """console.print(env): as print(env), rendered by rich."""
        from rich.text import Text
        for d in self.domains:
            yield self.table(d)
        yield Text(self.summary())  # text, not markup ("logits[3]")

    def plot(self, path, domain=None, title=None):
        """PNG of the error per node along the depth, one panel per float domain
        (needs matplotlib: pip install fpsem[plot]). Left axis: observed max
        |error|, rigorous bound and local a-priori bound; right axis: observed max
        ulp. Zero errors (bit-exact nodes) are not drawn (a log axis has no zero;
        the panel title counts them); the axis limits come from the data."""
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            raise FpsemError("plot needs matplotlib: pip install 'fpsem[plot]'") from None
        fig = self._figure(plt, domain, title)
        try:  # atomically: the old PNG survives an interrupted write
            from fpsem.io import atomic_write
            atomic_write(path, lambda fh: fig.savefig(fh, dpi=120, format="png"), binary=True)
        finally:
            plt.close(fig)
        return path

    def _figure(self, plt, domain=None, title=None):
        doms = self.domains if domain is None else [self._dom(domain)]
        n = len(self.nodes)
        fig, axes = plt.subplots(len(doms), 1, sharex=True, squeeze=False,
                                 figsize=(max(6.0, 0.22 * n + 3), 1.0 + 3.2 * len(doms)))
        x = np.arange(n)

        def series(st, attr):
            v = np.array([np.nan if (s := st.get(nm)) is None or getattr(s, attr) is None
                          else float(getattr(s, attr)) for nm in self.nodes])
            v[~(np.isfinite(v) & (v > 0))] = np.nan  # zeros and overflow: nothing to draw on a log axis
            return v

        def limits(ax, arrays):
            v = np.concatenate([a[np.isfinite(a)] for a in arrays]) if arrays else np.array([])
            if v.size:
                lo, hi = float(v.min()), float(v.max())
                ax.set_ylim(lo / 2, hi * 2) if lo < hi else ax.set_ylim(lo / 10, hi * 10)

        for ax, label in zip(axes[:, 0], doms):
            st = {s.name: s for s in self.stats(label)}
            obs = series(st, "max_abs")
            drawn = [obs]
            ax.semilogy(x, obs, marker="o", ms=3, color="C0", label="observed max |error|")
            if self.reference_kind != "float":
                drawn.append(series(st, "bound_abs"))
                ax.semilogy(x, drawn[-1], ls="--", color="C1", label="rigorous bound")
            apr = series(st, "apriori")
            if np.isfinite(apr).any():
                drawn.append(apr)
                ax.semilogy(x, apr, ls="", marker="^", ms=5, color="C2", label="local a-priori bound")
            limits(ax, drawn)
            ax.set_ylabel("absolute error")
            ax.grid(True, which="major", alpha=0.3)
            ulp = series(st, "max_ulp")
            ax2 = ax.twinx()
            ax2.semilogy(x, ulp, ls=":", marker="x", ms=4, color="C3", label="observed max ulp (right)")
            limits(ax2, [ulp])
            ax2.set_ylabel("ulp", color="C3")
            exact = sum(1 for nm in self.nodes if nm in st and st[nm].measured and st[nm].max_abs == 0)
            ax.set_title(f"{label} vs {self.reference}"
                         + (f" ({exact} bit-exact nodes not drawn)" if exact else ""), fontsize=9)
            h1, l1 = ax.get_legend_handles_labels()
            h2, l2 = ax2.get_legend_handles_labels()
            ax.legend(h1 + h2, l1 + l2, fontsize=7, loc="best")
        last = axes[-1, 0]
        last.set_xticks(x)
        last.set_xticklabels(self.nodes, rotation=90, fontsize=6)
        fig.suptitle(title or f"{self.model}: error per node vs {self.reference}")
        fig.tight_layout()
        return fig


def _tight(v):
    """bound/observed: how much the rigorous bound exceeds the measured error."""
    if v is None:
        return "-"
    if v - 1 < 1e-3:
        return f"1+{v - 1:.1e}"
    return f"{v:.3g}"


def _key(v):
    if v is None:
        return -INF
    return v if v == v else INF


def _g(v, digits=3):
    if v is None:
        return "-"
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return f"{v:.{digits}g}"


# -- running -------------------------------------------------------------------------
def _as_domain(spec, what, **opts):
    if isinstance(spec, str):
        name, _, rest = spec.partition(":")
        kw = dict(opts)
        for item in filter(None, rest.split(",")):
            k, _, v = item.partition("=")
            kw[k.strip()] = {"true": True, "false": False}.get(v.strip().lower(), v.strip())
        D = make_domain(name, **kw)
    elif hasattr(spec, "label") and hasattr(spec, "accuracy"):
        D = spec.replace(**opts) if opts else spec
    else:
        raise FpsemError(f"{what} must be a domain name or a domain object, got {spec!r}")
    return D


def run_domains(model, inputs=None, domains=("ieee32",), reference="auto", *, config=None,
                keep=(), apriori=True, decision="auto", compare="auto", acc=None, progress=None,
                model_opts=None, keep_outputs=False, forward_kw=None) -> Envelope:
    """Run `model` under the reference and every float domain with the same inputs.

    domains: names ("ieee32", "float32:acc=pairwise") or domain objects, primary first.
    reference: "auto" (default: "exact" for rational models, else "ball" with its
    precision chosen by `auto_precision`), "ball" / "ball:prec=N", "interval"
    (rigorous, fast, loose on deep nets), "exact", or a float domain
    (observations only). keep: node names whose full tensors are kept ("all": every
    node's, of every float domain; not the reference's).
    compare: extra float domains for bit comparison ("auto": the domain whose
    bits the primary promises to match, e.g. float32 with the same order for ieee32).
    acc: accumulation order given to every float domain that takes one.
    decision: node name for .decision() ("auto": `logits` if tapped, else the last node; None: off).
    keep_outputs: keep each domain's forward result in env.outputs (the run is not repeated
    to show them). forward_kw: keyword arguments of every forward call (e.g. return_cache=True).
    """
    spec = model if isinstance(model, ModelSpec) else resolve_model(model, inputs, config, **(model_opts or {}))
    if isinstance(domains, (str,)) or hasattr(domains, "accuracy"):
        domains = [domains]
    opts = {"acc": acc} if acc is not None else {}
    Ds = []
    for d in domains:
        D = _as_domain(d, "domain", **opts)
        if not D.is_float or D.format is None:
            raise FpsemError(f"domain {D.label} is not a float domain; envelopes compare float domains "
                             f"against a reference (pass it as reference=)")
        Ds.append(D)
    if compare == "auto":
        extra = companions(Ds[0])[:1] if len(Ds) == 1 else []
    else:
        extra = [_as_domain(c, "compare") for c in (compare or ())]
    for e in extra:
        if e.label not in [D.label for D in Ds]:
            Ds.append(e)
    if reference is None or (isinstance(reference, str) and reference.strip().lower() == "auto"):
        reference = default_reference(bool(spec.is_rational))
    R = _as_domain(reference, "reference")
    rkind = reference_kind(R)
    if rkind == "exact" and spec.is_rational is False:
        raise FpsemError(f"model {spec.name} is not rational (it uses exp/tanh/...): the exact reference "
                         f"cannot run it; use reference='ball' or 'interval'")
    args = dict(keep=keep, apriori=apriori, decision=decision, progress=progress,
                keep_outputs=keep_outputs, forward_kw=forward_kw)
    if not getattr(R, "auto", False):
        return _run_once(spec, Ds, R, **args)
    # the precision of an 'auto' ball: predicted from a cheap probe (on the
    # reference's thread, while the float domains run), then checked
    probe = {}

    def probed():
        t0 = time.perf_counter()
        probe["bits"], probe["note"] = auto_precision(spec, R, Ds, progress=progress)
        probe["s"] = time.perf_counter() - t0
        return R.replace(prec=probe["bits"])

    passes = []
    make_R = probed
    for _attempt in range(3):
        env = _run_once(spec, Ds, R, make_R=make_R, **args)
        short = _precision_deficit(env)
        passes.append(env.reference_bits)
        if short <= 0:
            break
        make_R = functools.partial(R.replace, prec=int(min(65536, env.reference_bits + short + 16)))
    probe_note = probe["note"]
    env.timings["auto-precision probe"] = probe["s"]
    env.reference_bits = passes[-1]
    env.notes.append(f"reference precision chosen automatically: {probe_note}; "
                     + (f"ran at {passes[-1]} bits" if len(passes) == 1 else
                        f"re-ran at {' -> '.join(map(str, passes))} bits (radius too wide at {passes[0]})")
                     + (f"; still {_precision_deficit(env)} bits short of the 2^-30 rule" if _precision_deficit(env) > 0
                        else "; every node's reference radius is below 2^-30 of the observed error "
                             "(or at the 2^-46 relative floor of its float64 view)"))
    return env


#: the reference radius must be at most 2**-AUTO_MARGIN of the observed error at every node
AUTO_MARGIN = 30
#: relative radius of the float64 view of a ball (its midpoint rounded to float64 and
#: bounded with slack): below this the reference radius is the view's, not the ball's
FLOOR64 = 2.0 ** -46


def _precision_deficit(env):
    """Bits the reference lacks for the rule radius <= 2^-30 * observed error at
    every node of every float domain (<= 0: none)."""
    worst = -math.inf
    for label in env.domains:
        for st in env.stats(label):
            r = st.ref_radius
            if r is None or r == 0:
                continue
            if not math.isfinite(r):
                return 64
            obs = st.max_abs
            if obs is None:   # too wide to measure: the probe's prediction was off
                obs = r / RESOLVE / 2.0 ** 20
            if obs == 0 or not math.isfinite(obs):
                continue
            if st.ref_scale and r <= st.ref_scale * FLOOR64:
                continue   # the float64 view's own rounding: more bits cannot shrink it
            worst = max(worst, math.log2(r / obs) + AUTO_MARGIN)
    return int(math.ceil(worst)) if worst > -math.inf else 0


class _ProbeStop(Exception):
    pass


def auto_precision(spec, R, Ds, progress=None, p0=96, sample=512):
    """Bits for a ball reference so that its radius stays below 2^-30 of the
    float errors at every node.

    Rule: a ball's radius is its rounding (2^-prec relative) amplified by the
    network's radius growth G(node), and the float errors are at least about
    2^-p_f relative (p_f the float format's precision). A probe runs the model
    in balls at p0 bits and measures, on a sample of each node's elements, the
    bits lost g(node) = log2(radius / |midpoint|) + p0, stopping once the radius
    reaches the value. Bits = max g (extrapolated per model block to the end of
    the model when the probe stopped early) + p_f + 30 + 16 bits of margin.
    run_domains then checks the rule on the real errors and re-runs with the
    missing bits if it does not hold."""
    from .record import record
    pf = max(D.format.p for D in Ds)
    need = pf + AUTO_MARGIN + 16
    P = R.replace(prec=p0)
    losses = []            # (steps done, bits lost)
    steps = [0]

    def advance(label=""):
        steps[0] += 1
        if progress is not None:
            progress(label)

    def on_node(name, x):
        m, r = _sampled_mid_rad(P, x, sample)
        if m is None:
            return
        top = float(np.max(np.abs(m))) if m.size else 0.0
        rmax = float(np.max(r)) if r.size else 0.0
        if rmax == 0:
            return
        if top == 0 or not math.isfinite(rmax) or not math.isfinite(top):
            raise _ProbeStop
        ratio = rmax / top
        if ratio <= 0:      # underflowed: far below any precision that matters
            return
        g = math.log2(ratio) + p0
        losses.append((steps[0], g))
        if g > p0 - 12:
            raise _ProbeStop

    stopped = False
    try:
        record(spec, P, on_node, advance)
    except _ProbeStop:
        stopped = True
    except FpsemError:
        stopped = True        # a probe too imprecise to run (e.g. log of a ball reaching 0)
    n_steps = max(1, int(getattr(spec.obj, "n_steps", 1) or 1))
    gmax = max((g for _, g in losses), default=0.0)
    if not stopped:
        bits = gmax + need
        why = f"probe at {p0} bits lost at most {gmax:.0f} bits"
    else:
        done = max(steps[0], 1)
        total = _extrapolate(losses, gmax, done, n_steps)
        bits = max(2 * p0, total + need)
        why = (f"probe at {p0} bits lost {gmax:.0f} bits in {steps[0]} of {n_steps} blocks "
               f"(extrapolated: {total:.0f} bits)")
    bits = int(min(65536, max(64, math.ceil(bits / 32) * 32)))
    return bits, why


def _extrapolate(losses, gmax, done, n_steps):
    """Bits a probe that stopped after `done` of `n_steps` blocks would have lost by
    the end: its loss so far plus, for each block left (and the head), the largest
    per-block growth it saw (the last two block-to-block steps, or the average
    since the first block: the loss starts at an offset, the first blocks' rounding,
    and then grows about linearly with depth). Without two blocks to compare: the
    average per block over the whole probe (an overestimate)."""
    by_step = {}
    for st, g in losses:
        by_step[st] = max(by_step.get(st, -math.inf), g)
    ks = sorted(by_step)
    if len(ks) < 3:
        return gmax / done * (n_steps + 1)
    g = [by_step[k] for k in ks]
    slope = max(g[-1] - g[-2], g[-2] - g[-3], (g[-1] - g[0]) / (ks[-1] - ks[0]))
    return gmax + max(slope, 0.0) * (n_steps + 1 - done)


def _sampled_mid_rad(D, x, sample):
    """Float64 midpoints and the balls' own radii (not those of their float64 views,
    which are at least 2^-53 of the midpoint) of up to `sample` evenly spaced elements."""
    v = D._parts(raw(x))[0]
    flat = v.reshape(-1)
    if flat.size == 0:
        return None, None
    if flat.size > sample:
        flat = flat[np.linspace(0, flat.size - 1, sample).astype(np.int64)]
    from fpsem.domains.ball import Ball
    b = Ball(np.ascontiguousarray(flat))
    return D.mid_rad(b)[0], D.radius(b)


#: run the reference on a second thread while the float domains run on the caller's
#: (False: one after the other; the results are the same bit for bit)
CONCURRENT = True


class _Stopped(Exception):
    """The caller stopped the reference run (an error or an interrupt)."""


class _RefRun:
    """The reference forward, kept compactly node by node: on a thread of its own
    while the caller runs the float domains (their statistics need each node's
    reference only once it is there), or inline. The reference domain comes from
    make_R, run first on that thread (the auto-precision probe goes there too)."""

    def __init__(self, spec, make_R, rkind, double, progress, forward_kw):
        self.spec, self.make_R, self.rkind, self.double = spec, make_R, rkind, double
        self.progress, self.forward_kw = progress, forward_kw
        self.refs, self.index = {}, {}
        self.R = self.out = self.nodes = self.seconds = self.error = None
        self.stop = False
        self.thread = None

    def _on_ref(self, name, x):
        if self.stop:
            raise _Stopped
        d = reference_data(self.R, x, self.rkind, double=self.double)
        self.index[name] = len(self.index)
        self.refs[name] = d          # published last: a reader that sees it sees the index

    def _run(self):
        try:
            self.R = self.make_R()
            self.out, self.nodes, self.seconds = record(self.spec, self.R, self._on_ref, self.progress,
                                                        self.forward_kw)
        except BaseException as e:   # handed to the caller by wait()
            self.error = e

    def start(self, concurrent):
        if concurrent:
            import contextvars
            import threading
            ctx = contextvars.copy_context()      # the caller's trace scope and progress
            self.thread = threading.Thread(target=ctx.run, args=(self._run,), name="fpsem-reference",
                                           daemon=True)
            self.thread.start()
        else:
            self._run()

    def check(self):
        """Raise the reference's error now, if it has one (no waiting)."""
        if self.error is not None and not isinstance(self.error, _Stopped):
            raise self.error

    def wait(self, meanwhile=None):
        """Wait for the reference to end, calling meanwhile() (the statistics of the
        nodes it has done so far) between short waits; raise its error."""
        if self.thread is not None:
            while self.thread.is_alive():
                if meanwhile is not None:
                    meanwhile()
                self.thread.join(0.05)       # short waits: an interrupt is seen at once
        self.check()

    def cancel(self):
        self.stop = True


def _run_once(spec, Ds, R, *, keep, apriori, decision, progress, keep_outputs=False, forward_kw=None,
              make_R=None):
    """One run of the reference R and of every float domain. The float domains run
    one after the other on the caller's thread, the reference beside them on a
    second one (unless CONCURRENT is off or R is bound to its thread); each float
    node's statistics are taken once the reference has that node. make_R, if given,
    is called on the reference's thread and returns the domain to run (R with its
    precision chosen by a probe)."""
    make_R = make_R or (lambda: R)
    rkind = reference_kind(R)
    double = any(D.format.p > 30 for D in Ds) and rkind == "enclosure"
    keep_all = keep == "all"
    keep = set() if keep_all else set(keep or ())
    timings = {}
    notes = list(spec.notes)
    # an observer of the caller sees every call in order: then one thread
    concurrent = CONCURRENT and not R.thread_bound and trace.watch() is None
    ref = _RefRun(spec, make_R, rkind, double, progress, forward_kw)
    ctx = _threads.blas_one_thread() if concurrent else contextlib.nullcontext()
    try:
        with ctx:
            ref.start(concurrent)
            ref.check()
            env = _floats_against(spec, Ds, ref, keep, keep_all, apriori, decision, progress,
                                  forward_kw, timings, notes)
    except BaseException:
        ref.cancel()
        raise
    env.outputs = {}
    if keep_outputs:
        env.outputs = dict(env._outs)
        env.outputs[ref.R.label] = ref.out
    del env._outs
    try:
        from fpsem.io import arrays_sha256
        env.inputs = {"inputs_sha256": arrays_sha256(spec.inputs)}
    except (TypeError, ValueError):  # inputs that are not arrays (a callable's own objects)
        env.inputs = {}
    return env


def _floats_against(spec, Ds, ref, keep, keep_all, apriori, decision, progress, forward_kw, timings, notes):
    refs = ref.refs
    stats, hashes = {}, {}
    tensors = {}
    first_vals = {}   # compact values of the first float domain, for divergence detail
    divergences = []
    held = {}         # label -> (last node, values); (label, node) -> values: for the decision
    names_of = {}     # label -> the domain's node names
    pending = collections.deque()   # (label, D, name, f, ap, hash): waiting for the reference's node
    outs = {}
    want_first = len(Ds) > 1

    def stat(label, D, name, f, ap, h):
        r = refs.get(name)
        return None if r is None else node_stats(name, ref.index[name], D, f, r, ref.R.label, ap, hash=h)

    def drain(all_=False):
        # every node whose reference is there (in order: a domain's nodes arrive in the
        # reference's order, so each domain's statistics stay in node order)
        if not (pending and (all_ or any(p[2] in refs for p in pending))):
            return
        ready, left = [], collections.deque()
        while pending:
            p = pending.popleft()
            (ready if all_ or p[2] in refs else left).append(p)
        pending.extend(left)
        if all_ and len(ready) > 1 and ref.thread is not None:
            # the last nodes (the largest: logits) of every domain at once: the
            # reference's thread is done, numpy's big passes release the GIL
            res = list(_threads.pool().map(lambda p: stat(*p), ready))
        else:
            res = [stat(*p) for p in ready]
        for p, st in zip(ready, res):
            if st is None:
                notes.append(f"{p[0]}: node {p[2]} not recorded by the reference; skipped")
            else:
                stats[p[0]][p[2]] = st

    for di, D in enumerate(Ds):
        RD = Running(D) if apriori else None
        if RD is not None and not RD.usable:
            RD = None
        probe = [None]
        label = D.label
        if label in stats:
            raise FpsemError(f"domain {label} given twice")
        st_d, h_d = {}, {}
        stats[label], hashes[label] = st_d, h_d
        divs = [Divergence(Ds[0].label, label, None, note=bit_promise(Ds[0], D))] if di > 0 else []

        def on_node(name, x, D=D, RD=RD, probe=probe, h_d=h_d, di=di, divs=divs, label=label):
            ref.check()
            if RD is not None:
                rv = raw(x)
                ap = _running_apriori(RD, rv)
                RD.rebase(rv)       # the next nodes start from this node's float values
                x = Value(D, rv.f)
            f = D.point(x)
            if RD is None:
                ap = _ap.node_apriori(probe[0], x, f)
            h = bits_hash(np.asarray(f, dtype=np.float64))
            h_d[name] = h
            if keep_all or name in keep:
                tensors[(label, name)] = np.array(f, dtype=np.float64)
            held[label] = (name, f)                       # the last node, for decision="auto"
            if name == decision or name == "logits":
                held[(label, name)] = f
            fc = _compact(f, D)
            pending.append((label, D, name, fc, ap, h))
            if want_first and di == 0:
                first_vals[name] = fc
            elif di > 0:
                dv = divs[0]
                if hashes[Ds[0].label].get(name) != h:
                    dv.diverged_nodes.append(name)
                    if dv.node is None:
                        a = first_vals.get(name)
                        dv.node = name
                        if a is not None and a.shape == f.shape:
                            diff = ~((a == f) & (np.signbit(a) == np.signbit(f)) | (np.isnan(a) & np.isnan(f)))
                            dv.differing = int(diff.sum())
                            if diff.any():
                                w = int(np.flatnonzero(diff.ravel())[0])
                                dv.index = tuple(int(i) for i in np.unravel_index(w, f.shape))
                                dv.a_value, dv.b_value = float(a.ravel()[w]), float(f.ravel()[w])
                elif dv.node is None:
                    dv.agreeing_nodes += 1
            drain()

        if RD is not None:
            out, names_d, timings[label] = record(spec, RD, on_node, progress, forward_kw)
            outs[label] = _unrun(out, D)
        else:
            with _ap.probing(D, apriori) as probe[0]:
                outs[label], names_d, timings[label] = record(spec, D, on_node, progress, forward_kw)
        if probe[0] is not None and probe[0].errors:
            notes.append(f"{label}: a-priori probe skipped some dots: {probe[0].errors[0]}")
        names_of[label] = names_d
        for dv in divs:
            if dv.node is None:
                dv.note = "bit-identical at every node"
            divergences.append(dv)
    first_vals.clear()

    ref.wait(meanwhile=drain)
    R, nodes = ref.R, ref.nodes
    timings[R.label] = ref.seconds
    if not nodes:
        raise FpsemError(f"model {spec.name} tapped no nodes and returned no domain value")
    drain(all_=True)
    for D in Ds:
        names_d = names_of.get(D.label, [])
        if names_d != nodes:
            missing = [n for n in nodes if n not in names_d]
            notes.append(f"{D.label}: node sequence differs from the reference's"
                         + (f" (missing {', '.join(missing[:5])})" if missing else ""))
    dnode = None
    if decision == "auto":
        dnode = "logits" if "logits" in refs else nodes[-1]
    elif decision:
        if decision not in refs:
            raise UnknownNode(f"decision node {decision!r} was not recorded; nodes: {', '.join(nodes[:8])}...")
        dnode = decision
    dec_float = {}
    if dnode is not None:
        r = refs[dnode]

        def dec(D):
            f = held.get((D.label, dnode))
            if f is None and held.get(D.label, (None,))[0] == dnode:
                f = held[D.label][1]
            if f is None or np.shape(f) != r.shape:
                return None
            f = np.asarray(f, dtype=np.float64)
            lo, hi = _float_bounds(f, r) if r.rigorous else (f, f)
            return tuple(_rows(v, spec.decision_axis) for v in (lo, hi, f))
        got = list(_threads.pool().map(dec, Ds)) if ref.thread is not None and len(Ds) > 1 else [dec(D) for D in Ds]
        dec_float = {D.label: g for D, g in zip(Ds, got) if g is not None}
    # the reference first, as before the runs were concurrent
    timings = {R.label: timings.pop(R.label), **timings}
    ref_kept = {n: (refs[n].lo, refs[n].hi) for n in keep if n in refs}
    decision_data = None
    if dnode is not None and dec_float:
        r = refs[dnode]
        decision_data = {"node": dnode,
                         "ref": tuple(_rows(v, spec.decision_axis) for v in (r.lo, r.hi, r.point)),
                         "float": dec_float}
    refs.clear()
    env = Envelope(spec.name, [D.label for D in Ds], R.label, ref.rkind, nodes, stats, divergences,
                   tensors, ref_kept, decision_data, timings, notes)
    env.reference_bits = getattr(R, "prec", None)
    env._outs = outs
    return env


def _unrun(obj, D):
    """A forward's output with running values replaced by the float domain D's own."""
    r = raw(obj)
    if isinstance(r, RV):
        return Value(D, r.f)
    if isinstance(obj, (tuple, list)):
        return type(obj)(_unrun(v, D) for v in obj)
    if isinstance(obj, dict):
        return {k: _unrun(v, D) for k, v in obj.items()}
    return obj


def _running_apriori(RD, x):
    r = local_stats(RD, x)
    if r is None:
        return None
    bound, observed, ratio = r
    if not math.isfinite(bound):
        return None
    return _ap.Apriori(bound=bound, ratio=ratio, observed=observed,
                       what="running bound of the node's own roundings (local)", gamma=math.nan, roundings=0)


def _rows(v, axis):
    v = np.asarray(v, dtype=np.float64)
    if v.ndim == 0:
        return v.reshape(1, 1)
    v = np.moveaxis(v, axis, -1)
    return v.reshape(-1, v.shape[-1])


def _compact(f, D):
    fmt = D.format
    if fmt.p <= 24 and fmt.emin >= -126 and fmt.bits <= 32:
        return f.astype(np.float32)  # exact: every value of such a format is a binary32 value
    return f.copy()


def envelope(model, inputs=None, *, domain="ieee32", reference="auto", config=None, **opts):
    """fpsem.envelope: run `model` (a zoo name or a callable f(D, *inputs)) under
    `domain` (a name, domain object or list of them) and `reference`; return an
    Envelope (see `run_domains` for the options keep=, apriori=, decision=,
    compare=, acc=, progress=)."""
    return run_domains(model, inputs, domain, reference, config=config, **opts)


# Public names for other bridges that build an Envelope from values fpsem did not
# compute (bridges/observed.py); the underscored originals stay for this module's callers.
#: per-element rigorous [f - b, f + b] of a float image f against a reference enclosure
float_bounds = _float_bounds
#: a node's values as rows along the decision axis, for Envelope.decision()
decision_rows = _rows
