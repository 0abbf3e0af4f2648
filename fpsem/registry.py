"""Domain registry: names -> implementing classes, imported lazily.

A domain whose module is not present yet, or whose `available()` says no (no GPU,
no pycuda), is listed with the reason and is a one-line user error when asked for.
"""
from __future__ import annotations

import importlib

from .errors import DomainUnavailable, UnknownDomain, UnsupportedOption

# name -> (module, class, one-line description)
DOMAINS = {
    "exact": ("fpsem.domains.exact", "ExactDomain", "exact rationals (gmpy2 mpq); irrational results raise NotRepresentable"),
    "interval": ("fpsem.domains.interval", "IntervalDomain", "rigorous outward-rounded enclosures of the real result"),
    "ball": ("fpsem.domains.ball", "BallDomain", "rigorous high-precision midpoint-radius balls (FLINT/Arb); the tight reference"),
    "ieee32": ("fpsem.domains.ieee", "IEEE32Domain", "bit-exact IEEE 754 binary32 software emulator"),
    "bf16": ("fpsem.domains.ieee", "BFloat16Domain", "bit-exact bfloat16 emulator (same code as ieee32)"),
    "fp16": ("fpsem.domains.ieee", "Binary16Domain", "bit-exact IEEE binary16 emulator (same code as ieee32)"),
    "float32": ("fpsem.domains.numpy_float", "Float32Domain", "numpy float32 as the CPU runs it"),
    "float64": ("fpsem.domains.numpy_float", "Float64Domain", "numpy float64 baseline"),
    "cuda": ("fpsem.domains.cuda", "CudaDomain", "native float32 CUDA kernels through pycuda"),
}


def domain_class(name):
    if name not in DOMAINS:
        raise UnknownDomain(f"unknown domain {name!r}; known: {', '.join(DOMAINS)}")
    mod, cls, _ = DOMAINS[name]
    try:
        module = importlib.import_module(mod)
    except ModuleNotFoundError as e:
        if e.name == mod:
            raise DomainUnavailable(f"domain {name!r} is not yet available in this build") from None
        raise
    return getattr(module, cls)


def availability(name):
    """(available: bool, reason: str)."""
    try:
        cls = domain_class(name)
    except DomainUnavailable as e:
        return False, str(e).split("; ")[-1] if "; " in str(e) else "not yet available"
    check = getattr(cls, "available", None)
    if check is None:
        return True, ""
    return check()


def split_domain_specs(text):
    """'ieee32:rounding=rtz,ftz=true,float32' -> ['ieee32:rounding=rtz,ftz=true', 'float32']:
    a comma-separated item with '=' and no ':' is one more option of the domain before it."""
    specs = []
    for item in (s.strip() for s in text.split(",")):
        if not item:
            continue
        if "=" in item and ":" not in item and specs:
            specs[-1] += ("," if ":" in specs[-1] else ":") + item
        else:
            specs.append(item)
    return specs


def domain_from_spec(spec, **options):
    """A domain from 'name' or 'name:key=value,key=value' (true/false are booleans);
    explicit `options` are overridden by the spec's own."""
    name, _, rest = spec.partition(":")
    kw = dict(options)
    for item in filter(None, (s.strip() for s in rest.split(","))):
        k, eq, v = item.partition("=")
        if not eq or not k.strip():
            raise UnsupportedOption(f"domain spec {spec!r}: options are key=value, got {item!r}")
        kw[k.strip()] = {"true": True, "false": False}.get(v.strip().lower(), v.strip())
    return domain(name.strip(), **kw)


def domain(name, **options):
    """Return an immutable domain object, e.g. domain("ieee32", rounding="rup")."""
    if not isinstance(name, str):
        raise UnknownDomain(f"domain name must be a string, got {type(name).__name__}")
    cls = domain_class(name)
    ok, why = availability(name)
    if not ok:
        raise DomainUnavailable(f"domain {name!r} is unavailable: {why}")
    return cls(**options)


def restore_domain(name, options, cls=None):
    """Unpickle a domain (see Domain.__reduce__): by registry name, or by class."""
    return cls(**options) if cls is not None else domain(name, **options)
