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
#define GQMAX 4                         /* panels a tile takes at most (gemm_tail) */
#define GNR (GNV * GL)                  /* panel width */

static int KSFX(gemm_nr)(void) { return GNR; }
static int KSFX(gemm_mr)(void) { return GMR; }

/* zeros in columns [n, GNR) of a panel's K rows (past N) */
LSTMCORE_INLINE void KSFX(pack_pad)(REAL *restrict dst, int K, int n) {
    for (int k = 0; n < GNR && k < K; k++)
        for (int j = n; j < GNR; j++)
            dst[(ptrdiff_t)k * GNR + j] = 0;
}

/* pack of the (K, nb * ncols) matrix whose column j is w's column (j / ncols) * bstride + col0 +
 * j % ncols (w: K rows ldw apart): the columns of units [col0, col0 + ncols) of each of nb gate
 * blocks bstride apart, side by side (a thread's share of a cell's units, lstmcore.engine._cells;
 * one block: pack's w itself). The same layout as pack of that matrix, copied in runs of
 * contiguous source columns, each along w's rows. */
static void KSFX(pack_blocks)(const REAL *w, ptrdiff_t ldw, int K, int nb, ptrdiff_t bstride,
                              ptrdiff_t col0, int ncols, REAL *wp) {
    const int N = nb * ncols, NP = (N + GNR - 1) / GNR;
    for (int p = 0; p < NP; p++) {
        REAL *restrict dst = wp + (ptrdiff_t)p * K * GNR;
        const int c0 = p * GNR, n = N - c0 < GNR ? N - c0 : GNR;
        for (int j0 = 0; j0 < n;) {  /* a run: columns [j0, j0 + len) of the panel */
            const int c = c0 + j0, blk = c / ncols, u = c % ncols;
            const int len = ncols - u < n - j0 ? ncols - u : n - j0;
            for (int k = 0; k < K; k++) {
                const REAL *restrict src = w + (ptrdiff_t)k * ldw + blk * bstride + col0 + u;
                REAL *restrict out = dst + (ptrdiff_t)k * GNR + j0;
                for (int j = 0; j < len; j++)
                    out[j] = src[j];
            }
            j0 += len;
        }
        KSFX(pack_pad)(dst, K, n);
    }
}

static void KSFX(pack)(const REAL *w, ptrdiff_t ldw, int K, int N, int trans, REAL *wp) {
    /* wp[p][k][j] = w[k][p*GNR + j] (trans: w[p*GNR + j][k]), zeros past N; each loop reads w
     * along its rows */
    if (!trans) {
        KSFX(pack_blocks)(w, ldw, K, 1, 0, 0, N, wp);
        return;
    }
    const int NP = (N + GNR - 1) / GNR;
    for (int p = 0; p < NP; p++) {
        REAL *restrict dst = wp + (ptrdiff_t)p * K * GNR;
        const int c0 = p * GNR, n = N - c0 < GNR ? N - c0 : GNR;
        for (int j = 0; j < n; j++) {
            const REAL *restrict src = w + (ptrdiff_t)(c0 + j) * ldw;
            for (int k = 0; k < K; k++)
                dst[(ptrdiff_t)k * GNR + j] = src[k];
        }
        KSFX(pack_pad)(dst, K, n);
    }
}

/* o[0, n) (+)= the NV vectors of one row's accumulators (n <= NV * GL; whole vectors where n
 * fills them) */
LSTMCORE_INLINE void KSFX(tile_store)(REAL *o, const GVEC *acc, const int NV, int n, int add) {
    if (n == NV * GL) {
        for (int v = 0; v < NV; v++) {
            GVEC *ov = (GVEC *)(o + v * GL);
            if (add)
                *ov += acc[v];
            else
                *ov = acc[v];
        }
        return;
    }
    REAL t[GNR];
    for (int v = 0; v < NV; v++)
        *(GVEC *)(t + v * GL) = acc[v];
    if (add)
        for (int j = 0; j < n; j++)
            o[j] += t[j];
    else
        for (int j = 0; j < n; j++)
            o[j] = t[j];
}

/* c (R, n) rows ldc apart (+)= a (R, kc) rows lda apart @ panel slice wp (kc, GNR): R rows and
 * NV <= GNV vectors (the last panel's n columns need no more) of accumulators, constants at each
 * call so that the accumulators live in registers; one accumulator per output vector, summing k
 * in order, so that a row's sums are the same in a tile of any size (gemm_tile_q too): the rows
 * may be cut anywhere (a row split between threads) without changing a bit. */
LSTMCORE_INLINE void KSFX(gemm_tile)(const int R, const int NV, int kc, const REAL *restrict a,
                                    ptrdiff_t lda, const REAL *restrict wp, REAL *restrict c,
                                    ptrdiff_t ldc, int n, int add, const char *pf,
                                    const char *pf_end) {
    GVEC acc[GMR][GNV];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < NV; v++)
            acc[r][v] = (GVEC){0};
    /* the loop and a remainder loop that never runs: with the loop alone, GCC 12 folded the
     * panel's loads into the FMAs (a load per FMA instead of one per vector; the 3-row tile of a
     * simple RNN with B = 3, H = 256 ran 1.4x slower) */
    int k = 0;
    for (; k + 1 <= kc; k += 1) {
        if (pf < pf_end) {  /* one line of the panel slice that comes next, into the L2 */
            __builtin_prefetch(pf, 0, 2);
            pf += 64;
        }
        GVEC w[GNV];
        for (int v = 0; v < NV; v++)
            w[v] = *(const GVEC *)(wp + (ptrdiff_t)k * GNR + v * GL);
        for (int r = 0; r < R; r++) {
            const REAL x = a[r * lda + k];
            for (int v = 0; v < NV; v++)
                acc[r][v] += x * w[v];
        }
    }
    for (; k < kc; k++)
        for (int r = 0; r < R; r++) {
            const REAL x = a[r * lda + k];
            for (int v = 0; v < NV; v++)
                acc[r][v] += x * *(const GVEC *)(wp + (ptrdiff_t)k * GNR + v * GL);
        }
    for (int r = 0; r < R; r++)
        KSFX(tile_store)(c + r * ldc, acc[r], NV, n, add);
}

/* gemm_tile with the vectors the panel's n columns need (nv), each count its own constant */
LSTMCORE_INLINE void KSFX(gemm_tile_nv)(const int R, int nv, int kc, const REAL *a, ptrdiff_t lda,
                                       const REAL *wp, REAL *c, ptrdiff_t ldc, int n, int add,
                                       const char *pf, const char *pf_end) {
    if (nv >= GNV)
        KSFX(gemm_tile)(R, GNV, kc, a, lda, wp, c, ldc, n, add, pf, pf_end);
#if GNV > 2
    else if (nv == 2)
        KSFX(gemm_tile)(R, 2, kc, a, lda, wp, c, ldc, n, add, pf, pf_end);
#endif
    else
        KSFX(gemm_tile)(R, 1, kc, a, lda, wp, c, ldc, n, add, pf, pf_end);
}

/* gemm_tile over Q full-width panels at once (1 or 2 rows: 3-9 accumulators on one panel would
 * wait on the FMA latency): c (R rows ldc apart; Q panels' columns side by side, n in the last)
 * (+)= a (R, kc) @ Q panel slices (kc, GNR) ps elements apart, all GNV vectors of each (the last
 * panel is packed with zeros past N). */
LSTMCORE_INLINE void KSFX(gemm_tile_q)(const int R, const int Q, int kc, const REAL *restrict a,
                                      ptrdiff_t lda, const REAL *restrict wp, ptrdiff_t ps,
                                      REAL *restrict c, ptrdiff_t ldc, int n, int add) {
    GVEC acc[2][GQMAX * GNV];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < Q * GNV; v++)
            acc[r][v] = (GVEC){0};
    for (int k = 0; k < kc; k++)
        for (int r = 0; r < R; r++) {
            const REAL x = a[r * lda + k];
            for (int q = 0; q < Q; q++)
                for (int v = 0; v < GNV; v++)
                    acc[r][q * GNV + v] += x * *(const GVEC *)(wp + q * ps + (ptrdiff_t)k * GNR
                                                                + v * GL);
        }
    for (int q = 0; q < Q; q++)
        for (int r = 0; r < R; r++)
            KSFX(tile_store)(c + r * ldc + q * GNR, acc[r] + q * GNV, GNV, q + 1 < Q ? GNR : n,
                             add);
}

/* Panels a tile of R rows takes at once: enough for 8 independent accumulators (two FMA units,
 * latency 4) with fewer rows than a full tile, within the register file (3 rows or more: one) */
#define GQ(R) ((R) >= 3 || (R) * GNV >= 8 ? 1 : (8 + (R) * GNV - 1) / ((R) * GNV))

/* The R rows (R < GMR) left after a block's full tiles, at row r of panels [p0, p1): tiles of
 * GQ(R) panels at once, or one panel at a time */
LSTMCORE_INLINE void KSFX(gemm_tail)(const int R, int p0, int p1, int N, int K, int kn,
                                    const REAL *ak, ptrdiff_t lda, const REAL *wk, REAL *c,
                                    ptrdiff_t ldc, int add) {
    const int Q = GQ(R);
    const ptrdiff_t ps = (ptrdiff_t)K * GNR;
    for (int p = p0; p < p1; p += Q) {
        const int qn = p1 - p < Q ? p1 - p : Q, last = p + qn - 1;
        const int n = N - last * GNR < GNR ? N - last * GNR : GNR, nv = (n + GL - 1) / GL;
        const REAL *w = wk + p * ps;
        REAL *cp = c + p * GNR;
        if (qn == 1)
            KSFX(gemm_tile_nv)(R, nv, kn, ak, lda, w, cp, ldc, n, add, NULL, NULL);
#define GGROUP(QQ)                                                                              \
        else if (QQ <= Q && qn == QQ)                                                           \
            KSFX(gemm_tile_q)(R < 2 ? R : 2, QQ, kn, ak, lda, w, ps, cp, ldc, n, add);
        GGROUP(2)
        GGROUP(3)
        GGROUP(4)
#undef GGROUP
    }
}

/* gemm_tail for each count of rows left, each a function of its own: inlined into gemm_part,
 * GCC kept the 3-row tile's panel vectors in memory (a load per FMA) and its row offsets on the
 * stack, and a simple RNN with B = 3, H = 256 ran 1.6x slower */
#define GTAIL_FN(R)                                                                             \
    LSTMCORE_NOINLINE void KSFX(gemm_tail_##R)(int p0, int p1, int N, int K, int kn,            \
                                               const REAL *ak, ptrdiff_t lda, const REAL *wk,   \
                                               REAL *c, ptrdiff_t ldc, int add) {               \
        KSFX(gemm_tail)(R, p0, p1, N, K, kn, ak, lda, wk, c, ldc, add);                         \
    }
GTAIL_FN(1)
GTAIL_FN(2)
GTAIL_FN(3)
#if GMR > 4
GTAIL_FN(4)
GTAIL_FN(5)
#endif
#if GMR > 6
GTAIL_FN(6)
GTAIL_FN(7)
#endif
#undef GTAIL_FN

/* Rows [r0, r1) and panels [p0, p1) of c = a @ w: rows in blocks of mc, K in blocks of kc (the
 * block's slice of a, mc x kc, stays in L1/L2 while every panel passes over it; the panel slice,
 * kc x GNR, stays in L1 while every tile of rows passes over it); a block's rows left after its
 * full tiles go over GQ of them panels at once (gemm_tail), right after those panels' full tiles,
 * while their slices are still in cache (after all panels instead: GRU S2 with lengths, 1 thread,
 * 3% slower, w read again from the L2). */
static void KSFX(gemm_part)(int r0, int r1, int p0, int p1, int N, int K, const REAL *a,
                            ptrdiff_t lda, const REAL *wp, REAL *c, ptrdiff_t ldc, int kc, int mc,
                            int add0, int prefetch) {
    for (int m0 = r0; m0 < r1; m0 += mc) {
        const int m1 = r1 - m0 < mc ? r1 : m0 + mc, mt = m0 + (m1 - m0) / GMR * GMR;
        const int left = m1 - mt, qt = left ? GQ(left) : p1 - p0;
        for (int k0 = 0; k0 < K; k0 += kc) {
            const int kn = K - k0 < kc ? K - k0 : kc, add = add0 || k0 > 0;
            for (int g = p0; g < p1; g += qt) {
                const int g1 = p1 - g < qt ? p1 : g + qt;
                for (int p = g; p < g1; p++) {
                    const int n = N - p * GNR < GNR ? N - p * GNR : GNR, nv = (n + GL - 1) / GL;
                    const REAL *w = wp + ((ptrdiff_t)p * K + k0) * GNR;
                    REAL *cp = c + p * GNR;
                    /* the slice that runs next (the next panel's, the next K block's first, or
                     * the first of all: the next step's), its lines shared by the full tiles */
                    const int k1 = p + 1 < p1 ? k0 : k0 + kc < K ? k0 + kc : 0;
                    const int q = p + 1 < p1 ? p + 1 : p0, kq = K - k1 < kc ? K - k1 : kc;
                    const char *pf = (const char *)(wp + ((ptrdiff_t)q * K + k1) * GNR), *pf_e;
                    ptrdiff_t share;
                    const char *pf_end = lstmcore_prefetch_split(
                        prefetch, pf, (ptrdiff_t)kq * GNR * (ptrdiff_t)sizeof(REAL),
                        (mt - m0) / GMR, kn, &share);
                    for (int r = m0, blk = 0; r < mt; r += GMR, blk++) {
                        const char *pf_b = lstmcore_prefetch_block(pf, pf_end, share, blk, &pf_e);
                        KSFX(gemm_tile_nv)(GMR, nv, kn, a + r * lda + k0, lda, w, cp + r * ldc,
                                           ldc, n, add, pf_b, pf_e);
                    }
                }
                const REAL *ak = a + mt * lda + k0, *wk = wp + (ptrdiff_t)k0 * GNR;
                REAL *ct = c + mt * ldc;
                switch (left) {  /* each count of rows left its own constant-size tile */
#define GTAIL(R)                                                                                \
    case R:                                                                                     \
        KSFX(gemm_tail_##R)(g, g1, N, K, kn, ak, lda, wk, ct, ldc, add);                        \
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
    /* the next panel slice into the L2 while one runs, where what a thread's product reads and
     * writes, its panels, a and c, exceeds half the L2 (lstmcore_panel_prefetch): a step's rows
     * push the panels out of the L2 too (GRU, B = 256, H = 256, 768 KiB of panels with 1 MiB of
     * a and c: 1.01-1.03x on 1 and 2 threads; its simple RNN, 256 KiB with 512 KiB: no gain) */
    const ptrdiff_t panel_bytes = (ptrdiff_t)K * GNR * (ptrdiff_t)sizeof(REAL);
    const ptrdiff_t rows_bytes = (ptrdiff_t)M * (K + N) * (ptrdiff_t)sizeof(REAL);
    if (nt <= 1) {  /* no parallel region at all: even with one thread it costs a call a step */
        KSFX(gemm_part)(0, M, 0, NP, N, K, a, lda, wp, c, ldc, kc, mc, add,
                        lstmcore_panel_prefetch(ctx, NP * panel_bytes + rows_bytes));
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
            KSFX(gemm_part)(0, M, u0, u1, N, K, a, lda, wp, c, ldc, kc, mc, add,
                            lstmcore_panel_prefetch(ctx, (u1 - u0) * panel_bytes + rows_bytes));
        else
            KSFX(gemm_part)(u0 * GMR, u1 * GMR < M ? u1 * GMR : M, 0, NP, N, K, a, lda, wp, c, ldc,
                            kc, mc, add,
                            lstmcore_panel_prefetch(ctx, NP * panel_bytes + rows_bytes));
    }
}

#undef GVB
#undef GNV
#undef GMR
#undef GVEC
#undef GL
#undef GNR
#undef GQ
#undef GQMAX
