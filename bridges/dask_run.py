"""Coarse tasks on Dask (dask.distributed), or serially without it.

`client(workers=None, scheduler=None)` gives a dask.distributed Client: in-process
(one worker thread in this process) by default, a LocalCluster of `workers`
processes, or an existing cluster at `scheduler` (tcp://host:8786).
`run_tasks(fn, args, client)` submits fn(*a) for every a (a few hundred coarse
tasks at most: Dask's per-task overhead is ~200 us and huge graphs stall) and
yields the results as they finish, with a rich progress bar on a terminal.
Dask itself retries a task whose worker died (distributed.scheduler.allowed-failures).
"""
from __future__ import annotations

import contextlib
import logging
import sys

from fpsem.errors import FpsemError


class DaskError(FpsemError):
    """Dask missing, or a scheduler that cannot be reached."""


def _distributed():
    try:
        import distributed
    except ImportError:
        raise DaskError("this needs dask.distributed: pip install 'fpsem[sweep]'") from None
    return distributed


@contextlib.contextmanager
def client(workers=None, scheduler=None, timeout=30):
    """A dask.distributed Client for the duration of the block (see module doc)."""
    distributed = _distributed()
    if workers is not None and scheduler is not None:
        raise DaskError("give --workers or --scheduler, not both")
    if scheduler is not None:
        try:
            c = distributed.Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError, ValueError) as e:  # ValueError: a malformed address
            raise DaskError(f"cannot reach the Dask scheduler at {scheduler}: {e}") from None
        with c:
            yield c
        return
    if workers is not None and int(workers) < 1:
        raise DaskError("--workers must be at least 1")
    # a random dashboard port: fixed 8787 collides with other users of the machine
    kw = dict(threads_per_worker=1, dashboard_address=":0", silence_logs=logging.ERROR)
    if workers is None:
        # in-process: one worker thread here (models are not shared between threads)
        cluster = distributed.LocalCluster(n_workers=1, processes=False, **kw)
    else:
        cluster = distributed.LocalCluster(n_workers=int(workers), processes=True, **kw)
    with cluster, distributed.Client(cluster) as c:
        yield c


def _bar(total, description, enabled):
    if not enabled:
        return contextlib.nullcontext(None)
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=True),
                    transient=False)


def run_tasks(fn, args, client=None, progress=None, description="tasks"):
    """Yield fn(*a) for every a in args, as each finishes (serially in order when
    client is None). progress: None = a rich bar when stderr is a terminal."""
    args = list(args)
    if progress is None:
        progress = sys.stderr.isatty()
    with _bar(len(args), description, progress) as bar:
        task = bar.add_task(description, total=len(args)) if bar is not None else None
        if client is None:
            for a in args:
                r = fn(*a)
                if bar is not None:
                    bar.advance(task)
                yield r
            return
        distributed = _distributed()
        futs = [client.submit(fn, *a, pure=False) for a in args]
        try:
            for f in distributed.as_completed(futs):
                r = f.result()
                f.release()
                if bar is not None:
                    bar.advance(task)
                yield r
        finally:
            for f in futs:
                f.cancel()
