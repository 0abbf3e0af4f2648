"""Theorem (spectral_conv1d is the truncated real FFT convolution). For
x (N, Cin, L), complex weights W = w_re + i w_im (Cin, Cout, modes) with
1 <= modes <= L // 2, fpsem.ops.spectral_conv1d computes over the reals

    y = irfft( Yhat, n=L ),  Yhat_k[o] = sum_c rfft(x)_k[c] W[c, o, k] for k < modes, 0 otherwise

(the Fourier Neural Operator layer), up to the op's 50-digit pi (|error| < 1e-45
relative). Checked: (1) the `interval` domain's enclosure of the op contains the
numpy.fft reference within the reference's own error bound eta_fft (below);
(2) the float64 op lies in the ball-oracle envelope of the real result derived from
float64's declared accuracies (tests/_ball.py: 0.5 ulp per correctly rounded op,
the declared ulps of sin/cos, gamma_k for each dot), and
(3) hence |y_float64 - y_numpy_fft| <= r_ball + eta_fft, with
eta_fft = 5 ceil(log2 2L) u * 2 sum|x| sum|W| / L (Higham Thm 24.2's FFT bound with
computed twiddles, applied to rfft then irfft, on the crude magnitude bound).

Hypotheses: modes <= L // 2. Dropping it breaks the formula: with modes = L//2 + 1
the Nyquist term gets weight 2 in the op but weight 1 in irfft (counterexample).

Source: Z. Li et al., "Fourier Neural Operator for Parametric Partial Differential
Equations", ICLR 2021, eq. (4)-(5); numpy.fft.rfft / irfft documentation (Hermitian
symmetry, Nyquist term); Higham, "Accuracy and Stability of Numerical Algorithms",
2nd ed., Thm 24.2 (FFT error bound).
"""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fpsem
from fpsem import ops
from fpsem.errors import DomainUnavailable

from _ball import BallDomain

F64 = fpsem.domain("float64", acc="sequential")
try:
    IV = fpsem.domain("interval")
except DomainUnavailable as e:  # pragma: no cover
    IV = None
U = 2.0 ** -53


def fft_ref(x, wr, wi, modes):
    L = x.shape[-1]
    X = np.fft.rfft(x, axis=-1)[..., :modes]                     # (N, Cin, modes)
    Y = np.einsum("nck,cok->nok", X, wr + 1j * wi)
    full = np.zeros(Y.shape[:-1] + (L // 2 + 1,), dtype=complex)
    full[..., :modes] = Y
    return np.fft.irfft(full, n=L, axis=-1)


def eta_fft(x, wr, wi, L):
    mag = np.abs(x).sum(axis=(1, 2)).max() * (np.abs(wr) + np.abs(wi)).sum() * 2 / L
    return 5 * math.ceil(math.log2(2 * L)) * U * mag * 4


@st.composite
def cases(draw):
    L = draw(st.integers(2, 12))
    modes = draw(st.integers(1, L // 2))
    Cin, Cout = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    r = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    x = r.integers(-16, 17, (1, Cin, L)) / 8
    wr, wi = r.integers(-16, 17, (Cin, Cout, modes)) / 16, r.integers(-16, 17, (Cin, Cout, modes)) / 16
    return x, wr, wi, modes


@pytest.mark.skipif(IV is None, reason="interval domain unavailable")
@given(cases())
def test_interval_encloses_fft_reference(case):
    x, wr, wi, modes = case
    y = ops.spectral_conv1d(IV, IV.asarray(x), IV.asarray(wr), IV.asarray(wi), modes)
    ref = fft_ref(x, wr, wi, modes)
    e = eta_fft(x, wr, wi, x.shape[-1])
    assert ((y.lo - e <= ref) & (ref <= y.hi + e)).all()


@given(cases())
def test_float64_within_envelope_of_fft(case):
    x, wr, wi, modes = case
    B = BallDomain(F64)
    ball = ops.spectral_conv1d(B, B.asarray(x), B.asarray(wr), B.asarray(wi), modes)
    y = ops.spectral_conv1d(F64, x, wr, wi, modes)
    assert ball.contains(y).all()
    ref = fft_ref(x, wr, wi, modes)
    assert (np.abs(y - ref) <= ball.r * (1 + 1e-12) + eta_fft(x, wr, wi, x.shape[-1])).all()


def test_edges():
    # a single mode keeps only the channel-mixed mean; the full half spectrum minus Nyquist
    r = np.random.default_rng(0)
    x = r.standard_normal((2, 2, 8))
    wr, wi = r.standard_normal((2, 3, 4)), r.standard_normal((2, 3, 4))
    for modes in (1, 4):
        y = ops.spectral_conv1d(F64, x, wr[..., :modes], wi[..., :modes], modes)
        assert np.allclose(y, fft_ref(x, wr[..., :modes], wi[..., :modes], modes), atol=1e-12)
    y1 = ops.spectral_conv1d(F64, x, wr[..., :1], wi[..., :1], 1)
    assert np.allclose(y1, np.einsum("nc,co->no", x.mean(-1), wr[:, :, 0])[..., None] * np.ones(8), atol=1e-13)


def test_counterexample_nyquist_mode():
    r = np.random.default_rng(1)
    L = 8
    modes = L // 2 + 1
    x = r.standard_normal((1, 1, L))
    wr, wi = np.ones((1, 1, modes)), np.zeros((1, 1, modes))
    y = ops.spectral_conv1d(F64, x, wr, wi, modes)
    assert not np.allclose(y, fft_ref(x, wr, wi, modes), atol=1e-9)
