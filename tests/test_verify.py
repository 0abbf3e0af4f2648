"""`fpsem verify`: the emulator's correctly rounded functions against an independent
oracle (binary64 filter + MPFR); an injected wrong function is caught, with inputs."""
import json

import numpy as np
import pytest

from fpsem.bridges import verify as V
from fpsem.cli import main
from fpsem.errors import FpsemError


def run(capsys, *args):
    with pytest.raises(SystemExit) as e:
        main(list(args))
        raise SystemExit(0)
    cap = capsys.readouterr()
    return e.value.code or 0, cap.out, cap.err


# edge encodings per function: specials, subnormals, the filter's rule thresholds
EDGES = np.array([0, 1, 2, 0x007FFFFF, 0x00800000, 0x00800001, 0x0C800000, 0x32800000, 0x32FFFFFF,
                  0x33000000, 0x33800000, 0x39800000, 0x397FFFFF, 0x3F000000, 0x3F7FFFFF, 0x3F800000,
                  0x3F800001, 0x40800000, 0x407FFFFF, 0x41200000, 0x411FFFFF, 0x41900000, 0x42B17218,
                  0x42B17217, 0x42B20000, 0x42CF0000, 0x42D00000, 0x43000000, 0x43170000, 0x4B800000,
                  0x7F7FFFFF, 0x7F800000, 0x7F800001, 0x7FC00000], dtype=np.uint32)
EDGES = np.concatenate([EDGES, EDGES | np.uint32(0x80000000)])


@pytest.mark.parametrize("func", V.FUNCS)
def test_filter_agrees_with_mpfr_and_emulator_on_edges(func):
    # audit every filter-decided lane: the filter's rules must match MPFR there
    r = V.check_chunk(func, V.MODES, EDGES, audit=EDGES.size)
    for m, st in r["modes"].items():
        assert st["filter_errors"] == 0, (m, st["filter_examples"])
        assert st["mismatches"] == 0, (m, st["examples"])
        assert st["mpfr"] == EDGES.size


@pytest.mark.parametrize("func", ["exp", "sin", "sigmoid", "rsqrt"])
def test_real_function_passes_sampled_range(func):
    r = V.verify(func, "all", sample=20000, seed=3, chunk=8192)
    assert r.ok and r.total == 20000 and r.chunks == 3
    assert all(v == 0 for v in r.filter_errors.values()) and r.audited > 0


def _perturbed_exp(bits, rounding):
    # a deliberately wrong exp: one ulp off on every 97th finite positive result
    from fpsem.emu import binary32
    out = binary32.exp(bits, rounding=rounding)[0].copy()
    bad = (np.asarray(bits) % 97 == 0) & (out > 0) & (out < 0x7F800000)
    out[bad] += 1
    return out


def test_injected_wrong_function_is_found_with_inputs():
    r = V.verify("exp", "rne,rdn", lo=0x3F000000, hi=0x40000000, sample=30000, seed=1,
                 impl=_perturbed_exp, chunk=1 << 14)
    assert not r.ok
    bits = V.chunk_encodings(0x3F000000, 0x40000000, 30000, 1, 0, 0, 1 << 14)
    expect = int((bits % 97 == 0).sum())
    for m in ("rne", "rdn"):
        assert r.mismatches[m] >= expect > 0
        assert r.filter_errors[m] == 0
        e = r.examples[m][0]
        x = int(e["x"], 16)
        assert x % 97 == 0 and e["x"].startswith("0x")
        assert int(e["got"], 16) == int(e["want"], 16) + 1
        assert V.mpfr_oracle("exp", x, m) == int(e["want"], 16)


def test_verify_on_dask_in_process_matches_serial():
    pytest.importorskip("distributed")
    from fpsem.bridges.dask_run import client
    kw = dict(lo=0x3F800000, hi=0x3F800000 + 40000, chunk=1 << 14)
    serial = V.verify("tanh", "rne,rup", **kw)
    with client() as c:
        dist = V.verify("tanh", "rne,rup", client=c, **kw)
    assert serial.ok and dist.ok
    assert (serial.total, serial.chunks, serial.mpfr) == (dist.total, dist.chunks, dist.mpfr)


def test_cli_verify_pass_and_json(capsys, tmp_path):
    j = tmp_path / "v.json"
    code, out, err = run(capsys, "verify", "log", "--range", "0x3f7f0000:0x3f810000", "--modes", "rtz,rna",
                         "--serial", "--json", str(j))
    assert code == 0, err
    assert "PASS" in out and "131,072" in out
    d = json.loads(j.read_text())
    assert d["ok"] and d["total"] == 0x20000 and d["modes"] == ["rtz", "rna"]


@pytest.mark.parametrize("args, msg", [
    (["verify", "expm1"], "unknown function"),
    (["verify", "exp", "--modes", "rne,up"], "unknown rounding mode"),
    (["verify", "exp", "--range", "0x10:0x5"], "--range"),
    (["verify", "exp", "--format", "binary16"], "binary32 only"),
    (["verify", "exp", "--sample", "0"], "--sample"),
    (["verify", "exp", "--serial", "--workers", "2"], "--serial"),
    (["verify", "exp", "--range", "0x3f800000:0x3f800010", "--json", "/nonexistent-dir/v.json"],
     "does not exist"),
])
def test_cli_verify_usage_errors(capsys, args, msg):
    code, out, err = run(capsys, *args)
    assert code == 2 and msg in err and len(err.strip().splitlines()) == 1, err


def test_bad_request_is_fpsem_error():
    with pytest.raises(FpsemError):
        V.verify("exp", "all", lo=5, hi=5)
