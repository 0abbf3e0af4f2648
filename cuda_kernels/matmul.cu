// fpsem cuda domain: batched matrix products C[b] = A[b] @ B[b], A (m, k), B (k, n), row-major.
// Manifest: matmul.json. Prepend common.cu.
//
// Every output is accumulated by ONE thread in increasing k, with no split-k, so the
// order is exactly fpsem's:
//   MM_FMA = 1 (fma_chain):  s = +0; s = F_FMA(a_ik, b_kj, s)            for k = 0..K-1
//   MM_FMA = 0 (sequential): s = t_0; s = F_ADD(s, F_MUL(a_ik, b_kj))     (s starts at ACC_ID)
// Zero padding is only ever used for rows/columns that are not stored; the k loop never
// runs past K (a padded fma(0, 0, s) would turn s = -0 into +0).

#ifndef MM_FMA
#define MM_FMA 1
#endif

#if MM_FMA
#define MAC(s, a, b) F_FMA((a), (b), (s))
#define MM_INIT 0.0f
#else
#define MAC(s, a, b) F_ADD((s), F_MUL((a), (b)))
#define MM_INIT ACC_ID
#endif

// Fast path: 128x128 tile per block, BK = 8, 256 threads, 8x8 outputs per thread
// (two 4x4 quadrants), register-prefetched double-buffered shared memory, float4 loads.
// Needs K % 8 == 0, N % 4 == 0 and 16-byte aligned A, B (checked by the caller).
extern "C" __global__ void __launch_bounds__(256)
mm_tile128(const float* __restrict__ A, const float* __restrict__ B, float* __restrict__ C,
           long long m, long long n, long long k, long long sA, long long sB) {
    const long long bz = blockIdx.z;
    A += bz * sA; B += bz * sB; C += bz * m * n;
    const long long row0 = (long long)blockIdx.y * 128, col0 = (long long)blockIdx.x * 128;
    __shared__ __align__(16) float As[2][8][128];
    __shared__ __align__(16) float Bs[2][8][128];
    const int tid = threadIdx.x;
    const int a_r = tid >> 1, a_c = (tid & 1) * 4;
    const int b_r = tid >> 5, b_c = (tid & 31) * 4;
    const int tx = tid & 15, ty = tid >> 4;

    float acc[8][8];
#pragma unroll
    for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[i][j] = MM_INIT;

    const float4 z4 = make_float4(0.f, 0.f, 0.f, 0.f);
    const bool a_ok = row0 + a_r < m, b_ok = col0 + b_c < n;
    const float* Ap = A + (row0 + a_r) * k + a_c;
    const float* Bp = B + (long long)b_r * n + col0 + b_c;
    float4 ra = a_ok ? *reinterpret_cast<const float4*>(Ap) : z4;
    float4 rb = b_ok ? *reinterpret_cast<const float4*>(Bp) : z4;
    As[0][a_c + 0][a_r] = ra.x; As[0][a_c + 1][a_r] = ra.y;
    As[0][a_c + 2][a_r] = ra.z; As[0][a_c + 3][a_r] = ra.w;
    *reinterpret_cast<float4*>(&Bs[0][b_r][b_c]) = rb;
    __syncthreads();

    int buf = 0;
    for (long long k0 = 0; k0 < k; k0 += 8) {
        const bool more = k0 + 8 < k;
        if (more) {
            ra = a_ok ? *reinterpret_cast<const float4*>(Ap + k0 + 8) : z4;
            rb = b_ok ? *reinterpret_cast<const float4*>(Bp + (k0 + 8) * n) : z4;
        }
#pragma unroll
        for (int kk = 0; kk < 8; ++kk) {
            const float4 a0 = *reinterpret_cast<const float4*>(&As[buf][kk][ty * 4]);
            const float4 a1 = *reinterpret_cast<const float4*>(&As[buf][kk][64 + ty * 4]);
            const float4 b0 = *reinterpret_cast<const float4*>(&Bs[buf][kk][tx * 4]);
            const float4 b1 = *reinterpret_cast<const float4*>(&Bs[buf][kk][64 + tx * 4]);
            const float av[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
            const float bv[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
            for (int i = 0; i < 8; ++i)
#pragma unroll
                for (int j = 0; j < 8; ++j) acc[i][j] = MAC(acc[i][j], av[i], bv[j]);
        }
        if (more) {
            const int nb = buf ^ 1;
            As[nb][a_c + 0][a_r] = ra.x; As[nb][a_c + 1][a_r] = ra.y;
            As[nb][a_c + 2][a_r] = ra.z; As[nb][a_c + 3][a_r] = ra.w;
            *reinterpret_cast<float4*>(&Bs[nb][b_r][b_c]) = rb;
            __syncthreads();
            buf = nb;
        }
    }
#pragma unroll
    for (int i = 0; i < 8; ++i) {
        const long long r = row0 + (i < 4 ? ty * 4 + i : 64 + ty * 4 + (i - 4));
        if (r >= m) continue;
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            const long long c = col0 + h * 64 + tx * 4;
            if (c < n)
                *reinterpret_cast<float4*>(C + r * n + c) =
                    make_float4(acc[i][4 * h], acc[i][4 * h + 1], acc[i][4 * h + 2], acc[i][4 * h + 3]);
        }
    }
}

// General path: any shapes and alignment. 64x64 tile, BK = 16, 256 threads, 4x4 outputs each.
extern "C" __global__ void __launch_bounds__(256)
mm_general(const float* __restrict__ A, const float* __restrict__ B, float* __restrict__ C,
           long long m, long long n, long long k, long long sA, long long sB) {
    const long long bz = blockIdx.z;
    A += bz * sA; B += bz * sB; C += bz * m * n;
    const long long row0 = (long long)blockIdx.y * 64, col0 = (long long)blockIdx.x * 64;
    __shared__ float As[16][65];
    __shared__ float Bs[16][64];
    const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
    float acc[4][4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = MM_INIT;
    for (long long k0 = 0; k0 < k; k0 += 16) {
#pragma unroll
        for (int l = 0; l < 4; ++l) {
            const int e = tid + l * 256;
            const int r = e >> 4, c = e & 15;
            const long long gr = row0 + r, gc = k0 + c;
            As[c][r] = (gr < m && gc < k) ? A[gr * k + gc] : 0.0f;
            const int br = e >> 6, bc = e & 63;
            const long long gk = k0 + br, gn = col0 + bc;
            Bs[br][bc] = (gk < k && gn < n) ? B[gk * n + gn] : 0.0f;
        }
        __syncthreads();
        const int kl = (int)(k - k0 < 16 ? k - k0 : 16);
        for (int kk = 0; kk < kl; ++kk) {
            float av[4], bv[4];
#pragma unroll
            for (int i = 0; i < 4; ++i) { av[i] = As[kk][ty + 16 * i]; bv[i] = Bs[kk][tx + 16 * i]; }
#pragma unroll
            for (int i = 0; i < 4; ++i)
#pragma unroll
                for (int j = 0; j < 4; ++j) acc[i][j] = MAC(acc[i][j], av[i], bv[j]);
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const long long r = row0 + ty + 16 * i;
        if (r >= m) continue;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const long long c = col0 + tx + 16 * j;
            if (c < n) C[r * n + c] = acc[i][j];
        }
    }
}
