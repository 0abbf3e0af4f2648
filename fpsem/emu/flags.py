"""IEEE 754 exception flags as values: `Flags` (per element, one call's result) and
the bit layout shared by every emulator routine. Nothing here is global state."""
from __future__ import annotations

import numpy as np

from ._core import DIVZERO, INEXACT, INVALID, OVERFLOW, UNDERFLOW

FLAG_NAMES = ("invalid", "divide_by_zero", "overflow", "underflow", "inexact")
FLAG_BITS = {"invalid": INVALID, "divide_by_zero": DIVZERO, "overflow": OVERFLOW,
             "underflow": UNDERFLOW, "inexact": INEXACT}


class Flags:
    """IEEE 754 exception flags of one call, per element.

    `bits` is a uint8 array (bit 1 invalid, 2 divide-by-zero, 4 overflow,
    8 underflow, 16 inexact) shaped like the result."""

    __slots__ = ("bits",)

    def __init__(self, bits):
        self.bits = bits

    def _get(self, name):
        return (self.bits & FLAG_BITS[name]) != 0

    invalid = property(lambda self: self._get("invalid"))
    divide_by_zero = property(lambda self: self._get("divide_by_zero"))
    overflow = property(lambda self: self._get("overflow"))
    underflow = property(lambda self: self._get("underflow"))
    inexact = property(lambda self: self._get("inexact"))

    def summary(self):
        """The OR of all elements as one int bitmask."""
        return int(np.bitwise_or.reduce(self.bits, axis=None)) if self.bits.size else 0

    def any(self):
        s = self.summary()
        return {n: bool(s & FLAG_BITS[n]) for n in FLAG_NAMES}

    def __bool__(self):
        return self.summary() != 0

    def __or__(self, other):
        return Flags(self.bits | other.bits)

    def __repr__(self):
        raised = [n for n, v in self.any().items() if v]
        return f"Flags({', '.join(raised) or 'none'})"


def flags_dict(mask):
    return {n: bool(mask & FLAG_BITS[n]) for n in FLAG_NAMES}
