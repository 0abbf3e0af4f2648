"""The model zoo: every model runs in every domain it can, through fpsem.envelope too."""
import numpy as np
import pytest

import fpsem
from fpsem.errors import FpsemError
from fpsem.models import ZOO, get_model
from fpsem.models.values import bounds

ZOO_NAMES = [n for n in ZOO if n != "gpt2"]
EXPECTED = {"mlp", "cnn", "resnet", "vit", "rnn", "lstm", "gru", "transformer", "mamba", "fno", "diffusion"}


def _avail(name):
    ok, why = fpsem.availability(name)
    if not ok:
        pytest.skip(f"domain {name} not available in this build: {why}")
    return fpsem.domain(name)


@pytest.fixture(scope="module")
def f64_outputs():
    out = {}
    for n in ZOO:
        m = get_model(n)
        D = fpsem.domain("float64")
        out[n] = np.asarray(D.to_float64(m.forward(D, *m.default_inputs())))
    return out


def test_zoo_is_complete():
    assert EXPECTED <= set(ZOO)


@pytest.mark.parametrize("name", ZOO_NAMES)
def test_model_api(name):
    m = get_model(name)
    assert m.name == name and m.n_params == sum(v.size for v in m.params.values()) > 0
    assert all(v.dtype == np.float32 for v in m.params.values())
    assert isinstance(m.is_rational, bool) and m.decision_axis == -1
    m2 = get_model(name, seed=0)
    assert all(np.array_equal(m.params[k], m2.params[k]) for k in m.params)
    m3 = get_model(name, seed=1)
    assert any(not np.array_equal(m.params[k], m3.params[k]) for k in m.params)


@pytest.mark.parametrize("name", ZOO_NAMES)
def test_float32_close_to_float64(name, f64_outputs):
    m = get_model(name)
    steps = []
    from fpsem.trace import progress
    D = fpsem.domain("float32")
    with progress(steps.append):
        f32 = np.asarray(D.to_float64(m.forward(D, *m.default_inputs())))
    ref = f64_outputs[name]
    assert f32.shape == ref.shape and np.all(np.isfinite(f32))
    # tiny models (depth <= a dozen roundings chains of length <= a few hundred):
    # float32 agrees with float64 to ~1e-4 of the output scale
    assert np.abs(f32 - ref).max() <= 1e-4 * (np.abs(ref).max() + 1)
    assert len(steps) == m.n_steps


@pytest.mark.parametrize("name", ZOO_NAMES)
def test_interval_encloses(name, f64_outputs):
    D = _avail("interval")
    m = get_model(name)
    lo, hi = bounds(D, m.forward(D, *m.default_inputs()))
    ref = f64_outputs[name]
    slack = 1e-9 * (np.abs(ref).max() + 1)  # the float64 run's own rounding error
    assert np.all(lo - slack <= ref) and np.all(ref <= hi + slack)
    assert np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))


@pytest.mark.parametrize("name", [n for n in ZOO_NAMES if ZOO[n].is_rational])
def test_rational_models_run_exactly(name, f64_outputs):
    m = get_model(name)
    D = fpsem.domain("exact")
    got = np.asarray(D.to_float64(m.forward(D, *m.default_inputs())))
    ref = f64_outputs[name]
    assert np.abs(got - ref).max() <= 1e-12 * (np.abs(ref).max() + 1)


@pytest.mark.parametrize("name", ZOO_NAMES)
def test_ieee32(name, f64_outputs):
    D = _avail("ieee32")
    m = get_model(name)
    got = np.asarray(D.to_float64(m.forward(D, *m.default_inputs())))
    ref = f64_outputs[name]
    assert np.abs(got - ref).max() <= 1e-4 * (np.abs(ref).max() + 1)


@pytest.mark.cuda
@pytest.mark.parametrize("name", ZOO_NAMES)
def test_cuda(name, f64_outputs):
    D = _avail("cuda")
    m = get_model(name)
    got = np.asarray(D.to_float64(m.forward(D, *m.default_inputs())))
    ref = f64_outputs[name]
    assert np.abs(got - ref).max() <= 1e-4 * (np.abs(ref).max() + 1)


@pytest.mark.parametrize("name", ["mlp", "lstm", "transformer"])
def test_envelope_by_name(name):
    _avail("interval")
    env = fpsem.envelope(name, domain="float32", reference="interval")
    assert env.nodes and all(s.holds for s in env.stats() if s.holds is not None)


def test_envelope_exact_reference_for_rational_model():
    env = fpsem.envelope("mlp", domain="float32", reference="exact")
    assert env.decision().certain is not None


def test_unknown_model_and_weights():
    with pytest.raises(FpsemError, match="unknown model"):
        get_model("no-such-model")
    with pytest.raises(FpsemError, match="gpt2"):
        get_model("mlp", weights="x.safetensors")
    with pytest.raises(FpsemError, match="unknown config"):
        get_model("mlp", config="huge")
    m = get_model("mlp", config={"hidden": (8,)})
    assert m.params["fc0.weight"].shape == (16, 8)
