"""The command line: listings answer, user errors are one line with exit code 2."""
import json
import subprocess
import sys



def fpsem(*args):
    return subprocess.run([sys.executable, "-m", "fpsem", *args], capture_output=True, text=True, timeout=300)


def test_domains_lists_every_domain():
    r = fpsem("domains", "--json")
    assert r.returncode == 0, r.stderr
    rows = {d["name"]: d for d in json.loads(r.stdout)["domains"]}
    assert {"exact", "interval", "ieee32", "float32", "float64", "cuda"} <= set(rows)
    assert rows["float32"]["available"] and rows["exact"]["available"]
    assert "rounding" in rows["float32"]["options"]
    r = fpsem("domains")
    assert r.returncode == 0 and "float32" in r.stdout


def test_ops_lists_primitives():
    r = fpsem("ops", "--json")
    assert r.returncode == 0, r.stderr
    rows = {o["name"]: o for o in json.loads(r.stdout)["ops"]}
    assert rows["softmax"]["primitives"] == ["sub", "div", "exp", "sum", "max"]
    assert "dot" in rows["conv2d"]["primitives"]
    assert fpsem("ops", "layer_norm").returncode == 0


def test_user_error_is_one_line_exit_2():
    r = fpsem("ops", "no_such_op")
    assert r.returncode == 2
    assert r.stderr.strip() == "fpsem: error: unknown op 'no_such_op'; `fpsem ops` lists them"


def test_usage_error_exit_2_without_traceback():
    r = fpsem("frobnicate")
    assert r.returncode == 2
    assert "No such command 'frobnicate'" in r.stderr and "Traceback" not in r.stderr


def test_unwritable_output_path_is_a_user_error(tmp_path):
    r = fpsem("bestiary", "--json", str(tmp_path / "no" / "such" / "dir.json"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    # checked before the run, naming the option and what is wrong
    assert r.stderr.strip().startswith("fpsem: error: --json: directory ")
    assert r.stderr.strip().endswith("/no/such does not exist")
