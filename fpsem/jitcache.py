"""Where numba caches fpsem's compiled kernels, and a notice while it compiles.

numba's default cache lives in `__pycache__` next to the source: inside
site-packages for an installed fpsem, where a leftover cache folder once
shadowed a later editable install (`import fpsem` gave an empty namespace
package). fpsem points NUMBA_CACHE_DIR to a per-user cache directory instead
(`$XDG_CACHE_HOME/fpsem/numba`, default `~/.cache/fpsem/numba`; the platform's
cache folder on macOS and Windows, as platformdirs' `user_cache_dir`), unless
the user set NUMBA_CACHE_DIR. A directory that cannot be written is skipped by
numba (it then compiles without caching).

It also makes idle OpenMP threads (numba's parallel kernels) sleep at once
(OMP_WAIT_POLICY=passive) unless the user chose a policy: spinning ones burned
a fifth of the CPU of the ball reference on GPT-2 small (38.1 s of CPU for 23.6 s
wall on 2 cores, against 30.9 s for 24.1 s passive) and took the cores from an
envelope's second thread.
"""
from __future__ import annotations

import os
import sys


def user_cache_dir():
    """The per-user cache directory of fpsem (not created here)."""
    home = os.path.expanduser("~")
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.join(home, "AppData", "Local")
        return os.path.join(base, "fpsem", "Cache")
    if sys.platform == "darwin":
        return os.path.join(home, "Library", "Caches", "fpsem")
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    if not os.path.isabs(base):   # the XDG spec ignores relative paths
        base = os.path.join(home, ".cache")
    return os.path.join(base, "fpsem")


def configure():
    """Set NUMBA_CACHE_DIR to fpsem's cache unless the user chose one; returns it.
    Called by `import fpsem` before any kernel module imports numba; if numba was
    imported first, its loaded configuration is updated too."""
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")   # read when OpenMP starts
    d = os.environ.get("NUMBA_CACHE_DIR")
    if not d:
        d = os.path.join(user_cache_dir(), "numba")
        os.environ["NUMBA_CACHE_DIR"] = d
        cfg = sys.modules.get("numba.core.config")
        if cfg is not None:
            cfg.CACHE_DIR = d
    return d


_announced = [False]
_registered = [False]


def announce_compilation():
    """Print one line to stderr when numba starts compiling a kernel for the first
    time in this process: a cold cache takes a while, and a silent pause looks
    like a hang. Cache hits do not compile, so a warm run says nothing."""
    if _registered[0]:
        return
    _registered[0] = True
    from numba.core import event

    class _Notice(event.Listener):
        def on_start(self, ev):
            if not _announced[0]:
                _announced[0] = True
                print(f"fpsem: compiling numba kernels on first use (cached in "
                      f"{os.environ.get('NUMBA_CACHE_DIR') or 'the numba default'}; later runs start at once)",
                      file=sys.stderr, flush=True)

        def on_end(self, ev):
            pass

    event.register("numba:compile", _Notice())
