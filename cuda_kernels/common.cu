// fpsem cuda domain: common definitions, prepended to every kernel module.
//
// Every module is compiled by fpsem/domains/cuda.py with explicit flags:
//   -fmad=false          no contraction of a*b+c: every fused multiply-add is an explicit __fmaf_*
//   -ftz=false|true      subnormal handling of every float32 instruction (the domain's ftz/daz)
//   -prec-div=true -prec-sqrt=true   IEEE division and square root (never the approximate ones)
//   no --use_fast_math; the fast intrinsics (__expf, ...) are only used when math="fast"
//   -DFPSEM_MODE=0..3    rounding of every arithmetic step: rn, rz, ru, rd (directed-mode intrinsics)
//   -DFPSEM_DAZ=0|1      explicit flushing of subnormal inputs in the non-arithmetic kernels
//                        (minimum, maximum, comparisons), which have no .ftz instruction form
//   -DFPSEM_FAST=0|1     libm (expf, logf, ...) or the fast intrinsics (__expf, __logf, ...)
// The manifest of each kernel lives beside its source (NAME.json).

#ifndef FPSEM_MODE
#define FPSEM_MODE 0
#endif
#ifndef FPSEM_DAZ
#define FPSEM_DAZ 0
#endif
#ifndef FPSEM_FAST
#define FPSEM_FAST 0
#endif

#if FPSEM_MODE == 0
#define F_ADD __fadd_rn
#define F_SUB __fsub_rn
#define F_MUL __fmul_rn
#define F_DIV __fdiv_rn
#define F_SQRT __fsqrt_rn
#define F_FMA __fmaf_rn
#elif FPSEM_MODE == 1
#define F_ADD __fadd_rz
#define F_SUB __fsub_rz
#define F_MUL __fmul_rz
#define F_DIV __fdiv_rz
#define F_SQRT __fsqrt_rz
#define F_FMA __fmaf_rz
#elif FPSEM_MODE == 2
#define F_ADD __fadd_ru
#define F_SUB __fsub_ru
#define F_MUL __fmul_ru
#define F_DIV __fdiv_ru
#define F_SQRT __fsqrt_ru
#define F_FMA __fmaf_ru
#else
#define F_ADD __fadd_rd
#define F_SUB __fsub_rd
#define F_MUL __fmul_rd
#define F_DIV __fdiv_rd
#define F_SQRT __fsqrt_rd
#define F_FMA __fmaf_rd
#endif

// The identity of addition in this rounding mode: x + ID == x for every x, signed
// zeros included (-0 in rn/rz/ru; +0 in rd, where +0 + -0 = -0). A sequential sum
// s = t0; s += t_i is computed as s = ID; s += t_i for i = 0.., with the same bits.
#if FPSEM_MODE == 3
#define ACC_ID (0.0f)
#else
#define ACC_ID (-0.0f)
#endif

#define CANON_NAN __uint_as_float(0x7fffffffu)

__device__ __forceinline__ float daz_in(float x) {
#if FPSEM_DAZ
    unsigned u = __float_as_uint(x);
    if ((u & 0x7f800000u) == 0u) u &= 0x80000000u;
    return __uint_as_float(u);
#else
    return x;
#endif
}

__device__ __forceinline__ bool is_nan_bits(float x) {
    return (__float_as_uint(x) & 0x7fffffffu) > 0x7f800000u;
}

// IEEE 754-2019 maximum / minimum: NaN propagating (canonical NaN), -0 < +0.
__device__ __forceinline__ float ieee_max(float a, float b) {
    a = daz_in(a); b = daz_in(b);
    if (is_nan_bits(a) || is_nan_bits(b)) return CANON_NAN;
    if (a == b) return (__float_as_uint(a) & 0x80000000u) ? b : a;
    return a > b ? a : b;
}
__device__ __forceinline__ float ieee_min(float a, float b) {
    a = daz_in(a); b = daz_in(b);
    if (is_nan_bits(a) || is_nan_bits(b)) return CANON_NAN;
    if (a == b) return (__float_as_uint(a) & 0x80000000u) ? a : b;
    return a < b ? a : b;
}

// elementary functions: CUDA's libm, or the fast hardware approximations
__device__ __forceinline__ float tanh_approx(float x) {
    float y; asm("tanh.approx.f32 %0, %1;" : "=f"(y) : "f"(x)); return y;
}
__device__ __forceinline__ float ex2_approx(float x) {
    float y; asm("ex2.approx.f32 %0, %1;" : "=f"(y) : "f"(x)); return y;
}
#if FPSEM_FAST
#define M_EXP(x) __expf(x)
#define M_EXP2(x) ex2_approx(x)
#define M_LOG(x) __logf(x)
#define M_TANH(x) tanh_approx(x)
#define M_ERF(x) erff(x)
#define M_SIN(x) __sinf(x)
#define M_COS(x) __cosf(x)
#else
#define M_EXP(x) expf(x)
#define M_EXP2(x) exp2f(x)
#define M_LOG(x) logf(x)
#define M_TANH(x) tanhf(x)
#define M_ERF(x) erff(x)
#define M_SIN(x) sinf(x)
#define M_COS(x) cosf(x)
#endif

// Geometry of an elementwise launch: the output is C-contiguous with `n` elements and
// shape[0..nd); input k is read at off[k] + sum(idx[d] * st[k][d]) (strides in elements,
// 0 for broadcast axes), or at off[k] + i when bit k of `contig` is set.
#define MAXD 8
struct Geo {
    long long n, nd, contig;
    long long shape[MAXD];
    long long st[4][MAXD];
    long long off[4];
};

__device__ __forceinline__ long long goff(const Geo& g, int k, long long i) {
    if ((g.contig >> k) & 1) return g.off[k] + i;
    long long o = g.off[k], r = i;
    for (int d = (int)g.nd - 1; d >= 0; --d) {
        long long s = g.shape[d];
        long long q = r / s;
        o += (r - q * s) * g.st[k][d];
        r = q;
    }
    return o;
}

#define GRID_LOOP(i, n) \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (long long)blockDim.x * gridDim.x)
