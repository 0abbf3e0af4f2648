"""The CUDA runtime behind the `cuda` domain: availability, the primary context, a
device memory pool and the kernels of cuda_kernels/ compiled with explicit flags
(see the `cuda` module docstring for what each flag means). pycuda is imported only
when a runtime is first made."""
from __future__ import annotations

import atexit
import json
import os
import shutil
import weakref

MODES = {"rne": 0, "rtz": 1, "rup": 2, "rdn": 3}
KERNEL_DIR = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "cuda_kernels"))


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


def available():
    """(True, "") or (False, why): pycuda, a driver, a GPU and nvcc (cached)."""
    global _AVAIL
    if _AVAIL is None:
        _AVAIL = _check_available()
    return _AVAIL


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
        #: every device allocation still referenced (by a CudaArray, a CudaMask, a
        #: Value, a cache...), so that close() can free them while the context is current
        self._live = weakref.WeakSet()
        self.closed = False
        atexit.register(self.close)

    def close(self):
        """Release every device resource, then pop the context (atexit).

        Device values still alive at exit (in a script's globals, a cycle, a cache) are
        destroyed only after the atexit hooks run; pycuda frees them then, with no
        current context, and the exception it throws from the destructor aborts the
        process ("explicit_context_dependent failed: invalid device context").
        Not popping aborts too (pycuda: "context stack was not empty upon module
        cleanup"). So every live allocation is freed here first (their later
        destruction is then a no-op), the held pool blocks and compiled modules are
        released, and only then is the context popped. Values used after this point
        are invalid; nothing runs after the atexit hooks but teardown."""
        if self.closed:
            return
        self.closed = True
        try:
            for a in list(self._live):
                try:
                    a.free()  # back to the pool; a second free (already freed) raises
                except Exception:  # pragma: no cover - freed already
                    pass
            self._live.clear()
            self.consts.clear()
            self.funcs.clear()
            self.modules.clear()  # cuModuleUnload needs the context current
            self.pool.free_held()
            self.pool.stop_holding()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass
        try:
            self.ctx.pop()
            self.ctx = None
            from pycuda.tools import clear_context_caches
            clear_context_caches()
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
        """Device memory from the pool, registered so that close() can free it."""
        a = self.pool.allocate(max(int(nbytes), 16))
        self._live.add(a)
        return a


_RT = None


def runtime():
    """The process's runtime (made on first use)."""
    global _RT
    if _RT is None:
        _RT = _Runtime()
    return _RT


def started():
    """The runtime if one has been made, else None (never starts one)."""
    return _RT
