// fpsem cuda domain: exhaustive accuracy scan of the float32 elementary functions.
// Not a domain kernel: used by bench/cuda_check.py to fill the ulp table of docs/cuda.md.
// Prepend common.cu; compile with -ftz=false, FPSEM_MODE=0, FPSEM_FAST=0 (libm) or 1 (fast).
//
// For every float32 bit pattern u in [start, start + count): y = F(x) in float32 and
// r = F(x) in float64 (CUDA's double libm, <= 2 ulp of binary64, i.e. < 2^-28 ulp of
// binary32); err = |y - r| / ulp32(r), ulp32(r) = 2^(max(floor(log2|r|), -126) - 23).
// Results: max err (as float bits, with the input, packed in one 64-bit atomicMax),
// the number of inputs where y != RN(r) (not correctly rounded, to within the double
// reference), and the number where exactly one of y, r is NaN or they differ in
// infinity (special mismatches). Overflowing references count as agreeing when y is
// the correctly rounded infinity.

#define SCAN(NAME, F32, F64)                                                              \
extern "C" __global__ void NAME(unsigned long long start, unsigned long long count,      \
                                unsigned long long* maxpack, unsigned long long* notcr,  \
                                unsigned long long* special) {                           \
    for (unsigned long long base = (unsigned long long)blockIdx.x * blockDim.x;          \
         base < count; base += (unsigned long long)blockDim.x * gridDim.x) {             \
        const unsigned long long idx = base + threadIdx.x;                               \
        bool bad_cr = false, bad_sp = false;                                             \
        float e = 0.0f;                                                                  \
        unsigned u = 0;                                                                  \
        if (idx < count) {                                                               \
            u = (unsigned)(start + idx);                                                 \
            const float x = __uint_as_float(u);                                          \
            if (!is_nan_bits(x)) {                                                       \
                const float y = F32(x);                                                  \
                const double r = F64((double)x);                                         \
                const float rr = __double2float_rn(r);                                   \
                const bool yn = is_nan_bits(y), rn = isnan(r);                           \
                if (yn || rn) { bad_sp = (yn != rn); }                                   \
                else if (isinf(rr) || isinf(y)) {                                        \
                    bad_sp = (y != rr); bad_cr = bad_sp;                                 \
                } else {                                                                 \
                    bad_cr = (__float_as_uint(y) != __float_as_uint(rr)) && !(y == 0.0f && rr == 0.0f); \
                    int ex; frexp(fabs(r), &ex);                                         \
                    int el = (ex - 1 < -126 ? -126 : ex - 1) - 23;                       \
                    if (r == 0.0) el = -149;                                             \
                    e = (float)(fabs((double)y - r) / ldexp(1.0, el));                   \
                }                                                                        \
            }                                                                            \
        }                                                                                \
        const int ncr = __syncthreads_count(bad_cr);                                     \
        const int nsp = __syncthreads_count(bad_sp);                                     \
        if (threadIdx.x == 0) {                                                          \
            if (ncr) atomicAdd(notcr, (unsigned long long)ncr);                          \
            if (nsp) atomicAdd(special, (unsigned long long)nsp);                        \
        }                                                                                \
        if (e > 0.0f)                                                                    \
            atomicMax(maxpack, ((unsigned long long)__float_as_uint(e) << 32) | u);      \
    }                                                                                    \
}

__device__ __forceinline__ float f_expf(float x) { return M_EXP(x); }
__device__ __forceinline__ float f_exp2f(float x) { return M_EXP2(x); }
__device__ __forceinline__ float f_logf(float x) { return M_LOG(x); }
__device__ __forceinline__ float f_tanhf(float x) { return M_TANH(x); }
__device__ __forceinline__ float f_erff(float x) { return M_ERF(x); }
__device__ __forceinline__ float f_sinf(float x) { return M_SIN(x); }
__device__ __forceinline__ float f_cosf(float x) { return M_COS(x); }

SCAN(scan_exp, f_expf, exp)
SCAN(scan_exp2, f_exp2f, exp2)
SCAN(scan_log, f_logf, log)
SCAN(scan_tanh, f_tanhf, tanh)
SCAN(scan_erf, f_erff, erf)
SCAN(scan_sin, f_sinf, sin)
SCAN(scan_cos, f_cosf, cos)
