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
Structural primitives run on the device (a strided gather kernel); comparisons give
device masks (`CudaMask`) that `where` consumes.
"""
from __future__ import annotations

import atexit
import json
import math
import os
import shutil
from fractions import Fraction

import numpy as np

from .. import formats
from ..domain import CR, Accuracy, Domain, to_fraction_scalar
from ..errors import FpsemError, NotRepresentable, ShapeError, UnsupportedOp, UnsupportedOption
from ..order import parse_order
from . import _orders

MODES = {"rne": 0, "rtz": 1, "rup": 2, "rdn": 3}
INTRINSIC_SUFFIX = {"rne": "_rn", "rtz": "_rz", "rup": "_ru", "rdn": "_rd"}
KERNEL_DIR = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "cuda_kernels"))
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


def _kernel_dir():
    try:  # installed package data first
        import fpsem.cuda_kernels as ck
        d = os.path.dirname(ck.__file__)
        if os.path.exists(os.path.join(d, "common.cu")):
            return d
    except Exception:  # pragma: no cover
        pass
    return KERNEL_DIR


def load_manifest(name):
    """The manifest (dict) beside cuda_kernels/NAME.cu."""
    with open(os.path.join(_kernel_dir(), name + ".json")) as f:
        return json.load(f)


# --- availability -----------------------------------------------------------------
_AVAIL = None


def _check_available():
    try:
        import pycuda.driver as drv  # noqa: F401
    except Exception as e:  # ImportError, or a broken CUDA install
        return False, f"pycuda is not installed or does not load ({type(e).__name__}); pip install 'fpsem[cuda]'"
    try:
        drv.init()
        n = drv.Device.count()
    except Exception as e:
        return False, f"no usable NVIDIA driver ({str(e).splitlines()[0][:80]})"
    if n < 1:
        return False, "no NVIDIA GPU found"
    if shutil.which("nvcc") is None:
        return False, "nvcc (the CUDA compiler) is not on PATH; the kernels are compiled at run time"
    return True, ""


# --- runtime: context, memory pool, compiled modules ------------------------------------
class _Runtime:
    def __init__(self):
        import pycuda.driver as drv
        from pycuda.tools import DeviceMemoryPool
        drv.init()
        self.drv = drv
        self.dev = drv.Device(int(os.environ.get("FPSEM_CUDA_DEVICE", "0")))
        self.ctx = self.dev.retain_primary_context()
        self.ctx.push()
        cc = self.dev.compute_capability()
        self.arch = f"sm_{cc[0]}{cc[1]}"
        self.name = self.dev.name()
        self.pool = DeviceMemoryPool()
        self.modules = {}
        self.funcs = {}
        self.consts = {}
        atexit.register(self.close)

    def close(self):
        try:
            self.consts.clear()
            self.pool.free_held()
            self.ctx.pop()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass

    def flags(self, ftz, daz, mode, fast, defines=()):
        return (["-fmad=false", f"-ftz={'true' if ftz else 'false'}", "-prec-div=true",
                 "-prec-sqrt=true", "-std=c++17", f"-DFPSEM_MODE={mode}",
                 f"-DFPSEM_DAZ={int(daz)}", f"-DFPSEM_FAST={int(fast)}"]
                + [f"-D{d}" for d in defines])

    def module(self, name, ftz, daz, mode, fast, defines=()):
        key = (name, ftz, daz, mode, fast, tuple(defines))
        mod = self.modules.get(key)
        if mod is None:
            from pycuda.compiler import SourceModule
            d = _kernel_dir()
            with open(os.path.join(d, "common.cu")) as f:
                common = f.read()
            with open(os.path.join(d, name + ".cu")) as f:
                src = f.read()
            mod = SourceModule(common + "\n" + src, options=self.flags(ftz, daz, mode, fast, defines),
                               no_extern_c=True, arch=self.arch)
            self.modules[key] = mod
        return mod

    def func(self, name, kernel, ftz, daz, mode, fast, defines=()):
        key = (name, kernel, ftz, daz, mode, fast, tuple(defines))
        fn = self.funcs.get(key)
        if fn is None:
            fn = self.module(name, ftz, daz, mode, fast, defines).get_function(kernel)
            self.funcs[key] = fn
        return fn

    def alloc(self, nbytes):
        return self.pool.allocate(max(int(nbytes), 16))


_RT = None


def runtime():
    global _RT
    if _RT is None:
        _RT = _Runtime()
    return _RT


# --- values ---------------------------------------------------------------------------
class CudaArray:
    """A C-contiguous float32 array in device memory (buffer + element offset + shape)."""
    __slots__ = ("buf", "off", "shape", "__weakref__")
    dtype = np.dtype(np.float32)

    def __init__(self, buf, shape, off=0):
        self.buf = buf
        self.shape = tuple(int(s) for s in shape)
        self.off = int(off)

    @property
    def ptr(self):
        return int(self.buf) + 4 * self.off

    @property
    def size(self):
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def ndim(self):
        return len(self.shape)

    def get(self):
        """Copy to a host numpy float32 array."""
        out = np.empty(self.shape, dtype=np.float32)
        if out.size:
            runtime().drv.memcpy_dtoh(out, self.ptr)
        return out

    @property
    def __cuda_array_interface__(self):
        return {"shape": self.shape, "typestr": "<f4", "data": (self.ptr, True), "version": 3,
                "strides": None}

    def __repr__(self):
        return f"CudaArray(shape={self.shape})"


class CudaMask:
    """A device bool mask (uint8), the result of a comparison; `where` consumes it."""
    __slots__ = ("buf", "shape")

    def __init__(self, buf, shape):
        self.buf = buf
        self.shape = tuple(shape)

    @property
    def ptr(self):
        return int(self.buf)

    def get(self):
        out = np.empty(self.shape, dtype=np.uint8)
        if out.size:
            runtime().drv.memcpy_dtoh(out, self.ptr)
        return out.astype(bool)

    def __array__(self, dtype=None, copy=None):
        a = self.get()
        return a if dtype is None else a.astype(dtype)


def _cstrides(shape):
    st = [1] * len(shape)
    for i in range(len(shape) - 2, -1, -1):
        st[i] = st[i + 1] * max(int(shape[i + 1]), 1)
    return st


_FAKE_BASE = np.zeros(1, dtype=np.float32)


def _view_geometry(shape, fn):
    """Apply a numpy view function to a fake array of `shape` (never reading memory) and
    return (shape, element offset, element strides) of the view."""
    fake = np.lib.stride_tricks.as_strided(_FAKE_BASE, shape=shape,
                                           strides=[4 * s for s in _cstrides(shape)])
    v = fn(fake)
    if not isinstance(v, np.ndarray):  # pragma: no cover - guarded by callers
        raise TypeError("view function returned a scalar")
    off = (v.__array_interface__["data"][0] - _FAKE_BASE.__array_interface__["data"][0]) // 4
    return tuple(v.shape), int(off), [s // 4 for s in v.strides]


def _is_advanced(idx):
    items = idx if isinstance(idx, tuple) else (idx,)
    for it in items:
        if isinstance(it, (list, np.ndarray)) or isinstance(it, (bool, np.bool_)):
            return True
    return False


# --- host-side rounding into binary32 ----------------------------------------------------
_F32_MIN = np.float32(np.finfo(np.float32).tiny)


def _directed_f32(x64, mode, ftz):
    """float64 array -> float32 rounded in `mode` (exact: one rounding of the float64 value)."""
    x64 = np.asarray(x64, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        r = x64.astype(np.float32)
        if mode != "rne":
            back = r.astype(np.float64)
            fin = np.isfinite(x64)
            if mode == "rup":
                fix, to = fin & (back < x64), np.float32(np.inf)
            elif mode == "rdn":
                fix, to = fin & (back > x64), np.float32(-np.inf)
            else:
                fix, to = fin & (np.abs(back) > np.abs(x64)), np.float32(0)
            if np.any(fix):
                r = np.where(fix, np.nextafter(r, to), r).astype(np.float32)
    if ftz:
        r = _flush(r)
    return np.asarray(r, dtype=np.float32)


def _flush(r):
    r = np.asarray(r, dtype=np.float32)
    sub = (r != 0) & (np.abs(r) < _F32_MIN)
    if np.any(sub):
        r = np.where(sub, np.copysign(np.float32(0), r), r).astype(np.float32)
    return r


class CudaDomain(Domain):
    """Native float32 CUDA kernels, each with a manifest; see the module docstring."""

    name = "cuda"
    format = formats.binary32
    OPTIONS = {"rounding": "rne", "ftz": False, "daz": False, "acc": "fma_chain",
               "math": "libm", "fused": True}
    GAPS = {}
    is_float = True

    @classmethod
    def available(cls):
        global _AVAIL
        if _AVAIL is None:
            _AVAIL = _check_available()
        return _AVAIL

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

    def _round_host(self, data):
        """Host float32 array: data rounded once into binary32 in the domain's mode."""
        arr = data if isinstance(data, np.ndarray) else np.array(data, dtype=object)
        if arr.dtype == np.float32:
            return _flush(arr) if self.ftz else np.array(arr)
        if arr.dtype.kind == "b":
            raise FpsemError(f"asarray[{self.label}]: boolean data is not numeric")
        if arr.dtype.kind == "f" or (arr.dtype.kind in "iu" and (arr.size == 0 or np.abs(arr).max() < 2 ** 53)):
            return _directed_f32(arr.astype(np.float64), self.rounding, self.ftz)
        out = np.empty(arr.shape, dtype=np.float32)
        of = out.ravel()
        for i, v in enumerate(arr.ravel()):
            if isinstance(v, (float, np.floating)) and not math.isfinite(v):
                of[i] = v
                continue
            q = to_fraction_scalar(v, f"asarray[{self.label}]")
            of[i] = np.array(formats.round_fraction(q, self.format, self.rounding).bits,
                             dtype=np.uint32).view(np.float32)
        return _flush(out) if self.ftz else out

    def _impl_asarray(self, data):
        return self.upload(self._round_host(data))

    def host_const(self, value):
        """The constant rounded into binary32 in this domain's mode, as a numpy float32."""
        if isinstance(value, float):
            raise self._err(UnsupportedOption, "const",
                            f"float literal {value!r}: pass an exact string or Fraction")
        q = to_fraction_scalar(value, "const")
        r = np.array(formats.round_fraction(q, self.format, self.rounding).bits,
                     dtype=np.uint32).view(np.float32)
        return np.float32(_flush(r)[()] if self.ftz else r[()])

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

    def _view(self, x, fn):
        shape, off, strides = _view_geometry(x.shape, fn)
        return self._materialize(x, shape, off, strides)

    def reshape(self, x, shape):
        shape = tuple(int(s) for s in shape) if not isinstance(shape, int) else (shape,)
        try:
            new = np.empty(x.shape, dtype=np.bool_).reshape(shape).shape
        except ValueError:
            raise self._err(ShapeError, "reshape", f"cannot reshape {x.shape} into {shape}") from None
        return CudaArray(x.buf, new, x.off)

    def transpose(self, x, axes=None):
        nd = x.ndim
        if axes is not None:
            axes = tuple(int(a) % nd if nd else int(a) for a in axes)
            if sorted(axes) != list(range(nd)):
                raise self._err(ShapeError, "transpose", f"axes {axes} are not a permutation of {nd} axes")
        return self._view(x, lambda p: np.transpose(p, axes))

    def broadcast_to(self, x, shape):
        shape = tuple(int(s) for s in shape)
        try:
            if np.broadcast_shapes(x.shape, shape) != shape:
                raise ValueError
        except ValueError:
            raise self._err(ShapeError, "broadcast_to", f"cannot broadcast {x.shape} to {shape}") from None
        return self._view(x, lambda p: np.broadcast_to(p, shape))

    def expand_dims(self, x, axis):
        return CudaArray(x.buf, np.expand_dims(np.empty(x.shape, np.bool_), axis).shape, x.off)

    def squeeze(self, x, axis):
        if x.shape[axis] != 1:
            raise self._err(ShapeError, "squeeze", f"axis {axis} of {x.shape} has length != 1")
        return CudaArray(x.buf, np.squeeze(np.empty(x.shape, np.bool_), axis).shape, x.off)

    def flip(self, x, axis):
        return self._view(x, lambda p: np.flip(p, axis))

    def getitem(self, x, idx):
        try:
            if _is_advanced(idx):
                src = np.arange(x.size, dtype=np.int64).reshape(x.shape)[idx]
                return self._gather(x, src)
            items = idx if isinstance(idx, tuple) else (idx,)
            if not any(it is Ellipsis for it in items):
                items = items + (Ellipsis,)
            return self._view(x, lambda p: p[items])
        except IndexError as e:
            raise self._err(ShapeError, "getitem", f"index {idx!r} on shape {x.shape}: {e}") from None

    def _gather(self, x, src):
        src = np.ascontiguousarray(src, dtype=np.int64)
        out = self._empty(src.shape)
        if src.size:
            idx = self._rt.alloc(src.nbytes)
            self._rt.drv.memcpy_htod(int(idx), src)
            self._fn("elementwise", "ew_gather")(np.uintp(out.ptr), np.uintp(x.ptr), np.uintp(int(idx)),
                                                  np.int64(src.size), block=(EW_THREADS, 1, 1),
                                                  grid=self._grid(src.size))
        return out

    def take(self, x, indices, axis=0):
        indices = np.asarray(indices)
        if indices.dtype.kind not in "iu":
            raise self._err(ShapeError, "take", f"indices must be integers, got {indices.dtype}")
        nd = x.ndim
        if not -nd <= axis < nd:
            raise self._err(ShapeError, "take", f"axis {axis} out of range for shape {x.shape}")
        axis %= nd
        n = x.shape[axis]
        if indices.size and (indices.min() < -n or indices.max() >= n):
            raise self._err(ShapeError, "take", f"index out of range for axis {axis} of length {n}")
        shape = x.shape[:axis] + indices.shape + x.shape[axis + 1:]
        out = self._empty(shape)
        if out.size:
            ind = np.ascontiguousarray(indices.ravel(), dtype=np.int64)
            dev = self._rt.alloc(ind.nbytes)
            self._rt.drv.memcpy_htod(int(dev), ind)
            outer = int(np.prod(x.shape[:axis], dtype=np.int64))
            inner = int(np.prod(x.shape[axis + 1:], dtype=np.int64))
            self._fn("elementwise", "ew_take")(np.uintp(out.ptr), np.uintp(x.ptr), np.uintp(int(dev)),
                                                np.int64(outer), np.int64(ind.size), np.int64(n),
                                                np.int64(inner), block=(EW_THREADS, 1, 1),
                                                grid=self._grid(out.size))
        return out

    def concat(self, xs, axis=0):
        xs = [self.asarray(x) for x in xs]
        if not xs:
            raise self._err(ShapeError, "concat", "nothing to concatenate")
        nd = xs[0].ndim
        try:
            if nd == 0:
                raise ValueError("zero-dimensional arrays cannot be concatenated")
            if not -nd <= axis < nd:
                raise ValueError(f"axis {axis} is out of bounds for array of dimension {nd}")
            ax = axis % nd
            for x in xs:
                if x.ndim != nd or any(x.shape[i] != xs[0].shape[i] for i in range(nd) if i != ax):
                    raise ValueError("all the input array dimensions except for the concatenation "
                                     "axis must match exactly")
        except ValueError as e:
            raise self._err(ShapeError, "concat", f"shapes {[x.shape for x in xs]}: {e}") from None
        shape = list(xs[0].shape)
        shape[ax] = sum(x.shape[ax] for x in xs)
        out = self._empty(tuple(shape))
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
        shape = self._bshape("where", a, b)
        if isinstance(cond, np.ndarray) and cond.dtype == np.bool_:
            try:
                shape = np.broadcast_shapes(shape, cond.shape)
            except ValueError:
                raise self._err(ShapeError, "where", f"mask {cond.shape} vs values {shape}") from None
            m = np.ascontiguousarray(cond, dtype=np.uint8)
            buf = self._rt.alloc(m.nbytes)
            if m.size:
                self._rt.drv.memcpy_htod(int(buf), m)
            cond = CudaMask(buf, m.shape)
        if not isinstance(cond, CudaMask):
            raise self._err(UnsupportedOp, "where", f"condition of type {type(cond).__name__}")
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
        m["flags"] = self._rt.flags(self.ftz, self.daz, self._mode, self._fast) if _RT is not None else \
            ["-fmad=false", f"-ftz={'true' if self.ftz else 'false'}", "-prec-div=true", "-prec-sqrt=true",
             f"-DFPSEM_MODE={self._mode}"]
        return m

    # -- fused ops -----------------------------------------------------------------------------
    FUSED = ("softmax", "layer_norm", "gelu_tanh", "scaled_dot_product_attention", "flash_attention")

    def fused(self, opname):
        if not self._opts["fused"] or opname not in self.FUSED:
            return None
        return getattr(self, "_fused_" + opname)

    @staticmethod
    def _generic(name):
        from fpsem.ops import OPS
        return OPS[name].generic

    def _sum_kind(self, order, maxw):
        """(kind, w) of a block-level sum in the fused kernels, or None."""
        if order.kind in ("sequential", "fma_chain", "native"):
            return 0, 0
        if order.kind == "tree" and order.k <= maxw:
            return 1, order.k
        return None

    def _fused_softmax(self, x, axis=-1, acc=None):
        order = self._order("softmax", acc)
        sk = self._sum_kind(order, 256)
        nd = self.ndim(x) if self.is_value(x) else -1
        if sk is None or nd < 1 or axis not in (-1, nd - 1) or x.shape[-1] == 0:
            return self._generic("softmax")(self, x, axis=axis, acc=acc)
        n = x.shape[-1]
        R = x.size // n
        out = self._empty(x.shape)
        if R:
            self._fn("fused", "softmax_rows")(np.uintp(out.ptr), np.uintp(x.ptr), np.int64(R), np.int64(n),
                                              np.int64(sk[0]), np.int64(sk[1]), block=(256, 1, 1),
                                              grid=(int(min(R, 65535)), 1))
        return out

    def _fused_layer_norm(self, x, gamma=None, beta=None, eps="1e-5", acc=None):
        order = self._order("layer_norm", acc)
        sk = self._sum_kind(order, 256)
        ok = sk is not None and self.is_value(x) and x.ndim >= 1 and x.shape[-1] > 0 and not isinstance(eps, float)
        n = x.shape[-1] if ok else 0
        for g in (gamma, beta):
            if g is not None and not (self.is_value(g) and g.shape == (n,)):
                ok = False
        if not ok:
            return self._generic("layer_norm")(self, x, gamma, beta, eps=eps, acc=acc)
        R = x.size // n
        out = self._empty(x.shape)
        if R:
            self._fn("fused", "layer_norm_rows")(
                np.uintp(out.ptr), np.uintp(x.ptr), np.uintp((gamma or x).ptr), np.uintp((beta or x).ptr),
                np.int64(R), np.int64(n), np.int64(sk[0]), np.int64(sk[1]),
                np.int64(gamma is not None), np.int64(beta is not None),
                self.host_const(n), self.host_const(eps), block=(256, 1, 1), grid=(int(min(R, 65535)), 1))
        return out

    def _fused_gelu_tanh(self, x):
        if not self.is_value(x):
            return self._generic("gelu_tanh")(self, x)
        from fpsem.ops._registry import SQRT_2_OVER_PI
        out = self._empty(x.shape)
        if out.size:
            self._fn("fused", "gelu_tanh_ew")(
                np.uintp(out.ptr), np.uintp(x.ptr), np.int64(x.size), self.host_const(SQRT_2_OVER_PI),
                self.host_const("0.044715"), self.host_const("0.5"), self.host_const(1),
                block=(EW_THREADS, 1, 1), grid=self._grid(x.size))
        return out

    def _attention_plan(self, q, k, v, acc, exp, extra_smem):
        """Launch parameters shared by the fused attention kernels, or None (use the generic op)."""
        if exp not in ("exp", "exp2") or not all(self.is_value(t) for t in (q, k, v)):
            return None
        if min(q.ndim, k.ndim, v.ndim) < 2 or not (q.shape[:-2] == k.shape[:-2] == v.shape[:-2]):
            return None
        Tq, d = q.shape[-2:]
        Tk, dk = k.shape[-2:]
        Tv, dv = v.shape[-2:]
        if dk != d or Tv != Tk or 0 in (Tq, Tk, d, dv):
            return None
        order = self._order("attention", acc)
        if order.kind not in ("sequential", "fma_chain", "native"):
            return None
        H = int(np.prod(q.shape[:-2], dtype=np.int64))
        if H < 1 or H > 65535 or (extra_smem + d + 129) * 4 > 48 * 1024:
            return None
        return dict(H=H, Tq=Tq, Tk=Tk, d=d, dv=dv, dotfma=int(order.kind != "sequential"),
                    exp2=int(exp == "exp2"))

    def _fused_scaled_dot_product_attention(self, q, k, v, causal=True, scale=None, acc=None, exp="exp"):
        Tk = k.shape[-2] if self.is_value(k) and k.ndim >= 2 else 0
        p = self._attention_plan(q, k, v, acc, exp, Tk)
        if p is None:
            return self._generic("scaled_dot_product_attention")(self, q, k, v, causal=causal, scale=scale,
                                                                 acc=acc, exp=exp)
        sc = np.float32(0) if scale is None else self.host_const(scale)
        out = self._empty(q.shape[:-1] + (p["dv"],))
        smem = 4 * (p["d"] + p["Tk"] + 129)
        self._fn("fused", "sdpa_rows")(
            np.uintp(out.ptr), np.uintp(q.ptr), np.uintp(k.ptr), np.uintp(v.ptr), np.int64(p["Tq"]),
            np.int64(p["Tk"]), np.int64(p["d"]), np.int64(p["dv"]), np.int64(bool(causal)), np.int64(0),
            np.int64(0), np.int64(p["dotfma"]), np.int64(scale is not None), np.int64(p["exp2"]), sc,
            block=(128, 1, 1), grid=(int(p["Tq"]), int(p["H"])), shared=smem)
        return out

    def _fused_flash_attention(self, q, k, v, causal=True, block=64, scale=None, acc=None, exp="exp"):
        dv = v.shape[-1] if self.is_value(v) and v.ndim >= 2 else 0
        p = None if int(block) < 1 else self._attention_plan(q, k, v, acc, exp, int(block) + dv)
        if p is None:
            return self._generic("flash_attention")(self, q, k, v, causal=causal, block=block, scale=scale,
                                                    acc=acc, exp=exp)
        sc = np.float32(0) if scale is None else self.host_const(scale)
        out = self._empty(q.shape[:-1] + (p["dv"],))
        smem = 4 * (p["d"] + int(block) + p["dv"] + 129)
        self._fn("fused", "flash_rows")(
            np.uintp(out.ptr), np.uintp(q.ptr), np.uintp(k.ptr), np.uintp(v.ptr), np.int64(p["Tq"]),
            np.int64(p["Tk"]), np.int64(p["d"]), np.int64(p["dv"]), np.int64(bool(causal)), np.int64(0),
            np.int64(0), np.int64(p["dotfma"]), np.int64(scale is not None), np.int64(p["exp2"]),
            np.int64(block), sc, block=(128, 1, 1), grid=(int(p["Tq"]), int(p["H"])), shared=smem)
        return out

    def _order(self, op, acc):
        order = self.acc if acc is None else parse_order(acc)
        self._check_order(op, order)
        return order

    def describe(self):
        d = super().describe()
        if _RT is not None:
            d["device"] = self._rt.name
            d["arch"] = self._rt.arch
        d["flags"] = self.manifest("add").get("flags")
        return d
