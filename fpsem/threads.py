"""fpsem's use of threads inside one process.

BLAS (numpy's OpenBLAS or MKL) keeps its threads spinning for a while after every
call; between calls fpsem runs its own compiled kernels (numba, on OpenMP threads)
and, in an envelope, a second domain on a second thread. Spinning BLAS threads
took the cores from both, so the exact products and the envelope's concurrent
runs limit BLAS to one thread (threadpoolctl) for their duration.
"""
from __future__ import annotations

import contextlib

_TPC = []


def blas_one_thread():
    """A context in which BLAS runs on one thread (the caller's). The limit is
    process-wide (BLAS has one thread count), restored when the outermost such
    context ends."""
    if not _TPC:
        try:
            from threadpoolctl import ThreadpoolController
            _TPC.append(ThreadpoolController())
        except ImportError:      # pragma: no cover - a declared dependency
            _TPC.append(None)
    return contextlib.nullcontext() if _TPC[0] is None else _TPC[0].limit(limits=1, user_api="blas")
