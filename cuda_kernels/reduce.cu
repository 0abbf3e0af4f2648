// fpsem cuda domain: row reductions with a declared accumulation order.
// rows: (R, n) C-contiguous, n >= 1; out: (R,). Manifest: reduce.json. Prepend common.cu.
// Orders follow fpsem/order.py exactly; every + is F_ADD (the domain's rounding mode).

// sequential: s = t0; s = s + t_i (computed as s = ACC_ID; s += t_i, same bits). One thread per row.
extern "C" __global__ void sum_seq(float* __restrict__ out, const float* __restrict__ x,
                                   long long R, long long n) {
    GRID_LOOP(r, R) {
        const float* p = x + r * n;
        float s = ACC_ID;
        for (long long i = 0; i < n; ++i) s = F_ADD(s, p[i]);
        out[r] = s;
    }
}

// blocked(k): consecutive blocks of k summed sequentially, block sums summed sequentially.
extern "C" __global__ void sum_blocked(float* __restrict__ out, const float* __restrict__ x,
                                       long long R, long long n, long long k) {
    GRID_LOOP(r, R) {
        const float* p = x + r * n;
        float tot = ACC_ID;
        for (long long b = 0; b < n; b += k) {
            long long e = b + k < n ? b + k : n;
            float s = ACC_ID;
            for (long long i = b; i < e; ++i) s = F_ADD(s, p[i]);
            tot = F_ADD(tot, s);
        }
        out[r] = tot;
    }
}

// pairwise: P(t) = t0 if n == 1 else P(t[:n/2]) + P(t[n/2:]) (recursive halving, explicit stack)
extern "C" __global__ void sum_pairwise(float* __restrict__ out, const float* __restrict__ x,
                                        long long R, long long n) {
    GRID_LOOP(r, R) {
        const float* p = x + r * n;
        // iterative post-order traversal; depth <= 64
        long long lo_s[64], hi_s[64];
        int state[64];
        float left[64];
        int top = 0;
        lo_s[0] = 0; hi_s[0] = n; state[0] = 0;
        float ret = 0.0f;
        while (top >= 0) {
            long long lo = lo_s[top], hi = hi_s[top];
            if (hi - lo == 1) { ret = p[lo]; --top; continue; }
            long long h = lo + (hi - lo) / 2;
            if (state[top] == 0) {            // descend left
                state[top] = 1;
                ++top; lo_s[top] = lo; hi_s[top] = h; state[top] = 0;
            } else if (state[top] == 1) {     // left done: keep it, descend right
                left[top] = ret; state[top] = 2;
                ++top; lo_s[top] = h; hi_s[top] = hi; state[top] = 0;
            } else {                          // right done
                ret = F_ADD(left[top], ret);
                --top;
            }
        }
        out[r] = ret;
    }
}

// tree(w): lane j < w sums t_j, t_{j+w}, ... sequentially; lanes are combined by a halving
// tree lane[j] += lane[j+h], h = w/2 .. 1, a lane without terms (j >= n) being absent.
// One block per row, blockDim = max(w, 32); shared memory for h >= 32, warp shuffles below.
extern "C" __global__ void sum_tree(float* __restrict__ out, const float* __restrict__ x,
                                    long long R, long long n, long long w) {
    __shared__ float lane[1024];
    const int j = threadIdx.x;
    for (long long r = blockIdx.x; r < R; r += gridDim.x) {
        const float* p = x + r * n;
        float s = ACC_ID;
        if (j < w) for (long long i = j; i < n; i += w) s = F_ADD(s, p[i]);
        long long h = w / 2;
        if (w > 32) {
            lane[j] = s;
            __syncthreads();
            for (; h >= 32; h /= 2) {
                if (j < h && j + h < n) lane[j] = F_ADD(lane[j], lane[j + h]);
                __syncthreads();
            }
            s = lane[j];
            __syncthreads();
        }
        if (j < 32) {
            for (; h >= 1; h /= 2) {
                float o = __shfl_down_sync(0xffffffffu, s, (unsigned)h);
                if (j < h && j + h < n) s = F_ADD(s, o);
            }
            if (j == 0) out[r] = s;
        }
        __syncthreads();
    }
}

// row maximum with IEEE maximum semantics (exact; associative, so any order gives the same bits)
extern "C" __global__ void row_max(float* __restrict__ out, const float* __restrict__ x,
                                   long long R, long long n) {
    __shared__ float buf[256];
    const int j = threadIdx.x;
    for (long long r = blockIdx.x; r < R; r += gridDim.x) {
        const float* p = x + r * n;
        float m = daz_in(p[j < n ? j : 0]);
        for (long long i = j + blockDim.x; i < n; i += blockDim.x) m = ieee_max(m, p[i]);
        buf[j] = m;
        __syncthreads();
        for (int h = blockDim.x / 2; h >= 1; h /= 2) {
            if (j < h) buf[j] = ieee_max(buf[j], buf[j + h]);
            __syncthreads();
        }
        if (j == 0) out[r] = buf[0];
        __syncthreads();
    }
}
