"""Named nodes for cross-domain recording.

Models mark the values worth comparing with `tap(D, "name", x)`, inside nested
`scope("h.3")` blocks, so the recorded names follow the model's structure
(`h.3.attn.c_proj`, `ln_f`, `logits`). With no recorder installed `tap` returns
its argument and costs one context-variable read. The recorder is installed per
run by fpsem.bridges through a context variable: no global numeric state.
"""
from __future__ import annotations

import contextlib
import contextvars

_recorder = contextvars.ContextVar("fpsem_recorder", default=None)
_scope = contextvars.ContextVar("fpsem_scope", default=())


@contextlib.contextmanager
def scope(name):
    token = _scope.set(_scope.get() + (str(name),))
    try:
        yield
    finally:
        _scope.reset(token)


def full_name(name):
    return ".".join(_scope.get() + (str(name),))


def tap(D, name, x):
    """Record `x` as node `name` (within the current scope) and return it unchanged."""
    rec = _recorder.get()
    if rec is not None:
        rec(full_name(name), D, x)
    return x


@contextlib.contextmanager
def recording(callback):
    """Install `callback(name, D, value)` for the duration of the block."""
    token = _recorder.set(callback)
    try:
        yield
    finally:
        _recorder.reset(token)


def progress_hook():
    """The current progress callback, if any (models call it once per block)."""
    return _progress.get()


_progress = contextvars.ContextVar("fpsem_progress", default=None)


@contextlib.contextmanager
def progress(callback):
    token = _progress.set(callback)
    try:
        yield
    finally:
        _progress.reset(token)


def step(label=""):
    cb = _progress.get()
    if cb is not None:
        cb(label)
