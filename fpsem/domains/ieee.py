"""The `ieee32`, `bf16` and `fp16` domains: the bit-exact emulator as a domain.

Every primitive goes through `fpsem.emu` with the domain's options: rounding
(rne, rtz, rup, rdn, rna), ftz, daz, tininess ("after" x86 / "before" ARM) and
the NaN preset ("x86", "cuda", "arm"). Reductions follow the accumulation
orders of fpsem.order exactly:

  sum, sequential:   s = t0; s = fl(s + t_i)
  dot, sequential:   s = fl(x0*y0); s = fl(s + fl(x_i*y_i))
  dot, fma_chain:    s = +0; s = fma(x_i, y_i, s)   (one rounding per step)
  pairwise, blocked(k), tree(w): compositions of sequential pieces with the
                     domain's own correctly rounded add (fpsem.domains._orders)
  exact_then_round:  exact integer accumulation, one rounding in the domain's mode
  native:            taken as sequential (the emulator has no other native order)

Storage: ieee32 values are numpy float32 arrays, fp16 values numpy float16
arrays, bf16 values ml_dtypes.bfloat16 arrays (each its format's exact numpy
image, bits via .view). Arrays are always ndarrays, 0-d allowed.

Accumulation format (option acc_format): bf16 and fp16 accumulate sum and dot
in binary32 by default, as GPUs and PyTorch do: the inputs widen exactly to
binary32, the binary32 reduction runs in the stated order with the domain's
rounding, ftz and NaN options (each product of two bf16/fp16 numbers is exact
in binary32 unless it under- or overflows), and each output is rounded once
into the storage format. acc_format="bfloat16" / "binary16" accumulates in the
storage format itself (every step rounded to it). exact_then_round has no
intermediate roundings, so it rounds once into the storage format either way.

Fast paths, bit-identical to the reference: elementwise + - * / sqrt fma in
every mode through binary64 plus the exact sign of the lost part, rounded once
(fpsem.emu._kernels says why that is exact); for binary32 rne without ftz/daz,
the kernels of fpsem.domains._f32kernels (each float32 + and * one IEEE RNE
operation): the sequential sum, and a tiled dot for sequential, pairwise,
blocked(k) and tree(w) that runs the composition of fpsem.domains._orders.dot3
as a compiled postfix program, and for fma_chain with the CPU's fused
multiply-add (the composition's own fma_chain kernel, by round-to-odd through
binary64 (Boldo-Melquiond), stays the reference). Outputs that are NaN are
recomputed with the reference so NaN payloads follow the preset.

Flags: the domain keeps no state; the flags it raises reach the observers of
fpsem.trace (`with D.collect_flags() as f: ...` gathers them), never a global.
Elementwise primitives and the reference reductions record all five flags
exactly. The fast RNE reductions (sum/dot with rounding="rne", no ftz/daz)
record invalid, divide-by-zero and overflow only; for exact inexact/underflow
flags of a reduction call fpsem.emu directly or use `exact_flags=True`.
"""
from __future__ import annotations

import contextlib
import math
from fractions import Fraction

import numpy as np
from numba import njit

from .. import emu, formats, fpenv, trace
from ..domain import CR, EXACT, Accuracy, Domain, to_fraction_scalar
from ..emu import _core as C
from ..emu.flags import flags_dict
from ..emu.reduce import lane_seq_dot as _lane_seq_dot
from ..emu.reduce import lane_seq_sum as _lane_seq_sum
from ..emu.reduce import ref_max as _ref_max
from ..emu.reduce import ref_seq_dot as _ref_seq_dot
from ..emu.reduce import ref_seq_sum as _ref_seq_sum
from ..errors import NotRepresentable, UnsupportedOption
from ..exactsum import round_sum
from ..formats import round_fraction
from . import _orders
from ._f32kernels import fma32 as _fma32_rto
from ._f32kernels import fma_dot32 as _fast_fma_dot
from ._f32kernels import ordered_dot as _fast_ordered_dot
from ._f32kernels import ordered_sum as _ordered_sum
from ._f32kernels import seq_dot as _fast_seq_dot
from ._f32kernels import seq_sum as _fast_seq_sum

_NJ = dict(cache=True, nogil=True, error_model="numpy")


# ------------------------------------------------------------------ fast binary32 RNE kernels
@njit(**_NJ)
def _fast_fma(x, y, z, out):
    for i in range(x.size):
        out[i] = _fma32_rto(x[i], y[i], z[i])


@njit(**_NJ)
def _cast_flags(x, w, tiny):
    """float32 data x and their rounded values w: whether some were inexact, some
    overflowed (finite to inf), some lie below the normal range (nonzero, < tiny)."""
    inexact = overflow = small = False
    for i in range(x.size):
        inexact |= w[i] != x[i]
        overflow |= math.isinf(w[i]) and not math.isinf(x[i])
        small |= (abs(x[i]) < tiny) and x[i] != 0
    return inexact, overflow, small


def _max_without_nan(b, fmt):
    """Row maxima of encodings b (R, n) with IEEE 754-2019 maximum semantics
    (-0 < +0), or None when a row holds a NaN (the reference then picks the
    payload and flags). Without NaNs maximum is exact and raises no flag, and
    the order of the encodings is the order of the values under the key
    sign ? -magnitude - 1 : magnitude (so -0 -> -1 < +0 -> 0)."""
    sign = 1 << (fmt.bits - 1)
    mag = (b & (sign - 1)).astype(np.int64)
    if (mag > ((1 << fmt.ebits) - 1) << (fmt.p - 1)).any():   # above the infinity: NaN
        return None
    key = np.where(b & sign, -mag - 1, mag)
    return np.take_along_axis(b, np.argmax(key, axis=1)[:, None], axis=1)[:, 0]


class _IEEEDomain(Domain):
    OPTIONS = {"rounding": "rne", "ftz": False, "daz": False, "nan": "x86",
               "tininess": "after", "acc": "sequential", "exact_flags": False,
               "acc_format": "binary32"}
    is_float = True
    GAPS = {}
    #: value dtype and the emulator
    vdtype = np.float32
    E = emu.binary32

    def __init__(self, **options):
        super().__init__(**options)
        o = self._opts
        object.__setattr__(self, "_kw", dict(rounding=o["rounding"], ftz=bool(o["ftz"]),
                                            daz=bool(o["daz"]), tininess=o["tininess"], nan=o["nan"]))
        object.__setattr__(self, "_cfg", self.E.cfg(**self._kw))
        wide = None
        if o["acc_format"] != self.format.name:
            # the binary32 domain that sums and dots accumulate in (same options)
            wide = IEEE32Domain(**{k: v for k, v in o.items() if k != "acc_format"})
        object.__setattr__(self, "_wide", wide)

    def _validate_options(self, opts):
        opts = super()._validate_options(opts)
        from ..emu.specialize import nan_code, tininess_code
        try:
            nan_code(opts["nan"])
            tininess_code(opts["tininess"])
        except UnsupportedOption as e:
            raise UnsupportedOption(f"domain {self.name!r}: {e}") from None
        if opts["acc"].kind == "native":
            pass
        if not isinstance(opts["exact_flags"], (bool, np.bool_)):
            raise UnsupportedOption(f"domain {self.name!r}: option exact_flags must be True or False")
        allowed = dict.fromkeys(("binary32", self.format.name))
        if opts["acc_format"] not in allowed:
            raise UnsupportedOption(f"domain {self.name!r}: acc_format must be one of "
                                    f"{', '.join(allowed)}, got {opts['acc_format']!r}")
        return opts

    @property
    def acc_format(self):
        """The format sums and dots accumulate in (see the module docstring)."""
        return formats.FORMATS[self._opts["acc_format"]]

    # -- flags -----------------------------------------------------------------
    @contextlib.contextmanager
    def collect_flags(self):
        """The IEEE flags this domain (or an equal one) raises inside the block: a
        dict of the five flags, updated as they are raised (fpsem.trace.observe)."""
        bits = [0]
        box = flags_dict(0)

        def on(call):
            if call.name == "flags":
                bits[0] |= call.result
                box.update(flags_dict(bits[0]))
        with trace.observe(on, domain=self):
            yield box

    def _log(self, fl):
        if trace.watch() is not None:
            trace.raise_flags(self, fl if isinstance(fl, (int, np.integer)) else fl.summary())

    @property
    def _fast(self):
        o = self._opts
        return (self.format is formats.binary32 and o["rounding"] == "rne" and not o["ftz"]
                and not o["daz"] and not o["exact_flags"])

    # -- representation ----------------------------------------------------------
    def is_value(self, x):
        return isinstance(x, np.ndarray) and x.dtype == self.vdtype

    def _bits(self, x):
        x = np.asarray(x)
        return x if x.dtype == self.E.dtype else x.view(self.E.dtype)

    def _val(self, bits):
        bits = np.asarray(bits, dtype=self.E.dtype)
        return bits if self.vdtype == self.E.dtype else bits.view(self.vdtype)

    def _impl_asarray(self, data):
        arr = data if isinstance(data, np.ndarray) else np.array(data, dtype=object)
        if arr.dtype.kind == "b":
            raise UnsupportedOption(f"asarray[{self.label}]: boolean data is not numeric")
        if arr.dtype.kind == "f":
            fast = self._cast_float32(arr)
            if fast is not None:
                return fast
            out, fl = self.E.from_float64(arr.astype(np.float64), **self._kw)
            self._log(fl)
            return self._val(out)
        if arr.dtype.kind in "iu" and arr.dtype.itemsize <= 8 and arr.dtype != np.uint64:
            out, fl = self.E.from_int(arr.astype(np.int64), **self._kw)
            self._log(fl)
            return self._val(out)
        out = np.empty(arr.shape, self.E.dtype)
        acc = 0
        for idx, v in np.ndenumerate(arr):
            if isinstance(v, (float, np.floating)) and not math.isfinite(v):
                b, f = self.E.from_float64(np.float64(v), **self._kw)
                out[idx] = b
                continue
            q = to_fraction_scalar(v, f"asarray[{self.label}]")
            b, f = self.E.from_fraction(q, **self._kw)
            out[idx] = b
            acc |= f.summary()
        self._log(acc)
        return self._val(out)

    def _cast_float32(self, arr):
        """float32 data (model weights) rounded to nearest even into binary16/bfloat16 by
        numpy's (ml_dtypes') cast, or None (NaN, another mode, FTZ/DAZ): for every
        float32 but NaN that cast gives the emulator's bits (checked over all 2^32).
        The flags, where someone observes them: inexact and overflow from the values,
        the rest from the emulator on the inputs below the normal range (only those can
        underflow)."""
        o = self._opts
        if (arr.dtype != np.float32 or self.format.bits != 16 or o["rounding"] != "rne" or o["ftz"]
                or o["daz"] or np.isnan(arr).any()):
            return None
        with np.errstate(over="ignore"):
            out = arr.astype(self.vdtype)
        if trace.watch() is not None:
            x = np.ascontiguousarray(arr).ravel()
            inexact, overflow, tiny = _cast_flags(x, out.astype(np.float32).ravel(),
                                                  np.float32(2.0 ** self.format.emin))
            fl = (C.INEXACT if inexact else 0) | (C.OVERFLOW | C.INEXACT if overflow else 0)
            if tiny:
                t = (np.abs(x) < 2.0 ** self.format.emin) & (x != 0)
                fl |= self.E.from_float64(x[t].astype(np.float64), **self._kw)[1].summary()
            self._log(fl)
        return out

    def to_fraction(self, x):
        bits = self._bits(x)
        out = self.E.to_fraction(bits)
        for v in out.ravel():
            if isinstance(v, float):
                raise NotRepresentable(f"to_fraction[{self.label}]: inf or nan has no rational value")
        return out

    def to_float64(self, x):
        if self.vdtype != self.E.dtype:
            return np.asarray(x).astype(np.float64)
        out, _ = self.E.to_float64(self._bits(x), nan=self._kw["nan"])
        return out

    # -- elementwise ---------------------------------------------------------------
    def _call(self, name, *xs):
        out, fl = getattr(self.E, name)(*[self._bits(x) for x in xs], **self._kw)
        self._log(fl)
        return self._val(out)

    def _impl_add(self, a, b):
        return self._call("add", a, b)

    def _impl_sub(self, a, b):
        return self._call("sub", a, b)

    def _impl_mul(self, a, b):
        return self._call("mul", a, b)

    def _impl_div(self, a, b):
        return self._call("div", a, b)

    def _impl_sqrt(self, a):
        return self._call("sqrt", a)

    def _impl_fma(self, a, b, c):
        if self._fast:
            a, b, c = np.broadcast_arrays(*(np.asarray(v) for v in (a, b, c)))
            x, y, z = (np.ascontiguousarray(v).ravel() for v in (a, b, c))
            out = np.empty(x.shape, np.float32)
            _fast_fma(x, y, z, out)
            bad = np.isnan(out)
            if bad.any():
                r, fl = self.E.fma(x[bad].view(np.uint32), y[bad].view(np.uint32),
                                   z[bad].view(np.uint32), **self._kw)
                out[bad] = r.view(np.float32)
                self._log(fl)
            return out.reshape(a.shape)
        return self._call("fma", a, b, c)

    def _impl_neg(self, a):
        sb = self.E.dtype(1 << (self.format.bits - 1))
        return self._val(self._bits(a) ^ sb)

    def _impl_abs(self, a):
        sb = self.E.dtype((1 << (self.format.bits - 1)) - 1)
        return self._val(self._bits(a) & sb)

    def _impl_minimum(self, a, b):
        return self._call("minimum", a, b)

    def _impl_maximum(self, a, b):
        return self._call("maximum", a, b)

    def _impl_exp(self, a):
        return self._call("exp", a)

    def _impl_exp2(self, a):
        return self._call("exp2", a)

    def _impl_log(self, a):
        return self._call("log", a)

    def _impl_tanh(self, a):
        return self._call("tanh", a)

    def _impl_erf(self, a):
        return self._call("erf", a)

    def _impl_sin(self, a):
        return self._call("sin", a)

    def _impl_cos(self, a):
        return self._call("cos", a)

    def sigmoid(self, a):
        """Correctly rounded 1/(1+e^-x) (an extra, not a protocol primitive)."""
        return self._call("sigmoid", a)

    def rsqrt(self, a):
        """Correctly rounded 1/sqrt(x) (an extra, not a protocol primitive)."""
        return self._call("rsqrt", a)

    # -- comparisons: numpy bool arrays. eq/ne are quiet, lt/le/gt/ge signalling
    # (IEEE 754-2019 5.11: invalid on any NaN operand).
    def _cmp(self, a, b, signaling):
        code, fl = self.E.compare(self._bits(a), self._bits(b), signaling=signaling,
                                  daz=self._kw["daz"], nan=self._kw["nan"])
        self._log(fl)
        return code

    def _impl_lt(self, a, b):
        return self._cmp(a, b, True) == -1

    def _impl_le(self, a, b):
        c = self._cmp(a, b, True)
        return (c == -1) | (c == 0)

    def _impl_gt(self, a, b):
        return self._cmp(a, b, True) == 1

    def _impl_ge(self, a, b):
        c = self._cmp(a, b, True)
        return (c == 1) | (c == 0)

    def _impl_eq(self, a, b):
        return self._cmp(a, b, False) == 0

    def _impl_ne(self, a, b):
        return self._cmp(a, b, False) != 0

    # -- reductions --------------------------------------------------------------------
    def _bits32(self, x):
        return np.ascontiguousarray(self._bits(x)).astype(np.uint32, copy=False)

    def _out_bits(self, bits32):
        return self._val(bits32.astype(self.E.dtype, copy=False))

    def _seq_sum(self, rows):
        if self._fast:
            x = np.ascontiguousarray(rows)
            out = _fast_seq_sum(x)
            bad = np.isnan(out)
            if bad.any():
                r, fl = _ref_seq_sum(x[bad].view(np.uint32), self._cfg)
                out[bad] = r.view(np.float32)
            self._log_nonfinite((x,), out)
            return out
        ref = _lane_seq_sum if self.format is formats.binary32 else _ref_seq_sum
        out, fl = ref(self._bits32(rows), self._cfg)
        self._log(fl)
        return self._out_bits(out)

    def _log_nonfinite(self, inputs, out):
        """Invalid/overflow of a fast RNE reduction, from its inputs (a tuple of
        arrays) and outputs."""
        fin_out = np.isfinite(out)
        if fin_out.all():
            return
        fin_in = all(np.isfinite(v).all() for v in inputs)
        if np.isnan(out).any() and fin_in:
            self._log(C.INVALID | C.OVERFLOW)
        elif (~fin_out).any() and fin_in:
            self._log(C.OVERFLOW | C.INEXACT)
        elif np.isnan(out).any():
            self._log(C.INVALID)

    def _exact_sum(self, rows):
        v64 = self._as64(rows)
        R = v64.shape[0]
        out = np.empty(R, np.uint32)
        for r in range(R):
            out[r] = self._round_exact_terms(v64[r])
        return self._out_bits(out)

    def _as64(self, x):
        out, _ = self.E.to_float64(self._bits(x), daz=self._kw["daz"], nan=self._kw["nan"])
        return out

    def _round_exact_terms(self, terms):
        bits, nonfinite = round_sum(terms, self.format, self._kw["rounding"])
        if bits is None:
            b, fl = self.E.from_float64(np.float64(nonfinite), nan=self._kw["nan"])
            return int(b)
        s = formats.decode(bits, self.format)
        exact = sum((Fraction(float(t)) for t in terms), Fraction(0))
        r = round_fraction(exact, self.format, self._kw["rounding"])
        fl = (C.INEXACT if r.inexact else 0) | (C.OVERFLOW if r.overflow else 0)
        tiny = r.underflow_before if self._kw["tininess"] == "before" else r.underflow_after
        if tiny:
            fl |= C.UNDERFLOW
        if self._kw["ftz"] and s != 0 and abs(s) < self.format.min_normal:
            bits = bits & (1 << (self.format.bits - 1))
            fl |= C.UNDERFLOW | C.INEXACT
        self._log(fl)
        return bits

    def _prog_sum(self, rows, order):
        """Fast RNE row sums in a program order (NaN outputs: sum_rows recomputes them)."""
        x = np.ascontiguousarray(rows)
        out = _ordered_sum(x, order)
        self._log_nonfinite((x,), out)
        return out

    def _impl_sum(self, rows, order):
        if self._wide is not None and order.kind != "exact_then_round":
            return self._on_wide(self._wide._impl_sum, self._widen(rows), order)
        return _orders.sum_rows(self, rows, order, self._seq_sum, self._exact_sum,
                                self._prog_sum if self._fast else None)

    def _widen(self, x):
        """Storage values as binary32 storage (exact; DAZ applied as the domain reads them)."""
        if not self._kw["daz"]:
            # without DAZ every value but NaN widens to itself, and numpy's (ml_dtypes')
            # cast is that exact widening; NaN payloads follow the preset: the emulator
            # C order: the dot kernels read contiguous operands (a transposed weight,
            # the LM head, would be copied a second time)
            w = np.asarray(x).astype(np.float32, order="C")
            if not np.isnan(w).any():
                return w
        return self._as64(x).astype(np.float32)

    def _on_wide(self, fn, *args):
        """fn(*args) in the accumulating domain, then rounded once into the storage
        format; the flags of both steps are this domain's."""
        if trace.watch() is None:
            return self._narrow(fn(*args))
        bits = [0]

        def on(call):
            if call.name == "flags":
                bits[0] |= int(call.result)
        with trace.observe(on, domain=self._wide):
            wide = fn(*args)
        self._log(bits[0])
        return self._narrow(wide)

    def _narrow(self, wide):
        """binary32 results of the accumulating domain rounded once into the storage format."""
        out, fl = self.E.from_float64(np.asarray(wide, dtype=np.float32).astype(np.float64), **self._kw)
        self._log(fl)
        return self._val(out)

    def _impl_max(self, rows):
        fast = None if (self.ftz or self.daz) else _max_without_nan(self._bits(rows), self.format)
        if fast is not None:
            return self._val(fast)
        out, fl = _ref_max(self._bits32(rows), self._cfg)
        self._log(fl)
        return self._out_bits(out)

    def _seq_dot(self, a, b, fused=False):
        if self._fast:
            x, y = np.ascontiguousarray(a), np.ascontiguousarray(b)
            out = _fast_fma_dot(x, y) if fused else _fast_seq_dot(x, y)
            bad = np.argwhere(np.isnan(out))
            if len(bad):
                xb, yb = x.view(np.uint32), y.view(np.uint32)
                for t, i, j in bad:
                    r, _ = _ref_seq_dot(np.ascontiguousarray(xb[t:t + 1, i:i + 1, :]),
                                        np.ascontiguousarray(yb[t:t + 1, :, j:j + 1]), self._cfg, fused)
                    out[t, i, j] = r.view(np.float32)[0, 0, 0]
            self._log_nonfinite((x, y), out)
            return out
        ref = _lane_seq_dot if self.format is formats.binary32 else _ref_seq_dot
        out, fl = ref(self._bits32(a), self._bits32(b), self._cfg, fused)
        self._log(fl)
        return self._out_bits(out)

    def _fast_dot(self, a, b, order):
        """The tiled kernels of _f32kernels.ordered_dot (binary32 rne, no ftz/daz);
        NaN outputs are recomputed with the composition so that their payloads
        follow the preset."""
        x, y = np.ascontiguousarray(a), np.ascontiguousarray(b)
        out = _fast_ordered_dot(x, y, order)
        _orders.fix_nans(out, x, y, lambda xs, ys: self._dot_composed(xs, ys, order))
        self._log_nonfinite((x, y), out)
        return out

    def _fma_dot(self, a, b):
        return self._seq_dot(a, b, fused=True)

    def _exact_dot(self, a, b):
        x, y = self._as64(a), self._as64(b)
        B, m, k = x.shape
        n = y.shape[2]
        out = np.empty((B, m, n), np.uint32)
        for t in range(B):
            for i in range(m):
                for j in range(n):
                    with np.errstate(invalid="ignore"):
                        prods = x[t, i, :] * y[t, :, j]  # exact: <= 48-bit significands
                    out[t, i, j] = self._round_exact_terms(prods)
        return self._out_bits(out)

    def _dot_composed(self, a, b, order):
        """The definition: fpsem.domains._orders.dot3 composing the sequential,
        fma-chain and exact kernels with this domain's add (the reference the
        fast kernels are tested against)."""
        return _orders.dot3(self, a, b, order, self._seq_dot, self._fma_dot, self._exact_dot)

    def _impl_dot(self, a, b, order):
        if self._wide is not None and order.kind != "exact_then_round":
            return self._on_wide(self._wide._impl_dot, self._widen(a), self._widen(b), order)
        if (self._fast and self.shape(a)[2] > 0
                and order.kind in ("sequential", "pairwise", "blocked", "tree", "fma_chain")):
            return self._fast_dot(a, b, order)
        return self._dot_composed(a, b, order)

    # -- declarations -----------------------------------------------------------------
    def _accuracy(self, prim):
        if prim in ("neg", "abs", "minimum", "maximum", "max"):
            return EXACT
        if prim in ("sum", "dot"):
            if self.acc.kind == "exact_then_round":
                return CR
            if self._wide is not None:
                return Accuracy("ordered", note=f"each step correctly rounded to binary32 in order "
                                f"{self.acc}, the result rounded once to {self.format.name}")
            return Accuracy("ordered", note=f"each step correctly rounded in order {self.acc}")
        return CR  # asarray, + - * / sqrt fma and every elementary function

    def manifest(self, prim):
        o = self._opts
        return {"order": str(self.acc), "fma": "fma_chain only" if prim == "dot" else "none",
                "rounding": o["rounding"], "ftz": bool(o["ftz"]), "daz": bool(o["daz"]),
                "nan": o["nan"], "tininess": o["tininess"], "emulator": f"fpsem.emu.{self.E.name}",
                "accumulate": o["acc_format"] if prim in ("sum", "dot") else self.format.name}


# Every primitive runs under the default MXCSR whatever the caller's (the fast
# paths use the CPU's float hardware; the results must not depend on the host).
for _name, _fn in list(vars(_IEEEDomain).items()):
    if callable(_fn) and (_name.startswith("_impl_") or _name in ("sigmoid", "rsqrt", "to_float64")):
        setattr(_IEEEDomain, _name, fpenv.host_independent(_fn))
del _name, _fn


class IEEE32Domain(_IEEEDomain):
    """Bit-exact IEEE 754 binary32 (fpsem.emu.binary32)."""
    name = "ieee32"
    format = formats.binary32
    vdtype = np.float32
    E = emu.binary32


class Binary16Domain(_IEEEDomain):
    """Bit-exact IEEE 754 binary16 (fpsem.emu.binary16); values are numpy float16."""
    name = "fp16"
    format = formats.binary16
    vdtype = np.float16
    E = emu.binary16


class BFloat16Domain(_IEEEDomain):
    """Bit-exact bfloat16 (fpsem.emu.bfloat16); values are ml_dtypes.bfloat16 arrays."""
    name = "bf16"
    format = formats.bfloat16
    vdtype = formats.numpy_dtype(formats.bfloat16)
    E = emu.bfloat16
