"""Spectral convolution (Fourier Neural Operator, Li et al. 2021) by an explicit DFT.

The DFT is two real matrix products with twiddle matrices cos(2 pi k n / L) and
sin(2 pi k n / L) computed in the domain (the angle k n mod L is reduced exactly
first, so every twiddle has an argument in [0, 2 pi)). In `exact` the twiddles
are irrational except at k n = 0, so the op raises NotRepresentable there.
"""
from fractions import Fraction

import numpy as np

from ._registry import PI, c, op


def _twiddles(D, L, modes):
    kn = np.array([[Fraction(2 * ((k * n) % L), L) for k in range(modes)] for n in range(L)],
                  dtype=object)
    ang = D.mul(D.asarray(kn), c(D, PI))  # 2 pi (k n mod L) / L
    return D.cos(ang), D.sin(ang)  # (L, modes)


@op(group="spectral")
def spectral_conv1d(D, x, w_re, w_im, modes, acc=None):
    """y = irfft( W * rfft(x) truncated to `modes` ) along the last axis.

    x: (N, Cin, L); w_re, w_im: (Cin, Cout, modes), modes <= L // 2.
    Forward: X_k = sum_n x_n e^{-2 pi i k n / L}. Mixing: Y_k[o] = sum_c X_k[c] W[c, o, k]
    (complex). Inverse: y_n = (1/L) (Re Y_0 + 2 sum_{k>=1} Re(Y_k e^{2 pi i k n / L})).
    Every sum is a dot product in order `acc`."""
    N, Cin, L = D.shape(x)
    cs, sn = _twiddles(D, L, modes)
    xr = D.dot(x, cs, acc=acc)                      # (N, Cin, modes)  Re X
    xi = D.neg(D.dot(x, sn, acc=acc))               # Im X
    # complex mixing over Cin for each mode k: (N, k, Cin) @ (k, Cin, Cout)
    xr_k = D.transpose(xr, (0, 2, 1))
    xi_k = D.transpose(xi, (0, 2, 1))
    wr_k = D.expand_dims(D.transpose(w_re, (2, 0, 1)), 0)
    wi_k = D.expand_dims(D.transpose(w_im, (2, 0, 1)), 0)
    xr4, xi4 = D.expand_dims(xr_k, 2), D.expand_dims(xi_k, 2)  # (N, k, 1, Cin)
    yr = D.sub(D.dot(xr4, wr_k, acc=acc), D.dot(xi4, wi_k, acc=acc))  # (N, k, 1, Cout)
    yi = D.add(D.dot(xr4, wi_k, acc=acc), D.dot(xi4, wr_k, acc=acc))
    yr = D.transpose(D.squeeze(yr, 2), (0, 2, 1))  # (N, Cout, k)
    yi = D.transpose(D.squeeze(yi, 2), (0, 2, 1))
    # inverse: weights 1 for k = 0 and 2 for k >= 1, applied to the twiddles exactly
    wk = D.asarray(np.array([[1 if k == 0 else 2 for k in range(modes)]], dtype=np.int64))
    ic = D.transpose(D.mul(cs, wk))  # (modes, L)
    is_ = D.transpose(D.mul(sn, wk))
    y = D.sub(D.dot(yr, ic, acc=acc), D.dot(yi, is_, acc=acc))
    return D.div(y, c(D, L))
