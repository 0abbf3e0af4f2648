"""Named nodes for cross-domain recording.

Models mark the values worth comparing with `tap(D, "name", x)`, inside nested
`scope("h.3")` blocks, so the recorded names follow the model's structure
(`h.3.attn.c_proj`, `ln_f`, `logits`). With no recorder installed `tap` returns
its argument and costs one context-variable read. The recorder is installed per
run by fpsem.bridges through a context variable: no global numeric state.

One way to watch a domain: `observe(callback, domain=None)` installs an
observer for the block; it is called with a `Call` after every public
primitive of a domain returns (the hook is in fpsem.domain), with the IEEE
flags a domain raises (`Call.name == "flags"`, result: the flag bits) and with
every tap (`Call.name == "tap"`, args: (node name,), result: the value).
`Call.depth` is 0 for calls made by the caller and > 0 for calls a domain makes
inside another primitive; calls an observer makes itself are not observed.
"""
from __future__ import annotations

import contextlib
import contextvars
from typing import Any, NamedTuple

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


# -- observers ------------------------------------------------------------------------
class Call(NamedTuple):
    """One observed event: a primitive call of `domain`, its flags or a tap."""
    domain: Any
    name: str
    args: tuple
    kwargs: dict
    result: Any
    depth: int


class _Watch:
    """The observers of one context and the current call depth."""
    __slots__ = ("observers", "depth", "busy")

    def __init__(self, observers, depth=0):
        self.observers, self.depth, self.busy = observers, depth, False

    def emit(self, call):
        if self.busy:
            return   # a call an observer makes is not observed
        self.busy = True
        try:
            for cb, dom in self.observers:
                if dom is None or dom is call.domain or dom == call.domain:
                    cb(call)
        finally:
            self.busy = False


_watch = contextvars.ContextVar("fpsem_watch", default=None)


def watch():
    """The current observers (None when nobody watches: the fast path)."""
    return _watch.get()


@contextlib.contextmanager
def observe(callback, domain=None):
    """Call `callback(call: Call)` for every event of the block (of domains equal
    to `domain` only, when given); see the module doc. Observers nest."""
    cur = _watch.get()
    w = _Watch((cur.observers if cur else ()) + ((callback, domain),), cur.depth if cur else 0)
    token = _watch.set(w)
    try:
        yield w
    finally:
        _watch.reset(token)


def raise_flags(D, bits):
    """Report IEEE flag bits that domain D raised (no state is kept in D)."""
    w = _watch.get()
    if w is not None and bits:
        w.emit(Call(D, "flags", (), {}, int(bits), w.depth))


def tap(D, name, x):
    """Record `x` as node `name` (within the current scope) and return it unchanged."""
    w = _watch.get()
    if w is not None:
        w.emit(Call(D, "tap", (full_name(name),), {}, x, w.depth))
    return x


@contextlib.contextmanager
def recording(callback):
    """Install `callback(name, D, value)` for every tap of the block."""
    def on(call):
        if call.name == "tap":
            callback(call.args[0], call.domain, call.result)
    with observe(on):
        yield


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
