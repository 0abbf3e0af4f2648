"""The public bit-level API, one object per format.

    out, flags = fpsem.emu.binary32.add(a_bits, b_bits, rounding="rne", ftz=False,
                                        daz=False, tininess="after", nan="x86")

Inputs are unsigned-integer arrays holding encodings (uint32 for binary32, uint16
for binary16/bfloat16, uint8 for e5m2/e4m3), broadcast together numpy-style;
Python ints and scalars are accepted. Outputs have the same dtype (comparisons
return int8 codes, integer conversions int64, to_float64 float64). There is no
global state: the rounding mode and every platform choice are arguments, and the
exceptions come back as a `Flags` object with one boolean array per IEEE flag
(`flags.invalid`, `.divide_by_zero`, `.overflow`, `.underflow`, `.inexact`) and
per-call booleans (`flags.any()` -> dict, `bool(flags)`: anything raised).
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from .. import formats as F
from .. import fpenv
from . import _core as C
from . import _kernels as K
from . import elementary
from .flags import FLAG_BITS, FLAG_NAMES, Flags, flags_dict  # noqa: F401  (re-exported)
from .specialize import nan_code, rounding_code, tininess_code

class FloatEmu:
    """Bit-exact emulator of one binary format. See module docstring."""

    def __init__(self, fmt: F.Format):
        self.format = fmt
        self.dtype = {32: np.uint32, 16: np.uint16, 8: np.uint8}[fmt.bits]
        self.name = fmt.name

    def __repr__(self):
        return f"fpsem.emu.{self.name}"

    # -- plumbing -------------------------------------------------------------
    def cfg(self, rounding="rne", ftz=False, daz=False, tininess="after", nan="x86"):
        return C.make_cfg(self.format, rounding_code(rounding), ftz, daz,
                          tininess_code(tininess), nan_code(nan))

    def _in(self, *xs):
        arrs = [np.asarray(x) for x in xs]
        for a in arrs:
            if a.dtype.kind not in "ui":
                raise TypeError(f"{self.name}: operands are encodings (unsigned integers), got {a.dtype}")
        shape = np.broadcast_shapes(*[a.shape for a in arrs])
        flat = [np.ascontiguousarray(np.broadcast_to(a, shape)).astype(np.uint32, copy=False).ravel()
                for a in arrs]
        return shape, flat

    def _out(self, shape, out, fl, dtype=None):
        out = out.reshape(shape)
        if dtype is not None and out.dtype != dtype:
            out = out.astype(dtype)
        return out, Flags(fl.reshape(shape))

    def _run(self, kernel, args, n, extra, out_dtype=np.uint32):
        out = np.empty(n, out_dtype)
        fl = np.empty(n, np.uint8)
        kernel(*args, *extra, out, fl)
        return out, fl

    def _fast_ok(self, rounding, ftz, daz):
        # binary32 in every mode and subnormal policy: _kernels.fast_binary32
        # decides the normal-range lanes and hands the rest to the reference
        return self.format is F.binary32

    # -- arithmetic -------------------------------------------------------------
    def _arith2(self, op, a, b, rounding, ftz, daz, tininess, nan):
        cfg = self.cfg(rounding, ftz, daz, tininess, nan)
        shape, (x, y) = self._in(a, b)
        if self._fast_ok(rounding, ftz, daz):
            out, fl = K.fast_binary32(op, x, y, cfg)
            return self._out(shape, out, fl)
        if op in ("add", "sub"):
            out, fl = self._run(K.k_add, (x, y, cfg, 1 if op == "sub" else 0), x.size, ())
        elif op == "mul":
            out, fl = self._run(K.k_mul, (x, y, cfg), x.size, ())
        else:
            out, fl = self._run(K.k_div, (x, y, cfg), x.size, ())
        return self._out(shape, out, fl, self.dtype)

    def add(self, a, b, rounding="rne", ftz=False, daz=False, tininess="after", nan="x86"):
        """a + b rounded once."""
        return self._arith2("add", a, b, rounding, ftz, daz, tininess, nan)

    def sub(self, a, b, rounding="rne", ftz=False, daz=False, tininess="after", nan="x86"):
        """a - b rounded once."""
        return self._arith2("sub", a, b, rounding, ftz, daz, tininess, nan)

    def mul(self, a, b, rounding="rne", ftz=False, daz=False, tininess="after", nan="x86"):
        """a * b rounded once."""
        return self._arith2("mul", a, b, rounding, ftz, daz, tininess, nan)

    def div(self, a, b, rounding="rne", ftz=False, daz=False, tininess="after", nan="x86"):
        """a / b rounded once."""
        return self._arith2("div", a, b, rounding, ftz, daz, tininess, nan)

    def sqrt(self, a, rounding="rne", ftz=False, daz=False, tininess="after", nan="x86"):
        """Square root rounded once (sqrt(-0) = -0)."""
        cfg = self.cfg(rounding, ftz, daz, tininess, nan)
        shape, (x,) = self._in(a)
        if self._fast_ok(rounding, ftz, daz):
            out, fl = K.fast_binary32("sqrt", x, None, cfg)
            return self._out(shape, out, fl)
        out, fl = self._run(K.k_sqrt, (x, cfg), x.size, ())
        return self._out(shape, out, fl, self.dtype)

    def fma(self, a, b, c, rounding="rne", ftz=False, daz=False, tininess="after", nan="x86"):
        """a*b + c with a single rounding (IEEE 754-2019 fusedMultiplyAdd)."""
        cfg = self.cfg(rounding, ftz, daz, tininess, nan)
        shape, (x, y, z) = self._in(a, b, c)
        if self._fast_ok(rounding, ftz, daz):
            out, fl = K.fast_binary32("fma", x, y, cfg, z)
            return self._out(shape, out, fl)
        out, fl = self._run(K.k_fma, (x, y, z, cfg), x.size, ())
        return self._out(shape, out, fl, self.dtype)

    def remainder(self, a, b, ftz=False, daz=False, tininess="after", nan="x86", rounding="rne"):
        """IEEE remainder a - n*b, n = a/b rounded to the nearest integer, ties to
        even. Always exact; `rounding` only matters for the sign of a zero."""
        cfg = self.cfg(rounding, ftz, daz, tininess, nan)
        shape, (x, y) = self._in(a, b)
        out, fl = self._run(K.k_remainder, (x, y, cfg), x.size, ())
        return self._out(shape, out, fl, self.dtype)

    def _minmax(self, a, b, want_max, number, daz, nan):
        cfg = self.cfg("rne", False, daz, "after", nan)
        shape, (x, y) = self._in(a, b)
        out, fl = self._run(K.k_minmax, (x, y, cfg, want_max, number), x.size, ())
        return self._out(shape, out, fl, self.dtype)

    def minimum(self, a, b, daz=False, nan="x86", **_ignored):
        """IEEE 754-2019 minimum: NaN if either is NaN, -0 < +0."""
        return self._minmax(a, b, False, False, daz, nan)

    def maximum(self, a, b, daz=False, nan="x86", **_ignored):
        """IEEE 754-2019 maximum: NaN if either is NaN, -0 < +0."""
        return self._minmax(a, b, True, False, daz, nan)

    def minimum_number(self, a, b, daz=False, nan="x86", **_ignored):
        """IEEE 754-2019 minimumNumber: a number beats a NaN; -0 < +0."""
        return self._minmax(a, b, False, True, daz, nan)

    def maximum_number(self, a, b, daz=False, nan="x86", **_ignored):
        """IEEE 754-2019 maximumNumber: a number beats a NaN; -0 < +0."""
        return self._minmax(a, b, True, True, daz, nan)

    minimumNumber = minimum_number
    maximumNumber = maximum_number

    def compare(self, a, b, signaling=False, daz=False, nan="x86", **_ignored):
        """int8 codes: -1 less, 0 equal, 1 greater, 2 unordered. Quiet compare
        signals invalid only for signalling NaNs; signaling=True for any NaN
        (IEEE 754-2019 5.11)."""
        cfg = self.cfg("rne", False, daz, "after", nan)
        shape, (x, y) = self._in(a, b)
        out, fl = self._run(K.k_compare, (x, y, cfg, bool(signaling)), x.size, (), np.int8)
        return self._out(shape, out, fl)

    def _cmp(self, a, b, ok, signaling, daz, nan):
        code, fl = self.compare(a, b, signaling, daz, nan)
        return np.isin(code, ok), fl

    def eq(self, a, b, signaling=False, daz=False, nan="x86"):
        return self._cmp(a, b, (0,), signaling, daz, nan)

    def ne(self, a, b, signaling=False, daz=False, nan="x86"):
        return self._cmp(a, b, (-1, 1, 2), signaling, daz, nan)

    def lt(self, a, b, signaling=True, daz=False, nan="x86"):
        return self._cmp(a, b, (-1,), signaling, daz, nan)

    def le(self, a, b, signaling=True, daz=False, nan="x86"):
        return self._cmp(a, b, (-1, 0), signaling, daz, nan)

    def gt(self, a, b, signaling=True, daz=False, nan="x86"):
        return self._cmp(a, b, (1,), signaling, daz, nan)

    def ge(self, a, b, signaling=True, daz=False, nan="x86"):
        return self._cmp(a, b, (1, 0), signaling, daz, nan)

    def next_up(self, a, daz=False, nan="x86", **_ignored):
        cfg = self.cfg("rne", False, daz, "after", nan)
        shape, (x,) = self._in(a)
        out, fl = self._run(K.k_next, (x, cfg, 1), x.size, ())
        return self._out(shape, out, fl, self.dtype)

    def next_down(self, a, daz=False, nan="x86", **_ignored):
        cfg = self.cfg("rne", False, daz, "after", nan)
        shape, (x,) = self._in(a)
        out, fl = self._run(K.k_next, (x, cfg, 0), x.size, ())
        return self._out(shape, out, fl, self.dtype)

    def round_to_integral(self, a, rounding="rne", exact=False, daz=False, nan="x86", **_ignored):
        """roundToIntegral in `rounding` (rna is roundToIntegralTiesToAway);
        exact=True is roundToIntegralExact (signals inexact)."""
        cfg = self.cfg(rounding, False, daz, "after", nan)
        shape, (x,) = self._in(a)
        out, fl = self._run(K.k_round_integral, (x, cfg, rounding_code(rounding), bool(exact)), x.size, ())
        return self._out(shape, out, fl, self.dtype)

    # -- conversions -------------------------------------------------------------
    def from_float64(self, v, rounding="rne", ftz=False, daz=False, tininess="after", nan="x86"):
        """Round binary64 values (numpy float64) into this format."""
        cfg = self.cfg(rounding, ftz, daz, tininess, nan)
        v = np.asarray(v, dtype=np.float64, order="C")
        out, fl = self._run(K.k_from_f64, (v.view(np.int64).ravel(), cfg), v.size, ())
        return self._out(v.shape, out, fl, self.dtype)

    def to_float64(self, a, daz=False, nan="x86", **_ignored):
        """Exact widening to binary64 (NaN payloads shifted, signalling NaNs quieted)."""
        cfg = self.cfg("rne", False, daz, "after", nan)
        shape, (x,) = self._in(a)
        out, fl = self._run(K.k_to_f64, (x, cfg), x.size, (), np.int64)
        return out.view(np.float64).reshape(shape), Flags(fl.reshape(shape))

    def from_int(self, v, rounding="rne", ftz=False, daz=False, tininess="after", nan="x86"):
        """Round int32/int64 values into this format."""
        cfg = self.cfg(rounding, ftz, daz, tininess, nan)
        v = np.asarray(v, dtype=np.int64, order="C")
        out, fl = self._run(K.k_from_int, (v.ravel(), cfg), v.size, ())
        return self._out(v.shape, out, fl, self.dtype)

    from_int32 = from_int
    from_int64 = from_int

    def to_int(self, a, width=32, rounding="rne", exact=True, daz=False, nan="x86", **_ignored):
        """convertToIntegerExact{rounding} (exact=False: convertToInteger, no
        inexact flag) into int32 (width=32) or int64. Invalid per NaN preset."""
        cfg = self.cfg(rounding, False, daz, "after", nan)
        shape, (x,) = self._in(a)
        out, fl = self._run(K.k_to_int, (x, cfg, rounding_code(rounding), int(width), bool(exact)),
                            x.size, (), np.int64)
        out = out.reshape(shape)
        return (out.astype(np.int32) if width == 32 else out), Flags(fl.reshape(shape))

    def to_int32(self, a, **kw):
        return self.to_int(a, width=32, **kw)

    def to_int64(self, a, **kw):
        return self.to_int(a, width=64, **kw)

    def from_fraction(self, q, rounding="rne", ftz=False, tininess="after", **_ignored):
        """Round exact rationals (Fraction, int, decimal string; arrays of them) once."""
        arr = np.asarray(q, dtype=object)
        out = np.empty(arr.shape, self.dtype)
        fl = np.zeros(arr.shape, np.uint8)
        for idx, v in np.ndenumerate(arr):
            b, f = round_fraction_cfg(Fraction(v), self.format, rounding, ftz, tininess)
            out[idx] = b
            fl[idx] = f
        return out, Flags(fl)

    def to_fraction(self, a):
        """Exact values: an object array of Fractions (inf/nan as float inf/nan)."""
        arr = np.asarray(a)
        out = np.empty(arr.shape, dtype=object)
        for idx, v in np.ndenumerate(arr):
            out[idx] = F.decode(int(v), self.format)
        return out

    # -- elementary functions -------------------------------------------------
    def __getattr__(self, name):
        if name in elementary.FUNCTIONS:
            def fn(a, rounding="rne", ftz=False, daz=False, tininess="after", nan="x86"):
                return elementary.evaluate(self, name, a, rounding, ftz, daz, tininess, nan)
            fn.__name__ = name
            fn.__doc__ = f"Correctly rounded {name} (see fpsem.emu.elementary)."
            return fn
        raise AttributeError(name)


# Every public operation runs under the default MXCSR whatever the caller's: the
# fast paths use the CPU's float hardware, and the bits must not depend on the host.
for _name, _fn in list(vars(FloatEmu).items()):
    if callable(_fn) and not _name.startswith("_") and _name != "cfg":
        setattr(FloatEmu, _name, fpenv.host_independent(_fn))
del _name, _fn


def round_fraction_cfg(q, fmt, rounding="rne", ftz=False, tininess="after"):
    """(bits, flag mask) of rounding the exact rational q once, with the same
    FTZ / tininess semantics as round_pack."""
    r = F.round_fraction(q, fmt, rounding)
    tiny_flag = r.underflow_before if tininess == "before" else r.underflow_after
    fl = 0
    if r.inexact:
        fl |= C.INEXACT
    if r.overflow:
        fl |= C.OVERFLOW
    if tiny_flag:
        fl |= C.UNDERFLOW
    if ftz and q != 0:
        # tiny per the selected rule, exact or not
        a = abs(q)
        if tininess == "before":
            tiny = a < fmt.min_normal
        else:
            r2 = F.round_fraction(q, F.Format("unb", fmt.p, fmt.ebits + 4), rounding)
            v = F.decode(r2.bits, F.Format("unb", fmt.p, fmt.ebits + 4))
            tiny = abs(v) < fmt.min_normal
        if tiny:
            sign = (1 << (fmt.bits - 1)) if q < 0 else 0
            return sign, C.UNDERFLOW | C.INEXACT
    return r.bits, fl
