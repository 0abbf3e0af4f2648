// fpsem cuda domain: fused kernels for whole ops (softmax, layer_norm, gelu_tanh,
// scaled_dot_product_attention, flash_attention). Manifest: fused.json. Prepend common.cu.
//
// Each kernel performs exactly the roundings of the generic op in fpsem/ops, in the same
// order, with the same primitives (F_ADD ... in the domain's mode, M_EXP ... per `math`),
// so a fused op is bit-identical to the generic decomposition run in the cuda domain
// (checked by tests/test_cuda.py). Only the memory traffic and launch count change.
// Supported sum orders: kind 0 = sequential (fma_chain/native for sums), kind 1 = tree(w)
// with w <= blockDim; the domain falls back to the generic op for any other order.

#define FBS 256   // threads per block for the row kernels

// Sum of term(i), i < n, in order (kind, w), by the whole block; result in every thread.
// sh holds at least blockDim.x + 1 floats.
template <typename F>
__device__ __forceinline__ float block_sum(F term, long long n, long long kind, long long w, float* sh) {
    const int j = threadIdx.x;
    const int bs = blockDim.x;
    float res;
    if (kind == 0) {
        if (j == 0) {
            float s = ACC_ID;
            for (long long i = 0; i < n; ++i) s = F_ADD(s, term(i));
            sh[bs] = s;
        }
        __syncthreads();
        res = sh[bs];
        __syncthreads();
        return res;
    }
    float s = ACC_ID;
    if (j < w) for (long long i = j; i < n; i += w) s = F_ADD(s, term(i));
    long long h = w / 2;
    sh[j] = s;
    __syncthreads();
    for (; h >= 32; h /= 2) {
        if (j < h && j + h < n) sh[j] = F_ADD(sh[j], sh[j + h]);
        __syncthreads();
    }
    if (j < 32) {
        s = sh[j];
        for (; h >= 1; h /= 2) {
            float o = __shfl_down_sync(0xffffffffu, s, (unsigned)h);
            if (j < h && j + h < n) s = F_ADD(s, o);
        }
        if (j == 0) sh[bs] = s;
    }
    __syncthreads();
    res = sh[bs];
    __syncthreads();
    return res;
}

// IEEE maximum of v over the block (exact, order-free); result in every thread.
__device__ __forceinline__ float block_max(float v, float* sh) {
    const int j = threadIdx.x;
    sh[j] = v;
    __syncthreads();
    for (int h = blockDim.x / 2; h >= 1; h /= 2) {
        if (j < h) sh[j] = ieee_max(sh[j], sh[j + h]);
        __syncthreads();
    }
    float m = sh[0];
    __syncthreads();
    return m;
}

// softmax over the last axis of (R, n): m = max x; e = exp(x - m); out = e / sum(e)
extern "C" __global__ void __launch_bounds__(FBS)
softmax_rows(float* __restrict__ out, const float* __restrict__ x, long long R, long long n,
             long long kind, long long w) {
    __shared__ float sh[FBS + 1];
    const int j = threadIdx.x;
    for (long long r = blockIdx.x; r < R; r += gridDim.x) {
        const float* p = x + r * n;
        float* o = out + r * n;
        float m = daz_in(p[j < n ? j : 0]);
        for (long long i = j + FBS; i < n; i += FBS) m = ieee_max(m, p[i]);
        m = block_max(m, sh);
        for (long long i = j; i < n; i += FBS) o[i] = M_EXP(F_SUB(p[i], m));
        __syncthreads();
        const float s = block_sum([&](long long i) { return o[i]; }, n, kind, w, sh);
        for (long long i = j; i < n; i += FBS) o[i] = F_DIV(o[i], s);
        __syncthreads();
    }
}

// layer_norm over the last axis: mu = sum(x)/n; xc = x - mu; var = sum(xc*xc)/n;
// y = xc / sqrt(var + eps); y = y * gamma; y = y + beta
extern "C" __global__ void __launch_bounds__(FBS)
layer_norm_rows(float* __restrict__ out, const float* __restrict__ x, const float* __restrict__ gamma,
                const float* __restrict__ beta, long long R, long long n, long long kind, long long w,
                long long has_gamma, long long has_beta, float n_c, float eps_c) {
    __shared__ float sh[FBS + 1];
    const int j = threadIdx.x;
    for (long long r = blockIdx.x; r < R; r += gridDim.x) {
        const float* p = x + r * n;
        float* o = out + r * n;
        const float s = block_sum([&](long long i) { return p[i]; }, n, kind, w, sh);
        const float mu = F_DIV(s, n_c);
        for (long long i = j; i < n; i += FBS) o[i] = F_SUB(p[i], mu);
        __syncthreads();
        const float v = block_sum([&](long long i) { return F_MUL(o[i], o[i]); }, n, kind, w, sh);
        const float den = F_SQRT(F_ADD(F_DIV(v, n_c), eps_c));
        for (long long i = j; i < n; i += FBS) {
            float y = F_DIV(o[i], den);
            if (has_gamma) y = F_MUL(y, gamma[i]);
            if (has_beta) y = F_ADD(y, beta[i]);
            o[i] = y;
        }
        __syncthreads();
    }
}

// gelu_tanh: u = (x*x)*x; t = tanh(S*(x + C*u)); out = (0.5*x)*(1 + t)
extern "C" __global__ void gelu_tanh_ew(float* __restrict__ out, const float* __restrict__ x, long long n,
                                        float S, float C, float HALF, float ONE) {
    GRID_LOOP(i, n) {
        const float a = x[i];
        const float u = F_MUL(F_MUL(a, a), a);
        const float inner = F_MUL(S, F_ADD(a, F_MUL(C, u)));
        out[i] = F_MUL(F_MUL(HALF, a), F_ADD(ONE, M_TANH(inner)));
    }
}

__device__ __forceinline__ float dot_mac(float acc, float a, float b, long long dotfma) {
    return dotfma ? F_FMA(a, b, acc) : F_ADD(acc, F_MUL(a, b));
}

// one attention score: q row (shared) . k row, in the dot order, then scaled
__device__ __forceinline__ float att_score(const float* sq, const float* kr, long long d, long long dotfma,
                                           long long scale_mode, float sc) {
    float acc = dotfma ? 0.0f : ACC_ID;
    for (long long t = 0; t < d; ++t) acc = dot_mac(acc, sq[t], kr[t], dotfma);
    return scale_mode == 0 ? F_DIV(acc, F_SQRT((float)d)) : F_MUL(acc, sc);
}

#define ABS 128  // threads per attention block

// scaled_dot_product_attention, one block per (query i, batch-head h):
// s = q.k / sqrt(d) (or * scale); masked scores take key 0's score before the max;
// e = exp(s - max) (0 where masked); p = e / sum e; out = p . v  (all Tk keys, in order)
extern "C" __global__ void __launch_bounds__(ABS)
sdpa_rows(float* __restrict__ out, const float* __restrict__ q, const float* __restrict__ k,
          const float* __restrict__ v, long long Tq, long long Tk, long long d, long long dv,
          long long causal, long long kind, long long w, long long dotfma, long long scale_mode,
          long long use_exp2, float sc) {
    extern __shared__ float dyn[];
    float* sq = dyn;            // d
    float* ss = sq + d;         // Tk
    float* sh = ss + Tk;        // ABS + 1
    const long long i = blockIdx.x, hh = blockIdx.y;
    const int j = threadIdx.x;
    const float* qr = q + (hh * Tq + i) * d;
    for (long long t = j; t < d; t += ABS) sq[t] = qr[t];
    __syncthreads();
    for (long long t = j; t < Tk; t += ABS)
        ss[t] = att_score(sq, k + (hh * Tk + t) * d, d, dotfma, scale_mode, sc);
    __syncthreads();
    const long long lim = i + Tk - Tq;
    const float s0 = ss[0];
    float m = daz_in(s0);
    for (long long t = j; t < Tk; t += ABS) m = ieee_max(m, (!causal || t <= lim) ? ss[t] : s0);
    m = block_max(m, sh);
    for (long long t = j; t < Tk; t += ABS) {
        const bool vis = !causal || t <= lim;
        const float sf = vis ? ss[t] : s0;
        const float z = F_SUB(sf, m);
        ss[t] = vis ? (use_exp2 ? M_EXP2(z) : M_EXP(z)) : 0.0f;
    }
    __syncthreads();
    const float tot = block_sum([&](long long t) { return ss[t]; }, Tk, kind, w, sh);
    for (long long t = j; t < Tk; t += ABS) ss[t] = F_DIV(ss[t], tot);
    __syncthreads();
    const float* vb = v + hh * Tk * dv;
    float* orow = out + (hh * Tq + i) * dv;
    for (long long c = j; c < dv; c += ABS) {
        float acc = dotfma ? 0.0f : ACC_ID;
        for (long long t = 0; t < Tk; ++t) acc = dot_mac(acc, ss[t], vb[t * dv + c], dotfma);
        orow[c] = acc;
    }
}

// flash_attention with key blocks of `bk` and an online softmax, the generic op's exact steps:
//   m' = max(m, rowmax s_B) (first block: rowmax with key 0's score as filler);
//   p = exp(s_B - m') (0 where masked); l' = l*a + rowsum p; o' = o*a + p.v_B with
//   a = exp(m - m'); first block: l = rowsum p, o = p.v_B; out = o / l.
extern "C" __global__ void __launch_bounds__(ABS)
flash_rows(float* __restrict__ out, const float* __restrict__ q, const float* __restrict__ k,
           const float* __restrict__ v, long long Tq, long long Tk, long long d, long long dv,
           long long causal, long long kind, long long w, long long dotfma, long long scale_mode,
           long long use_exp2, long long bk, float sc) {
    extern __shared__ float dyn[];
    float* sq = dyn;            // d
    float* ss = sq + d;         // bk
    float* so = ss + bk;        // dv
    float* sh = so + dv;        // ABS + 1
    const long long i = blockIdx.x, hh = blockIdx.y;
    const int j = threadIdx.x;
    const float* qr = q + (hh * Tq + i) * d;
    for (long long t = j; t < d; t += ABS) sq[t] = qr[t];
    __syncthreads();
    const long long lim = i + Tk - Tq;
    float m = 0.0f, l = 0.0f;
    const float* vb = v + hh * Tk * dv;
    for (long long j0 = 0; j0 < Tk; j0 += bk) {
        const long long nb = (Tk - j0 < bk) ? Tk - j0 : bk;
        for (long long t = j; t < nb; t += ABS)
            ss[t] = att_score(sq, k + (hh * Tk + j0 + t) * d, d, dotfma, scale_mode, sc);
        __syncthreads();
        const bool first = (j0 == 0);
        const float fill = first ? ss[0] : m;
        float mb = daz_in(fill);
        for (long long t = j; t < nb; t += ABS)
            mb = ieee_max(mb, (!causal || j0 + t <= lim) ? ss[t] : fill);
        mb = block_max(mb, sh);
        const float mn = first ? mb : ieee_max(m, mb);
        for (long long t = j; t < nb; t += ABS) {
            const bool vis = !causal || j0 + t <= lim;
            const float z = F_SUB(vis ? ss[t] : mn, mn);
            ss[t] = vis ? (use_exp2 ? M_EXP2(z) : M_EXP(z)) : 0.0f;
        }
        __syncthreads();
        const float ps = block_sum([&](long long t) { return ss[t]; }, nb, kind, w, sh);
        const float za = F_SUB(m, mn);
        const float a = first ? 1.0f : (use_exp2 ? M_EXP2(za) : M_EXP(za));
        for (long long c = j; c < dv; c += ABS) {
            float acc = dotfma ? 0.0f : ACC_ID;
            for (long long t = 0; t < nb; ++t) acc = dot_mac(acc, ss[t], vb[(j0 + t) * dv + c], dotfma);
            so[c] = first ? acc : F_ADD(F_MUL(so[c], a), acc);
        }
        l = first ? ps : F_ADD(F_MUL(l, a), ps);
        m = mn;
        __syncthreads();
    }
    float* orow = out + (hh * Tq + i) * dv;
    for (long long c = j; c < dv; c += ABS) orow[c] = F_DIV(so[c], l);
}
