"""Every registered domain pickles (Dask ships domains to workers) and comes back
equal, with the same label and the same results."""
import pickle

import numpy as np
import pytest

import fpsem
from fpsem.registry import DOMAINS, availability

# options beyond the defaults, per domain, to show they travel too
EXTRA = {
    "ieee32": {"rounding": "rup", "ftz": True, "acc": "blocked(4)"},
    "bf16": {"rounding": "rtz"},
    "fp16": {"daz": True},
    "float32": {"acc": "pairwise"},
    "float64": {"acc": "tree(4)"},
    "interval": {},
    "exact": {},
}


@pytest.mark.parametrize("name", sorted(DOMAINS))
@pytest.mark.parametrize("extra", [False, True])
def test_domain_pickles(name, extra):
    ok, why = availability(name)
    if not ok:
        pytest.skip(f"{name}: {why}")
    D = fpsem.domain(name, **(EXTRA.get(name, {}) if extra else {}))
    for proto in (2, pickle.HIGHEST_PROTOCOL):
        D2 = pickle.loads(pickle.dumps(D, protocol=proto))
        assert type(D2) is type(D) and D2 == D and D2.label == D.label and hash(D2) == hash(D)
    x = D.asarray(["0.1", "-2.5", "3"])
    a, b = D.to_float64(D.add(x, x)), D2.to_float64(D2.add(D2.asarray(["0.1", "-2.5", "3"]),
                                                          D2.asarray(["0.1", "-2.5", "3"])))
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_a_probed_domain_stays_itself_and_pickles():
    from fpsem.bridges.apriori import probing
    D = fpsem.domain("ieee32", rounding="rdn")
    with probing(D) as probe:
        D.dot(D.asarray([[1, 2]]), D.asarray([[3], [4]]))
    assert probe.note is not None and type(D) is fpsem.registry.domain_class("ieee32")
    assert pickle.loads(pickle.dumps(D)) == D
