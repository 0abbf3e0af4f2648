"""A-priori (standard-model) bounds for tapped nodes, found by watching `dot`.

A `Probe` watches a float domain through fpsem.trace.observe (`probing(D)`)
and notes what its top-level `dot` and `add` computed. When a model taps a
value that is the result of the last top-level `dot` (a matmul of length k in
order o), or of that dot plus one `add` (a bias), the node gets

    local bound_ij = gamma_r(fmt) * (|A| @ |B|)_ij + 2 k eta           (dot)
                   + u/(1-u) |y_ij|                                     (+ bias)

with r = o.roundings(k, dot=True) (Higham, ASNA 2nd ed., eq. 3.5 and Thm 3.1/4.3
for any fixed order; eq. 2.8 for the underflow term eta), u the unit roundoff
of the domain's rounding, and y the rounded sum. This bounds the error the node
itself commits given the float inputs it actually received: it is a *local*
bound. The matching observation is the local error |fl(A@B [+ b]) - (A@B [+ b])|
against a double-double evaluation of the same float inputs, so
observed/a-priori <= 1 is a theorem the audit and the tests check.

Honesty rules: a node that is not such a value gets no a-priori bound (None);
so does a domain whose `dot` accuracy is not 'ordered'/'correctly_rounded'/
'exact' (e.g. declared 'unspecified'), whose `add` is not correctly rounded
(for the bias step), or that is not a point float domain with a format.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from fpsem import trace
from fpsem.bounds import eta as _eta
from fpsem.bounds import gamma, unit_roundoff
from fpsem.errors import FpsemError
from fpsem.interrupts import reraise_interrupt
from fpsem.value import raw

from ._num import INF, compensated_dot, frac_up, two_sum, up

#: above this many multiply-adds a dot's local observation is taken on a row sample
LOCAL_WORK_CAP = 4_000_000

_OK_DOT = ("ordered", "correctly_rounded", "exact")
_OK_ADD = ("correctly_rounded", "exact")


@dataclass
class _DotNote:
    k: int
    order: object
    S: np.ndarray              # upper bound of |A| @ |B| (output shape)
    ref_hi: np.ndarray | None  # double-double local reference (possibly on sampled rows)
    ref_lo: np.ndarray | None
    rows: np.ndarray | None    # sampled rows of the second-to-last axis, None = all
    bias: bool = False
    what: str = ""


class Probe:
    """Observer of one float domain's top-level dot and add (see module doc)."""

    def __init__(self, D):
        self.D = D
        self.last_out = None
        self.note = None
        self.errors = []

    def clear(self):
        self.last_out = None
        self.note = None

    def __call__(self, call):
        if call.depth or call.name not in ("dot", "add"):
            return   # dots inside sum/max and other primitives are not top-level
        try:
            if call.name == "dot":
                a, b = call.args[:2]
                acc = call.args[2] if len(call.args) > 2 else call.kwargs.get("acc")
                _note_dot(self.D, self, a, b, acc, call.result)
            elif self.last_out is not None and not self.note.bias:
                x, y = call.args[:2]
                if x is self.last_out or y is self.last_out:
                    _note_bias(self.D, self, y if x is self.last_out else x, call.result)
        except Exception as e:  # a probe must never break the run it watches
            reraise_interrupt(e)  # ... but an interrupt ends it
            self.clear()
            self.errors.append(f"{call.name}: {type(e).__name__}: {e}")


@contextlib.contextmanager
def probing(D, enabled=True):
    """Watch float domain D inside the block; yields its Probe, or None when
    disabled or D is not a point float domain with a format (then no node gets
    an a-priori bound)."""
    if not enabled or D.semantics.kind != "point" or D.format is None:
        yield None
        return
    probe = Probe(D)
    with trace.observe(probe, domain=D):
        yield probe


def _as_matmul_operands(A, B):
    va, vb = A.ndim == 1, B.ndim == 1
    if va:
        A = A[None, :]
    if vb:
        B = B[:, None]
    return A, B, va, vb


def _squeeze_like(x, va, vb):
    if va:
        x = x[..., 0, :]
    if vb:
        x = x[..., 0]
    return x


def _note_dot(D, st, a, b, acc, out):
    st.clear()
    order = D._order("dot", acc)
    A, B = D.point(a), D.point(b)
    A, B, va, vb = _as_matmul_operands(A, B)
    k = A.shape[-1]
    with np.errstate(over="ignore", invalid="ignore"):
        S = np.matmul(np.abs(A), np.abs(B))
    # float64 evaluation of sum|a b|: relative error <= gamma_k(2**-53); widen by that
    S = up(S * (1.0 + (k + 2) * 2.0 ** -52))
    m, n = A.shape[-2], B.shape[-1]
    batch = int(np.prod(np.broadcast_shapes(A.shape[:-2], B.shape[:-2]), dtype=np.int64))
    rows = None
    if batch * m * n * k > LOCAL_WORK_CAP and m > 1 and not (va or vb):
        per_row = max(1, batch * n * k)
        nrows = max(1, min(m, LOCAL_WORK_CAP // per_row))
        rows = np.unique(np.concatenate([np.linspace(0, m - 1, nrows).astype(np.int64), [m - 1]]))
    work = batch * (m if rows is None else len(rows)) * n * k
    hi = lo = None
    if work <= 4 * LOCAL_WORK_CAP:
        hi, lo = compensated_dot(A, B, rows)
        hi, lo = _squeeze_like(hi, va, vb), _squeeze_like(lo, va, vb)
    S = _squeeze_like(S, va, vb)
    st.last_out = out
    st.note = _DotNote(k=k, order=order, S=S, ref_hi=hi, ref_lo=lo, rows=rows,
                       what=f"dot(k={k}, order={order})")
    if rows is not None:
        st.note.what += f", local error observed on {len(rows)} of {m} rows"
    elif hi is None:
        st.note.what += ", local error not observed (too large)"


def _note_bias(D, st, other, out):
    note = st.note
    Bv = D.point(other)
    if note.ref_hi is not None:
        if note.rows is not None and Bv.ndim > 1:
            # a bias that is not a row vector cannot be cut to the sampled rows
            note.ref_hi = note.ref_lo = None
        else:
            hi, e = two_sum(note.ref_hi, Bv)
            note.ref_hi, note.ref_lo = hi, note.ref_lo + e
    note.bias = True
    note.what += " + bias"
    st.last_out = out


@dataclass
class Apriori:
    """A local a-priori bound for one node and the local observation it is checked by."""
    bound: float            # max over elements of the per-element bound
    ratio: float | None     # max over (observed) elements of local_observed / bound
    observed: float | None  # max local observed error
    what: str               # e.g. "dot(k=64, order=sequential) + bias"
    gamma: float
    roundings: int


def _frac_float_up(q):
    return frac_up(Fraction(q))


def node_apriori(probe, x, fvals):
    """The Apriori of tapped value x of the probed domain, or None (see module doc).
    fvals: D.point(x)."""
    if probe is None or probe.last_out is None or raw(x) is not probe.last_out:
        return None
    D, note = probe.D, probe.note
    if D.accuracy("dot").kind not in _OK_DOT:
        return None
    if note.bias and D.accuracy("add").kind not in _OK_ADD:
        return None
    fmt = D.format
    rounding = D.rounding
    r = note.order.roundings(note.k, dot=True)
    try:
        g = gamma(r, fmt, rounding)
    except FpsemError:
        return None
    gf = _frac_float_up(g)
    if D.ftz or D.daz:
        under = _frac_float_up(4 * note.k * fmt.min_normal)
    else:
        under = _frac_float_up(2 * note.k * _eta(fmt, rounding))
    f = np.asarray(fvals, dtype=np.float64)
    S = note.S
    with np.errstate(over="ignore", invalid="ignore"):
        bound = up(gf * S + under)
        if note.bias:
            u = unit_roundoff(fmt, rounding)
            uf = _frac_float_up(u / (1 - u))
            bound = up(bound + up(uf * np.abs(f)))
    try:
        bound = np.broadcast_to(bound, f.shape)
    except ValueError:
        return None
    if not np.all(np.isfinite(bound)) or not np.all(np.isfinite(f)):
        return Apriori(bound=INF, ratio=None, observed=None, what=note.what + " (non-finite)",
                       gamma=float(gf), roundings=r)
    ratio = observed = None
    if note.ref_hi is not None:
        if note.rows is None:
            fs, bs = f, bound
        else:
            fs = np.take(f, note.rows, axis=-2)
            bs = np.take(bound, note.rows, axis=-2)
        with np.errstate(over="ignore", invalid="ignore"):
            hi = np.broadcast_to(note.ref_hi, fs.shape)
            lo = np.broadcast_to(note.ref_lo, fs.shape)
            obs = np.abs((fs - hi) - lo)
        if obs.size:
            observed = float(obs.max())
            ratio = float((obs / bs).max())
    return Apriori(bound=float(bound.max()) if bound.size else 0.0, ratio=ratio,
                   observed=observed, what=note.what, gamma=float(gf), roundings=r)
