"""Three-valued comparison results, shared by the enclosure domains (interval, ball)."""
from __future__ import annotations

import numpy as np

from ..errors import FpsemError


class Tri:
    """A three-valued comparison result: `sure` (true for every choice of reals in the
    operands) and `maybe` (true for some choice). Undecided where maybe and not sure."""
    __slots__ = ("sure", "maybe")

    def __init__(self, sure, maybe):
        object.__setattr__(self, "sure", np.asarray(sure, dtype=bool))
        object.__setattr__(self, "maybe", np.asarray(maybe, dtype=bool))

    def __setattr__(self, k, v):
        raise AttributeError("Tri values are immutable")

    @property
    def shape(self):
        return self.sure.shape

    @property
    def decided(self):
        return self.sure | ~self.maybe

    @property
    def undecided(self):
        return self.maybe & ~self.sure

    def __invert__(self):
        return Tri(~self.maybe, ~self.sure)

    def __and__(self, o):
        return Tri(self.sure & o.sure, self.maybe & o.maybe)

    def __or__(self, o):
        return Tri(self.sure | o.sure, self.maybe | o.maybe)

    def to_bool(self):
        """Plain bools where decided; raises where any element is undecided."""
        if self.undecided.any():
            raise FpsemError("comparison undecided for overlapping intervals")
        return self.sure.copy()

    def __repr__(self):
        return f"Tri(sure={self.sure!r}, maybe={self.maybe!r})"
