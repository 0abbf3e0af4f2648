"""The binary32 fast lanes of fpsem.emu.elementary (vectorized polynomial exp, log,
tanh; the enclosure decision in every mode) against MPFR and against the
libm-based scalar path elem_s. Never asserts on time."""
from __future__ import annotations

import math
from fractions import Fraction

import gmpy2
import numpy as np
import pytest

from fpsem import emu
from fpsem import formats as F
from fpsem.emu import elementary as EL
from fpsem.emu.oracle import elementary_oracle, round_exact

from _emu_util import MODES, compare_to_oracle, edges
from _sweep import fpsem_scale

B = emu.binary32
FMT = F.binary32
FTZ_DAZ = [(False, False), (True, False), (False, True), (True, True)]

# points where a function (or its fast lane, or elem_s) changes regime
_COMMON = [0.0, 2.0 ** -149, 2.0 ** -126, 2.0 ** -126 * (1 - 2.0 ** -23), 3.4028234663852886e38,
           1.0, 0.5, 2.0, 2.0 ** -26, 2.0 ** -24, 2.0 ** -12, 2.0 ** -40, 0.3465735902799727,
           1.0397207708399179, 3.0]
_POINTS = {
    "exp": [88.72283935546875, 88.7228391, -87.33654475, -103.27892990343185, -103.97207708399179,
            -104.0, 104.0, 89.0, 700.0, 2.0 ** -27, 0.6931471805599453, 20.0, -20.0],
    "exp2": [128.0, -126.0, -149.0, -150.0, 127.99999, 1000.0, 0.5, -0.5, 2.0 ** -27],
    "log": [1.0 + 2.0 ** -23, 1.0 - 2.0 ** -24, 0.7071067811865476, 1.4142135623730951, 2.718281828,
            4.0, 0.25, 1e-40, 1e-45, 1e38, 1.5],
    "tanh": [10.0, 9.9999, 9.010913347279289, 8.317766166719343, 0.17328679513998632,
             0.5493061443340549, 2.0 ** -13, 5.0],
    "erf": [4.0, 3.9999, 3.832506856900711, 2.0 ** -13, 0.4769362762044699, 0.75, 0.875, 3.875,
            1.5, 2.0 ** -30],
    "sin": [math.pi / 2, math.pi, 2.0 ** -13, 1e30, 105414350.0, 22.0, 355.0, 65536.0, 65535.99,
            0.7853981633974483, 2.356194490192345, 51471.0 * math.pi / 2, 40000.0 * math.pi],
    "cos": [math.pi / 2, math.pi, 2.0 ** -13, 1e30, 22.0, 355.0, 65536.0, 0.7853981633974483,
            3.0 * math.pi / 2, 40001.0 * math.pi / 2],
    "sigmoid": [2.0 ** -25, 18.0, 17.9999, -700.0, -88.0, -103.0, -87.0, 16.635532333438686],
    "rsqrt": [4.0, 0.25, 2.0 ** -148, 2.0 ** -149, 3.0, 1e38, 2.0 ** 126],
}


def _edge_inputs(fn):
    """Each point and its binary32 neighbours (up to 4 encodings away), both signs,
    plus the generic edge classes (zeros, subnormals, infinities, NaN payloads)."""
    pts = np.array(_COMMON + _POINTS[fn], dtype=np.float64)
    c = np.abs(pts).astype(np.float32).view(np.uint32).astype(np.int64)
    near = (c[:, None] + np.arange(-4, 5)[None, :]).ravel()
    near = near[(near >= 0) & (near < 0x7F800000)]
    near = np.concatenate([near, near | 0x80000000])
    nans = np.array([0x7FC00000, 0x7FC00001, 0x7F800001, 0x7FA00000, 0x7FFFFFFF,
                     0xFFC00000, 0xFF800001, 0xFFC12345], dtype=np.int64)
    return np.unique(np.concatenate([near, nans, edges(FMT).astype(np.int64)])).astype(np.uint32)


def _check(fn, x, mode, ftz, daz, tininess="after"):
    out, fl = getattr(B, fn)(x, rounding=mode, ftz=ftz, daz=daz, tininess=tininess)
    return compare_to_oracle(FMT, fn, out, fl.bits, (x,), mode, tininess, ftz, daz,
                             oracle=lambda ops: elementary_oracle(fn, ops[0], FMT, mode,
                                                                  tininess, ftz, daz))


@pytest.mark.parametrize("ftz,daz", FTZ_DAZ)
@pytest.mark.parametrize("fn", list(EL.FUNCTIONS))
def test_fast_lane_edges_against_oracle(fn, ftz, daz):
    x = _edge_inputs(fn)
    for mode in MODES:
        bad = _check(fn, x, mode, ftz, daz)
        assert not bad, "\n".join(bad)


@pytest.mark.parametrize("fn", ["exp", "log", "tanh"])
def test_fast_lane_edges_tininess_before(fn):
    x = _edge_inputs(fn)
    for mode in MODES:
        bad = _check(fn, x, mode, True, False, "before") + _check(fn, x, mode, False, False, "before")
        assert not bad, "\n".join(bad)


def _sweep_inputs(fn, rng, n):
    lo, hi = {"exp": (-105, 90), "log": (0, 4), "tanh": (-11, 11), "sin": (-10, 10),
              "erf": (-4.5, 4.5), "exp2": (-151, 129), "cos": (-10, 10), "sigmoid": (-110, 20),
              "rsqrt": (0, 10)}[fn]
    r = rng.uniform(lo, hi, n).astype(np.float32).view(np.uint32)
    if fn in ("sin", "cos"):  # the whole fast-lane range |x| < 2**16, and near k pi/2
        r[: n // 3] = rng.uniform(-70000, 70000, n // 3).astype(np.float32).view(np.uint32)
        kp = (rng.integers(-41000, 41000, n // 3) * (np.pi / 2)).astype(np.float32).view(np.uint32)
        r[n // 3: 2 * (n // 3)] = kp + rng.integers(-2, 3, n // 3).astype(np.uint32)
    tiny = (np.exp2(rng.uniform(-150, 0, n)).astype(np.float32).view(np.uint32)
            | (rng.integers(0, 2, n).astype(np.uint32) << 31))
    u = rng.integers(0, 2 ** 32, n // 4, dtype=np.int64).astype(np.uint32)
    return np.concatenate([r, tiny, u])


@pytest.mark.parametrize("fn", ["exp", "log", "tanh", "sin", "cos", "erf"])
def test_fast_lane_random_against_oracle(fn):
    rng = np.random.default_rng(2024 + EL.FUNCTIONS[fn])
    x = _sweep_inputs(fn, rng, 300 * fpsem_scale())
    for k, mode in enumerate(MODES):
        ftz, daz = FTZ_DAZ[k % 4]
        bad = _check(fn, x, mode, ftz, daz)
        assert not bad, "\n".join(bad)


@pytest.mark.parametrize("fn", list(EL.FUNCTIONS))
def test_fast_lane_random_against_elem_s(fn):
    """Large random sets without the oracle: where both the fast pass and the
    scalar elem_s path decide a lane, they must agree bit for bit (both claim the
    correctly rounded result)."""
    rng = np.random.default_rng(77 + EL.FUNCTIONS[fn])
    x = _sweep_inputs(fn, rng, 40_000 * fpsem_scale())
    code = EL.FUNCTIONS[fn]
    for mode in MODES:
        for ftz, daz in FTZ_DAZ:
            cfg = B.cfg(mode, ftz, daz)
            o1, f1, h1 = np.empty(x.size, np.uint32), np.empty(x.size, np.uint8), np.empty(x.size, np.int64)
            n1 = EL.k_elem(code, x, cfg, o1, f1, h1)
            o2, h2 = np.empty_like(o1), np.empty_like(h1)
            f2 = np.full(x.size, EL._UNDECIDED, np.uint8)
            n2 = EL._pass2(code, x, cfg, o2, f2, h2)  # elem_s on every lane
            hard = np.zeros(x.size, bool)
            hard[h1[:n1]] = True
            hard[h2[:n2]] = True
            bad = np.nonzero(((o1 != o2) | (f1 != f2)) & ~hard)[0]
            assert bad.size == 0, (fn, mode, ftz, daz, hex(x[bad[0]]), hex(o1[bad[0]]), hex(o2[bad[0]]))
            # pass 2 settled every lane the fast pass left
            assert np.count_nonzero(f1 == EL._UNDECIDED) == 0


def _rel_err(f_fast, f_mp, xs):
    worst = 0.0
    with gmpy2.context(precision=160):
        for x in xs:
            y = f_fast(float(x))
            ref = f_mp(gmpy2.mpfr(float(x)))
            worst = max(worst, float(abs((gmpy2.mpfr(y) - ref) / ref)))
    return worst


def test_polynomial_error_bounds():
    """The proven bound of each polynomial is 2**-45 (docstrings); measure on a
    sample including the reduction boundaries."""
    rng = np.random.default_rng(5)
    n = 3000 * fpsem_scale()
    xe = np.concatenate([rng.uniform(-104, 89, n), rng.uniform(-0.4, 0.4, n),
                         (np.arange(-150, 129) + 0.5) * math.log(2)]).astype(np.float32)
    xe = xe[(np.abs(xe) < 104) & (xe != 0)]
    assert _rel_err(EL._poly_exp, gmpy2.exp, xe) < 2.0 ** -45
    xl = np.concatenate([np.exp2(rng.uniform(-149, 128, n)), rng.uniform(0.69, 1.45, n),
                         np.float32(np.sqrt(0.5)) * np.exp2(np.arange(-140, 127.0))]).astype(np.float32)
    xl = xl[(xl > 0) & (xl != 1) & np.isfinite(xl)]
    assert _rel_err(EL._poly_log, gmpy2.log, xl) < 2.0 ** -45
    xt = np.concatenate([rng.uniform(-10, 10, n), np.exp2(rng.uniform(-149, 3, n)),
                         (np.arange(1, 30) + 0.5) * math.log(2) / 2]).astype(np.float32)
    xt = xt[(np.abs(xt) < 10) & (xt != 0)]
    assert _rel_err(EL._poly_tanh, gmpy2.tanh, xt) < 2.0 ** -45
    xf = np.concatenate([rng.uniform(-4, 4, n), np.exp2(rng.uniform(-149, 2, n)),
                         np.arange(0.75, 4, 1 / 16), np.arange(0.75, 4, 1 / 16) - 2.0 ** -20]).astype(np.float32)
    xf = xf[(np.abs(xf) < 4) & (xf != 0)]
    assert _rel_err(EL._poly_erf, gmpy2.erf, xf) < 2.0 ** -45


def test_erf_table_row_bound():
    """The Horner bound of _poly_erf assumes sum |a_n| / 16**n <= 1.108 erf(left end)."""
    for j in range(26):
        tot = sum(abs(EL._ERF_TAB[j, n]) / 16.0 ** n for n in range(11))
        assert tot <= 1.108 * math.erf(0.75 + j / 8) * (1 + 1e-12)


def test_sincos_error_bound():
    """_poly_sincos returns (y, eps) with eps = 2**-42 + 2**-98/|r~| = 8x its
    proven bound 2**-45 + 2**-101/|r~| (docstring): check that proven bound."""
    rng = np.random.default_rng(6)
    n = 3000 * fpsem_scale()
    k = rng.integers(-41700, 41700, n)
    x = np.concatenate([rng.uniform(-65535, 65535, n), rng.uniform(-1, 1, n),
                        k * (np.pi / 2), np.exp2(rng.uniform(-149, 0, n))]).astype(np.float32)
    x = x[(np.abs(x) < 65536) & (x != 0)]
    with gmpy2.context(precision=300):
        for cosine in (False, True):
            for v in x:
                y, eps = EL._poly_sincos(float(v), cosine)
                X = gmpy2.mpfr(float(v))
                ref = gmpy2.cos(X) if cosine else gmpy2.sin(X)
                err = float(abs((gmpy2.mpfr(y) - ref) / ref))
                assert err <= 2.0 ** -45 + (eps - EL.EPS_POLY) / 8, (float(v), cosine, err, eps)


def _ulp32(f):
    """ulp of the binary32 normal value f (FLT_MAX included)."""
    return math.ldexp(1.0, math.frexp(abs(f))[1] - 24)


@pytest.mark.parametrize("mode", MODES)
def test_decide_against_exact_rounding(mode):
    """_decide on constructed enclosures: every claimed lane must be the rounding
    of both interval ends (hence of everything between, rounding being monotone)
    with only the inexact flag, under either tininess rule, with and without FTZ."""
    rng = np.random.default_rng(9)
    code = {"rne": 0, "rtz": 1, "rup": 2, "rdn": 3, "rna": 4}[mode]
    base = [1.0, 1.5, 2.0 ** -126, 2.0 ** -126 * (1 + 2.0 ** -23), 2.0 ** -125, 3.4028234663852886e38,
            3.4028232635611926e38, 3.4028230607370965e38, 0.75, 2.0 ** 100]
    base += list(np.exp2(rng.uniform(-126, 127, 40)).astype(np.float32).astype(float))
    offs = [0.0, 2.0 ** -30, -(2.0 ** -30), 2.0 ** -18, -(2.0 ** -18), 0.5, -0.5, 0.5 - 2.0 ** -28,
            -0.5 + 2.0 ** -28, 0.5 + 2.0 ** -28, -0.5 - 2.0 ** -28, 0.25, -0.25, 1.0, -1.0]
    claimed = 0
    for f in base:
        for sgn in (1.0, -1.0):
            for o in offs:
                y = sgn * (f + o * _ulp32(f))
                for eps in (0.0, 2.0 ** -45, 2.0 ** -42, 2.0 ** -30, 2.0 ** -24):
                    ok, bits = EL._decide(y, eps, code)
                    if not ok:
                        continue
                    claimed += 1
                    d = abs(y) * eps
                    for end in (y - d, y + d):
                        q = Fraction(end)
                        for tin in ("after", "before"):
                            for ftz in (False, True):
                                r = round_exact(q, FMT, mode, 0, tin, ftz, approx=True)
                                assert r == (int(bits) & 0xFFFFFFFF, 16), (mode, y, eps, end, hex(bits), r)
    assert claimed > 100
