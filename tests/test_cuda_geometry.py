"""The cuda domain runs the base class's structural primitives on host geometry
(`fpsem.domains._cuda_array`): a numpy function applied to a fake array tells the
view it makes (shape, offset, strides) or, for a copy, the source index of every
element. Both must reproduce numpy on real data; no GPU is needed for this."""
import numpy as np
import pytest

from fpsem.domains._cuda_array import _source_index, _view_geometry

X = np.arange(2 * 3 * 4, dtype=np.int64).reshape(2, 3, 4)
FNS = {
    "reshape": lambda p: p.reshape(6, 4),
    "flatten": lambda p: p.reshape(-1),
    "transpose": lambda p: np.transpose(p, (2, 0, 1)),
    "index": lambda p: p[1],
    "slice_step": lambda p: p[:, 1:, ::2],
    "scalar": lambda p: p[0, 1, 2],
    "broadcast": lambda p: np.broadcast_to(p[:, :1], (2, 3, 4)),
    "expand_dims": lambda p: np.expand_dims(p, 1),
    "squeeze": lambda p: np.squeeze(p[:1], 0),
    "flip": lambda p: np.flip(p, 2),
    "take": lambda p: np.take(p, [2, 0, -1], axis=1),
    "fancy": lambda p: p[[1, 0]],
    "mixed": lambda p: p[:, [1, 0], 1:3],
    "mask": lambda p: p[X[..., 0] > 5],
    "empty": lambda p: p[:, 3:],
}
VIEWS = {"reshape", "flatten", "transpose", "index", "slice_step", "broadcast", "expand_dims",
         "squeeze", "flip", "empty"}


@pytest.mark.parametrize("name", sorted(FNS))
def test_structure_on_host_geometry(name):
    fn = FNS[name]
    ref = np.asarray(fn(X))
    geo = _view_geometry(X.shape, fn)
    assert (geo is not None) == (name in VIEWS)  # views share the buffer, copies gather
    if geo is not None:
        shape, off, strides = geo
        flat = X.reshape(-1)
        got = (np.lib.stride_tricks.as_strided(flat[off:], shape=shape, strides=[8 * s for s in strides])
               if np.prod(shape) else np.empty(shape, dtype=np.int64))
    else:
        got = X.reshape(-1)[_source_index(X.shape, fn)]
    assert got.shape == ref.shape and np.array_equal(got, ref)
