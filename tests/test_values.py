"""Values know their domain (issue 15): every silent-wrong case of the issue is a
correct result or a one-line FpsemError naming the op, both domains and the rule.
Oracles: exact rationals rounded with fpsem.formats.round_fraction (integer
arithmetic only), never the code under test."""
from __future__ import annotations

import pickle
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fpsem
from fpsem import ops
from fpsem.errors import FpsemError
from fpsem.formats import bfloat16, binary16, binary32, decode, round_fraction
from fpsem.value import Value, raw


def rnd(q, fmt, mode="rne"):
    """The exact rational q rounded once into fmt (the oracle's one rounding)."""
    return decode(round_fraction(Fraction(q), fmt, mode).bits, fmt)


def fr(D, x):
    return [Fraction(v) for v in np.ravel(D.to_fraction(x))]


def one_line(e):
    msg = str(e.value)
    assert "\n" not in msg
    return msg


# -- the measured silent-wrong cases --------------------------------------------------
def test_bf16_add_adds_numbers_not_encodings():
    B = fpsem.domain("bf16")
    x = B.asarray(["0.1"])
    q = rnd(Fraction(1, 10), bfloat16)
    assert fr(B, x + x) == [rnd(2 * q, bfloat16)]          # was 1.6e36


def test_float64_data_to_ieee32_is_rounded_not_reinterpreted():
    D = fpsem.domain("ieee32")
    out = ops.add(D, np.array([0.1]), np.array([0.2]))
    assert out.shape == (1,)                                # was two elements
    a, b = rnd(Fraction(0.1), binary32), rnd(Fraction(0.2), binary32)
    assert fr(D, out) == [rnd(a + b, binary32)]
    assert ops.softmax(D, np.array([1.0, 2.0, 3.0])).shape == (3,)   # was 6


@pytest.mark.parametrize("name", ["ieee32", "fp16", "bf16"])
def test_plain_data_is_rounded_once(name):
    D = fpsem.domain(name)
    fmt = D.format
    out = D.mul(np.array([0.1, 3.0]), 7)
    want = [rnd(rnd(Fraction(0.1), fmt) * 7, fmt), Fraction(21)]
    assert fr(D, out) == want


def test_float32_domain_of_float64_arrays_computes_in_float32():
    F = fpsem.domain("float32")
    out = F.add(np.array([0.1]), np.array([0.2]))
    assert out.dtype == np.float32
    a, b = rnd(Fraction(0.1), binary32), rnd(Fraction(0.2), binary32)
    assert fr(F, out) == [rnd(a + b, binary32)]


def test_exact_refuses_bf16_values_and_reads_integers_as_integers():
    B, E = fpsem.domain("bf16"), fpsem.domain("exact")
    with pytest.raises(FpsemError) as e:
        E.add(B.asarray(["0.1"]), E.asarray([1]))
    msg = one_line(e)
    assert msg.startswith("add[exact]") and "bf16" in msg and "convert" in msg
    # a plain uint16 array is integers, whatever bf16's storage once was
    assert fr(E, E.add(np.array([16256], dtype=np.uint16), 0)) == [16256]
    assert fr(B, B.asarray(np.array([3], dtype=np.uint16))) == [3]


def test_operators_honour_the_domains_rounding():
    R = fpsem.domain("ieee32", rounding="rtz")
    out = R.asarray([1]) / R.asarray([3])
    assert fr(R, out) == [rnd(Fraction(1, 3), binary32, "rtz")]
    assert fr(R, out) != [rnd(Fraction(1, 3), binary32, "rne")]
    assert out.domain is R
    U = fpsem.domain("ieee32", rounding="rup")
    assert fr(U, 1 / U.asarray([3])) == [rnd(Fraction(1, 3), binary32, "rup")]
    assert fr(U, U.asarray(["0.1"]) - "0.3") == [rnd(rnd(Fraction(1, 10), binary32, "rup")
                                                    - rnd(Fraction(3, 10), binary32, "rup"), binary32, "rup")]


def test_mixing_domains_is_one_line_error_naming_both():
    F, I = fpsem.domain("float32"), fpsem.domain("interval")
    x, y = F.asarray([1.0]), I.asarray([1.0])
    for bad in (lambda: x + y, lambda: F.add(x, y), lambda: I.mul(y, x), lambda: ops.softmax(I, x),
                lambda: F.concat([x, y])):
        with pytest.raises(FpsemError) as e:
            bad()
        msg = one_line(e)
        assert "float32" in msg and "interval" in msg


def test_numpy_operands_defer_to_the_domain():
    D = fpsem.domain("ieee32", rounding="rdn")
    out = np.array([1.0]) / D.asarray([3])
    assert isinstance(out, Value) and out.domain is D
    assert fr(D, out) == [rnd(Fraction(1, 3), binary32, "rdn")]


# -- the value type -------------------------------------------------------------------
def test_value_shape_slicing_and_numpy_image():
    D = fpsem.domain("ieee32")
    x = D.asarray(np.arange(6.0).reshape(2, 3) / 10)
    assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6 and len(x) == 2
    assert x[1, 1:].shape == (2,) and x[1, 1:].domain is D
    img = np.asarray(x)
    assert img.dtype == np.float64
    assert [Fraction(v) for v in img.ravel()] == [rnd(Fraction(i / 10), binary32) for i in range(6)]
    assert [v.shape for v in x] == [(3,), (3,)]


def test_enclosures_have_no_numpy_image():
    I = fpsem.domain("interval")
    with pytest.raises(FpsemError) as e:
        np.asarray(I.asarray(["0.1"]))
    assert "enclosure" in one_line(e)


def test_repr_shows_decoded_numbers():
    assert repr(fpsem.domain("ieee32").asarray(["0.1", "0.2"])) == "ieee32 [0.1 0.2]"
    assert repr(fpsem.domain("bf16").asarray(["0.1"])) == "bf16 [0.1]"
    assert repr(fpsem.domain("exact").asarray(["1/3"])) == "exact [1/3]"
    assert repr(fpsem.domain("interval").asarray(["0.1"])) == "interval [0.1 +/- 1.4e-17]"
    assert repr(fpsem.domain("ieee32", rounding="rtz").const("0.5")) == "ieee32(rounding=rtz) 0.5"


def test_truth_value_is_an_error():
    D = fpsem.domain("float32")
    with pytest.raises(FpsemError):
        bool(D.asarray([1.0, 2.0]))


def test_values_pickle_and_options_share_values():
    D = fpsem.domain("ieee32")
    x = D.asarray(["0.1"])
    y = pickle.loads(pickle.dumps(x))
    assert y.domain == D and fr(D, y) == fr(D, x)
    R = D.replace(rounding="rtz")      # same number system: takes D's values
    assert R.add(x, x).domain is R


def test_convert_is_explicit_and_rounds_once():
    E, D, B, I = (fpsem.domain(n) for n in ("exact", "ieee32", "bf16", "interval"))
    third = E.asarray(["1/3"])
    assert fr(D, D.convert(third)) == [rnd(Fraction(1, 3), binary32)]
    assert fr(B, B.convert(third)) == [rnd(Fraction(1, 3), bfloat16)]   # not via binary32
    b = B.asarray(["0.1"])
    assert fr(E, E.convert(b)) == [rnd(Fraction(1, 10), bfloat16)]
    with pytest.raises(FpsemError) as e:
        D.convert(I.asarray(["0.1"]))
    assert "enclosure" in one_line(e)


# -- ml_dtypes ----------------------------------------------------------------------------
@pytest.mark.parametrize("dt", [ml_dtypes.bfloat16, ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2])
@pytest.mark.parametrize("name", ["ieee32", "bf16", "fp16", "float32", "exact", "interval"])
def test_ml_dtypes_inputs_keep_their_values(dt, name):
    D = fpsem.domain(name)
    a = np.array([0.1, -3.0, 448.0 if dt is ml_dtypes.float8_e4m3fn else 1.5], dtype=dt)
    exact = [Fraction(float(v)) for v in a.astype(np.float64)]
    got = D.asarray(a)
    if D.value_kind == "enclosure":
        lo, hi = D.to_fraction(got)
        assert list(lo) == exact and list(hi) == exact
    else:
        fmt = D.format
        assert fr(D, got) == [rnd(q, fmt) if fmt is not None else q for q in exact]


def test_bf16_storage_is_ml_dtypes_bfloat16():
    B = fpsem.domain("bf16")
    x = B.asarray(["0.1", "-2"])
    assert raw(x).dtype == np.dtype(ml_dtypes.bfloat16)
    assert x.view(np.uint16).tolist() == [round_fraction(Fraction(1, 10), bfloat16).bits, 0xC000]


# -- accumulation format -------------------------------------------------------------------
def test_bf16_sum_of_4096_ones_accumulates_in_binary32():
    B = fpsem.domain("bf16")
    assert fr(B, B.sum(np.ones(4096))) == [4096]                       # was 256
    P = fpsem.domain("bf16", acc_format="bfloat16")                      # pure bf16 accumulation
    assert fr(P, P.sum(np.ones(4096))) == [256]
    assert B.acc_format is binary32 and P.acc_format is bfloat16
    with pytest.raises(FpsemError):
        fpsem.domain("ieee32", acc_format="bfloat16")


def _seq_oracle(terms, acc_fmt, out_fmt, mode):
    """Sequential accumulation: s = t0; s = round_acc(s + t_i); then one rounding to
    the storage format (a no-op when acc_fmt is the storage format)."""
    s = terms[0]
    for t in terms[1:]:
        s = rnd(s + t, acc_fmt, mode)
    return rnd(s, out_fmt, mode)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 60),
       name=st.sampled_from(["bf16", "fp16"]), mode=st.sampled_from(["rne", "rtz", "rup"]),
       pure=st.booleans())
def test_sum_and_dot_match_the_rational_oracle(seed, n, name, mode, pure):
    """Rounding points: dot: each product x_i*y_i rounded to the accumulation format
    (exact for bf16/fp16 operands in binary32), each partial sum rounded to it, the
    result rounded once to the storage format; sum likewise without products."""
    rng = np.random.default_rng(seed)
    fmt = {"bf16": bfloat16, "fp16": binary16}[name]
    opts = {"rounding": mode}
    if pure:
        opts["acc_format"] = fmt.name
    D = fpsem.domain(name, **opts)
    acc = fmt if pure else binary32
    x = D.asarray(rng.standard_normal(n) * 4)
    y = D.asarray(rng.standard_normal(n) * 4)
    xs, ys = fr(D, x), fr(D, y)
    assert fr(D, D.sum(x)) == [_seq_oracle(xs, acc, fmt, mode)]
    prods = [rnd(a * b, acc, mode) for a, b in zip(xs, ys)]
    assert fr(D, D.dot(x, y)) == [_seq_oracle(prods, acc, fmt, mode)]
