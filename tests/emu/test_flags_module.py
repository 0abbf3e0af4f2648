"""The emulator's public boundary: Flags live in fpsem.emu.flags (no import loop
between _api and elementary), op codes and config accessors read the cfg word back."""
import numpy as np

from fpsem import formats
from fpsem.emu import _core as C
from fpsem.emu import binary32, flags
from fpsem.emu.specialize import nan_code, rounding_code, tininess_code


def test_flags_are_one_class_everywhere():
    from fpsem.emu import Flags, _api, elementary
    assert Flags is flags.Flags is _api.Flags is elementary.Flags
    _, fl = binary32.exp(np.array([0x3F800000], np.uint32))
    assert isinstance(fl, flags.Flags) and fl.any()["inexact"]


def test_cfg_accessors_read_back_make_cfg():
    for fmt in (formats.binary32, formats.binary16, formats.bfloat16, formats.e4m3):
        for mode in ("rne", "rtz", "rup", "rdn", "rna"):
            for ftz, daz, tin, nan in ((False, True, "after", "x86"), (True, False, "before", "arm"),
                                       (True, True, "after", "cuda")):
                cfg = C.make_cfg(fmt, rounding_code(mode), ftz, daz, tininess_code(tin), nan_code(nan))
                assert (C.cfg_p(cfg), C.cfg_ebits(cfg)) == (fmt.p, fmt.ebits)
                assert C.cfg_mode(cfg) == rounding_code(mode)
                assert (C.cfg_ftz(cfg), C.cfg_daz(cfg)) == (int(ftz), int(daz))
                assert C.cfg_tininess_before(cfg) == int(tin == "before")
                assert C.cfg_nan(cfg) == nan_code(nan)
                assert C.cfg_nospec(cfg) == int(not fmt.ieee_specials)
    assert sorted(C.OP_CODES.values()) == list(range(6))
