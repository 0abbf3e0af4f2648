"""Declared semantics: the bit promise, companions, reference kinds, and no bridge
that decides anything from a domain's name."""
import ast
import pathlib

import numpy as np
import pytest

import fpsem
from fpsem.registry import DOMAINS, availability
from fpsem.semantics import BASIC, bit_promise, companions, default_reference, reference_kind

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _avail(n):
    return availability(n)[0]


def test_every_available_domain_declares_semantics():
    for name in DOMAINS:
        if not _avail(name):
            continue
        D = fpsem.domain(name)
        s = D.semantics
        assert s.kind in ("point", "enclosure", "exact")
        assert (s.kind == "point") == bool(D.is_float)
        if s.kind == "point":
            assert s.storage == D.format and s.accumulation is not None and s.precision == D.format.p
        else:
            assert s.storage is None
        assert [p for p, _ in s.elementary] == ["exp", "exp2", "log", "tanh", "erf", "sin", "cos"]


def test_kinds_and_references():
    assert reference_kind(fpsem.domain("exact")) == "exact"
    assert reference_kind(fpsem.domain("interval")) == "enclosure"
    assert reference_kind(fpsem.domain("float64")) == "float"
    assert default_reference(rational=True) == "exact"
    assert default_reference(rational=False) == ("ball" if _avail("ball") else "interval")


def test_bit_promise_reasons():
    I = fpsem.domain("ieee32")
    assert bit_promise(I, I.replace(nan="arm")) == ""          # NaN payloads are not promised
    assert bit_promise(I, I.replace(ftz=True)).startswith("different ftz")
    assert bit_promise(I, fpsem.domain("fp16")).startswith("different formats")
    assert "not a point float domain" in bit_promise(I, fpsem.domain("interval"))
    F = fpsem.domain("float32", acc="sequential")
    assert bit_promise(I, F, BASIC) == ""
    assert "exp" in bit_promise(I, F) and "exp" in bit_promise(I, F, ("exp",))
    # a primitive only one of them implements breaks an explicit promise
    assert bit_promise(I, I.replace(acc="pairwise"), ("add",)) == ""
    assert "orders" in bit_promise(I, I.replace(acc="pairwise"), ("sum",))


def test_companions_follow_the_declarations():
    I = fpsem.domain("ieee32")
    assert [C.label for C in companions(I)][:1] == ["float32(acc=sequential)"]
    assert companions(I.replace(rounding="rtz")) == []   # float32 runs rne only
    assert companions(fpsem.domain("float32")) == []     # native order: no promise
    assert [C.label for C in companions(fpsem.domain("float32", acc="pairwise"))][:1] == ["ieee32(acc=pairwise)"]
    assert companions(fpsem.domain("interval")) == []


def test_bounds_and_point_accessors():
    for name in ("ieee32", "float32", "bf16", "exact"):
        D = fpsem.domain(name)
        x = D.asarray(["0.1", "-2"])
        lo, hi = D.bounds(x)
        assert lo is hi and lo.dtype == np.float64
        np.testing.assert_array_equal(D.point(x), lo)
    I = fpsem.domain("interval")
    x = I.div(I.asarray([1]), I.asarray([3]))
    lo, hi = I.bounds(x)
    assert lo is not hi and lo[0] < 1 / 3 < hi[0] and lo[0] < I.point(x)[0] < hi[0]
    M = fpsem.domain("interval", endpoints="mpfr")
    lo, hi = M.bounds(M.asarray([0.1]))       # exact endpoints stay exact
    assert lo[0] == hi[0] == 0.1
    lo, hi = M.bounds(M.div(M.asarray([1]), M.asarray([3])))
    assert lo[0] < 1 / 3 < hi[0]
    assert not I.isnan(x).any() and fpsem.domain("float32").isnan(fpsem.domain("float32").asarray([float("nan")])).all()


# -- no bridge decides from a domain's name ------------------------------------------------
def _name_literals(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value} & set(DOMAINS)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return set().union(*(_name_literals(e) for e in node.elts)) if node.elts else set()
    return set()


KIND_WORDS = ("exact",)


def _is_kind(node):
    """An operand that holds a kind (semantics.kind, rkind, acc.kind), not a name."""
    ident = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")
    return "kind" in ident


def name_comparisons(source, filename="<src>"):
    """(line, names) of comparisons against a registered domain name literal:
    `D.name == "ieee32"`, `n in ("float32", "ieee32")`, `"exact" in refs`."""
    out = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            names = set().union(*(_name_literals(n) for n in operands))
            if any(_is_kind(n) for n in operands):
                names -= set(KIND_WORDS)   # 'exact' is also a kind: D.semantics.kind == "exact"
            if names:
                out.append((node.lineno, sorted(names)))
        elif isinstance(node, ast.Subscript) and _name_literals(node.slice):
            out.append((node.lineno, sorted(_name_literals(node.slice))))   # refs["interval"]
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "get" and node.args and _name_literals(node.args[0])):
            out.append((node.lineno, sorted(_name_literals(node.args[0]))))  # refs.get("ball")
    return out


def test_the_name_check_can_fail():
    src = ('if D.name == "ieee32" or n in ("float32", "x"):\n    r = refs["interval"]\nb = refs.get("ball")\n'
           'ok = D.semantics.kind == "exact" or D.name == "exact"\n')
    assert sorted(ln for ln, _ in name_comparisons(src)) == [1, 1, 2, 3, 4]


def test_no_bridge_compares_a_domain_name():
    bad = []
    for path in sorted((ROOT / "bridges").glob("*.py")):
        for line, names in name_comparisons(path.read_text(), str(path)):
            bad.append(f"{path.name}:{line}: {', '.join(names)}")
    assert not bad, "bridges decide from domain names (use D.semantics / fpsem.semantics): " + "; ".join(bad)
