"""The host's floating-point environment (x86-64 MXCSR), read and set per thread.

The emulator and the ieee domains promise results independent of the host, but
their fast paths run on the CPU's float hardware, whose meaning depends on the
calling thread's MXCSR: flush-to-zero (FTZ, bit 15), denormals-are-zero (DAZ,
bit 6), the rounding control (bits 13-14) and the exception masks (bits 7-12).
Other libraries change it behind the user's back (`torch.set_flush_denormal`,
anything built with -ffast-math). So:

- `host_independent(fn)` / `with default_env():` run code under the default
  environment (0x1F80: round to nearest, no FTZ/DAZ, all exceptions masked) and
  restore the caller's afterwards (its sticky flags included). The check costs
  one call when the state already is the default (the common case).
- numba code that runs on other threads (prange bodies, pool threads: a thread
  inherits its creator's MXCSR at creation time, so workers can differ from the
  caller) calls `nb_swap_mxcsr(csr)` / `nb_set_mxcsr(old)` itself, with the
  caller's `mxcsr()` passed in.
- `describe()` names a non-default state, for the float32 domain (which means
  "what this CPU does" and so reports the state instead of changing it).

Only x86-64 is handled (`SUPPORTED`); elsewhere every function is a no-op and
`describe()` says the state is unknown.
"""
from __future__ import annotations

import functools
import platform

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

SUPPORTED = platform.machine().lower() in ("x86_64", "amd64")

DEFAULT = 0x1F80
FLAGS_MASK = 0x003F       # sticky exception flags: not part of the meaning
CONTROL_MASK = 0xFFC0     # DAZ, masks, rounding control, FTZ
DAZ = 1 << 6
FTZ = 1 << 15
RC_SHIFT = 13
ROUNDING = {0: "rne", 1: "rdn", 2: "rup", 3: "rtz"}
RC_CODE = {v: k for k, v in ROUNDING.items()}


def _csr_fn(builder, name):
    i8p = ir.IntType(8).as_pointer()
    return cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p]), name)


@intrinsic
def _stmxcsr(typingctx):
    """The calling thread's MXCSR (llvm.x86.sse.stmxcsr)."""
    def codegen(context, builder, signature, args):
        slot = cgutils.alloca_once(builder, ir.IntType(32))
        builder.call(_csr_fn(builder, "llvm.x86.sse.stmxcsr"),
                     [builder.bitcast(slot, ir.IntType(8).as_pointer())])
        return builder.zext(builder.load(slot), ir.IntType(64))
    return types.int64(), codegen


@intrinsic
def _ldmxcsr(typingctx, v):
    """Set the calling thread's MXCSR (llvm.x86.sse.ldmxcsr). The MXCSR write
    is modelled by LLVM (SSE instructions use MXCSR), so float operations are
    not moved across it."""
    def codegen(context, builder, signature, args):
        slot = cgutils.alloca_once(builder, ir.IntType(32))
        val = context.cast(builder, args[0], signature.args[0], types.int64)
        builder.store(builder.trunc(val, ir.IntType(32)), slot)
        builder.call(_csr_fn(builder, "llvm.x86.sse.ldmxcsr"),
                     [builder.bitcast(slot, ir.IntType(8).as_pointer())])
        return context.get_dummy_value()
    return types.none(v), codegen


if SUPPORTED:
    @njit(nogil=True, cache=True)
    def nb_mxcsr():
        return _stmxcsr()

    @njit(nogil=True, cache=True)
    def nb_set_mxcsr(v):
        _ldmxcsr(v)

    @njit(nogil=True, cache=True)
    def nb_swap_mxcsr(v):
        """Set MXCSR to v (its control bits; the flags are cleared) and return
        the old value: for numba code on worker threads."""
        old = _stmxcsr()
        if (old & CONTROL_MASK) != (v & CONTROL_MASK):
            _ldmxcsr(v & CONTROL_MASK)
        return old
else:  # pragma: no cover - non-x86 hosts
    @njit(nogil=True, cache=True)
    def nb_mxcsr():
        return DEFAULT

    @njit(nogil=True, cache=True)
    def nb_set_mxcsr(v):
        pass

    @njit(nogil=True, cache=True)
    def nb_swap_mxcsr(v):
        return DEFAULT


def mxcsr() -> int:
    """The calling thread's MXCSR (DEFAULT where it is not supported)."""
    return nb_mxcsr()


def set_mxcsr(value: int) -> None:
    """Set the calling thread's MXCSR (for tests and for restoring)."""
    nb_set_mxcsr(int(value))


def is_default(value=None) -> bool:
    v = mxcsr() if value is None else value
    return (v & CONTROL_MASK) == DEFAULT


def compose(ftz=False, daz=False, rounding="rne") -> int:
    """An MXCSR value: the default with FTZ, DAZ and the rounding control set."""
    return DEFAULT | (FTZ if ftz else 0) | (DAZ if daz else 0) | (RC_CODE[rounding] << RC_SHIFT)


def state(value=None) -> dict:
    """{'ftz', 'daz', 'rounding', 'unmasked'} of `value` (default: this thread's)."""
    v = mxcsr() if value is None else value
    names = ("invalid", "denormal", "divide_by_zero", "overflow", "underflow", "inexact")
    return {"ftz": bool(v & FTZ), "daz": bool(v & DAZ),
            "rounding": ROUNDING[(v >> RC_SHIFT) & 3],
            "unmasked": [n for i, n in enumerate(names) if not v & (1 << (7 + i))]}


def describe(value=None, sep=",") -> str:
    """'' for the default state, else e.g. 'ftz,daz,rounding=rup'."""
    if not SUPPORTED:
        return "" if value is None else "unknown"
    v = mxcsr() if value is None else value
    if is_default(v):
        return ""
    s = state(v)
    parts = [k for k in ("ftz", "daz") if s[k]]
    if s["rounding"] != "rne":
        parts.append(f"rounding={s['rounding']}")
    if s["unmasked"]:
        parts.append("unmasked=" + "+".join(s["unmasked"]))
    return sep.join(parts)


class default_env:
    """Context manager: the default environment inside, the caller's restored after."""

    __slots__ = ("old",)

    def __enter__(self):
        self.old = old = nb_mxcsr()
        if (old & CONTROL_MASK) != DEFAULT:
            nb_set_mxcsr(DEFAULT | (old & FLAGS_MASK))
        else:
            self.old = None
        return self

    def __exit__(self, *exc):
        if self.old is not None:
            nb_set_mxcsr(self.old)
        return False


def host_independent(fn):
    """Decorator: run fn under the default environment (see module docstring)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        old = nb_mxcsr()
        if (old & CONTROL_MASK) == DEFAULT:
            return fn(*args, **kwargs)
        nb_set_mxcsr(DEFAULT | (old & FLAGS_MASK))
        try:
            return fn(*args, **kwargs)
        finally:
            nb_set_mxcsr(old)
    wrapper.__wrapped_host__ = fn
    return wrapper
