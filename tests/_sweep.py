import os


def fpsem_scale():
    """Multiplier for hand-rolled random sweeps: 1 in CI, 100 in the thorough profile."""
    return 100 if os.environ.get("FPSEM_PROFILE") == "thorough" else 1
