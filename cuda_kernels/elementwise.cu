// fpsem cuda domain: elementwise primitives, selection and data movement.
// Manifest: elementwise.json. Prepend common.cu.

#define BINARY(NAME, EXPR)                                                          \
extern "C" __global__ void NAME(float* __restrict__ out, const float* __restrict__ A, \
                                const float* __restrict__ B, Geo g) {               \
    GRID_LOOP(i, g.n) {                                                             \
        float a = A[goff(g, 0, i)], b = B[goff(g, 1, i)];                           \
        out[i] = (EXPR);                                                            \
    }                                                                               \
}

BINARY(ew_add, F_ADD(a, b))
BINARY(ew_sub, F_SUB(a, b))
BINARY(ew_mul, F_MUL(a, b))
BINARY(ew_div, F_DIV(a, b))
BINARY(ew_minimum, ieee_min(a, b))
BINARY(ew_maximum, ieee_max(a, b))

extern "C" __global__ void ew_fma(float* __restrict__ out, const float* __restrict__ A,
                                  const float* __restrict__ B, const float* __restrict__ C, Geo g) {
    GRID_LOOP(i, g.n) {
        out[i] = F_FMA(A[goff(g, 0, i)], B[goff(g, 1, i)], C[goff(g, 2, i)]);
    }
}

#define UNARY(NAME, EXPR)                                                           \
extern "C" __global__ void NAME(float* __restrict__ out, const float* __restrict__ A, Geo g) { \
    GRID_LOOP(i, g.n) {                                                             \
        float a = A[goff(g, 0, i)];                                                 \
        out[i] = (EXPR);                                                            \
    }                                                                               \
}

UNARY(ew_sqrt, F_SQRT(a))
// neg and abs are sign-bit operations (IEEE 754 5.5.1): exact, never flushed
UNARY(ew_neg, __uint_as_float(__float_as_uint(a) ^ 0x80000000u))
UNARY(ew_abs, __uint_as_float(__float_as_uint(a) & 0x7fffffffu))
UNARY(ew_exp, M_EXP(a))
UNARY(ew_exp2, M_EXP2(a))
UNARY(ew_log, M_LOG(a))
UNARY(ew_tanh, M_TANH(a))
UNARY(ew_erf, M_ERF(a))
UNARY(ew_sin, M_SIN(a))
UNARY(ew_cos, M_COS(a))
// strided gather: transpose, broadcast, basic slicing, flip
UNARY(ew_copy, a)

#define COMPARE(NAME, OP)                                                           \
extern "C" __global__ void NAME(unsigned char* __restrict__ out, const float* __restrict__ A, \
                                const float* __restrict__ B, Geo g) {               \
    GRID_LOOP(i, g.n) {                                                             \
        float a = daz_in(A[goff(g, 0, i)]), b = daz_in(B[goff(g, 1, i)]);           \
        out[i] = (a OP b) ? 1 : 0;                                                  \
    }                                                                               \
}
COMPARE(cmp_lt, <)
COMPARE(cmp_le, <=)
COMPARE(cmp_gt, >)
COMPARE(cmp_ge, >=)
COMPARE(cmp_eq, ==)
COMPARE(cmp_ne, !=)

// out = mask ? a : b (input 0 is the uint8 mask, inputs 1 and 2 the values)
extern "C" __global__ void ew_where(float* __restrict__ out, const unsigned char* __restrict__ M,
                                    const float* __restrict__ A, const float* __restrict__ B, Geo g) {
    GRID_LOOP(i, g.n) {
        out[i] = M[goff(g, 0, i)] ? A[goff(g, 1, i)] : B[goff(g, 2, i)];
    }
}

// gather along an axis: x viewed as (outer, nax, inner), idx (nidx,) -> out (outer, nidx, inner)
extern "C" __global__ void ew_take(float* __restrict__ out, const float* __restrict__ A,
                                   const long long* __restrict__ idx, long long outer,
                                   long long nidx, long long nax, long long inner) {
    long long n = outer * nidx * inner;
    GRID_LOOP(i, n) {
        long long r = i % inner, t = i / inner;
        long long j = t % nidx, o = t / nidx;
        long long s = idx[j];
        if (s < 0) s += nax;
        out[i] = A[(o * nax + s) * inner + r];
    }
}

// strided scatter-copy: element i of a piece with shape g.shape goes from input 0 (strides
// st[0]) to the output at off[1] + sum(idx * st[1]) (used by concat and stack)
extern "C" __global__ void ew_place(float* __restrict__ out, const float* __restrict__ A, Geo g) {
    GRID_LOOP(i, g.n) { out[goff(g, 1, i)] = A[goff(g, 0, i)]; }
}

// gather by flat source indices (general integer-array indexing)
extern "C" __global__ void ew_gather(float* __restrict__ out, const float* __restrict__ A,
                                     const long long* __restrict__ idx, long long n) {
    GRID_LOOP(i, n) { out[i] = A[idx[i]]; }
}
