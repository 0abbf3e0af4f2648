"""The `float32` and `float64` domains: numpy as the CPU runs it.

Elementwise + - * / sqrt are IEEE correctly rounded (round to nearest even) in
numpy on every supported CPU. numpy's transcendental functions are vendor code
(SIMD kernels for float32, the C library for float64) with the ulp bounds
declared below and checked by the test suite against mpmath.

Reductions: the default order is `native`, which is numpy's pairwise sum and
the BLAS GEMM for dot: their order is unspecified (it depends on the BLAS build,
the CPU, threads and blocking) and only the order-free bound applies. Any
declared order (sequential, pairwise, blocked(k), tree(w), fma_chain,
exact_then_round) is honoured exactly with numba kernels, so an ordered float32
run is bit-identical to the same order in `ieee32`, except for the payload and
sign of NaN results: those are the host's and the compiler's (LLVM may commute
an add's operands, and x86 returns the first NaN operand); `ieee32` fixes them
by its NaN preset.

Only round-to-nearest-even without flush-to-zero is available: numpy exposes no
other rounding mode, so asking for one is an error, never silently ignored.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numba
import numpy as np

from .. import formats, fpenv
from ..domain import CR, Accuracy, Domain, to_fraction_scalar
from ..errors import FpsemError, NotRepresentable, UnsupportedOption
from ..exactsum import round_sum
from ..order import FMA_CHAIN
from . import _orders


# Ordered kernels shared with ieee32 (fpsem/domains/_f32kernels.py): the same
# loops give the same bits in both domains.
from ._f32kernels import (fma32_array, fma_array_hw, fma_dot32, fma_dot_hw, ordered_dot, ordered_sum,
                          seq_dot, seq_sum)


@numba.vectorize(["float64(float64)"], cache=True)
def _erf64(x):
    return math.erf(x)


def _ieee_max(a, b):
    r = np.maximum(a, b)
    z = (a == 0) & (b == 0)
    if np.any(z):
        both_neg = np.signbit(a) & np.signbit(b)
        r = np.where(z, np.where(both_neg, -0.0, 0.0).astype(r.dtype), r)
    return r


def _ieee_min(a, b):
    r = np.minimum(a, b)
    z = (a == 0) & (b == 0)
    if np.any(z):
        any_neg = np.signbit(a) | np.signbit(b)
        r = np.where(z, np.where(any_neg, -0.0, 0.0).astype(r.dtype), r)
    return r


# Declared ulp bounds of numpy's transcendental kernels, checked in
# tests/test_numpy_domains.py against mpmath. float32: numpy's SIMD kernels
# (exp/log are documented at < 4 ulp); float64: the C library.
_F32_ULPS = {"exp": 4, "exp2": 4, "log": 4, "tanh": 4, "sin": 4, "cos": 4, "erf": 1}
_F64_ULPS = {"exp": 2, "exp2": 2, "log": 2, "tanh": 4, "sin": 2, "cos": 2, "erf": 4}


class _NumpyFloat(Domain):
    dtype = np.float64
    OPTIONS = {"rounding": "rne", "ftz": False, "daz": False, "acc": "native"}
    is_float = True
    _ULPS: dict = {}

    def _validate_options(self, opts):
        opts = super()._validate_options(opts)
        if opts["rounding"] != "rne":
            raise UnsupportedOption(
                f"domain {self.name!r}: numpy only rounds to nearest even; for rounding="
                f"{opts['rounding']!r} use the 'ieee32' emulator")
        if opts["ftz"] or opts["daz"]:
            raise UnsupportedOption(
                f"domain {self.name!r}: numpy keeps subnormals; for ftz/daz use 'ieee32'")
        return opts

    # The CPU's floating-point environment is part of what this domain means, and
    # the options above assume the default one: a non-default MXCSR (FTZ/DAZ, a
    # hardware rounding mode) is reported in the label and in describe(), never
    # silently absorbed (fpsem.fpenv).
    @property
    def label(self):
        base = super().label
        host = fpenv.describe(sep="+")
        if not host:
            return base
        return f"{base[:-1]}, host={host})" if base.endswith(")") else f"{base}(host={host})"

    def describe(self):
        d = super().describe()
        d["host_fpenv"] = fpenv.describe() or "default"
        return d

    # representation
    def is_value(self, x):
        return isinstance(x, np.ndarray) and x.dtype == self.dtype

    def _impl_asarray(self, data):
        arr = data if isinstance(data, np.ndarray) else np.array(data, dtype=object)
        if arr.dtype.kind == "f" or arr.dtype.kind in "iu" and arr.dtype.itemsize <= 4:
            # one IEEE rounding (RNE) of an exact value; read-only data of the domain's own
            # dtype (a model's weights) is held without a copy, as numpy's asarray does
            return np.array(arr, dtype=self.dtype, copy=None if not arr.flags.writeable else True)
        if arr.dtype.kind == "b":
            raise FpsemError(f"asarray[{self.label}]: boolean data is not numeric")
        out = np.empty(arr.shape, dtype=self.dtype)
        flat = arr.ravel()
        of = out.ravel()
        ui = np.uint32 if self.dtype == np.float32 else np.uint64
        for i, v in enumerate(flat):
            if isinstance(v, (float, np.floating)) and not math.isfinite(v):
                of[i] = v
                continue
            q = to_fraction_scalar(v, f"asarray[{self.label}]")
            of[i] = np.array(formats.round_fraction(q, self.format, "rne").bits, dtype=ui).view(self.dtype)
        return out

    def to_fraction(self, x):
        x = np.asarray(x)
        if not np.isfinite(x).all():
            raise NotRepresentable(f"to_fraction[{self.label}]: inf or nan has no rational value")
        out = np.empty(x.shape, dtype=object)
        of = out.ravel()
        for i, v in enumerate(x.ravel().tolist()):
            of[i] = Fraction(v)
        return out

    def to_float64(self, x):
        return np.asarray(x, dtype=np.float64)

    # arithmetic: numpy ufuncs are IEEE correctly rounded (RNE) for these
    def _impl_add(self, a, b):
        with np.errstate(over="ignore", invalid="ignore"):  # IEEE results, no warnings
            return np.asarray(np.add(a, b))

    def _impl_sub(self, a, b):
        with np.errstate(over="ignore", invalid="ignore"):  # IEEE results, no warnings
            return np.asarray(np.subtract(a, b))

    def _impl_mul(self, a, b):
        with np.errstate(over="ignore", invalid="ignore"):  # IEEE results, no warnings
            return np.asarray(np.multiply(a, b))

    def _impl_div(self, a, b):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(np.divide(a, b))

    def _impl_neg(self, a):
        return np.asarray(np.negative(a))

    def _impl_abs(self, a):
        return np.asarray(np.abs(a))

    def _impl_sqrt(self, a):
        with np.errstate(invalid="ignore"):
            return np.asarray(np.sqrt(a))

    def _impl_minimum(self, a, b):
        return np.asarray(_ieee_min(a, b))

    def _impl_maximum(self, a, b):
        return np.asarray(_ieee_max(a, b))

    def _elem(self, fn, a):
        with np.errstate(all="ignore"):
            return np.asarray(fn(a), dtype=self.dtype)

    def _impl_exp(self, a):
        return self._elem(np.exp, a)

    def _impl_exp2(self, a):
        return self._elem(np.exp2, a)

    def _impl_log(self, a):
        return self._elem(np.log, a)

    def _impl_tanh(self, a):
        return self._elem(np.tanh, a)

    def _impl_sin(self, a):
        return self._elem(np.sin, a)

    def _impl_cos(self, a):
        return self._elem(np.cos, a)

    def _impl_erf(self, a):
        # numpy has no erf: binary64 erf from the C library, then one rounding
        return self._elem(lambda v: _erf64(np.asarray(v, dtype=np.float64)).astype(self.dtype), a)

    # comparisons return numpy bool arrays
    def _impl_lt(self, a, b):
        return np.asarray(np.less(a, b))

    def _impl_le(self, a, b):
        return np.asarray(np.less_equal(a, b))

    def _impl_gt(self, a, b):
        return np.asarray(np.greater(a, b))

    def _impl_ge(self, a, b):
        return np.asarray(np.greater_equal(a, b))

    def _impl_eq(self, a, b):
        return np.asarray(np.equal(a, b))

    def _impl_ne(self, a, b):
        return np.asarray(np.not_equal(a, b))

    # reductions
    def _impl_sum(self, rows, order):
        if order.kind == "native":
            return np.asarray(np.sum(rows, axis=1, dtype=self.dtype))
        return _orders.sum_rows(self, rows, order, lambda r: seq_sum(np.ascontiguousarray(r)),
                                self._exact_sum, lambda r, o: ordered_sum(np.ascontiguousarray(r), o))

    def _exact_sum(self, rows):
        out = np.empty(rows.shape[0], dtype=self.dtype)
        for i in range(rows.shape[0]):
            bits, nonfinite = round_sum(rows[i], self.format, "rne")
            out[i] = nonfinite if bits is None else np.array(bits, dtype=self._uint).view(self.dtype)
        return out

    def _impl_max(self, rows):
        r = np.max(rows, axis=1)
        zero = r == 0
        if np.any(zero):
            anypos = np.any((rows == 0) & ~np.signbit(rows), axis=1)
            r = np.where(zero, np.where(anypos, 0.0, -0.0).astype(self.dtype), r)
        return np.asarray(r, dtype=self.dtype)

    def _impl_dot(self, a, b, order):
        if order.kind == "native":
            return np.asarray(np.matmul(a, b))
        if a.shape[2] > 0 and order.kind in _orders.PROGRAM_ORDERS:
            # tiled kernels running dot3's composition (NaN outputs: the composition itself)
            x, y = np.ascontiguousarray(a), np.ascontiguousarray(b)
            out = ordered_dot(x, y, order)
            return _orders.fix_nans(out, x, y, lambda xs, ys: self._dot_composed(xs, ys, order))
        return self._dot_composed(a, b, order)

    def _dot_composed(self, a, b, order):
        """The definition: fpsem.domains._orders.dot3 over seq_dot and numpy's add."""
        seq = lambda x, y: seq_dot(np.ascontiguousarray(x), np.ascontiguousarray(y))
        return _orders.dot3(self, a, b, order, seq, self._fma_dot, self._exact_dot)

    def _exact_dot(self, a, b):
        B, m, k = a.shape
        n = b.shape[2]
        out = np.empty((B, m, n), dtype=self.dtype)
        for t in range(B):
            for i in range(m):
                for j in range(n):
                    x, y = a[t, i].astype(np.float64), b[t, :, j].astype(np.float64)
                    if self.dtype == np.float32:
                        prods = x * y  # exact: 24 + 24 bits fit in binary64
                        bits, nf = round_sum(prods, self.format, "rne")
                    else:
                        bits, nf = self._exact_dot64(x, y)
                    out[t, i, j] = nf if bits is None else np.array(bits, dtype=self._uint).view(self.dtype)
        return out

    def _exact_dot64(self, x, y):
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            with np.errstate(invalid="ignore"):
                return None, float(np.sum(x * y))
        s = sum((Fraction(float(p)) * Fraction(float(q)) for p, q in zip(x, y)), Fraction(0))
        # an exact zero sum is -0 only when every product is -0 (IEEE 754 6.3)
        negz = bool(np.all((x * y == 0) & (np.signbit(x) ^ np.signbit(y))))
        return formats.round_fraction(s, self.format, "rne", negative_zero=negz).bits, None

    def _accuracy(self, prim):
        if prim in ("add", "sub", "mul", "div", "sqrt", "fma", "neg", "abs", "minimum", "maximum"):
            return CR if prim not in ("neg", "abs", "minimum", "maximum") else Accuracy("exact")
        if prim in self._ULPS:
            return Accuracy("ulps", self._ULPS[prim], "numpy kernel, measured bound")
        if prim in ("sum", "dot"):
            return Accuracy("ordered", note="native (numpy/BLAS) order unspecified unless acc= is given")
        if prim == "max":
            return Accuracy("exact")
        if prim == "asarray":
            return CR
        return Accuracy("unspecified")

    def manifest(self, prim):
        if prim in ("sum", "dot"):
            return {"order": str(self.acc), "fma": "none (BLAS may use FMA under native)",
                    "rounding": "rne", "subnormals": "ieee"}
        return {"rounding": "rne", "subnormals": "ieee"}


class Float32Domain(_NumpyFloat):
    """numpy float32 as the CPU runs it."""
    name = "float32"
    dtype = np.float32
    format = formats.binary32
    _uint = np.uint32
    _ULPS = _F32_ULPS

    def _impl_fma(self, a, b, c):
        a, b, c = np.broadcast_arrays(a, b, c)
        return fma32_array(np.ascontiguousarray(a), np.ascontiguousarray(b), np.ascontiguousarray(c))

    def _fma_dot(self, a, b):
        x, y = np.ascontiguousarray(a), np.ascontiguousarray(b)
        if x.shape[2] == 0:
            return fma_dot32(x, y)
        # the CPU's fma (same correctly rounded fma as fma32); NaN outputs from fma32
        return _orders.fix_nans(ordered_dot(x, y, FMA_CHAIN), x, y, fma_dot32)


class Float64Domain(_NumpyFloat):
    """numpy float64, the convenience baseline."""
    name = "float64"
    dtype = np.float64
    format = formats.binary64
    _uint = np.uint64
    _ULPS = _F64_ULPS

    def _impl_fma(self, a, b, c):
        a, b, c = np.broadcast_arrays(a, b, c)
        return fma_array_hw(np.ascontiguousarray(a), np.ascontiguousarray(b), np.ascontiguousarray(c))

    def _fma_dot(self, a, b):
        return fma_dot_hw(np.ascontiguousarray(a), np.ascontiguousarray(b))
