"""fpsem.bridges: recording runs and the Envelope query API."""
import json
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, strategies as st

import fpsem
import fpsem.ops as O
from fpsem.bridges import Envelope, UnknownNode, envelope, run_domains
from fpsem.trace import scope, tap

RNG = np.random.default_rng(7)
W1 = RNG.standard_normal((24, 32)).astype(np.float32) * np.float32(0.3)
B1 = RNG.standard_normal(32).astype(np.float32)
W2 = RNG.standard_normal((32, 6)).astype(np.float32) * np.float32(0.3)
X = RNG.standard_normal((5, 24)).astype(np.float32)


def mlp(D, x):
    """A rational two-layer model with taps (runs under exact)."""
    x = D.asarray(x)
    with scope("l1"):
        h = tap(D, "lin", O.linear(D, x, D.asarray(W1), D.asarray(B1)))
        h = tap(D, "act", O.relu(D, h))
    return tap(D, "logits", O.matmul(D, h, D.asarray(W2)))


def soft(D, x):
    y = mlp(D, x)
    return tap(D, "probs", O.softmax(D, y))


def _avail(name):
    return fpsem.availability(name)[0]


@pytest.mark.parametrize("acc", ["native", "sequential", "pairwise", "blocked(8)", "fma_chain"])
def test_exact_reference_bounds_are_exact_and_hold(acc):
    env = envelope(mlp, X, domain="float32", reference="exact", acc=acc)
    assert env.nodes == ["l1.lin", "l1.act", "logits"]
    for s in env.stats():
        assert s.rigorous and s.holds
        # exact reference: the bound is |f - r| rounded up, so equal to the observation
        assert s.bound_abs >= s.max_abs and s.bound_abs <= s.max_abs * (1 + 2 ** -50) + 1e-300
    # independent recomputation of the logits error with Fractions
    D, E = fpsem.domain("float32", acc=acc), fpsem.domain("exact")
    f = D.to_fraction(mlp(D, X))
    r = E.to_fraction(mlp(E, X))
    err = max(abs(a - b) for a, b in zip(f.ravel(), r.ravel()))
    assert float(err) == env.node("logits").max_abs
    # every node gets a local a-priori bound, and it holds; ReLU of the float
    # input it received is exact: its own bound is 0
    assert env.node("l1.act").apriori == 0.0
    for n in ("l1.lin", "logits"):
        s = env.node(n)
        assert s.apriori is not None and 0 <= s.apriori_ratio <= 1
        assert "running bound" in s.apriori_what


def test_first_node_local_observation_equals_total_error():
    """On the first layer the inputs are exact, so the local error is the total error."""
    env = envelope(mlp, X, domain="float32", reference="exact", acc="sequential")
    s = env.node("l1.lin")
    # the local observation is |f - s| against a float64 shadow whose own running bound
    # is reported only when below 1% of it (bridges.running.local_stats)
    assert s.apriori_observed == pytest.approx(s.max_abs, rel=1e-2, abs=0)
    assert s.max_abs <= s.apriori


@given(st.integers(1, 40), st.integers(1, 5), st.sampled_from(["sequential", "pairwise", "tree(4)", "native"]),
       st.integers(0, 2 ** 31))
def test_apriori_ratio_at_most_one(k, m, acc, seed):
    rng = np.random.default_rng(seed)
    A = (rng.standard_normal((m, k)) * np.exp2(rng.integers(-20, 20, (m, k)))).astype(np.float32)
    B = rng.standard_normal((k, 3)).astype(np.float32)

    def f(D, a, b):
        return tap(D, "y", D.dot(D.asarray(a), D.asarray(b)))
    env = envelope(f, (A, B), domain="float32", reference="exact", acc=acc, decision=None)
    s = env.node("y")
    assert s.holds
    assert s.apriori_ratio is not None and s.apriori_ratio <= 1
    assert s.max_abs <= s.apriori  # total == local here: inputs are exact


def test_interval_reference_and_float_reference_labelled():
    if not _avail("interval"):
        pytest.skip("interval not available")
    env = envelope(soft, X, domain="float32", reference="interval")
    assert env.nodes[-1] == "probs"
    for s in env.stats():
        assert s.rigorous and s.holds and s.bound_abs is not None and s.ref_width is not None
    envf = envelope(soft, X, domain="float32", reference="float64")
    s = envf.node("probs")
    assert not s.rigorous and s.bound_abs is None and "not rigorous" in s.reference
    assert envf.decision().certain is None


def test_queries_worst_unknown_json_table(tmp_path):
    env = envelope(mlp, X, domain="float32", reference="exact", keep=["l1.act"])
    w = env.worst(2, by="ulp")
    assert len(w) == 2 and w[0].max_ulp >= w[1].max_ulp
    assert env.worst(1, by="abs")[0].max_abs == max(s.max_abs for s in env.stats())
    with pytest.raises(fpsem.FpsemError):
        env.worst(2, by="nonsense")
    with pytest.raises(UnknownNode):
        env.node("l1.nope")
    d = json.loads(env.to_json())
    assert d["nodes"] == env.nodes and d["rigorous"]
    assert d["stats"]["float32"][0]["name"] == "l1.lin"
    # memory: only the requested tensors are kept
    assert set(env.tensors) == {("float32", "l1.act")}
    assert set(env.reference_tensors) == {"l1.act"}
    from rich.console import Console
    con = Console(record=True, width=200)
    con.print(env.table())
    assert "l1.lin" in con.export_text()
    assert "logits" in env.summary()


def test_plot(tmp_path):
    pytest.importorskip("matplotlib")
    env = envelope(mlp, X, domain="float32", reference="exact")
    p = env.plot(tmp_path / "e.png")
    assert (tmp_path / "e.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_diverge_names_first_differing_node():
    env = envelope(soft, X, domain=["float32:acc=sequential", "float32:acc=pairwise"], reference="float64")
    d = env.diverge()
    assert d and d.node == "l1.lin" and d.differing > 0
    assert d.a_value != d.b_value
    def sq(D, x):  # no reduction: the order cannot matter
        return tap(D, "y", D.mul(D.asarray(x), D.asarray(x)))
    same = envelope(sq, X, domain=["float32:acc=sequential", "float32:acc=pairwise"], reference="float64")
    assert not same.diverge() and same.diverge().node is None
    one = envelope(mlp, X, domain="float32", reference="float64", compare=[])
    assert one.diverge().node is None and "only one" in one.diverge().note


def test_decision_certain_and_uncertain():
    def logits(D, v):
        return tap(D, "logits", D.mul(D.asarray(v), D.asarray(np.ones(3))))
    env = envelope(logits, np.array([[0.5, 3.0, 1.0]]), domain="float32", reference="exact")
    dec = env.decision()
    assert dec.top1 == 1 and dec.certain and dec.margin > 1.9 and dec.agrees
    # two logits that differ by less than the rounding error of float32
    a = 1 + 2.0 ** -30

    def close(D):
        x = D.asarray([Fraction(1), Fraction(a), Fraction(0)])
        return tap(D, "logits", D.mul(x, D.asarray(np.ones(3))))
    env = envelope(close, (), domain="float32", reference="exact")
    dec = env.decision()
    assert dec.certain is False and dec.margin < 0
    assert dec.reference.top1 == 1 and dec.reference.certain  # the real top-1 is decided


def test_model_errors():
    with pytest.raises(fpsem.FpsemError):
        envelope(lambda D: None, (), domain="float32", reference="float64")
    with pytest.raises(fpsem.FpsemError):
        envelope(mlp, X, domain="exact", reference="float64")
    with pytest.raises(fpsem.FpsemError):
        envelope(mlp, X, domain="float32", reference="float64", decision="nope")


def test_gpt2_tiny_every_query():
    if not _avail("interval"):
        pytest.skip("interval not available")
    dom = "ieee32" if _avail("ieee32") else "float32"
    env = fpsem.envelope("gpt2", config="tiny", domain=dom)
    assert isinstance(env, Envelope)
    for n in ("h.0.attn.c_proj", "h.1.mlp.act", "ln_f", "logits"):
        assert n in env.nodes
    for s in env.stats():
        assert s.holds, s.name  # the rigorous bound always holds for the observed error
        if s.apriori_ratio is not None:
            assert s.apriori_ratio <= 1
    lg = env.node("logits")
    assert lg.apriori is not None and lg.bound_abs > 0
    assert env.worst(3)
    dec = env.decision()
    assert dec.node == "logits" and isinstance(dec.top1, int) and dec.certain in (True, False)
    assert (dec.margin > 0) == dec.certain
    assert env.diverge() is not None
    json.loads(env.to_json())


def test_envelope_cli(tmp_path, capsys):
    from fpsem.cli import main
    js, png = tmp_path / "e.json", tmp_path / "e.png"
    with pytest.raises(SystemExit) as e:
        main(["envelope", "mlp", "--config", "tiny", "--domain", "float32", "--reference", "float64",
              "--json", str(js)])
        raise SystemExit(0)
    out = capsys.readouterr().out
    assert e.value.code in (0, None), out
    assert "worst node" in out and json.loads(js.read_text())["nodes"]
    with pytest.raises(SystemExit) as e:
        main(["envelope", "nomodel", "--domain", "float32", "--reference", "float64"])
    assert e.value.code == 2


def test_divergence_says_whether_bits_were_promised():
    from fpsem.semantics import bit_promise as bit_promise_note
    I = fpsem.domain("ieee32")
    assert bit_promise_note(I, fpsem.domain("ieee32", rounding="rtz")).startswith("different rounding")
    assert "native" in bit_promise_note(I, fpsem.domain("float32"))
    assert "orders" in bit_promise_note(I, fpsem.domain("float32", acc="pairwise"))
    assert "exp" in bit_promise_note(I, fpsem.domain("float32", acc="sequential"))
    assert bit_promise_note(I, fpsem.domain("ieee32", nan="arm")) == ""
    env = fpsem.envelope("mlp", domain=["ieee32", "float32"])
    d = env.diverge()
    assert d and not d.promised and "native" in d.note
    env = fpsem.envelope("mlp", domain=["ieee32", fpsem.domain("float32", acc="sequential")])
    assert not env.diverge()
