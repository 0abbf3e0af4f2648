"""Output people can use (issue 18): text is not rich markup, tables are not cut to
80 columns when stdout is not a terminal, JSON outputs are versioned and carry
the inputs' hashes."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

import fpsem
from _cli import cli_capsys as cli




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


def _env():
    return fpsem.envelope("mlp", domain=["ieee32", "float32"])


def test_envelope_table_shows_itself_in_a_plain_repl():
    env = _env()
    t = env.table()
    for text in (repr(t), str(t), str(env)):
        assert "rich.table.Table object" not in text
        assert "fc0" in text and "max ulp" in text and "[red]" not in text
    assert "float32 vs exact" in str(env) and env.summary() in str(env)
    from fpsem.console import render_text
    assert "worst node by ulp" in render_text(env)  # rich protocol: console.print(env)


def test_envelope_plot_one_panel_per_domain_limits_from_the_data():
    plt = pytest.importorskip("matplotlib.pyplot")
    import numpy as np
    env = _env()
    # a bit-exact node (zero error) must not drag the log axis down to 1e-300
    s = env.node("act0", "ieee32")
    s.max_abs, s.max_ulp = 0.0, 0.0
    fig = env._figure(plt)
    try:
        left = [ax for ax in fig.axes if ax.get_ylabel() == "absolute error"]
        right = [ax for ax in fig.axes if ax.get_ylabel() == "ulp"]
        assert len(left) == len(right) == 2
        for ax, dom in zip(left, env.domains):
            assert ax.get_title().startswith(dom)
            ys = np.concatenate([ln.get_ydata() for ln in ax.get_lines()]).astype(float)
            ys = ys[np.isfinite(ys)]
            assert (ys > 0).all()
            lo, hi = ax.get_ylim()
            assert lo >= ys.min() / 10 and hi <= ys.max() * 10
        assert "1 bit-exact" in left[0].get_title()
        ulps = np.asarray(right[0].get_lines()[0].get_ydata(), dtype=float)
        want = [env.node(n, "ieee32").max_ulp for n in env.nodes]
        assert np.array_equal(np.nan_to_num(ulps), [w if w > 0 else 0 for w in want])
    finally:
        plt.close(fig)


_SWEEP = ('[model]\nname = "gpt2"\nconfig = { n_layer = 1, n_embd = 16, n_head = 2, n_positions = 32 }\n'
          '[inputs]\nkind = "token_ids"\nids = [[1, 2]]\n'
          '[[domains]]\nname = "float32"\nacc = "pairwise"\n[run]\nplot = false\n')

# every command that writes JSON, with cheap arguments (tmp: a directory for its other files)
_JSON_CMDS = {
    "run": lambda tmp: ["run", "mlp", "-d", "float32", "-r", "none", "--no-progress"],
    "envelope": lambda tmp: ["envelope", "mlp", "--no-apriori"],
    "audit": lambda tmp: ["audit", "--no-models", "--suite", "quick", "--domains", "float64"],
    "bestiary": lambda tmp: ["bestiary"],
    "sweep": lambda tmp: ["sweep", str(tmp / "s.toml"), "--out", str(tmp / "o"), "--serial"],
    "verify": lambda tmp: ["verify", "log", "--range", "0x3f800000:0x3f800100", "--modes", "rne", "--serial"],
    "domains": lambda tmp: ["domains"],
    "ops": lambda tmp: ["ops", "softmax"],
    "models": lambda tmp: ["models"],
}


@pytest.mark.parametrize("cmd", list(_JSON_CMDS))
def test_one_json_convention(capsys, tmp_path, cmd):
    """Every command: a bare `--json` (or `--json -`) prints only JSON on stdout;
    `--json FILE` writes the same document to FILE; each starts with the schema,
    the fpsem version and the inputs' hashes; a bad FILE fails before the work."""
    (tmp_path / "s.toml").write_text(_SWEEP)
    argv = _JSON_CMDS[cmd](tmp_path)
    code, out, err = cli(capsys, *argv, "--json")
    assert code == 0, err
    doc = json.loads(out)  # nothing but the JSON on stdout
    assert list(doc)[:3] == ["schema", "fpsem_version", "inputs"] or cmd == "sweep"  # sweep sorts its keys
    assert doc["schema"] == f"fpsem.{cmd}/1" and doc["fpsem_version"] == fpsem.__version__
    assert isinstance(doc["inputs"], dict)
    if cmd in ("run", "envelope"):
        assert len(doc["inputs"]["inputs_sha256"]) == 64
    if cmd == "sweep":
        assert len(doc["inputs"]["spec_sha256"]) == 64 and doc["inputs"]["spec_hash"] == doc["spec_hash"]
    f = tmp_path / "r.json"
    code, out2, err = cli(capsys, *argv, "--json", str(f))
    assert code == 0, err
    assert json.loads(f.read_text())["schema"] == doc["schema"]
    code, out3, err = cli(capsys, *argv, "--json", str(tmp_path / "no" / "r.json"))
    assert code == 2 and err.startswith("fpsem: error: --json: directory") and err.count("\n") == 1


def test_run_and_envelope_hash_the_same_inputs(capsys):
    code, out, err = cli(capsys, "run", "mlp", "-d", "float32", "--no-progress", "--json", "-")
    a = json.loads(out)["inputs"]["inputs_sha256"]
    code, out, err = cli(capsys, "envelope", "mlp", "--no-apriori", "--json", "-")
    assert json.loads(out)["inputs"]["inputs_sha256"] == a
