"""A high-precision reference domain on mpmath (test oracle for irrational steps).

Object arrays of mpmath mpf at 60 significant digits; every primitive is
mpmath's, so results are the real values to ~1e-55 relative (far below any
binary64 ulp). Not rigorous in the interval sense; used to check that the ball
oracle and the float domains agree with the real result.
"""

import mpmath
import numpy as np

from fpsem.domain import Domain, to_fraction_scalar

# a private context: mpmath's global precision stays untouched for other tests
MP = mpmath.MPContext()
MP.dps = 60


def _v(fn, *arrays):
    b = np.broadcast_arrays(*arrays)
    out = np.empty(b[0].shape, dtype=object)
    fl = [x.ravel() for x in b]
    of = out.ravel()
    for i in range(of.size):
        of[i] = fn(*(f[i] for f in fl))
    return out


class MpDomain(Domain):
    name = "mp"
    OPTIONS = {}

    def is_value(self, x):
        return isinstance(x, np.ndarray) and x.dtype == object

    def _impl_asarray(self, data):
        arr = data if isinstance(data, np.ndarray) else np.array(data, dtype=object)
        out = np.empty(arr.shape, dtype=object)
        of = out.ravel()
        for i, v in enumerate(arr.ravel().tolist() if arr.dtype != object else arr.ravel()):
            q = to_fraction_scalar(v)
            of[i] = MP.mpf(q.numerator) / q.denominator
        return out

    def to_float64(self, x):
        return np.array([float(v) for v in np.asarray(x).ravel()], dtype=np.float64).reshape(np.shape(x))

    def _impl_add(self, a, b): return _v(lambda x, y: x + y, a, b)
    def _impl_sub(self, a, b): return _v(lambda x, y: x - y, a, b)
    def _impl_mul(self, a, b): return _v(lambda x, y: x * y, a, b)
    def _impl_div(self, a, b): return _v(lambda x, y: x / y, a, b)
    def _impl_neg(self, a): return _v(lambda x: -x, a)
    def _impl_abs(self, a): return _v(abs, a)
    def _impl_fma(self, a, b, c): return _v(lambda x, y, z: x * y + z, a, b, c)
    def _impl_sqrt(self, a): return _v(MP.sqrt, a)
    def _impl_maximum(self, a, b): return _v(max, a, b)
    def _impl_minimum(self, a, b): return _v(min, a, b)
    def _impl_exp(self, a): return _v(MP.exp, a)
    def _impl_exp2(self, a): return _v(lambda x: MP.power(2, x), a)
    def _impl_log(self, a): return _v(MP.log, a)
    def _impl_tanh(self, a): return _v(MP.tanh, a)
    def _impl_erf(self, a): return _v(MP.erf, a)
    def _impl_sin(self, a): return _v(MP.sin, a)
    def _impl_cos(self, a): return _v(MP.cos, a)

    def _impl_sum(self, rows, order):
        return np.array([MP.fsum(r) for r in rows] + [None], dtype=object)[:-1]

    def _impl_max(self, rows):
        return np.array([max(r) for r in rows] + [None], dtype=object)[:-1]

    def _impl_dot(self, a, b, order):
        B, m, k = a.shape
        n = b.shape[2]
        out = np.empty((B, m, n), dtype=object)
        for t in range(B):
            for i in range(m):
                for j in range(n):
                    out[t, i, j] = MP.fdot(a[t, i, :], b[t, :, j]) if k else MP.mpf(0)
        return out

    def _accuracy(self, prim):
        from fpsem.domain import Accuracy
        return Accuracy("exact", note="60 digits")
