"""Theorem (the selective scan is causal). For Mamba's S6 recurrence as in
fpsem.ops.selective_scan,

    h_t = exp(delta_t A) * h_{t-1} + (delta_t x_t) B_t,   y_t = h_t . C_t (+ Dskip x_t),

the output y_t depends only on (x_s, delta_s, B_s, C_s) for s <= t: if two inputs agree
at times 0..t, the outputs agree at times 0..t. In a float domain the equality is
bit for bit (the ops before time t are the same sequence of roundings): checked in
float32 and float64 (every specified order) and, where the emulator is present,
ieee32; in the interval domain the enclosures are identical.

Hypotheses: the recurrence runs forward in time. The statement is not vacuous
(changing the input at time t changes y_t), and it fails for the bidirectional
variant (a scan over the reversed sequence added to the forward one), which is the
counterexample.

Source: A. Gu and T. Dao, "Mamba: Linear-Time Sequence Modeling with Selective
State Spaces", 2023, Alg. 2 and eq. (2a)-(2b) (discretized SSM recurrence).
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fpsem
from fpsem import ops
from fpsem.errors import DomainUnavailable


def _domains():
    out = [fpsem.domain("float32", acc="sequential"), fpsem.domain("float32", acc="pairwise"),
           fpsem.domain("float64", acc="tree(4)")]
    try:
        out.append(fpsem.domain("ieee32"))
    except DomainUnavailable:
        pass
    return out


DOMAINS = _domains()


def make(r, L, d, n):
    return dict(x=r.standard_normal((L, d)), delta=r.uniform(0.01, 0.5, (L, d)), A=-r.uniform(0.1, 2, (d, n)),
                B=r.standard_normal((L, n)), C=r.standard_normal((L, n)), Dskip=r.standard_normal(d))


def run(D, p):
    dt = np.float32 if D.format.p == 24 else np.float64
    a = {k: D.asarray(np.asarray(v, dtype=dt)) for k, v in p.items()}
    return np.asarray(D.to_float64(ops.selective_scan(D, a["x"], a["delta"], a["A"], a["B"], a["C"],
                                                      a["Dskip"])))


@given(st.integers(0, len(DOMAINS) - 1), st.integers(1, 8), st.integers(1, 4), st.integers(1, 4),
       st.data(), st.integers(0, 2 ** 32 - 1))
def test_future_inputs_do_not_change_the_past(di, L, d, n, data, seed):
    D = DOMAINS[di]
    r = np.random.default_rng(seed)
    p = make(r, L, d, n)
    t = data.draw(st.integers(0, L - 1), label="t")
    q = make(np.random.default_rng(seed + 1), L, d, n)
    p2 = {k: (np.concatenate([p[k][:t + 1], q[k][t + 1:]]) if k in ("x", "delta", "B", "C") else p[k])
          for k in p}
    y, y2 = run(D, p), run(D, p2)
    assert np.array_equal(y[:t + 1], y2[:t + 1])


def test_interval_enclosures_identical():
    try:
        IV = fpsem.domain("interval")
    except DomainUnavailable as e:  # pragma: no cover
        pytest.skip(f"interval domain unavailable: {e}")
    r = np.random.default_rng(0)
    p = make(r, 5, 2, 3)
    p2 = dict(p, x=np.concatenate([p["x"][:3], r.standard_normal((2, 2))]))
    a = {k: IV.asarray(v) for k, v in p.items()}
    b = {k: IV.asarray(v) for k, v in p2.items()}
    ya = ops.selective_scan(IV, a["x"], a["delta"], a["A"], a["B"], a["C"], a["Dskip"])
    yb = ops.selective_scan(IV, b["x"], b["delta"], b["A"], b["B"], b["C"], b["Dskip"])
    assert np.array_equal(ya.lo[:3], yb.lo[:3]) and np.array_equal(ya.hi[:3], yb.hi[:3])


def test_edges_not_vacuous():
    D = DOMAINS[0]
    p = make(np.random.default_rng(1), 6, 3, 2)
    for t in range(6):
        p2 = {k: v.copy() for k, v in p.items()}
        p2["x"][t] += 1
        y, y2 = run(D, p), run(D, p2)
        assert np.array_equal(y[:t], y2[:t]) and not np.array_equal(y[t], y2[t])
    # L = 1 and a zero input
    z = {k: (np.zeros_like(v) if k == "x" else v) for k, v in make(np.random.default_rng(2), 1, 1, 1).items()}
    assert np.all(run(D, z) == 0)


def test_counterexample_bidirectional():
    D = DOMAINS[0]

    def bidir(p):
        rev = {k: (v[::-1].copy() if k in ("x", "delta", "B", "C") else v) for k, v in p.items()}
        return run(D, p) + run(D, rev)[::-1]
    p = make(np.random.default_rng(3), 6, 2, 2)
    p2 = {k: v.copy() for k, v in p.items()}
    p2["x"][5] += 1
    assert not np.array_equal(bidir(p)[:5], bidir(p2)[:5])
