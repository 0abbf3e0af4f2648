"""Bit-exact whatever the host's MXCSR (issue 18): the tests SET the calling
thread's MXCSR (FTZ, DAZ, each hardware rounding mode) and check the emulator
and the ieee32 domain bit for bit against results computed under the default
state and against the integer reference loops; the float32 domain reports the
state instead. The fixture restores MXCSR whatever happens."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fpsem
from fpsem import fpenv
from fpsem.emu import _kernels as K
from fpsem.emu import binary32

pytestmark = pytest.mark.skipif(not fpenv.SUPPORTED, reason="MXCSR is x86-64 only")

STATES = {
    "ftz": fpenv.compose(ftz=True),
    "daz": fpenv.compose(daz=True),
    "ftz+daz": fpenv.compose(ftz=True, daz=True),
    "rdn": fpenv.compose(rounding="rdn"),
    "rup": fpenv.compose(rounding="rup"),
    "rtz": fpenv.compose(rounding="rtz"),
    "ftz+daz+rup": fpenv.compose(ftz=True, daz=True, rounding="rup"),
}


@pytest.fixture
def host_csr():
    """set(value) sets this thread's MXCSR; the original is restored afterwards."""
    saved = fpenv.mxcsr()

    def set_(value):
        fpenv.set_mxcsr(value)
        assert fpenv.mxcsr() & fpenv.CONTROL_MASK == value & fpenv.CONTROL_MASK

    yield set_
    fpenv.set_mxcsr(saved)
    assert fpenv.is_default()


def _operands(n=4000, seed=18):
    from _emu_util import edges
    from fpsem import formats as F
    e = edges(F.binary32)
    rng = np.random.default_rng(seed)
    sub = rng.integers(1, 1 << 23, n // 4).astype(np.uint32)  # subnormals
    near = (rng.integers(1, 1 << 24, n // 4) + (1 << 23)).astype(np.uint32)  # near 2**-126
    rnd = rng.integers(0, 1 << 32, n // 2, dtype=np.uint64).astype(np.uint32)
    pool = np.concatenate([e, sub, near, rnd, sub | 0x80000000])
    a = np.concatenate([np.repeat(e, e.size), rng.choice(pool, n)]).astype(np.uint32)
    b = np.concatenate([np.tile(e, e.size), rng.choice(pool, n)]).astype(np.uint32)
    c = np.concatenate([np.roll(np.tile(e, e.size), 7), rng.choice(pool, n)]).astype(np.uint32)
    return a, b, c


def test_issue_case_ftz_daz(host_csr):
    a, b = np.uint32(0x00000001), np.uint32(0x00800001)
    host_csr(STATES["ftz+daz"])
    # the state is really set: the CPU itself now flushes the subnormal operand
    hw = (np.array([a]).view(np.float32) + np.array([b]).view(np.float32)).view(np.uint32)[0]
    assert hw == 0x00800001
    out, fl = binary32.add(a, b)
    assert int(out) == 0x00800002 and not fl


def test_restores_callers_state(host_csr):
    host_csr(STATES["ftz+daz+rup"])
    binary32.add(np.uint32(1), np.uint32(0x00800001))
    fpsem.domain("ieee32").add(*[fpsem.domain("ieee32").asarray(["1e-40", "3"])] * 2)
    assert fpenv.mxcsr() & fpenv.CONTROL_MASK == STATES["ftz+daz+rup"]


@pytest.mark.parametrize("state", list(STATES))
def test_emulator_arith_bit_exact(host_csr, state):
    a, b, c = _operands()
    ops = {"add": lambda m: binary32.add(a, b, rounding=m),
           "sub": lambda m: binary32.sub(a, b, rounding=m),
           "mul": lambda m: binary32.mul(a, b, rounding=m),
           "div": lambda m: binary32.div(a, b, rounding=m),
           "sqrt": lambda m: binary32.sqrt(a, rounding=m),
           "fma": lambda m: binary32.fma(a, b, c, rounding=m),
           "add_daz_ftz": lambda m: binary32.add(a, b, rounding=m, ftz=True, daz=True)}
    modes = ("rne", "rup", "rtz")
    want = {(k, m): f(m) for k, f in ops.items() for m in modes}
    host_csr(STATES[state])
    for (k, m), (w_out, w_fl) in want.items():
        out, fl = ops[k](m)
        assert np.array_equal(out, w_out), (state, k, m, int((out != w_out).sum()))
        assert np.array_equal(fl.bits, w_fl.bits), (state, k, m)
    # and against the integer reference loops (which never touch float hardware)
    for m in modes:
        cfg = binary32.cfg(m)
        ref = np.empty(a.size, np.uint32)
        rfl = np.empty(a.size, np.uint8)
        K.k_add(a, b, cfg, 0, ref, rfl)
        out, fl = binary32.add(a, b, rounding=m)
        assert np.array_equal(out, ref) and np.array_equal(fl.bits, rfl)


@pytest.mark.parametrize("state", ["ftz+daz", "rup", "rtz"])
def test_elementary_bit_exact(host_csr, state):
    a, _, _ = _operands(2000)
    fns = ("exp", "log", "tanh", "sin", "exp2", "rsqrt")
    want = {(f, m): getattr(binary32, f)(a, rounding=m) for f in fns for m in ("rne", "rdn")}
    host_csr(STATES[state])
    for (f, m), (w_out, w_fl) in want.items():
        out, fl = getattr(binary32, f)(a, rounding=m)
        assert np.array_equal(out, w_out), (state, f, m, int((out != w_out).sum()))
        assert np.array_equal(fl.bits, w_fl.bits), (state, f, m)


def _domain_results(D, x, w):
    outs = [D.sum(x, acc=acc) for acc in ("sequential", "pairwise", "blocked(8)")]
    outs += [D.dot(x, w, acc=acc) for acc in ("sequential", "pairwise", "tree(4)", "fma_chain",
                                             "exact_then_round")]
    outs += [D.exp(x), D.tanh(x), D.sqrt(D.abs(x)), D.fma(x, x, x), D.div(x, D.add(x, x))]
    return [np.asarray(o).view(np.uint32).copy() for o in outs]


@pytest.mark.parametrize("state,opts", [("ftz+daz", {}), ("rup", {"rounding": "rtz"}),
                                        ("ftz+daz+rup", {"ftz": True, "daz": True})])
def test_ieee32_domain_bit_exact(host_csr, state, opts):
    D = fpsem.domain("ieee32", **opts)
    rng = np.random.default_rng(1)
    # tiny values so that FTZ/DAZ and the rounding mode would show
    x = D.asarray((rng.standard_normal((2, 12, 40)) * 2.0 ** -120).astype(np.float32))
    w = D.asarray(rng.standard_normal((2, 40, 9)).astype(np.float32))
    want = _domain_results(D, x, w)
    host_csr(STATES[state])
    got = _domain_results(D, x, w)
    for i, (g, e) in enumerate(zip(got, want)):
        assert np.array_equal(g, e), (state, opts, i, int((g != e).sum()))


def test_float32_domain_reports_host_state(host_csr):
    D = fpsem.domain("float32")
    assert D.label == "float32" and D.describe()["host_fpenv"] == "default"
    host_csr(STATES["ftz+daz+rup"])
    assert D.label == "float32(host=ftz+daz+rounding=rup)"
    assert D.describe()["host_fpenv"] == "ftz,daz,rounding=rup"
    assert fpsem.domain("float32", acc="pairwise").label == "float32(acc=pairwise, host=ftz+daz+rounding=rup)"
    # ieee32 means the same whatever the host: its label does not change
    assert fpsem.domain("ieee32").label == "ieee32"


def test_audit_platform_records_fpenv(host_csr):
    from fpsem.bridges.audit import _platform
    assert _platform()["fpenv"] == "default"
    host_csr(STATES["daz"])
    assert _platform()["fpenv"] == "daz"


def test_worker_threads_created_under_ftz():
    """Threads keep the MXCSR they were created with: numba's prange workers and
    the tile pool, started while FTZ/DAZ and round-up are set, must still compute
    ieee32's bits (and the float32 domain's workers follow the caller)."""
    code = textwrap.dedent("""
        import numpy as np, fpsem
        from fpsem import fpenv
        from fpsem.value import raw
        D = fpsem.domain("ieee32")
        rng = np.random.default_rng(2)
        x = D.asarray((rng.standard_normal((2, 64, 600)) * 2.0 ** -120).astype(np.float32))
        w = D.asarray(rng.standard_normal((2, 600, 300)).astype(np.float32))
        accs = ("sequential", "pairwise", "fma_chain")
        F = [fpsem.domain("float32", acc=a) for a in ("sequential", "fma_chain")]
        xf, wf = raw(x), raw(w)   # the same float32 numbers as float32 data
        fpenv.set_mxcsr(fpenv.compose(ftz=True, daz=True, rounding="rup"))
        # float32 is not guarded: its first dots start numba's prange workers and
        # the tile pool under FTZ/DAZ/round-up, and they keep that state
        f_host = [raw(f.dot(xf, wf)).view(np.uint32).copy() for f in F]
        got = [raw(D.dot(x, w, acc=a)).view(np.uint32).copy() for a in accs]
        fpenv.set_mxcsr(fpenv.DEFAULT)
        # the expected bits on the calling thread alone (the workers may be wrong)
        import numba
        numba.set_num_threads(1)
        want = [raw(D.dot(x, w, acc=a)).view(np.uint32).copy() for a in accs]
        f_def = [raw(f.dot(xf, wf)).view(np.uint32).copy() for f in F]
        print([int((g != e).sum()) for g, e in zip(got, want)],
              min(int((a != b).sum()) for a, b in zip(f_host, f_def)))
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                       env={**__import__("os").environ, "NUMBA_NUM_THREADS": "2"})
    assert r.returncode == 0, r.stderr[-2000:]
    diffs, fdiff = r.stdout.strip().rsplit(" ", 1)
    assert diffs == "[0, 0, 0]"
    assert int(fdiff) > 0  # float32 really ran under the host's state, in every thread
