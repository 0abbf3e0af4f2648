"""Exhaustive and sampled checks of the emulator's correctly rounded functions.

    >>> from fpsem.bridges.verify import verify
    >>> r = verify("exp", modes="all", lo=0x3F800000, hi=0x3F900000)
    >>> r.ok, r.total, r.mismatches, r.rate

Every binary32 input in a range of encodings (or a seeded sample of it) goes
through the function under test (default `fpsem.emu.binary32.<func>`) and
through an oracle that shares no code with the emulator:

1. A fast filter: y = f(x) evaluated in binary64 by numpy (libm for erf), assumed
   within a relative 2**-40 of f(x) (about 8000 binary64 ulps, a margin of > 1000x
   over the few ulps libm and numpy document), so f(x) lies in
   [y - |y| 2**-40, y + |y| 2**-40]. Where that interval lies strictly inside
   one rounding cell of binary32 (between two neighbours, and on one side of
   their midpoint for the nearest modes) the rounding in the requested mode is
   decided (floor of the value in units of the binary32 quantum, exact in
   binary64). Where binary64 cannot resolve f(x) because it
   is within far less than an ulp of a binary32 value (exp(x) ~ 1 for tiny x,
   sin(x) ~ x, tanh(x) ~ +-1, ...), f(x) is "base + perturbation of known sign
   smaller than half a quantum", and the sign decides the rounding (`_rule`,
   with the inequality each one needs). Everything after the binary64 values is
   one compiled pass per lane (numba, `_kernel`).
2. MPFR (gmpy2) for everything else: its own correctly rounded function in a
   binary32 context (24 bits, subnormalize), special inputs from IEEE 754-2019
   clause 9.2, sigmoid with MPFR interval bounds and a Ziv loop, rna as rne
   except for exact results (the only place a tie can be).
3. Every lane where the filter and the function under test disagree is
   re-decided by MPFR, so a reported mismatch is MPFR's verdict; a disagreement
   of the filter with MPFR is counted (`filter_errors`) and would mean the filter's
   assumption is wrong. A seeded audit re-checks `audit` filter-decided lanes per
   chunk with MPFR as well.

Work is cut into coarse tasks (default 2**24 encodings, one to four seconds each,
processed in blocks of 2**22)
and run on Dask (`fpsem.bridges.dask_run`) or serially. Results compare the
encodings; any NaN matches any NaN (payloads are presets, tested elsewhere);
flags are not compared.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from fpsem.errors import FpsemError

FUNCS = ("exp", "exp2", "log", "tanh", "erf", "sigmoid", "sin", "cos", "rsqrt")
MODES = ("rne", "rtz", "rup", "rdn", "rna")
EPS = 2.0 ** -40
CHUNK = 1 << 24   # encodings per task: a second or more of work even in one mode
BLOCK = 1 << 22   # encodings per vectorized pass inside a task (about 0.5 GB of temporaries)
N_ENC = 1 << 32
_TWO128 = 2.0 ** 128
_FLT_MAX = float(np.finfo(np.float32).max)


class VerifyError(FpsemError):
    """A bad verify request (unknown function, mode, format or range)."""


# -- the fast filter -------------------------------------------------------------
# Regions where f(x) = sign(b) (|b| + s tiny) with 0 < tiny < half the binary32 quantum
# on that side of |b| (s = +1: magnitude above |b|, -1: below), so the sign s alone
# decides the rounding (`_rule`). Why each bound holds:
#   exp, exp2 |x| < 2**-26: |f - 1| < 2**-25 (half the quantum below 1), sign of x
#   exp x < -104, exp2 x < -151, sigmoid x < -104: 0 < f < 2**-150 (half of 2**-149)
#   tanh, sin |x| < 2**-12: |x| - |f| <= |x|**3/3 < half the quantum below |x|
#   cos |x| < 2**-12: 1 - cos x <= x**2/2 < 2**-25
#   tanh |x| >= 10: 1 - |tanh x| = 2/(e**(2|x|) + 1) <= 4.2e-9 < 2**-25
#   erf |x| >= 4: erfc(4) < 1.6e-8 < 2**-25
#   sigmoid |x| < 2**-24: |f - 1/2| < |x|/4 < 2**-26 (half the quantum below 1/2)
#   sigmoid x >= 18: 1 - f < e**-18 < 1.6e-8 < 2**-25
_FC = {f: i for i, f in enumerate(FUNCS)}
_EXP, _EXP2, _LOG, _TANH, _ERF_C, _SIGMOID, _SIN, _COS, _RSQRT = range(len(FUNCS))
_MODE_CODE = {"rne": 0, "rna": 0, "rtz": 1, "rup": 2, "rdn": 3}
_KERNEL = None


def _kernel():
    """The per-lane filter (`filter_decide`), compiled once (numba, cached): the
    binary64 values come in from numpy; special cases, the perturbation rules and
    the rounding-cell test run here in one pass."""
    global _KERNEL
    if _KERNEL is not None:
        return _KERNEL
    from numba import njit
    jit = njit(cache=True, error_model="numpy", boundscheck=False)

    @jit
    def pow2(k):
        return np.int64((k + 1023) << 52).view(np.float64)

    @jit
    def qexp(m):
        # k with 2**k the binary32 ulp of the binade [2**(e-1), 2**e) holding m > 0:
        # e - 24, -149 for subnormals, the top binade's 104 above (e from the bits)
        e = ((np.float64(m).view(np.int64) >> 52) & 0x7FF) - 1022
        return min(max(e - 24, -149), 104)

    @jit
    def quantum(m):
        return pow2(qexp(m))

    @jit
    def rule(fc, x):
        # (applies, b, s) for the regions listed above
        ax = abs(x)
        sg = -1.0 if x < 0 else 1.0
        if fc == _EXP or fc == _EXP2:
            if ax < 2.0 ** -26:
                return True, 1.0, sg
            if x < (-104.0 if fc == _EXP else -151.0):
                return True, 0.0, 1.0
        elif fc == _TANH:
            if ax < 2.0 ** -12:
                return True, x, -1.0
            if ax >= 10.0:
                return True, sg, -1.0
        elif fc == _SIN:
            if ax < 2.0 ** -12:
                return True, x, -1.0
        elif fc == _COS:
            if ax < 2.0 ** -12:
                return True, 1.0, -1.0
        elif fc == _ERF_C:
            if ax >= 4.0:
                return True, sg, -1.0
        elif fc == _SIGMOID:
            if ax < 2.0 ** -24:
                return True, 0.5, sg
            if x >= 18.0:
                return True, 1.0, -1.0
            if x < -104.0:
                return True, 0.0, 1.0
        return False, 0.0, 0.0

    @jit
    def perturbed(b, s):
        # a binary64 point that rounds in every mode as sign(b)(|b| + s tiny) does:
        # |b| +- a quarter of the quantum on that side (b a binary32 value)
        m = abs(b)
        if m == 0:
            return 2.0 ** -151
        qa = quantum(m)
        # the quantum below |b| halves when |b| is a power of two above the subnormals
        pow_of_2 = (np.float64(m).view(np.int64) & 0xFFFFFFFFFFFFF) == 0
        qb = qa / 2 if pow_of_2 and m >= 2.0 ** -125 else qa
        p = m + qa / 4 if s > 0 else m - qb / 4
        return -p if b < 0 else p

    @jit
    def decide(a, b, mode):
        # (ok, r): every real in [a, b] rounds in `mode` to the binary32 value r, no ties
        if a > 0:
            neg, ml, mh = False, a, b
        elif b < 0:
            neg, ml, mh = True, -b, -a
        else:
            return False, 0.0   # contains zero (or NaN): undecided
        if ml >= _TWO128:
            # beyond the range: nearest and away-from-zero give infinity, towards zero
            # the largest finite value
            away = mode == 0 or (mode == 2 and not neg) or (mode == 3 and neg)
            R = math.inf if away else _FLT_MAX
        else:
            k = qexp(ml)
            if qexp(min(mh, _TWO128)) != k:
                return False, 0.0
            q = pow2(k)
            kl = ml * pow2(-k)     # exact: scaling by a power of two
            kh = mh * pow2(-k)
            fl = math.floor(kl)
            if math.floor(kh) != fl:
                return False, 0.0
            rl = kl - fl           # position in the cell, exact
            rh = kh - fl
            if rl <= 0.0 or rh <= 0.0:
                return False, 0.0  # a binary32 value inside [a, b]
            if mode == 0:
                if rl == 0.5 or rh == 0.5 or (rl < 0.5) != (rh < 0.5):
                    return False, 0.0   # straddles or touches the midpoint
                away = rl > 0.5
            elif mode == 1:
                away = False
            elif mode == 2:
                away = not neg
            else:
                away = neg
            R = (fl + (1.0 if away else 0.0)) * q
            if R >= _TWO128:
                R = math.inf
        return True, (-R if neg else R)

    @jit
    def kernel(x, y, fc, mode, eps, out, ok):
        for i in range(x.size):
            xi = x[i]
            # invalid operations: NaN in, log / rsqrt of x < 0, sin / cos of infinity
            if xi != xi or ((fc == _LOG or fc == _RSQRT) and xi < 0) or \
                    ((fc == _SIN or fc == _COS) and math.isinf(xi)):
                out[i] = np.float32(np.nan)
                ok[i] = True
                continue
            # zeros, infinities, log(1), exact exp2 results (and the tie 2**-150):
            # MPFR decides; outside [-151, 128) exp2's rule or the overflow does
            if math.isinf(xi) or xi == 0 or (fc == _LOG and xi == 1.0) or \
                    (fc == _EXP2 and xi == math.floor(xi) and -151.0 <= xi < 128.0):
                continue
            hit, b, s = rule(fc, xi)
            if hit:
                lo = hi = perturbed(b, s)
            else:
                yi = y[i]
                if yi != yi:
                    continue
                d = 0.0 if math.isinf(yi) else abs(yi) * eps   # f64 overflow: f(x) >= 2**1024
                lo, hi = yi - d, yi + d
            good, r = decide(lo, hi, mode)
            if good:
                out[i] = np.float32(r)
                ok[i] = True

    _KERNEL = kernel
    return kernel


def _erf_scalar(v):
    return math.erf(v)


_ERF = None


def _f64(func, x):
    """binary64 evaluation of func at binary64 x: numpy's own loops (SIMD where numpy
    has them, so mostly not the libm calls the emulator's first pass makes); erf
    through libm (numba)."""
    global _ERF
    with np.errstate(all="ignore"):
        if func == "exp":
            return np.exp(x)
        if func == "exp2":
            return np.exp2(x)
        if func == "log":
            return np.log(x)
        if func == "tanh":
            return np.tanh(x)
        if func == "erf":
            if _ERF is None:
                from numba import vectorize
                _ERF = vectorize(["float64(float64)"], cache=True)(_erf_scalar)
            return _ERF(x)
        if func == "sin":
            return np.sin(x)
        if func == "cos":
            return np.cos(x)
        if func == "sigmoid":
            return 1.0 / (1.0 + np.exp(-x))
        if func == "rsqrt":
            return 1.0 / np.sqrt(x)
    raise VerifyError(f"verify: unknown function {func!r}; known: {', '.join(FUNCS)}")


def filter_values(func, x32):
    """(x, y): binary32 inputs as binary64 and func evaluated there in binary64."""
    with np.errstate(invalid="ignore"):   # signalling NaNs
        x = np.ascontiguousarray(x32, dtype=np.float32).astype(np.float64)
    return x, np.ascontiguousarray(_f64(func, x), dtype=np.float64)


def filter_decide(func, x32, mode, eps=EPS, values=None):
    """(ok, bits) for binary32 inputs x32 (float32 array): the fast filter. f(x) lies in
    [y - |y| eps, y + |y| eps] (y the binary64 value) or is given by a rule; where
    every real there rounds alike in `mode`, ok and bits is that encoding (NaN
    results: ok, a quiet NaN)."""
    if mode not in _MODE_CODE:
        raise VerifyError(f"verify: unknown rounding mode {mode!r}; known: {', '.join(MODES)}")
    if func not in _FC:
        raise VerifyError(f"verify: unknown function {func!r}; known: {', '.join(FUNCS)}")
    x, y = values if values is not None else filter_values(func, x32)
    out = np.zeros(x.shape, np.float32)
    ok = np.zeros(x.shape, np.bool_)
    _kernel()(x.ravel(), y.ravel(), _FC[func], _MODE_CODE[mode], float(eps), out.ravel(), ok.ravel())
    return ok, out.view(np.uint32)


# -- the MPFR oracle --------------------------------------------------------------
_QNAN = "nan"
_NAN32 = 0x7FC00000


def _special(func, x):
    """IEEE 754-2019 9.2 results for zero and infinite x (a float), or None."""
    if x == 0:
        neg = math.copysign(1.0, x) < 0
        return {"exp": 1.0, "exp2": 1.0, "cos": 1.0, "sigmoid": 0.5, "log": -math.inf,
                "rsqrt": -math.inf if neg else math.inf}.get(func, x)   # odd functions keep -0
    if math.isinf(x):
        s = 1.0 if x > 0 else -1.0
        return {"exp": math.inf if s > 0 else 0.0, "exp2": math.inf if s > 0 else 0.0,
                "log": math.inf if s > 0 else _QNAN, "tanh": s, "erf": s, "sin": _QNAN, "cos": _QNAN,
                "sigmoid": 1.0 if s > 0 else 0.0, "rsqrt": 0.0 if s > 0 else _QNAN}[func]
    return None


def _ctx(mode):
    import gmpy2
    rnd = {"rne": gmpy2.RoundToNearest, "rna": gmpy2.RoundToNearest, "rtz": gmpy2.RoundToZero,
           "rup": gmpy2.RoundUp, "rdn": gmpy2.RoundDown}[mode]
    # binary32 in MPFR's convention (m in [1/2, 1)): emin -148, emax 128
    return gmpy2.context(precision=24, emin=-148, emax=128, subnormalize=True, round=rnd)


def _enc(v):
    if v == _QNAN:
        return _QNAN
    return int(np.array(float(v), dtype=np.float32).view(np.uint32))


def mpfr_oracle(func, bits, mode):
    """The correctly rounded binary32 result of func at encoding `bits` in `mode`
    (an int encoding, or 'nan'), from MPFR alone."""
    import gmpy2
    from gmpy2 import mpfr
    x = float(np.array(bits, dtype=np.uint32).view(np.float32))
    if math.isnan(x):
        return _QNAN
    sp = _special(func, x)
    if sp is not None:
        return _enc(sp)
    if func in ("log", "rsqrt") and x < 0:
        return _QNAN
    if func == "sigmoid":
        return _enc(_sigmoid(x, mode))
    f = getattr(gmpy2, {"rsqrt": "rec_sqrt"}.get(func, func))
    if mode == "rna":
        # a tie needs an exact result: round those from a 300-bit evaluation
        with gmpy2.context(precision=300, emin=-10 ** 6, emax=10 ** 6) as c:
            v = f(mpfr(x))
            exact = not c.inexact
        if exact:
            from fractions import Fraction

            from fpsem.formats import binary32, decode, round_fraction
            return _enc(decode(round_fraction(Fraction(*v.as_integer_ratio()), binary32, "rna").bits, binary32))
    with _ctx(mode):
        return _enc(f(mpfr(x)))


def _sigmoid(x, mode):
    """1/(1 + e**-x) between MPFR lower and upper bounds, doubled in precision until
    both round alike (sigmoid(x) is transcendental for x != 0: no tie, no exact case)."""
    import gmpy2
    from gmpy2 import mpfr
    # beyond +-200 sigmoid is monotone and 1 - sigmoid(200), sigmoid(-200) < e**-200: no
    # binary32 value or midpoint lies between sigmoid(+-200) and 1 (resp. 0), so every
    # mode rounds sigmoid(x) as sigmoid(+-200) (and e**-x stays inside MPFR's range)
    x = max(-200.0, min(200.0, x))
    prec = 64
    while prec <= 1 << 14:
        ends = []
        for down in (True, False):
            # lower bound of 1/(1+t) takes the upper bound of t, and vice versa
            with gmpy2.context(precision=prec, emin=-10 ** 6, emax=10 ** 6,
                               round=gmpy2.RoundUp if down else gmpy2.RoundDown):
                t = gmpy2.exp(mpfr(-x))
                den = t + 1
            with gmpy2.context(precision=prec, emin=-10 ** 6, emax=10 ** 6,
                               round=gmpy2.RoundDown if down else gmpy2.RoundUp):
                v = 1 / den
            with _ctx(mode):
                ends.append(float(+v))
        if ends[0] == ends[1]:
            return ends[0]
        prec *= 2
    raise AssertionError(f"sigmoid({x!r}): Ziv loop did not converge")


# -- one chunk --------------------------------------------------------------------
def default_impl(func):
    """The emulator's function as impl(bits, rounding) -> bits."""
    import functools
    return functools.partial(_emu_call, func)


def _emu_call(func, bits, rounding):
    from fpsem.emu import binary32
    return getattr(binary32, func)(bits, rounding=rounding)[0]


def _isnan32(b):
    b = np.asarray(b, dtype=np.uint32)
    return ((b & 0x7F800000) == 0x7F800000) & ((b & 0x007FFFFF) != 0)


def _same(a, b):
    """Equal encodings, or both NaN."""
    a = np.asarray(a, dtype=np.uint32)
    b = np.asarray(b, dtype=np.uint32)
    return (a == b) | (_isnan32(a) & _isnan32(b))


def chunk_encodings(lo, hi, sample, seed, index, start, stop):
    """The encodings of one chunk: [start, stop) of the range, or its share of a
    seeded sample (drawn per chunk, so chunking is part of the spec and reproducible)."""
    if sample is None:
        return np.arange(start, stop, dtype=np.uint64).astype(np.uint32)
    rng = np.random.default_rng([int(seed), int(index)])
    return rng.integers(lo, hi, size=stop - start, dtype=np.uint64).astype(np.uint32)


def check_chunk(func, modes, bits, impl=None, audit=64, seed=0, max_examples=20):
    """Check impl against the oracle on the encodings `bits` in every mode; a dict."""
    t0 = time.perf_counter()
    impl = impl or default_impl(func)
    x32 = np.asarray(bits, dtype=np.uint32).view(np.float32)
    out = {"n": int(bits.size), "modes": {}}
    rng = np.random.default_rng([int(seed), int(bits[0]) if bits.size else 0, bits.size])
    values = filter_values(func, x32)
    for mode in modes:
        got = np.asarray(impl(bits, mode), dtype=np.uint32).reshape(bits.shape)
        ok, want = filter_decide(func, x32, mode, values=values)
        st = {"mpfr": 0, "mismatches": 0, "examples": [], "filter_errors": 0, "filter_examples": [],
              "audited": 0}
        # undecided lanes and lanes where the filter and impl disagree: MPFR decides
        idx = np.flatnonzero(~ok | (got != want))
        idx = idx[~ok[idx] | ~_same(got[idx], want[idx])]   # any NaN matches any NaN
        if audit and ok.any():
            dec = np.flatnonzero(ok)
            pick = rng.choice(dec, size=min(audit, dec.size), replace=False)
            st["audited"] = int(pick.size)
            idx = np.union1d(idx, pick)
        st["mpfr"] = int(idx.size)
        for i in idx:
            w = mpfr_oracle(func, int(bits[i]), mode)
            g = int(got[i])
            if ok[i] and not _same(want[i], _NAN32 if w == _QNAN else w):
                st["filter_errors"] += 1
                if len(st["filter_examples"]) < max_examples:
                    st["filter_examples"].append([f"0x{int(bits[i]):08x}", f"0x{int(want[i]):08x}",
                                                  w if w == _QNAN else f"0x{w:08x}"])
            good = bool(_isnan32(g)) if w == _QNAN else g == w
            if not good:
                st["mismatches"] += 1
                if len(st["examples"]) < max_examples:
                    st["examples"].append({"x": f"0x{int(bits[i]):08x}",
                                           "x_value": repr(float(x32[i])),
                                           "got": f"0x{g:08x}",
                                           "want": w if w == _QNAN else f"0x{w:08x}"})
        out["modes"][mode] = st
    out["seconds"] = time.perf_counter() - t0
    return out


def _run_chunk(func, modes, lo, hi, sample, seed, index, start, stop, impl, audit):
    """One task: its encodings in blocks of BLOCK (bounded memory), results merged."""
    bits = chunk_encodings(lo, hi, sample, seed, index, start, stop)
    total = None
    for b in range(0, bits.size, BLOCK):
        r = check_chunk(func, modes, bits[b:b + BLOCK], impl=impl, audit=audit, seed=seed)
        if total is None:
            total = r
            continue
        total["n"] += r["n"]
        total["seconds"] += r["seconds"]
        for m, st in r["modes"].items():
            t = total["modes"][m]
            for k in ("mpfr", "mismatches", "filter_errors", "audited"):
                t[k] += st[k]
            t["examples"] = (t["examples"] + st["examples"])[:20]
            t["filter_examples"] = (t["filter_examples"] + st["filter_examples"])[:20]
    total["index"] = index
    return total


# -- the whole check ----------------------------------------------------------------
@dataclass
class VerifyResult:
    func: str
    modes: list
    lo: int
    hi: int
    sample: int | None
    total: int = 0                      # inputs checked per mode
    chunks: int = 0
    mismatches: dict = field(default_factory=dict)      # mode -> count
    examples: dict = field(default_factory=dict)        # mode -> [{x, got, want}]
    mpfr: dict = field(default_factory=dict)            # mode -> lanes MPFR decided
    filter_errors: dict = field(default_factory=dict)   # mode -> count (should be 0)
    filter_examples: dict = field(default_factory=dict)
    audited: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0                  # sum of the chunks' own times
    workers: int = 1

    @property
    def ok(self):
        return not any(self.mismatches.values()) and not any(self.filter_errors.values())

    @property
    def rate(self):
        """Checked (input, mode) pairs per second of wall time."""
        return self.total * len(self.modes) / self.wall_s if self.wall_s else 0.0

    def to_dict(self):
        d = asdict(self)
        d.update(ok=self.ok, rate=self.rate)
        return d


def parse_modes(text):
    if text in (None, "", "all"):
        return list(MODES)
    modes = [m.strip().lower() for m in str(text).split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise VerifyError(f"verify: unknown rounding mode {bad[0] if bad else text!r}; "
                          f"use 'all' or a list of {', '.join(MODES)}")
    return list(dict.fromkeys(modes))


def parse_range(text):
    """'LO:HI' encodings (decimal or 0x hex), HI exclusive; None: all 2**32."""
    if text in (None, "", "all"):
        return 0, N_ENC
    a, sep, b = str(text).partition(":")
    try:
        lo = int(a, 0) if a.strip() else 0
        hi = int(b, 0) if b.strip() else N_ENC
    except ValueError:
        raise VerifyError(f"verify: --range {text!r} must be LO:HI encodings (e.g. 0x3f800000:0x40000000)") from None
    if not sep or not 0 <= lo < hi <= N_ENC:
        raise VerifyError(f"verify: --range {text!r} must be LO:HI with 0 <= LO < HI <= 2**32")
    return lo, hi


def verify(func, modes="all", fmt="binary32", lo=0, hi=N_ENC, sample=None, seed=0, chunk=CHUNK,
           client=None, impl=None, audit=64, progress=None) -> VerifyResult:
    """Check func (default: the emulator's) over encodings [lo, hi) or a seeded sample
    of `sample` of them, in `modes`; on the Dask `client` (None: serially here)."""
    if fmt != "binary32":
        raise VerifyError(f"verify: format {fmt!r} is not supported (binary32 only)")
    if func not in FUNCS:
        raise VerifyError(f"verify: unknown function {func!r}; known: {', '.join(FUNCS)}")
    modes = parse_modes(modes) if isinstance(modes, str) else list(modes)
    parse_modes(",".join(modes))
    if not 0 <= lo < hi <= N_ENC:
        raise VerifyError("verify: range must satisfy 0 <= lo < hi <= 2**32")
    if sample is not None and int(sample) < 1:
        raise VerifyError("verify: --sample must be at least 1")
    if int(chunk) < 1:
        raise VerifyError("verify: chunk must be at least 1")
    n = (hi - lo) if sample is None else int(sample)
    base = lo if sample is None else 0
    tasks = [(i, base + s, base + min(s + chunk, n)) for i, s in enumerate(range(0, n, chunk))]
    res = VerifyResult(func, modes, lo, hi, sample)
    for m in modes:
        res.mismatches[m], res.examples[m], res.mpfr[m] = 0, [], 0
        res.filter_errors[m], res.filter_examples[m] = 0, []
    args = [(func, modes, lo, hi, sample, seed, i, a, b, impl, audit) for i, a, b in tasks]
    t0 = time.perf_counter()
    from .dask_run import run_tasks
    for r in run_tasks(_run_chunk, args, client=client, progress=progress,
                       description=f"verify {func}"):
        res.total += r["n"]
        res.chunks += 1
        res.cpu_s += r["seconds"]
        for m, st in r["modes"].items():
            res.mismatches[m] += st["mismatches"]
            res.mpfr[m] += st["mpfr"]
            res.filter_errors[m] += st["filter_errors"]
            res.audited += st["audited"]
            res.examples[m] = sorted(res.examples[m] + st["examples"], key=lambda e: e["x"])[:20]
            res.filter_examples[m] = sorted(res.filter_examples[m] + st["filter_examples"])[:20]
    res.wall_s = time.perf_counter() - t0
    if client is not None:
        res.workers = sum(client.nthreads().values())
    return res
