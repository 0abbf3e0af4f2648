"""One way to watch a domain: fpsem.trace.observe on the public primitives."""
import numpy as np

import fpsem
from fpsem import ops as O
from fpsem.trace import Call, observe, recording, scope, tap
from fpsem.value import raw


def test_observer_sees_top_level_and_nested_calls():
    D = fpsem.domain("float32", acc="sequential")
    x = D.asarray([[1, 2], [3, 4]])
    calls = []
    with observe(calls.append):
        y = D.sum(D.mul(x, x), axis=-1)
    top = [c.name for c in calls if c.depth == 0]
    assert top == ["mul", "sum"]
    assert all(c.domain is D for c in calls)
    s = next(c for c in calls if c.name == "sum")
    assert s.result is raw(y) and s.kwargs == {"axis": -1}   # observers see storage
    # the sum's own reshapes are reported as nested calls
    assert any(c.depth > 0 and c.name == "reshape" for c in calls)


def test_observer_filters_by_domain_and_nests():
    A, B = fpsem.domain("float32"), fpsem.domain("float64")
    seen_a, seen_all = [], []
    with observe(seen_all.append):
        with observe(seen_a.append, domain=A):
            A.add(A.asarray([1]), A.asarray([2]))
            B.add(B.asarray([1]), B.asarray([2]))
    assert {c.domain for c in seen_a} == {A}
    assert {c.domain for c in seen_all} == {A, B}
    # outside the block nothing is watched
    A.add(A.asarray([1]), A.asarray([2]))
    assert len(seen_all) == 6


def test_calls_made_by_an_observer_are_not_observed():
    D = fpsem.domain("ieee32")
    names = []

    def cb(c):
        names.append(c.name)
        D.point(c.result) if c.name == "add" else None   # calls to_float64 itself

    with observe(cb):
        D.add(D.asarray([1]), D.asarray([2]))
    assert "to_float64" not in names and names.count("add") == 1


def test_taps_and_flags_arrive_through_the_same_observer():
    D = fpsem.domain("ieee32")
    events = []
    with observe(events.append), recording(lambda n, Dx, x: events.append(("rec", n))):
        with scope("blk"):
            tap(D, "q", D.div(D.const(1), D.const(0)))
    kinds = [e.name if isinstance(e, Call) else e for e in events]
    assert ("rec", "blk.q") in kinds and "tap" in kinds and "flags" in kinds
    fl = next(e for e in events if isinstance(e, Call) and e.name == "flags")
    assert fl.domain is D and fl.result


def test_primitives_used_comes_from_the_observer():
    from fpsem.introspect import primitives_used
    used = primitives_used("softmax")
    assert {"exp", "sub", "div", "max", "sum"} <= set(used)
    assert "reshape" not in used  # internal to reductions, not called by the op


def test_watching_does_not_change_results():
    D = fpsem.domain("ieee32")
    x = D.asarray(np.linspace(-3, 3, 16).reshape(4, 4))
    plain = O.softmax(D, x)
    with observe(lambda c: None):
        watched = O.softmax(D, x)
    assert np.array_equal(plain.view(np.uint32), watched.view(np.uint32))
