"""Shared pytest configuration for tests/ and proofs_as_tests/.

Hypothesis profiles: `ci` (the default: derandomized, fixed seed, modest example
counts, so CI is reproducible and fits its time budget) and `thorough` (long
sweeps): FPSEM_PROFILE=thorough python -m pytest -q. Hand-rolled numpy sweeps
scale with `fpsem_scale()` from tests/_sweep.py.
"""
import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=60, derandomize=True, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(
    "thorough", max_examples=5000, derandomize=False, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", max_examples=20, derandomize=True, deadline=None)
settings.load_profile(os.environ.get("FPSEM_PROFILE", "ci"))

# test helpers (oracles, sweep sizes) live in tests/
sys.path.insert(0, str(Path(__file__).parent / "tests"))


def pytest_collection_modifyitems(config, items):
    """Skip `cuda` tests cleanly where there is no GPU or no pycuda."""
    try:
        import pycuda.driver as drv
        drv.init()
        has_gpu = drv.Device.count() > 0
        why = "no CUDA device"
    except Exception as e:  # ImportError or a driver error: no GPU here
        has_gpu, why = False, f"pycuda/GPU unavailable ({type(e).__name__})"
    if has_gpu:
        return
    skip = pytest.mark.skip(reason=why)
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)
