"""What IEEE 754 leaves to the platform: NaN specializations and tininess detection.

This is the SoftFloat "specialization" folder as data. A preset is chosen per
call (`nan="x86"`), never globally.

NaN presets (`nan=`):

x86   Intel SSE/AVX. Default NaN (result of an invalid operation on non-NaN
      operands) is the "real indefinite" 0xFFC00000 (sign set, quiet bit only).
      NaN operands propagate: the first NaN operand in operand order (a, then b,
      then c for fma), quieted; a signalling NaN is quieted and raises invalid.
cuda  NVIDIA GPUs (sm_50+ float32 arithmetic): every NaN result is the canonical
      0x7FFFFFFF; no payload propagates. Signalling NaN inputs still raise
      invalid in this emulator (the hardware has no flags; the flag is ours).
arm   ARMv8 with FPCR.DN = 0. Default NaN 0x7FC00000 (positive, quiet bit only).
      Propagation: the first signalling NaN operand (quieted) if any, else the
      first quiet NaN operand. For fma (FMADD a*b+c) the addend c comes first,
      as in the ARM pseudocode FPMulAdd(addend, op1, op2).

For the sibling formats (binary16, bfloat16, e5m2) the same rules apply with the
format's own quiet bit (the top trailing-significand bit). e4m3 has a single NaN
encoding per sign and no signalling NaNs; NaN results there are 0x7F (x86/arm
keep the sign of a propagated NaN).

inf * 0 + NaN in fma signals invalid and returns the default NaN (SoftFloat's
8086-SSE and ARM's FPMulAdd agree; IEEE 754-2019 7.2(c) leaves the flag to the
implementation).

Tininess (`tininess=`):

after   x86 and most others: a nonzero result is tiny when rounding it to the
        format's precision with an unbounded exponent range gives a magnitude
        below the smallest normal (IEEE 754-2019 7.5).
before  ARM (and the IEEE alternative): tiny when the exact result is below the
        smallest normal in magnitude.

Underflow is signalled when the result is tiny and inexact (default exception
handling, IEEE 754-2019 7.5).

FTZ and DAZ (`ftz=`, `daz=`): DAZ treats subnormal inputs as zero of the same
sign, without a flag (x86 MXCSR.DAZ, CUDA .ftz on inputs). FTZ replaces every
tiny result (tiny per the selected tininess rule, exact or not) with a zero of
the same sign and raises underflow and inexact (x86 MXCSR.FTZ with underflow
masked; CUDA .ftz flushes subnormal results).

Conversions to integers that are invalid (NaN, out of range): x86 returns the
"integer indefinite" (the most negative integer); cuda and arm saturate and map
NaN to 0.
"""
from __future__ import annotations

from ..errors import UnsupportedOption

NAN_PRESETS = {"x86": 0, "cuda": 1, "arm": 2}
TININESS = {"after": 0, "before": 1}
ROUNDING_CODES = {"rne": 0, "rtz": 1, "rup": 2, "rdn": 3, "rna": 4}


def nan_code(name):
    try:
        return NAN_PRESETS[name]
    except KeyError:
        raise UnsupportedOption(
            f"unknown NaN specialization {name!r}; choose one of {', '.join(NAN_PRESETS)}") from None


def tininess_code(name):
    try:
        return TININESS[name]
    except KeyError:
        raise UnsupportedOption(
            f"unknown tininess detection {name!r}; choose 'after' (x86) or 'before' (ARM)") from None


def rounding_code(name):
    try:
        return ROUNDING_CODES[name]
    except KeyError:
        raise UnsupportedOption(
            f"unknown rounding {name!r}; choose one of {', '.join(ROUNDING_CODES)}") from None
