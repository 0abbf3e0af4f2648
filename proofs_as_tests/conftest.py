"""Configuration lives in the repository-root conftest.py."""
from _sweep import fpsem_scale  # noqa: F401  (re-exported for `from conftest import ...`)
