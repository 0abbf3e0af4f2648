"""Output people can use (issue 18): text is not rich markup, tables are not cut to
80 columns when stdout is not a terminal, JSON outputs are versioned and carry
the inputs' hashes."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

import fpsem
from fpsem.cli import main


def cli(capsys, *args):
    with pytest.raises(SystemExit) as e:
        main(list(args))
        raise SystemExit(0)
    cap = capsys.readouterr()
    return e.value.code or 0, cap.out, cap.err


def test_notes_are_not_markup(capsys):
    if fpsem.availability("cuda")[0]:
        pytest.skip("the note only appears where cuda is unavailable")
    code, out, err = cli(capsys, "audit", "--no-models", "--domains", "float64,cuda")
    assert "pip install 'fpsem[cuda]'" in out.replace("\n", "")


def test_tables_not_cut_when_piped():
    r = subprocess.run([sys.executable, "-m", "fpsem", "domains"], capture_output=True, text=True,
                       timeout=120, env={k: v for k, v in __import__("os").environ.items() if k != "COLUMNS"})
    assert r.returncode == 0, r.stderr
    assert max(len(line) for line in r.stdout.splitlines()) > 80
    assert "…" not in r.stdout  # no cell was truncated


def test_json_reports_are_versioned(capsys, tmp_path):
    code, out, err = cli(capsys, "run", "gpt2", "-d", "float64", "-r", "none", "--token-ids", "1,2",
                         "--no-progress", "--json", "-")
    assert code == 0, err
    rep = json.loads(out)
    assert rep["schema"] == "fpsem.run/1" and rep["fpsem_version"] == fpsem.__version__
    assert len(rep["inputs"]["inputs_sha256"]) == 64 and rep["host_fpenv"] == "default"
    js, base = tmp_path / "a.json", tmp_path / "b.json"
    code, out, err = cli(capsys, "audit", "--no-models", "--domains", "float64", "--json", str(js),
                         "--update-baseline", str(base))
    assert code == 0, out + err
    a = json.loads(js.read_text())
    assert a["schema"] == "fpsem.audit/1" and a["fpsem_version"] == fpsem.__version__
    assert a["platform"]["fpenv"] == "default" and {"numba", "blas", "cpu"} <= set(a["platform"])
    assert json.loads(base.read_text())["fpsem_version"] == fpsem.__version__


def test_baseline_with_bad_hash_is_a_user_error(capsys, tmp_path):
    base = tmp_path / "b.json"
    base.write_text('{"hashes": {"op:x@float64": 3}}')
    code, out, err = cli(capsys, "audit", "--no-models", "--domains", "float64", "--baseline", str(base))
    assert code == 2 and err.strip().count("\n") == 0 and "is not a string" in err


def test_run_takes_domain_options_like_envelope(capsys):
    code, out, err = cli(capsys, "run", "mlp", "-d", "ieee32:rounding=rtz,ftz=true,float32", "-r", "none",
                         "--no-progress", "--json", "-")
    assert code == 0, err
    assert json.loads(out)["domains"] == ["ieee32(rounding=rtz, ftz=True)", "float32"]
    code, out, err = cli(capsys, "run", "mlp", "-d", "ieee32:bogus", "-r", "none")
    assert code == 2 and "options are key=value" in err
