"""Shared helpers of the emulator tests: edge sets, operand generators, the
comparison against fpsem.emu.oracle, and the profile-dependent sweep size."""
from __future__ import annotations

import os

import numpy as np

from fpsem import formats as F
from fpsem.emu import oracle as O

THOROUGH = os.environ.get("FPSEM_PROFILE") == "thorough"
MODES = ("rne", "rtz", "rup", "rdn", "rna")


def sweep_n(ci, thorough=1_000_000):
    return thorough if THOROUGH else ci


def edges(fmt):
    """The cross-product edge classes of the issue, as encodings."""
    p, eb = fmt.p, fmt.ebits
    sb = 1 << (fmt.bits - 1)
    bias = fmt.bias
    enc = lambda E, T: (E << (p - 1)) | T
    one = enc(bias, 0)
    maxT = (1 << (p - 1)) - 1
    vals = [0, 1, maxT, 1 << (p - 1), enc(1, 1), enc((1 << eb) - 2, maxT), enc((1 << eb) - 2, 0),
            one, one - 1, one + 1, enc(bias + 1, 0), enc(bias - 1, 0), enc(bias, 1 << (p - 2)),
            enc(bias, maxT), enc(bias - p, 0), enc(bias - p + 1, 0), enc(bias - p - 1, 1),
            enc(bias + p, 0), enc(bias + 3, 5), 3, maxT - 1, 1 << (p - 2),
            enc((1 << eb) - 2, maxT - 1), enc(((1 << eb) - 2) // 2 + bias // 2, 1),
            enc(bias // 2, 3)]
    if fmt.ieee_specials:
        inf = enc((1 << eb) - 1, 0)
        vals += [inf, inf | (1 << (p - 2)), inf | (1 << (p - 2)) | 1, inf | 1, inf | (1 << (p - 3))]
    else:
        vals += [(1 << (fmt.bits - 1)) - 1]
    out = sorted(set(vals) | {v | sb for v in vals})
    return np.array(out, dtype=np.uint32)


def random_operands(rng, n, fmt, arity):
    """Mix of uniform bit patterns, close exponents (cancellation), short
    significands (exact and halfway cases) and extreme exponents."""
    nb = fmt.bits
    p = fmt.p
    full = (1 << nb) - 1
    cols = []
    for k in range(arity):
        cols.append(rng.integers(0, full + 1, n, dtype=np.int64))
    kind = rng.integers(0, 4, n)
    base = cols[0]
    for k in range(1, arity):
        c = cols[k]
        close = (base & ~((1 << (p - 1)) - 1) & ((1 << (nb - 1)) - 1)) \
            + (rng.integers(-3, 4, n) << (p - 1)) + rng.integers(0, 1 << (p - 1), n)
        close = np.clip(close, 0, (1 << (nb - 1)) - 1) | (rng.integers(0, 2, n) << (nb - 1))
        cols[k] = np.where(kind == 1, close, c)
    for k in range(arity):
        sh = rng.integers(0, p, n)
        short = cols[k] & ~((np.int64(1) << sh) - 1)
        cols[k] = np.where(kind == 2, short, cols[k])
        extreme_e = np.where(rng.integers(0, 2, n) == 1, rng.integers(0, 4, n),
                             (1 << fmt.ebits) - 1 - rng.integers(1, 5, n))
        ext = (cols[k] & ~(((1 << fmt.ebits) - 1) << (p - 1))) | (extreme_e << (p - 1))
        cols[k] = np.where((kind == 3) & (rng.integers(0, 2, n) == 1), ext, cols[k])
    return [c.astype(np.uint32) for c in cols]


def is_nan_bits(b, fmt):
    c = O.classify(int(b), fmt)
    return c[0] == "nan"


def compare_to_oracle(fmt, op, got_bits, got_flags, args, mode, tininess="after",
                      ftz=False, daz=False, oracle=None):
    """Return a list of mismatch descriptions (empty when all agree)."""
    bad = []
    got_bits = np.asarray(got_bits).ravel()
    got_flags = np.asarray(got_flags).ravel()
    cols = [np.asarray(a).ravel() for a in args]
    for i in range(got_bits.size):
        ops = [int(c[i]) for c in cols]
        if oracle is None:
            eb, ef = O.op_oracle(op, ops, fmt, mode, tininess, ftz, daz)
        else:
            eb, ef = oracle(ops)
        gb, gf = int(got_bits[i]), int(got_flags[i])
        ok_bits = is_nan_bits(gb, fmt) if eb == O.NAN else gb == eb
        if not ok_bits or gf != ef:
            bad.append(f"{op}[{mode}{',ftz' if ftz else ''}{',daz' if daz else ''},{tininess}]"
                       f"({', '.join(hex(o) for o in ops)}) = {hex(gb)} flags {gf}, "
                       f"oracle {eb if eb == O.NAN else hex(eb)} flags {ef}")
            if len(bad) > 10:
                break
    return bad
