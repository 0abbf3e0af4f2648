"""Nothing lost (issue 18): atomic outputs, output paths checked before the run,
Ctrl-C ends a command with exit 130 and writes nothing partial, and a kill test
(SIGKILL / SIGINT at random points of writing commands: the old file intact or
the new one complete)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from _cli import cli_capsys as cli
from fpsem.io import OutputPathError, atomic_write, check_output_path, write_json, write_npy




def _one_line_error(err):
    lines = err.strip().splitlines()
    return len(lines) == 1 and lines[0].startswith("fpsem: error: ") and "Traceback" not in err


# ------------------------------------------------------------------ the helper
def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path):
    p = tmp_path / "out.json"
    write_json(p, {"v": 1})

    def bad(fh):
        fh.write('{"v": 2, "partial')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(p, bad)
    assert json.loads(p.read_text()) == {"v": 1}
    assert sorted(os.listdir(tmp_path)) == ["out.json"]


def test_write_npy_writes_exactly_the_path(tmp_path):
    p = tmp_path / "logits"  # no .npy: np.save alone would write logits.npy
    write_npy(p, np.arange(3.0))
    assert sorted(os.listdir(tmp_path)) == ["logits"]
    assert np.load(p).tolist() == [0.0, 1.0, 2.0]


def test_atomic_write_keeps_permissions_of_plain_open(tmp_path):
    p = tmp_path / "a.txt"
    atomic_write(p, lambda fh: fh.write("x"))
    q = tmp_path / "b.txt"
    q.write_text("x")
    assert (p.stat().st_mode & 0o777) == (q.stat().st_mode & 0o777)


@pytest.mark.parametrize("path,why", [("", "empty"), (".", "directory"), ("/nonexistent-dir/x.json", "does not exist")])
def test_check_output_path_rejects(path, why):
    with pytest.raises(OutputPathError, match=why):
        check_output_path(path, "--json")


def test_check_output_path_suffix_and_ok(tmp_path):
    assert check_output_path(str(tmp_path / "a.json"), "--json") == str(tmp_path / "a.json")
    with pytest.raises(OutputPathError, match="must end with .npy"):
        check_output_path(str(tmp_path / "a"), "--save", suffix=".npy")


# ------------------------------------------------------------------ the commands
@pytest.mark.parametrize("argv", [
    ["run", "mlp", "--json", ""],
    ["run", "mlp", "--save-logits", ""],
    ["run", "mlp", "--save-logits", "/"],
    ["run", "mlp", "--json", "/nonexistent-dir/r.json"],
    ["audit", "--json", ""],
    ["audit", "--junit", "/nonexistent-dir/j.xml"],
    ["audit", "--update-baseline", "."],
    ["envelope", "mlp", "--json", ""],
    ["envelope", "mlp", "--plot", "/nonexistent-dir/p.png"],
    ["bestiary", "--json", "/nonexistent-dir/b.json"],
    ["bestiary", "--json", " "],
    ["run", "mlp", "--save-logits", "\t"],
])
def test_bad_output_paths_fail_before_the_run(capsys, argv):
    code, out, err = cli(capsys, *argv)
    assert code == 2 and _one_line_error(err), err
    assert out == ""  # rejected before anything ran


def test_save_logits_writes_the_named_file(capsys, tmp_path):
    p = tmp_path / "out"
    code, out, err = cli(capsys, "run", "mlp", "-d", "float32", "-r", "none", "--no-progress",
                         "--save-logits", str(p))
    assert code == 0, err
    assert sorted(os.listdir(tmp_path)) == ["out"] and np.load(p).ndim >= 1
    assert f"to {p}" in out.replace("\n", "")


def test_json_to_stdout_is_only_json(capsys):
    code, out, err = cli(capsys, "run", "mlp", "-d", "float32", "-r", "none", "--no-progress", "--json", "-")
    assert code == 0, err
    assert json.loads(out)["model"] == "mlp"
    assert "mlp" in err  # the tables went to stderr


# ------------------------------------------------------------------ interrupts
def test_interrupt_inside_numba_is_not_a_finding(monkeypatch, tmp_path, capsys):
    """A SIGINT that surfaces as SystemError (as inside numba) ends the audit with
    exit 130 and writes no baseline, no report."""
    from fpsem.bridges import audit as A
    real = A.run_case
    calls = []

    def interrupted(case, D, inputs):
        calls.append(case.name)
        if len(calls) == 3:
            try:
                raise KeyboardInterrupt
            except KeyboardInterrupt as k:
                raise SystemError("<built-in method> returned a result with an exception set") from k
        return real(case, D, inputs)

    monkeypatch.setattr(A, "run_case", interrupted)
    base, js = tmp_path / "base.json", tmp_path / "a.json"
    base.write_text('{"hashes": {"old": "1"}}\n')
    code, out, err = cli(capsys, "audit", "--no-models", "--domains", "float64",
                         "--update-baseline", str(base), "--json", str(js))
    assert code == 130, out + err
    assert "interrupted" in err and "FINDING" not in out
    assert base.read_text() == '{"hashes": {"old": "1"}}\n' and not js.exists()


def test_baseline_missing_audited_outputs_is_a_finding(tmp_path, capsys):
    base = tmp_path / "base.json"
    code, out, err = cli(capsys, "audit", "--no-models", "--domains", "float64", "--update-baseline", str(base))
    assert code == 0, out + err
    data = json.loads(base.read_text())
    dropped = sorted(data["hashes"])[0]
    del data["hashes"][dropped]
    base.write_text(json.dumps(data))
    code, out, err = cli(capsys, "audit", "--no-models", "--domains", "float64", "--baseline", str(base))
    assert code == 1 and "baseline:coverage" in out and dropped in out


# ------------------------------------------------------------------ kill tests
_WRITER = textwrap.dedent("""
    import sys, numpy as np
    from fpsem.io import write_npy
    path = sys.argv[1]
    a, b = np.zeros(3_000_000), np.ones(3_000_000)  # 24 MB each: writes take a while
    print("ready", flush=True)
    i = 0
    while True:
        write_npy(path, a if i % 2 else b)
        i += 1
""")


def test_sigkill_during_writes_leaves_a_complete_file(tmp_path):
    """SIGKILL at random points of a loop of 24 MB writes: the file is always one
    complete array, and no temporary file is left behind but the one in flight."""
    p = tmp_path / "x.npy"
    write_npy(p, np.full(3_000_000, 7.0))
    rng = np.random.default_rng(18)
    for _ in range(4):
        proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(p)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(float(rng.uniform(0.0, 0.4)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        arr = np.load(p)
        assert arr.shape == (3_000_000,) and np.unique(arr).size == 1 and arr[0] in (0.0, 1.0, 7.0)


def _is_npy(data):
    import io
    return np.load(io.BytesIO(data), allow_pickle=False).size > 0


def _is_npz(data):
    import io
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        return "__index__" in z.files


def _is_xml(data):
    import xml.etree.ElementTree as ET
    return ET.fromstring(data) is not None


def _is_png(data):
    return data[:8] == b"\x89PNG\r\n\x1a\n" and data.endswith(b"IEND\xaeB`\x82")


_SWEEP_SPEC = ('[model]\nname = "gpt2"\nconfig = { n_layer = 1, n_embd = 16, n_head = 2, n_positions = 32 }\n'
               '[inputs]\nkind = "token_ids"\nids = [[1, 2], [3, 4]]\n'
               '[[domains]]\nname = "float32"\nacc = "pairwise"\n[run]\nchunk = 1\nplot = true\n')

# every command that writes files: its arguments (given the directory) and each file it
# writes with a check that the file is complete (the old content is the other allowed state)
_CMD = {
    "run": (lambda d: ["run", "mlp", "-d", "float32", "-r", "none", "--no-progress",
                       "--save-logits", f"{d}/l.npy", "--json", f"{d}/r.json"],
            {"l.npy": _is_npy, "r.json": json.loads}),
    "envelope": (lambda d: ["envelope", "mlp", "--json", f"{d}/e.json", "--plot", f"{d}/e.png"],
                 {"e.json": json.loads, "e.png": _is_png}),
    "audit": (lambda d: ["audit", "--no-models", "-q", "--domains", "float32:acc=sequential", "--json",
                         f"{d}/a.json", "--junit", f"{d}/a.xml", "--update-baseline", f"{d}/b.json"],
              {"a.json": json.loads, "a.xml": _is_xml, "b.json": json.loads, "b.json.values.npz": _is_npz}),
    "bestiary": (lambda d: ["bestiary", "resnet50", "--json", f"{d}/b.json"], {"b.json": json.loads}),
    "verify": (lambda d: ["verify", "exp", "--range", "0x3f800000:0x3f820000", "--modes", "rne,rtz", "--serial",
                          "--json", f"{d}/v.json"], {"v.json": json.loads}),
    "sweep": (lambda d: ["sweep", f"{d}/s.toml", "--out", f"{d}/o", "--serial", "--json", f"{d}/s.json"],
              {"s.json": json.loads, "o/summary.json": json.loads, "o/margins.png": _is_png}),
    "models": (lambda d: ["models", "--json", f"{d}/m.json"], {"m.json": json.loads}),
}

# the fpsem process, which says 'ready' once its SIGINT handler is installed
_READY = ("import sys; from fpsem.interrupts import install; install(); print('ready', flush=True); "
          "from fpsem.cli import main; main()")


@pytest.mark.parametrize("which", list(_CMD))
def test_signals_during_writing_commands(tmp_path, which):
    """SIGINT and SIGKILL at random points of every writing command: each output
    file is its old content or the new one complete; on SIGINT the exit status is
    130 (0 if it had finished), no traceback, no temporary file left behind."""
    argv, files = _CMD[which]
    rng = np.random.default_rng(sum(map(ord, which)))
    t_run = None
    for sig in (None, signal.SIGINT, signal.SIGKILL):
        d = tmp_path / (sig.name if sig else "clean")
        (d / "o").mkdir(parents=True)
        (d / "s.toml").write_text(_SWEEP_SPEC)
        for f in files:
            (d / f).write_bytes(b"old content")
        before = {str(p.relative_to(d)) for p in d.rglob("*")}
        proc = subprocess.Popen([sys.executable, "-c", _READY, *argv(d)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout.readline().strip() == b"ready"
        t0 = time.monotonic()
        if sig is not None:
            # the outputs are written at the end: aim at the last part of the run (timed
            # by the clean run), so that some signals land before, in or after the writes
            time.sleep(float(rng.uniform(0.5, 1.1)) * t_run)
            proc.send_signal(sig)
        _, err = proc.communicate(timeout=300)
        if sig is None:
            t_run = time.monotonic() - t0
            assert proc.returncode == 0, err.decode()[-2000:]
        for f, complete in files.items():
            data = (d / f).read_bytes()
            assert (data == b"old content" and sig is not None) or complete(data), (which, sig, f, data[:80])
        if sig == signal.SIGINT:
            assert proc.returncode in (0, 130), err.decode()[-2000:]
            assert b"Traceback" not in err
            left = {str(p.relative_to(d)) for p in d.rglob("*")} - before
            assert not [n for n in left if n.endswith(".tmp")], left


def test_sigint_during_audit_update_baseline(tmp_path):
    """Ctrl-C during `audit --update-baseline`: exit 130, the old baseline untouched."""
    base = tmp_path / "base.json"
    base.write_text('{"hashes": {"keep": "me"}}\n')
    # the full suite over every domain runs ~15 s on a warm 2-core machine and
    # start-up takes ~0.1 s: a SIGINT after 1-2.5 s lands mid-run
    proc = subprocess.Popen([sys.executable, "-m", "fpsem", "audit", "--suite", "full",
                             "--update-baseline", str(base)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(float(np.random.default_rng(130).uniform(1.0, 2.5)))
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out + err).decode()[-2000:]
    assert base.read_text() == '{"hashes": {"keep": "me"}}\n'
    assert b"Traceback" not in err and b"FINDING" not in out


def test_envelope_outputs_written_whole(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    png, js = tmp_path / "p.png", tmp_path / "e.json"
    png.write_bytes(b"old")
    code, out, err = cli(capsys, "envelope", "mlp", "--plot", str(png), "--json", str(js))
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and json.loads(js.read_text())["model"] == "mlp"
    assert sorted(os.listdir(tmp_path)) == ["e.json", "p.png"]
