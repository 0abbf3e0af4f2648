"""Reference emulator core: integer arithmetic, SoftFloat style, numba-compiled.

Every operation decodes its operands into (class, sign, exponent, integer
significand), computes the exact result or an exact-enough one (a significand
with a sticky bit below the rounding position), and ends in ONE rounding
routine, `round_pack`. Nothing here is global: the format, the rounding mode,
FTZ/DAZ, the tininess rule and the NaN preset travel in one integer `cfg`.

cfg bit layout:  P (5 bits) | EB << 5 | mode << 10 | ftz << 13 | daz << 14 |
                 tininess_before << 15 | nan_preset << 16 | no_specials << 18
P is the precision including the hidden bit (<= 24 for every supported
format), EB the exponent-field width, no_specials marks e4m3 (no infinities,
one NaN pattern per sign).

All significand arithmetic is on int64 with values < 2**63 (numba turns mixed
int64/uint64 arithmetic into float64, so uint64 is avoided on purpose).

Flag bits of the returned flag arrays: INVALID 1, DIVZERO 2, OVERFLOW 4,
UNDERFLOW 8, INEXACT 16.
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

INVALID, DIVZERO, OVERFLOW, UNDERFLOW, INEXACT = 1, 2, 4, 8, 16
RNE, RTZ, RUP, RDN, RNA = 0, 1, 2, 3, 4
# operand classes
ZERO, FIN, INF, QNAN, SNAN = 0, 1, 2, 3, 4

NB = 2 ** 63 - 1


# operation codes shared by the kernels (fpsem.emu._kernels) and the ordered reductions
OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_SQRT, OP_FMA = 0, 1, 2, 3, 4, 5
OP_CODES = {"add": OP_ADD, "sub": OP_SUB, "mul": OP_MUL, "div": OP_DIV, "sqrt": OP_SQRT,
            "fma": OP_FMA}


def make_cfg(fmt, mode=0, ftz=False, daz=False, tininess=0, nan=0):
    """One int64 word holding a format and every platform choice (read back with the
    cfg_* accessors): bits 0-4 precision p, 5-9 exponent bits, 10-12 rounding mode,
    13 ftz, 14 daz, 15 tininess before rounding, 16-17 NaN preset, 18 no IEEE specials."""
    return (fmt.p | (fmt.ebits << 5) | (mode << 10) | (int(bool(ftz)) << 13)
            | (int(bool(daz)) << 14) | (tininess << 15) | (nan << 16)
            | (int(not fmt.ieee_specials) << 18))


@njit(nogil=True, cache=True, forceinline=True)
def cfg_p(cfg):
    """Precision p (significand bits, hidden bit included)."""
    return cfg & 31


@njit(nogil=True, cache=True, forceinline=True)
def cfg_ebits(cfg):
    return (cfg >> 5) & 31


@njit(nogil=True, cache=True, forceinline=True)
def cfg_mode(cfg):
    """Rounding mode code (RNE, RTZ, RUP, RDN, RNA)."""
    return (cfg >> 10) & 7


@njit(nogil=True, cache=True, forceinline=True)
def cfg_ftz(cfg):
    return (cfg >> 13) & 1


@njit(nogil=True, cache=True, forceinline=True)
def cfg_daz(cfg):
    return (cfg >> 14) & 1


@njit(nogil=True, cache=True, forceinline=True)
def cfg_tininess_before(cfg):
    return (cfg >> 15) & 1


@njit(nogil=True, cache=True, forceinline=True)
def cfg_nan(cfg):
    """NaN preset code (fpsem.emu.specialize)."""
    return (cfg >> 16) & 3


@njit(nogil=True, cache=True, forceinline=True)
def cfg_nospec(cfg):
    """1 for formats without IEEE infinities (e4m3: one NaN per sign)."""
    return (cfg >> 18) & 1


@intrinsic
def _ctlz64(typingctx, x):
    """Count of leading zero bits of a nonzero int64 (LLVM ctlz: one instruction)."""
    def codegen(context, builder, signature, args):
        v = context.cast(builder, args[0], signature.args[0], types.int64)
        return builder.ctlz(v, ir.Constant(ir.IntType(1), 1))
    return types.int64(x), codegen


@intrinsic
def sel(typingctx, c, a, b):
    """`a if c else b` for int64 a, b as a select marked !unpredictable, which
    keeps LLVM from turning it into a branch (on random data such a branch
    mispredicts half the time; LLVM did that to add's operand swap once the
    routine was inlined into its loop, doubling the time per element)."""
    def codegen(context, builder, signature, args):
        cond = context.cast(builder, args[0], signature.args[0], types.boolean)
        x = context.cast(builder, args[1], signature.args[1], types.int64)
        y = context.cast(builder, args[2], signature.args[2], types.int64)
        r = builder.select(cond, x, y)
        r.set_metadata("unpredictable", builder.module.add_metadata([]))
        return r
    return types.int64(c, a, b), codegen


@njit(nogil=True, cache=True, error_model='numpy', forceinline=True)
def msb(x):
    """Index of the most significant set bit of 0 < x < 2**63."""
    return 63 - _ctlz64(x)


@njit(nogil=True, cache=True, error_model='numpy', forceinline=True)
def jam(x, n):
    """Shift right by n >= 0, OR-ing every bit shifted out into bit 0 (sticky).
    Branch-free (the shift distance is data: branches would mispredict)."""
    nn = min(max(n, 0), 63)
    lost = x & ((np.int64(1) << nn) - 1)
    return (x >> nn) | np.int64(lost != 0)


@njit(nogil=True, cache=True, error_model='numpy', forceinline=True)
def fmt_params(cfg):
    P = cfg_p(cfg)
    EB = cfg_ebits(cfg)
    bias = (1 << (EB - 1)) - 1
    nospec = cfg_nospec(cfg)
    emax = bias + nospec
    emin = 1 - bias
    return P, EB, bias, emin, emax, nospec


@njit(nogil=True, cache=True, error_model='numpy', forceinline=True)
def inf_bits(cfg):
    """Encoding of +inf; for e4m3 the positive NaN (what overflow saturates to)."""
    P, EB, bias, emin, emax, nospec = fmt_params(cfg)
    b = ((1 << EB) - 1) << (P - 1)
    if nospec:
        b |= (1 << (P - 1)) - 1
    return b


@njit(nogil=True, cache=True, error_model='numpy', forceinline=True)
def default_nan(cfg):
    P = cfg_p(cfg)
    EB = cfg_ebits(cfg)
    nanp = cfg_nan(cfg)
    nbits = P + EB
    if cfg_nospec(cfg):  # e4m3: one NaN per sign
        return (1 << (nbits - 1)) - 1
    e = ((1 << EB) - 1) << (P - 1)
    if nanp == 1:  # cuda canonical
        return e | ((1 << (P - 1)) - 1)
    q = 1 << (P - 2)
    if nanp == 0:  # x86 real indefinite
        return (1 << nbits - 1) | e | q
    return e | q  # arm


@njit(nogil=True, cache=True, error_model='numpy', forceinline=True)
def unpack(b, cfg):
    """(class, sign, e, m): finite nonzero values are m * 2**(e - (P-1)) with
    2**(P-1) <= m < 2**P (subnormals normalised). DAZ applied here."""
    P, EB, bias, emin, emax, nospec = fmt_params(cfg)
    nbits = P + EB
    s = (b >> (nbits - 1)) & 1
    E = (b >> (P - 1)) & ((1 << EB) - 1)
    T = b & ((1 << (P - 1)) - 1)
    if E == (1 << EB) - 1:
        if nospec:
            if T == (1 << (P - 1)) - 1:
                return QNAN, s, 0, T
        else:
            if T == 0:
                return INF, s, 0, 0
            if T & (1 << (P - 2)):
                return QNAN, s, 0, T
            return SNAN, s, 0, T
    if E == 0:
        if T == 0 or cfg_daz(cfg):
            return ZERO, s, 0, 0
        k = (P - 1) - msb(T)
        return FIN, s, emin - k, T << k
    return FIN, s, E - bias, T | (1 << (P - 1))


@njit(nogil=True, cache=True, error_model='numpy', forceinline=True)
def quiet(b, cfg):
    P = cfg_p(cfg)
    nanp = cfg_nan(cfg)
    if cfg_nospec(cfg):
        return b
    if nanp == 1:
        return default_nan(cfg)
    return b | (1 << (P - 2))


@njit(nogil=True, cache=True, error_model='numpy', forceinline=True)
def propagate2(a, ca, b, cb, cfg):
    """NaN result of a binary op where at least one operand is NaN."""
    fl = 0
    if ca == SNAN or cb == SNAN:
        fl = INVALID
    nanp = cfg_nan(cfg)
    if nanp == 2:  # arm: signalling first
        if ca == SNAN:
            return quiet(a, cfg), fl
        if cb == SNAN:
            return quiet(b, cfg), fl
    if ca >= QNAN:
        return quiet(a, cfg), fl
    return quiet(b, cfg), fl


@njit(nogil=True, cache=True, error_model='numpy', forceinline=True)
def propagate1(a, ca, cfg):
    fl = INVALID if ca == SNAN else 0
    return quiet(a, cfg), fl


@njit(nogil=True, cache=True, error_model='numpy', forceinline=True)
def pack_zero(s, cfg):
    P = cfg_p(cfg)
    EB = cfg_ebits(cfg)
    return s << (P + EB - 1)


@njit(nogil=True, cache=True, error_model='numpy', forceinline=True)
def round_inc(m, rb, half, mode, s):
    """Increment (0/1) for truncated value m with discarded bits rb (0 <= rb <
    2*half <= 2**61; half = the weight of one half ulp) under `mode` for sign s.

    One comparison for every mode, rb + t > half, with
      rne  t = m & 1               (above half, or exactly half with m odd)
      rna  t = 1                   (half or above)
      rup  t = half, or -2**62 if s  (anything discarded, positive only)
      rdn  t = half if s, or -2**62  (anything discarded, negative only)
      rtz  t = -2**62              (never)
    The per-mode constants are loop-invariant and the rest is arithmetic: no
    branch on the data and none on the mode (a mode branch inside a loop gets
    the loop unswitched into five copies that LLVM then optimises unevenly)."""
    big = np.int64(1) << 62
    a = (np.int64(mode == RNA) + (np.int64(mode == RUP) * half)
         - np.int64((mode == RTZ) | (mode == RDN)) * big)
    bm = -np.int64(mode == RNE)
    cs = np.int64(mode == RDN) * (half + big) - np.int64(mode == RUP) * big
    return np.int64(rb + a + (m & 1 & bm) + (cs & -s) > half)


@njit(nogil=True, cache=True, error_model='numpy', forceinline=True)
def round_pack(s, e, sig, cfg):
    """THE rounding routine. The exact (or sticky-jammed) value is
    (-1)**s * sig * 2**(e - 62) with 2**62 <= sig < 2**63. Returns (bits, flags)."""
    P, EB, bias, emin, emax, nospec = fmt_params(cfg)
    mode = cfg_mode(cfg)
    shift = 63 - P
    half = 1 << (shift - 1)
    mask = (1 << shift) - 1
    sbit = s << (P + EB - 1)
    tiny = False
    if e < emin:
        if cfg_tininess_before(cfg):  # tininess before rounding
            tiny = True
        elif e == emin - 1:  # after rounding: round to P bits, unbounded exponent
            m0 = sig >> shift
            m0 += round_inc(m0, sig & mask, half, mode, s)
            tiny = m0 < (1 << P)
        else:
            tiny = True
        if tiny and cfg_ftz(cfg):  # FTZ
            return sbit, UNDERFLOW | INEXACT
        sig = jam(sig, emin - e)
        e = emin
    if e > emax:
        return overflow(s, cfg)
    rb = sig & mask
    m = sig >> shift
    m += round_inc(m, rb, half, mode, s)
    # m may be 2**P (carry) or, below emin, anything up to 2**(P-1) (subnormal);
    # the biased-exponent-minus-one trick makes the carry land in the exponent.
    bits = ((e + bias - 1) << (P - 1)) + m
    # arithmetic, not a branch: whether a sum is exact is data (cancellation)
    nz = np.int64(rb != 0)
    flags = (nz * INEXACT) | ((nz & np.int64(tiny)) * UNDERFLOW)
    if bits >= inf_bits(cfg):
        return overflow(s, cfg)
    return bits | sbit, flags


@njit(nogil=True, cache=True, error_model='numpy', forceinline=True)
def overflow(s, cfg):
    mode = cfg_mode(cfg)
    P = cfg_p(cfg)
    EB = cfg_ebits(cfg)
    sbit = s << (P + EB - 1)
    ib = inf_bits(cfg)
    to_inf = mode == RNE or mode == RNA or (mode == RUP and s == 0) or (mode == RDN and s == 1)
    if to_inf:
        return ib | sbit, OVERFLOW | INEXACT
    return (ib - 1) | sbit, OVERFLOW | INEXACT


@njit(nogil=True, cache=True, error_model='numpy', forceinline=True)
def norm_pack(s, S, lsb, cfg):
    """Round (-1)**s * S * 2**lsb for 0 < S < 2**63 (sticky already in bit 0 if any)."""
    k = msb(S)
    return round_pack(s, lsb + k, S << (62 - k), cfg)  # k <= 62: shift >= 0


@njit(nogil=True, cache=True, error_model='numpy', forceinline=True)
def exact_zero_sign(cfg):
    """Sign of an exact zero sum of opposite-signed operands (IEEE 754-2019 6.3)."""
    return 1 if (cfg_mode(cfg)) == RDN else 0


# --------------------------------------------------------------------------
# arithmetic
# --------------------------------------------------------------------------

@njit(nogil=True, cache=True, error_model='numpy')
def add_s(a, b, cfg, neg):
    """a + b (neg=0) or a - b (neg=1), rounded once."""
    P = cfg_p(cfg)
    EB = cfg_ebits(cfg)
    emask = (1 << EB) - 1
    Ea = (a >> (P - 1)) & emask
    Eb = (b >> (P - 1)) & emask
    if (Ea != 0) & (Ea != emask) & (Eb != 0) & (Eb != emask):
        # both normal (the common case): decode without classifying
        hid = 1 << (P - 1)
        bias = (1 << (EB - 1)) - 1
        sh = P + EB - 1
        return _add_fin(P, (a >> sh) & 1, Ea - bias, (a & (hid - 1)) | hid,
                        ((b >> sh) & 1) ^ neg, Eb - bias, (b & (hid - 1)) | hid, cfg)
    ca, sa, ea, ma = unpack(a, cfg)
    cb, sb, eb, mb = unpack(b, cfg)
    if ca >= QNAN or cb >= QNAN:
        return propagate2(a, ca, b, cb, cfg)
    sb ^= neg
    if ca == INF:
        if cb == INF and sa != sb:
            return default_nan(cfg), INVALID
        return pack_zero(sa, cfg) | inf_bits(cfg), 0
    if cb == INF:
        return pack_zero(sb, cfg) | inf_bits(cfg), 0
    if ca == ZERO and cb == ZERO:
        if sa == sb:
            return pack_zero(sa, cfg), 0
        return pack_zero(exact_zero_sign(cfg), cfg), 0
    if ca == ZERO:
        return norm_pack(sb, mb, eb - (P - 1), cfg)
    if cb == ZERO:
        return norm_pack(sa, ma, ea - (P - 1), cfg)
    return _add_fin(P, sa, ea, ma, sb, eb, mb, cfg)


@njit(nogil=True, cache=True, error_model='numpy', forceinline=True)
def _add_fin(P, sa, ea, ma, sb, eb, mb, cfg):
    """(-1)**sa ma 2**(ea-P+1) + (-1)**sb mb 2**(eb-P+1), both nonzero finite
    (normalised significands), rounded once."""
    return _sum_pack(sa, ea, ma << (62 - P), sb, eb, mb << (62 - P), cfg)


@njit(nogil=True, cache=True, error_model='numpy', forceinline=True)
def _sum_pack(sa, ea, A, sb, eb, B, cfg):
    """Round (-1)**sa A 2**(ea-61) + (-1)**sb B 2**(eb-61), for 2**60 <= A, B <
    2**62 (room for a carry at bit 62). The operand with the larger exponent is
    kept, the other shifted right with sticky; their signed sum's sign is the
    result's sign (if the exponents differ the kept one is the larger in
    magnitude; if not, nothing was shifted and the sum is exact). Unpredictable
    selects and a conditional negation, no branch on the operand order or sign:
    both are random data."""
    sw = ea < eb
    e1 = sel(sw, eb, ea)
    e2 = sel(sw, ea, eb)
    s_hi = sel(sw, sb, sa)
    s_lo = sel(sw, sa, sb)
    hi = sel(sw, B, A)
    lo = jam(sel(sw, A, B), e1 - e2)
    T = ((hi ^ -s_hi) + s_hi) + ((lo ^ -s_lo) + s_lo)
    if T == 0:
        return pack_zero(exact_zero_sign(cfg), cfg), 0
    s1 = np.int64(T < 0)
    return norm_pack(s1, (T ^ -s1) + s1, e1 - 61, cfg)


@njit(nogil=True, cache=True, error_model='numpy')
def mul_s(a, b, cfg):
    P = cfg_p(cfg)
    ca, sa, ea, ma = unpack(a, cfg)
    cb, sb, eb, mb = unpack(b, cfg)
    if ca >= QNAN or cb >= QNAN:
        return propagate2(a, ca, b, cb, cfg)
    s = sa ^ sb
    if ca == INF or cb == INF:
        if ca == ZERO or cb == ZERO:
            return default_nan(cfg), INVALID
        return pack_zero(s, cfg) | inf_bits(cfg), 0
    if ca == ZERO or cb == ZERO:
        return pack_zero(s, cfg), 0
    return norm_pack(s, ma * mb, ea + eb - 2 * (P - 1), cfg)


@njit(nogil=True, cache=True, error_model='numpy')
def div_s(a, b, cfg):
    P = cfg_p(cfg)
    ca, sa, ea, ma = unpack(a, cfg)
    cb, sb, eb, mb = unpack(b, cfg)
    if ca >= QNAN or cb >= QNAN:
        return propagate2(a, ca, b, cb, cfg)
    s = sa ^ sb
    if ca == INF:
        if cb == INF:
            return default_nan(cfg), INVALID
        return pack_zero(s, cfg) | inf_bits(cfg), 0
    if cb == INF:
        return pack_zero(s, cfg), 0
    if cb == ZERO:
        if ca == ZERO:
            return default_nan(cfg), INVALID
        return pack_zero(s, cfg) | inf_bits(cfg), DIVZERO
    if ca == ZERO:
        return pack_zero(s, cfg), 0
    num = ma << (63 - P)  # msb at 62
    q = num // mb  # >= 2**(62-P): at least 38 bits for P = 24
    r = num - q * mb
    S = (q << 1) | (1 if r != 0 else 0)
    # a/b = (num/mb) * 2**(ea-eb-(63-P)) and S ~ 2*num/mb
    return norm_pack(s, S, ea - eb - (64 - P), cfg)


@njit(nogil=True, cache=True, error_model='numpy')
def isqrt63(N):
    r = np.int64(math.sqrt(np.float64(N)))
    while r * r > N:
        r -= 1
    while (r + 1) * (r + 1) <= N:
        r += 1
    return r


@njit(nogil=True, cache=True, error_model='numpy')
def sqrt_s(a, cfg):
    P = cfg_p(cfg)
    ca, sa, ea, ma = unpack(a, cfg)
    if ca >= QNAN:
        return propagate1(a, ca, cfg)
    if ca == ZERO:
        return pack_zero(sa, cfg), 0
    if sa:
        return default_nan(cfg), INVALID
    if ca == INF:
        return a, 0
    lsb = ea - (P - 1)
    k = 63 - P  # N = ma << k has msb at 62
    if (lsb - k) & 1:
        k -= 1
    N = ma << k
    r = isqrt63(N)
    S = (r << 1) | (1 if r * r != N else 0)
    return norm_pack(0, S, (lsb - k) // 2 - 1, cfg)


@njit(nogil=True, cache=True, error_model='numpy')
def fma_s(a, b, c, cfg):
    """a*b + c with one rounding. The product is exact (2P <= 48 bits)."""
    P = cfg_p(cfg)
    EB = cfg_ebits(cfg)
    emask = (1 << EB) - 1
    Ea = (a >> (P - 1)) & emask
    Eb = (b >> (P - 1)) & emask
    Ec = (c >> (P - 1)) & emask
    if (Ea != 0) & (Ea != emask) & (Eb != 0) & (Eb != emask) & (Ec != 0) & (Ec != emask):
        # all three normal (the common case): decode without classifying
        hid = 1 << (P - 1)
        bias = (1 << (EB - 1)) - 1
        sh = P + EB - 1
        return _fma_fin(P, ((a >> sh) ^ (b >> sh)) & 1, Ea + Eb - 2 * bias,
                        (a & (hid - 1)) | hid, (b & (hid - 1)) | hid,
                        (c >> sh) & 1, Ec - bias, (c & (hid - 1)) | hid, cfg)
    ca, sa, ea, ma = unpack(a, cfg)
    cb, sb, eb, mb = unpack(b, cfg)
    cc, sc, ec, mc = unpack(c, cfg)
    if ca >= QNAN or cb >= QNAN or cc >= QNAN:
        fl = INVALID if (ca == SNAN or cb == SNAN or cc == SNAN) else 0
        if (ca == INF and cb == ZERO) or (ca == ZERO and cb == INF):
            return default_nan(cfg), INVALID
        nanp = cfg_nan(cfg)
        if nanp == 2:  # arm: addend first; signalling before quiet
            if cc == SNAN:
                return quiet(c, cfg), fl
            if ca == SNAN:
                return quiet(a, cfg), fl
            if cb == SNAN:
                return quiet(b, cfg), fl
            if cc == QNAN:
                return quiet(c, cfg), fl
        if ca >= QNAN:
            return quiet(a, cfg), fl
        if cb >= QNAN:
            return quiet(b, cfg), fl
        return quiet(c, cfg), fl
    sp = sa ^ sb
    if ca == INF or cb == INF:
        if ca == ZERO or cb == ZERO:
            return default_nan(cfg), INVALID
        if cc == INF and sc != sp:
            return default_nan(cfg), INVALID
        return pack_zero(sp, cfg) | inf_bits(cfg), 0
    if cc == INF:
        return pack_zero(sc, cfg) | inf_bits(cfg), 0
    if ca == ZERO or cb == ZERO:
        if cc == ZERO:
            if sp == sc:
                return pack_zero(sp, cfg), 0
            return pack_zero(exact_zero_sign(cfg), cfg), 0
        return norm_pack(sc, mc, ec - (P - 1), cfg)
    if cc == ZERO:
        return norm_pack(sp, ma * mb, ea + eb - 2 * (P - 1), cfg)
    return _fma_fin(P, sp, ea + eb, ma, mb, sc, ec, mc, cfg)


@njit(nogil=True, cache=True, error_model='numpy', forceinline=True)
def _fma_fin(P, sp, eab, ma, mb, sc, ec, mc, cfg):
    """(-1)**sp ma mb 2**(eab - 2P + 2) + (-1)**sc mc 2**(ec - P + 1), all nonzero
    finite (normalised significands), rounded once."""
    prod = ma * mb
    lp = eab - 2 * (P - 1)
    kp = msb(prod)
    Ap = prod << (61 - kp)
    ep = lp + kp  # exponent of the msb
    return _sum_pack(sp, ep, Ap, sc, ec, mc << (62 - P), cfg)


# --------------------------------------------------------------------------
# conversions
# --------------------------------------------------------------------------

@njit(nogil=True, cache=True, error_model='numpy')
def from_f64_s(v, cfg):
    """v: the binary64 encoding as int64."""
    P = cfg_p(cfg)
    EB = cfg_ebits(cfg)
    s = (v >> 63) & 1
    E = (v >> 52) & 0x7FF
    T = v & ((1 << 52) - 1)
    sbit = s << (P + EB - 1)
    if E == 0x7FF:
        if T == 0:
            if cfg_nospec(cfg):  # e4m3 has no infinity
                return sbit | inf_bits(cfg), 0
            return sbit | inf_bits(cfg), 0
        fl = 0 if T & (1 << 51) else INVALID
        if cfg_nospec(cfg):
            return sbit | inf_bits(cfg), fl
        nanp = cfg_nan(cfg)
        if nanp == 1:
            return default_nan(cfg), fl
        pay = T >> (53 - P)
        return sbit | inf_bits(cfg) | pay | (1 << (P - 2)), fl
    if E == 0:
        if T == 0 or cfg_daz(cfg):
            return sbit, 0
        return norm_pack(s, T, -1074, cfg)
    return norm_pack(s, T | (1 << 52), E - 1075, cfg)


@njit(nogil=True, cache=True, error_model='numpy')
def to_f64_s(b, cfg):
    """Exact widening to binary64; returns (int64 encoding, flags)."""
    P = cfg_p(cfg)
    c, s, e, m = unpack(b, cfg)
    sbit = np.int64(s) << 63
    if c == ZERO:
        return sbit, 0
    if c == INF:
        return sbit | (np.int64(0x7FF) << 52), 0
    if c >= QNAN:
        fl = INVALID if c == SNAN else 0
        nanp = cfg_nan(cfg)
        if nanp == 1:
            return np.int64(0x7FFFFFFFFFFFFFFF), fl
        pay = (m & ((1 << (P - 1)) - 1)) << (53 - P)
        return sbit | (np.int64(0x7FF) << 52) | pay | (np.int64(1) << 51), fl
    # normal in binary64 for every format here
    return sbit | (np.int64(e + 1023) << 52) | ((m - (1 << (P - 1))) << (53 - P)), 0


@njit(nogil=True, cache=True, error_model='numpy')
def from_int_s(v, cfg):
    if v == 0:
        return 0, 0
    s = 1 if v < 0 else 0
    if v == -9223372036854775807 - 1:
        return norm_pack(1, 1 << 62, 1, cfg)
    return norm_pack(s, -v if s else v, 0, cfg)


@njit(nogil=True, cache=True, error_model='numpy')
def round_int_parts(b, cfg, mode):
    """Round a finite value to an integer: (class, sign, |n| as int64 (saturated
    at 2**63-1 when huge), inexact, huge)."""
    P = cfg_p(cfg)
    c, s, e, m = unpack(b, cfg)
    if c != FIN:
        return c, s, 0, False, False
    lsb = e - (P - 1)
    if lsb >= 0:
        if e >= 63:
            return c, s, NB, False, True
        return c, s, m << lsb, False, False
    sh = -lsb
    if sh >= 63:
        q = 0
        rb = m
        # compare rb against half = 2**(sh-1): rb < 2**P <= half unless sh == P
        if sh - 1 > P:
            half_cmp = -1
        else:
            hv = 1 << (sh - 1)
            half_cmp = -1 if rb < hv else (0 if rb == hv else 1)
    else:
        q = m >> sh
        rb = m & ((1 << sh) - 1)
        hv = 1 << (sh - 1)
        half_cmp = -1 if rb < hv else (0 if rb == hv else 1)
    inc = 0
    if rb != 0:
        if mode == RNE:
            inc = 1 if (half_cmp > 0 or (half_cmp == 0 and (q & 1))) else 0
        elif mode == RNA:
            inc = 1 if half_cmp >= 0 else 0
        elif mode == RUP:
            inc = 1 - s
        elif mode == RDN:
            inc = s
    return c, s, q + inc, rb != 0, False


@njit(nogil=True, cache=True, error_model='numpy')
def round_integral_s(b, cfg, mode, exact):
    """roundToIntegral (exact=False: no inexact flag) / roundToIntegralExact."""
    c, s, n, inx, huge = round_int_parts(b, cfg, mode)
    if c >= QNAN:
        return propagate1(b, c, cfg)
    if c == ZERO:
        return pack_zero(s, cfg), 0
    if c == INF or not inx:
        return b, 0
    fl = INEXACT if exact else 0
    if n == 0:
        return pack_zero(s, cfg), fl
    r, f2 = norm_pack(s, n, 0, cfg)  # n < 2**P + 1: exact
    return r, fl


@njit(nogil=True, cache=True, error_model='numpy')
def to_int_s(b, cfg, mode, width, exact):
    """convertToInteger{mode} / convertToIntegerExact{mode}: (int64 value, flags).
    width 32 or 64. Invalid results per NaN preset (x86: most negative integer;
    cuda/arm: saturate, NaN -> 0)."""
    c, s, n, inx, huge = round_int_parts(b, cfg, mode)
    nanp = cfg_nan(cfg)
    if width < 64:
        lo = -(1 << (width - 1))
        hi = (1 << (width - 1)) - 1
    else:
        lo = -NB - 1
        hi = NB
    if c == ZERO:
        return 0, 0
    if c == FIN and not huge:
        v = -n if s else n
        if lo <= v <= hi:
            return v, (INEXACT if (inx and exact) else 0)
    if c == FIN and huge and s == 1 and width == 64:
        c2, s2, e2, m2 = unpack(b, cfg)
        if e2 == 63 and m2 == (1 << ((cfg_p(cfg)) - 1)):
            return lo, 0
    if nanp == 0:
        return lo, INVALID
    if c >= QNAN:
        return 0, INVALID
    return (lo if s else hi), INVALID


# --------------------------------------------------------------------------
# comparisons, min/max, next, remainder
# --------------------------------------------------------------------------

@njit(nogil=True, cache=True, error_model='numpy')
def order_key(c, s, e, m):
    """A totally ordered integer for non-NaN values (-0 == +0)."""
    if c == ZERO:
        return 0
    if c == INF:
        mag = (1 << 40)
    else:
        mag = ((e + 1000) << 25) | m
    return -mag if s else mag


@njit(nogil=True, cache=True, error_model='numpy')
def compare_s(a, b, cfg, signaling):
    """-1 less, 0 equal, 1 greater, 2 unordered; flags invalid on sNaN (quiet)
    or any NaN (signaling)."""
    ca, sa, ea, ma = unpack(a, cfg)
    cb, sb, eb, mb = unpack(b, cfg)
    if ca >= QNAN or cb >= QNAN:
        if signaling or ca == SNAN or cb == SNAN:
            return 2, INVALID
        return 2, 0
    ka = order_key(ca, sa, ea, ma)
    kb = order_key(cb, sb, eb, mb)
    if ka < kb:
        return -1, 0
    if ka > kb:
        return 1, 0
    return 0, 0


@njit(nogil=True, cache=True, error_model='numpy')
def minmax_s(a, b, cfg, want_max, number):
    """IEEE 754-2019 minimum/maximum (number=False: NaN propagates) and
    minimumNumber/maximumNumber (number=True: a number beats a NaN). -0 < +0."""
    ca, sa, ea, ma = unpack(a, cfg)
    cb, sb, eb, mb = unpack(b, cfg)
    if ca >= QNAN or cb >= QNAN:
        fl = INVALID if (ca == SNAN or cb == SNAN) else 0
        if number:
            if ca < QNAN:
                return (pack_zero(sa, cfg) if ca == ZERO else a), fl
            if cb < QNAN:
                return (pack_zero(sb, cfg) if cb == ZERO else b), fl
        r, f2 = propagate2(a, ca, b, cb, cfg)
        return r, fl
    ka = order_key(ca, sa, ea, ma)
    kb = order_key(cb, sb, eb, mb)
    if ka == kb and ca == ZERO:
        ka, kb = -sa, -sb
    pick_a = (ka >= kb) if want_max else (ka <= kb)
    if pick_a:
        return (pack_zero(sa, cfg) if ca == ZERO else a), 0
    return (pack_zero(sb, cfg) if cb == ZERO else b), 0


@njit(nogil=True, cache=True, error_model='numpy')
def next_s(a, cfg, up):
    """nextUp (up=1) / nextDown (up=0)."""
    P = cfg_p(cfg)
    EB = cfg_ebits(cfg)
    c, s, e, m = unpack(a, cfg)
    if c >= QNAN:
        return propagate1(a, c, cfg)
    sbit = 1 << (P + EB - 1)
    ib = inf_bits(cfg)
    nospec = cfg_nospec(cfg)
    if c == ZERO:
        return (1 if up else sbit | 1), 0
    if c == INF:
        if (s == 0) == bool(up):
            return a, 0
        return ((ib - 1) | (sbit if s else 0)), 0
    aa = a  # finite nonzero: with DAZ subnormals were classified ZERO above
    mag = aa & (sbit - 1)
    if (s == 0) == bool(up):
        mag += 1
        if mag >= ib:
            if nospec:
                return a, 0  # e4m3: no infinity to step onto
            return ib | (sbit if s else 0), 0
    else:
        mag -= 1
        if mag == 0:
            return (sbit if s else 0), 0
    return mag | (sbit if s else 0), 0


@njit(nogil=True, cache=True, error_model='numpy')
def remainder_s(a, b, cfg):
    """IEEE remainder x - n*y, n the integer nearest x/y (ties to even). Exact."""
    P = cfg_p(cfg)
    ca, sa, ea, ma = unpack(a, cfg)
    cb, sb, eb, mb = unpack(b, cfg)
    if ca >= QNAN or cb >= QNAN:
        return propagate2(a, ca, b, cb, cfg)
    if ca == INF or cb == ZERO:
        return default_nan(cfg), INVALID
    if ca == ZERO:
        return pack_zero(sa, cfg), 0
    if cb == INF:
        return norm_pack(sa, ma, ea - (P - 1), cfg)
    lx = ea - (P - 1)
    ly = eb - (P - 1)
    if lx >= ly:
        # X = ma * 2**(lx-ly) mod mb, tracking the quotient parity
        r = ma % mb
        q_odd = (ma // mb) & 1
        for _ in range(lx - ly):
            r2 = r << 1
            if r2 >= mb:
                r = r2 - mb
                q_odd = 1
            else:
                r = r2
                q_odd = 0
        Y = mb
        unit = ly
    else:
        d = ly - lx
        if d > P + 1:
            return norm_pack(sa, ma, lx, cfg)  # |x| < |y|/2
        Y = mb << d
        r = ma % Y
        q_odd = (ma // Y) & 1
        unit = lx
    if 2 * r > Y or (2 * r == Y and q_odd):
        r = Y - r
        s = 1 - sa
    else:
        s = sa
    if r == 0:
        return pack_zero(sa, cfg), 0
    return norm_pack(s, r, unit, cfg)
