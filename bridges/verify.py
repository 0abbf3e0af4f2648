"""Exhaustive and sampled checks of the emulator's correctly rounded functions.

    >>> from fpsem.bridges.verify import verify
    >>> r = verify("exp", modes="all", lo=0x3F800000, hi=0x3F900000)
    >>> r.ok, r.total, r.mismatches, r.rate

Every binary32 input in a range of encodings (or a seeded sample of it) goes
through the function under test (default `fpsem.emu.binary32.<func>`) and
through an oracle that shares no code with the emulator:

1. A fast filter (numpy, vectorized): y = f(x) evaluated in binary64 by numpy /
   libm, assumed within a relative 2**-40 of f(x) (about 8000 binary64 ulps, a
   margin of > 1000x over the few ulps libm and numpy document), so f(x) lies in
   [y - |y| 2**-40, y + |y| 2**-40]. Where that interval lies strictly inside
   one rounding cell of binary32 (between two neighbours, and on one side of
   their midpoint for the nearest modes) the rounding in the requested mode is
   decided (`_round_interval`: floor of the value in units of the binary32
   quantum, exact in binary64; a numba loop). Where binary64 cannot resolve f(x) because it
   is within far less than an ulp of a binary32 value (exp(x) ~ 1 for tiny x,
   sin(x) ~ x, tanh(x) ~ +-1, ...), f(x) is "base + perturbation of known sign
   smaller than half a quantum", and the sign decides the rounding (`_RULES`,
   with the inequality each one needs).
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
def _erf_scalar(v):
    return math.erf(v)


def _erf64():
    from numba import vectorize
    return vectorize(["float64(float64)"], cache=True)(_erf_scalar)


_ERF = None


def _f64(func, x):
    """binary64 evaluation of func at binary64 x (numpy, libm for erf)."""
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
                _ERF = _erf64()
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


# Regions where f(x) = sign(b) (|b| + s tiny) with 0 < tiny < half the binary32 quantum
# on that side of |b| (s = +1: magnitude above |b|, -1: below), so the sign s alone
# decides the rounding. Each entry: (mask(x), b(x), s(x)); why each bound holds:
#   exp, exp2 |x| < 2**-26: |f - 1| < 2**-25 (half the quantum below 1), sign of x
#   exp x < -104, exp2 x < -151, sigmoid x < -104: 0 < f < 2**-150 (half of 2**-149)
#   tanh, sin |x| < 2**-12: |x| - |f| <= |x|**3/3 < half the quantum below |x|
#   cos |x| < 2**-12: 1 - cos x <= x**2/2 < 2**-25
#   tanh |x| >= 10: 1 - |tanh x| = 2/(e**(2|x|) + 1) <= 4.2e-9 < 2**-25
#   erf |x| >= 4: erfc(4) < 1.6e-8 < 2**-25
#   sigmoid |x| < 2**-24: |f - 1/2| < |x|/4 < 2**-26 (half the quantum below 1/2)
#   sigmoid x >= 18: 1 - f < e**-18 < 1.6e-8 < 2**-25
def _sgn(x):
    return np.where(x < 0, -1.0, 1.0)


_RULES = {
    "exp": [(lambda x: np.abs(x) < 2.0 ** -26, lambda x: 1.0, _sgn),
            (lambda x: x < -104.0, lambda x: 0.0, lambda x: 1.0)],
    "exp2": [(lambda x: np.abs(x) < 2.0 ** -26, lambda x: 1.0, _sgn),
             (lambda x: x < -151.0, lambda x: 0.0, lambda x: 1.0)],
    "tanh": [(lambda x: np.abs(x) < 2.0 ** -12, lambda x: x, lambda x: -1.0),
             (lambda x: np.abs(x) >= 10.0, _sgn, lambda x: -1.0)],
    "sin": [(lambda x: np.abs(x) < 2.0 ** -12, lambda x: x, lambda x: -1.0)],
    "cos": [(lambda x: np.abs(x) < 2.0 ** -12, lambda x: 1.0, lambda x: -1.0)],
    "erf": [(lambda x: np.abs(x) >= 4.0, _sgn, lambda x: -1.0)],
    "sigmoid": [(lambda x: np.abs(x) < 2.0 ** -24, lambda x: 0.5, _sgn),
                (lambda x: x >= 18.0, lambda x: 1.0, lambda x: -1.0),
                (lambda x: x < -104.0, lambda x: 0.0, lambda x: 1.0)],
    "log": [], "rsqrt": [],
}


def _quantum(m):
    """Binary32 quantum (ulp) of the binade holding magnitude m > 0 (subnormals:
    2**-149; capped at 2**104, the top binade's)."""
    _, e = np.frexp(m)           # m in [2**(e-1), 2**e)
    return np.ldexp(1.0, np.clip(e - 24, -149, 104))


def _perturbed_point(b, s):
    """A binary64 point that rounds in every mode as sign(b)(|b| + s tiny) does:
    |b| +- a quarter of the quantum on that side (b a binary32 value)."""
    m = np.abs(b)
    pos = np.where(m > 0, m, 2.0 ** -149)
    q_above = _quantum(pos)
    # the quantum below |b| halves when |b| is a power of two above the subnormals
    frac, _ = np.frexp(pos)
    q_below = np.where((frac == 0.5) & (pos >= 2.0 ** -125), q_above / 2, q_above)
    p = np.where(s > 0, m + q_above / 4, m - q_below / 4)
    p = np.where(m == 0, 2.0 ** -151, p)
    return np.where(np.signbit(b) & (m > 0), -p, p)


_MODE_CODE = {"rne": 0, "rna": 0, "rtz": 1, "rup": 2, "rdn": 3}


def _round_interval(lo, hi, mode):
    """(ok, bits): where every real in [lo, hi] (binary64, lo <= hi, finite or
    infinite) rounds in `mode` to the same binary32 value, decided without ties,
    that value's encoding (0 where not ok)."""
    if mode not in _MODE_CODE:
        raise VerifyError(f"verify: unknown rounding mode {mode!r}; known: {', '.join(MODES)}")
    lo = np.ascontiguousarray(lo, dtype=np.float64)
    hi = np.ascontiguousarray(hi, dtype=np.float64)
    out = np.zeros(lo.shape, np.float32)
    ok = np.zeros(lo.shape, np.bool_)
    _round_kernel()(lo.ravel(), hi.ravel(), _MODE_CODE[mode], out.ravel(), ok.ravel())
    return ok, out.view(np.uint32)


_KERNEL = None


def _round_kernel():
    """The per-lane rule of _round_interval, compiled once (numba)."""
    global _KERNEL
    if _KERNEL is None:
        from numba import njit

        @njit(cache=True)
        def quantum(m):
            # binary32 ulp of the binade [2**(e-1), 2**e) holding m: 2**(e-24),
            # 2**-149 for subnormals, the top binade's 2**104 above
            e = math.frexp(m)[1]
            return math.ldexp(1.0, min(max(e - 24, -149), 104))

        @njit(cache=True)
        def kernel(lo, hi, mode, out, ok):
            for i in range(lo.size):
                a = lo[i]
                b = hi[i]
                if a > 0:
                    neg, ml, mh = False, a, b
                elif b < 0:
                    neg, ml, mh = True, -b, -a
                else:
                    continue   # contains zero (or NaN): undecided
                if ml >= _TWO128:
                    # beyond the range: nearest and away-from-zero give infinity,
                    # towards zero the largest finite value
                    away = mode == 0 or (mode == 2 and not neg) or (mode == 3 and neg)
                    R = math.inf if away else _FLT_MAX
                else:
                    q = quantum(ml)
                    if quantum(min(mh, _TWO128)) != q:
                        continue
                    kl = ml / q            # exact: scaling by a power of two
                    kh = mh / q
                    fl = math.floor(kl)
                    if math.floor(kh) != fl:
                        continue
                    rl = kl - fl           # position in the cell, exact
                    rh = kh - fl
                    if rl <= 0.0 or rh <= 0.0:
                        continue           # a binary32 value inside [lo, hi]
                    if mode == 0:
                        if rl == 0.5 or rh == 0.5 or (rl < 0.5) != (rh < 0.5):
                            continue       # straddles or touches the midpoint
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
                out[i] = np.float32(-R if neg else R)
                ok[i] = True

        _KERNEL = kernel
    return _KERNEL


def filter_interval(func, x32, eps=EPS):
    """(lo, hi, decidable, nan_out) for binary32 inputs x32 (float32 array): f(x) in
    [lo, hi] on the decidable lanes; nan_out: lanes whose result is NaN."""
    with np.errstate(invalid="ignore"):   # signalling NaNs
        x = x32.astype(np.float64)
    y = _f64(func, x)
    with np.errstate(all="ignore"):
        d = np.where(np.isinf(y), 0.0, np.abs(y) * eps)   # f64 overflow: f(x) >= 2**1024
        lo, hi = y - d, y + d
    finite_in = np.isfinite(x) & (x != 0)
    if func == "log":
        finite_in &= (x > 0) & (x != 1.0)
    elif func == "rsqrt":
        finite_in &= x > 0
    elif func == "exp2":
        # exact results (and the tie 2**-150) go to MPFR; outside [-151, 128) the rule
        # (below) or the overflow decides
        finite_in &= (x != np.floor(x)) | (x < -151.0) | (x >= 128.0)
    for mask, b, s in _RULES[func]:
        m = mask(x) & finite_in
        if m.any():
            xm = x[m]
            p = _perturbed_point(np.broadcast_to(b(xm), xm.shape).astype(np.float64),
                                 np.broadcast_to(s(xm), xm.shape))
            lo[m] = p
            hi[m] = p
    decidable = finite_in & ~(np.isnan(lo) | np.isnan(hi))
    lo[~decidable] = 0.0   # contains zero: the kernel leaves it undecided
    hi[~decidable] = 0.0
    # invalid operations: NaN in, log / rsqrt of x < 0, sin / cos of infinity
    nan_out = np.isnan(x)
    if func in ("log", "rsqrt"):
        nan_out |= x < 0
    elif func in ("sin", "cos"):
        nan_out |= np.isinf(x)
    return lo, hi, decidable, nan_out


def filter_decide(func, x32, mode, eps=EPS, interval=None):
    """(ok, bits) for binary32 inputs x32 (float32 array): the fast filter."""
    lo, hi, _, nan_out = interval if interval is not None else filter_interval(func, x32, eps)
    ok, bits = _round_interval(lo, hi, mode)
    bits[nan_out] = _NAN32
    return ok | nan_out, bits


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
    iv = filter_interval(func, x32)
    for mode in modes:
        got = np.asarray(impl(bits, mode), dtype=np.uint32).reshape(bits.shape)
        ok, want = filter_decide(func, x32, mode, interval=iv)
        st = {"mpfr": 0, "mismatches": 0, "examples": [], "filter_errors": 0, "filter_examples": [],
              "audited": 0}
        # undecided lanes and lanes where the filter and impl disagree: MPFR decides
        idx = np.flatnonzero(~ok | ~_same(got, want))
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
