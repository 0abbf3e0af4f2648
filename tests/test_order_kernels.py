"""The tiled ordered-dot kernels (fpsem.domains._f32kernels.prog_dot, fma_dot_hw)
against the definition: the composition fpsem.domains._orders.dot3 of sequential
pieces with the domain's add, the fma32 (round-to-odd) fma_chain kernel, the
ieee32 reference path (exact_flags=True: the emulator's integer kernels) and the
schedules of fpsem.order. Bit for bit, signed zeros, infinities, overflow and
subnormal results included; NaN payloads through the domains. No timing here."""
import zlib

import numpy as np
import pytest

import fpsem
from fpsem.domains import _f32kernels as K
from fpsem.domains import _orders
from fpsem.order import order_schedule, parse_order
from fpsem.value import raw

ORDERS = ["sequential", "pairwise", "blocked(1)", "blocked(3)", "blocked(64)", "tree(1)", "tree(4)",
          "tree(32)"]
ALL = ORDERS + ["fma_chain"]
F32, F64 = fpsem.domain("float32"), fpsem.domain("float64")

# (B, m, k, n): k = 1, k < w, non-powers of two, odd tile edges (PIB = 16 rows,
# PJB = 256 columns), B > 1
SHAPES = [(1, 1, 1, 1), (1, 3, 1, 5), (2, 17, 5, 300), (3, 5, 37, 7), (1, 20, 100, 513),
          (1, 33, 31, 257), (2, 16, 9, 256), (1, 2, 70, 3), (4, 1, 33, 1)]


def _same(x, y):
    x, y = raw(x), raw(y)  # domain values compare by their storage bits
    return np.array_equal(np.asarray(x).view(np.uint32 if x.dtype == np.float32 else np.uint64),
                          np.asarray(y).view(np.uint32 if y.dtype == np.float32 else np.uint64))


def _same_or_nan(x, y):
    """Same bits, except that any NaN matches any NaN (raw kernels: payloads unspecified)."""
    x, y = raw(x), raw(y)
    nx, ny = np.isnan(x), np.isnan(y)
    if not np.array_equal(nx, ny):
        return False
    return _same(np.where(nx, 0, x).astype(x.dtype), np.where(ny, 0, y).astype(y.dtype))


def _data(rng, shape, dtype=np.float32, special=0.0, scale_exp=(-8, 8)):
    """Normal values at random binary scales, some small integers (exact ties),
    1 + 2^-j values (products near rounding midpoints) and, with probability
    `special`, ±0, ±inf, NaN, ±max, ±tiny."""
    x = rng.standard_normal(shape) * np.ldexp(1.0, rng.integers(*scale_exp, size=shape))
    u = rng.random(shape)
    x = np.where(u < 0.15, rng.integers(-8, 9, size=shape), x)
    x = np.where((u >= 0.15) & (u < 0.25), 1 + np.ldexp(1.0, -rng.integers(1, 24, size=shape)), x)
    x = x.astype(dtype)
    if special:
        fi = np.finfo(dtype)
        sp = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, fi.max, -fi.max, fi.smallest_subnormal,
                       -fi.smallest_subnormal, fi.tiny], dtype=dtype)
        mask = rng.random(shape) < special
        x[mask] = sp[rng.integers(0, sp.size, size=int(mask.sum()))]
    return x


def _composed_f(D):
    seq = lambda x, y: K.seq_dot(np.ascontiguousarray(x), np.ascontiguousarray(y))
    return lambda a, b, order: _orders.dot3(D, a, b, order, seq, lambda x, y: K.fma_dot32(x, y))


def _kernel(a, b, order):
    return K.ordered_dot(np.ascontiguousarray(a), np.ascontiguousarray(b), order)


# ------------------------------------------------------------------ the program is the definition
class _Trees:
    """Addition trees over term indices, hash-consed: equal trees get equal ids
    (term i is id i; x + y is the id of the pair (x, y))."""

    def __init__(self):
        self.ids = {}

    def add(self, x, y):
        return self.ids.setdefault((x, y), 10 ** 9 + len(self.ids))


def _tree_of_program(T, prog):
    def pw(lo, hi):
        if hi - lo == 1:
            return lo
        h = lo + (hi - lo) // 2
        return T.add(pw(lo, h), pw(h, hi))
    st = []
    for op, k0, k1, ks in prog.tolist():
        if op == _orders.OP_SEQ:
            ks_ = list(range(k0, k1, ks))
            t = ks_[0]
            for i in ks_[1:]:
                t = T.add(t, i)
            st.append(t)
        elif op == _orders.OP_ADD:
            y = st.pop()
            st.append(T.add(st.pop(), y))
        elif op == _orders.OP_PW:
            st.append(pw(k0, k1))
        else:
            st.append(T.add(st.pop(), pw(k0, k1)))
    assert len(st) == 1
    return st[0]


def _tree_of_schedule(T, order, n):
    steps, root = order_schedule(order, n)
    node = {i: i for i in range(n)}
    for d, a, b in steps:
        node[d] = T.add(node[a], node[b])
    return node[root]


@pytest.mark.parametrize("order", ORDERS + ["blocked(2)", "blocked(7)", "tree(2)", "tree(8)", "tree(64)"])
def test_program_is_the_order_schedule(order):
    o = parse_order(order)
    for k in list(range(1, 80)) + [127, 128, 129, 768, 1000]:
        prog, depth = _orders.dot_program(o, k)
        T = _Trees()
        assert _tree_of_program(T, prog) == _tree_of_schedule(T, o, k), (order, k)
        # depth is what the kernel allocates: simulate it
        top = best = 0
        for op in prog[:, 0]:
            top += {0: 1, 1: -1, 2: 1, 3: 0}[int(op)]
            best = max(best, top)
        assert best == depth


# ------------------------------------------------------------------ raw kernels vs the composition
@pytest.mark.parametrize("order", ALL)
@pytest.mark.parametrize("special", [0.0, 0.05])
def test_kernel_equals_composition_float32(order, special):
    rng = np.random.default_rng(zlib.crc32(repr((order, special)).encode()))
    o = parse_order(order)
    ref = _composed_f(F32)
    for B, m, k, n in SHAPES:
        a, b = _data(rng, (B, m, k), special=special), _data(rng, (B, k, n), special=special)
        with np.errstate(all="ignore"):
            got, want = _kernel(a, b, o), ref(a, b, o)
        assert _same_or_nan(got, want), (order, (B, m, k, n))


@pytest.mark.parametrize("order", ALL)
def test_kernel_overflow_and_subnormal_results(order):
    """Scaled so that partial sums overflow to inf, or products and sums are subnormal."""
    rng = np.random.default_rng(7)
    o = parse_order(order)
    ref = _composed_f(F32)
    seen = {"inf": False, "subnormal": False}
    for exps in ((55, 66), (-80, -66), (-75, -60)):
        for B, m, k, n in SHAPES[:6]:
            a = _data(rng, (B, m, k), scale_exp=exps)
            b = _data(rng, (B, k, n), scale_exp=exps)
            with np.errstate(all="ignore"):
                got, want = _kernel(a, b, o), ref(a, b, o)
            assert _same_or_nan(got, want), (order, exps, (B, m, k, n))
            seen["inf"] |= bool(np.isinf(want).any())
            seen["subnormal"] |= bool(((want != 0) & (np.abs(want) < np.finfo(np.float32).tiny)).any())
    assert seen["inf"] and seen["subnormal"]


@pytest.mark.parametrize("order", ORDERS)
def test_kernel_equals_composition_float64(order):
    rng = np.random.default_rng(3)
    o = parse_order(order)
    ref = _composed_f(F64)
    for B, m, k, n in SHAPES:
        a = _data(rng, (B, m, k), np.float64, 0.05)
        b = _data(rng, (B, k, n), np.float64, 0.05)
        with np.errstate(all="ignore"):
            got, want = _kernel(a, b, o), ref(a, b, o)
        assert _same_or_nan(got, want), (order, (B, m, k, n))


def test_signed_zero_sums():
    """All-zero products: the sign of each zero sum follows the order exactly."""
    rng = np.random.default_rng(11)
    ref = _composed_f(F32)
    for order in ALL:
        o = parse_order(order)
        for k in (1, 2, 3, 5, 8, 9, 33):
            a = np.where(rng.random((2, 7, k)) < 0.5, -0.0, 0.0).astype(np.float32)
            b = np.where(rng.random((2, k, 300)) < 0.5, -1.0, 1.0).astype(np.float32)
            a[0, 0, :] = -0.0
            b[0, :, 0] = 1.0  # an all -0 product row
            got, want = _kernel(a, b, o), ref(a, b, o)
            assert _same(got, want), (order, k)
            assert np.signbit(want).any() == (order != "fma_chain")


def test_fma_hw_equals_round_to_odd_near_midpoints():
    """Sums of an exact product and an accumulator that land on or next to binary32
    rounding midpoints, in the normal and the subnormal range."""
    rng = np.random.default_rng(5)
    for e in (0, -100, -140, 100):
        k = 64
        a = (1 + np.ldexp(rng.integers(0, 1 << 12, size=(1, 8, k)), -12)).astype(np.float32)
        b = (1 + np.ldexp(rng.integers(0, 1 << 12, size=(1, k, 300)), -12))
        b = (b * np.where(rng.random(b.shape) < 0.5, -1, 1) * 2.0 ** e).astype(np.float32)
        with np.errstate(all="ignore"):
            assert _same_or_nan(K.fma_dot_hw(a, b), K.fma_dot32(a, b)), e


# ------------------------------------------------------------------ through the domains
@pytest.mark.parametrize("order", ALL)
def test_ieee32_fast_equals_reference_path(order):
    """ieee32 (fast kernels) == ieee32 with exact_flags=True (the emulator's
    reference kernels and adds) == the composition, bit for bit, NaN payloads too;
    and the ordered float32 domain gives the same bits up to NaN payloads (native
    float32 leaves them to the compiler: LLVM may commute an add's operands, and
    which NaN x86 returns depends on the order)."""
    rng = np.random.default_rng(zlib.crc32(repr(order).encode()))
    D = fpsem.domain("ieee32", acc=order)
    R = fpsem.domain("ieee32", acc=order, exact_flags=True)
    F = fpsem.domain("float32", acc=order)
    for B, m, k, n in [(1, 3, 1, 5), (2, 4, 7, 9), (1, 17, 33, 20), (3, 2, 5, 3)]:
        for special in (0.0, 0.08):
            a, b = _data(rng, (B, m, k), special=special), _data(rng, (B, k, n), special=special)
            got = D.dot(a, b)
            assert _same(got, R.dot(a, b)), (order, (B, m, k, n), special)
            assert _same(got, D._dot_composed(a, b, D.acc)), (order, (B, m, k, n))
            with np.errstate(all="ignore"):
                f = F.dot(a, b)
            assert _same_or_nan(f, F._dot_composed(a, b, F.acc))
            assert _same_or_nan(f, got)


def test_ieee32_fast_flags():
    D = fpsem.domain("ieee32", acc="tree(4)")
    a = np.full((2, 5), 3e38, np.float32)
    with D.collect_flags() as fl:
        D.dot(a, np.ones((5, 3), np.float32))
    assert fl["overflow"] and not fl["invalid"]
    a[0, 1] = -np.inf
    a[0, 2] = np.inf
    with D.collect_flags() as fl:
        assert np.isnan(D.dot(a, np.ones((5, 3), np.float32))[0]).all()
    assert fl["invalid"]


def test_float32_fma_chain_nan_outputs_follow_fma32():
    rng = np.random.default_rng(2)
    F = fpsem.domain("float32", acc="fma_chain")
    a, b = _data(rng, (2, 5, 9), special=0.2), _data(rng, (2, 9, 11), special=0.2)
    with np.errstate(all="ignore"):
        assert _same(F.dot(a, b), K.fma_dot32(a, b))


def test_empty_k():
    for order in ALL:
        for name, dt in (("ieee32", np.float32), ("float32", np.float32), ("float64", np.float64)):
            D = fpsem.domain(name, acc=order)
            out = D.dot(np.zeros((2, 0), dt), np.zeros((0, 3), dt))
            assert out.shape == (2, 3) and (out == 0).all() and not np.signbit(out).any()


# ------------------------------------------------------------------ ordered row sums
SUM_ORDERS = [o for o in ORDERS if not o.startswith("sequential")]


@pytest.mark.parametrize("order", SUM_ORDERS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ordered_sum_equals_sum_rows_composition(order, dtype):
    """K.ordered_sum (the dot program with unit weights) == _orders.sum_rows over the
    domain's add, bit for bit, signed zeros, infinities, overflow and subnormals
    included; NaN where the composition has NaN (payloads: the callers recompute)."""
    rng = np.random.default_rng(zlib.crc32(repr((order, str(dtype))).encode()))
    o = parse_order(order)
    D = F32 if dtype == np.float32 else F64
    seq = lambda r: K.seq_sum(np.ascontiguousarray(r))
    for R, n in [(1, 1), (3, 2), (5, 7), (17, 33), (300, 100), (2, 513), (40, 768)]:
        for special in (0.0, 0.05):
            x = _data(rng, (R, n), dtype, special=special)
            with np.errstate(all="ignore"):
                got, want = K.ordered_sum(x, o), _orders.sum_rows(D, x, o, seq)
            assert _same_or_nan(got, want), (order, R, n, special)
    # overflow to ±inf and a subnormal total, exactly as the composition
    fi = np.finfo(dtype)
    x = np.array([[fi.max, fi.max, -fi.max, 1.0], [fi.tiny, -fi.tiny / 2, fi.smallest_subnormal, 0.0]], dtype)
    with np.errstate(all="ignore"):
        assert _same(K.ordered_sum(x, o), _orders.sum_rows(D, x, o, seq)), order


@pytest.mark.parametrize("order", SUM_ORDERS)
def test_domain_sums_use_the_kernel_and_keep_the_bits(order):
    """ieee32 (fast: ordered_sum) == ieee32 with exact_flags=True (the emulator's
    adds) bit for bit, NaN payloads too; float32 the same up to NaN payloads."""
    rng = np.random.default_rng(zlib.crc32(repr(order).encode()))
    D = fpsem.domain("ieee32", acc=order)
    R_ = fpsem.domain("ieee32", acc=order, exact_flags=True)
    F = fpsem.domain("float32", acc=order)
    for shape in [(4, 9), (2, 3, 100), (50, 768)]:
        for special in (0.0, 0.08):
            x = _data(rng, shape, special=special)
            got = D.sum(x, axis=-1)
            assert _same(got, R_.sum(x, axis=-1)), (order, shape, special)
            with np.errstate(all="ignore"):
                assert _same_or_nan(F.sum(x, axis=-1), got), (order, shape, special)


def _threaded_dot_in_child(_):
    D = fpsem.domain("float32", acc="pairwise")
    a, b = np.ones((64, 512), np.float32), np.ones((512, 1024), np.float32)
    return float(np.asarray(D.dot(a, b))[0, 0])


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_threaded_kernels_work_in_a_forked_child():
    """prog_dot's thread pool is per process: a child forked after the parent used
    it (multiprocessing's default start method on Linux) must not wait forever on
    threads that did not survive the fork."""
    import multiprocessing
    assert _threaded_dot_in_child(0) == 512.0  # the parent's pool exists now
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.map_async(_threaded_dot_in_child, [0]).get(timeout=120) == [512.0]
