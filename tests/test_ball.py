"""The `ball` domain (FLINT/Arb balls) and the envelope's ball reference.

Soundness oracles: exact rationals (the `exact` domain, Fractions) for rational
results; MPFR (gmpy2) at 1,000 bits with directed rounding for every
transcendental primitive; the `interval` domain for containment.
"""
import math
from fractions import Fraction

import gmpy2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fpsem
import fpsem.ops as ops
from fpsem.errors import NotRepresentable, UnsupportedOption
from fpsem.registry import availability

pytestmark = pytest.mark.skipif(not availability("ball")[0], reason="python-flint missing")

EX = fpsem.domain("exact")


def B(prec=128):
    return fpsem.domain("ball", prec=prec)


def _inside(D, x, fracs):
    return D.contains(x, np.asarray(fracs, dtype=object)).all()


# -- transcendental primitives against MPFR ------------------------------------------
MP = {"exp": gmpy2.exp, "log": gmpy2.log, "tanh": gmpy2.tanh, "erf": gmpy2.erf,
      "sin": gmpy2.sin, "cos": gmpy2.cos, "sqrt": gmpy2.sqrt, "exp2": gmpy2.exp2}


def _mpfr_bracket(fn, q):
    """[lo, hi] Fractions around fn(q), from MPFR at 1000 bits in both directions."""
    out = []
    for rnd in (gmpy2.RoundDown, gmpy2.RoundUp):
        ctx = gmpy2.context(precision=1000, round=rnd)
        with gmpy2.local_context(ctx):
            # the input itself is exact (a dyadic with < 1000 bits)
            v = fn(gmpy2.mpfr(gmpy2.mpq(q.numerator, q.denominator)))
        out.append(Fraction(*v.as_integer_ratio()))
    return out


dyadic = st.builds(lambda k, e: Fraction(k) * Fraction(2) ** e,
                   st.integers(-(2 ** 40), 2 ** 40), st.integers(-60, 8))


@pytest.mark.parametrize("prim", sorted(MP))
@given(q=dyadic, prec=st.sampled_from([53, 128, 333]))
@settings(max_examples=25, deadline=None)
def test_transcendental_encloses_mpfr(prim, q, prec):
    if prim in ("log", "sqrt") and q <= 0:
        q = -q + Fraction(1, 2 ** 70)
    if prim in ("exp", "exp2") and abs(q) > 600:
        q = Fraction(600) if q > 0 else Fraction(-600)   # keep the exact endpoints small
    D = B(prec)
    x = getattr(D, prim)(D.asarray(np.array([q], dtype=object)))
    lo, hi = D.to_fraction(x)
    flo, fhi = _mpfr_bracket(MP[prim], q)
    assert lo[0] <= flo and fhi <= hi[0], (prim, q)
    # and tight: the ball's width is within a few ulps of its precision
    mag = max(abs(flo), abs(fhi), Fraction(1, 2 ** 1000))
    assert hi[0] - lo[0] <= mag * Fraction(2) ** (-prec + 8) + Fraction(1, 2 ** 900)


@given(a=dyadic, b=dyadic)
@settings(max_examples=60, deadline=None)
def test_arithmetic_encloses_exact(a, b):
    D = B(64)
    x, y = D.asarray(np.array([a], dtype=object)), D.asarray(np.array([b], dtype=object))
    cases = {"add": a + b, "sub": a - b, "mul": a * b}
    if b != 0:
        cases["div"] = a / b
    for op, want in cases.items():
        assert _inside(D, getattr(D, op)(x, y), [want]), op
    assert _inside(D, D.fma(x, y, x), [a * b + a])


# -- matrix products: the exact-slice (Ozaki) path ------------------------------------
@given(seed=st.integers(0, 2 ** 32 - 1), m=st.integers(1, 5), k=st.integers(1, 40), n=st.integers(1, 6),
       spread=st.integers(0, 60), prec=st.sampled_from([24, 64, 200]))
@settings(max_examples=40, deadline=None)
def test_dot_with_point_weights_encloses_exact(seed, m, k, n, spread, prec):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k)) * np.exp2(rng.integers(-spread, spread + 1, size=(m, k)))
    w = (rng.standard_normal((k, n)) * np.exp2(rng.integers(-spread, spread + 1, size=(k, n)))).astype(np.float32)
    a[rng.random((m, k)) < 0.2] = 0.0
    w[rng.random((k, n)) < 0.2] = 0.0
    D = B(prec)
    third = D.const("1/3")
    xa = D.mul(D.asarray(a), third)                 # balls with radii
    y = D.dot(xa, D.asarray(w))
    ey = EX.dot(EX.mul(EX.asarray(a), EX.const("1/3")), EX.asarray(w))
    assert _inside(D, y, EX.to_fraction(ey))
    # point @ point and point @ ball (the transposed path)
    assert _inside(D, D.dot(D.asarray(a), D.asarray(w)), EX.to_fraction(EX.dot(EX.asarray(a), EX.asarray(w))))
    yt = D.dot(D.asarray(w.T.astype(np.float64)), D.transpose(xa))
    assert _inside(D, yt, EX.to_fraction(EX.transpose(ey)))


def test_dot_tightness_and_fixed_form_views():
    rng = np.random.default_rng(1)
    D = B(200)
    a = D.div(D.asarray(rng.standard_normal((8, 300))), D.const(7))
    w = D.asarray((rng.standard_normal((300, 5)) * 0.02).astype(np.float32))
    y = D.dot(a, w)
    assert y.is_mp
    lo, hi = D.to_fraction(y)
    width = max(float(h - l) for h, l in zip(hi.ravel(), lo.ravel()))
    assert width < 1e-55                              # ~2^-200 relative, not a float64 width
    m, r = D.mid_rad(y)
    l64, h64 = D.to_float64(y)
    assert (l64 <= m).all() and (m <= h64).all() and (r < 1e-14).all()
    # structural ops keep the fixed form; arithmetic converts exactly
    t = D.transpose(D.reshape(y, (4, 2, 5)), (2, 0, 1))
    assert t.is_mp and D.shape(t) == (5, 4, 2)
    s = D.add(y, D.asarray(np.ones(5)))
    lo2, hi2 = D.to_fraction(s)
    assert all(l - 1 <= l0 and h0 <= h - 1 + Fraction(1, 2 ** 150)
               for l, h, l0, h0 in zip(lo2.ravel(), hi2.ravel(), lo.ravel(), hi.ravel()))


def test_ball_matmul_of_two_balls_encloses_exact():
    rng = np.random.default_rng(2)
    D = B(100)
    a = rng.integers(-9, 9, size=(2, 3, 4)).astype(float)
    b = rng.integers(-9, 9, size=(2, 4, 5)).astype(float)
    x = D.div(D.asarray(a), D.const(3))
    y = D.div(D.asarray(b), D.const(7))
    want = EX.dot(EX.div(EX.asarray(a), EX.const(3)), EX.div(EX.asarray(b), EX.const(7)))
    assert _inside(D, D.dot(x, y), EX.to_fraction(want))


# -- edges of the real domain, comparisons and where ------------------------------------
def test_edges_and_three_valued_comparisons():
    D = B(64)
    with pytest.raises(NotRepresentable, match=r"sqrt\[ball"):
        D.sqrt(D.asarray([-1]))
    with pytest.raises(NotRepresentable, match=r"log\[ball"):
        D.log(D.asarray([0]))
    wide = D.ball([0], [1])                                   # [-1, 1]
    lo, hi = D.to_float64(D.div(D.asarray([1]), wide))
    assert lo[0] == -np.inf and hi[0] == np.inf              # 1/[-1, 1]: unbounded, not nan
    assert D.to_float64(D.sqrt(wide))[0][0] <= 0 <= D.to_float64(D.sqrt(wide))[1][0]
    c = D.lt(wide, D.asarray([0.5]))
    assert not c.sure[0] and c.maybe[0]                      # undecided
    w = D.where(c, D.asarray([10]), D.asarray([20]))
    lo, hi = D.to_float64(w)
    assert lo[0] <= 10 and hi[0] >= 20                        # the union of both branches
    assert D.lt(D.asarray([1]), D.asarray([2])).sure[0]
    relu = ops.relu(D, wide)
    lo, hi = D.to_float64(relu)
    assert lo[0] <= 0 and hi[0] >= 1
    with pytest.raises(NotRepresentable):
        D.asarray([np.inf])


def test_options_are_checked():
    assert fpsem.domain("ball").auto and fpsem.domain("ball").prec == 128
    assert fpsem.domain("ball", prec="300").prec == 300
    for bad in (8, 10 ** 6, "many", 1.5, True):
        with pytest.raises(UnsupportedOption, match="ball"):
            fpsem.domain("ball", prec=bad)
    assert "128-bit" in str(B().accuracy("exp")) and B().accuracy("exp").kind == "enclosure"


def test_asarray_takes_decimal_strings_and_floats_exactly():
    D = B(100)
    x = D.asarray(["0.1", 0.1])
    assert _inside(D, x, [Fraction(1, 10), Fraction(0.1)])
    lo, hi = D.to_fraction(x)
    assert lo[1] == hi[1] == Fraction(0.1)                    # floats are exact points
    assert lo[0] < Fraction(1, 10) < hi[0]


# -- the envelope's ball reference ----------------------------------------------------------
@pytest.fixture(scope="module")
def env_tiny():
    return fpsem.envelope("gpt2", config="tiny", domain=["ieee32", "bf16"], compare=[])


def test_envelope_default_reference_is_ball_and_reports_the_true_error(env_tiny):
    env = env_tiny
    assert env.reference.startswith("ball(prec=") and env.reference_bits >= 64
    for label in env.domains:
        for s in env.stats(label):
            assert s.measured and s.bound_abs is not None and math.isfinite(s.bound_abs)
            if s.max_abs:
                # the bound exceeds the observed error by at most the reference radius,
                # and the auto precision keeps that radius below 2^-30 of the error
                assert s.bound_abs <= s.max_abs * (1 + 1e-6), s.name
                # (or, at most, the 2^-46 relative floor of the reference's float64 view)
                assert s.ref_radius <= max(s.max_abs * 2.0 ** -30, s.ref_scale * 2.0 ** -46) * 1.01, s.name
    dec = env.decision()
    assert dec.reference.certain and dec.agrees is True
    d = env.to_dict()
    assert d["reference_bits"] == env.reference_bits
    assert any("reference precision chosen automatically" in n for n in env.notes)


def test_too_wide_reference_is_said_not_printed_as_an_error():
    # a 24-bit ball is too coarse to measure binary32 errors: the envelope says so
    env = fpsem.envelope("gpt2", config="tiny", domain="ieee32", reference="ball:prec=24", compare=[])
    wide = [s for s in env.stats() if not s.measured]
    assert wide, "a 24-bit reference should be too wide somewhere"
    for s in wide:
        assert s.max_abs is None and s.to_dict()["measured"] is False
        assert s.bound_abs is not None and s.bound_abs > 0           # the bound still holds
    from rich.console import Console
    con = Console(width=250, record=True)
    con.print(env.table())
    assert "ref too wide" in con.export_text()
    dec = env.decision()
    assert dec.agrees in (True, None)


def test_float64_domain_errors_are_measured_with_a_double_double_midpoint():
    env = fpsem.envelope("mlp", domain="float64", reference="ball:prec=200", compare=[])
    assert all(s.measured for s in env.stats() if s.max_abs != 0)
    last = env.stats()[-1]
    assert last.max_abs > 0 and last.bound_abs <= last.max_abs * (1 + 1e-6)


def test_cli_run_prints_ball_bits_and_json(tmp_path):
    from click.testing import CliRunner

    from fpsem.cli import cli
    out = tmp_path / "r.json"
    r = CliRunner().invoke(cli, ["run", "gpt2", "-d", "ieee32", "--token-ids", "1,2,3", "--no-progress",
                                 "--json", str(out)])
    assert r.exit_code == 0, r.output
    assert "reference precision chosen automatically" in r.output
    assert "CERTAIN" in r.output
    import json
    rep = json.loads(out.read_text())
    # the per-block table's bound/observed column (its header may wrap in a narrow terminal)
    assert all(b["tightness"] is not None and b["tightness"] >= 1 for b in rep["envelope"][0]["blocks"]
               if b["max_abs"])
    assert rep["reference_bits"] >= 64 and rep["reference"] == "ball"
