"""`fpsem run` executes each domain's forward once (counted through the observer)."""
import collections

import numpy as np
import pytest

import fpsem
from fpsem.cli import main
from fpsem.trace import observe


def _dots_per_domain(fn):
    """Top-level dot calls per domain label while fn() runs (a float domain run with
    running error bounds, `bridges.running.Running`, counts as that domain)."""
    n = collections.Counter()

    def on(call):
        if call.name == "dot" and call.depth == 0:
            D = call.domain
            n[getattr(D, "D", D).label] += 1
    with observe(on):
        fn()
    return n


def _cli(capsys, *args):
    with pytest.raises(SystemExit) as e:
        main(list(args))
        raise SystemExit(0)
    cap = capsys.readouterr()
    assert (e.value.code or 0) == 0, cap.err
    return cap.out


def test_each_domain_runs_once(capsys):
    from fpsem.models import get_model
    model = get_model("gpt2")
    ids = np.array([1, 2, 3, 4], dtype=np.int64)
    per_forward = _dots_per_domain(lambda: model.forward(fpsem.domain("float64"), ids))["float64"]
    assert per_forward > 0
    n = _dots_per_domain(lambda: _cli(capsys, "run", "gpt2", "-d", "ieee32", "--token-ids", "1,2,3,4",
                                      "--reference", "interval", "--no-progress"))
    # ieee32 is shown and measured from one forward; its companion and the reference once each
    assert n == {"ieee32": per_forward, "float32(acc=sequential)": per_forward, "interval": per_forward}


def test_domains_outside_the_envelope_run_once_too(capsys):
    n = _dots_per_domain(lambda: _cli(capsys, "run", "gpt2", "-d", "float32,interval", "--token-ids", "1,2",
                                      "--reference", "interval", "--no-progress"))
    assert len(set(n.values())) == 1 and set(n) == {"float32", "interval"}
