"""Ctrl-C is never a result.

A SIGINT that arrives while numba or numpy code runs can surface as another
exception (a `SystemError` "returned a result with an exception set" whose
cause is the KeyboardInterrupt), which code that records failures would count as
a finding and carry on. `install()` (done by the CLI) counts every SIGINT;
`is_interrupt(e)` tells such an exception from a real failure, and callers that
catch broad exceptions re-raise it (`reraise_interrupt`).
"""
from __future__ import annotations

import signal
import sys
import threading

_count = 0


def _handler(signum, frame):
    global _count
    _count += 1
    raise KeyboardInterrupt


def install():
    """Count SIGINTs (and raise KeyboardInterrupt, as Python's default handler
    does). Returns a function that restores the previous handler and the count."""
    global _count
    _count = 0
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    old = signal.signal(signal.SIGINT, _handler)
    old_hook = sys.unraisablehook

    def hook(u):
        # a KeyboardInterrupt raised inside a callback that cannot propagate it
        # (ctypes, llvmlite's object cache): counted above, reported by the CLI
        # as 'interrupted'; no "Exception ignored" traceback
        if not isinstance(u.exc_value, KeyboardInterrupt):
            old_hook(u)
    sys.unraisablehook = hook

    def restore():
        global _count
        signal.signal(signal.SIGINT, old)
        sys.unraisablehook = old_hook
        _count = 0
    return restore


def received() -> int:
    return _count


def is_interrupt(e) -> bool:
    """True for a KeyboardInterrupt, anything caused by one, or any exception once
    a SIGINT was received."""
    seen = set()
    x = e
    while x is not None and id(x) not in seen:
        if isinstance(x, KeyboardInterrupt):
            return True
        seen.add(id(x))
        x = x.__cause__ or x.__context__
    return _count > 0


def reraise_interrupt(e):
    """Raise KeyboardInterrupt if `e` is (caused by) an interrupt."""
    if is_interrupt(e):
        raise KeyboardInterrupt from e
