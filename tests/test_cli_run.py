"""`fpsem run` and `fpsem models` through the real entry point (exit codes included)."""
import json

import numpy as np
import pytest

import fpsem
from fpsem.cli import main


def run(capsys, *args):
    with pytest.raises(SystemExit) as e:
        main(list(args))
        raise SystemExit(0)
    cap = capsys.readouterr()
    return e.value.code or 0, cap.out, cap.err


def test_run_gpt2_float32_json_and_logits(capsys, tmp_path):
    j, npy = tmp_path / "r.json", tmp_path / "l.npy"
    code, out, err = run(capsys, "run", "gpt2", "-d", "float32,float64", "-r", "none", "--tokens", "6",
                         "--json", str(j), "--save-logits", str(npy), "--no-progress")
    assert code == 0, err
    assert "RANDOM weights" in out and "top next tokens" in out
    rep = json.loads(j.read_text())
    assert rep["random_weights"] is True and rep["domains"] == ["float32", "float64"]
    assert len(rep["tokens"]) == 6 and len(rep["runs"][0]["top"]) == 5
    arr = np.load(npy)
    assert arr.shape == (6, 50257) and arr.dtype == np.float64
    assert rep["runs"][0]["top"][0]["id"] == int(np.argmax(arr[-1]))


def test_run_gpt2_prompt_generate_with_reference(capsys, tmp_path):
    if not fpsem.availability("interval")[0]:
        pytest.skip("interval domain not available in this build")
    j = tmp_path / "r.json"
    code, out, err = run(capsys, "run", "gpt2", "-d", "float32", "--prompt", "Hi!", "--generate", "3",
                         "--json", str(j))
    assert code == 0, err
    rep = json.loads(j.read_text())
    assert rep["tokens"] == [39, 72, 0]  # byte tokens of "Hi!"
    assert len(rep["generate"]["ids"]) == 3
    assert rep["top1"]["certain"] in (True, False)
    assert "envelope per block" in out and "h.1" in out


def test_run_interval_saves_lo_hi(capsys, tmp_path):
    if not fpsem.availability("interval")[0]:
        pytest.skip("interval domain not available in this build")
    npy = tmp_path / "l.npy"
    code, out, err = run(capsys, "run", "gpt2", "-d", "interval", "-r", "none", "--token-ids", "1,2,3",
                         "--save-logits", str(npy), "--no-progress")
    assert code == 0, err
    arr = np.load(npy)
    assert arr.shape == (3, 50257, 2) and np.all(arr[..., 0] <= arr[..., 1])


def test_run_with_checkpoint(capsys, tmp_path):
    from fpsem.models import GPT2, GPT2Config
    from fpsem.models.weights import save_gpt2, write_config_json
    cfg = GPT2Config(n_layer=1, n_embd=16, n_head=2, n_positions=16, vocab_size=260)
    m = GPT2(cfg, seed=5)
    save_gpt2(m, str(tmp_path / "model.safetensors"))
    write_config_json(cfg, str(tmp_path / "config.json"))
    npy = tmp_path / "l.npy"
    code, out, err = run(capsys, "run", "gpt2", "-w", str(tmp_path), "-d", "float32", "-r", "none",
                         "--token-ids", "1,2,3", "--save-logits", str(npy), "--no-progress")
    assert code == 0, err
    assert "RANDOM" not in out and "weights from" in out
    D = fpsem.domain("float32")
    assert np.array_equal(np.load(npy), m.forward(D, np.array([1, 2, 3])).astype(np.float64))


@pytest.mark.parametrize("args,msg", [
    (["run", "gpt2", "-d", "float32", "--token-ids", "1,50257"], "outside the vocabulary"),
    (["run", "gpt2", "-d", "float32", "--tokens", "300"], "context length"),
    (["run", "gpt2", "-d", "float32", "--token-ids", "a,b"], "integers"),
    (["run", "gpt2", "-d", "nosuch"], "unknown domain"),
    (["run", "gpt2", "-d", "float32", "--rounding", "rtz"], "rounding"),
    (["run", "gpt2", "-d", "float32", "-w", "/nonexistent/model.safetensors"], "not found"),
    (["run", "gpt5", "-d", "float32"], "unknown model"),
    (["run", "mlp", "-d", "float32", "--prompt", "x"], "gpt2"),
    (["run", "gpt2", "-d", "float32", "--prompt", "x", "--tokens", "3"], "at most one"),
])
def test_user_errors_exit_2_without_traceback(capsys, args, msg):
    code, out, err = run(capsys, *args)
    assert code == 2
    assert msg in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_bad_weights_file_exit_2(capsys, tmp_path):
    f = tmp_path / "model.safetensors"
    f.write_bytes(b"\x00" * 20)
    code, out, err = run(capsys, "run", "gpt2", "-d", "float32", "-w", str(f))
    assert code == 2 and "Traceback" not in err


@pytest.mark.parametrize("name", ["mlp", "cnn", "diffusion"])
def test_run_zoo_model(capsys, name):
    code, out, err = run(capsys, "run", name, "-d", "float32", "-r", "none", "--no-progress")
    assert code == 0, err
    assert name in out and "output" in out


def test_models_lists_zoo(capsys):
    code, out, err = run(capsys, "models", "--json")
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)["models"]}
    assert {"gpt2", "mlp", "cnn", "resnet", "vit", "rnn", "lstm", "gru", "transformer", "mamba",
            "fno", "diffusion"} <= set(rows)
    assert rows["gpt2"]["presets"]["small"] == 124_439_808
    assert rows["mlp"]["rational"] is True
