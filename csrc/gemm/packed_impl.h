/* Products with packed weights for the backward (lstm_pack_transposed, lstm_matmul_packed,
 * lstm_matmul_tn): part of lstm_gates.c's body (see lstm_gates_impl.h); nothing LSTM-specific
 * but their names. Panels are STEP_W columns wide (seq/lstm_packed_impl.h defines it). */

/* The backward through time with w_h.T packed (lstm_pack_transposed / lstm_seq_backward_packed
 * in lstm_gates.h): a panel holds STEP_W units' columns of w_h.T over all G rows, in the layout of
 * panel_at (seq/lstm_packed_impl.h: strips of columns with AVX2). */
static void KSFX(lstm_pack_transposed)(const lc_ctx *ctx, const REAL *w, int R, ptrdiff_t C,
                                       REAL *wpt) {
    (void)ctx;
    /* w (R, C) -> wpt (P, C, STEP_W), P = ceil(R / STEP_W): panel p's row c, column j (at
     * panel_at(C, STEP_W, c, j)) = w[p*STEP_W + j][c], zeros past R: panel p of w.T (C, R), so that
     * a @ w.T is done panel by panel (lstm_matmul_packed) */
    const int P = (R + STEP_W - 1) / STEP_W, sw = KSFX(strip_cols)(STEP_W, PACK_SW);
    /* strip by strip (panel_at's layout with no division per element: S1's w_h.T took 17 us
     * with one, 1% of its training step); each row of w read along, its strip column written */
    for (int p = 0; p < P; p++)
        for (int j0 = 0; j0 < STEP_W; j0 += sw) {
            REAL *dst = wpt + (ptrdiff_t)p * C * STEP_W + (ptrdiff_t)j0 * C;
            for (int jj = 0; jj < sw; jj++) {
                const int row = p * STEP_W + j0 + jj;
                const REAL *src = w + (ptrdiff_t)row * C;
                if (row < R)
                    for (ptrdiff_t c = 0; c < C; c++)
                        dst[c * sw + jj] = src[c];
                else
                    for (ptrdiff_t c = 0; c < C; c++)
                        dst[c * sw + jj] = 0;
            }
        }
}

static void KSFX(lstm_matmul_packed)(const REAL *wpt, const REAL *a, ptrdiff_t lda, REAL *out,
                             ptrdiff_t ldo, ptrdiff_t M, int K, int N, const lc_ctx *ctx) {
    const int nthreads = ctx->nthreads;
    /* out (M, N) rows ldo apart = a (M, K) rows lda apart @ w.T, wpt = lstm_pack_transposed(w (N, K)) */
    const int P = (N + STEP_W - 1) / STEP_W;
    /* blocks of 64 rows: threads share no output row */
    LC_FOR(nthreads > 1 && M * (ptrdiff_t)K * N >= 64 * LSTMCORE_PAR_MIN, nthreads, r0, M, 64, {
        const ptrdiff_t r1 = r0 + 64 < M ? r0 + 64 : M;
        REAL acc[STEP_R * STEP_W];
        for (int p = 0; p < P; p++) {
            const REAL *wp_p = wpt + (ptrdiff_t)p * K * STEP_W;
            const int n = N - p * STEP_W < STEP_W ? N - p * STEP_W : STEP_W;
            for (ptrdiff_t r = r0; r < r1; r += STEP_R) {
                const int rows = r1 - r < STEP_R ? (int)(r1 - r) : STEP_R;
                KSFX(panel_block)(acc, wp_p, STEP_W, NULL, 0, a + r * lda, lda, rows, 0, K, NULL,
                                  NULL, PACK_SW, n);
                for (int i = 0; i < rows; i++)
                    for (int j = 0; j < n; j++)
                        out[(r + i) * ldo + p * STEP_W + j] = acc[i * STEP_W + j];
            }
        }
    });
}

/* out (M, N) rows ldo apart += a.T @ b: a (K, M) rows lda apart, b (K, N) rows ldb apart: the
 * weight gradients (x.T @ dz, h.T @ dz) over all T*B rows. K is cut in blocks whose slice of
 * STEP_W columns of b stays in L1 while every row of out meets it: 64 rows (16 KiB in float32).
 * Measured on Zen5 (48 KiB L1), training step on 1 thread against blocks of 512: S1 1.10x, S3
 * 1.06x, S2 1.01x; blocks of 32 and 128 gave less. */
#define MM_KB 64
#if defined(__AVX512F__)
/* out (ROWS, NV vectors; rows ldo apart) += a (kn, ROWS).T @ b (kn, NV vectors; rows ldb apart),
 * a's row k at ar[k] + m; the last vector of b and out masked by mask (~0u: whole). NV, ROWS
 * (1, 4 or 6) and whether the mask is whole are constants at each call: ROWS x NV accumulators
 * in registers.
 * Blocks of 6 rows (24 accumulators) load each vector of b for 6 FMAs instead of 4: float32, 1
 * thread, Intel Xeon (AVX-512), 6400 rows of dz, against 4-row blocks, the two builds in turn:
 * out 128 x 384 (GRU S2's dw_h) 64-66 -> 76-89 GFLOP/s, 128 x 512 (LSTM S2) 66-71 -> 89-92,
 * 512 x 2048 40-46 -> 52-62; each row's sum over k keeps its order (one chain per output). */
LSTMCORE_INLINE void KSFX(tn_block)(REAL *out, ptrdiff_t ldo, const REAL *const *ar, int m,
                                   const REAL *b, ptrdiff_t ldb, int kn, const int NV,
                                   const int ROWS, unsigned mask) {
    enum { VW = STEP_W / 4 };  /* lanes per vector */
    V512 acc[6][4], w[4];
    for (int r = 0; r < ROWS; r++)
        for (int v = 0; v < NV; v++)
            acc[r][v] = V512F(setzero)();
    for (int k = 0; k < kn; k++) {
        const REAL *bp = b + k * ldb, *ap = ar[k] + m;
        for (int v = 0; v < NV - 1; v++)
            w[v] = V512F(loadu)(bp + v * VW);
        w[NV - 1] = KSFX(v_load)(mask, bp + (NV - 1) * VW);
        for (int r = 0; r < ROWS; r++) {
            const V512 x = V512F(set1)(ap[r]);
            for (int v = 0; v < NV; v++)
                acc[r][v] = V512F(fmadd)(x, w[v], acc[r][v]);
        }
    }
    for (int r = 0; r < ROWS; r++) {
        REAL *o = out + r * ldo;
        for (int v = 0; v < NV - 1; v++)
            V512F(storeu)(o + v * VW, V512F(loadu)(o + v * VW) + acc[r][v]);
        REAL *ol = o + (NV - 1) * VW;
        KSFX(v_store)(mask, ol, KSFX(v_load)(mask, ol) + acc[r][NV - 1]);
    }
}
#elif LC_STRIPS
/* AVX2 (16 vector registers): out (ROWS, NV vectors; rows ldo apart) += a (kn, ROWS).T @ b (kn,
 * NV whole vectors; rows ldb apart), a's row k at ar[k] + m; the last vector of out last lanes
 * wide.
 * NV (1 or 2) and ROWS (1, 2, 4 or 6) are constants at each call: 6 x 2 accumulators, 2
 * vectors of b and a broadcast in registers, each vector of b loaded for 6 FMAs; one chain per
 * output, k in order (a row of out sums the same in any block). The loop's loads are whole
 * vectors: a masked one in it (a lane count known at run time) left the accumulators on the
 * stack. */
LSTMCORE_INLINE void KSFX(tn_block)(REAL *out, ptrdiff_t ldo, const REAL *const *ar, int m,
                                   const REAL *b, ptrdiff_t ldb, int kn, const int NV,
                                   const int ROWS, int last) {
    LVEC acc[6][2], w[2];
    for (int r = 0; r < ROWS; r++)
        for (int v = 0; v < NV; v++)
            acc[r][v] = KSFX(lv_splat)(0);
    for (int k = 0; k < kn; k++) {
        const REAL *bp = b + k * ldb, *ap = ar[k] + m;
        for (int v = 0; v < NV; v++)
            w[v] = KSFX(lv_load)(bp + v * LL, LL);
        for (int r = 0; r < ROWS; r++) {
            const LVEC x = KSFX(lv_splat)(ap[r]);
            for (int v = 0; v < NV; v++)
                acc[r][v] = KSFX(lv_fma)(x, w[v], acc[r][v]);
        }
    }
    for (int r = 0; r < ROWS; r++)
        for (int v = 0; v < NV; v++) {
            REAL *o = out + r * ldo + v * LL;
            const int lanes = v == NV - 1 ? last : LL;
            KSFX(lv_store)(o, KSFX(lv_load)(o, lanes) + acc[r][v], lanes);
        }
}
#endif

/* One output of tn_rows: rows [m0, m1) of out (rows ldo apart, from its first column in the
 * call) += a.T @ b, a's column m for out's row m (a's rows lda apart, or where rows says, from
 * the call's first k); ar: the rows of a block of k, set by tn_share for tn_rows */
typedef struct {
    const REAL *a;
    ptrdiff_t lda;
    REAL *out;
    ptrdiff_t ldo;
    int m0, m1;
    const lc_step_rows *rows;
    const REAL *const *ar;
} KSFX(tn_part);

/* ar (kn) = a's rows k0 .. k0 + kn of part (where its rows say: lstm_gates.h's lc_step_rows) */
LSTMCORE_INLINE void KSFX(tn_row_table)(const KSFX(tn_part) *part, ptrdiff_t k0, int kn,
                                       const REAL **ar) {
    int t = part->rows ? lc_step_of(part->rows, k0) : 0;
    for (int k = 0; k < kn; k++)
        ar[k] = part->a + lc_step_row(part->rows, k0 + k, &t) * part->lda;
}

/* Each part's rows += a[k0:k0+kn].T @ b[k0:k0+kn] (N columns), panel by panel of STEP_W columns,
 * every part meeting a panel's slice of b while it is in L1; sums (N) or NULL: += b's kn rows,
 * one after the other (the order of sum_rows: with sums 0 before the first block, its bits) */
static void KSFX(tn_rows)(const KSFX(tn_part) *parts, int nparts, const REAL *b, ptrdiff_t ldb,
                          int N, int kn, REAL *sums) {
    const int P = (N + STEP_W - 1) / STEP_W;
    int rows = 0;  /* of all parts */
    for (int q = 0; q < nparts; q++)
        rows += parts[q].m1 - parts[q].m0;
    for (int p = 0; p < P; p++) {
        const int n0 = p * STEP_W, n = N - n0 < STEP_W ? N - n0 : STEP_W;
        const REAL *bk = b + n0;  /* rows ldbk apart */
        ptrdiff_t ldbk = ldb;
        if (sums)
            for (int k = 0; k < kn; k++)
                for (int j = 0; j < n; j++)
                    sums[n0 + j] += bk[k * ldb + j];
#define PART_BEGIN                                                                              \
    for (int q = 0; q < nparts; q++) {                                                          \
        const REAL *const *ar = parts[q].ar;                                                    \
        const ptrdiff_t ldo = parts[q].ldo;                                                     \
        REAL *out = parts[q].out;                                                               \
        const int m1 = parts[q].m1;                                                             \
        int m = parts[q].m0;
#define PART_END }
#if defined(__AVX512F__)
        /* Rows of b a multiple of 1 KiB apart (H a multiple of 64 in float32) fall in a few
         * L1 sets, and the slice b[:kn, n0:n0+n], read once per block of rows of out, would not
         * stay in L1: it is copied to consecutive rows first (S3's step 1.16x; S1's rows, 800
         * bytes apart, stay). */
        REAL bpk[MM_KB * STEP_W];
        if ((ldb * (ptrdiff_t)sizeof(REAL)) % 1024 == 0 && rows > 4) {
            enum { VW = STEP_W / 4 };
            for (int k = 0; k < kn; k++)
                for (int j = 0; j < STEP_W; j += VW) {
                    V512F(storeu)(bpk + k * STEP_W + j,
                                  V512F(maskz_loadu)(KSFX(lane_mask)(n - j), b + k * ldb + n0 + j));
                }
            bk = bpk;
            ldbk = STEP_W;
        }
        /* NV vectors of VL columns, the last one masked to the n columns */
        const int nv = (n + STEP_W / 4 - 1) / (STEP_W / 4), last = n - (nv - 1) * (STEP_W / 4);
        const unsigned mask = KSFX(lane_mask)(last);
#define TN_BLOCK(NV, ROWS, MASK)                                                                \
    KSFX(tn_block)(out + (ptrdiff_t)m * ldo + n0, ldo, ar, m, bk, ldbk, kn, NV, ROWS, MASK)
#define TN(NV, MASK)                                                                            \
    do {                                                                                        \
        for (; m + 6 <= m1; m += 6)                                                             \
            TN_BLOCK(NV, 6, MASK);                                                              \
        for (; m + 4 <= m1; m += 4)                                                             \
            TN_BLOCK(NV, 4, MASK);                                                              \
        for (; m < m1; m++)                                                                     \
            TN_BLOCK(NV, 1, MASK);                                                              \
    } while (0)
        PART_BEGIN
        switch (nv * 2 + (mask == ~0u)) {  /* mask: a constant in each copy, too */
        case 2: TN(1, mask); break;
        case 3: TN(1, ~0u); break;
        case 4: TN(2, mask); break;
        case 5: TN(2, ~0u); break;
        case 6: TN(3, mask); break;
        case 7: TN(3, ~0u); break;
        case 8: TN(4, mask); break;
        default: TN(4, ~0u);
        }
        PART_END
#undef TN
#undef TN_BLOCK
#elif LC_STRIPS
        /* two vectors of columns at a time, each over every row of out: 6 rows at a time, then
         * one by one. The group's slice of b is copied to consecutive rows first (zeros past its
         * columns): b's rows a multiple of 1 KiB apart fall in a few L1 sets, and the slice did
         * not stay in the L1 across the blocks of rows. dw_h of S2 (128 x 512 over 6400 rows of
         * dz), 1 thread, AMD EPYC (Zen 3): 26 GFLOP/s with a masked load in the loop, 52 with
         * whole loads, 61-66 with the copy and blocks of 2 and 4 rows after the 6s, OpenBLAS
         * 72-80; S1's (50 x 200 over 960 rows) 70 against OpenBLAS's 68 */
        (void)rows;
        REAL pad[MM_KB * 2 * LL];
        for (int j = 0; j < n; j += 2 * LL) {
            const int cols = n - j < 2 * LL ? n - j : 2 * LL, nv = cols > LL ? 2 : 1;
            const int last = cols - (nv - 1) * LL;
            const REAL *bj = pad;
            const ptrdiff_t ldbj = 2 * LL;
            for (int k = 0; k < kn; k++) {
                if (cols == 2 * LL) {
                    memcpy(pad + k * 2 * LL, bk + k * ldbk + j, sizeof(REAL) * 2 * LL);
                    continue;
                }
                for (int c = 0; c < 2 * LL; c++)
                    pad[k * 2 * LL + c] = c < cols ? bk[k * ldbk + j + c] : (REAL)0;
            }
#define TN_BLOCK(NV, ROWS, mm)                                                                  \
    KSFX(tn_block)(out + (ptrdiff_t)(mm) * ldo + n0 + j, ldo, ar, (mm), bj, ldbj, kn, NV, ROWS,  \
                   last)
#define TN_ROWS(NV)                                                                             \
    do {                                                                                        \
        int mm = m;                                                                             \
        for (; mm + 6 <= m1; mm += 6)                                                           \
            TN_BLOCK(NV, 6, mm);                                                                \
        switch (m1 - mm) {                                                                      \
        case 5: TN_BLOCK(NV, 4, mm); TN_BLOCK(NV, 1, mm + 4); break;                            \
        case 4: TN_BLOCK(NV, 4, mm); break;                                                     \
        case 3: TN_BLOCK(NV, 2, mm); TN_BLOCK(NV, 1, mm + 2); break;                            \
        case 2: TN_BLOCK(NV, 2, mm); break;                                                     \
        case 1: TN_BLOCK(NV, 1, mm); break;                                                     \
        default: break;                                                                         \
        }                                                                                       \
    } while (0)
            PART_BEGIN
            if (nv == 2)
                TN_ROWS(2);
            else
                TN_ROWS(1);
            PART_END
#undef TN_ROWS
#undef TN_BLOCK
        }
#else
        (void)rows;
        PART_BEGIN
        for (; m < m1; m++) {  /* one row of out (the generic kernels) */
            REAL acc[STEP_W];
            for (int j = 0; j < n; j++)
                acc[j] = 0;
            for (int k = 0; k < kn; k++) {
                const REAL am = ar[k][m];
                const REAL *bp = bk + k * ldbk;
                for (int j = 0; j < n; j++)
                    acc[j] += am * bp[j];
            }
            REAL *o = out + (ptrdiff_t)m * ldo + n0;
            for (int j = 0; j < n; j++)
                o[j] += acc[j];
        }
        PART_END
#endif
#undef PART_BEGIN
#undef PART_END
    }
}

/* What lstm_matmul_tn's threads split: out's columns (cols) in units of a cache line (where its
 * rows are whole lines apart, no line of it is written by two threads; else one line per row or
 * two may be), or its rows in blocks of 4 */
LSTMCORE_INLINE int KSFX(tn_unit)(int cols) {
    return cols ? 64 / (int)sizeof(REAL) : 4;
}

/* lstm_matmul_tn's share for thread k of n: a range of columns of every part's out and of sums
 * (cols: all their rows), or, for one part and no sums, blocks of 4 rows of out (all its
 * columns); M: the rows of all parts */
static void KSFX(tn_share)(const KSFX(tn_part) *parts, int nparts, const REAL *b, ptrdiff_t ldb,
                           REAL *sums, int M, int N, ptrdiff_t K, int n, int k, int cols) {
    const int extent = cols ? N : M, unit = KSFX(tn_unit)(cols);
    const int units = (extent + unit - 1) / unit, e = (int)((long long)(k + 1) * units / n) * unit;
    const int s0 = (int)((long long)k * units / n) * unit, s1 = e < extent ? e : extent;
    if (s1 <= s0)
        return;
    const int c0 = cols ? s0 : 0, c1 = cols ? s1 : N;
    KSFX(tn_part) mine[2];  /* nparts: 1 (lstm_matmul_tn) or 2 (lstm_matmul_tn2) */
    for (int q = 0; q < nparts; q++) {
        mine[q] = parts[q];
        mine[q].out += c0;
        if (!cols)
            mine[q].m0 = s0, mine[q].m1 = s1;
    }
    const REAL *ar[2][MM_KB];  /* each part's rows of the block */
    for (ptrdiff_t k0 = 0; k0 < K; k0 += MM_KB) {
        const int kn = K - k0 < MM_KB ? (int)(K - k0) : MM_KB;
        for (int q = 0; q < nparts; q++) {
            KSFX(tn_row_table)(&parts[q], k0, kn, ar[q]);
            mine[q].ar = ar[q];
        }
        KSFX(tn_rows)(mine, nparts, b + k0 * ldb + c0, ldb, c1 - c0, kn, sums ? sums + c0 : NULL);
    }
}

/* Threads over tn_share: one part and no sums split by columns of out where it has more columns
 * than rows, else by blocks of 4 rows; two parts or sums always by columns */
static void KSFX(tn_run)(const KSFX(tn_part) *parts, int nparts, const REAL *b, ptrdiff_t ldb,
                         REAL *sums, int M, int N, ptrdiff_t K, const lc_ctx *ctx) {
    const int nthreads = ctx->nthreads;
    const int cols = N > M || nparts > 1 || sums, unit = KSFX(tn_unit)(cols);
    const int units = ((cols ? N : M) + unit - 1) / unit;
    int nt = nthreads < units ? nthreads : units;
    if ((ptrdiff_t)M * N * K < 64 * LSTMCORE_PAR_MIN)
        nt = 1;
    (void)nt;  /* unused without OpenMP */
#ifdef _OPENMP
    if (nt > 1) {
#pragma omp parallel num_threads(nt)
        KSFX(tn_share)(parts, nparts, b, ldb, sums, M, N, K, omp_get_num_threads(),
                       omp_get_thread_num(), cols);
        return;
    }
#endif
    KSFX(tn_share)(parts, nparts, b, ldb, sums, M, N, K, 1, 0, cols);
}

static void KSFX(lstm_matmul_tn)(const REAL *a, ptrdiff_t lda, const lc_step_rows *ra,
                                 const REAL *b, ptrdiff_t ldb, REAL *out, ptrdiff_t ldo, int M,
                                 int N, ptrdiff_t K, const lc_ctx *ctx) {
    /* Threads own ranges of columns of out where it has more columns than rows (dw_h (H, 4H),
     * dw_x (I, 4H) unless I > 4H), else blocks of 4 rows: each thread reads its columns of b
     * alone and all of a, or all of b and its columns of a, the smaller share. Split by rows,
     * each thread read all of dz: S1's training step on 2 threads spent 1.6x the CPU time of one
     * thread in these products (perf); split by columns, its backward took 570 us against 622
     * (medians of 4 rounds, the two builds in turn). Every element of out sums over k alike in
     * either split and on one thread: the same results. One thread: no OpenMP region (see
     * LC_FOR). */
    const KSFX(tn_part) part = {a, lda, out, ldo, 0, M, ra, NULL};
    KSFX(tn_run)(&part, 1, b, ldb, NULL, M, N, K, ctx);
}

/* The weight gradients of a training step in one pass over b (dz): out1 (M1, N) += a1.T @ b,
 * out2 (M2, N) += a2.T @ b (dw_x from x, dw_h from h_prev) and sums (N) += b's rows (db), each
 * element as lstm_matmul_tn and sum_rows compute it alone (sums from 0: the same bits). One
 * pass instead of three: S1 (I = 1, H = 50, 960 rows of dz), 1 thread, AMD EPYC (Zen 3), in
 * turn in one process: dw_x 42, dw_h 252-255, db 17-18 us apart (316-324 together), the three
 * in one pass 290-300. */
static void KSFX(lstm_matmul_tn2)(const REAL *a1, ptrdiff_t lda1, const lc_step_rows *ra1,
                                  int M1, const REAL *a2, ptrdiff_t lda2,
                                  const lc_step_rows *ra2, int M2, const REAL *b, ptrdiff_t ldb,
                                  REAL *out1, ptrdiff_t ldo1, REAL *out2, ptrdiff_t ldo2,
                                  REAL *sums, int N, ptrdiff_t K, const lc_ctx *ctx) {
    const KSFX(tn_part) parts[2] = {{a1, lda1, out1, ldo1, 0, M1, ra1, NULL},
                                    {a2, lda2, out2, ldo2, 0, M2, ra2, NULL}};
    KSFX(tn_run)(parts, 2, b, ldb, sums, M1 + M2, N, K, ctx);
}
#undef MM_KB

/* The weight gradients in cache blocks (lstm_matmul_tn2_blocked, AVX-512): out1 (M1, N) +=
 * a1.T @ b, out2 (M2, N) += a2.T @ b and sums (N) += b's rows, as lstm_matmul_tn2 but blocked
 * for outputs larger than the L2 (S3's dw_x and dw_h: 6 MiB). lstm_matmul_tn reads and writes
 * out once per 64 rows of b, from the L3 once out exceeds the L2. Here (BLIS's and GotoBLAS's
 * loops): a's columns are packed first, in tiles of TN_MR rows of out over all K (each k's
 * TN_MR values together); then each thread, for its range of out's columns, takes K in blocks
 * of kc rows and its columns in blocks of nb: the block of b is packed into panels of STEP_W
 * columns (kc x nb in half the L2; sums added on the way), and every tile of out rows meets each
 * of its panels, TN_MR x 4 vectors of accumulators over the block's kc rows (the tile's slice
 * of packed a, kc x TN_MR, in a quarter of the L1), added to out once per block. Each element
 * of out sums the kc products of a block in one chain, blocks in order: the same bits on any
 * number of threads (threads split columns); sums add b's rows in order, as lc_sum_rows.
 * Measured in a C harness (Intel Xeon, AVX-512, 48 KiB L1d, 2 MiB L2, 1 thread, float32, out
 * 768 x 2048 over 6400 rows, S3's dw_x and dw_h together): the register tile alone 188 GFLOP/s
 * with its panel in the L1, 178 in the L2, 97 in the L3; the whole product 145 GFLOP/s with a
 * scalar pack of a (11 ms of its 139), OpenBLAS 134 (x.T @ dz and h.T @ dz) and 146 (one
 * product of [x, h]). */
#if defined(__AVX512F__)
#define TN_MR 6

/* kc (rows of b per block) and nb (columns per block: whole panels, no more than N's) from the
 * caches in ctx */
LSTMCORE_INLINE void KSFX(tn_blocking)(const lc_ctx *ctx, int N, ptrdiff_t K, int *kc, int *nb) {
    const ptrdiff_t l1 = ctx->l1d > 0 ? ctx->l1d : 32 << 10, l2 = ctx->l2 > 0 ? ctx->l2 : 1 << 20;
    ptrdiff_t k = l1 / 4 / (TN_MR * (ptrdiff_t)sizeof(REAL));
    k = k < 16 ? 16 : k / 16 * 16;
    *kc = (int)(K < k ? K : k);
    const ptrdiff_t n = l2 / 2 / ((ptrdiff_t)*kc * (ptrdiff_t)sizeof(REAL)) / STEP_W * STEP_W;
    const ptrdiff_t all = (ptrdiff_t)(N + STEP_W - 1) / STEP_W * STEP_W;
    *nb = (int)(n < STEP_W ? STEP_W : n < all ? n : all);
}

/* tiles of TN_MR rows of out over both outputs */
LSTMCORE_INLINE int KSFX(tn_tiles)(int M1, int M2) {
    return (M1 + TN_MR - 1) / TN_MR + (M2 + TN_MR - 1) / TN_MR;
}

/* elements of packed a: its tiles over K, rounded up to a 64-byte line */
LSTMCORE_INLINE ptrdiff_t KSFX(tn_packed_a_size)(int M1, int M2, ptrdiff_t K) {
    const ptrdiff_t line = 64 / (ptrdiff_t)sizeof(REAL);
    return ((ptrdiff_t)KSFX(tn_tiles)(M1, M2) * K * TN_MR + line - 1) / line * line;
}

static ptrdiff_t KSFX(lstm_tn_blocked_size)(const lc_ctx *ctx, int M1, int M2, int N,
                                            ptrdiff_t K) {
    /* packed a, then each thread's block of b (kc x nb) */
    int kc, nb;
    KSFX(tn_blocking)(ctx, N, K, &kc, &nb);
    const int nt = ctx->nthreads > 1 ? ctx->nthreads : 1;
    return KSFX(tn_packed_a_size)(M1, M2, K) + (ptrdiff_t)nt * kc * nb;
}

/* tiles [g0, g1) of packed a: tile g's row k holds a[k][m .. m + TN_MR) of its part (zeros past
 * the part's rows). Row by row of a: each read along, each tile written TN_MR values further on
 * (tile by tile, reading a down its columns 1 or 2 KiB apart, S3's 20 MB took 9-11 ms) */
static void KSFX(tn_pack_a)(const KSFX(tn_part) *parts, int nparts, ptrdiff_t K, REAL *ap,
                            int g0, int g1) {
    int t[2] = {0, 0};  /* each part's step (lc_step_row) */
    for (ptrdiff_t k = 0; k < K; k++) {
        int g = 0;
        for (int q = 0; q < nparts; q++) {
            const int M = parts[q].m1 - parts[q].m0;
            const REAL *src = parts[q].a + parts[q].m0
                              + lc_step_row(parts[q].rows, k, &t[q]) * parts[q].lda;
            for (int m = 0; m < M; m += TN_MR, g++) {
                if (g < g0 || g >= g1)
                    continue;
                const unsigned mask = M - m < TN_MR ? (1u << (M - m)) - 1 : (1u << TN_MR) - 1;
                V512F(mask_storeu)(ap + ((ptrdiff_t)g * K + k) * TN_MR, (1u << TN_MR) - 1,
                                   V512F(maskz_loadu)(mask, src + m));
            }
        }
    }
}

/* b's rows [0, kc) and columns [0, cols) -> bp: panels of STEP_W columns, kc rows each, zeros
 * past cols; sums (cols) += those rows, in order, or NULL */
static void KSFX(tn_pack_b)(const REAL *b, ptrdiff_t ldb, int kc, int cols, REAL *bp,
                            REAL *sums) {
    enum { VW = STEP_W / 4 };
    for (int j0 = 0; j0 < cols; j0 += STEP_W) {
        REAL *dst = bp + (ptrdiff_t)j0 * kc;
        unsigned m[4];
        for (int v = 0; v < 4; v++)
            m[v] = KSFX(lane_mask)(cols - j0 - v * VW);
        for (int k = 0; k < kc; k++) {
            const REAL *src = b + k * ldb + j0;
            for (int v = 0; v < 4; v++) {
                const V512 x = KSFX(v_load)(m[v], src + v * VW);
                V512F(store)(dst + k * STEP_W + v * VW, x);
                if (sums && m[v])
                    KSFX(v_store)(m[v], sums + j0 + v * VW,
                                  KSFX(v_load)(m[v], sums + j0 + v * VW) + x);
            }
        }
    }
}

/* out (rows <= TN_MR, its first cols <= STEP_W columns; rows ldo apart) += packed a's tile
 * slice ap (kc x TN_MR) .T @ panel bp (kc x STEP_W) */
LSTMCORE_INLINE void KSFX(tn_tile)(REAL *out, ptrdiff_t ldo, int rows, int cols,
                                  const REAL *restrict ap, const REAL *restrict bp, int kc) {
    enum { VW = STEP_W / 4 };
    V512 acc[TN_MR][4];
    for (int r = 0; r < TN_MR; r++)
        for (int v = 0; v < 4; v++)
            acc[r][v] = V512F(setzero)();
    for (int k = 0; k < kc; k++) {
        const V512 w0 = V512F(load)(bp + k * STEP_W), w1 = V512F(load)(bp + k * STEP_W + VW);
        const V512 w2 = V512F(load)(bp + k * STEP_W + 2 * VW);
        const V512 w3 = V512F(load)(bp + k * STEP_W + 3 * VW);
        for (int r = 0; r < TN_MR; r++) {
            const V512 x = V512F(set1)(ap[k * TN_MR + r]);
            acc[r][0] = V512F(fmadd)(x, w0, acc[r][0]);
            acc[r][1] = V512F(fmadd)(x, w1, acc[r][1]);
            acc[r][2] = V512F(fmadd)(x, w2, acc[r][2]);
            acc[r][3] = V512F(fmadd)(x, w3, acc[r][3]);
        }
    }
    for (int r = 0; r < TN_MR && r < rows; r++)
        for (int v = 0; v < 4; v++) {
            const unsigned m = KSFX(lane_mask)(cols - v * VW);
            if (m)
                KSFX(v_store)(m, out + r * ldo + v * VW,
                              KSFX(v_load)(m, out + r * ldo + v * VW) + acc[r][v]);
        }
}

/* one thread's columns [c0, c1) of every part's out and of sums (see above); ap: packed a, bp:
 * this thread's block of b */
static void KSFX(tn_blocked_cols)(const KSFX(tn_part) *parts, int nparts, const REAL *b,
                                  ptrdiff_t ldb, REAL *sums, ptrdiff_t K, int c0, int c1,
                                  const REAL *ap, REAL *bp, int kc0, int nb) {
    for (ptrdiff_t k0 = 0; k0 < K; k0 += kc0) {
        const int kc = K - k0 < kc0 ? (int)(K - k0) : kc0;
        for (int n0 = c0; n0 < c1; n0 += nb) {
            const int cols = c1 - n0 < nb ? c1 - n0 : nb;
            KSFX(tn_pack_b)(b + k0 * ldb + n0, ldb, kc, cols, bp, sums ? sums + n0 : NULL);
            int g = 0;
            for (int q = 0; q < nparts; q++) {
                const int M = parts[q].m1 - parts[q].m0;
                for (int m = 0; m < M; m += TN_MR, g++) {
                    const int rows = M - m < TN_MR ? M - m : TN_MR;
                    const REAL *apg = ap + ((ptrdiff_t)g * K + k0) * TN_MR;
                    REAL *o = parts[q].out + (ptrdiff_t)(parts[q].m0 + m) * parts[q].ldo + n0;
                    for (int j0 = 0; j0 < cols; j0 += STEP_W)
                        KSFX(tn_tile)(o + j0, parts[q].ldo, rows, cols - j0, apg,
                                      bp + (ptrdiff_t)j0 * kc, kc);
                }
            }
        }
    }
}

static void KSFX(lstm_matmul_tn2_blocked)(const REAL *a1, ptrdiff_t lda1,
                                          const lc_step_rows *ra1, int M1, const REAL *a2,
                                          ptrdiff_t lda2, const lc_step_rows *ra2, int M2,
                                          const REAL *b, ptrdiff_t ldb, REAL *out1,
                                          ptrdiff_t ldo1, REAL *out2, ptrdiff_t ldo2, REAL *sums,
                                          int N, ptrdiff_t K, REAL *ws, const lc_ctx *ctx) {
    /* ws: lstm_tn_blocked_size(ctx, M1, M2, N, K) elements, 64-byte aligned */
    if (N <= 0 || K <= 0)
        return;
    const KSFX(tn_part) parts[2] = {{a1, lda1, out1, ldo1, 0, M1, ra1, NULL},
                                    {a2, lda2, out2, ldo2, 0, M2, ra2, NULL}};
    const int nparts = M2 > 0 ? 2 : 1;
    int kc, nb;
    KSFX(tn_blocking)(ctx, N, K, &kc, &nb);
    const int P = (N + STEP_W - 1) / STEP_W, tiles = KSFX(tn_tiles)(M1, M2);
    REAL *ap = ws, *bp0 = ws + KSFX(tn_packed_a_size)(M1, M2, K);
    int nt = ctx->nthreads < P ? ctx->nthreads : P;
    if ((ptrdiff_t)(M1 + M2) * N * K < 64 * LSTMCORE_PAR_MIN)
        nt = 1;
    (void)nt;  /* unused without OpenMP */
#ifdef _OPENMP
    if (nt > 1) {
#pragma omp parallel num_threads(nt)
        {
            const int n = omp_get_num_threads(), i = omp_get_thread_num();
            KSFX(tn_pack_a)(parts, nparts, K, ap, (int)((long long)i * tiles / n),
                            (int)((long long)(i + 1) * tiles / n));
#pragma omp barrier
            const int p0 = (int)((long long)i * P / n), p1 = (int)((long long)(i + 1) * P / n);
            const int c1 = p1 * STEP_W < N ? p1 * STEP_W : N;
            if (p1 > p0)
                KSFX(tn_blocked_cols)(parts, nparts, b, ldb, sums, K, p0 * STEP_W, c1, ap,
                                      bp0 + (ptrdiff_t)i * kc * nb, kc, nb);
        }
        return;
    }
#endif
    KSFX(tn_pack_a)(parts, nparts, K, ap, 0, tiles);
    KSFX(tn_blocked_cols)(parts, nparts, b, ldb, sums, K, 0, N, ap, bp0, kc, nb);
}
#undef TN_MR
#else
/* without AVX-512: no blocked kernel (its size 0 tells the caller), lstm_matmul_tn2's order; one
 * output where M2 is 0 (a2 and out2 may then be NULL) */
static ptrdiff_t KSFX(lstm_tn_blocked_size)(const lc_ctx *ctx, int M1, int M2, int N,
                                            ptrdiff_t K) {
    (void)ctx, (void)M1, (void)M2, (void)N, (void)K;
    return 0;
}

static void KSFX(lstm_matmul_tn2_blocked)(const REAL *a1, ptrdiff_t lda1,
                                          const lc_step_rows *ra1, int M1, const REAL *a2,
                                          ptrdiff_t lda2, const lc_step_rows *ra2, int M2,
                                          const REAL *b, ptrdiff_t ldb, REAL *out1,
                                          ptrdiff_t ldo1, REAL *out2, ptrdiff_t ldo2, REAL *sums,
                                          int N, ptrdiff_t K, REAL *ws, const lc_ctx *ctx) {
    (void)ws;
    const KSFX(tn_part) parts[2] = {{a1, lda1, out1, ldo1, 0, M1, ra1, NULL},
                                    {a2, lda2, out2, ldo2, 0, M2, ra2, NULL}};
    KSFX(tn_run)(parts, M2 > 0 ? 2 : 1, b, ldb, sums, M1 + M2, N, K, ctx);
}
#endif
