"""`fpsem audit`: differential float audits for CI.

Runs a declared suite (fpsem.bridges.suite) under every available domain and
checks

1. bits      bit-exact agreement where the semantics promise it: ieee32 vs
             float32 with the same accumulation order for computations whose
             primitives are all correctly rounded / exact / ordered in both
             (cuda vs ieee32 likewise, where a GPU is present);
2. bound     every observed error within its declared bound: a correctly
             rounded primitive must return exactly the correctly rounded value
             of the real result (round_fraction of the exact or 200-bit mpmath
             value, sign of zero included); a 'k ulps' primitive within k
             ulp(real); an ordered sum/dot within gamma_r * sum|terms|; a node
             that is a dot (+ bias) within its local a-priori bound;
3. enclosure interval soundness: the interval result contains the exact
             result (rational cases) or the 200-bit value (elementary functions);
4. baseline  the sha256 of the bits of every audited output against a recorded
             baseline, reported by name (a numpy/BLAS upgrade that changes bits
             is caught).

Each check is one JUnit testcase. A finding is a failed check; exit status 1.
"""
from __future__ import annotations

import json
import math
import os
import platform
import time
import traceback
from dataclasses import asdict, dataclass, field
from fractions import Fraction

import numpy as np

from fpsem import formats, trace
from fpsem.bounds import eta, gamma
from fpsem.domain import PRIMITIVES
from fpsem.errors import FpsemError, UnknownDomain
from fpsem.interrupts import reraise_interrupt
from fpsem.registry import DOMAINS, availability
from fpsem.registry import domain as make_domain
from fpsem.semantics import BASIC, bit_promise, companions

from . import apriori as _ap
from ._num import bits_hash
from .suite import build_cases, model_cases


@dataclass
class Check:
    name: str
    kind: str            # bits | bound | enclosure | baseline | run
    status: str          # pass | fail | skip
    message: str = ""
    seconds: float = 0.0

    @property
    def finding(self):
        return self.status == "fail"


@dataclass
class AuditResult:
    suite: str
    domains: list
    checks: list = field(default_factory=list)
    hashes: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    seconds: float = 0.0
    #: outputs left out of the bit hashes (unspecified native order; see _hashable)
    unhashed: int = 0
    #: sha256 of the input files (the baseline compared against)
    inputs: dict = field(default_factory=dict)
    #: name -> (values, Format) of every hashed float output, kept when a baseline is
    #: written or compared (a drift then says how many elements moved, by how many ulps)
    values: dict = field(default_factory=dict)
    keep_values: bool = False

    @property
    def findings(self):
        return [c for c in self.checks if c.finding]

    @property
    def ok(self):
        return not self.findings

    def counts(self):
        out = {"pass": 0, "fail": 0, "skip": 0}
        for c in self.checks:
            out[c.status] += 1
        return out

    def to_dict(self):
        from fpsem.io import json_header
        return {
            **json_header("audit", self.inputs),
            "suite": self.suite, "domains": self.domains, "seconds": round(self.seconds, 3),
            "counts": self.counts(), "ok": self.ok,
            "findings": [f"{c.name}: {c.message}" for c in self.findings],
            "checks": [asdict(c) for c in self.checks],
            "notes": self.notes, "hashes": self.hashes,
            "platform": _platform(),
        }

    def to_json(self, path):
        """Write the report ('-': stdout; a path: atomically)."""
        from fpsem.io import emit_json
        emit_json(path, self.to_dict())

    def to_junit(self, path):
        import xml.etree.ElementTree as ET
        c = self.counts()
        root = ET.Element("testsuites", name="fpsem audit", tests=str(len(self.checks)),
                          failures=str(c["fail"]), skipped=str(c["skip"]), time=f"{self.seconds:.3f}")
        by_kind = {}
        for ch in self.checks:
            by_kind.setdefault(ch.kind, []).append(ch)
        for kind, checks in by_kind.items():
            ts = ET.SubElement(root, "testsuite", name=f"fpsem.audit.{kind}", tests=str(len(checks)),
                               failures=str(sum(ch.status == "fail" for ch in checks)),
                               skipped=str(sum(ch.status == "skip" for ch in checks)),
                               time=f"{sum(ch.seconds for ch in checks):.3f}")
            for ch in checks:
                tc = ET.SubElement(ts, "testcase", classname=f"fpsem.audit.{kind}", name=ch.name,
                                   time=f"{ch.seconds:.3f}")
                if ch.status == "fail":
                    f = ET.SubElement(tc, "failure", message=ch.message[:500], type=kind)
                    f.text = ch.message
                elif ch.status == "skip":
                    ET.SubElement(tc, "skipped", message=ch.message[:500])
        tree = ET.ElementTree(root)
        ET.indent(tree)
        from fpsem.io import atomic_write
        atomic_write(path, lambda fh: tree.write(fh, encoding="utf-8", xml_declaration=True), binary=True)


# -- domains --------------------------------------------------------------------------
FLOAT_NAMES = ("float32", "float64", "ieee32", "bf16", "fp16", "cuda")


def _platform():
    """What the outputs may depend on besides the code: the host's FP environment
    (float32 runs under it; see fpsem.fpenv), library versions, the machine."""
    import numba

    from fpsem import fpenv
    return {"python": platform.python_version(), "numpy": np.__version__,
            "numba": numba.__version__, "machine": platform.machine(), "cpu": _cpu_name(),
            "blas": _blas(), "threads": {v: os.environ.get(v) for v in _THREAD_VARS if os.environ.get(v)},
            "fpenv": fpenv.describe() or "default"}


# native (BLAS) order depends on these: recorded so that a drift can be traced to them
_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _blas():
    try:
        b = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{b.get('name', '?')} {b.get('version', '?')}"
    except Exception:  # noqa: BLE001 - older numpy: no dict form; not worth failing over
        return "unknown"


def audit_domains(names=None):
    """(float domains {label: D}, references {name: D}, notes) for the requested names
    (default: every available domain)."""
    from fpsem.registry import domain_from_spec
    if names is None:
        names = list(DOMAINS)
    names = [n.strip() for n in names if n.strip()]
    for spec in names:
        n = spec.partition(":")[0].strip()
        if n not in DOMAINS:
            raise UnknownDomain(f"--domains: unknown domain {n!r}; known: {', '.join(DOMAINS)}")
    floats, refs, notes = {}, {}, []
    for spec in names:
        n = spec.partition(":")[0].strip()  # 'ieee32:rounding=rtz': options as in `fpsem run -d`
        ok, why = availability(n)
        if not ok:
            notes.append(f"domain {n} not audited: {why}")
            continue
        D = domain_from_spec(spec)
        if D.semantics.kind != "point":
            refs[n] = D
            continue
        variants = [D]
        # a domain whose default order is not sequential is also audited in the
        # sequential order when some other domain promises its bits there
        if spec == n and str(D.acc) != "sequential" and "acc" in D.OPTIONS:
            seq = D.replace(acc="sequential")
            if companions(seq):
                variants.append(seq)
        for v in variants:
            floats[v.label] = v
    return floats, refs, notes


def bit_pairs(floats):
    """(a, b) label pairs of audited domains whose declared semantics promise the
    same bits in arithmetic and reductions (fpsem.semantics.companions' rule);
    each check then asks `bit_promise` for the primitives the case uses."""
    items = list(floats.items())
    return [(la, lb) for i, (la, A) in enumerate(items) for lb, B in items[i + 1:]
            if A != B and not bit_promise(A, B, BASIC)]


_PRIMS_CACHE = {}


def case_prims(case):
    if case.prims:
        return case.prims
    rec = case.op_record
    if rec.name not in _PRIMS_CACHE:
        from fpsem.introspect import primitives_used
        try:
            _PRIMS_CACHE[rec.name] = tuple(primitives_used(rec.name)) + ("asarray",)
        except Exception as e:
            reraise_interrupt(e)
            _PRIMS_CACHE[rec.name] = tuple(PRIMITIVES)  # unknown: promise nothing
    return _PRIMS_CACHE[rec.name]


# -- running a case ---------------------------------------------------------------
def _outputs(D, out):
    if out is None:
        return []
    if isinstance(out, (tuple, list)):
        res = []
        for o in out:
            res.extend(_outputs(D, o))
        return res
    try:
        if D.is_value(out):
            return [out]
    except Exception:
        pass
    return []


def run_case(case, D, inputs):
    if case.kind == "op":
        return case.fn(D)
    return case.fn(D, *[D.asarray(a) for a in inputs])


def _image(D, x):
    """float64 image(s) and hash of a domain value."""
    lo, hi = D.bounds(x)
    if lo is not hi:
        return (lo, hi), bits_hash(np.stack([lo, hi]))
    f = lo
    if D.semantics.kind == "exact":
        q = D.to_fraction(x)
        return f, _frac_hash(q)
    return f, bits_hash(f)


def _frac_hash(q):
    import hashlib
    h = hashlib.sha256()
    q = np.asarray(q, dtype=object)
    h.update(repr(q.shape).encode())
    for v in q.ravel():
        h.update(f"{v};".encode())
    return h.hexdigest()


# -- references for primitive cases -----------------------------------------------------
def _mp_value(prim, xs, prec=200):
    """High-precision value of prim at Fractions xs: a Fraction, or 'nan' / '+inf' / '-inf'."""
    import mpmath
    with mpmath.workprec(prec):
        a = [mpmath.mpf(x.numerator) / x.denominator for x in xs]
        x = a[0]
        if prim == "sqrt":
            if x < 0:
                return "nan"
            y = mpmath.sqrt(x)
        elif prim == "exp":
            if x > 200:
                return "+inf"
            y = mpmath.exp(x)
        elif prim == "exp2":
            if x > 200:
                return "+inf"
            y = mpmath.power(2, x)
        elif prim == "log":
            if x < 0:
                return "nan"
            if x == 0:
                return "-inf"
            y = mpmath.log(x)
        elif prim == "tanh":
            y = mpmath.tanh(x)
        elif prim == "erf":
            y = mpmath.erf(x)
        elif prim == "sin":
            y = mpmath.sin(x)
        elif prim == "cos":
            y = mpmath.cos(x)
        else:
            raise KeyError(prim)
        if y == 0:
            return Fraction(0)
        sign, man, exp, _ = y._mpf_
        v = Fraction(int(man)) * Fraction(2) ** int(exp)
        return -v if sign else v


def _exact_value(prim, xs):
    x = xs[0]
    if prim == "add":
        return xs[0] + xs[1]
    if prim == "sub":
        return xs[0] - xs[1]
    if prim == "mul":
        return xs[0] * xs[1]
    if prim == "div":
        if xs[1] == 0:
            return "nan" if x == 0 else None  # sign decided by the caller
        return xs[0] / xs[1]
    if prim == "fma":
        return xs[0] * xs[1] + xs[2]
    return _mp_value(prim, xs)


def _zero_sign(prim, raw, rounding):
    """Sign (True = negative) of an exact zero result, per IEEE 754 6.3."""
    s = [bool(np.signbit(v)) for v in raw]
    if prim in ("add", "sub", "fma"):
        if prim == "sub":
            a, b = s[0], not s[1]
            zeros = raw[0] == 0 and raw[1] == 0
        elif prim == "add":
            a, b = s[0], s[1]
            zeros = raw[0] == 0 and raw[1] == 0
        else:
            a, b = s[0] ^ s[1], s[2]
            zeros = (raw[0] == 0 or raw[1] == 0) and raw[2] == 0
        if zeros and a == b:
            return a
        return rounding == "rdn"
    if prim in ("mul", "div"):
        return s[0] ^ s[1]
    if prim in ("sqrt", "tanh", "erf", "sin"):
        return s[0]
    return False


def _expected_cr(prim, raw, fmt, rounding):
    """The correctly rounded result as float64 (inf/nan included), or None (skip)."""
    xs = [Fraction(float(v)) for v in raw]
    if prim == "div" and xs[1] == 0:
        if xs[0] == 0:
            return float("nan")
        return -math.inf if (np.signbit(raw[0]) ^ np.signbit(raw[1])) else math.inf
    y = _exact_value(prim, xs)
    if isinstance(y, str):
        return {"nan": float("nan"), "+inf": math.inf, "-inf": -math.inf}[y]
    negz = _zero_sign(prim, raw, rounding) if y == 0 else False
    r = formats.round_fraction(y, fmt, rounding, negative_zero=negz)
    if prim in _MP_PRIMS and y != 0:
        # y is a 200-bit approximation: a directed rounding of it can be wrong where the
        # real value lies within 2^-200 of a float (sin(1e-30) rounded toward zero is the
        # float below 1e-30, but the 200-bit sin is 1e-30 itself). Ziv: more bits until
        # both ends of the approximation's error interval round alike.
        for prec in (200, 400, 1600):
            if prec > 200:
                y = _mp_value(prim, xs, prec)
            e = abs(y) / Fraction(2) ** (prec - 8)  # mpmath's error: a few ulps at prec bits
            r = formats.round_fraction(y - e, fmt, rounding)
            if r.bits == formats.round_fraction(y + e, fmt, rounding).bits:
                break
        else:  # an exact result (sqrt of a square, exp2 of an integer)
            r = formats.round_fraction(y, fmt, rounding)
    v = formats.decode(r.bits, fmt)
    if isinstance(v, float):
        return v
    f = float(v)
    if f == 0 and (r.bits >> (fmt.bits - 1)) & 1:
        f = -0.0
    return f


def _same(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1, a) == math.copysign(1, b)


def _ulp_of(y, fmt):
    y = abs(y)
    if y == 0:
        return Fraction(fmt.min_subnormal)
    e = y.numerator.bit_length() - y.denominator.bit_length()
    if Fraction(2) ** e > y:
        e -= 1
    return Fraction(2) ** (max(e, fmt.emin) - fmt.p + 1)


def check_prim_bound(case, D, inputs, out):
    """The declared accuracy of `case.prim` in D, element by element."""
    prim = case.prim
    acc = D.accuracy(prim)
    fmt = D.format
    if D.ftz or D.daz:
        return "skip", f"{D.label}: ftz/daz policies are checked by the domain's own tests"
    # the domain's own rounded inputs
    xin = [D.point(D.asarray(a)) for a in inputs]
    f = D.point(out)
    if prim in ("sum", "dot"):
        return _check_reduction(case, D, xin, f, acc)
    shape = np.broadcast_shapes(*[x.shape for x in xin])
    xin = [np.broadcast_to(x, shape).ravel() for x in xin]
    f = f.ravel()
    bad, checked, worst = [], 0, 0.0
    for i in range(f.size):
        raw = [float(x[i]) for x in xin]
        if not all(math.isfinite(v) for v in raw):
            continue  # an input that overflowed the domain's format: specials cases cover these
        if acc.kind in ("correctly_rounded", "exact"):
            exp = _expected_cr(prim, raw, fmt, D.rounding)
            if exp is None:
                continue
            checked += 1
            if not _same(float(f[i]), exp):
                bad.append(f"{prim}({', '.join(map(repr, raw))}) = {f[i]!r}, correctly rounded {exp!r}")
        elif acc.kind == "ulps":
            xs = [Fraction(v) for v in raw]
            y = _exact_value(prim, xs)
            if isinstance(y, str) or y is None:
                if isinstance(y, str) and y == "nan" and not math.isnan(f[i]):
                    bad.append(f"{prim}({raw}) = {f[i]!r}, expected NaN")
                continue
            if abs(y) > fmt.max_finite or not math.isfinite(f[i]):
                if math.isfinite(f[i]) or abs(y) <= fmt.max_finite * (1 - Fraction(acc.ulps) * fmt.eps):
                    if not math.isfinite(f[i]) and abs(y) <= fmt.max_finite:
                        bad.append(f"{prim}({raw}) = {f[i]!r}, real {float(y)!r}")
                continue
            checked += 1
            err = abs(Fraction(float(f[i])) - y) / _ulp_of(y, fmt)
            worst = max(worst, float(err))
            if err > Fraction(acc.ulps):
                bad.append(f"{prim}({raw}) = {f[i]!r}: {float(err):.3g} ulp > {acc.ulps:g} (real {float(y)!r})")
        else:
            return "skip", f"{prim}: accuracy {acc} declares no checkable bound"
    if bad:
        return "fail", f"{len(bad)} of {checked} elements outside the declared accuracy ({acc}); first: {bad[0]}"
    extra = f", worst {worst:.3g} ulp" if acc.kind == "ulps" else ""
    return "pass", f"{checked} elements within {acc}{extra}"


def _check_reduction(case, D, xin, f, acc):
    from fpsem.order import parse_order
    order = parse_order(next(t for t in case.tags if t.startswith("order:"))[6:])
    fmt = D.format
    if acc.kind not in ("ordered", "correctly_rounded", "exact"):
        return "skip", f"{case.prim}: accuracy {acc}"
    if case.prim == "sum":
        terms = [[Fraction(float(v)) for v in row] for row in xin[0]]
        n = xin[0].shape[1]
        outs = f.ravel()
        dot = False
    else:
        A, B = xin
        n = A.shape[1]
        terms = [[Fraction(float(A[i, k])) * Fraction(float(B[k, j])) for k in range(n)]
                 for i in range(A.shape[0]) for j in range(B.shape[1])]
        outs = f.ravel()
        dot = True
    r = order.roundings(n, dot=dot)
    g = gamma(r, fmt, D.rounding)
    under = 2 * n * eta(fmt, D.rounding)
    worst = Fraction(0)
    for t, v in zip(terms, outs):
        s = sum(t, Fraction(0))
        bound = g * sum(abs(x) for x in t) + under
        err = abs(Fraction(float(v)) - s)
        if bound:
            worst = max(worst, err / bound)
        if err > bound:
            return "fail", f"{case.prim} in order {order}: |error| {float(err):.3g} > gamma_{r} sum|t| = {float(bound):.3g}"
    return "pass", f"{len(outs)} results within gamma_{r}*sum|t| (order {order}); max observed/bound {float(worst):.3g}"


def _real_inputs(case, inputs):
    """Restrict a primitive case's inputs to where the real result exists."""
    if case.kind != "prim" or not inputs:
        return inputs
    arrs = [np.asarray(a, dtype=np.float64) for a in inputs]
    if len({a.shape for a in arrs}) != 1:
        return inputs
    x = arrs[0]
    mask = np.ones(x.shape, dtype=bool)
    if case.prim == "div":
        mask &= arrs[1] != 0
    elif case.prim == "sqrt":
        mask &= x >= 0
    elif case.prim == "log":
        mask &= x > 0
    return [a[mask] for a in arrs]


def check_enclosure(case, I, E, inputs):
    """Interval result encloses the exact one (rational) or the 200-bit value (prims)."""
    inputs = _real_inputs(case, inputs)
    if case.kind == "op":
        xi, xe = case.fn(I), case.fn(E)
    else:
        xi = case.fn(I, *[I.asarray(a) for a in inputs])
        xe = case.fn(E, *[E.asarray(a) for a in inputs]) if case.rational else None
    oi = _outputs(I, xi)
    if xe is not None:
        oe = _outputs(E, xe)
        if len(oi) != len(oe):
            return "fail", f"interval gave {len(oi)} outputs, exact {len(oe)}"
        n = 0
        for a, b in zip(oi, oe):
            lo, hi = I.to_fraction(a)
            q = E.to_fraction(b)
            lo, hi, q = (np.asarray(v, dtype=object).ravel() for v in (lo, hi, q))
            for i in range(q.size):
                n += 1
                if not (lo[i] <= q[i] <= hi[i]):
                    return "fail", f"element {i}: exact {q[i]} not in [{lo[i]}, {hi[i]}]"
        return "pass", f"{n} exact values enclosed"
    if case.kind == "prim" and case.prim in _MP_PRIMS:
        lo, hi = I.to_fraction(oi[0])
        lo, hi = (np.asarray(v, dtype=object).ravel() for v in (lo, hi))
        xs = I.bounds(I.asarray(inputs[0]))[0].ravel()
        n = 0
        for i, xv in enumerate(xs):
            y = _mp_value(case.prim, [Fraction(float(xv))])
            if isinstance(y, str):
                continue
            n += 1
            ok = (lo[i] <= y <= hi[i]) if all(isinstance(v, Fraction) for v in (lo[i], hi[i])) else \
                 (float(lo[i]) <= float(y) <= float(hi[i]))
            if not ok:
                return "fail", f"{case.prim}({xv!r}): 200-bit value {float(y)!r} not in [{float(lo[i])!r}, {float(hi[i])!r}]"
        return "pass", f"{n} 200-bit values enclosed"
    return "skip", "no exact reference for this case"


_MP_PRIMS = ("sqrt", "exp", "exp2", "log", "tanh", "erf", "sin", "cos")


def _hashable(D, prims):
    """Whether D's outputs of an op using `prims` have reproducible bits. A sum or
    dot in the unspecified native (BLAS) order changes with the BLAS build and its
    thread count (OPENBLAS_NUM_THREADS 2 -> 1 changed gpt2's float32 logits): such
    outputs stay out of bit baselines and are checked against their bounds only."""
    acc = getattr(D, "acc", None)
    return not (acc is not None and acc.kind == "native" and {"sum", "dot"} & set(prims))


def _is_user_error(e):
    return isinstance(e, FpsemError)


# -- the audit --------------------------------------------------------------------------
def run_audit(suite="quick", domains=None, baseline=None, models=True, progress=None,
              keep_values=None) -> AuditResult:
    """Run the suite; `baseline` a dict name -> hash (or None; see load_baseline).
    keep_values: keep the hashed float outputs in res.values (default: when a
    baseline is given; write_baseline stores them beside the hashes)."""
    with np.errstate(all="ignore"):
        return _run_audit(suite, domains, baseline, models, progress,
                          baseline is not None if keep_values is None else keep_values)


def _run_audit(suite, domains, baseline, models, progress, keep_values=False):
    t0 = time.perf_counter()
    floats, refs, notes = audit_domains(domains)
    res = AuditResult(suite=suite, domains=list(floats) + list(refs), notes=notes, keep_values=keep_values)
    if not floats and not refs:
        raise FpsemError("no available domain to audit")
    pairs = bit_pairs(floats)
    if not pairs:
        res.notes.append("no domain pair promises identical bits here (ieee32 and float32 with the same order, "
                         "or cuda and ieee32): bit checks skipped")
    add = res.checks.append
    tick = progress or (lambda msg: None)
    exact, fixed, _ = _ref_roles(refs)

    for case in build_cases(suite):
        tick(case.name)
        inputs = case.inputs()
        outs, images = {}, {}
        for label, D in {**floats, **refs}.items():
            if D.semantics.kind == "exact" and not case.rational:
                continue
            t = time.perf_counter()
            try:
                with _ap.probing(D, case.kind == "op") as probe:
                    out = run_case(case, D, inputs)
                vals = _outputs(D, out)
                imgs = [_image(D, v) for v in vals]
            except Exception as e:  # noqa: BLE001
                reraise_interrupt(e)
                if _is_user_error(e):
                    res.notes.append(f"{case.name}@{label}: {type(e).__name__}: {e}")
                    continue
                add(Check(f"run:{case.name}@{label}", "run", "fail",
                          f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}",
                          time.perf_counter() - t))
                continue
            outs[label], images[label] = (out, vals), imgs
            if _hashable(D, case_prims(case)):
                for i, (f, h) in enumerate(imgs):
                    key = f"{case.name}@{label}" + (f"/{i}" if len(imgs) > 1 else "")
                    res.hashes[key] = h
                    if keep_values and D.is_float and D.format is not None:
                        res.values[key] = (_compact_values(f, D.format), D.format)
            else:
                res.unhashed += 1
            # (2) declared bounds
            if D.is_float and case.finite:
                st = msg = None
                try:
                    if case.kind == "prim" and case.prim:
                        st, msg = check_prim_bound(case, D, inputs, out)
                    elif case.kind == "op" and len(vals) == 1:
                        f = imgs[0][0]
                        ap = _ap.node_apriori(probe, vals[0], f)
                        if ap is not None and ap.ratio is not None:
                            st = "pass" if ap.ratio <= 1 else "fail"
                            msg = f"local a-priori bound {ap.what}: observed/bound {ap.ratio:.3g}"
                except Exception as e:  # noqa: BLE001
                    reraise_interrupt(e)
                    st, msg = "fail", f"{type(e).__name__} while checking: {e}"
                if st is not None:
                    add(Check(f"bound:{case.name}@{label}", "bound", st, msg, time.perf_counter() - t))
        # (1) bits
        for a, b in pairs:
            if a not in images or b not in images:
                continue
            name = f"bits:{case.name}:{a}=={b}"
            if bit_promise(floats[a], floats[b], case_prims(case)):
                continue
            ha = [h for _, h in images[a]]
            hb = [h for _, h in images[b]]
            if ha == hb:
                add(Check(name, "bits", "pass", "bit-identical"))
            else:
                add(Check(name, "bits", "fail", _first_diff(images[a], images[b])))
        # (3) enclosure
        if fixed is not None and case.finite and (case.rational and exact is not None
                                                  or case.kind == "prim" and case.prim in _MP_PRIMS):
            t = time.perf_counter()
            try:
                st, msg = check_enclosure(case, fixed, exact, inputs)
            except Exception as e:  # noqa: BLE001
                reraise_interrupt(e)
                st, msg = ("skip", f"{type(e).__name__}: {e}") if _is_user_error(e) else \
                          ("fail", f"{type(e).__name__}: {e}")
            add(Check(f"enclosure:{case.name}", "enclosure", st, msg, time.perf_counter() - t))

    if models:
        for name, config in model_cases(suite):
            tick(f"model:{name}")
            _audit_model(res, name, config, floats, refs, pairs)

    if res.unhashed:
        res.notes.append(f"{res.unhashed} outputs reduced in the unspecified native (BLAS) order are "
                         f"not bit-hashed (their bits follow the BLAS build and thread count); "
                         f"their bounds are checked")
    if baseline is not None:
        compare_baseline(res, baseline)
    res.seconds = time.perf_counter() - t0
    return res


def _first_diff(ia, ib):
    for k, ((fa, _), (fb, _)) in enumerate(zip(ia, ib)):
        fa, fb = np.asarray(fa).ravel(), np.asarray(fb).ravel()
        if fa.shape != fb.shape:
            return f"output {k}: shapes differ"
        same = (fa == fb) & (np.signbit(fa) == np.signbit(fb)) | (np.isnan(fa) & np.isnan(fb))
        if not same.all():
            i = int(np.flatnonzero(~same)[0])
            return (f"output {k}: {int((~same).sum())} elements differ; first at {i}: "
                    f"{fa[i]!r} vs {fb[i]!r}")
    return "outputs differ"


def _ref_roles(refs):
    """(exact, fixed, tight) among the audited references: the exact domain, the
    enclosure of fixed precision (fast, checked against the exact values) and the
    enclosure of highest precision (the tight reference); None where absent."""
    exact = next((D for D in refs.values() if D.semantics.kind == "exact"), None)
    encl = sorted((D for D in refs.values() if D.semantics.kind == "enclosure"),
                  key=lambda D: D.semantics.precision)
    fixed = next((D for D in encl if math.isfinite(D.semantics.precision)), None)
    return exact, fixed, (encl[-1] if encl else None)


def _audit_model(res, name, config, floats, refs, pairs):
    from .envelope import run_domains
    add = res.checks.append
    t = time.perf_counter()
    exact, fixed, tight = _ref_roles(refs)
    # the tight reference where it is audited (the default), else the fixed-precision one
    ref = tight if not _is_rational(name, config) else None
    if ref is None:
        ref = fixed
    labels = list(floats)
    if ref is None and floats:
        # no rigorous reference: the most precise float domain, when it is more precise
        # than every other, observes the others
        best = max(floats.values(), key=lambda D: D.semantics.precision)
        others = [lb for lb, D in floats.items() if D.semantics.precision < best.semantics.precision]
        if others and len(others) == len(floats) - 1:
            ref, labels = best, others
    if ref is None or not labels:
        add(Check(f"run:model:{name}", "run", "skip", "no reference or float domain to audit it with"))
        return
    mname = f"model:{name}/{config}"
    try:
        env = run_domains(name, None, [floats[lb] for lb in labels], ref, config=config, compare=[],
                          decision="auto", keep="all" if res.keep_values else ())
    except Exception as e:  # noqa: BLE001
        reraise_interrupt(e)
        st = "skip" if _is_user_error(e) else "fail"
        add(Check(f"run:{mname}", "run", st, f"{type(e).__name__}: {e}", time.perf_counter() - t))
        return
    add(Check(f"run:{mname}", "run", "pass", f"{len(env.nodes)} nodes under {', '.join(env.domains)} vs {env.reference}",
              time.perf_counter() - t))
    for lb in env.domains:
        bad, n_ap = [], 0
        hashable = lb not in floats or _hashable(floats[lb], ("dot",))
        for s in env.stats(lb):
            if hashable:
                res.hashes[f"{mname}:{s.name}@{lb}"] = s.hash
                f = env.tensors.pop((lb, s.name), None)
                if f is not None:
                    res.values[f"{mname}:{s.name}@{lb}"] = (_compact_values(f, floats[lb].format), floats[lb].format)
            else:
                res.unhashed += 1
            if s.apriori_ratio is not None:
                n_ap += 1
                if s.apriori_ratio > 1:
                    bad.append(f"{s.name}: observed/a-priori {s.apriori_ratio:.3g}")
            if s.holds is False:
                bad.append(f"{s.name}: observed {s.max_abs:.3g} > rigorous bound {s.bound_abs:.3g}")
        add(Check(f"bound:{mname}@{lb}", "bound", "fail" if bad else "pass",
                  "; ".join(bad) if bad else f"{n_ap} local a-priori bounds hold; every node within its envelope"))
    for a, b in pairs:
        if a in env.domains and b in env.domains:
            # models use elementary functions whose accuracy differs across these domains
            # unless every primitive is correctly rounded in both; the hashes decide per node
            ha = {s.name: s.hash for s in env.stats(a)}
            hb = {s.name: s.hash for s in env.stats(b)}
            if bit_promise(floats[a], floats[b], _model_prims(name, config)):
                continue
            diff = [n for n in env.nodes if ha.get(n) != hb.get(n)]
            add(Check(f"bits:{mname}:{a}=={b}", "bits", "fail" if diff else "pass",
                      f"first differing node {diff[0]} ({len(diff)} differ)" if diff else "bit-identical at every node"))
    if exact is not None and ref is fixed and env and _is_rational(name, config):
        _model_enclosure(res, name, config, fixed, exact, mname)


def _is_rational(name, config):
    from fpsem.models import get_model
    return bool(getattr(get_model(name, config=config), "is_rational", False))


_MODEL_PRIMS = {}


def _model_prims(name, config):
    key = (name, config)
    if key not in _MODEL_PRIMS:
        from fpsem.models import get_model
        from .record import resolve_model
        used = set()
        D = make_domain("float64")
        spec = resolve_model(get_model(name, config=config))
        # every primitive the forward reaches, nested ones included (conversions aside)
        with trace.observe(lambda c: used.add(c.name) if c.name in PRIMITIVES else None, domain=D):
            spec.forward(D, *spec.inputs)
        _MODEL_PRIMS[key] = tuple(sorted(used - {"to_fraction", "to_float64"})) + ("asarray",)
    return _MODEL_PRIMS[key]


def _model_enclosure(res, name, config, I, E, mname):
    from .record import record, reference_data, resolve_model
    t = time.perf_counter()
    spec = resolve_model(name, None, config)
    ex = {}
    record(spec, E, lambda n, x: ex.__setitem__(n, reference_data(E, x, "exact")))
    bad, n = [], 0
    iv = {}
    record(spec, I, lambda nm, x: iv.__setitem__(nm, reference_data(I, x, "enclosure")))
    for node, r in ex.items():
        if node not in iv:
            continue
        lo, hi = iv[node].lo.ravel(), iv[node].hi.ravel()
        q = np.asarray(r.fracs, dtype=object).ravel()
        for i in range(q.size):
            n += 1
            if not (Fraction(float(lo[i])) <= q[i] <= Fraction(float(hi[i]))):
                bad.append(f"{node}[{i}]")
                break
    add = res.checks.append
    add(Check(f"enclosure:{mname}", "enclosure", "fail" if bad else "pass",
              f"exact value outside the interval at {', '.join(bad[:5])}" if bad else f"{n} exact node values enclosed",
              time.perf_counter() - t))


# -- baselines -------------------------------------------------------------------------
class Baseline(dict):
    """name -> sha256 of a recorded baseline, plus where its values are (`values_path`,
    `values_sha256`: a compressed .npz beside the JSON; None for hash-only baselines)."""
    values_path = None
    values_sha256 = None
    _values = None

    def values(self):
        """name -> recorded float64 values, or None with the reason (a string)."""
        if self._values is not None:
            return self._values
        if self.values_path is None:
            return None, "the baseline records hashes only"
        from fpsem.io import sha256_file
        try:
            if sha256_file(self.values_path) != self.values_sha256:
                return None, f"{os.path.basename(self.values_path)} does not match the baseline (rewritten since?)"
            with np.load(self.values_path, allow_pickle=False) as z:
                index = json.loads(str(z["__index__"]))
                self._values = ({name: z[key].astype(np.float64) for name, key in index.items()}, "")
        except (OSError, ValueError, KeyError) as e:
            return None, f"{os.path.basename(self.values_path)} unreadable ({type(e).__name__})"
        return self._values


def _compact_values(f, fmt):
    """Values kept for drift detail: binary32 when the format's values all are (exact)."""
    f = np.asarray(f, dtype=np.float64)
    return f.astype(np.float32) if fmt.p <= 24 and fmt.emin >= -126 and fmt.emax <= 127 else f.copy()


def values_file(path):
    """The .npz that holds a baseline's values: beside it, named after it."""
    return os.fspath(path) + ".values.npz"


def load_baseline(path):
    try:
        with open(path) as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise FpsemError(f"baseline {path}: no such file (record one with --update-baseline)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise FpsemError(f"baseline {path}: not a readable JSON file ({type(e).__name__})") from None
    hashes = data.get("hashes") if isinstance(data, dict) else None
    if not isinstance(hashes, dict):
        raise FpsemError(f"baseline {path}: no 'hashes' table (write one with --update-baseline)")
    bad = next((k for k, v in hashes.items() if not isinstance(v, str)), None)
    if bad is not None:
        raise FpsemError(f"baseline {path}: hash of {bad!r} is not a string")
    base = Baseline(hashes)
    v = data.get("values")
    if isinstance(v, dict) and isinstance(v.get("file"), str) and isinstance(v.get("sha256"), str):
        base.values_path = os.path.join(os.path.dirname(os.path.abspath(path)), os.path.basename(v["file"]))
        base.values_sha256 = v["sha256"]
    return base


def write_baseline(res, path):
    """The hashes as JSON at `path` and, when the run kept them, the values in
    `values_file(path)` (compressed .npz, written first; the JSON records its sha256,
    so a values file from another run is recognised and not used)."""
    from fpsem.io import atomic_write, json_header, sha256_file, write_json
    data = {**json_header("audit-baseline"), "fpsem_audit_baseline": 1, "suite": res.suite,
            "platform": res.to_dict()["platform"]}
    if res.values:
        vp = values_file(path)
        names = sorted(n for n in res.values if n in res.hashes)
        index = {n: f"v{i}" for i, n in enumerate(names)}
        arrays = {index[n]: res.values[n][0] for n in names}
        arrays["__index__"] = np.array(json.dumps(index))
        atomic_write(vp, lambda fh: np.savez_compressed(fh, **arrays), binary=True)
        data["values"] = {"file": os.path.basename(vp), "sha256": sha256_file(vp)}
    data["hashes"] = dict(sorted(res.hashes.items()))
    write_json(path, data)


def drift_detail(old, new, fmt):
    """'3 of 1,024 elements changed, by at most 2 ulp; first at (0, 5): old -> new'."""
    from ._num import ulp_distance
    old, new = np.asarray(old, dtype=np.float64), np.asarray(new, dtype=np.float64)
    if old.shape != new.shape:
        return f"shape changed: {old.shape} -> {new.shape}"
    same = (old == new) & (np.signbit(old) == np.signbit(new)) | (np.isnan(old) & np.isnan(new))
    n = int((~same).sum())
    if n == 0:
        return "values equal (only NaN payloads or the hash changed)"
    d = ulp_distance(old[~same], new[~same], fmt)
    fin = d[np.isfinite(d)]
    by = (f"by at most {fin.max():.0f} ulp ({fmt.name})" if fin.size else "") + \
         (f"{', ' if fin.size else ''}{int(np.isnan(d).sum())} to or from NaN" if np.isnan(d).any() else "")
    w = tuple(int(i) for i in np.unravel_index(int(np.flatnonzero(~same.ravel())[0]), old.shape))
    return (f"{n:,} of {old.size:,} elements changed, {by}; first at {w}: "
            f"{float(old[w])!r} -> {float(new[w])!r}")


def compare_baseline(res, baseline):
    """One baseline check per audited output present in both; drift is a finding,
    with how many elements changed and by how many ulps where the baseline kept values."""
    missing = sorted(set(baseline) - set(res.hashes))
    new = sorted(set(res.hashes) - set(baseline))
    for name in sorted(set(baseline) & set(res.hashes)):
        if baseline[name] == res.hashes[name]:
            res.checks.append(Check(f"baseline:{name}", "baseline", "pass", "bits unchanged"))
            continue
        msg = f"bit drift: sha256 {res.hashes[name][:16]}... != baseline {baseline[name][:16]}..."
        old, why = baseline.values() if isinstance(baseline, Baseline) else (None, "")
        if old is not None and name in old and name in res.values:
            msg = "bit drift: " + drift_detail(old[name], res.values[name][0], res.values[name][1])
        elif why:
            msg += f" (element counts and ulps unavailable: {why})"
        res.checks.append(Check(f"baseline:{name}", "baseline", "fail", msg))
    if missing:
        res.notes.append(f"{len(missing)} baseline entries not audited in this run (domain unavailable?), "
                         f"e.g. {missing[0]}")
    if new:
        # an output the baseline does not cover is not drift-checked: a finding
        res.checks.append(Check("baseline:coverage", "baseline", "fail",
                                f"{len(new)} audited outputs are not in the baseline, e.g. {new[0]} "
                                f"(record a new one with --update-baseline)"))
