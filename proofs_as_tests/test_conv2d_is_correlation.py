"""Theorem (conv2d by im2col is the cross-correlation sum). Over the rationals, for
x (N, C, H, W), w (O, C/g, kh, kw), bias b (O,), stride (sh, sw), zero padding
(ph, pw), dilation (dh, dw) and groups g, fpsem.ops.conv2d returns exactly

    y[n, o, i, j] = b[o] + sum_{c < C/g, u < kh, v < kw} w[o, c, u, v] *
                    x[n, (o // (O/g)) (C/g) + c, i sh - ph + u dh, j sw - pw + v dw]

(x taken as 0 outside its bounds), i.e. torch.nn.functional.conv2d's definition:
im2col is structural and exact, and the dot of length (C/g) kh kw adds the same terms.
Checked in the `exact` domain (Fractions, element by element).

Hypotheses: real arithmetic (in floats only the set of terms is the same; their
order is the dot's order). It is a CORRELATION, not a convolution: the flipped-kernel
sum (the mathematical convolution) differs for an asymmetric kernel, which is the
counterexample.

Source: PyTorch documentation, torch.nn.Conv2d (the formula with stride, padding,
dilation, groups); Goodfellow, Bengio & Courville, "Deep Learning", 2016, eq. (9.6)
(cross-correlation) vs (9.4) (convolution); K. Chellapilla et al., "High Performance
Convolutional Neural Networks for Document Processing", 2006 (im2col).
"""
from fractions import Fraction

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import fpsem
from fpsem import ops

EX = fpsem.domain("exact")


def direct(x, w, b, stride, padding, dilation, groups):
    N, C, H, W = x.shape
    O, Cg, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    Ho = (H + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    Wo = (W + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    Og = O // groups
    y = np.empty((N, O, Ho, Wo), dtype=object)
    for n in range(N):
        for o in range(O):
            g = o // Og
            for i in range(Ho):
                for j in range(Wo):
                    s = Fraction(b[o]) if b is not None else Fraction(0)
                    for c in range(Cg):
                        for u in range(kh):
                            for v in range(kw):
                                r, q = i * sh - ph + u * dh, j * sw - pw + v * dw
                                if 0 <= r < H and 0 <= q < W:
                                    s += Fraction(w[o, c, u, v]) * Fraction(x[n, g * Cg + c, r, q])
                    y[n, o, i, j] = s
    return y


@st.composite
def cases(draw):
    g = draw(st.integers(1, 2))
    Cg = draw(st.integers(1, 2))
    Og = draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    H = draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * ph), 7))
    W = draw(st.integers(max(1, dw * (kw - 1) + 1 - 2 * pw), 7))
    r = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    x = r.integers(-9, 10, (draw(st.integers(1, 2)), g * Cg, H, W)) / 4
    w = r.integers(-9, 10, (g * Og, Cg, kh, kw)) / 8
    b = r.integers(-9, 10, (g * Og,)) / 2 if draw(st.booleans()) else None
    return x, w, b, (sh, sw), (ph, pw), (dh, dw), g


@given(cases())
def test_conv2d_equals_direct_sum(case):
    x, w, b, stride, padding, dilation, g = case
    y = ops.conv2d(EX, EX.asarray(x), EX.asarray(w), None if b is None else EX.asarray(b),
                   stride=stride, padding=padding, dilation=dilation, groups=g)
    want = direct(x, w, b, stride, padding, dilation, g)
    got = EX.to_fraction(y)
    assert got.shape == want.shape and (got == want).all()


@given(st.integers(0, 2 ** 32 - 1), st.integers(1, 3), st.integers(0, 1))
def test_conv1d_is_conv2d_of_height_one(seed, k, p):
    r = np.random.default_rng(seed)
    x, w = r.integers(-5, 6, (1, 2, 6)), r.integers(-5, 6, (3, 2, k))
    y = EX.to_fraction(ops.conv1d(EX, EX.asarray(x), EX.asarray(w), padding=p))
    want = direct(x[:, :, None, :], w[:, :, None, :], None, (1, 1), (0, p), (1, 1), 1)[:, :, 0, :]
    assert (y == want).all()


def test_edges():
    r = np.random.default_rng(0)
    x, w = r.integers(-3, 4, (1, 4, 5, 5)), r.integers(-3, 4, (4, 1, 3, 3))
    for kw in [dict(groups=4, padding=1), dict(stride=2, dilation=2, padding=2, groups=4)]:  # depthwise
        y = EX.to_fraction(ops.conv2d(EX, EX.asarray(x), EX.asarray(w), **kw))
        st_, pd, dl = (kw.get("stride", 1),) * 2, (kw.get("padding", 0),) * 2, (kw.get("dilation", 1),) * 2
        assert (y == direct(x, w, None, st_, pd, dl, kw["groups"])).all()
    # 1x1 kernel = a matmul over channels
    w1 = r.integers(-3, 4, (2, 4, 1, 1))
    y = EX.to_fraction(ops.conv2d(EX, EX.asarray(x), EX.asarray(w1)))
    assert (y == np.einsum("oc,nchw->nohw", w1[:, :, 0, 0].astype(object), x.astype(object))).all()


def test_counterexample_not_a_convolution():
    x = np.arange(9).reshape(1, 1, 3, 3)
    w = np.array([[[[1, 2], [3, 4]]]])  # asymmetric
    y = EX.to_fraction(ops.conv2d(EX, EX.asarray(x), EX.asarray(w)))
    flipped = direct(x, w[:, :, ::-1, ::-1], None, (1, 1), (0, 0), (1, 1), 1)
    assert (y == direct(x, w, None, (1, 1), (0, 0), (1, 1), 1)).all()
    assert not (y == flipped).all()
