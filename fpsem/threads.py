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
_POOL = []


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


def pool():
    """fpsem's two helper threads (a concurrent.futures executor made on first use):
    the ball's exact products hand one of them half of each product, an envelope
    takes its last nodes' statistics on both. Their work releases the GIL (BLAS,
    numpy's large passes)."""
    if not _POOL:
        from concurrent.futures import ThreadPoolExecutor
        _POOL.append(ThreadPoolExecutor(2, thread_name_prefix="fpsem-pool"))
    return _POOL[0]
