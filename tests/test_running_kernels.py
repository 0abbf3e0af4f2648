"""The fused kernels of the running bounds (bridges/_running_kernels.py) against the
numpy formulas of bridges/running.py they replace: bit for bit, on random data with
zeros, subnormals, infinities and NaN (NaN positions must agree; payloads may not).
End to end: a tiny GPT-2 under Running(D) gives the same bits both ways."""
import ml_dtypes
import numpy as np
import pytest

import fpsem
from fpsem.bridges import _running_kernels as K
from fpsem.bridges import running as R
from fpsem.bridges._num import abs_diff_up
from fpsem.bridges.running import RV, Running, _Track, _up_add, local_stats
from fpsem.value import raw

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

SPECIAL = np.array([0.0, -0.0, 5e-324, -5e-324, 2.0 ** -1022, 2.0 ** -1060, 1e-300, 1.0, -1.0,
                    0.5, 3.0, 1e300, np.finfo(np.float64).max, np.inf, -np.inf, np.nan])


def _data(rng, n, nonneg=False):
    """Random float64 data: wide magnitudes, about a fifth special values."""
    x = rng.standard_normal(n) * 10.0 ** rng.integers(-320, 300, n)
    x = np.where(rng.random(n) < 0.2, rng.choice(SPECIAL, n), x)
    return np.abs(x) if nonneg else x


def _same(a, b):
    a, b = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))
    nan = np.isnan(a)
    assert np.array_equal(nan, np.isnan(b))
    assert np.array_equal(a[~nan].view(np.int64), b[~nan].view(np.int64)), \
        (a[~nan][a[~nan] != b[~nan]][:4], b[~nan][a[~nan] != b[~nan]][:4])


TRACKS = ["float32", "ieee32", "bf16", "fp16", "float64", "ieee32:rounding=rtz"]


def _track(spec):
    name, _, opt = spec.partition(":")
    kw = dict(o.split("=") for o in opt.split(",")) if opt else {}
    return _Track(fpsem.domain(name, **kw))


RULES = {  # the numpy rules of Running's _impl_* (running.py), by kernel
    "add": (K.add_bound, 2, False, lambda v, e: _up_add(e[0], e[1])),
    "mul": (K.mul_bound, 2, True, lambda v, e: _up_add(R._up_mul(np.abs(v[0]), e[1]),
                                                       R._up_mul(np.abs(v[1]), e[0]), R._up_mul(e[0], e[1]))),
    "div": (K.div_bound, 2, True, None),
    "fma": (K.fma_bound, 3, True, lambda v, e: _up_add(R._up_mul(np.abs(v[0]), e[1]),
                                                       R._up_mul(np.abs(v[1]), e[0]),
                                                       R._up_mul(e[0], e[1]), e[2])),
}


def _div_rule(v, e):
    ay = np.abs(v[1])
    num = _up_add(R._up_mul(np.abs(v[0]), e[1]), R._up_mul(ay, e[0]))
    den = (ay * (ay - e[1])) * (1 - 2.0 ** -50)
    return np.where(ay > e[1], R.up(num / den), R.INF)


@pytest.mark.parametrize("spec", TRACKS)
@pytest.mark.parametrize("prim", ["add", "mul", "div", "fma", "tanh", "exp", "neg"])
def test_elementwise_kernels_match_the_formulas(spec, prim):
    t = _track(spec)
    rng = np.random.default_rng(hash((spec, prim)) % 2 ** 32)
    n = 4000
    r = _data(rng, n)
    la = t.loc_args(prim)
    loc = t.loc(prim, r)
    with np.errstate(all="ignore"):
        rv = _data(rng, n, True)
        _same(K.rule_bound(rv, r, *la), _up_add(rv, loc))
        _same(R._kernel(K.rule_bound, la, rv, r), _up_add(rv, loc))
        if prim not in RULES:
            return
        kern, nin, with_v, rule = RULES[prim]
        rule = rule or _div_rule
        v = [_data(rng, n) for _ in range(nin)]
        e = [_data(rng, n, True) for _ in range(nin)]
        e[0][::3] = 0.0
        want = _up_add(rule(v, e), loc)
        args = (v if with_v else []) + e + [r]
        _same(kern(*args, *la), want)
        _same(R._kernel(kern, la, *args), want)         # the correctly rounded variant where it applies
        if la[0] == K.LOC_CR:
            _same(K.CR[kern](*args, la[1], la[2]), want)


@pytest.mark.parametrize("spec", TRACKS)
def test_dot_bound_kernel_matches_the_formula(spec):
    t = _track(spec)
    rng = np.random.default_rng(7)
    n, k = 3000, 37
    S = _data(rng, n, True)
    terms = [_data(rng, n, True) for _ in range(3)]
    f = _data(rng, n)
    g = t.gamma("dot", 40)
    c = 1 + (4 * k + 16) * 2.0 ** -52
    e2k = 2 * k * t.eta if t.ok else 0.0
    with np.errstate(all="ignore"):
        e = S * g if g != R.INF else np.full(n, R.INF)
        for x in terms:
            e = e + x
        e = R.up((e + e2k) * c) if t.ok else R.up(e * c)
        _same(K.dot_bound(S, *terms, 0.0, g, e2k, c, 0, 0.0, 0.0), e)
        _same(K.dot_bound(S, *terms, 0.0, g, e2k, c, 1, 0.0, 0.0), _up_add(e, 0.0))
        fin = t.final(f, k)
        if not np.isscalar(fin):      # a wider accumulation, rounded once at the end
            feta = t.eta + float(R.frac_up(2 * k * R._eta(t.acc_fmt, t.rnd)))
            _same(K.dot_bound(S, *terms, f, g, e2k, c, 2, t.u1, feta), _up_add(e, fin))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rounding_error_kernels_match_abs_diff_up(dtype):
    rng = np.random.default_rng(3)
    x = _data(rng, 5000).astype(dtype)
    f = x.copy()
    f[::2] = _data(rng, 2500).astype(dtype)
    f[::7] = np.nextafter(x[::7], np.inf)
    with np.errstate(all="ignore"):
        want = np.where(f == x, 0.0, abs_diff_up(f, x))
    out = np.empty(x.size)
    i = K.first_diff(f, x)
    assert i == int(np.flatnonzero(~(f == x))[0])
    K.rounding_err(f, x, i, out)
    _same(out, want)
    assert K.first_diff(x, x.copy()) == (int(np.flatnonzero(np.isnan(x))[0]) if np.isnan(x).any() else -1)


@pytest.mark.parametrize("kind", [1, 2])
def test_16_bit_kernels_match_the_widening(kind):
    """bfloat16 (1) and binary16 (2) read from their bits: every pattern, and rounded data."""
    import ml_dtypes
    dt = ml_dtypes.bfloat16 if kind == 1 else np.float16
    rng = np.random.default_rng(4)
    x = _data(rng, 5000).astype(np.float32)
    with np.errstate(all="ignore"):
        b = x.astype(dt)
    bits = np.concatenate([b.view(np.uint16), np.arange(2 ** 16, dtype=np.uint16)])
    every = bits.view(dt).astype(np.float64)
    xs = np.concatenate([x, np.zeros(2 ** 16, np.float32)])
    out = np.empty(xs.size)
    K.rounding_err_half(bits, xs, kind, 0, out)
    with np.errstate(all="ignore"):
        _same(out, np.where(every == xs, 0.0, abs_diff_up(every, xs)))
    assert K.first_diff_half(bits, xs, kind) == int(np.flatnonzero(~(every == xs))[0])


def test_abs_diff_same():
    rng = np.random.default_rng(5)
    bs = _data(rng, 600).reshape(2, 30, 10)
    b = bs.astype(np.float32).astype(np.float64)
    with np.errstate(all="ignore"):
        d = np.abs(bs - b)
        out = np.empty_like(b)
        assert K.abs_diff_same(bs, b, d.copy(), out) == bool((d == d).all())   # NaN: never the same
        _same(out, d)
        fin = np.where(np.isnan(d), 0.0, d)
        bs, b = np.where(np.isnan(d), 1.0, bs), np.where(np.isnan(d), 1.0, b)
        assert K.abs_diff_same(bs, b, fin, out)
        i = np.flatnonzero(np.isfinite(fin))[0]
        fin.flat[i] = np.nextafter(fin.flat[i], np.inf)
        assert not K.abs_diff_same(bs, b, fin, out)


@pytest.mark.parametrize("dt", ["float32", "float64", "bf16", "fp16"])
def test_widen_abs_diff(dt):
    """|B| and |Bs - B| of a block read from D's storage (16-bit: from its bits)."""
    rng = np.random.default_rng(10)
    bs = _data(rng, 600).astype(np.float32).astype(np.float64).reshape(2, 30, 10)
    typ = {"bf16": ml_dtypes.bfloat16, "fp16": np.float16, "float32": np.float32, "float64": np.float64}[dt]
    with np.errstate(all="ignore"):
        bf = bs.astype(typ)
        B = bf.astype(np.float64)
        d = np.abs(bs - B)
    half = {"bf16": 1, "fp16": 2}.get(dt, 0)
    src = bf.view(np.uint16) if half else bf
    ab, db = np.empty_like(B), np.empty_like(B)
    same = K.widen_abs_diff(src, half, bs, d.copy(), True, ab, db)
    _same(ab, np.abs(B))
    _same(db, d)
    assert same == bool((d == d).all())
    assert K.widen_abs_diff(src, half, bs, bs, False, ab, db) is False


def _rv(rng, shape, nonfinite=False):
    f = rng.standard_normal(shape).astype(np.float32)
    s = f.astype(np.float64) + rng.standard_normal(shape) * 1e-8
    e = np.abs(rng.standard_normal(shape)) * 1e-7
    e.flat[::5] = 0.0
    es = np.abs(rng.standard_normal(shape)) * 1e-16
    if nonfinite:
        f.flat[3] = np.inf
    return RV(f, e, s, es)


@pytest.mark.parametrize("case", ["plain", "zero_e", "nonfinite", "unobservable", "scalar_e"])
def test_local_stats_kernel_matches_numpy(monkeypatch, case):
    RD = Running(fpsem.domain("float32"))
    rng = np.random.default_rng(6)
    x = _rv(rng, (7, 9), nonfinite=case == "nonfinite")
    if case == "zero_e":
        x.e = np.zeros((7, 9))
    if case == "unobservable":
        x.es = x.es + 1.0
    if case == "scalar_e":
        x.e = R._zeros((7, 9))
        x.es = R._zeros((7, 9))
    got = local_stats(RD, x)
    monkeypatch.setattr(R, "FUSED", False)
    want = local_stats(RD, x)
    assert got == want or (np.isnan(got[2]) and np.isnan(want[2]) and got[:2] == want[:2])


def _node_bits(spec, D, fused, monkeypatch):
    """Every tapped node of a tiny GPT-2 under Running(D): (e, es, s) and local_stats."""
    from bridges.record import record
    monkeypatch.setattr(R, "FUSED", fused)
    RD = Running(D)
    out = {}

    def on_node(name, x):
        rv = raw(x)
        out[name] = ([np.array(np.asarray(p, dtype=np.float64)) for p in (RD.tD.f64(rv.f), rv.e, rv.s, rv.es)],
                     local_stats(RD, rv))
        RD.rebase(rv)
    record(spec, RD, on_node)
    return out


def _tiny_spec():
    from bridges.record import resolve_model
    from models import get_model
    from models.gpt2 import builtin_ids
    from models.tokenizer import ByteTokenizer
    m = get_model("gpt2", config="tiny")
    return resolve_model(m, (builtin_ids(ByteTokenizer(), 5, m.config),))


@pytest.mark.parametrize("spec", ["float32", "ieee32", "bf16", "fp16", "ieee32:rounding=rtz"])
def test_gpt2_nodes_bit_for_bit(monkeypatch, spec):
    """The fused path and the numpy formulas on a whole tiny GPT-2, every node's
    value, bounds and shadow. The LM head stays one block (DOT_BLOCK large): its
    products are then BLAS's on the same arrays both ways."""
    name, _, opt = spec.partition(":")
    D = fpsem.domain(name, **(dict(o.split("=") for o in opt.split(",")) if opt else {}))
    monkeypatch.setattr(R, "DOT_BLOCK", 1 << 30)
    sp = _tiny_spec()
    a = _node_bits(sp, D, True, monkeypatch)
    b = _node_bits(sp, D, False, monkeypatch)
    assert list(a) == list(b)
    for node in a:
        for x, y in zip(a[node][0], b[node][0]):
            _same(x, y)
        assert a[node][1] == b[node][1], node


@pytest.mark.parametrize("spec", ["float32", "bf16"])
def test_blocked_dot_is_the_same_product(monkeypatch, spec):
    """Column blocks of a dot (DOT_BLOCK small): f and the bounds' own arithmetic are
    the same; BLAS may sum a block's products in another order than the whole
    matrix's, so the shadow and the bounds agree to the float64 summation error
    that the bound's factor (1 + (4k+16) 2^-52) covers."""
    D = fpsem.domain(spec)
    rng = np.random.default_rng(8)
    w = rng.standard_normal((40, 1000)).astype(np.float32) * 0.3
    x = rng.standard_normal((6, 40)).astype(np.float32)
    res = {}
    for fused, block in ((True, 40 * 256), (False, 1 << 30)):
        monkeypatch.setattr(R, "FUSED", fused)
        monkeypatch.setattr(R, "DOT_BLOCK", block)
        RD = Running(D)
        xv = RD.asarray(x)
        RD.rebase(xv)
        res[fused] = raw(RD.dot(xv, RD.transpose(RD.asarray(w.T.copy()))))
    a, b = res[True], res[False]
    _same(a.f, b.f)
    k = x.shape[1]
    # sums of nonnegative terms in two orders: relative difference <= 2 gamma_k(2^-53)
    for p, q in ((a.e, b.e), (a.es, b.es)):
        np.testing.assert_allclose(p, q, rtol=2 * k * 2.0 ** -52, atol=0)
    # the shadow: |difference| <= 2 gamma_k(2^-53) |x| |w| (products exact in float64)
    xw = np.abs(x.astype(np.float64)) @ np.abs(w.astype(np.float64))
    assert (np.abs(np.asarray(a.s) - np.asarray(b.s)) <= 2 * k * 2.0 ** -52 * xw).all()


@pytest.mark.parametrize("uf", list(K.LOOPS), ids=lambda u: u.__name__)
def test_loops_match_their_ufuncs(uf):
    """K.call runs a kernel as a flat loop where it can (contiguous float32/float64
    arrays, broadcast scalars) and as the ufunc elsewhere: the same bits."""
    rng = np.random.default_rng(9)
    shape = (13, 17)
    n = uf.nin
    na = {K.dot_bound: 5, K.rule_bound: 2, K.rule_bound_cr: 2}.get(uf, n - 2)
    tail = {K.dot_bound: (1e-3, 1e-40, 1 + 64 * 2.0 ** -52, 2, 2.0 ** -24, 1e-44),
            K.rule_bound: (K.LOC_ULPS, 0.0, 0.0, 8.0, 24, -126)}.get(uf, (2.0 ** -24, 2.0 ** -150))
    kinds = ["f64", "f32", "bscalar", "zero_d", "float", "strided", "f16", "bf16", "row"]
    for trial in range(30):
        args = []
        for j in range(na):
            kind = kinds[rng.integers(len(kinds))] if trial else "f64"
            x = _data(rng, 13 * 17, nonneg=j >= na // 2).reshape(shape)
            args.append({"f64": x, "f32": x.astype(np.float32), "bscalar": np.broadcast_to(x[0, 0], shape),
                         "zero_d": np.array(x[0, 0]), "float": float(x[0, 0]),
                         "strided": np.asfortranarray(x), "f16": x.astype(np.float16),
                         "bf16": x.astype(ml_dtypes.bfloat16), "row": x[:1].copy()}[kind])
        with np.errstate(all="ignore"):
            want = uf(*args, *tail)
            _same(K.call(uf, na, *args, *tail), want)
            out = np.empty(np.shape(want))
            K.call(uf, na, *args, *tail, out=out)
            _same(out, want)
            out = np.empty(np.shape(want)[::-1]).T            # a strided out
            K.call(uf, na, *args, *tail, out=out)
            _same(out, want)
