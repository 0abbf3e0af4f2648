"""The `cuda` domain: native float32 kernels on an NVIDIA GPU, through pycuda.

Every kernel is a .cu source in fpsem/cuda_kernels (the repository's cuda_kernels/),
compiled at run time with explicit flags -- never fast math, `-fmad=false` (so no
a*b+c is contracted: every fused multiply-add is an explicit `__fmaf_*`),
`-prec-div=true -prec-sqrt=true`, `-ftz=true|false` from the domain's ftz/daz -- and
`-DFPSEM_MODE` selecting the directed-rounding intrinsics (`__fadd_rz`, `__fmul_ru`,
`__fdiv_rd`, `__fsqrt_rz`, `__fmaf_rd`, ...) that make `rounding=` real on the GPU.
Each source has a manifest beside it (NAME.json) stating the accumulation order, FMA
use, rounding and subnormal behaviour of every kernel; `D.manifest(prim)` returns it.

What the options mean here:

rounding  rne, rtz, rup, rdn through the _rn/_rz/_ru/_rd intrinsics (every +, -, *, /,
          sqrt, fma and every step of sum/dot/fused kernels). rna: CUDA has no
          ties-away instruction, so it is refused (UnsupportedOption).
ftz, daz  CUDA's -ftz=true flushes subnormal inputs AND results of every float32
          instruction, so only ftz == daz is offered (both False: IEEE gradual underflow;
          both True: flush to zero). min/max/comparisons flush inputs explicitly.
          A result is flushed when it is tiny AFTER rounding (rounded to 24 bits with
          an unbounded exponent it is below 2^-126), measured on an H200: products and
          fmas within a quarter ulp below 2^-126 come back as 2^-126 in rn/ru, not 0
          (bench/cuda_check.py ftz_tininess); the emulator's tininess="after".
acc       default order of sum and dot (default fma_chain: dot is s = +0;
          s = fma(a_k, b_k, s) for k = 0.., sum is sequential). Every order of
          fpsem.order is honoured except exact_then_round; `native` means the same
          kernels as fma_chain here (the order is declared, never hidden).
math      'libm' (CUDA's expf, logf, tanhf, erff, sinf, cosf, exp2f; documented ulp
          bounds, measured in docs/cuda.md) or 'fast' (__expf, __logf, __sinf, __cosf,
          tanh.approx.f32, ex2.approx.f32; erf stays erff). Elementary functions are
          computed round-to-nearest internally whatever `rounding` says.
fused     True: softmax, layer_norm, gelu_tanh, scaled_dot_product_attention and
          flash_attention run as single native kernels that perform the generic op's
          roundings in the same order (bit-identical to the generic decomposition in
          this domain, checked by tests/test_cuda.py); False: the generic ops.

Values are `CudaArray`s: C-contiguous float32 device buffers (with an element offset,
so reshapes and contiguous slices are views) exposing __cuda_array_interface__.
Structural primitives are the base class's (its checks and numpy semantics): their
numpy function is applied to host geometry only and the result is made on the device
(a shared view, a strided copy or a gather kernel); comparisons give device masks
(`CudaMask`) that `where` consumes. Host data is rounded into binary32 by the
emulator (`fpsem.emu.binary32`, the domain's rounding, ftz with tininess after
rounding). Module layout: `_cuda_runtime` (context, pool, compiled kernels),
`_cuda_array` (device values), this module (the domain), `_cuda_fused` (fused kernels,
registered against their ops by `fpsem.ops`).
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from .. import emu, formats
from ..domain import CR, Accuracy, Domain, to_fraction_scalar
from ..errors import FpsemError, NotRepresentable, ShapeError, UnsupportedOp, UnsupportedOption
from . import _orders
from ._cuda_array import CudaArray, CudaMask, _cstrides, _source_index, _view_geometry
from ._cuda_runtime import MODES, _kernel_dir, available, load_manifest, runtime, started

__all__ = ["CudaDomain", "CudaArray", "CudaMask", "runtime", "load_manifest", "_kernel_dir"]

INTRINSIC_SUFFIX = {"rne": "_rn", "rtz": "_rz", "rup": "_ru", "rdn": "_rd"}
MAXD = 8
EW_THREADS = 256

# CUDA C Programming Guide, "Mathematical Functions" appendix: maximum ulp error of the
# single-precision libm functions (full range, -ftz=false), except exp2: documented 2 ulp,
# but the exhaustive scan (docs/cuda.md) measured 2.38 ulp for subnormal results on an
# H100 (CUDA 13.0), so the declared bound is 3. Measured values: docs/cuda.md.
LIBM_ULPS = {"exp": 2, "exp2": 3, "log": 1, "tanh": 2, "erf": 2, "sin": 2, "cos": 2}
FAST_NOTE = {
    "exp": "__expf: documented max error 2 + floor(|1.173 x|) ulp; subnormal results flushed",
    "exp2": "ex2.approx.f32: documented max relative error 2^-22 (about 2 ulp); not for subnormals",
    "log": "__logf: documented max absolute error 2^-21.41 on [0.5, 2], otherwise 3 ulp-ish; "
           "unbounded in ulp near x = 1",
    "tanh": "tanh.approx.f32: documented max relative error 2^-10.987",
    "sin": "__sinf: documented max absolute error 2^-21.41 on [-pi, pi], larger outside",
    "cos": "__cosf: documented max absolute error 2^-21.41 on [-pi, pi], larger outside",
}


class CudaDomain(Domain):
    """Native float32 CUDA kernels, each with a manifest; see the module docstring."""

    name = "cuda"
    format = formats.binary32
    OPTIONS = {"rounding": "rne", "ftz": False, "daz": False, "acc": "fma_chain",
               "math": "libm", "fused": True}
    GAPS = {}
    is_float = True
    thread_bound = True   # pycuda's context is current on one thread only

    @classmethod
    def available(cls):
        return available()

    def _validate_options(self, opts):
        opts = super()._validate_options(opts)
        if opts["rounding"] == "rna":
            raise UnsupportedOption(
                "domain 'cuda': rounding 'rna' (ties away from zero) has no CUDA instruction; "
                "use rne, rtz, rup or rdn, or the 'ieee32' emulator")
        if bool(opts["ftz"]) != bool(opts["daz"]):
            raise UnsupportedOption(
                "domain 'cuda': CUDA's -ftz=true flushes subnormal inputs and results together; "
                "use ftz=True, daz=True (or both False); ftz without daz is emulated by 'ieee32'")
        if opts["math"] not in ("libm", "fast"):
            raise UnsupportedOption(f"domain 'cuda': math must be 'libm' or 'fast', got {opts['math']!r}")
        if not isinstance(opts["fused"], (bool, np.bool_)):
            raise UnsupportedOption("domain 'cuda': option fused must be True or False")
        if opts["acc"].kind == "exact_then_round":
            raise UnsupportedOption("domain 'cuda': no exact_then_round kernel; choose "
                                    "fma_chain, sequential, pairwise, blocked(k) or tree(w)")
        return opts

    # -- kernels ---------------------------------------------------------------------
    @property
    def _rt(self):
        return runtime()

    @property
    def _mode(self):
        return MODES[self.rounding]

    @property
    def _fast(self):
        return self._opts["math"] == "fast"

    def _fn(self, module, kernel, defines=()):
        return self._rt.func(module, kernel, self.ftz, self.daz, self._mode, self._fast, defines)

    def compile_flags(self, defines=()):
        """The nvcc flags this domain's kernels are built with (also in every manifest)."""
        return self._rt.flags(self.ftz, self.daz, self._mode, self._fast, defines) + [f"-arch={self._rt.arch}"]

    def _empty(self, shape, nbytes_per=4):
        n = int(np.prod(shape, dtype=np.int64))
        return CudaArray(self._rt.alloc(n * nbytes_per), shape)

    @staticmethod
    def _grid(n, threads=EW_THREADS):
        return (int(max(1, min((n + threads - 1) // threads, 16384))), 1)

    def _geo(self, out_shape, inputs):
        """Geometry record (see common.cu `struct Geo`) for inputs broadcast to out_shape.
        inputs: list of (shape, offset, strides or None for C-contiguous)."""
        nd = len(out_shape)
        if nd > MAXD:
            raise UnsupportedOp(f"cuda: arrays of more than {MAXD} dimensions")
        g = np.zeros(3 + MAXD + 4 * MAXD + 4, dtype=np.int64)
        n = int(np.prod(out_shape, dtype=np.int64))
        g[0], g[1] = n, nd
        g[3:3 + nd] = out_shape
        contig = 0
        for k, (shape, off, strides) in enumerate(inputs):
            g[3 + MAXD + 4 * MAXD + k] = off
            if strides is None:
                if tuple(shape) == tuple(out_shape):
                    contig |= 1 << k
                    continue
                pad = nd - len(shape)
                cs = _cstrides(shape)
                strides = [0] * pad + [0 if (shape[i] == 1 and out_shape[pad + i] != 1) else cs[i]
                                       for i in range(len(shape))]
            base = 3 + MAXD + k * MAXD
            g[base:base + nd] = strides
        g[2] = contig
        return g

    def _launch_ew(self, kernel, out_shape, arrays, out=None, nbytes_per=4):
        """Elementwise kernel over contiguous (possibly broadcast) inputs."""
        out = self._empty(out_shape, nbytes_per) if out is None else out
        n = out.size if isinstance(out, CudaArray) else int(np.prod(out_shape, dtype=np.int64))
        if n == 0:
            return out
        geo = self._geo(out_shape, [(a.shape, 0, None) for a in arrays])
        fn = self._fn("elementwise", kernel)
        fn(np.uintp(out.ptr), *[np.uintp(a.ptr) for a in arrays], geo,
           block=(EW_THREADS, 1, 1), grid=self._grid(n))
        return out

    # -- representation ----------------------------------------------------------------
    def is_value(self, x):
        return isinstance(x, CudaArray)

    def _parts(self, x):
        return (x,)

    def _unparts(self, parts):
        return parts[0]

    def shape(self, x):
        return x.shape

    def upload(self, host):
        """A CudaArray holding exactly these float32 values (no rounding)."""
        host = np.ascontiguousarray(host, dtype=np.float32)
        out = self._empty(host.shape)
        if host.size:
            self._rt.drv.memcpy_htod(out.ptr, host)
        return out

    def to_host(self, x):
        """float32 numpy copy of a value (bit-exact)."""
        return x.get()

    @property
    def _emu_kw(self):
        """How host data is rounded into binary32: the domain's mode; ftz flushes results
        tiny after rounding, as the GPU does (see the module docstring)."""
        return dict(rounding=self.rounding, ftz=self.ftz, tininess="after")

    def _round_host(self, data):
        """Host float32 array: data rounded once into binary32 by the emulator."""
        E, kw = emu.binary32, self._emu_kw
        arr = data if isinstance(data, np.ndarray) else np.array(data, dtype=object)
        if arr.dtype.kind == "b":
            raise FpsemError(f"asarray[{self.label}]: boolean data is not numeric")
        if arr.dtype.kind == "f":
            return E.from_float64(arr.astype(np.float64), **kw)[0].view(np.float32)
        if arr.dtype.kind in "iu" and arr.dtype != np.uint64:
            return E.from_int(arr.astype(np.int64), **kw)[0].view(np.float32)
        out = np.empty(arr.shape, dtype=np.uint32)
        for idx, v in np.ndenumerate(arr):
            if isinstance(v, (float, np.floating)) and not math.isfinite(v):
                out[idx] = E.from_float64(np.float64(v), **kw)[0]
            else:
                out[idx] = E.from_fraction(to_fraction_scalar(v, f"asarray[{self.label}]"), **kw)[0]
        return out.view(np.float32)

    def _impl_asarray(self, data):
        return self.upload(self._round_host(data))

    def host_const(self, value):
        """The constant rounded into binary32 in this domain's mode, as a numpy float32."""
        if isinstance(value, float):
            raise self._err(UnsupportedOption, "const",
                            f"float literal {value!r}: pass an exact string or Fraction")
        q = to_fraction_scalar(value, "const")
        return emu.binary32.from_fraction(q, **self._emu_kw)[0].view(np.float32)[()]

    def const(self, value):
        if isinstance(value, float):
            raise self._err(UnsupportedOption, "const",
                            f"float literal {value!r}: pass an exact string or Fraction")
        key = (self.rounding, self.ftz, to_fraction_scalar(value, "const"))
        c = self._rt.consts.get(key)
        if c is None:
            c = self.upload(np.array(self.host_const(value)))
            self._rt.consts[key] = c
        return c

    def to_float64(self, x):
        return x.get().astype(np.float64)

    def to_fraction(self, x):
        h = x.get()
        if not np.isfinite(h).all():
            raise NotRepresentable(f"to_fraction[{self.label}]: inf or nan has no rational value")
        out = np.empty(h.shape, dtype=object)
        of = out.ravel()
        for i, v in enumerate(h.ravel().tolist()):
            of[i] = Fraction(v)
        return out

    # -- structure (on the device) -------------------------------------------------------
    def _materialize(self, x, shape, off, strides):
        """Copy the strided view (shape, off, strides) of x into a new contiguous array;
        a view that is already contiguous shares x's buffer."""
        shape = tuple(shape)
        if strides == _cstrides(shape) or int(np.prod(shape, dtype=np.int64)) <= 1:
            if int(np.prod(shape, dtype=np.int64)) == 0:
                return self._empty(shape)
            return CudaArray(x.buf, shape, x.off + off)
        out = self._empty(shape)
        n = out.size
        if n == 0:
            return out
        geo = self._geo(shape, [(shape, off, list(strides))])
        self._fn("elementwise", "ew_copy")(np.uintp(out.ptr), np.uintp(x.ptr), geo,
                                            block=(EW_THREADS, 1, 1), grid=self._grid(n))
        return out

    def _struct(self, fn, x):
        """The base class's structural primitives (reshape, transpose, broadcast_to,
        expand_dims, squeeze, flip, getitem, take) end here: `fn` runs on host geometry
        only; a view shares x's buffer or is copied by a strided kernel, anything else
        (advanced indexing, take) is a gather of the source indices it selects."""
        geo = _view_geometry(x.shape, fn)
        if geo is not None:
            return self._materialize(x, *geo)
        return self._gather(x, _source_index(x.shape, fn))

    def _gather(self, x, src):
        src = np.asarray(src, dtype=np.int64)
        out = self._empty(src.shape)  # 0-d stays 0-d (ascontiguousarray would make it 1-d)
        if src.size:
            flat = np.ascontiguousarray(src.reshape(-1))
            idx = self._rt.alloc(flat.nbytes)
            self._rt.drv.memcpy_htod(int(idx), flat)
            self._fn("elementwise", "ew_gather")(np.uintp(out.ptr), np.uintp(x.ptr), np.uintp(int(idx)),
                                                  np.int64(src.size), block=(EW_THREADS, 1, 1),
                                                  grid=self._grid(src.size))
        return out

    def concat(self, xs, axis=0):
        xs = [self.asarray(x) for x in xs]
        if not xs:
            raise self._err(ShapeError, "concat", "nothing to concatenate")
        try:  # numpy's checks and messages, on zero-stride stand-ins (no data)
            shape = np.concatenate([np.broadcast_to(np.bool_(0), x.shape) for x in xs], axis=axis).shape
        except ValueError as e:
            raise self._err(ShapeError, "concat", f"shapes {[x.shape for x in xs]}: {e}") from None
        ax = axis % len(shape)
        out = self._empty(shape)
        ost = _cstrides(shape)
        pos = 0
        fn = self._fn("elementwise", "ew_place")
        for x in xs:
            if x.size:
                g = self._geo(x.shape, [(x.shape, 0, _cstrides(x.shape)), (x.shape, pos * ost[ax], ost)])
                fn(np.uintp(out.ptr), np.uintp(x.ptr), g, block=(EW_THREADS, 1, 1), grid=self._grid(x.size))
            pos += x.shape[ax]
        return out

    def stack(self, xs, axis=0):
        xs = self._stack_args(xs)
        nd = xs[0].ndim + 1
        if not -nd <= axis < nd:
            raise self._err(ShapeError, "stack", f"axis {axis} out of range")
        return self.concat([self.expand_dims(x, axis % nd) for x in xs], axis=axis % nd)

    # -- selection -------------------------------------------------------------------------
    def where(self, cond, a, b):
        """A numpy bool mask is uploaded as a device mask; the base class checks shapes."""
        if isinstance(cond, np.ndarray) and cond.dtype == np.bool_:
            m = np.ascontiguousarray(cond, dtype=np.uint8)
            buf = self._rt.alloc(m.nbytes)
            if m.size:
                self._rt.drv.memcpy_htod(int(buf), m)
            cond = CudaMask(buf, m.shape)
        return super().where(cond, a, b)

    def _impl_where(self, cond, a, b):
        if not isinstance(cond, CudaMask):
            raise self._err(UnsupportedOp, "where", f"condition of type {type(cond).__name__}")
        shape = np.broadcast_shapes(a.shape, b.shape)
        try:
            shape = np.broadcast_shapes(shape, cond.shape)
        except ValueError:
            raise self._err(ShapeError, "where", f"mask {cond.shape} vs values {shape}") from None
        return self._launch_ew("ew_where", shape, [cond, a, b])

    # -- arithmetic ----------------------------------------------------------------------------
    def _bin(self, kernel, a, b):
        return self._launch_ew(kernel, np.broadcast_shapes(a.shape, b.shape), [a, b])

    def _impl_add(self, a, b):
        return self._bin("ew_add", a, b)

    def _impl_sub(self, a, b):
        return self._bin("ew_sub", a, b)

    def _impl_mul(self, a, b):
        return self._bin("ew_mul", a, b)

    def _impl_div(self, a, b):
        return self._bin("ew_div", a, b)

    def _impl_minimum(self, a, b):
        return self._bin("ew_minimum", a, b)

    def _impl_maximum(self, a, b):
        return self._bin("ew_maximum", a, b)

    def _impl_fma(self, a, b, c):
        return self._launch_ew("ew_fma", np.broadcast_shapes(a.shape, b.shape, c.shape), [a, b, c])

    def _un(self, kernel, a):
        return self._launch_ew(kernel, a.shape, [a])

    def _impl_neg(self, a):
        return self._un("ew_neg", a)

    def _impl_abs(self, a):
        return self._un("ew_abs", a)

    def _impl_sqrt(self, a):
        return self._un("ew_sqrt", a)

    def _impl_exp(self, a):
        return self._un("ew_exp", a)

    def _impl_exp2(self, a):
        return self._un("ew_exp2", a)

    def _impl_log(self, a):
        return self._un("ew_log", a)

    def _impl_tanh(self, a):
        return self._un("ew_tanh", a)

    def _impl_erf(self, a):
        return self._un("ew_erf", a)

    def _impl_sin(self, a):
        return self._un("ew_sin", a)

    def _impl_cos(self, a):
        return self._un("ew_cos", a)

    def _cmp(self, kernel, a, b):
        shape = np.broadcast_shapes(a.shape, b.shape)
        n = int(np.prod(shape, dtype=np.int64))
        out = CudaMask(self._rt.alloc(n), shape)
        if n:
            geo = self._geo(shape, [(a.shape, 0, None), (b.shape, 0, None)])
            self._fn("elementwise", kernel)(np.uintp(out.ptr), np.uintp(a.ptr), np.uintp(b.ptr), geo,
                                            block=(EW_THREADS, 1, 1), grid=self._grid(n))
        return out

    def _impl_lt(self, a, b):
        return self._cmp("cmp_lt", a, b)

    def _impl_le(self, a, b):
        return self._cmp("cmp_le", a, b)

    def _impl_gt(self, a, b):
        return self._cmp("cmp_gt", a, b)

    def _impl_ge(self, a, b):
        return self._cmp("cmp_ge", a, b)

    def _impl_eq(self, a, b):
        return self._cmp("cmp_eq", a, b)

    def _impl_ne(self, a, b):
        return self._cmp("cmp_ne", a, b)

    # -- reductions -----------------------------------------------------------------------------
    def _check_order(self, op, order):
        if order.kind == "exact_then_round":
            raise self._err(UnsupportedOption, op, "no exact_then_round kernel on the GPU; choose "
                            "fma_chain, sequential, pairwise, blocked(k) or tree(w)")

    def _seq_sum(self, rows):
        return self._rowsum(rows, "sum_seq")

    def _rowsum(self, rows, kernel, *extra):
        R, n = rows.shape
        rows = self._contig(rows)
        out = self._empty((R,))
        if R:
            fn = self._fn("reduce", kernel)
            fn(np.uintp(out.ptr), np.uintp(rows.ptr), np.int64(R), np.int64(n),
               *[np.int64(e) for e in extra], block=(EW_THREADS, 1, 1), grid=self._grid(R))
        return out

    def _contig(self, x):
        return x  # every CudaArray is C-contiguous

    def _impl_sum(self, rows, order):
        R, n = rows.shape
        if n == 0:
            return self.zeros((R,))
        kind = order.kind
        if kind in ("sequential", "fma_chain", "native"):
            return self._rowsum(rows, "sum_seq")
        if kind == "pairwise":
            return self._rowsum(rows, "sum_pairwise")
        if kind == "blocked":
            return self._rowsum(rows, "sum_blocked", order.k)
        if kind == "tree" and order.k <= 1024:
            out = self._empty((R,))
            if R:
                w = order.k
                self._fn("reduce", "sum_tree")(np.uintp(out.ptr), np.uintp(rows.ptr), np.int64(R), np.int64(n),
                                               np.int64(w), block=(max(w, 32), 1, 1),
                                               grid=(int(min(R, 65535)), 1))
            return out
        return _orders.sum_rows(self, rows, order, self._seq_sum)

    def _impl_max(self, rows):
        R, n = rows.shape
        out = self._empty((R,))
        if R:
            self._fn("reduce", "row_max")(np.uintp(out.ptr), np.uintp(rows.ptr), np.int64(R), np.int64(n),
                                          block=(256, 1, 1), grid=(int(min(R, 65535)), 1))
        return out

    def _mm(self, a, b, fma):
        """(B, m, k) @ (B, k, n) with every output accumulated in k order (fma chain or
        sequential), by the tiled kernel when the shapes allow it."""
        B, m, k = a.shape
        n = b.shape[2]
        out = self._empty((B, m, n))
        if out.size == 0:
            return out
        if k == 0:
            return self.zeros((B, m, n))
        defines = (f"MM_FMA={int(fma)}",)
        fast = (k % 8 == 0 and n % 4 == 0 and a.ptr % 16 == 0 and b.ptr % 16 == 0)
        kern = "mm_tile128" if fast else "mm_general"
        tile = 128 if fast else 64
        fn = self._fn("matmul", kern, defines)
        sA, sB = m * k, k * n
        for z0 in range(0, B, 65535):
            nz = min(65535, B - z0)
            fn(np.uintp(a.ptr + 4 * z0 * sA), np.uintp(b.ptr + 4 * z0 * sB), np.uintp(out.ptr + 4 * z0 * m * n),
               np.int64(m), np.int64(n), np.int64(k), np.int64(sA), np.int64(sB),
               block=(256, 1, 1), grid=((n + tile - 1) // tile, (m + tile - 1) // tile, nz))
        return out

    def _impl_dot(self, a, b, order):
        kind = order.kind
        if kind in ("fma_chain", "native"):
            return self._mm(a, b, True)
        if kind == "sequential":
            return self._mm(a, b, False)
        return _orders.dot3(self, a, b, order, lambda x, y: self._mm(x, y, False))

    # -- accuracy and manifests ---------------------------------------------------------------
    def _accuracy(self, prim):
        sub = ("subnormal inputs and results flushed to zero (-ftz=true)" if self.ftz
               else "gradual underflow")
        if prim in ("add", "sub", "mul", "div", "sqrt", "fma"):
            intr = {"add": "__fadd", "sub": "__fsub", "mul": "__fmul", "div": "__fdiv",
                    "sqrt": "__fsqrt", "fma": "__fmaf"}[prim] + INTRINSIC_SUFFIX[self.rounding]
            return Accuracy("correctly_rounded", note=f"{intr}; {sub}")
        if prim in ("neg", "abs"):
            return Accuracy("exact", note="sign-bit operation, never flushed")
        if prim in ("minimum", "maximum", "max"):
            return Accuracy("exact", note="IEEE 754-2019 minimum/maximum; NaN -> 0x7fffffff"
                            + ("; subnormal inputs read as zero" if self.daz else ""))
        if prim in LIBM_ULPS:
            if self._fast and prim in FAST_NOTE:
                return Accuracy("unspecified", note=FAST_NOTE[prim] + "; measured bounds in docs/cuda.md")
            return Accuracy("ulps", LIBM_ULPS[prim],
                            f"CUDA libm {prim}f, round-to-nearest internally whatever rounding=; "
                            "documented bound, measured in docs/cuda.md")
        if prim in ("sum", "dot"):
            return Accuracy("ordered", note=f"each step {INTRINSIC_SUFFIX[self.rounding][1:]} in order "
                            f"{self.acc} (native = fma_chain kernels); {sub}")
        if prim == "asarray":
            return CR
        return Accuracy("unspecified")

    def manifest(self, prim):
        """Manifest of the kernel(s) behind a primitive or a fused op, for this domain's options."""
        where = {"sum": "reduce", "max": "reduce", "dot": "matmul"}
        fused = load_manifest("fused")
        if prim in fused:
            m = dict(fused[prim])
            src = "fused"
        elif prim in where:
            m = dict(load_manifest(where[prim])[prim])
            src = where[prim]
        else:
            ew = load_manifest("elementwise")
            if prim not in ew:
                return {}
            m = dict(ew[prim])
            src = "elementwise"
        m["source"] = f"cuda_kernels/{src}.cu"
        m["rounding_mode"] = self.rounding
        m["subnormals"] = ("-ftz=true: subnormal inputs and results flushed to sign-preserving zero"
                           " (results tiny after rounding)"
                           if self.ftz else "-ftz=false: IEEE gradual underflow")
        m["math"] = self._opts["math"]
        m["default_order"] = str(self.acc)
        m["flags"] = self._rt.flags(self.ftz, self.daz, self._mode, self._fast) if started() is not None else \
            ["-fmad=false", f"-ftz={'true' if self.ftz else 'false'}", "-prec-div=true", "-prec-sqrt=true",
             f"-DFPSEM_MODE={self._mode}"]
        return m

    def describe(self):
        d = super().describe()
        if started() is not None:
            d["device"] = self._rt.name
            d["arch"] = self._rt.arch
        d["flags"] = self.manifest("add").get("flags")
        return d
