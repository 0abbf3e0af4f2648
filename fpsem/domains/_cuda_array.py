"""Device values of the `cuda` domain: `CudaArray` (a C-contiguous float32 device
buffer with an element offset, so reshapes and contiguous slices are views) and
`CudaMask` (a device bool mask, the result of a comparison), plus the host-side
geometry of views: a structural numpy function applied to a fake array that never
reads memory tells the shape, offset and strides of the view it makes."""
from __future__ import annotations

import numpy as np

from ._cuda_runtime import runtime


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

def _is_view_of(v, owner):
    """Is `owner` on v's chain of bases (a view), rather than new memory (a copy)?"""
    while v is not None:
        if v is owner:
            return True
        v = getattr(v, "base", None)
    return False


def _view_geometry(shape, fn):
    """Apply a numpy structural function to a fake array of `shape` (never reading
    memory). Returns (shape, element offset, element strides) of the view it makes,
    or None when it makes a copy (advanced indexing, take)."""
    fake = np.lib.stride_tricks.as_strided(_FAKE_BASE, shape=shape,
                                           strides=[4 * s for s in _cstrides(shape)])
    v = fn(fake)
    if not (isinstance(v, np.ndarray) and _is_view_of(v, _FAKE_BASE)):
        return None  # a scalar (x[i] of a vector) or a copy
    off = (v.__array_interface__["data"][0] - _FAKE_BASE.__array_interface__["data"][0]) // 4 if v.size else 0
    return tuple(v.shape), int(off), [s // 4 for s in v.strides]


def _source_index(shape, fn):
    """Flat source index of every element of fn(x) for a C-contiguous x of `shape`:
    fn applied to each axis's index grid (zero-stride views, so the work and memory
    are those of the result), weighted by the C strides."""
    cs = _cstrides(shape)
    src = None
    for ax, n in enumerate(shape):
        grid = np.broadcast_to(np.arange(n, dtype=np.int64).reshape([-1 if i == ax else 1
                                                                    for i in range(len(shape))]), shape)
        part = np.asarray(fn(grid), dtype=np.int64) * cs[ax]
        src = part if src is None else src + part
    if src is None:  # a 0-d array
        src = np.asarray(fn(np.zeros((), dtype=np.int64)), dtype=np.int64)
    return src
