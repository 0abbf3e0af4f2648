"""Running (a-priori, standard-model) local bounds for every node kind.

Soundness is checked against an independent oracle: the Arb `ball` domain
evaluates the same computation on the same float inputs, and the true error
|f - exact| (at least |f - mid| - rad) must never exceed the running bound.
A domain that breaks its declared accuracy must be caught (the check can fail).
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fpsem
from fpsem.bridges.running import RV, Running, local_stats
from fpsem.domains.ieee import IEEE32Domain
from fpsem.value import raw

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

flint = pytest.importorskip("flint")

DOMAINS = ["ieee32", "float32", "bf16", "fp16", "ieee32:rounding=rtz", "ieee32:rounding=rup"]


def _dom(spec):
    name, _, opt = spec.partition(":")
    kw = dict(o.split("=") for o in opt.split(",")) if opt else {}
    return fpsem.domain(name, **kw)


def _check(RD, out, ball_out, B):
    """|f - exact| <= e for every element, with exact inside the ball."""
    out = raw(out)
    f = RD.tD.f64(out.f)
    m, r = B.mid_rad(ball_out)
    e = np.asarray(out.e, dtype=np.float64)
    with np.errstate(all="ignore"):
        low = np.abs(f - m) - r            # a lower bound of the true error (up to fp64 slop)
    ok = ~np.isfinite(e) | ~np.isfinite(f) | (low <= e * (1 + 2.0 ** -40) + 1e-300)
    assert ok.all(), (RD.label, float(np.max(low - e)), f[~ok][:3], m[~ok][:3], e[~ok][:3])


def _chains():
    """Small computations built from every primitive kind (same code, any domain)."""
    def c_elem(D, x, y):
        t = D.mul(D.add(x, y), D.sub(x, y))
        return D.tanh(D.add(D.exp(D.mul(t, D.const("0.25"))), D.erf(x)))

    def c_div_sqrt_log(D, x, y):
        a = D.add(D.mul(x, x), D.const(1))
        return D.div(D.log(a), D.sqrt(D.add(D.abs(y), D.const("0.5"))))

    def c_trig_fma(D, x, y):
        return D.fma(D.sin(x), D.cos(y), D.exp2(D.mul(y, D.const("0.125"))))

    def c_reduce(D, x, y):
        z = D.reshape(D.mul(x, y), (4, -1))
        s = D.sum(z, axis=1)
        mx = D.max(D.exp(z), axis=1)
        return D.add(s, mx)

    def c_softmax_dot(D, x, y):
        a = D.reshape(x, (4, -1))
        b = D.reshape(y, (-1, 4))
        h = D.dot(a, b)
        m = D.max(h, axis=1, keepdims=True)
        p = D.exp(D.sub(h, m))
        p = D.div(p, D.sum(p, axis=1, keepdims=True))
        return D.dot(p, D.transpose(h))

    def c_where(D, x, y):
        c = D.lt(D.mul(x, D.const(3)), D.add(y, y))
        return D.where(c, D.exp(x), D.mul(y, D.const("0.7")))

    return [c_elem, c_div_sqrt_log, c_trig_fma, c_reduce, c_softmax_dot, c_where]


arrays = st.lists(st.floats(-4, 4, allow_nan=False, width=32), min_size=16, max_size=16)


@pytest.mark.parametrize("spec", DOMAINS)
@pytest.mark.parametrize("chain", _chains(), ids=lambda c: c.__name__)
@given(xs=arrays, ys=arrays)
def test_running_bound_encloses_true_error(spec, chain, xs, ys):
    D = _dom(spec)
    RD = Running(D)
    B = fpsem.domain("ball", prec=200)
    x = np.array(xs, dtype=np.float32)
    y = np.array(ys, dtype=np.float32)
    # the ball evaluates the same computation on the inputs as D holds them
    xr, yr = RD.asarray(x), RD.asarray(y)
    xf, yf = RD.tD.f64(raw(xr).f), RD.tD.f64(raw(yr).f)
    for v in (xr, yr):
        RD.rebase(v)
    try:
        out = chain(RD, xr, yr)
    except fpsem.FpsemError:
        return
    try:
        ref = chain(B, B.asarray(xf), B.asarray(yf))
    except fpsem.FpsemError:
        return
    _check(RD, out, ref, B)


@pytest.mark.parametrize("spec", DOMAINS)
def test_input_rounding_is_part_of_the_bound(spec):
    """Weights rounded into a narrow format: the rounding is a local error of the node."""
    D = _dom(spec)
    RD = Running(D)
    B = fpsem.domain("ball", prec=200)
    w = np.random.default_rng(1).standard_normal((8, 5)).astype(np.float32) * 0.3
    x = RD.asarray(np.random.default_rng(2).standard_normal((3, 8)).astype(np.float32))
    RD.rebase(x)
    out = RD.dot(x, RD.asarray(w))
    ref = B.dot(B.asarray(RD.tD.f64(raw(x).f)), B.asarray(w))
    _check(RD, out, ref, B)


def _tiny_env(domains):
    from models import get_model
    from models.gpt2 import builtin_ids
    from models.tokenizer import ByteTokenizer
    m = get_model("gpt2", config="tiny")
    ids = builtin_ids(ByteTokenizer(), 6, m.config)
    return fpsem.envelope(m, (ids,), domain=domains, compare=[], reference="ball")


def test_every_gpt2_node_kind_gets_a_bound_that_holds():
    env = _tiny_env(["ieee32", "float32", "bf16", "ieee32:rounding=rtz"])
    kinds = set()
    for s in env.stats():
        if s.name in ("wte", "wpe"):
            continue
        if s.domain in ("ieee32", "float32"):
            # every node: layer norm, attention, GELU, residual adds, linear layers, logits
            assert s.apriori is not None and s.apriori_ratio is not None, (s.domain, s.name)
            kinds.add(s.name.split(".")[-1])
        if s.apriori_ratio is not None:
            assert s.apriori_ratio <= 1.0, (s.domain, s.name, s.apriori_ratio)
            assert s.apriori_observed is not None
    assert {"ln_1", "ln_2", "attn", "act", "resid_attn", "resid_mlp", "c_fc", "c_proj", "logits",
            "embed", "ln_f"} <= kinds
    # the residual add is one rounding: its bound is nearly attained (a tight rule)
    res = [s.apriori_ratio for s in env.stats() if s.name.endswith("resid_mlp") and s.domain == "ieee32"]
    assert max(res) > 0.5


class _SloppyTanh(IEEE32Domain):
    """Declares correctly rounded tanh but is off by 64 ulps: the bound must catch it."""
    name = "ieee32"

    def _impl_tanh(self, a):
        r = super()._impl_tanh(a)
        return np.where(np.abs(r.view(np.float32)) < 0.5, r + np.uint32(64), r).astype(r.dtype)


def test_a_domain_breaking_its_declaration_is_caught():
    D = _SloppyTanh()
    RD = Running(D)
    x = RD.asarray(np.linspace(-0.4, 0.4, 64, dtype=np.float32))
    RD.rebase(x)
    out = RD.tanh(x)
    b, obs, ratio = local_stats(RD, out)
    assert ratio is not None and ratio > 1.0
    honest = Running(fpsem.domain("ieee32"))
    x2 = honest.asarray(np.linspace(-0.4, 0.4, 64, dtype=np.float32))
    honest.rebase(x2)
    assert local_stats(honest, honest.tanh(x2))[2] <= 1.0


def test_unspecified_accumulation_gives_no_bound():
    """bf16 accumulating in bf16 itself over k=512: k u >= 1, the standard bound does
    not apply: the node gets none (never a guessed one). With the default binary32
    accumulation the same dot gets a finite bound that holds."""
    for acc_format, finite in (("bfloat16", False), ("binary32", True)):
        D = fpsem.domain("bf16", acc_format=acc_format)
        RD = Running(D)
        B = fpsem.domain("ball", prec=200)
        w = np.random.default_rng(3).standard_normal((512, 3)).astype(np.float32)
        x = RD.asarray(np.random.default_rng(4).standard_normal((2, 512)).astype(np.float32))
        RD.rebase(x)
        out = RD.dot(x, RD.asarray(w))
        assert isinstance(raw(out), RV)
        assert np.isfinite(np.asarray(raw(out).e)).all() == finite
        if finite:
            _check(RD, out, B.dot(B.asarray(RD.tD.f64(raw(x).f)), B.asarray(w)), B)
