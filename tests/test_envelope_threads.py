"""The envelope runs its reference on a second thread beside the float domains
(bridges.envelope.CONCURRENT): the results are those of the one-thread run, bit
for bit, and errors on either side end both runs."""
import dataclasses
import threading
import time

import numpy as np
import pytest

import fpsem
import fpsem.ops as O
import importlib

E = importlib.import_module("fpsem.bridges.envelope")   # the module (the package exports the function)
from fpsem.errors import FpsemError
from fpsem.trace import scope, tap

RNG = np.random.default_rng(3)
W = RNG.standard_normal((16, 24)).astype(np.float32)
X = RNG.standard_normal((4, 16)).astype(np.float32)


def _stats(env):
    return {(lab, s.name): dataclasses.asdict(s) for lab in env.domains for s in env.stats(lab)}


def _run(concurrent, monkeypatch, **kw):
    monkeypatch.setattr(E, "CONCURRENT", concurrent)
    return fpsem.envelope("gpt2", config="tiny", **kw)


@pytest.mark.parametrize("reference", ["ball", "interval"])
def test_concurrent_run_equals_one_thread_run(monkeypatch, reference):
    kw = dict(domain=["ieee32", "bf16"], reference=reference, keep=["h.0.ln_1"])
    a = _run(False, monkeypatch, **kw)
    b = _run(True, monkeypatch, **kw)
    assert a.nodes == b.nodes and a.reference == b.reference
    assert a.reference_bits == b.reference_bits
    sa, sb = _stats(a), _stats(b)
    assert list(sa) == list(sb)
    assert sa == sb
    assert a.decision().to_dict() == b.decision().to_dict()
    assert [dataclasses.asdict(d) for d in a.divergences()] == [dataclasses.asdict(d) for d in b.divergences()]
    assert a.notes == b.notes
    assert list(a.timings) == list(b.timings)     # the reference first
    for k in a.tensors:
        np.testing.assert_array_equal(a.tensors[k], b.tensors[k])


def _threads():
    return {t for t in threading.enumerate() if t.name == "fpsem-reference"}


def _wait_gone(before):
    for _ in range(100):
        if not (_threads() - before):
            return True
        time.sleep(0.05)
    return False


def test_reference_error_reaches_the_caller(monkeypatch):
    """A reference that cannot run (log of a negative ball) ends the envelope with
    its one-line error, while the float domains would go on (log(-1) is NaN there)."""
    monkeypatch.setattr(E, "CONCURRENT", True)

    def model(D, x):
        x = D.asarray(x)
        with scope("m"):
            y = tap(D, "lin", O.matmul(D, x, D.asarray(W)))
            return tap(D, "log", D.log(D.sub(D.sub(y, y), D.asarray(np.ones(y.shape, np.float32)))))

    before = _threads()
    with pytest.raises(FpsemError):
        fpsem.envelope(model, (X,), domain="ieee32", reference="ball:prec=128")
    assert _wait_gone(before)


def test_float_domain_error_stops_the_reference(monkeypatch):
    monkeypatch.setattr(E, "CONCURRENT", True)
    calls = []

    def model(D, x):
        x = D.asarray(x)
        for i in range(40):
            with scope(f"b{i}"):
                if D.is_float and i == 2:
                    raise FpsemError("float side failed")
                x = tap(D, "lin", O.tanh(D, O.matmul(D, x, D.asarray(W[:, :16]))))
                calls.append(D.label)
        return x

    before = _threads()
    with pytest.raises(FpsemError, match="float side failed"):
        fpsem.envelope(model, (X,), domain="ieee32", reference="ball:prec=128")
    assert _wait_gone(before)
    assert sum(1 for c in calls if c.startswith("ball")) < 40   # stopped, not run to the end


def test_observers_see_a_one_thread_run(monkeypatch):
    """Under an observer everything runs on the caller's thread, in order."""
    monkeypatch.setattr(E, "CONCURRENT", True)
    seen = set()
    with fpsem.trace.observe(lambda c: seen.add(threading.get_ident())):
        fpsem.envelope("gpt2", config="tiny", domain="ieee32", reference="interval")
    assert seen == {threading.get_ident()}
