/* The LSTM's backward through time with w_h.T packed (lstm_seq_backward_packed): part of
 * lstm_gates.c's body (see lstm_gates_impl.h). */

/* Panels [p0, p1) of backward step t: dh = dz[t+1] @ w_h.T (dh_n at t = T-1), then the gate
 * backward of those units, or (t = -1) dh0 = dz[0] @ w_h.T alone. */
static void KSFX(backward_panel_range)(const REAL *wpt, REAL *dz, const REAL *dy, ptrdiff_t ldy,
                                       const REAL *gates, const REAL *c, const REAL *hs, REAL *dh,
                                       REAL *dc, int t,
                                       int T, int B, int Bs, const int *nact, int H, int act,
                                       int ract, int r0, int r1, int p0, int p1,
                                       int prefetch, int rows6, const ptrdiff_t *zoff) {
    /* rows [r0, r1) of the batch, panels [p0, p1); a step of dz, gates and c holds Bs rows.
     * nact (T) or NULL: step t runs its first nact[t] rows; a row joins at its last step with
     * its dh_n (in dh) and dc_n (in dc), and its dz is not written at the steps it does not run
     * (the rows of dz[t+1] past nact[t+1] are read into acc and replaced there by dh_n).
     * prefetch: the full row blocks bring the panel that runs next into the L2, and rows6: blocks
     * of 6 rows (AVX-512, AVX2), as in step_panel_range. zoff (T) or NULL: with nact, dz holds
     * the rows that ran, step after step, step t's from row zoff[t] (else step t at t * Bs
     * rows). */
    const ptrdiff_t G = 4 * (ptrdiff_t)H, BG = (ptrdiff_t)Bs * G, BH = (ptrdiff_t)Bs * H;
    const int runs = t < 0 || !nact ? B : nact[t];  /* rows of this step */
    const int ran = t + 1 >= T ? 0 : (nact ? nact[t + 1] : B);  /* rows of step t+1 */
    REAL acc[6 * STEP_W];
#ifndef LC_ROWS6
    rows6 = 0;
#endif
    const int re = r1 < runs ? r1 : runs;  /* rows of this step in [r0, r1) */
    const int lim = re < ran ? re : ran;     /* those whose dh comes from a product */
    const int six = lstmcore_six_blocks(lim - r0, rows6, STEP_R);
    const int full_blocks = lim > r0 ? six + (lim - r0 - 6 * six) / STEP_R : 0;
    for (int p = p0; p < p1; p++) {
        const int u0 = p * STEP_W, n = H - u0 < STEP_W ? H - u0 : STEP_W;
        const REAL *wp_p = wpt + (ptrdiff_t)p * G * STEP_W;
        /* dz[t+1], read when t < T-1 */
        const REAL *dz_next = t + 1 >= T ? dz : dz + (zoff ? zoff[t + 1] * G : (t + 1) * BG);
        const int next = p + 1 < p1 ? p + 1 : p0;
        const char *pf = (const char *)(wpt + (ptrdiff_t)next * G * STEP_W), *pf_e;
        ptrdiff_t share;  /* lines per full block */
        const char *pf_end = lstmcore_prefetch_split(prefetch && next != p, pf,
                                                     G * STEP_W * (ptrdiff_t)sizeof(REAL),
                                                     full_blocks, G, &share);
        int blk = 0;  /* full blocks so far: the share of the prefetch they take */
        for (ptrdiff_t rb = r0, rows; rb < re; rb += rows, blk++) {
            const char *pf_b = lstmcore_prefetch_block(pf, pf_end, share, blk, &pf_e);
            /* acc (rows, STEP_W): dh of these rows and units, from step t+1, or dh_n for the
             * rows that did not run it */
#ifdef LC_ROWS6
            if (blk < six) {  /* 6 rows, all of which ran step t+1 */
                rows = 6;
                KSFX(step_panel_rows6)(acc, wp_p, NULL, 0, dz_next + rb * G, G, 0, (int)G, pf_b,
                                       pf_e, PACK_SW, n);
            } else
#endif
            {
                rows = re - rb < STEP_R ? (int)(re - rb) : STEP_R;
                /* the product for the rows below lim alone: a block cut by lim, not by the end
                 * of this thread's range, so that each row sums in a block of the size one
                 * thread gives it (the last row of a block of 1 or 3 rows sums alone) */
                const int prod = lim - rb < rows ? (int)(lim - rb) : (int)rows;
                if (prod > 0)
                    KSFX(panel_block)(acc, wp_p, STEP_W, NULL, 0, dz_next + rb * G, G, prod, 0,
                                      (int)G, pf_b, prod == STEP_R ? pf_e : pf_b, PACK_SW, n);
            }
            /* row copies through pointers: with Python's -fwrapv an index such as u0 + j may
             * wrap, and gcc 12 wrote these copies with vector scatters */
            for (int i = rb < ran ? (int)(ran - rb) : 0; i < rows; i++) {
                REAL *restrict acc_i = acc + i * STEP_W;
                const REAL *dh_i = dh + (rb + i) * H + u0;
                for (int j = 0; j < n; j++)
                    acc_i[j] = dh_i[j];
            }
            for (int i = 0; i < rows; i++) {
                const ptrdiff_t r = rb + i;
                if (t < 0) {  /* dh0 */
                    REAL *restrict dh_r = dh + r * H + u0;
                    const REAL *acc_i = acc + i * STEP_W;
                    for (int j = 0; j < n; j++)
                        dh_r[j] = acc_i[j];
                    continue;
                }
                REAL *dz_r = dz + (zoff ? zoff[t] * G : t * BG) + r * G + u0;
                const REAL *g_r = gates + t * BG + r * G + u0;
                const REAL *cp_r = c + t * BH + r * H + u0, *c_r = c + (t + 1) * BH + r * H + u0;
                const REAL *dy_r = dy ? dy + r * ldy + (ptrdiff_t)t * H + u0 : NULL;
                const REAL *m_r = hs ? hs + (t + 1) * BH + r * H + u0 : NULL;  /* step t's h */
#define ROW(opts)                                                                               \
    KSFX(lstm_row_backward)(opts, n, H, acc + i * STEP_W, dy_r, dc + r * H + u0, g_r, NULL,     \
                            NULL, cp_r, c_r, m_r, dz_r)
                LSTM_PLAIN_CALL(act, ract, ROW);
#undef ROW
            }
        }
    }
}

static void KSFX(lstm_seq_backward_packed)(const REAL *wpt, REAL *dz, const REAL *dy,
                                           ptrdiff_t ldy, const REAL *gates, const REAL *c,
                                           const REAL *hs, REAL *dh, REAL *dc, int T, int B, int Bs,
                                           const int *nact, int H, int act, int ract,
                                           const ptrdiff_t *zoff, const lc_ctx *ctx) {
    const int nthreads = ctx->nthreads;
    /* wpt: w_h.T packed | dz, gates (T, Bs, G): dz out | dy (B, T, H) rows ldy apart, or NULL
     * c (T+1, Bs, H) | hs (T+1, Bs, H): the forward's h, or NULL (lstm_row_backward's m)
     * dh, dc (B, H): in dh_n, dc_n, out dh0, dc0. The first B <= Bs rows of
     * each step run, or its first nact[t] (nact (T) non-increasing, or NULL).
     * Threads: as lstm_seq_packed. */
    const int P = (H + STEP_W - 1) / STEP_W, RB = (B + STEP_R - 1) / STEP_R;  /* row blocks */
    const int rows = STEP_R > 1 &&  /* as in lstm_seq_packed */
                     lstmcore_row_split(ctx, P * 4 * (ptrdiff_t)H * STEP_W * (ptrdiff_t)sizeof(REAL),
                                        RB, P, nthreads);
    int nt = nthreads < (rows ? RB : P) ? nthreads : (rows ? RB : P);
    const ptrdiff_t panel_bytes = 4 * (ptrdiff_t)H * STEP_W * (ptrdiff_t)sizeof(REAL);
    (void)nt;  /* unused without OpenMP */
    if ((ptrdiff_t)B * H * H < LSTMCORE_SEQ_PAR_MIN)  /* B * G * H / 4 multiply-adds */
        nt = 1;
#ifdef LC_ROWS6
    const int rows6 = ctx->row_block != 4;  /* blocks of 6 rows (step_panel_rows6) */
#else
    const int rows6 = 0;
#endif
#ifdef _OPENMP
    if (nt > 1 && rows) {  /* each row's backward needs only its own dz: no barrier */
#pragma omp parallel num_threads(nt)
        {
            int r0, r1;  /* this thread's rows */
            lstmcore_row_range(B, T, nact, KSFX(split_unit)(nact != NULL),
                               omp_get_thread_num(), omp_get_num_threads(), &r0, &r1);
            for (int t = T - 1; t >= -1 && r1 > r0; t--)
                KSFX(backward_panel_range)(wpt, dz, dy, ldy, gates, c, hs, dh, dc, t, T, B, Bs,
                                           nact, H, act, ract, r0, r1, 0, P,
                                           lstmcore_panel_prefetch(ctx, P * panel_bytes), rows6,
                                           zoff);
        }
        return;
    }
    if (nt > 1) {
        lstmcore_barrier bar = {0, 0};
#pragma omp parallel num_threads(nt)
        {
            const int n = omp_get_num_threads(), k = omp_get_thread_num();
            const int p0 = (int)((long long)k * P / n), p1 = (int)((long long)(k + 1) * P / n);
            for (int t = T - 1, s = 1; t >= -1; t--, s++) {
                KSFX(backward_panel_range)(wpt, dz, dy, ldy, gates, c, hs, dh, dc, t, T, B, Bs,
                                           nact, H, act, ract, 0, B, p0, p1,
                                           lstmcore_panel_prefetch(ctx, (p1 - p0) * panel_bytes),
                                           rows6, zoff);
                lstmcore_barrier_arrive(&bar);  /* dz[t] complete when all n have arrived */
                lstmcore_barrier_wait(&bar, s * n);
            }
        }
        return;
    }
#endif
    for (int t = T - 1; t >= -1; t--)
        KSFX(backward_panel_range)(wpt, dz, dy, ldy, gates, c, hs, dh, dc, t, T, B, Bs, nact, H,
                                   act, ract, 0, B, 0, P,
                                   lstmcore_panel_prefetch(ctx, P * panel_bytes), rows6, zoff);
}

#undef STEP_R
#undef LC_STEP_ROWS_ONLY
#undef LC_PANEL_PREFETCH
#undef LC_ROWS6
#undef STEP_W
#undef STEP_U
#undef PANEL_Q1
#undef PACK_SW
#undef LC_STRIPS
