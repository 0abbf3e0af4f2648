"""Bit-exact software emulation of IEEE 754 binary formats (SoftFloat style).

    from fpsem.emu import binary32
    bits, flags = binary32.add(a_bits, b_bits, rounding="rup", ftz=False, daz=False,
                               tininess="after", nan="x86")

`binary32`, `binary16`, `bfloat16`, `e5m2` and `e4m3` are `FloatEmu` objects sharing
one reference implementation (fpsem.emu._core: integer arithmetic that every
operation ends in one rounding routine, `round_pack`), compiled with numba.
Rounding modes: rne, rtz, rup, rdn, rna. Platform choices (NaN presets,
tininess, FTZ/DAZ): fpsem.emu.specialize. Flags: fpsem.emu.flags.Flags.
Ordered reductions (sequential sum and dot, fma chain, row max): fpsem.emu.reduce.
Operation codes (OP_ADD, ...) and config accessors (cfg_mode, ...): fpsem.emu._core.
Correctly rounded elementary functions: fpsem.emu.elementary.
"""
from .. import formats as _F
from ._api import FloatEmu
from .flags import FLAG_NAMES, Flags

binary32 = FloatEmu(_F.binary32)
binary16 = FloatEmu(_F.binary16)
bfloat16 = FloatEmu(_F.bfloat16)
e5m2 = FloatEmu(_F.e5m2)
e4m3 = FloatEmu(_F.e4m3)

EMULATORS = {"binary32": binary32, "binary16": binary16, "bfloat16": bfloat16,
             "e5m2": e5m2, "e4m3": e4m3}

__all__ = ["binary32", "binary16", "bfloat16", "e5m2", "e4m3", "FloatEmu", "Flags",
           "FLAG_NAMES", "EMULATORS"]
