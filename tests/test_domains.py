"""The domain protocol and the numpy / exact domains."""
import math
from fractions import Fraction

import gmpy2
import numpy as np
import pytest
from hypothesis import given, strategies as st

import fpsem
from fpsem.formats import binary32, binary16, bfloat16, binary64, round_fraction, decode
from fpsem.order import order_schedule, parse_order
from _ball import BallDomain

GM = {"rne": gmpy2.RoundToNearest, "rtz": gmpy2.RoundToZero, "rup": gmpy2.RoundUp, "rdn": gmpy2.RoundDown}


def _gmpy_round(q, fmt, mode):
    ctx = gmpy2.context(precision=fmt.p, emin=fmt.emin - fmt.p + 2, emax=fmt.emax + 1,
                        subnormalize=True, round=GM[mode])
    with gmpy2.context(ctx):
        r = gmpy2.mpfr(gmpy2.mpq(q.numerator, q.denominator))
        r = ctx.check_range(r)
    return r


@given(num=st.integers(-10**30, 10**30), den=st.integers(1, 10**30), e=st.integers(-170, 140),
       mode=st.sampled_from(["rne", "rtz", "rup", "rdn"]))
def test_round_fraction_matches_mpfr_binary32(num, den, e, mode):
    q = Fraction(num, den) * Fraction(2) ** e
    r = round_fraction(q, binary32, mode)
    want = _gmpy_round(q, binary32, mode)
    got = decode(r.bits, binary32)
    if gmpy2.is_infinite(want):
        assert got == float(want)
    else:
        assert got == Fraction(*want.as_integer_ratio()) and (q == 0 or r.inexact == (got != q))


@pytest.mark.parametrize("fmt", [binary16, bfloat16, binary64], ids=str)
@given(num=st.integers(-10**20, 10**20), den=st.integers(1, 10**20), e=st.integers(-40, 40))
def test_round_fraction_other_formats(fmt, num, den, e):
    q = Fraction(num, den) * Fraction(2) ** e
    want = _gmpy_round(q, fmt, "rne")
    got = decode(round_fraction(q, fmt, "rne").bits, fmt)
    assert got == (float(want) if gmpy2.is_infinite(want) else Fraction(*want.as_integer_ratio()))


def test_rna_ties_away():
    # 1 + 2**-24 is halfway between 1 and 1 + 2**-23 in binary32
    q = 1 + Fraction(1, 2**24)
    assert decode(round_fraction(q, binary32, "rna").bits, binary32) == 1 + Fraction(1, 2**23)
    assert decode(round_fraction(q, binary32, "rne").bits, binary32) == 1
    assert decode(round_fraction(-q, binary32, "rna").bits, binary32) == -(1 + Fraction(1, 2**23))


def test_asarray_decimal_strings_are_correctly_rounded_not_double_rounded():
    D = fpsem.domain("float32")
    # a decimal whose binary64 rounding lands exactly on a binary32 tie: rounding
    # through float64 first would give the wrong neighbour
    s = "1.000000059604644775390625000000000000001"  # just above 1 + 2**-24
    x = D.asarray([s])
    assert D.to_fraction(x)[0] == 1 + Fraction(1, 2**23)
    assert np.float32(float(s)) == np.float32(1.0)  # the double-rounding answer


def test_floats_taken_exactly_and_fractions():
    D = fpsem.domain("float64")
    x = D.asarray([0.1, Fraction(1, 3), "0.5", 7])
    assert D.to_fraction(x)[0] == Fraction(0.1)
    assert D.to_fraction(x)[1] == Fraction(round_fraction(Fraction(1, 3), binary64).bits and float(Fraction(1, 3)))
    E = fpsem.domain("exact")
    assert list(E.to_fraction(E.asarray([0.1, "1/3"]))) == [Fraction(0.1), Fraction(1, 3)]


def test_domains_are_immutable_and_options_checked():
    D = fpsem.domain("float32")
    with pytest.raises(AttributeError):
        D.rounding = "rtz"
    with pytest.raises(fpsem.UnsupportedOption, match="rounding"):
        fpsem.domain("float32", rounding="rup")
    with pytest.raises(fpsem.UnsupportedOption, match="ftz"):
        fpsem.domain("float32", ftz=True)
    with pytest.raises(fpsem.UnsupportedOption, match="no option 'colour'"):
        fpsem.domain("float64", colour="red")
    with pytest.raises(fpsem.UnsupportedOption, match="accumulation order"):
        fpsem.domain("float32", acc="zigzag")
    with pytest.raises(fpsem.UnknownDomain, match="unknown domain 'float31'"):
        fpsem.domain("float31")
    assert fpsem.domain("float32", acc="pairwise") == fpsem.domain("float32").replace(acc="pairwise")


def test_const_refuses_float_literals():
    D = fpsem.domain("float32")
    with pytest.raises(fpsem.UnsupportedOption, match="float literal"):
        D.const(0.1)
    assert D.const("0.1")[()] == np.float32(0.1)


def test_shape_errors_name_op_and_domain():
    D = fpsem.domain("float32")
    a, b = D.asarray(np.ones((2, 3))), D.asarray(np.ones((4, 3)))
    with pytest.raises(fpsem.ShapeError, match=r"add\[float32\]: shapes \(2, 3\) and \(4, 3\)"):
        D.add(a, b)
    with pytest.raises(fpsem.ShapeError, match=r"dot\[float32\]: inner dimensions"):
        D.dot(a, b)
    with pytest.raises(fpsem.ShapeError, match="reshape"):
        D.reshape(a, (5,))


def test_exact_domain_not_representable_message():
    E = fpsem.domain("exact")
    with pytest.raises(fpsem.NotRepresentable, match=r"exp\[exact\].*interval"):
        E.exp(E.asarray([1]))
    with pytest.raises(fpsem.NotRepresentable, match="division by zero"):
        E.div(E.asarray([1]), E.asarray([0]))
    assert E.to_fraction(E.sqrt(E.asarray(["9/4"])))[0] == Fraction(3, 2)
    assert E.to_fraction(E.exp2(E.asarray([-3])))[0] == Fraction(1, 8)
    assert E.to_fraction(E.exp(E.asarray([0])))[0] == 1


def _schedule_reference(vals, order, add):
    steps, root = order_schedule(parse_order(order), len(vals))
    nodes = dict(enumerate(vals))
    for d, a, b in steps:
        nodes[d] = add(nodes[a], nodes[b])
    return nodes[root]


@pytest.mark.parametrize("order", ["sequential", "pairwise", "blocked(3)", "blocked(8)", "tree(4)", "tree(32)"])
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 40))
def test_ordered_sum_follows_the_schedule(order, seed, n):
    """The float32 domain's ordered sum is the documented order, step by step."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(n) * 10.0 ** rng.integers(-3, 4, n)).astype(np.float32)
    D = fpsem.domain("float32", acc=order)
    got = D.sum(D.asarray(x))
    want = _schedule_reference(list(x), order, lambda a, b: np.float32(a + b))
    assert got.tobytes() == np.float32(want).tobytes()


@pytest.mark.parametrize("order", ["sequential", "pairwise", "blocked(4)", "tree(8)"])
def test_ordered_dot_follows_the_schedule(order):
    rng = np.random.default_rng(7)
    a = rng.standard_normal((3, 37)).astype(np.float32)
    b = rng.standard_normal((37, 2)).astype(np.float32)
    D = fpsem.domain("float32", acc=order)
    got = D.dot(D.asarray(a), D.asarray(b))
    for i in range(3):
        for j in range(2):
            prods = [np.float32(a[i, k] * b[k, j]) for k in range(37)]
            want = _schedule_reference(prods, order, lambda x, y: np.float32(x + y))
            assert got[i, j] == want


def _fma_mpfr(x, y, z):
    q = Fraction(float(x)) * Fraction(float(y)) + Fraction(float(z))
    return np.array(round_fraction(q, binary32, "rne").bits, dtype=np.uint32).view(np.float32)


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_float32_fma_rounds_once(a, b, c):
    x, y, z = (np.array([v], dtype=np.uint32).view(np.float32) for v in (a, b, c))
    D = fpsem.domain("float32")
    got = D.fma(x, y, z)
    if not (np.isfinite(x) & np.isfinite(y) & np.isfinite(z) & np.isfinite(got)).all():
        return
    want = _fma_mpfr(x[0], y[0], z[0])
    assert got[0] == want or (got[0] == 0 and want == 0)


def test_fma_chain_is_one_rounding_per_step():
    # terms: 1*(-1), then (1 + 2**-12)**2 = 1 + 2**-11 + 2**-24 (a binary32 tie)
    a = np.array([[1.0, 1 + 2.0**-12]], dtype=np.float32)
    b = np.array([[-1.0], [1 + 2.0**-12]], dtype=np.float32)
    F = fpsem.domain("float32", acc="fma_chain")
    # fma(a1, b1, -1) = 2**-11 + 2**-24 exactly: the product is never rounded alone
    assert F.dot(F.asarray(a), F.asarray(b))[0, 0] == np.float32(2.0**-11 + 2.0**-24)
    S = fpsem.domain("float32", acc="sequential")
    # sequential rounds the product to 1 + 2**-11 (ties to even) first
    assert S.dot(S.asarray(a), S.asarray(b))[0, 0] == np.float32(2.0**-11)


def test_ieee_maximum_signed_zero_and_nan():
    D = fpsem.domain("float32")
    a = np.array([-0.0, 0.0, np.nan, 1.0], dtype=np.float32)
    b = np.array([0.0, -0.0, 1.0, np.nan], dtype=np.float32)
    mx, mn = D.maximum(a, b), D.minimum(a, b)
    assert not np.signbit(mx[0]) and not np.signbit(mx[1])
    assert np.signbit(mn[0]) and np.signbit(mn[1])
    assert np.isnan(mx[2:]).all() and np.isnan(mn[2:]).all()
    r = D.max(D.asarray(np.array([[-0.0, 0.0, -0.0]], dtype=np.float32)))
    assert not np.signbit(r[0])


def test_oracle_catches_a_one_ulp_fault():
    """The declared-accuracy envelope is not vacuous: a float32 domain whose add is
    off by one ulp (0.5 ulp more than it declares) is caught on softmax's sum."""
    from fpsem.domains.numpy_float import Float32Domain

    class Faulty(Float32Domain):
        def _impl_add(self, a, b):
            r = np.asarray(np.add(a, b))
            return np.asarray(np.nextafter(r, np.float32(np.inf)), dtype=np.float32)

    T = Faulty(acc="sequential")
    rng = np.random.default_rng(0)
    x = rng.integers(-64, 64, (4, 16)).astype(np.float64) / 16
    from fpsem.ops import add as op_add
    got = T.to_float64(op_add(T, T.asarray(x), T.asarray(x[::-1] / 3)))
    B = BallDomain(T)
    ball = op_add(B, B.asarray(x), B.asarray(x[::-1] / 3))
    assert not ball.contains(got).all()
    good = fpsem.domain("float32")
    assert ball.contains(good.to_float64(op_add(good, good.asarray(x), good.asarray(x[::-1] / 3)))).all()


# -- numpy elementary functions keep their declared ulp bounds --------------------
def _ulp_err(got, exact, fmt):
    import mpmath
    e = mpmath.floor(mpmath.log(abs(exact), 2)) if exact != 0 else fmt.emin
    e = max(int(e), fmt.emin)
    return abs(mpmath.mpf(float(got)) - exact) / mpmath.mpf(2) ** (e - fmt.p + 1)


@pytest.mark.parametrize("dname", ["float32", "float64"])
@pytest.mark.parametrize("fn", ["exp", "exp2", "log", "tanh", "sin", "cos", "erf"])
def test_numpy_elementary_within_declared_ulps(dname, fn):
    import mpmath
    from _sweep import fpsem_scale
    mpmath.mp.dps = 50
    D = fpsem.domain(dname)
    k = D.accuracy(fn).ulps
    rng = np.random.default_rng(11)
    n = 400 * fpsem_scale()
    lim = {"exp": 80, "exp2": 120, "log": 1e30, "tanh": 20, "sin": 100, "cos": 100, "erf": 6}[fn]
    xs = rng.uniform(-lim, lim, n) if fn != "log" else np.exp(rng.uniform(-60, 60, n))
    xs = np.concatenate([xs, rng.uniform(-1, 1, n // 4)]).astype(D.dtype)
    if fn == "log":
        xs = np.abs(xs) + np.finfo(D.dtype).tiny
    got = getattr(D, fn)(D.asarray(xs))
    mfn = {"exp": mpmath.exp, "exp2": lambda v: mpmath.power(2, v), "log": mpmath.log,
           "tanh": mpmath.tanh, "sin": mpmath.sin, "cos": mpmath.cos, "erf": mpmath.erf}[fn]
    worst = 0
    for x, g in zip(xs.tolist(), got.tolist()):
        ex = mfn(mpmath.mpf(x))
        if not math.isfinite(g) or abs(ex) > float(D.format.max_finite):
            continue
        worst = max(worst, float(_ulp_err(g, ex, D.format)))
    assert worst <= k, f"{fn}[{dname}] max error {worst:.3f} ulp exceeds its declared {k}"


def test_exact_asarray_converts_object_arrays_of_floats():
    E = fpsem.domain("exact")
    x = E.asarray(np.array([0.1, Fraction(1, 3)], dtype=object))
    y = E.mul(x, E.const(3))
    assert list(E.to_fraction(y)) == [3 * Fraction(0.1), Fraction(1)]


def test_float64_fma_rounds_once_and_handles_infinities():
    """float64 fma (the CPU's fused multiply-add) against exact rationals, and
    IEEE non-finite cases: the exact product of finite operands is finite, so
    fma(1e300, 1e300, -inf) is -inf, not NaN."""
    from fractions import Fraction
    import math
    D = fpsem.domain("float64")
    rng = np.random.default_rng(5)
    x, y, z = (rng.standard_normal(2000) * 10.0 ** rng.integers(-30, 30, 2000) for _ in range(3))
    z[:500] = -(x[:500] * y[:500])  # heavy cancellation: one rounding matters
    got = np.asarray(D.fma(D.asarray(x), D.asarray(y), D.asarray(z)))
    for a, b, c, g in zip(x, y, z, got):
        want = float(Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c)))
        assert g == want or (g == 0 and want == 0), (a, b, c, g, want)
    ends = np.array([1e300, -1e300, np.inf, -np.inf, 0.0, -0.0, 2.0])
    a, b, c = (v.ravel() for v in np.meshgrid(ends, ends, ends, indexing="ij"))
    got = np.asarray(D.fma(D.asarray(a), D.asarray(b), D.asarray(c)))
    for p, q, r, g in zip(a, b, c, got):
        if math.isinf(p) or math.isinf(q):
            prod = p * q  # inf or NaN (inf * 0)
            want = prod + r
        elif math.isinf(r):
            want = r
        else:
            exact = Fraction(p) * Fraction(q) + Fraction(r)
            want = float(exact) if abs(exact) < Fraction(2) ** 1024 else (math.inf if exact > 0 else -math.inf)
        if math.isnan(want):
            assert math.isnan(g), (p, q, r, g)
        else:
            assert g == want, (p, q, r, g, want)
