"""The ONNX package's own backend node tests (onnx.backend.test.BackendTest) through
fpsem's ONNX backend, for a selected subset in float32 and ieee32 (the full run over
every implemented op type, float64 and the 'light' real models is
bench/onnx_backend_suite.py; its table is in the README)."""
import re

import pytest

pytest.importorskip("onnx")
from onnx.backend.test import BackendTest  # noqa: E402

from fpsem.models.onnx_backend import backend_for  # noqa: E402

# one or two cases per op type of the ONNX import's op list (node tests only)
SUBSET = [
    "test_add_bcast", "test_sub_bcast", "test_mul_bcast", "test_div_bcast", "test_pow_bcast_scalar",
    "test_pow$", "test_sqrt$", "test_exp$", "test_log$", "test_tanh$", "test_erf$", "test_relu$",
    "test_sigmoid$", "test_matmul_4d", "test_gemm_all_attributes", "test_softmax_axis_1$",
    "test_layer_normalization_4d_axis1$", "test_layer_normalization_3d_axis_negative_1_epsilon_expanded$",
    "test_conv_with_strides_and_asymmetric_padding", "test_maxpool_2d_pads$",
    "test_maxpool_2d_ceil$", "test_averagepool_2d_pads$", "test_globalaveragepool$",
    "test_reduce_mean_default_axes_keepdims_example$", "test_reduce_sum_keepdims_random$",
    "test_reduce_max_do_not_keepdims_example$", "test_gather_1$", "test_gather_elements_1$",
    "test_reshape_negative_extended_dims", "test_transpose_all_permutations_3",
    "test_split_variable_parts_2d_opset18", "test_concat_3d_axis_negative_2", "test_slice_neg_steps",
    "test_expand_dim_changed", "test_flatten_negative_axis1", "test_squeeze$", "test_unsqueeze_two_axes",
    "test_identity$", "test_where_example", "test_isnan$", "test_cast_FLOAT_to_DOUBLE",
    "test_batchnorm_epsilon$", "test_gelu_tanh_2$", "test_gelu_default_2_expanded", "test_clip_splitbounds$",
    "test_edge_pad", "test_reflect_pad", "test_einsum_batch_matmul", "test_shape_start_1$",
    "test_constantofshape_int_zeros", "test_equal_bcast", "test_range_float_type_positive_delta$",
    "test_lrn$",
]

# "name$": exactly that case; otherwise every case whose name starts so
_PATTERNS = [re.compile(f"^{p[:-1]}_cpu$" if p.endswith("$") else f"^{p}.*_cpu$") for p in SUBSET]

for _dom in ("float32", "ieee32"):
    _bt = BackendTest(backend_for(_dom), __name__)
    for _pat in _PATTERNS:
        _bt.include(_pat.pattern)
    for _name, _cls in _bt.test_cases.items():
        # drop the thousands of excluded cases BackendTest would report as skipped
        for _m in [m for m in vars(_cls) if m.startswith("test_")]:
            if not any(p.search(_m) for p in _PATTERNS):
                delattr(_cls, _m)
        if not any(m.startswith("test_") for m in vars(_cls)):
            continue
        _cls.__name__ = f"{_name}_{_dom}"
        globals()[_cls.__name__] = _cls
