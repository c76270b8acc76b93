/* Body of gemm.c for one precision and one instruction set (rt/isa_copies.h): needs REAL,
 * SFX(name), KSFX(name). Not a standalone header.
 *
 * The register tile: GMR rows x GNV vectors of accumulators; per k, GNV vectors of the panel
 * loaded once and multiplied by each row's a[r][k] (a broadcast). Written with GCC/clang vector
 * types, so that this one source is the SSE2, AVX2 and AVX-512 kernel; a compiler without them
 * gets the same loops on scalars (GL = 1). The tile is sized to the register file: AVX-512's 32
 * registers hold 8 x 3 accumulators + 3 panel vectors + 1 broadcast, AVX2's and SSE2's 16 hold
 * 6 x 2 + 2 + 1 (the shapes of BLIS's and OpenBLAS's kernels for these machines).
 */
#if defined(__GNUC__) || defined(__clang__)
#if defined(__AVX512F__)
#define GVB 64
#define GNV 3
#define GMR 8
#elif defined(__AVX2__)
#define GVB 32
#define GNV 2
#define GMR 6
#else
#define GVB 16
#define GNV 2
#define GMR 6
#endif
typedef REAL KSFX(gvec) __attribute__((vector_size(GVB), aligned(sizeof(REAL)), may_alias));
#else
#define GVB ((int)sizeof(REAL))
#define GNV 8
#define GMR 4
typedef REAL KSFX(gvec);
#endif
#define GVEC KSFX(gvec)
#define GL ((int)(GVB / sizeof(REAL)))  /* lanes per vector */
#define GNR (GNV * GL)                  /* panel width */

static int KSFX(gemm_nr)(void) { return GNR; }
static int KSFX(gemm_mr)(void) { return GMR; }

static void KSFX(pack)(const REAL *w, ptrdiff_t ldw, int K, int N, int trans, REAL *wp) {
    /* wp[p][k][j] = w[k][p*GNR + j] (trans: w[p*GNR + j][k]), zeros past N; each loop reads w
     * along its rows */
    const int NP = (N + GNR - 1) / GNR;
    for (int p = 0; p < NP; p++) {
        REAL *restrict dst = wp + (ptrdiff_t)p * K * GNR;
        const int c0 = p * GNR, n = N - c0 < GNR ? N - c0 : GNR;
        if (trans) {
            for (int j = 0; j < n; j++) {
                const REAL *restrict src = w + (ptrdiff_t)(c0 + j) * ldw;
                for (int k = 0; k < K; k++)
                    dst[(ptrdiff_t)k * GNR + j] = src[k];
            }
        } else {
            for (int k = 0; k < K; k++) {
                const REAL *restrict src = w + (ptrdiff_t)k * ldw + c0;
                for (int j = 0; j < n; j++)
                    dst[(ptrdiff_t)k * GNR + j] = src[j];
            }
        }
        for (int k = 0; n < GNR && k < K; k++)
            for (int j = n; j < GNR; j++)
                dst[(ptrdiff_t)k * GNR + j] = 0;
    }
}

/* c (R, n) rows ldc apart (+)= a (R, kc) rows lda apart @ panel slice wp (kc, GNR): R rows,
 * NV <= GNV vectors (the last panel's n columns need no more) and KU sets of accumulators over k
 * (k, k+1, ...: with few rows and vectors, one set would wait on the FMA latency), all three
 * constants at each call, so that the accumulators live in registers. */
LSTMCORE_INLINE void KSFX(gemm_tile)(const int R, const int NV, const int KU, int kc,
                                    const REAL *restrict a, ptrdiff_t lda,
                                    const REAL *restrict wp, REAL *restrict c, ptrdiff_t ldc,
                                    int n, int add) {
    GVEC acc[4][GMR][GNV];
    for (int u = 0; u < KU; u++)
        for (int r = 0; r < R; r++)
            for (int v = 0; v < NV; v++)
                acc[u][r][v] = (GVEC){0};
    int k = 0;
    for (; k + KU <= kc; k += KU)
        for (int u = 0; u < KU; u++) {
            GVEC w[GNV];
            for (int v = 0; v < NV; v++)
                w[v] = *(const GVEC *)(wp + (ptrdiff_t)(k + u) * GNR + v * GL);
            for (int r = 0; r < R; r++) {
                const REAL x = a[r * lda + k + u];
                for (int v = 0; v < NV; v++)
                    acc[u][r][v] += x * w[v];
            }
        }
    for (; k < kc; k++)
        for (int r = 0; r < R; r++) {
            const REAL x = a[r * lda + k];
            for (int v = 0; v < NV; v++)
                acc[0][r][v] += x * *(const GVEC *)(wp + (ptrdiff_t)k * GNR + v * GL);
        }
    for (int u = 1; u < KU; u++)
        for (int r = 0; r < R; r++)
            for (int v = 0; v < NV; v++)
                acc[0][r][v] += acc[u][r][v];
    for (int r = 0; r < R; r++) {
        REAL *o = c + r * ldc;
        if (n == NV * GL) {
            for (int v = 0; v < NV; v++) {
                GVEC *ov = (GVEC *)(o + v * GL);
                if (add)
                    *ov += acc[0][r][v];
                else
                    *ov = acc[0][r][v];
            }
        } else {
            REAL t[GNR];
            for (int v = 0; v < NV; v++)
                *(GVEC *)(t + v * GL) = acc[0][r][v];
            if (add)
                for (int j = 0; j < n; j++)
                    o[j] += t[j];
            else
                for (int j = 0; j < n; j++)
                    o[j] = t[j];
        }
    }
}

/* KU for R rows and NV vectors: at least 8 independent accumulators (two FMA units, latency 4) */
#define GKU(R, NV) ((R) * (NV) >= 8 ? 1 : (R) * (NV) >= 4 ? 2 : 4)

/* Rows [r0, r1) of one panel slice, n columns: full tiles of GMR rows, then the rows left */
LSTMCORE_INLINE void KSFX(gemm_rows)(const int NV, int r0, int r1, int kn, const REAL *ak,
                                    ptrdiff_t lda, const REAL *w, REAL *cp, ptrdiff_t ldc, int n,
                                    int add) {
    int r = r0;
    for (; r + GMR <= r1; r += GMR)
        KSFX(gemm_tile)(GMR, NV, GKU(GMR, NV), kn, ak + r * lda, lda, w, cp + r * ldc, ldc, n,
                        add);
    switch (r1 - r) {  /* each count of rows left its own constant-size tile */
#define GTAIL(R)                                                                                \
    case R:                                                                                     \
        KSFX(gemm_tile)(R, NV, GKU(R, NV), kn, ak + r * lda, lda, w, cp + r * ldc, ldc, n, add); \
        break;
        GTAIL(1)
        GTAIL(2)
        GTAIL(3)
#if GMR > 4
        GTAIL(4)
        GTAIL(5)
#endif
#if GMR > 6
        GTAIL(6)
        GTAIL(7)
#endif
#undef GTAIL
    default: break;
    }
}

/* Rows [r0, r1) and panels [p0, p1) of c = a @ w: rows in blocks of mc, K in blocks of kc (the
 * block's slice of a, mc x kc, stays in L1/L2 while every panel passes over it; the panel slice,
 * kc x GNR, stays in L1 while every tile of rows passes over it). */
static void KSFX(gemm_part)(int r0, int r1, int p0, int p1, int N, int K, const REAL *a,
                            ptrdiff_t lda, const REAL *wp, REAL *c, ptrdiff_t ldc, int kc, int mc,
                            int add0) {
    for (int m0 = r0; m0 < r1; m0 += mc) {
        const int m1 = r1 - m0 < mc ? r1 : m0 + mc;
        for (int k0 = 0; k0 < K; k0 += kc) {
            const int kn = K - k0 < kc ? K - k0 : kc, add = add0 || k0 > 0;
            for (int p = p0; p < p1; p++) {
                const int n = N - p * GNR < GNR ? N - p * GNR : GNR, nv = (n + GL - 1) / GL;
                const REAL *w = wp + ((ptrdiff_t)p * K + k0) * GNR;
                REAL *cp = c + p * GNR;
                if (nv >= GNV)
                    KSFX(gemm_rows)(GNV, m0, m1, kn, a + k0, lda, w, cp, ldc, n, add);
#if GNV > 2
                else if (nv == 2)
                    KSFX(gemm_rows)(2, m0, m1, kn, a + k0, lda, w, cp, ldc, n, add);
#endif
                else
                    KSFX(gemm_rows)(1, m0, m1, kn, a + k0, lda, w, cp, ldc, n, add);
            }
        }
    }
}

static void KSFX(gemm_packed)(const lc_ctx *ctx, int M, int N, int K, const REAL *a,
                              ptrdiff_t lda, const REAL *wp, REAL *c, ptrdiff_t ldc, int add) {
    if (M <= 0 || N <= 0 || (K <= 0 && add))
        return;
    if (K <= 0) {
        for (int r = 0; r < M; r++)
            for (int j = 0; j < N; j++)
                c[r * ldc + j] = 0;
        return;
    }
    /* K blocks: the panel slice in half of L1, blocks of equal size */
    int kc = ctx->l1d > 0 ? ctx->l1d / 2 / (GNR * (int)sizeof(REAL)) : 128;
    kc = kc < 16 ? 16 : kc;
    const int nb = (K + kc - 1) / kc;
    kc = (K + nb - 1) / nb;
    /* blocks of rows: their slice of a in half of L2, whole tiles */
    int mc = (ctx->l2 > 0 ? ctx->l2 : 1 << 20) / 2 / (kc * (int)sizeof(REAL));
    mc = mc < GMR ? GMR : mc / GMR * GMR;
    const int NP = (N + GNR - 1) / GNR, MB = (M + GMR - 1) / GMR;
    int nt = ctx->nthreads;
    if ((double)M * N * K < (double)ctx->gemm_par_min || nt < 1)
        nt = 1;
    /* threads share the panels (each keeps its part of w in its own caches from step to step);
     * with fewer than two panels a thread, blocks of rows */
    const int by_panels = NP >= 2 * nt;
    const int units = by_panels ? NP : MB;
    nt = nt < units ? nt : units;
    if (nt <= 1) {  /* no parallel region at all: even with one thread it costs a call a step */
        KSFX(gemm_part)(0, M, 0, NP, N, K, a, lda, wp, c, ldc, kc, mc, add);
        return;
    }
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
#ifdef _OPENMP
        const int tn = omp_get_num_threads(), ti = omp_get_thread_num();
#else
        const int tn = 1, ti = 0;
#endif
        const int u0 = (int)((long long)ti * units / tn), u1 = (int)((long long)(ti + 1) * units / tn);
        if (by_panels)
            KSFX(gemm_part)(0, M, u0, u1, N, K, a, lda, wp, c, ldc, kc, mc, add);
        else
            KSFX(gemm_part)(u0 * GMR, u1 * GMR < M ? u1 * GMR : M, 0, NP, N, K, a, lda, wp, c, ldc,
                            kc, mc, add);
    }
}

#undef GVB
#undef GNV
#undef GMR
#undef GVEC
#undef GL
#undef GNR
#undef GKU
