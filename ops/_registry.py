"""The op registry: each op is a plain function `f(D, *args, **kw)` registered by name.

A domain kind may have a fused native implementation of a whole op, registered
against the op by name (`register_fused`, JAX's `register_lowering` pattern); the
generic decomposition stays the meaning and is kept as `op.generic`, so the bridge
and the tests can check the override against it. An implementation returns
NotImplemented for arguments it does not cover, and the generic op runs.
"""
from __future__ import annotations

import functools
import threading
from fractions import Fraction

from fpsem.errors import FpsemError, ShapeError
from fpsem.value import _bound_fn

OPS = {}
FUSED = {}  # (op name, domain class) -> f(D, *args, **kw), or NotImplemented to decline
_depth = threading.local()  # op nesting: only the outermost op renames an error


def op(fn=None, *, name=None, group="misc"):
    def deco(f):
        nm = name or f.__name__

        @functools.wraps(f)
        def wrapper(D, *args, **kwargs):
            if not hasattr(D, "fused"):  # duck-typed: tracers wrap a domain
                raise FpsemError(f"{nm}: the first argument must be a domain (fpsem.domain(...)), "
                                 f"got {type(D).__name__}")
            outer = not getattr(_depth, "n", 0)
            _depth.n = getattr(_depth, "n", 0) + 1
            try:
                native = fused_impl(D, nm)
                if native is not None:
                    # a fused kernel works on D's raw storage: Values in, Values out
                    out = _bound_fn(D, nm, functools.partial(native, D))(*args, **kwargs)
                    if out is not NotImplemented:
                        return out
                return f(D, *args, **kwargs)
            except FpsemError as e:
                # name the op the user called, then where inside it the error arose
                msg = str(e)
                if not outer or msg.startswith(f"{nm}[") or msg.startswith(f"{nm}:"):
                    raise
                raise type(e)(f"{nm}: {msg}") from None
            except (ValueError, IndexError, TypeError) as e:
                # arguments the op cannot take (a 0-d value where a matrix is needed,
                # a string for an int, ...) reach numpy or unpacking first; say so in
                # the op's name (the original stays chained as __cause__ for debugging)
                if not outer:
                    raise
                raise ShapeError(f"{nm}[{getattr(D, 'label', D)}]: the arguments do not fit this op "
                                 f"({type(e).__name__}: {_first_line(e)})") from e
            finally:
                _depth.n -= 1

        wrapper.generic = f
        wrapper.op_name = nm
        wrapper.group = group
        OPS[nm] = wrapper
        return wrapper
    return deco(fn) if fn is not None else deco


def register_fused(name, domain_cls, impl):
    """Run `impl(D, *args, **kw)` in place of op `name` for domains of `domain_cls`
    (and its subclasses); `impl` returns NotImplemented to leave a call to the op."""
    FUSED[(name, domain_cls)] = impl


def fused_impl(D, name):
    """The fused implementation registered for op `name` and D's class (or a base), or None."""
    for cls in type(D).__mro__:
        impl = FUSED.get((name, cls))
        if impl is not None:
            return impl
    return None


def _first_line(e):
    s = str(e).strip()
    return s.splitlines()[0] if s else "no message"


def c(D, value):
    """An exact constant in D (int, Fraction or decimal string)."""
    return D.const(value)


def inv(n):
    return Fraction(1, int(n))


# Irrational constants as decimal strings of 50 digits: the real model is defined
# with these exact rationals (|error| < 1e-49), and every domain rounds them once.
PI = "3.1415926535897932384626433832795028841971693993751"
SQRT_2_OVER_PI = "0.79788456080286535587989211986876373695171726232986"
INV_SQRT2 = "0.70710678118654752440084436210484903928483593768847"
LN2 = "0.69314718055994530941723212145817656807550013436026"
LOG2E = "1.4426950408889634073599246810018921374266459541530"
