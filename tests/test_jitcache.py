"""numba's cache goes to a per-user directory; a cold cache says it compiles."""
import os
import pathlib
import subprocess
import sys

KERNEL = ("import numpy as np, fpsem\n"
          "from fpsem.domains._f32kernels import seq_sum\n"
          "from fpsem.jitcache import announce_compilation\n"
          "announce_compilation()\n"
          "assert seq_sum(np.ones((1, 3), np.float32))[0] == 3\n"
          "import os; print(os.environ['NUMBA_CACHE_DIR'])\n")


def _run(env_extra, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-c", KERNEL], env=env, capture_output=True, text=True,
                          cwd=tmp_path, timeout=600)


def test_cache_goes_to_the_user_cache_dir_and_cold_runs_say_so(tmp_path):
    xdg = tmp_path / "xdg"
    r = _run({"XDG_CACHE_HOME": str(xdg), "HOME": str(tmp_path)}, tmp_path)
    assert r.returncode == 0, r.stderr
    d = pathlib.Path(r.stdout.strip())
    assert d == xdg / "fpsem" / "numba"
    assert any(d.rglob("*.nbi")), "no numba index written to the user cache"
    notice = [ln for ln in r.stderr.splitlines() if "compiling numba kernels" in ln]
    assert len(notice) == 1 and str(d) in notice[0]
    # warm: the kernel loads from the cache, nothing is compiled, nothing said
    r2 = _run({"XDG_CACHE_HOME": str(xdg), "HOME": str(tmp_path)}, tmp_path)
    assert r2.returncode == 0 and "compiling" not in r2.stderr, r2.stderr


def test_an_explicit_numba_cache_dir_is_respected(tmp_path):
    mine = tmp_path / "mine"
    r = _run({"NUMBA_CACHE_DIR": str(mine), "XDG_CACHE_HOME": str(tmp_path / "xdg")}, tmp_path)
    assert r.returncode == 0, r.stderr
    assert pathlib.Path(r.stdout.strip()) == mine and any(mine.rglob("*.nbi"))
    assert not (tmp_path / "xdg").exists()


def test_user_cache_dir_follows_xdg(monkeypatch):
    from fpsem.jitcache import user_cache_dir
    if sys.platform in ("win32", "darwin"):
        return
    monkeypatch.setenv("XDG_CACHE_HOME", "/some/where")
    assert user_cache_dir() == "/some/where/fpsem"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert user_cache_dir() == os.path.join(os.path.expanduser("~"), ".cache", "fpsem")
