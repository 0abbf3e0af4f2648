"""Domain values that know their domain, and the one boundary that checks them.

A `Value` is a thin immutable handle: `x.domain` and `x.raw`, the domain's own
storage (a numpy array of encodings or floats, an object array of rationals, an
`Interval`, a `Ball`, a device array). Users and ops only ever hold Values;
numpy's rules stay out of the arithmetic (`x / y` is `x.domain.div(x, y)`, in
the domain's rounding mode), and `np.asarray(x)` is the float64 image of a point
value (of an exact value: rounded to nearest; with dtype=object its Fractions),
an error for an enclosure.

The boundary (`install_boundary`, called for every Domain class) wraps each
public method once. At the outermost call it
  * unwraps Values, refusing a Value of another number system in one line
    (conversion is explicit: `D.convert(x)`),
  * sends plain Python/numpy data in a value position through `D.asarray`
    (rounded once, never reinterpreted),
  * wraps raw results of value-returning methods as Values of D.
Calls made from inside a domain (nested primitives, fused kernels, ordered
reductions) see raw storage only and pay nothing: a per-thread depth counter
tells the outermost call apart.
"""
from __future__ import annotations

import functools
import threading
import types

import numpy as np

from .errors import FpsemError, op_error

_state = threading.local()  # .depth: nesting of domain public calls in this thread


class Value:
    """A domain value: `domain` (the number system it lives in) and `raw` (its storage).

    Python operators route through the value's domain; anything else is data
    that the domain converts with `asarray` first. Comparisons return what the
    domain's comparison primitives return (numpy bool arrays for point domains,
    three-valued results for enclosures)."""

    __slots__ = ("domain", "raw")
    __hash__ = None             # elementwise ==, like numpy arrays

    def __array_ufunc__(self, ufunc, method, *inputs, **kw):
        """numpy ufuncs: arithmetic goes through the domain (np.add(a, x) is
        D.add(a, x)); predicates (isnan, signbit, ...: bool results) read the float64
        image of points; any other ufunc would compute outside the domain: refused."""
        D = next(v.domain for v in inputs if isinstance(v, Value))
        name = _ROUTED.get(ufunc.__name__)
        if method == "__call__" and name is not None and not kw:
            return getattr(D, name)(*inputs)
        if method == "__call__" and all(t.endswith("->?") for t in ufunc.types):
            return ufunc(*[np.asarray(v) if isinstance(v, Value) else v for v in inputs], **kw)
        return NotImplemented

    def __init__(self, domain, raw):
        object.__setattr__(self, "domain", domain)
        object.__setattr__(self, "raw", raw)

    def __setattr__(self, k, v):
        raise AttributeError("domain values are immutable")

    def __reduce__(self):
        return (Value, (self.domain, self.raw))

    # Read-only ways out of the domain for numpy storage (the exact numpy image of a
    # binary format: float32, float16, ml_dtypes.bfloat16, float64): bits and copies,
    # never arithmetic, which would leave the domain's rules behind.
    _STORAGE_VIEWS = frozenset(("dtype", "tobytes", "view", "astype", "tolist", "item", "ravel", "flatten",
                                "itemsize", "nbytes"))

    def __getattr__(self, name):
        r = object.__getattribute__(self, "raw")
        if isinstance(r, np.ndarray):
            if name in Value._STORAGE_VIEWS and r.dtype != object:
                return getattr(r, name)
        elif not name.startswith("__") and hasattr(r, name):
            # immutable storage objects (Interval lo/hi, Ball v, ...) stay inspectable
            return getattr(r, name)
        raise AttributeError(f"{type(self).__name__} of {self.domain.label} has no attribute {name!r}"
                             + ("; domain arithmetic goes through the domain (D.sum(x), ...)"
                                if hasattr(np.ndarray, name) else ""))

    # -- shape -------------------------------------------------------------------
    @property
    def shape(self):
        return self.domain.shape(self)

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return int(np.prod(self.shape, dtype=np.int64))

    def __len__(self):
        s = self.shape
        if not s:
            raise TypeError("len() of a 0-d domain value")
        return s[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __getitem__(self, idx):
        return self.domain.getitem(self, idx)

    def reshape(self, *shape):
        return self.domain.reshape(self, shape[0] if len(shape) == 1 else shape)

    @property
    def T(self):
        return self.domain.transpose(self)

    # -- arithmetic through the domain ------------------------------------------
    def __add__(self, o):
        return self.domain.add(self, o)

    def __radd__(self, o):
        return self.domain.add(o, self)

    def __sub__(self, o):
        return self.domain.sub(self, o)

    def __rsub__(self, o):
        return self.domain.sub(o, self)

    def __mul__(self, o):
        return self.domain.mul(self, o)

    def __rmul__(self, o):
        return self.domain.mul(o, self)

    def __truediv__(self, o):
        return self.domain.div(self, o)

    def __rtruediv__(self, o):
        return self.domain.div(o, self)

    def __matmul__(self, o):
        return self.domain.dot(self, o)

    def __rmatmul__(self, o):
        return self.domain.dot(o, self)

    def __neg__(self):
        return self.domain.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return self.domain.abs(self)

    def __lt__(self, o):
        return self.domain.lt(self, o)

    def __le__(self, o):
        return self.domain.le(self, o)

    def __gt__(self, o):
        return self.domain.gt(self, o)

    def __ge__(self, o):
        return self.domain.ge(self, o)

    def __eq__(self, o):
        return self.domain.eq(self, o)

    def __ne__(self, o):
        return self.domain.ne(self, o)

    def __bool__(self):
        raise FpsemError(f"the truth value of a {self.domain.label} value is ambiguous; "
                         "compare explicitly (D.lt, D.eq, ...) and reduce the mask")

    # -- numpy interop ------------------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        D = self.domain
        if D.value_kind == "enclosure":
            raise FpsemError(f"np.asarray: a {D.label} value is an enclosure, not one number per "
                             "element; take D.to_float64(x) (lo, hi) or D.midpoint(x)")
        if D.value_kind == "exact" and dtype is not None and np.dtype(dtype) == object:
            return D.to_fraction(self)      # the exact rationals, asked for by dtype=object
        a = np.asarray(D.to_float64(self), dtype=np.float64)
        return a if dtype is None else a.astype(dtype)

    def __float__(self):
        return float(np.asarray(self).reshape(()))

    def __repr__(self):
        return f"{self.domain.label} {format_value(self)}"

    __str__ = __repr__


_ROUTED = {"add": "add", "subtract": "sub", "multiply": "mul", "divide": "div", "true_divide": "div",
           "negative": "neg", "absolute": "abs", "sqrt": "sqrt", "exp": "exp", "exp2": "exp2",
           "log": "log", "tanh": "tanh", "sin": "sin", "cos": "cos", "minimum": "minimum",
           "maximum": "maximum", "matmul": "dot", "less": "lt", "less_equal": "le",
           "greater": "gt", "greater_equal": "ge", "equal": "eq", "not_equal": "ne"}


def raw(x):
    """The storage behind a Value (anything else unchanged): for code that works on
    a domain's own representation, e.g. fast paths and storage-level tests."""
    return x.raw if isinstance(x, Value) else x


# ------------------------------------------------------------------------ display
def format_value(x, edge=3):
    """`[0.1 0.2]` for points (the shortest decimals that read back to the same
    numbers in the storage format), `[0.1 +/- 1.4e-17]` for enclosures (float64
    midpoint and radius), `[1/3]` for exact values; long axes are summarised
    numpy style."""
    D = x.domain
    kind = D.value_kind
    if kind == "enclosure":
        lo, hi = (np.asarray(v, dtype=np.float64) for v in D.to_float64(x))
        with np.errstate(all="ignore"):
            mid = lo + (hi - lo) / 2
            rad = np.maximum(hi - mid, mid - lo)
        shape = mid.shape

        def one(i):
            return f"{float(mid[i])!r} +/- {float(rad[i]):.2g}"
    elif kind == "exact":
        q = D.to_fraction(x)
        shape = q.shape

        def one(i):
            return str(q[i])
    else:
        v = np.asarray(D.to_float64(x), dtype=np.float64)
        img = _image_type(getattr(D, "format", None))
        shape = v.shape

        def one(i):
            return _shortest(float(v[i]), img)
    if not shape:
        return one(())
    return _nested(shape, one, edge, ", " if kind == "enclosure" else " ")


def _shortest(v, img):
    """Fewest significant digits that round back to v in the storage format."""
    if img is None or not np.isfinite(v):
        return repr(v)
    if v == int(v) and abs(v) < 2.0 ** 53:
        return str(int(v)) if v or not np.signbit(v) else "-0"   # 4096, not 4.1e+03
    for k in range(1, 18):
        s = f"{v:.{k}g}"
        if img(float(s)) == img(v):
            return s
    return repr(v)


def _nested(shape, one, edge, sep, prefix=()):
    n = shape[0]
    idx = list(range(n)) if n <= 2 * edge else list(range(edge)) + [None] + list(range(n - edge, n))
    items = []
    for i in idx:
        if i is None:
            items.append("...")
        elif len(shape) == 1:
            items.append(one(prefix + (i,)))
        else:
            items.append(_nested(shape[1:], one, edge, sep, prefix + (i,)))
    return "[" + sep.join(items) + "]"


def _image_type(fmt):
    """The numpy (or ml_dtypes) scalar type holding exactly `fmt`'s numbers, or None."""
    if fmt is None:
        return None
    from .formats import numpy_dtype
    dt = numpy_dtype(fmt)
    return None if dt is None else dt.type


# ------------------------------------------------------------------------ the boundary
# name -> (positions of value arguments, what the result is):
#   positions: indices of positional args that are values ("*0": a sequence at 0);
#              plain data there goes through D.asarray
#   result:    "value" (wrap), "data" (return as is), "fn" (a callable: wrap it too)
_UNARY = ("neg", "abs", "sqrt", "exp", "exp2", "log", "tanh", "erf", "sin", "cos", "sigmoid", "rsqrt")
_BINARY = ("add", "sub", "mul", "div", "minimum", "maximum")
_COMPARE = ("lt", "le", "gt", "ge", "eq", "ne")
_STRUCT = ("reshape", "transpose", "swapaxes", "broadcast_to", "expand_dims", "squeeze", "getitem",
           "take", "flip", "pad", "sum", "max")
BOUNDARY = {
    **{n: ((0,), "value") for n in _UNARY + _STRUCT},
    **{n: ((0, 1), "value") for n in _BINARY + ("dot", "hull")},
    **{n: ((0, 1), "data") for n in _COMPARE},
    "fma": ((0, 1, 2), "value"),
    "where": ((1, 2), "value"),
    "concat": (("*0",), "value"),
    "stack": (("*0",), "value"),
    "to_fraction": ((0,), "data"),
    "to_float64": ((0,), "data"),
    "isnan": ((0,), "data"),
    "convert": (None, "value"),       # takes a Value of another domain: no unwrapping
    "const": ((), "value"), "full": ((), "value"), "zeros": ((), "value"),
    "interval": ((), "value"), "ball": ((), "value"), "upload": ((), "value"),
    "fused": ((), "fn"),
}
# methods with their own boundary rule (below) or none at all
_SPECIAL = {"asarray", "is_value"}
_SKIP = {"replace", "accuracy", "supports", "manifest", "describe", "flags", "clear_flags",
         "compile_flags", "host_const", "available"}


def compatible(D, x):
    """Does Value x belong to D's number system? Same domain name and a storage D
    reads as its own: options that govern operations (rounding, order, ...) do not
    change what a stored value means, so D.replace(...) takes D's values."""
    E = x.domain
    if E is D:
        return True
    if E.name != D.name:
        return False
    st = _state
    depth = getattr(st, "depth", 0)
    st.depth = depth + 1      # the storage test itself, not the boundary's
    try:
        return bool(D.is_value(x.raw))
    finally:
        st.depth = depth


def _foreign(D, op, x):
    return op_error(FpsemError, op, D,
                    f"got a value of domain {x.domain.label}; a value belongs to the domain that "
                    f"made it (convert explicitly with {D.name}.convert(x))")


def _unwrap(D, op, x):
    if isinstance(x, Value):
        if not compatible(D, x):
            raise _foreign(D, op, x)
        return x.raw
    return x


def _as_value(D, op, x):
    """Raw storage of D for a value argument: a Value of D, or data through asarray."""
    if isinstance(x, Value):
        if x.domain is D or compatible(D, x):
            return x.raw
        raise _foreign(D, op, x)
    return D.asarray(x)


def _wrap(D, r):
    if r is None or isinstance(r, Value):
        return r
    if isinstance(r, tuple):   # e.g. (values, flags)
        return r
    return Value(D, r)


def _bound(name, fn):
    pos, result = BOUNDARY.get(name, ((), "data"))

    @functools.wraps(fn)
    def method(self, *args, **kw):
        st = _state
        if getattr(st, "depth", 0):
            return fn(self, *args, **kw)
        st.depth = 1
        try:
            if pos:
                args = list(args)
                for i in pos:
                    if i == "*0":
                        if args:
                            args[0] = [_as_value(self, name, v) for v in args[0]]
                    elif i < len(args):
                        args[i] = _as_value(self, name, args[i])
            # any other Value (a where-mask, an interval's bounds, ...) is unwrapped too
            if pos is not None:
                args = [_unwrap(self, name, a) for a in args]
            if kw and pos is not None:
                kw = {k: _unwrap(self, name, v) for k, v in kw.items()}
            out = fn(self, *args, **kw)
        finally:
            st.depth = 0
        if result == "value":
            return _wrap(self, out)
        if result == "fn" and out is not None:
            return _bound_fn(self, name, out)
        return out
    method.__fpsem_boundary__ = True
    return method


def _bound_fn(D, name, fn):
    """A callable returned by the domain (a fused kernel): Values in, Values out."""
    @functools.wraps(fn)
    def call(*args, **kw):
        st = _state
        if getattr(st, "depth", 0):
            return fn(*args, **kw)
        st.depth = 1
        try:
            args = [_unwrap(D, name, a) for a in args]
            kw = {k: _unwrap(D, name, v) for k, v in kw.items()}
            out = fn(*args, **kw)
            is_val = D.is_value(out)
        finally:
            st.depth = 0
        return Value(D, out) if is_val else out
    return call


def _asarray(fn):
    @functools.wraps(fn)
    def asarray(self, data):
        st = _state
        if getattr(st, "depth", 0):
            return fn(self, data)
        if isinstance(data, Value):
            if compatible(self, data):
                return data if data.domain is self else Value(self, data.raw)
            raise _foreign(self, "asarray", data)
        st.depth = 1
        try:
            out = fn(self, data)
        finally:
            st.depth = 0
        return _wrap(self, out)
    asarray.__fpsem_boundary__ = True
    return asarray


def _is_value(fn):
    @functools.wraps(fn)
    def is_value(self, x):
        st = _state
        if getattr(st, "depth", 0):
            return fn(self, x)
        if not isinstance(x, Value):
            return False       # plain data is data, whatever its dtype
        st.depth = 1
        try:
            return x.domain is self or (x.domain.name == self.name and fn(self, x.raw))
        finally:
            st.depth = 0
    is_value.__fpsem_boundary__ = True
    return is_value


def install_boundary(cls):
    """Wrap the public methods that `cls` itself defines (subclasses get theirs
    wrapped when they are created; inherited methods are wrapped already)."""
    for name, fn in list(vars(cls).items()):
        if name.startswith("_") or name in _SKIP or not isinstance(fn, types.FunctionType):
            continue
        if getattr(fn, "__fpsem_boundary__", False):
            continue
        if name == "asarray":
            setattr(cls, name, _asarray(fn))
        elif name == "is_value":
            setattr(cls, name, _is_value(fn))
        else:
            setattr(cls, name, _bound(name, fn))


def inside():
    """True while a domain primitive is running in this thread (raw storage only)."""
    return bool(getattr(_state, "depth", 0))


def on_storage(fn):
    """Mark a domain-internal helper (composed from a domain's primitives, called
    with raw storage): the primitives it calls see storage, not Values."""
    @functools.wraps(fn)
    def run(*args, **kw):
        st = _state
        depth = getattr(st, "depth", 0)
        st.depth = depth + 1
        try:
            return fn(*args, **kw)
        finally:
            st.depth = depth
    return run
