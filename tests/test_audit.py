"""fpsem audit: checks, JUnit/JSON reports, baselines and planted bit drift."""
import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import fpsem
from fpsem.bridges import audit as A
from fpsem.cli import main

DOMS = "float32,float64,exact,interval"


def _avail(name):
    return fpsem.availability(name)[0]


def _run(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
        raise SystemExit(0)
    out = capsys.readouterr()
    return e.value.code or 0, out.out + out.err


def test_quick_ops_clean_and_planted_drift_is_caught(tmp_path, capsys):
    base = tmp_path / "base.json"
    js, xml = tmp_path / "a.json", tmp_path / "a.xml"
    code, out = _run(["audit", "--suite", "quick", "--no-models", "--domains", DOMS,
                      "--update-baseline", str(base), "--json", str(js), "--junit", str(xml)], capsys)
    assert code == 0, out
    assert "clean" in out
    rep = json.loads(js.read_text())
    assert rep["ok"] and rep["counts"]["fail"] == 0
    kinds = {c["kind"] for c in rep["checks"]}
    assert {"bound", "enclosure"} <= kinds
    # JUnit: one testcase per check
    root = ET.parse(xml).getroot()
    assert len(root.findall(".//testcase")) == len(rep["checks"])
    # the baseline holds a hash for every audited output of every domain
    hashes = json.loads(base.read_text())["hashes"]
    assert "op:matmul@float32(acc=sequential)" in hashes and "prim:exp@float32" in hashes
    # native (BLAS) order: bits follow the BLAS build and thread count, so not hashed (issue 18)
    assert "op:matmul@float32" not in hashes
    # unchanged bits: clean
    code, out = _run(["audit", "--no-models", "--domains", DOMS, "--baseline", str(base)], capsys)
    assert code == 0, out
    # plant a bit drift: one hash changes (as after a BLAS upgrade)
    data = json.loads(base.read_text())
    victim = "op:linear@float32(acc=sequential)"
    data["hashes"][victim] = "0" * 64
    base.write_text(json.dumps(data))
    code, out = _run(["audit", "--no-models", "--domains", DOMS, "--baseline", str(base),
                      "--junit", str(xml), "--json", str(js)], capsys)
    assert code == 1
    assert f"baseline:{victim}" in out and "drift" in out
    root = ET.parse(xml).getroot()
    failed = [tc.get("name") for tc in root.iter("testcase") if tc.find("failure") is not None]
    assert failed == [f"baseline:{victim}"]
    assert json.loads(js.read_text())["findings"][0].startswith(f"baseline:{victim}")


def test_usage_errors_exit_2(tmp_path, capsys):
    code, out = _run(["audit", "--domains", "float33"], capsys)
    assert code == 2 and "float33" in out
    code, out = _run(["audit", "--no-models", "--domains", "float64", "--baseline", str(tmp_path / "none.json")],
                     capsys)
    assert code == 2 and "none.json" in out
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, out = _run(["audit", "--no-models", "--domains", "float64", "--baseline", str(bad)], capsys)
    assert code == 2


def test_declared_bound_check_catches_a_wrong_declaration():
    """A domain that declares exp correctly rounded while numpy's float32 exp is not
    is caught by check (2)."""
    from fpsem.bridges.suite import _unary_case
    from fpsem.domain import CR
    D = fpsem.domain("float32")

    class Liar(type(D)):
        def _accuracy(self, prim):
            return CR if prim == "exp" else super()._accuracy(prim)

    L = Liar()
    case = _unary_case("exp", 400, seed=3)
    inputs = case.inputs()
    st, msg = A.check_prim_bound(case, L, inputs, case.fn(L, *[L.asarray(a) for a in inputs]))
    assert st == "fail" and "correctly rounded" in msg
    st, msg = A.check_prim_bound(case, D, inputs, case.fn(D, *[D.asarray(a) for a in inputs]))
    assert st == "pass", msg


def test_correctly_rounded_check_uses_sign_of_zero():
    from fpsem.bridges.suite import _binary_case
    D = fpsem.domain("float64")

    class Sloppy(type(D)):
        def _impl_add(self, a, b):
            return np.abs(np.add(a, b)) * np.sign(np.add(a, b)) + 0.0  # loses -0

    case = _binary_case("add", 8, seed=1)
    inputs = case.inputs()
    S = Sloppy()
    st, msg = A.check_prim_bound(case, S, inputs, case.fn(S, *[S.asarray(a) for a in inputs]))
    assert st == "fail" and "-0.0" in msg


def test_model_audit_hashes_every_node():
    res = A.AuditResult("quick", [])
    floats, refs, _ = A.audit_domains(["float32", "interval", "exact"])
    A._audit_model(res, "mlp", "tiny", floats, refs, [])
    names = {c.name: c for c in res.checks}
    assert names["run:model:mlp/tiny"].status == "pass"
    assert all(c.status == "pass" for c in res.checks), [(c.name, c.message) for c in res.checks]
    assert any(k.startswith("model:mlp/tiny:") and k.endswith("@float32(acc=sequential)") for k in res.hashes)
    # the native-order float32 run is checked against its bounds, not hashed
    assert not any(k.endswith("@float32") for k in res.hashes) and res.unhashed > 0
    if "enclosure:model:mlp/tiny" in names:
        assert names["enclosure:model:mlp/tiny"].status == "pass"


@pytest.mark.skipif(not _avail("ieee32"), reason="ieee32 not available")
def test_ieee32_float32_bit_pairs():
    from fpsem.semantics import bit_promise
    floats, _, _ = A.audit_domains(["ieee32", "float32"])
    pairs = A.bit_pairs(floats)
    assert pairs
    a, b = pairs[0]
    why = bit_promise(floats[a], floats[b], ("asarray", "add", "mul", "dot"))
    assert why == "", why
    assert bit_promise(floats[a], floats[b], ("exp",))



def test_corrupt_baseline_is_a_user_error(tmp_path):
    from fpsem.bridges.audit import load_baseline
    from fpsem.errors import FpsemError
    bad = tmp_path / "b.json"
    bad.write_bytes(bytes(range(256)))
    with pytest.raises(FpsemError, match="not a readable JSON file"):
        load_baseline(bad)


@pytest.mark.parametrize("mode, want", [("rtz", "below"), ("rdn", "below"), ("rup", "x"), ("rne", "x")])
def test_correctly_rounded_oracle_near_a_float(mode, want):
    """sin(x) = x - x^3/6 lies 2^-202 (relative) below x = 1e-30: rounded toward zero it
    is the float below x, which a 200-bit value rounded again cannot tell (it is x).
    The audit's oracle must not raise that false finding (ieee32:rounding=rtz did)."""
    from fpsem import formats
    x = np.float32(1e-30)
    below = float(np.nextafter(x, np.float32(0)))
    got = A._expected_cr("sin", [x], formats.binary32, mode)
    assert got == (below if want == "below" else float(x))
    assert A._expected_cr("sqrt", [np.float32(4.0)], formats.binary32, mode) == 2.0  # exact results stay exact
    assert A._expected_cr("exp2", [np.float32(-3.0)], formats.binary32, mode) == 0.125


def test_drift_finding_counts_elements_and_ulps(tmp_path, capsys):
    """A drift says how many elements changed and by how many ulps (issue 18), from the
    values the baseline keeps beside its hashes (FILE.values.npz, checked by sha256)."""
    base = tmp_path / "base.json"
    code, out = _run(["audit", "--no-models", "--domains", "float32:acc=sequential",
                      "--update-baseline", str(base)], capsys)
    assert code == 0, out
    data = json.loads(base.read_text())
    vfile = tmp_path / data["values"]["file"]
    assert data["schema"] == "fpsem.audit-baseline/1" and vfile.name == "base.json.values.npz"
    victim = "op:linear@float32(acc=sequential)"
    with np.load(vfile) as z:
        arrays = {k: z[k] for k in z.files}
    key = json.loads(str(arrays["__index__"]))[victim]
    v = arrays[key].copy()
    flat = v.reshape(-1)
    flat[1] = np.nextafter(np.nextafter(np.nextafter(flat[1], np.float32(np.inf)), np.float32(np.inf)),
                           np.float32(np.inf))  # 3 ulp up
    flat[4] = np.nextafter(flat[4], np.float32(-np.inf))  # 1 ulp down
    arrays[key] = v
    np.savez_compressed(vfile, **arrays)
    from fpsem.io import sha256_file
    data["values"]["sha256"] = sha256_file(vfile)
    data["hashes"][victim] = "0" * 64  # the recorded hash of the planted values
    base.write_text(json.dumps(data))
    js = tmp_path / "a.json"
    code, out = _run(["audit", "--no-models", "--domains", "float32:acc=sequential", "--baseline", str(base),
                      "--json", str(js)], capsys)
    assert code == 1
    line = next(f for f in json.loads(js.read_text())["findings"] if victim in f)  # not wrapped, unlike stdout
    assert f"2 of {v.size:,} elements changed, by at most 3 ulp (binary32)" in line, line
    # a values file that does not match the baseline is not used: hash only, and why
    vfile.write_bytes(b"junk")
    code, out = _run(["audit", "--no-models", "--domains", "float32:acc=sequential", "--baseline", str(base)],
                     capsys)
    out = " ".join(out.split())
    assert code == 1 and "element counts and ulps unavailable" in out and "does not match" in out


def test_drift_detail_and_ulp_distance():
    from fpsem import formats
    from fpsem.bridges._num import ulp_distance
    rng = np.random.default_rng(18)
    x = rng.integers(0, 2**32, 100_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    x = x[np.isfinite(x)]
    y = x.copy()
    rng.shuffle(y)

    def pos(v):  # the int32 bit pattern, ordered: binary32's own position of a value
        i = v.view(np.int32).astype(np.int64)
        return np.where(i < 0, -(i & 0x7FFFFFFF), i)
    assert np.array_equal(ulp_distance(x, y, formats.binary32), np.abs(pos(x) - pos(y)).astype(float))
    assert ulp_distance(np.array([1.0]), np.array([1 + 2.0**-52]), formats.binary64)[0] == 1
    assert ulp_distance(np.array([1.0]), np.array([1 + 2.0**-7]), formats.bfloat16)[0] == 1
    assert ulp_distance(np.array([np.inf]), np.array([65504.0]), formats.binary16)[0] == 1
    msg = A.drift_detail(np.array([[1.0, 2.0], [3.0, np.nan]]), np.array([[1.0, 2.0], [3.0 + 2**-21, 0.0]]),
                         formats.binary32)
    assert msg.startswith("2 of 4 elements changed, by at most 2 ulp (binary32), 1 to or from NaN; first at (1, 0)")
