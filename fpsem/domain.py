"""The number-domain protocol.

A domain is an immutable context object (the mpmath pattern: every algorithm takes
the context first). Its options are part of the meaning: format, rounding mode,
subnormal policy, NaN specialization and default accumulation order. Ops in
`fpsem.ops` call only the primitives declared in `PRIMITIVES`.

Implementers subclass `Domain` and provide `_impl_<primitive>` methods; the public
methods here validate shapes and options once, so every domain reports errors the
same way. Structural primitives (reshape, transpose, take, ...) are implemented
here once, on top of `_parts` / `_unparts`, the hooks that expose a domain value
as a tuple of numpy arrays (one array for point domains, (lo, hi) for intervals).

Reductions are normalised here: `sum` and `max` reach the domain as 2-D
(rows, n) arrays reduced along the last axis, `dot` as batched 3-D matmuls
(B, m, k) @ (B, k, n), so that accumulation order lives in one small kernel.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from types import MappingProxyType

import numpy as np

from .errors import ShapeError, UnsupportedOp, UnsupportedOption, op_error
from .formats import ROUNDINGS, Format, widen_ml_dtypes
from .order import Order, parse_order
from .semantics import ELEMENTARY, Semantics
from .trace import Call, watch
from .value import Value, install_boundary


@dataclass(frozen=True)
class Accuracy:
    """What a primitive promises about its result.

    kind: 'exact' (the real result, or NotRepresentable), 'correctly_rounded'
    (the real result rounded once in the domain's mode), 'ulps' (within `ulps`
    units in the last place of the real result), 'enclosure' (an interval that
    contains the real result), 'ordered' (each step correctly rounded in the
    stated accumulation order), 'unspecified' (no promise, e.g. BLAS order),
    'unsupported'.
    """
    kind: str
    ulps: float | None = None
    note: str = ""

    def __str__(self):
        if self.kind == "ulps":
            s = f"<= {self.ulps:g} ulp"
        else:
            s = self.kind.replace("_", " ")
        return f"{s} ({self.note})" if self.note else s


EXACT = Accuracy("exact")
CR = Accuracy("correctly_rounded")
ENCLOSURE = Accuracy("enclosure")

# name -> (group, one-line meaning). The order of this table is the order of `fpsem ops`.
PRIMITIVES = {
    # creation and conversion
    "asarray": ("create", "domain value from nested lists / numpy arrays of ints, Fractions, decimal strings or floats (floats taken exactly), rounded once into the domain"),
    "const": ("create", "0-d domain value from an exact int, Fraction or decimal string"),
    "full": ("create", "array of one exact constant"),
    "to_fraction": ("convert", "exact values as an object array of Fractions ((lo, hi) for intervals)"),
    "to_float64": ("convert", "values as float64 (rounded to nearest where not exact)"),
    # structure (exact in every domain)
    "reshape": ("struct", "reshape"),
    "transpose": ("struct", "permute axes"),
    "broadcast_to": ("struct", "broadcast to a shape"),
    "expand_dims": ("struct", "insert an axis"),
    "squeeze": ("struct", "drop an axis of length 1"),
    "getitem": ("struct", "basic and integer-array indexing"),
    "take": ("struct", "gather along an axis"),
    "concat": ("struct", "join along an axis"),
    "stack": ("struct", "join along a new axis"),
    "pad": ("struct", "pad with zeros"),
    "flip": ("struct", "reverse an axis"),
    # arithmetic
    "add": ("arith", "x + y"), "sub": ("arith", "x - y"), "mul": ("arith", "x * y"),
    "div": ("arith", "x / y"), "neg": ("arith", "-x"), "abs": ("arith", "|x|"),
    "sqrt": ("arith", "square root"), "fma": ("arith", "x*y + z with one rounding"),
    "minimum": ("arith", "IEEE 754-2019 minimum (NaN propagating, -0 < +0)"),
    "maximum": ("arith", "IEEE 754-2019 maximum (NaN propagating, -0 < +0)"),
    # elementary functions
    "exp": ("elem", "e**x"), "exp2": ("elem", "2**x"), "log": ("elem", "natural logarithm"),
    "tanh": ("elem", "hyperbolic tangent"), "erf": ("elem", "error function"),
    "sin": ("elem", "sine"), "cos": ("elem", "cosine"),
    # comparison and selection
    "lt": ("compare", "x < y"), "le": ("compare", "x <= y"), "gt": ("compare", "x > y"),
    "ge": ("compare", "x >= y"), "eq": ("compare", "x == y"), "ne": ("compare", "x != y"),
    "where": ("select", "elementwise select; a numpy bool mask or a comparison result"),
    # reductions
    "sum": ("reduce", "sum along an axis in a stated accumulation order"),
    "max": ("reduce", "maximum along an axis"),
    "dot": ("reduce", "matrix product (numpy matmul rules) in a stated accumulation order"),
}

UNARY = ("neg", "abs", "sqrt", "exp", "exp2", "log", "tanh", "erf", "sin", "cos")
BINARY = ("add", "sub", "mul", "div", "minimum", "maximum")
COMPARE = ("lt", "le", "gt", "ge", "eq", "ne")
STRUCT = tuple(k for k, v in PRIMITIVES.items() if v[0] == "struct")

# option name -> (description, allowed values or None for free-form)
COMMON_OPTIONS = {
    "rounding": ("rounding-direction attribute", ROUNDINGS),
    "ftz": ("flush tiny results to zero", (False, True)),
    "daz": ("treat subnormal inputs as zero", (False, True)),
    "acc": ("default accumulation order for sum and dot", None),
}


def to_fraction_scalar(v, what="asarray"):
    """An exact Fraction from int, Fraction, mpq, decimal string or float (exactly)."""
    if isinstance(v, Fraction):
        return v
    if isinstance(v, (bool, np.bool_)):
        raise UnsupportedOption(f"{what}: booleans are not numbers here; got {v!r}")
    if isinstance(v, (int, np.integer)):
        return Fraction(int(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if f != f or f in (float("inf"), float("-inf")):
            raise UnsupportedOption(f"{what}: {v!r} has no exact rational value")
        return Fraction(f)
    if isinstance(v, str):
        try:
            return Fraction(v.strip())
        except (ValueError, ZeroDivisionError):
            raise UnsupportedOption(f"{what}: {v!r} is not a decimal or rational literal") from None
    if hasattr(v, "numerator") and hasattr(v, "denominator"):  # gmpy2.mpq, mpz
        return Fraction(int(v.numerator), int(v.denominator))
    raise UnsupportedOption(f"{what}: cannot take {type(v).__name__} {v!r} as a number")


def _item(p, idx):
    """p[idx] as an array: an integer index gives a 0-d array, not a numpy scalar."""
    r = p[idx]
    if isinstance(r, np.ndarray):
        return r
    out = np.empty((), dtype=p.dtype)
    out[()] = r
    return out


def _unregistered_class(D):
    """None when D's registry name rebuilds it (subclasses made outside the
    registry rebuild as their plain domain), else its class, pickled by reference."""
    from .registry import DOMAINS, domain_class
    if D.name in DOMAINS and isinstance(D, domain_class(D.name)):
        return None
    return type(D)


class Domain:
    """Base class of every number domain. Immutable after construction.

    Public methods take and return `fpsem.value.Value`s: the boundary that
    checks, converts and wraps them is installed once, here, for every subclass
    (fpsem/value.py); `_impl_*` methods and nested calls see raw storage."""

    name = "abstract"
    format: Format | None = None
    #: option name -> default; only these options are accepted
    OPTIONS: dict = {}
    #: primitive -> reason, for primitives this domain declares it does not implement
    GAPS: dict = {}

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        _observe_methods(cls)     # the observer hook (inner) ...
        install_boundary(cls)     # ... inside the value boundary (outer)

    def __init__(self, **options):
        unknown = set(options) - set(self.OPTIONS)
        if unknown:
            opt = sorted(unknown)[0]
            raise UnsupportedOption(
                f"domain {self.name!r} has no option {opt!r}; its options: "
                f"{', '.join(self.OPTIONS) or 'none'}")
        opts = dict(self.OPTIONS)
        opts.update(options)
        if "acc" in opts:
            opts["acc"] = parse_order(opts["acc"])
        opts = self._validate_options(opts)
        object.__setattr__(self, "_opts", MappingProxyType(opts))

    def _validate_options(self, opts):
        """Check the option values; subclasses reject what they cannot honour."""
        if "rounding" in opts and opts["rounding"] not in ROUNDINGS:
            raise UnsupportedOption(
                f"domain {self.name!r}: unknown rounding {opts['rounding']!r}; "
                f"choose one of {', '.join(ROUNDINGS)}")
        for flag in ("ftz", "daz"):
            if flag in opts and not isinstance(opts[flag], (bool, np.bool_)):
                raise UnsupportedOption(f"domain {self.name!r}: option {flag} must be True or False")
        return opts

    def __setattr__(self, key, value):
        raise AttributeError(f"domain {self.label} is immutable; use D.replace(...)")

    # -- identity -------------------------------------------------------------
    @property
    def options(self):
        return self._opts

    @property
    def rounding(self):
        return self._opts.get("rounding", "rne")

    @property
    def ftz(self):
        return bool(self._opts.get("ftz", False))

    @property
    def daz(self):
        return bool(self._opts.get("daz", False))

    @property
    def acc(self) -> Order:
        return self._opts.get("acc", parse_order("sequential"))

    @property
    def label(self):
        """The domain's name with the options that differ from its defaults."""
        defaults = dict(type(self).OPTIONS)
        if "acc" in defaults:
            defaults["acc"] = parse_order(defaults["acc"])
        diffs = [f"{k}={v}" for k, v in self._opts.items() if defaults.get(k) != v]
        return f"{self.name}({', '.join(diffs)})" if diffs else self.name

    def replace(self, **changes):
        """A new domain of the same kind with some options changed."""
        opts = dict(self._opts)
        opts.update(changes)
        return type(self)(**opts)

    def __repr__(self):
        return f"fpsem.domain({self.name!r}, {', '.join(f'{k}={v!r}' for k, v in self._opts.items())})"

    def __eq__(self, other):
        return type(self) is type(other) and dict(self._opts) == dict(other._opts)

    def __hash__(self):
        return hash((type(self), tuple(sorted((k, str(v)) for k, v in self._opts.items()))))

    def __reduce__(self):
        # pickle rejects the MappingProxyType; a domain is its registry name plus its
        # options, so it travels as those (to Dask workers, say) and is rebuilt there
        from .registry import restore_domain
        return restore_domain, (self.name, dict(self._opts), _unregistered_class(self))

    #: True for domains whose values are point values in a binary format
    is_float = False
    #: True for domains whose values enclose the real result
    is_enclosure = False
    #: True when the domain's values live in a per-thread context (a CUDA context):
    #: it runs only on the thread that made it, so bridges never move it to another
    thread_bound = False
    #: 'point', 'enclosure' or 'exact' (None: 'point' for float domains, else 'enclosure')
    KIND: str | None = None
    #: FMA policy of a point domain whose order is specified (see Semantics.fma)
    FMA = "as_ordered"

    # -- declared semantics (fpsem.semantics) ---------------------------------------
    @property
    def semantics(self) -> Semantics:
        """What this domain promises: formats, rounding, subnormals, order, FMA,
        NaN preset, elementary accuracy and kind. Bridges read only this."""
        s = self.__dict__.get("_semantics")
        if s is None:   # computed once: the domain is immutable
            s = self._declare_semantics()
            object.__setattr__(self, "_semantics", s)
        return s

    def _declare_semantics(self):
        kind = self.KIND or ("point" if self.is_float else "enclosure")
        fmt = self.format if kind == "point" else None
        return Semantics(
            kind=kind, storage=fmt, accumulation=fmt,
            rounding=self.rounding if kind == "point" else ("outward" if kind == "enclosure" else "exact"),
            ftz=self.ftz, daz=self.daz, order=self.acc,
            fma=(self.FMA if self.acc.specified else "unspecified") if kind == "point" else "exact",
            nan=self._opts.get("nan"),
            elementary=tuple((p, self.accuracy(p).kind) for p in ELEMENTARY),
            precision=self._precision())

    def _precision(self):
        """Significand bits of stored values (inf for exact values)."""
        if self.format is not None:
            return self.format.p
        return math.inf if (self.KIND == "exact") else 53

    @property
    def value_kind(self):
        """'point' (one float per element), 'enclosure' (a set of reals per element)
        or 'exact' (one rational per element): the declared semantics' kind."""
        return self.semantics.kind

    def accuracy(self, prim) -> Accuracy:
        """The declared accuracy of a primitive in this domain."""
        if prim not in PRIMITIVES:
            raise UnsupportedOp(f"accuracy[{self.label}]: unknown primitive {prim!r}")
        if not self.supports(prim):
            return Accuracy("unsupported", note=self.GAPS.get(prim, "not implemented"))
        group = PRIMITIVES[prim][0]
        if group in ("struct", "compare", "select", "convert"):
            return EXACT
        return self._accuracy(prim)

    def _accuracy(self, prim) -> Accuracy:  # pragma: no cover - every domain overrides
        return Accuracy("unspecified")

    def supports(self, prim):
        if prim in self.GAPS:
            return False
        if prim in STRUCT or prim in ("where", "to_fraction", "to_float64", "const", "full"):
            return True
        return hasattr(self, "_impl_" + prim)

    def manifest(self, prim):
        """What a native kernel or library call does for `prim` (order, FMA, FTZ, rounding)."""
        return {}

    # -- fused overrides --------------------------------------------------------
    def fused(self, opname):
        """A native implementation of a whole op, or None (the generic ops are the meaning)."""
        return None

    # -- value representation --------------------------------------------------
    def _parts(self, x):
        return (x,)

    def _unparts(self, parts):
        return parts[0]

    def shape(self, x):
        try:
            return tuple(self._parts(x)[0].shape)
        except (AttributeError, TypeError, IndexError, KeyError):
            # plain data (a list, a str, None) where a value was expected
            raise self._err(ShapeError, "shape", f"expected a {self.label} value, got "
                            f"{type(x).__name__}; convert plain data with D.asarray(...)") from None

    def ndim(self, x):
        return len(self.shape(x))

    def size(self, x):
        return int(np.prod(self.shape(x), dtype=np.int64))

    def _err(self, cls, op, problem):
        return op_error(cls, op, self, problem)

    def _unsupported(self, prim):
        reason = self.GAPS.get(prim, "no rule for this primitive in this domain")
        return self._err(UnsupportedOp, prim, reason)

    def _bshape(self, op, *xs):
        shapes = [self.shape(x) for x in xs]
        try:
            return np.broadcast_shapes(*shapes)
        except ValueError:
            raise self._err(ShapeError, op, "shapes " + " and ".join(map(str, shapes))
                            + " do not broadcast") from None

    # -- creation ----------------------------------------------------------------
    def asarray(self, data):
        """Domain value from data (ints, Fractions, decimal strings, floats taken
        exactly, ml_dtypes arrays such as bfloat16 or float8 by their exact values),
        rounded once into the domain."""
        if self.is_value(data):
            return data
        return self._impl_asarray(widen_ml_dtypes(data))

    def is_value(self, x):
        """Is x a value of this domain? (Inside a domain: is x its raw storage?)"""
        raise NotImplementedError

    def convert(self, x):
        """A value of another domain (or data) as a value of this one, rounded once
        into it: points and exact values through their exact rationals (a float
        format's float64 image is exact), enclosures only into enclosure domains
        of the same kind."""
        # runs inside the boundary (fpsem.value): x arrives as it was given
        if not isinstance(x, Value):
            return self.asarray(x)
        E, r = x.domain, x.raw
        if E.name == self.name and self.is_value(r):
            return r
        if E.value_kind == "enclosure":
            raise self._err(UnsupportedOp, "convert",
                            f"a {E.label} value is an enclosure; convert its bounds "
                            f"({E.name}.to_float64(x)) or midpoint explicitly")
        if E.value_kind == "exact" or getattr(E.format, "p", 99) > 53:
            return self._impl_asarray(E.to_fraction(r))
        return self._impl_asarray(np.asarray(E.to_float64(r), dtype=np.float64))

    def const(self, value):
        """0-d value of an exact constant (int, Fraction or decimal string; never a bare float)."""
        if isinstance(value, float):
            raise self._err(UnsupportedOption, "const",
                            f"float literal {value!r}: pass an exact string or Fraction")
        return self._impl_asarray(np.array(to_fraction_scalar(value, "const"), dtype=object))

    def full(self, shape, value):
        c = self.const(value)
        return self.broadcast_to(c, tuple(shape))

    def zeros(self, shape):
        return self.full(shape, 0)

    def to_fraction(self, x):
        raise self._unsupported("to_fraction")

    def to_float64(self, x):
        """Deprecated for new code: use `point` or `bounds` (one kind of result each)."""
        raise self._unsupported("to_float64")

    def bounds(self, x):
        """(lo, hi) float64 arrays with lo <= value <= hi elementwise. Point domains:
        lo is hi, the value (rounded to nearest float64 where it is not one);
        enclosures: their endpoints, rounded outward to float64."""
        parts = self._parts(x)
        if self.semantics.kind == "enclosure" and len(parts) == 2:
            return _outward(parts[0], -1), _outward(parts[1], +1)
        r = self.to_float64(x)
        if isinstance(r, tuple):   # (lo, hi), already rounded outward (ball)
            return np.asarray(r[0], dtype=np.float64), np.asarray(r[1], dtype=np.float64)
        v = np.asarray(r, dtype=np.float64)
        return v, v

    def point(self, x):
        """float64 point values: the value, or the midpoint of an enclosure."""
        lo, hi = self.bounds(x)
        if lo is hi:
            return lo
        return lo + (hi - lo) / 2

    # -- structure -------------------------------------------------------------
    def _struct(self, fn, x):
        return self._unparts(tuple(fn(p) for p in self._parts(x)))

    def reshape(self, x, shape):
        shape = tuple(int(s) for s in shape) if not isinstance(shape, int) else (shape,)
        try:
            np.empty(self.shape(x), dtype=np.bool_).reshape(shape)
        except ValueError:
            raise self._err(ShapeError, "reshape",
                            f"cannot reshape {self.shape(x)} into {shape}") from None
        return self._struct(lambda p: p.reshape(shape), x)

    def transpose(self, x, axes=None):
        nd = self.ndim(x)
        if axes is not None:
            axes = tuple(int(a) % nd if nd else int(a) for a in axes)
            if sorted(axes) != list(range(nd)):
                raise self._err(ShapeError, "transpose", f"axes {axes} are not a permutation of {nd} axes")
        return self._struct(lambda p: np.transpose(p, axes), x)

    def swapaxes(self, x, a, b):
        nd = self.ndim(x)
        axes = list(range(nd))
        axes[a], axes[b] = axes[b], axes[a]
        return self.transpose(x, axes)

    def broadcast_to(self, x, shape):
        shape = tuple(int(s) for s in shape)
        try:
            np.broadcast_shapes(self.shape(x), shape)
            if np.broadcast_shapes(self.shape(x), shape) != shape:
                raise ValueError
        except ValueError:
            raise self._err(ShapeError, "broadcast_to",
                            f"cannot broadcast {self.shape(x)} to {shape}") from None
        return self._struct(lambda p: np.broadcast_to(p, shape), x)

    def expand_dims(self, x, axis):
        return self._struct(lambda p: np.expand_dims(p, axis), x)

    def squeeze(self, x, axis):
        if self.shape(x)[axis] != 1:
            raise self._err(ShapeError, "squeeze", f"axis {axis} of {self.shape(x)} has length != 1")
        return self._struct(lambda p: np.squeeze(p, axis), x)

    def getitem(self, x, idx):
        try:
            return self._struct(lambda p: _item(p, idx), x)
        except IndexError as e:
            raise self._err(ShapeError, "getitem", f"index {idx!r} on shape {self.shape(x)}: {e}") from None

    def take(self, x, indices, axis=0):
        indices = np.asarray(indices)
        if indices.dtype.kind not in "iu":
            raise self._err(ShapeError, "take", f"indices must be integers, got {indices.dtype}")
        n = self.shape(x)[axis]
        if indices.size and (indices.min() < -n or indices.max() >= n):
            raise self._err(ShapeError, "take",
                            f"index out of range for axis {axis} of length {n}")
        return self._struct(lambda p: np.take(p, indices, axis=axis), x)

    def concat(self, xs, axis=0):
        xs = list(xs)
        if not xs:
            raise self._err(ShapeError, "concat", "nothing to concatenate")
        try:
            parts = [self._parts(x) for x in xs]
            return self._unparts(tuple(np.concatenate([p[i] for p in parts], axis=axis)
                                       for i in range(len(parts[0]))))
        except ValueError as e:
            raise self._err(ShapeError, "concat",
                            f"shapes {[self.shape(x) for x in xs]}: {e}") from None

    def _stack_args(self, xs):
        """The values to stack as a list, after checking they share one shape."""
        xs = list(xs)
        if not xs:
            raise self._err(ShapeError, "stack", "nothing to stack")
        if len({self.shape(x) for x in xs}) != 1:
            raise self._err(ShapeError, "stack", f"shapes differ: {[self.shape(x) for x in xs]}")
        return xs

    def stack(self, xs, axis=0):
        xs = self._stack_args(xs)
        parts = [self._parts(x) for x in xs]
        return self._unparts(tuple(np.stack([p[i] for p in parts], axis=axis)
                                   for i in range(len(parts[0]))))

    def pad(self, x, pad_width):
        """Zero padding; pad_width is a sequence of (before, after) per axis."""
        shape = self.shape(x)
        if len(pad_width) != len(shape):
            raise self._err(ShapeError, "pad", f"{len(pad_width)} pad pairs for {len(shape)} axes")
        for ax, (b, a) in enumerate(pad_width):
            if b < 0 or a < 0:
                raise self._err(ShapeError, "pad", "negative padding")
            if b == 0 and a == 0:
                continue
            cur = list(self.shape(x))
            pieces = []
            if b:
                cur[ax] = b
                pieces.append(self.zeros(tuple(cur)))
            pieces.append(x)
            if a:
                cur[ax] = a
                pieces.append(self.zeros(tuple(cur)))
            x = self.concat(pieces, axis=ax)
        return x

    def flip(self, x, axis):
        return self._struct(lambda p: np.flip(p, axis), x)

    # -- selection ---------------------------------------------------------------
    def where(self, cond, a, b):
        """Elementwise select. `cond` is a numpy bool array (a structural mask) or
        the result of a comparison in this domain."""
        shape = self._bshape("where", a, b)
        if isinstance(cond, np.ndarray) and cond.dtype == np.bool_:
            try:
                shape = np.broadcast_shapes(shape, cond.shape)
            except ValueError:
                raise self._err(ShapeError, "where", f"mask {cond.shape} vs values {shape}") from None
            pa, pb = self._parts(a), self._parts(b)
            return self._unparts(tuple(np.where(cond, x, y) for x, y in zip(pa, pb)))
        return self._impl_where(cond, a, b)

    def _impl_where(self, cond, a, b):
        raise self._err(UnsupportedOp, "where", f"condition of type {type(cond).__name__}")

    def isnan(self, x):
        """numpy bool mask: where x is NaN. Exact. Enclosure domains (whose values
        are sets of reals) and the exact domain have no NaN: the mask is all False
        there, so selections on it are decided."""
        if self.semantics.kind != "point":
            return np.zeros(self.shape(x), dtype=np.bool_)
        return np.isnan(self.point(x))

    # -- reductions --------------------------------------------------------------
    def _order(self, op, acc):
        order = self.acc if acc is None else parse_order(acc)
        self._check_order(op, order)
        return order

    def _check_order(self, op, order):
        """Subclasses reject orders they cannot honour."""

    def _to_rows(self, op, x, axis):
        shape = self.shape(x)
        if axis is None:
            return self.reshape(x, (1, -1) if shape else (1, 1)), (), None
        nd = len(shape)
        if not -nd <= axis < nd:
            raise self._err(ShapeError, op, f"axis {axis} out of range for shape {shape}")
        axis %= nd
        moved = self.transpose(x, [i for i in range(nd) if i != axis] + [axis]) if axis != nd - 1 else x
        outer = tuple(s for i, s in enumerate(shape) if i != axis)
        return self.reshape(moved, (int(np.prod(outer, dtype=np.int64)), shape[axis])), outer, axis

    def _from_rows(self, r, outer, axis, keepdims, full_nd):
        r = self.reshape(r, outer)
        if keepdims:
            if axis is None:
                return self.reshape(r, (1,) * full_nd)
            r = self.expand_dims(r, axis)
        return r

    def sum(self, x, axis=-1, keepdims=False, acc=None):
        """Sum along `axis` (None: all elements) in accumulation order `acc`
        (default: the domain's). Exact/enclosing domains ignore the order."""
        order = self._order("sum", acc)
        if not hasattr(self, "_impl_sum"):
            raise self._unsupported("sum")
        rows, outer, ax = self._to_rows("sum", x, axis)
        return self._from_rows(self._impl_sum(rows, order), outer, ax, keepdims, self.ndim(x))

    def max(self, x, axis=-1, keepdims=False):
        """Maximum along `axis` with `maximum` semantics (NaN propagating, -0 < +0)."""
        if not hasattr(self, "_impl_max"):
            raise self._unsupported("max")
        rows, outer, ax = self._to_rows("max", x, axis)
        if self.shape(rows)[1] == 0:
            raise self._err(ShapeError, "max", "reduction over an empty axis")
        return self._from_rows(self._impl_max(rows), outer, ax, keepdims, self.ndim(x))

    def dot(self, a, b, acc=None):
        """Matrix product with numpy matmul shape rules, each output accumulated
        over k in order `acc` (default: the domain's)."""
        order = self._order("dot", acc)
        if not hasattr(self, "_impl_dot"):
            raise self._unsupported("dot")
        sa, sb = self.shape(a), self.shape(b)
        if not sa or not sb:
            raise self._err(ShapeError, "dot", f"scalar operand: shapes {sa} and {sb}")
        va, vb = len(sa) == 1, len(sb) == 1
        if va:
            a = self.reshape(a, (1, sa[0]))
        if vb:
            b = self.reshape(b, (sb[0], 1))
        sa, sb = self.shape(a), self.shape(b)
        if sa[-1] != sb[-2]:
            raise self._err(ShapeError, "dot", f"inner dimensions differ: {sa} @ {sb}")
        try:
            batch = np.broadcast_shapes(sa[:-2], sb[:-2])
        except ValueError:
            raise self._err(ShapeError, "dot", f"batch dimensions {sa[:-2]} and {sb[:-2]} do not broadcast") from None
        m, k, n = sa[-2], sa[-1], sb[-1]
        nb = int(np.prod(batch, dtype=np.int64))
        if sb[:-2] == () and sa[:-2] != ():
            # (…, m, k) @ (k, n): fold the batch into rows; same per-output order
            a3 = self.reshape(a, (1, nb * m, k))
            b3 = self.reshape(b, (1, k, n))
        else:
            a3 = self.reshape(self.broadcast_to(a, batch + (m, k)), (nb, m, k))
            b3 = self.reshape(self.broadcast_to(b, batch + (k, n)), (nb, k, n))
        out = self.reshape(self._impl_dot(a3, b3, order), batch + (m, n))
        if va and vb:
            return self.reshape(out, batch)
        if va:
            return self.reshape(out, batch + (n,))
        if vb:
            return self.reshape(out, batch + (m,))
        return out

    # -- describe ----------------------------------------------------------------
    def describe(self):
        return {
            "name": self.name,
            "label": self.label,
            "format": str(self.format) if self.format else None,
            "options": {k: str(v) for k, v in self._opts.items()},
            "accuracy": {p: str(self.accuracy(p)) for p in PRIMITIVES},
        }


def _outward(a, direction):
    """float64 image of an endpoint array, stepped one ulp outward where not exact."""
    a = np.asarray(a)
    if a.dtype.kind == "f" and a.dtype.itemsize <= 8:
        return a.astype(np.float64)  # exact widening
    # object arrays (Fractions, mpfr): round to float64, then step outward one ulp
    # where that rounding was not exact (both compare exactly with a float)
    flat = a.ravel()
    f = np.array([float(v) for v in flat], dtype=np.float64)
    exact = np.array([bool(v == x) for v, x in zip(flat, f)], dtype=np.bool_)
    return np.where(exact, f, np.nextafter(f, direction * np.inf)).reshape(a.shape)


def _make_unary(name):
    def method(self, x):
        impl = getattr(self, "_impl_" + name, None)
        if impl is None or name in self.GAPS:
            raise self._unsupported(name)
        self.shape(x)  # a value, not plain data (a clear error otherwise)
        return impl(x)
    method.__name__ = name
    method.__doc__ = f"Elementwise {PRIMITIVES[name][1]}; accuracy per D.accuracy({name!r})."
    return method


def _make_binary(name):
    def method(self, x, y):
        impl = getattr(self, "_impl_" + name, None)
        if impl is None or name in self.GAPS:
            raise self._unsupported(name)
        self._bshape(name, x, y)
        return impl(x, y)
    method.__name__ = name
    method.__doc__ = f"Elementwise {PRIMITIVES[name][1]} with broadcasting; accuracy per D.accuracy({name!r})."
    return method


def _fma(self, x, y, z):
    """x*y + z rounded once (elementwise, broadcasting)."""
    impl = getattr(self, "_impl_fma", None)
    if impl is None or "fma" in self.GAPS:
        raise self._unsupported("fma")
    self._bshape("fma", x, y, z)
    return impl(x, y, z)


for _n in UNARY:
    setattr(Domain, _n, _make_unary(_n))
for _n in BINARY + COMPARE:
    setattr(Domain, _n, _make_binary(_n))
Domain.fma = _fma


# -- the observer hook (fpsem.trace.observe) ------------------------------------------------
# Every public primitive of every domain class (PRIMITIVES, wherever a class defines
# one) reports its call to the observers of the current context: the one way to watch
# a domain. Unwatched, the cost is one context-variable read per call.
def _observed(name, fn):
    def method(self, *args, **kwargs):
        w = watch()
        if w is None or w.busy:
            return fn(self, *args, **kwargs)
        w.depth += 1
        try:
            out = fn(self, *args, **kwargs)
        finally:
            w.depth -= 1
        w.emit(Call(self, name, args, kwargs, out, w.depth))
        return out
    method.__name__ = method.__qualname__ = name
    method.__doc__ = fn.__doc__
    method.__wrapped__ = fn
    method._fpsem_observed = True
    return method


def _observe_methods(cls):
    for name in PRIMITIVES:
        fn = cls.__dict__.get(name)
        if callable(fn) and not getattr(fn, "_fpsem_observed", False):
            setattr(cls, name, _observed(name, fn))


_observe_methods(Domain)
# the value boundary wraps the observed methods: observers see raw storage
install_boundary(Domain)
