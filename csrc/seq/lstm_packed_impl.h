/* The LSTM's packed streaming step and sequence (lstm_step_packed, lstm_seq_packed): their panel
 * products, each followed by the gate maths of its units (cells/lstm_cell_impl.h). Part of
 * lstm_gates.c's body (see lstm_gates_impl.h). */

/* The streaming step with packed weights (lstm_step_pack / lstm_step_packed in lstm_gates.h).
 * A panel holds the 4 gate columns of LSTMCORE_STEP_U(REAL) consecutive units, so that one pass
 * over a panel gives every pre-activation of those units and their gate maths follow at once,
 * while the panel's accumulators are still in registers. The last panel holds only the units left
 * rounded up to STEP_U / 4 (a quarter of the panel: one vector of 4 gates with AVX-512), or to
 * one vector's where they fit in one (panel_units): H = 50 in float32 takes 3 full panels and one
 * of 2 units with AVX2, of 4 with AVX-512, not 4 full panels (64 units). Panel p starts
 * at p * (I + H) * STEP_W in wp and p * STEP_W in bp; its rows are 4 * panel_units wide, laid
 * out as panel_at says. */
#define STEP_U (LSTMCORE_STEP_U(REAL))
#define STEP_W (4 * STEP_U)

/* AVX2 stores each panel as strips of PACK_SW = STEP_U columns (two vectors: one 64-byte line
 * per panel row), the rows of a strip one after the other, so that a block of rows reads its
 * strip from beginning to end. Rows of the panel's whole width (256 bytes) left the register
 * blocks' columns a line in four: a strip of S3's panels (768 rows, 48 KiB) did not stay in a
 * 32 KiB L1 across the blocks of rows, and the L2's prefetch followed four interleaved streams
 * (AMD EPYC, Zen 3, 1 thread, (66 x 768) @ (768 x 2048) in panels, the two layouts in turn:
 * 66-73 -> 81-85 GFLOP/s; 320 and 160 rows: the same). The other kernels keep whole rows
 * (PACK_SW 0). */
#if !defined(__AVX512F__) && defined(__AVX2__) && defined(__FMA__) &&                           \
    (defined(__GNUC__) || defined(__clang__))
#define LC_STRIPS 1
#define PACK_SW STEP_U
#else
#define LC_STRIPS 0
#define PACK_SW 0
#endif

/* the columns of a strip of a panel W columns wide laid out in strips of sw (sw >= W or 0: whole
 * rows, one strip) */
LSTMCORE_INLINE int KSFX(strip_cols)(int W, int sw) {
    return sw > 0 && sw < W ? sw : W;
}

/* where row k, column j of a panel K rows by W columns lies in its packed layout: strips of sw
 * columns (strip_cols) */
LSTMCORE_INLINE ptrdiff_t KSFX(panel_at)(ptrdiff_t K, int W, ptrdiff_t k, int j, int sw) {
    const int s = KSFX(strip_cols)(W, sw);
    return (ptrdiff_t)(j / s) * K * s + k * s + j % s;
}

/* The strips of the LSTM's packed [w_x; w_h] for a call: AVX2's but where ctx->pack_rows says
 * whole rows (a single sequence: its one row at a time reads a whole panel row at each k, one
 * stream of 256 bytes rather than four of 64, S5 1 thread 1.04x) */
LSTMCORE_INLINE int KSFX(pack_sw)(const lc_ctx *ctx) {
    return ctx->pack_rows ? 0 : PACK_SW;
}

/* The units of a last panel one vector wide (4 gates of LL / 4 units): AVX2's last panel of
 * H = 50 in float32 holds its 2 units in one vector rather than 4 in two (S1, below) */
#define PANEL_Q1 (LL >= 4 ? LL / 4 : 1)

/* units in panel p's layout: STEP_U, or for the last panel the units left rounded up to
 * PANEL_Q1 where they fit in one vector, else to STEP_U / 4 */
LSTMCORE_INLINE int KSFX(panel_units)(int H, int p) {
    const int left = H - p * STEP_U, q = STEP_U / 4;
    if (left >= STEP_U)
        return STEP_U;
    return left <= PANEL_Q1 ? PANEL_Q1 : (left + q - 1) / q * q;
}

static void KSFX(lstm_step_pack)(const lc_ctx *ctx, const REAL *w_x, const REAL *w_h,
                                 const REAL *b, int I, int H,
                         REAL *wp, REAL *bp) {
    const int sw = KSFX(pack_sw)(ctx);
    /* w_x (I, G) (unused when I = 0) | w_h (H, G) | b (G) -> wp (P, I + H, 4U) | bp (P, 4U);
     * P = ceil(H / U) panels, units past H padded with zeros */
    const ptrdiff_t G = 4 * (ptrdiff_t)H, K = (ptrdiff_t)I + H;
    const int P = (H + STEP_U - 1) / STEP_U;
    for (int p = 0; p < P; p++) {
        /* U units in the layout, n of them real: each gate's run of n is one copy, of a
         * constant size in a full panel (inlined: S5's 288 KiB in 37 us with a library call
         * per run or a test per element, 0.5 ns per element) */
        const int U = KSFX(panel_units)(H, p), u0 = p * STEP_U, n = H - u0 < U ? H - u0 : U;
        REAL *wp_p = wp + (ptrdiff_t)p * K * STEP_W;
        for (ptrdiff_t k = 0; k <= K; k++) {  /* row K: the bias */
            const REAL *src = k == K ? b : k < I ? w_x + k * G : w_h + (k - I) * G;
            for (int q = 0; q < 4; q++) {
                if (n == STEP_U) {  /* a gate's STEP_U units: consecutive in either layout */
                    REAL *dst = k == K ? bp + p * STEP_W + q * U
                                       : wp_p + KSFX(panel_at)(K, 4 * U, k, q * U, sw);
                    memcpy(dst, src + q * (ptrdiff_t)H + u0, sizeof(REAL) * STEP_U);
                    continue;
                }
                for (int u = 0; u < U; u++) {  /* the padding: zeros */
                    REAL *dst = k == K ? bp + p * STEP_W + q * U + u
                                       : wp_p + KSFX(panel_at)(K, 4 * U, k, q * U + u, sw);
                    *dst = u < n ? src[q * (ptrdiff_t)H + u0 + u] : (REAL)0;
                }
            }
        }
    }
}

/* acc (W) = x (I) @ panel rows [0, I) + h (H) @ panel rows [I, I + H); panel rows W wide */
LSTMCORE_INLINE void KSFX(step_panel)(REAL *restrict acc, const REAL *restrict wp, int W,
                                     const REAL *restrict x, const REAL *restrict h, int I, int H) {
    REAL a[STEP_W];
    for (int j = 0; j < W; j++)
        a[j] = 0;
    for (int k = 0; k < I; k++) {
        const REAL xk = x[k];
        const REAL *w = wp + (ptrdiff_t)k * W;
        for (int j = 0; j < W; j++)
            a[j] += xk * w[j];
    }
    wp += (ptrdiff_t)I * W;
    for (int k = 0; k < H; k++) {
        const REAL hk = h[k];
        const REAL *w = wp + (ptrdiff_t)k * W;
        for (int j = 0; j < W; j++)
            a[j] += hk * w[j];
    }
    for (int j = 0; j < W; j++)
        acc[j] = a[j];
}

#if defined(__AVX512F__)
/* AVX-512: the panel's 4U values are 4 vectors. STEP_R rows at a time share each load of the
 * panel (4 x STEP_R accumulators in registers); one row alone splits k into even and odd
 * halves, so that 8 independent FMA chains hide the FMA latency. */
#define STEP_R 4
#define VL (STEP_W / 4)  /* lanes per vector */
#define LC_PANEL_PREFETCH 1  /* step_panel_rows prefetches the next panel (lstm_seq_plan) */

/* acc (STEP_R, 4U) = rows r of x (I) @ panel rows [0, I) + rows r of h (H) @ rows [I, I + H);
 * [pf, pf_end): cache lines to prefetch into the L2 on the way, one per k (see panel_prefetch) */
LSTMCORE_INLINE void KSFX(step_panel_rows)(REAL *restrict acc, const REAL *restrict wp,
                                          const REAL *restrict x, ptrdiff_t ldx,
                                          const REAL *restrict h, ptrdiff_t ldh, int I, int H,
                                          const char *pf, const char *pf_end) {
    V512 a00 = V512F(setzero)(), a01 = a00, a02 = a00, a03 = a00;
    V512 a10 = a00, a11 = a00, a12 = a00, a13 = a00;
    V512 a20 = a00, a21 = a00, a22 = a00, a23 = a00;
    V512 a30 = a00, a31 = a00, a32 = a00, a33 = a00;
    for (int part = 0; part < 2; part++) {
        const REAL *v = part ? h : x;
        const ptrdiff_t ld = part ? ldh : ldx;
        const int K = part ? H : I;
        const REAL *w = wp + (part ? (ptrdiff_t)I * STEP_W : 0);
        for (int k = 0; k < K; k++, w += STEP_W) {
            if (pf < pf_end) {  /* one line of the panel that comes next, into the L2 */
                _mm_prefetch(pf, _MM_HINT_T1);
                pf += 64;
            }
            const V512 w0 = V512F(loadu)(w), w1 = V512F(loadu)(w + VL);
            const V512 w2 = V512F(loadu)(w + 2 * VL), w3 = V512F(loadu)(w + 3 * VL);
            V512 b = V512F(set1)(v[k]);
            a00 = V512F(fmadd)(b, w0, a00); a01 = V512F(fmadd)(b, w1, a01);
            a02 = V512F(fmadd)(b, w2, a02); a03 = V512F(fmadd)(b, w3, a03);
            b = V512F(set1)(v[ld + k]);
            a10 = V512F(fmadd)(b, w0, a10); a11 = V512F(fmadd)(b, w1, a11);
            a12 = V512F(fmadd)(b, w2, a12); a13 = V512F(fmadd)(b, w3, a13);
            b = V512F(set1)(v[2 * ld + k]);
            a20 = V512F(fmadd)(b, w0, a20); a21 = V512F(fmadd)(b, w1, a21);
            a22 = V512F(fmadd)(b, w2, a22); a23 = V512F(fmadd)(b, w3, a23);
            b = V512F(set1)(v[3 * ld + k]);
            a30 = V512F(fmadd)(b, w0, a30); a31 = V512F(fmadd)(b, w1, a31);
            a32 = V512F(fmadd)(b, w2, a32); a33 = V512F(fmadd)(b, w3, a33);
        }
    }
    V512F(storeu)(acc, a00); V512F(storeu)(acc + VL, a01);
    V512F(storeu)(acc + 2 * VL, a02); V512F(storeu)(acc + 3 * VL, a03);
    acc += STEP_W;
    V512F(storeu)(acc, a10); V512F(storeu)(acc + VL, a11);
    V512F(storeu)(acc + 2 * VL, a12); V512F(storeu)(acc + 3 * VL, a13);
    acc += STEP_W;
    V512F(storeu)(acc, a20); V512F(storeu)(acc + VL, a21);
    V512F(storeu)(acc + 2 * VL, a22); V512F(storeu)(acc + 3 * VL, a23);
    acc += STEP_W;
    V512F(storeu)(acc, a30); V512F(storeu)(acc + VL, a31);
    V512F(storeu)(acc + 2 * VL, a32); V512F(storeu)(acc + 3 * VL, a33);
}

/* R rows (a constant at each call, at most 6): as step_panel_rows, each element summed over k in
 * one FMA chain as there, so that a row sums the same in a block of 2, 4 or 6. Six rows: 24
 * accumulators (of 32 registers), each load of the panel serves 6 rows instead of 4
 * (lstm_seq_plan's row_block 6). Two rows: 8 chains side by side, enough to hide the FMA latency;
 * a thread of a row split whose range leaves 2 rows at the end of a step (where one thread runs
 * them in a block of 4) gets the same results. */
LSTMCORE_INLINE void KSFX(step_panel_nrows)(REAL *restrict acc, const REAL *restrict wp,
                                           const REAL *restrict x, ptrdiff_t ldx,
                                           const REAL *restrict h, ptrdiff_t ldh, int I, int H,
                                           const char *pf, const char *pf_end, const int R) {
    V512 a[6][4];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < 4; v++)
            a[r][v] = V512F(setzero)();
    for (int part = 0; part < 2; part++) {
        const REAL *v = part ? h : x;
        const ptrdiff_t ld = part ? ldh : ldx;
        const int K = part ? H : I;
        const REAL *w = wp + (part ? (ptrdiff_t)I * STEP_W : 0);
        for (int k = 0; k < K; k++, w += STEP_W) {
            if (pf < pf_end) {
                _mm_prefetch(pf, _MM_HINT_T1);
                pf += 64;
            }
            const V512 w0 = V512F(loadu)(w), w1 = V512F(loadu)(w + VL);
            const V512 w2 = V512F(loadu)(w + 2 * VL), w3 = V512F(loadu)(w + 3 * VL);
            for (int r = 0; r < R; r++) {
                const V512 b = V512F(set1)(v[r * ld + k]);
                a[r][0] = V512F(fmadd)(b, w0, a[r][0]);
                a[r][1] = V512F(fmadd)(b, w1, a[r][1]);
                a[r][2] = V512F(fmadd)(b, w2, a[r][2]);
                a[r][3] = V512F(fmadd)(b, w3, a[r][3]);
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < 4; v++)
            V512F(storeu)(acc + r * STEP_W + v * VL, a[r][v]);
}

#define LC_ROWS6 1
LSTMCORE_INLINE void KSFX(step_panel_rows6)(REAL *restrict acc, const REAL *restrict wp,
                                           const REAL *restrict x, ptrdiff_t ldx,
                                           const REAL *restrict h, ptrdiff_t ldh, int I, int H,
                                           const char *pf, const char *pf_end, int sw, int cols) {
    (void)sw;
    (void)cols;  /* every column */
    KSFX(step_panel_nrows)(acc, wp, x, ldx, h, ldh, I, H, pf, pf_end, 6);
}

/* One row: as step_panel, with even and odd k in separate accumulators. */
LSTMCORE_INLINE void KSFX(step_panel_row)(REAL *restrict acc, const REAL *restrict wp,
                                         const REAL *restrict x, const REAL *restrict h, int I,
                                         int H) {
    V512 e0 = V512F(setzero)(), e1 = e0, e2 = e0, e3 = e0, o0 = e0, o1 = e0, o2 = e0, o3 = e0;
    for (int part = 0; part < 2; part++) {
        const REAL *v = part ? h : x;
        const int K = part ? H : I;
        const REAL *w = wp + (part ? (ptrdiff_t)I * STEP_W : 0);
        int k = 0;
        for (; k + 1 < K; k += 2, w += 2 * STEP_W) {
            const V512 b = V512F(set1)(v[k]), c = V512F(set1)(v[k + 1]);
            e0 = V512F(fmadd)(b, V512F(loadu)(w), e0);
            e1 = V512F(fmadd)(b, V512F(loadu)(w + VL), e1);
            e2 = V512F(fmadd)(b, V512F(loadu)(w + 2 * VL), e2);
            e3 = V512F(fmadd)(b, V512F(loadu)(w + 3 * VL), e3);
            o0 = V512F(fmadd)(c, V512F(loadu)(w + STEP_W), o0);
            o1 = V512F(fmadd)(c, V512F(loadu)(w + STEP_W + VL), o1);
            o2 = V512F(fmadd)(c, V512F(loadu)(w + STEP_W + 2 * VL), o2);
            o3 = V512F(fmadd)(c, V512F(loadu)(w + STEP_W + 3 * VL), o3);
        }
        if (k < K) {
            const V512 b = V512F(set1)(v[k]);
            e0 = V512F(fmadd)(b, V512F(loadu)(w), e0);
            e1 = V512F(fmadd)(b, V512F(loadu)(w + VL), e1);
            e2 = V512F(fmadd)(b, V512F(loadu)(w + 2 * VL), e2);
            e3 = V512F(fmadd)(b, V512F(loadu)(w + 3 * VL), e3);
        }
    }
    V512F(storeu)(acc, V512F(add)(e0, o0));
    V512F(storeu)(acc + VL, V512F(add)(e1, o1));
    V512F(storeu)(acc + 2 * VL, V512F(add)(e2, o2));
    V512F(storeu)(acc + 3 * VL, V512F(add)(e3, o3));
}

/* Load and store the lanes of mask m; a whole vector (m = ~0u) without a mask. */
LSTMCORE_INLINE V512 KSFX(v_load)(unsigned m, const REAL *p) {
    return m == ~0u ? V512F(loadu)(p) : V512F(maskz_loadu)(m, p);
}

LSTMCORE_INLINE void KSFX(v_store)(unsigned m, REAL *p, V512 v) {
    if (m == ~0u)
        V512F(storeu)(p, v);
    else
        V512F(mask_storeu)(p, m, v);
}

/* The mask of a vector whose first `left` lanes hold data: ~0u from a whole vector on, 0 at none */
LSTMCORE_INLINE unsigned KSFX(lane_mask)(int left) {
    return left >= STEP_W / 4 ? ~0u : left > 0 ? (1u << left) - 1 : 0u;
}

/* A narrow panel (the last one, NV < 4 vectors wide): ROWS (1 or STEP_R) rows at a time, the
 * accumulators in registers; NV and ROWS are constants at each call. */
LSTMCORE_INLINE void KSFX(step_panel_narrow)(REAL *restrict acc, const REAL *restrict wp,
                                            const int NV, const int ROWS, const REAL *restrict x,
                                            ptrdiff_t ldx, const REAL *restrict h, ptrdiff_t ldh,
                                            int I, int H) {
    /* S sets of accumulators take k in turn, so that 8 FMA chains run side by side on four rows
     * (the FMA latency, not the weights, would bound one vector on four rows); S depends on the
     * width alone, so that a row sums in the same order alone and in a block (the rows a thread
     * of a row split runs alone may run in a block on one thread, and the results must not
     * depend on the threads) */
    const int S = NV >= 2 ? 1 : 2;  /* a constant once inlined */
    V512 a[2][STEP_R][3];
    for (int s = 0; s < S; s++)
        for (int r = 0; r < ROWS; r++)
            for (int v = 0; v < NV; v++)
                a[s][r][v] = V512F(setzero)();
    for (int part = 0; part < 2; part++) {
        const REAL *vec = part ? h : x;
        const ptrdiff_t ld = part ? ldh : ldx;
        const int K = part ? H : I;
        const REAL *w = wp + (part ? (ptrdiff_t)I * NV * VL : 0);
        int k = 0;
        for (; k + S <= K; k += S, w += S * NV * VL)
            for (int s = 0; s < S; s++) {
                V512 wv[3];
                for (int v = 0; v < NV; v++)
                    wv[v] = V512F(loadu)(w + (s * NV + v) * VL);
                for (int r = 0; r < ROWS; r++) {
                    const V512 b = V512F(set1)(vec[r * ld + k + s]);
                    for (int v = 0; v < NV; v++)
                        a[s][r][v] = V512F(fmadd)(b, wv[v], a[s][r][v]);
                }
            }
        for (; k < K; k++, w += NV * VL)
            for (int r = 0; r < ROWS; r++) {
                const V512 b = V512F(set1)(vec[r * ld + k]);
                for (int v = 0; v < NV; v++)
                    a[0][r][v] = V512F(fmadd)(b, V512F(loadu)(w + v * VL), a[0][r][v]);
            }
    }
    for (int r = 0; r < ROWS; r++)
        for (int v = 0; v < NV; v++) {
            V512 sum = a[0][r][v];
            for (int s = 1; s < S; s++)
                sum = sum + a[s][r][v];
            V512F(storeu)(acc + r * STEP_W + v * VL, sum);
        }
}

/* rows (<= STEP_R) of a narrow panel W = NV * VL wide, NV < 4 */
LSTMCORE_INLINE void KSFX(narrow_block)(REAL *restrict acc, const REAL *restrict wp, int W,
                                       const REAL *x, ptrdiff_t ldx, const REAL *h, ptrdiff_t ldh,
                                       int rows, int I, int H) {
#define NARROW(NV, ROWS, r)                                                                     \
    KSFX(step_panel_narrow)(acc + (r) * STEP_W, wp, NV, ROWS, x ? x + (r) * ldx : NULL, ldx,      \
                            h + (r) * ldh, ldh, I, H)
#define NARROW_ROWS(NV)                                                                         \
    do {                                                                                        \
        if (rows == STEP_R)                                                                     \
            NARROW(NV, STEP_R, 0);                                                              \
        else                                                                                    \
            for (int r = 0; r < rows; r++)                                                      \
                NARROW(NV, 1, r);                                                               \
    } while (0)
    switch (W / VL) {
    case 1: NARROW_ROWS(1); break;
    case 2: NARROW_ROWS(2); break;
    default: NARROW_ROWS(3);
    }
#undef NARROW_ROWS
#undef NARROW
}
#undef VL
#elif defined(__AVX2__) && defined(__FMA__) && (defined(__GNUC__) || defined(__clang__))
/* AVX2 (16 vector registers): STEP_R = 4 rows share each load of the panel, two vectors of
 * columns at a time (8 accumulators, 2 weight vectors and a broadcast in registers); a full
 * panel's 8 vectors are 4 such column blocks, each a pass over k, a narrow last panel's fewer
 * (S1's H = 50 in float32: 3 full panels and one of 2 vectors, 1.25 ms to 0.95 ms; now one of
 * one vector, step_panel_nrows_v1). One row at
 * a time, every row streamed the whole panel ((I + H) x 64 floats: 40 KiB at I = 32, H = 128,
 * more than a 32 KiB L1) and its 8 accumulators were one FMA chain each. Each element sums over
 * k in the same order as step_panel (in a panel one vector wide, in two chains: see
 * step_panel_nrows_v1). */
#define STEP_R 4
#define VL LL  /* lanes per vector */

/* acc (R, CV * VL; rows STEP_W apart, from column j) = columns [j, j + CV * VL) of rows r < R of
 * x (I) @ panel rows [0, I) + the same rows of h (H) @ rows [I, I + H); panel W columns wide, in
 * strips of two vectors (panel_at), j a multiple of two vectors. R (at most 6) and CV (vectors of
 * columns, at most 8) are constants at each call: R x CV accumulators in registers. */
LSTMCORE_INLINE void KSFX(panel_cols)(REAL *restrict acc, const REAL *restrict wp, int W, int j,
                                     const REAL *restrict x, ptrdiff_t ldx,
                                     const REAL *restrict h, ptrdiff_t ldh, int I, int H, int sw,
                                     const int R, const int CV) {
    const int step = KSFX(strip_cols)(W, sw);  /* a row of a strip (panel_at) */
    LVEC a[6][8];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < CV; v++)
            a[r][v] = KSFX(lv_splat)(0);
    for (int part = 0; part < 2; part++) {
        const REAL *vec = part ? h : x;
        const ptrdiff_t ld = part ? ldh : ldx;
        const int K = part ? H : I;
        /* from row 0 or I: a pointer per two vectors, which lie in one strip (offsets from one
         * pointer were kept on the stack, a load each per row) */
        const REAL *ws[4];
        for (int s = 0; s < (CV + 1) / 2; s++)
            ws[s] = wp + KSFX(panel_at)((ptrdiff_t)I + H, W, part ? I : 0, j + 2 * s * VL, sw);
        for (int k = 0; k < K; k++) {
            LVEC wv[8];
            for (int v = 0; v < CV; v++)
                wv[v] = KSFX(lv_load)(ws[v / 2] + (v % 2) * VL, VL);
            for (int s = 0; s < (CV + 1) / 2; s++)
                ws[s] += step;
            for (int r = 0; r < R; r++) {
                const LVEC b = KSFX(lv_splat)(vec[r * ld + k]);
                for (int v = 0; v < CV; v++)
                    a[r][v] += b * wv[v];
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < CV; v++)
            KSFX(lv_store)(acc + r * STEP_W + j + v * VL, a[r][v], VL);
}

/* acc (R, cols; rows STEP_W apart) = rows r < R of x (I) @ panel rows [0, I) + the same rows of
 * h (H) @ rows [I, I + H): the first cols of the panel's W columns (W = 4U, U a multiple of
 * STEP_U / 4: a multiple of CV * VL), CV vectors at a time; where a last block of two vectors
 * needs only its first one (the backward's last panel of H = 50 units: 7 vectors of 8), only
 * that one (acc's columns past cols are left as they are). Six rows, two vectors: 12
 * accumulators, 2 weight vectors and a broadcast fill 15 of the 16 registers, each load of the
 * panel serves 6 rows instead of 4 and 12 FMA chains instead of 8 hide the FMA latency with room
 * to spare (S3 inference 1.05-1.07x, S6 1.04-1.06x). Fewer rows take more columns at a time, so
 * that as many chains run side by side (one row: a whole panel's 8). Each element sums over k in
 * one chain, in the order of step_panel: a row sums the same in a block of any R. */
LSTMCORE_INLINE void KSFX(step_panel_nrows_w)(REAL *restrict acc, const REAL *restrict wp, int W,
                                             const REAL *restrict x, ptrdiff_t ldx,
                                             const REAL *restrict h, ptrdiff_t ldh, int I, int H,
                                             int sw, const int R, const int CV, int cols) {
    LC_ASSUME(W % (CV * VL) == 0 && W <= STEP_W && CV % 2 == 0 && PACK_SW == 2 * VL);
    LC_ASSUME(cols >= 1 && cols <= W);
    for (int j = 0; j < cols; j += CV * VL) {
        if (CV == 2 && cols - j <= VL)
            KSFX(panel_cols)(acc, wp, W, j, x, ldx, h, ldh, I, H, sw, R, 1);
        else
            KSFX(panel_cols)(acc, wp, W, j, x, ldx, h, ldh, I, H, sw, R, CV);
    }
}

/* acc (R, VL; rows STEP_W apart) = rows r < R of x (I) @ panel rows [0, I) + the same rows of
 * h (H) @ rows [I, I + H), the panel one vector wide (whole rows, panel_at). Each element sums
 * even k and odd k of each part in two chains, added at the end: 4 rows keep 8 FMA chains side
 * by side, as a block of two vectors does; every R sums a row so (R a constant at each call). */
LSTMCORE_INLINE void KSFX(step_panel_nrows_v1)(REAL *restrict acc, const REAL *restrict wp,
                                              const REAL *restrict x, ptrdiff_t ldx,
                                              const REAL *restrict h, ptrdiff_t ldh, int I, int H,
                                              const int R) {
    LVEC e[STEP_R], o[STEP_R];
    for (int r = 0; r < R; r++)
        e[r] = o[r] = KSFX(lv_splat)(0);
    const REAL *w = wp;
    for (int part = 0; part < 2; part++) {
        const REAL *vec = part ? h : x;
        const ptrdiff_t ld = part ? ldh : ldx;
        const int K = part ? H : I;
        int k = 0;
        for (; k + 1 < K; k += 2, w += 2 * VL) {
            const LVEC w0 = KSFX(lv_load)(w, VL), w1 = KSFX(lv_load)(w + VL, VL);
            for (int r = 0; r < R; r++) {
                e[r] += KSFX(lv_splat)(vec[r * ld + k]) * w0;
                o[r] += KSFX(lv_splat)(vec[r * ld + k + 1]) * w1;
            }
        }
        if (k < K) {
            const LVEC w0 = KSFX(lv_load)(w, VL);
            for (int r = 0; r < R; r++)
                e[r] += KSFX(lv_splat)(vec[r * ld + k]) * w0;
            w += VL;
        }
    }
    for (int r = 0; r < R; r++)
        KSFX(lv_store)(acc + r * STEP_W, e[r] + o[r], VL);
}

/* rows (1 to STEP_R) rows of a panel W wide: the block kernel with its sizes as constants */
LSTMCORE_INLINE void KSFX(step_panel_rows_w)(REAL *restrict acc, const REAL *restrict wp, int W,
                                            const REAL *restrict x, ptrdiff_t ldx,
                                            const REAL *restrict h, ptrdiff_t ldh, int rows,
                                            int I, int H, int sw, int cols) {
#define NROWS(R, CV) KSFX(step_panel_nrows_w)(acc, wp, W, x, ldx, h, ldh, I, H, sw, R, CV, cols)
#define NROWS1(R) KSFX(step_panel_nrows_v1)(acc, wp, x, ldx, h, ldh, I, H, R)
    if (W == VL) {  /* a last panel one vector wide */
        switch (rows) {
        case STEP_R: NROWS1(STEP_R); return;
        case 3: NROWS1(3); return;
        case 2: NROWS1(2); return;
        default: NROWS1(1); return;
        }
    }
#undef NROWS1
    switch (rows) {
    case STEP_R: NROWS(STEP_R, 2); return;
    case 3: NROWS(3, 2); return;
    case 2:
        if (W % (4 * VL) == 0)
            NROWS(2, 4);
        else
            NROWS(2, 2);
        return;
    default:  /* one row: the whole panel at once */
        switch (W / VL) {
        case 8: NROWS(1, 8); return;
        case 6: NROWS(1, 6); return;
        case 4: NROWS(1, 4); return;
        default: NROWS(1, 2); return;
        }
    }
#undef NROWS
}

/* A full panel's six rows, its first cols columns; pf, pf_end: unused (no prefetch on AVX2) */
#define LC_ROWS6 1
LSTMCORE_INLINE void KSFX(step_panel_rows6)(REAL *restrict acc, const REAL *restrict wp,
                                           const REAL *restrict x, ptrdiff_t ldx,
                                           const REAL *restrict h, ptrdiff_t ldh, int I, int H,
                                           const char *pf, const char *pf_end, int sw, int cols) {
    (void)pf;
    (void)pf_end;
    KSFX(step_panel_nrows_w)(acc, wp, STEP_W, x, ldx, h, ldh, I, H, sw, 6, 2, cols);
}

#undef VL
#define LC_STEP_ROWS_ONLY 1  /* every block of rows through step_panel_rows_w */
#else
#define STEP_R 1
#endif

/* acc (rows, W; rows STEP_W apart), rows <= STEP_R: each row of x (I; rows ldx apart, or NULL
 * when I = 0) @ panel rows [0, I) + the same row of h (H; rows ldh apart) @ panel rows [I, I + H);
 * panel rows W wide (STEP_W, or a narrow last panel). AVX2: every block through the
 * register-blocked kernel; AVX-512: a full block of STEP_R rows or 2 rows through it, 3 rows as 2
 * and 1, 1 row alone (so that only a block's last row, of an odd block, runs alone); the generic
 * kernels one row at a time. [pf, pf_end): lines to prefetch into the
 * L2 (the AVX-512 register-blocked kernel only; the others ignore it). sw: the panel's strips
 * (panel_at; AVX2's kernel only, the others read whole rows). */
LSTMCORE_INLINE void KSFX(panel_block)(REAL *restrict acc, const REAL *restrict wp, int W,
                                      const REAL *x, ptrdiff_t ldx, const REAL *h, ptrdiff_t ldh,
                                      int rows, int I, int H, const char *pf,
                                      const char *pf_end, int sw, int cols) {
    (void)pf;
    (void)pf_end;
    (void)sw;
    (void)cols;
#if STEP_R > 1 && defined(LC_STEP_ROWS_ONLY)
    KSFX(step_panel_rows_w)(acc, wp, W, x, ldx, h, ldh, rows, I, H, sw, cols);
#elif STEP_R > 1
    if (W < STEP_W) {
        KSFX(narrow_block)(acc, wp, W, x, ldx, h, ldh, rows, I, H);
        return;
    }
    if (rows == STEP_R) {
        KSFX(step_panel_rows)(acc, wp, x, ldx, h, ldh, I, H, pf, pf_end);
        return;
    }
    if (rows == 2 || rows == 3) {
        KSFX(step_panel_nrows)(acc, wp, x, ldx, h, ldh, I, H, NULL, NULL, 2);
        if (rows == 3)
            KSFX(step_panel_row)(acc + 2 * STEP_W, wp, x ? x + 2 * ldx : NULL, h + 2 * ldh, I, H);
        return;
    }
    for (int i = 0; i < rows; i++)
        KSFX(step_panel_row)(acc + i * STEP_W, wp, x ? x + i * ldx : NULL, h + i * ldh, I, H);
#else
    for (int i = 0; i < rows; i++)
        KSFX(step_panel)(acc + i * STEP_W, wp, W, x ? x + i * ldx : NULL, h + i * ldh, I, H);
#endif
}

/* The gate maths of rows (<= STEP_R) rows of one panel (lstm_cell_impl.h's, all rows at once),
 * from their products z (rows STEP_W apart, panel layout: U units per gate, U = STEP_U or a
 * narrow last panel's). */
LSTMCORE_INLINE void KSFX(step_gates)(REAL *restrict z, int rows, ptrdiff_t H, const REAL *c_prev,
                                     REAL *c, REAL *restrict h, ptrdiff_t ldh,
                                     REAL *restrict gates, ptrdiff_t ldg, const REAL *restrict bp,
                                     int n, int U, int act, int ract) {
    /* c_prev (rows, n) in, c (rows, n) out, rows H apart: may be the same buffer
     * h (rows, n) out, rows ldh apart | bp: the panel's bias
     * gates: the rows' activated gates in [i|f|g|o] layout at the panel's first unit, rows ldg
     * apart, out; or NULL */
    LC_ASSUME(rows >= 1 && rows <= STEP_R && n >= 1 && n <= U && U <= STEP_U);
    /* a full block with its sizes as constants: straight code, no remainder (a row alone with
     * constant sizes was measured too, B 1, H 64 and 128: no faster than PART) */
#define ROWS_OF(opts, R)                                                                        \
    KSFX(lstm_rows_forward)(opts, R, STEP_U, STEP_U, z, STEP_W, NULL, NULL, bp, NULL, c_prev, c,  \
                            H, NULL, h, ldh, gates, ldg, H)
#define FULL(opts) ROWS_OF(opts, STEP_R)
#define ROWS2(opts) ROWS_OF(opts, 2)
#define PART(opts)                                                                              \
    KSFX(lstm_rows_forward)(opts, rows, n, U, z, STEP_W, NULL, NULL, bp, NULL, c_prev, c, H,      \
                            NULL, h, ldh, gates, ldg, H)
    enum { UQ = PANEL_Q1 };  /* the units of a one-vector panel (panel_units) */
    if (STEP_R > 1 && rows == STEP_R && U == UQ && STEP_R * UQ == LL) {
        /* a last panel one vector wide (n <= U = LL / 4 units, panel_units): the rows' units
         * side by side, row r's at [r * U, r * U + U) of each gate block, so that one vector
         * holds every row (AVX2, S1's last 2 units of 32 rows: 8 vectors a step, not 32) */
        REAL zq[4 * LL], bq[4 * LL], cp[LL] = {0}, cn[LL], hn[LL];
        /* U = UQ from here: a constant, every copy a few moves */
        for (int q = 0; q < 4; q++)
            for (int r = 0; r < STEP_R; r++) {
                memcpy(zq + q * LL + r * UQ, z + r * STEP_W + q * UQ, sizeof(REAL) * UQ);
                memcpy(bq + q * LL + r * UQ, bp + q * UQ, sizeof(REAL) * UQ);
            }
        for (int r = 0; r < STEP_R; r++)
            for (int u = 0; u < n; u++)
                cp[r * UQ + u] = c_prev[r * H + u];
#define QUARTER(opts)                                                                           \
    KSFX(lstm_rows_forward)(opts, 1, LL, LL, zq, 0, NULL, NULL, bq, NULL, cp, cn, 0, NULL, hn, 0, \
                            gates ? zq : NULL, 0, LL)
        LSTM_PLAIN_CALL(act, ract, QUARTER);
#undef QUARTER
        for (int r = 0; r < STEP_R; r++)
            for (int u = 0; u < n; u++) {
                c[r * H + u] = cn[r * UQ + u];
                h[r * ldh + u] = hn[r * UQ + u];
                for (int q = 0; gates && q < 4; q++)
                    gates[r * ldg + q * H + u] = zq[q * LL + r * UQ + u];
            }
        return;
    }
    /* a 6-row block's last 2 rows with their count as a constant too: read at run time, the
     * rows' vectors stay in memory and are zeroed at every vector of units (S1 inference, 1
     * thread, AVX2, in turn with the build before: 411-417 -> 393-397 us; S2 14.4-14.7 -> 13.9-14.3
     * ms). Partial blocks of 1 and 3 rows as constants too made the module 3.4 MB larger; their
     * own share could not be told from the noise (a batch of lengths, 1 thread, 4% faster with
     * all three), so only the 2 rows every 6-row block has are. */
    if (rows == STEP_R && n == STEP_U)
        LSTM_PLAIN_CALL(act, ract, FULL);
    else if (STEP_R > 2 && rows == 2 && n == STEP_U)
        LSTM_PLAIN_CALL(act, ract, ROWS2);
    else
        LSTM_PLAIN_CALL(act, ract, PART);
#undef FULL
#undef ROWS2
#undef ROWS_OF
#undef PART
}

/* Bring into the L1, for writing, the lines of rows (rows ldh apart) of h that a block's gate
 * maths will write (n units from h), while its product runs. Forward, each step's h lies just
 * past the last step's, which the block has just read (the L2's stream prefetch brings it); a
 * reverse sequence writes each step below the last, where no prefetcher looks, and every line
 * of h missed: S2 reverse 1.05-1.09x the time of forward on 1 thread, the same as forward on a
 * time-reversed copy of x (only y's order differed); 1.02-1.03x with this prefetch. Forward
 * it only cost time (S1 1.02-1.04x). */
LSTMCORE_INLINE void KSFX(prefetch_rows)(REAL *h, ptrdiff_t ldh, int rows, int n) {
#if defined(__GNUC__) || defined(__clang__)
    for (int r = 0; r < rows; r++) {
        __builtin_prefetch(h + r * ldh, 1, 3);
        __builtin_prefetch(h + r * ldh + n - 1, 1, 3);
    }
#else
    (void)h, (void)ldh, (void)rows, (void)n;
#endif
}

/* Panels [p0, p1) of one packed step: see lstm_step_packed; c_prev and c rows H apart (may be
 * the same buffer), gates (B, G) rows ldg apart or NULL. */
LSTMCORE_INLINE void KSFX(panel_range_impl)(const REAL *wp, const REAL *bp, const REAL *x,
                                            ptrdiff_t ldx, const REAL *h_prev, ptrdiff_t ldhp,
                                            const REAL *c_prev, REAL *c, REAL *h, ptrdiff_t ldh,
                                            REAL *gates, ptrdiff_t ldg, int B, int I, int H,
                                            int act, int ract, int p0, int p1, int prefetch,
                                            int rows6, int sw, const int pf_out) {
    /* prefetch: while a panel runs, its full row blocks bring the panel that runs next (p + 1, or
     * p0 again: the next step's first) into the L2, each block its share of the lines, one line
     * per k (see lstmcore_panel_prefetch).
     * rows6: full panels take blocks of 6 rows while 6 are left (their gate maths as 4 + 2
     * rows), then blocks of STEP_R.
     * sw: the strips of wp's panels (panel_at)
     * pf_out (a constant in each copy): each block first prefetches the lines of h it writes
     * (prefetch_rows; a reverse sequence's steps) */
    const ptrdiff_t K = (ptrdiff_t)I + H;
#ifndef LC_ROWS6
    rows6 = 0;
#endif
    const int six = lstmcore_six_blocks(B, rows6, STEP_R);
    /* the blocks that take a register-blocked kernel */
    const int full_blocks = six + (B - 6 * six) / STEP_R;
    for (int p = p0; p < p1; p++) {
        const int u0 = p * STEP_U, n = H - u0 < STEP_U ? H - u0 : STEP_U;  /* units of this panel */
        const int U = KSFX(panel_units)(H, p);  /* n rounded up: the panel's layout */
        const REAL *wp_p = wp + p * K * STEP_W, *bp_p = bp + p * STEP_W;
        const int next = p + 1 < p1 ? p + 1 : p0;
        const char *pf = (const char *)(wp + next * K * STEP_W), *pf_e;
        ptrdiff_t share;  /* lines per full block */
        const char *pf_end = lstmcore_prefetch_split(
            prefetch && next != p, pf, K * 4 * KSFX(panel_units)(H, next) * (ptrdiff_t)sizeof(REAL),
            full_blocks, K, &share);
        ptrdiff_t r = 0;
        int blk = 0;  /* full blocks so far: the share of the prefetch they take */
#ifdef LC_ROWS6
        for (; U == STEP_U && blk < six; r += 6, blk++) {
            REAL z[6 * STEP_W];
            const char *pf_b = lstmcore_prefetch_block(pf, pf_end, share, blk, &pf_e);
            if (pf_out)
                KSFX(prefetch_rows)(h + r * ldh + u0, ldh, 6, n);
            KSFX(step_panel_rows6)(z, wp_p, x + r * ldx, ldx, h_prev + r * ldhp, ldhp, I, H, pf_b,
                                   pf_e, sw, STEP_W);
            for (int q = 0; q < 6; q += STEP_R) {
                const ptrdiff_t rq = r + q;
                KSFX(step_gates)(z + q * STEP_W, q ? 6 - STEP_R : STEP_R, H, c_prev + rq * H + u0,
                                 c + rq * H + u0, h + rq * ldh + u0, ldh,
                                 gates ? gates + rq * ldg + u0 : NULL, ldg, bp_p, n, U, act,
                                 ract);
            }
        }
#endif
        for (; r < B; r += STEP_R) {
            const int rows = B - r < STEP_R ? (int)(B - r) : STEP_R;
            REAL z[STEP_R * STEP_W];
            const char *pf_b = lstmcore_prefetch_block(pf, pf_end, share, blk, &pf_e);
            blk += rows == STEP_R;
            if (pf_out)
                KSFX(prefetch_rows)(h + r * ldh + u0, ldh, rows, n);
            KSFX(panel_block)(z, wp_p, 4 * U, x + r * ldx, ldx, h_prev + r * ldhp, ldhp, rows, I,
                              H, pf_b, rows == STEP_R ? pf_e : pf_b, sw, 4 * U);
            KSFX(step_gates)(z, rows, H, c_prev + r * H + u0, c + r * H + u0, h + r * ldh + u0,
                             ldh, gates ? gates + r * ldg + u0 : NULL, ldg, bp_p, n, U, act,
                             ract);
        }
    }
}

/* step_panel_range's two copies: forward sequences and single steps (the prefetch compiled out:
 * as a run-time test in one copy it cost S1's training step 3%), and reverse sequences */
#define PANEL_RANGE_PARAMS                                                                      \
    const REAL *wp, const REAL *bp, const REAL *x, ptrdiff_t ldx, const REAL *h_prev,          \
        ptrdiff_t ldhp, const REAL *c_prev, REAL *c, REAL *h, ptrdiff_t ldh, REAL *gates,      \
        ptrdiff_t ldg, int B, int I, int H, int act, int ract, int p0, int p1, int prefetch,   \
        int rows6, int sw
#define PANEL_RANGE_ARGS                                                                        \
    wp, bp, x, ldx, h_prev, ldhp, c_prev, c, h, ldh, gates, ldg, B, I, H, act, ract, p0, p1,  \
        prefetch, rows6, sw
static void KSFX(step_panel_range)(PANEL_RANGE_PARAMS) {
    KSFX(panel_range_impl)(PANEL_RANGE_ARGS, 0);
}
static void KSFX(step_panel_range_rev)(PANEL_RANGE_PARAMS) {
    KSFX(panel_range_impl)(PANEL_RANGE_ARGS, 1);
}
#undef PANEL_RANGE_ARGS
#undef PANEL_RANGE_PARAMS

/* One row's step (a batch of 1: the streaming step, a single sequence) with every panel's
 * products first, into z (4 blocks of H, the bias added), then the gate maths over all H units
 * in one call, rather than a panel's 16 units at a time: a streaming step of H = 64 took 1.59 us
 * against 1.82, one of H = 128 4.7 against 5.3 (AVX2, one thread). The same sums and the same
 * gate maths element by element as the panels' (step_gates): the same results. */
#define STEP_ONE_ROW_MAX 512
static void KSFX(step_one_row)(const REAL *wp, const REAL *bp, const REAL *x, const REAL *h_prev,
                               const REAL *c_prev, REAL *c, REAL *h, REAL *gates, int I, int H,
                               int act, int ract, int sw) {
    /* x (I) | h_prev (H) | c_prev, c (H): may be the same buffer | h (H) out | gates: the
     * activated gates (4H, [i|f|g|o]) out, or NULL */
    const int P = (H + STEP_U - 1) / STEP_U;
    const ptrdiff_t K = (ptrdiff_t)I + H;
    REAL z[4 * STEP_ONE_ROW_MAX];
    for (int p = 0; p < P; p++) {
        const int u0 = p * STEP_U, n = H - u0 < STEP_U ? H - u0 : STEP_U;
        const int U = KSFX(panel_units)(H, p);
        const REAL *bp_p = bp + p * STEP_W;
        REAL acc[STEP_R * STEP_W];
        KSFX(panel_block)(acc, wp + p * K * STEP_W, 4 * U, x, 0, h_prev, 0, 1, I, H, NULL, NULL,
                          sw, 4 * U);
        /* through pointers to each gate's run: with Python's -fwrapv, index sums such as
         * q * H + u0 + j may wrap, and gcc 12 stored them with a vector scatter (6% of S5) */
        for (int q = 0; q < 4; q++) {
            REAL *restrict zq = z + (ptrdiff_t)q * H + u0;
            const REAL *aq = acc + q * U, *bq = bp_p + q * U;
            for (int j = 0; j < n; j++)
                zq[j] = aq[j] + bq[j];
        }
    }
#define ROW(opts)                                                                               \
    KSFX(lstm_rows_forward)(opts, 1, H, H, z, 0, NULL, NULL, NULL, NULL, c_prev, c, H, NULL, h,  \
                            0, gates, 0, H)
    LSTM_PLAIN_CALL(act, ract, ROW);
#undef ROW
}

static void KSFX(lstm_step_packed)(const REAL *wp, const REAL *bp, const REAL *x, ptrdiff_t ldx,
                           const REAL *h_prev, ptrdiff_t ldhp,
                           REAL *c, REAL *h, ptrdiff_t ldh, int B, int I, int H,
                           int act, int ract, const lc_ctx *ctx) {
    const int nthreads = ctx->nthreads;
    /* wp, bp packed | x (B, I) rows ldx apart (unused when I = 0)
     * h_prev (B, H) rows ldhp apart | c (B, H) in: c_prev, out: c, in place
     * h (B, H) rows ldh apart, out: must not overlap h_prev */
    const int P = (H + STEP_U - 1) / STEP_U, sw = KSFX(pack_sw)(ctx);
    const ptrdiff_t K = (ptrdiff_t)I + H;
    const int par = nthreads > 1 && P > 1 && (ptrdiff_t)B * K * H >= 64 * LSTMCORE_PAR_MIN;
    if (B == 1 && !par && H <= STEP_ONE_ROW_MAX) {
        KSFX(step_one_row)(wp, bp, x, h_prev, c, c, h, NULL, I, H, act, ract, sw);
        return;
    }
    LC_FOR(par, nthreads, p, P, 1, {
        KSFX(step_panel_range)(wp, bp, x, ldx, h_prev, ldhp, c, c, h, ldh, NULL, 0, B, I, H, act,
                               ract, (int)p, (int)p + 1, 0, 0, sw);
    });
}

/* A row split's threads start at multiples of this many rows. AVX2's blocks sum each row alike
 * whatever their size (step_panel_nrows_w), so there a thread may start at any even row: two
 * threads split 32 rows 16 + 16 (6 + 6 + 4 each) rather than 18 + 14 (6 + 6 + 6 against
 * 6 + 4 + 4), 64 rows 32 + 32 rather than 30 + 34; and, with rows of several lengths (ragged:
 * nact given), at any row: a row there is worth its steps, up to T of the row-steps the threads
 * share (lstmcore_row_boundary), and an even boundary could miss the middle by a long row's
 * steps. S2 with lengths spread over 1..100: 1559 + 1673 row-steps at even rows, 1631 + 1601 at
 * row 19; each thread's rows timed alone on 1 thread, the slower 4.50-4.67 ms against
 * 4.44-4.46. AVX-512's blocks of 6, 4 and 2 rows sum each row alike too (step_panel_nrows), but
 * not a row alone (step_panel_row), and a range takes a row alone only as its last row, when its
 * length is odd (3 rows left: 2 + 1, panel_block): ranges that start at even rows give each row
 * the block one thread gives it, with lengths or without, so a thread may start at any even row
 * there too (64 rows: 32 + 32, 6 x 5 + 2 each, rather than 30 + 34; with lengths, the even row
 * nearest the middle of the row-steps rather than the nearest multiple of 6). The generic
 * kernels go one row at a time. */
LSTMCORE_INLINE int KSFX(split_unit)(int ragged) {
#ifdef LC_STEP_ROWS_ONLY
    return ragged ? 1 : 2;
#else
    (void)ragged;
    return STEP_R > 1 ? 2 : 1;
#endif
}

/* How lstm_seq_packed runs a batch of B rows (lc_lstm_seq_plan in lstm_gates.h): its row block,
 * its threads, whether they split rows or panels, and whether each prefetches its next panel. */
static lc_seq_plan KSFX(lstm_seq_plan)(const lc_ctx *ctx, int B, int I, int H) {
    const int nthreads = ctx->nthreads;
    const int P = (H + STEP_U - 1) / STEP_U, RB = (B + STEP_R - 1) / STEP_R;  /* row blocks */
    const ptrdiff_t wbytes = P * ((ptrdiff_t)I + H) * STEP_W * (ptrdiff_t)sizeof(REAL);
    lc_seq_plan plan;
    plan.weight_bytes = wbytes;
    plan.strip = KSFX(pack_sw)(ctx);
    /* one row at a time (no register blocks: STEP_R = 1), a thread's rows would each stream all
     * the weights: the panel split keeps its panel in L1 across the rows (AVX2, 2 threads,
     * B = 4-8: rows 0.91-0.96x of panels) */
    plan.split_rows = STEP_R > 1 && lstmcore_row_split(ctx, wbytes, RB, P, nthreads);
    int nt = nthreads < (plan.split_rows ? RB : P) ? nthreads : (plan.split_rows ? RB : P);
    if ((ptrdiff_t)B * ((ptrdiff_t)I + H) * H < LSTMCORE_SEQ_PAR_MIN || nt < 1)
        nt = 1;
#ifndef _OPENMP
    nt = 1;
#endif
    plan.threads = nt;
    if (nt == 1)
        plan.split_rows = 0;
    /* blocks of 6 rows where there are 6 (a thread of a row split takes them in its range) */
#ifdef LC_ROWS6
    plan.row_block = ctx->row_block != 4 && B >= 6 ? 6 : STEP_R;
#else
    plan.row_block = STEP_R;
#endif
    /* the panels a thread streams at each step: all of them, or its share of them */
#ifdef LC_PANEL_PREFETCH
    const ptrdiff_t thread_bytes = plan.split_rows ? wbytes : wbytes / P * ((P + nt - 1) / nt);
    plan.prefetch = lstmcore_panel_prefetch(ctx, thread_bytes);
#else
    plan.prefetch = 0;  /* only the AVX-512 kernel prefetches */
#endif
    return plan;
}

static void KSFX(lstm_seq_packed)(const REAL *wp, const REAL *bp, const REAL *x, ptrdiff_t ldx,
                          ptrdiff_t x_step, const REAL *h0, REAL *y, ptrdiff_t ldy,
                          ptrdiff_t y_step, REAL *c, ptrdiff_t c_step, REAL *gates,
                          ptrdiff_t ldg, ptrdiff_t g_step, int T, int B, const int *nact, int I,
                          int H, int act, int ract, const lc_ctx *ctx) {
    const int nthreads = ctx->nthreads;
    /* T packed steps: step t reads x_t (B, I) at x + t*x_step, rows ldx apart, and h_prev
     * (h0 (B, H), rows H apart, then the h of step t-1) and writes its h (B, H) at
     * y + t*y_step, rows ldy apart.
     * c (B, H): c_step = 0: one buffer, in: c0, out: c_n; else c_prev of step t at c + t*c_step
     * and its c at c + (t+1)*c_step (c + 0 holds c0).
     * gates: NULL, or step t's activated gates (B, G) at gates + t*g_step, rows ldg apart.
     * With several threads (see lstmcore_row_split): either each runs the whole sequence on its own
     * batch rows, with no synchronisation, or each keeps a fixed range of panels (its slice of
     * the weights stays in its own cache) for the whole sequence and the threads meet once per
     * step at a spin barrier: no fork and no sleep between steps.
     * nact (T) or NULL: step t runs its first nact[t] rows only (a sequence plan's rows sorted by
     * length, nact non-increasing); the others' h, c and gates are not written. */
    const int P = (H + STEP_U - 1) / STEP_U;
    const lc_seq_plan plan = KSFX(lstm_seq_plan)(ctx, B, I, H);
    const int rows = plan.split_rows, nt = plan.threads, prefetch = plan.prefetch;
    const int rows6 = plan.row_block == 6, sw = plan.strip;
    (void)nthreads;
    (void)rows;
    (void)nt;  /* unused without OpenMP */
    /* step t of rows [r0, r1), panels [p0, p1); a reverse sequence's copy prefetches the lines
     * of h it writes */
#define RANGE (y_step < 0 ? KSFX(step_panel_range_rev) : KSFX(step_panel_range))
#define STEP(t, r0, r1, p0, p1)                                                                 \
    RANGE(wp, bp, x + (t) * x_step + (r0) * ldx, ldx,                                           \
                           (t) ? y + ((t) - 1) * y_step + (r0) * ldy : h0 + (r0) * H,           \
                           (t) ? ldy : H, c + (t) * c_step + (r0) * H,                          \
                           c + ((t) + (c_step != 0)) * c_step + (r0) * H,                       \
                           y + (t) * y_step + (r0) * ldy, ldy,                                  \
                           gates ? gates + (t) * g_step + (r0) * ldg : NULL, ldg, (r1) - (r0),  \
                           I, H, act, ract, p0, p1, prefetch, rows6, sw)
#define RUNS(t) (nact ? nact[t] : B)  /* rows of step t */
#ifdef _OPENMP
    if (nt > 1 && rows) {
#pragma omp parallel num_threads(nt)
        LC_SHARE_STEPS(B, T, nact, KSFX(split_unit)(nact != NULL), t, r0, re,
                       STEP(t, r0, re, 0, P););
        return;
    }
    if (nt > 1) {
        lstmcore_barrier bar = {0, 0};  /* arrivals counted over all steps */
#pragma omp parallel num_threads(nt)
        {
            const int n = omp_get_num_threads(), k = omp_get_thread_num();
            const int p0 = (int)((long long)k * P / n), p1 = (int)((long long)(k + 1) * P / n);
            for (int t = 0; t < T; t++) {
                STEP(t, 0, RUNS(t), p0, p1);
                /* step t's h is complete (and visible) when all n have arrived */
                lstmcore_barrier_arrive(&bar);
                lstmcore_barrier_wait(&bar, (t + 1) * n);
            }
        }
        return;
    }
#endif
    if (B == 1 && H <= STEP_ONE_ROW_MAX) {  /* one row: step_one_row's gate maths */
        for (int t = 0; t < T && RUNS(t); t++)
            KSFX(step_one_row)(wp, bp, x + t * x_step, t ? y + (t - 1) * y_step : h0,
                               c + t * c_step, c + (t + (c_step != 0)) * c_step, y + t * y_step,
                               gates ? gates + t * g_step : NULL, I, H, act, ract, sw);
        return;
    }
    for (int t = 0; t < T; t++)
        STEP(t, 0, RUNS(t), 0, P);
#undef RUNS
#undef STEP
#undef RANGE
}

/* lstm_seq_packed over a sequence plan's rows (lengths, lstmcore.engine._sequence), reading the
 * caller's x and writing the caller's y directly: each step gathers its running rows of x into
 * xs and writes its h into a ring of two steps, from which the rows stream to y while they are
 * in the cache; rows past their length output 0. No copy of x or y in the plan's order and no
 * pass over them before or after (S2 inference, lengths spread over 1..T, 1 thread, timed
 * between other libraries' calls: 5.4 -> 4.7 ms with lstm_forward's compiled plan; with plain
 * stores into y instead of streaming ones, no faster than the passes).
 * x (caller's rows, T steps x_step apart, rows ldx apart) | h0 (B, H), c (B, H): in the plan's
 * order, c in c0, out each row's c at its last step | y (caller's rows, steps y_step apart,
 * rows ldy apart) out | perm (B): plan row r is the caller's row perm[r] | lens (B): plan row
 * r's steps, non-increasing, nact (T) the rows of each step (nact[t] = #{r: lens[r] > t}) |
 * reverse: step s of row r reads and writes time lens[r] - 1 - s, else s | work: 2 B H + 2 B I
 * elements (the ring of h, two steps of x). Threads as lstm_seq_packed; with the panel split,
 * each thread copies its share of the rows, x one step ahead and h one step behind. */
static void KSFX(lstm_seq_packed_rows)(const REAL *wp, const REAL *bp, const REAL *x,
                                       ptrdiff_t ldx, ptrdiff_t x_step, const REAL *h0, REAL *y,
                                       ptrdiff_t ldy, ptrdiff_t y_step, REAL *c, REAL *work,
                                       int T, int B, const int *nact, const int *perm,
                                       const int *lens, int reverse, int I, int H, int act,
                                       int ract, const lc_ctx *ctx) {
    const int P = (H + STEP_U - 1) / STEP_U;
    const lc_seq_plan plan = KSFX(lstm_seq_plan)(ctx, B, I, H);
    const int rows = plan.split_rows, nt = plan.threads, prefetch = plan.prefetch;
    const int rows6 = plan.row_block == 6, sw = plan.strip;
    const ptrdiff_t BH = (ptrdiff_t)B * H, BI = (ptrdiff_t)B * I;
    REAL *ring = work, *xs = work + 2 * BH;
    (void)rows;
    (void)nt;  /* unused without OpenMP */
    /* step s's x of rows [a, b) into slot q of xs */
#define GATHER(s, q, a, b)                                                                      \
    KSFX(rows_gather)(x, ldx, x_step, I, perm, lens, reverse, s, a, b,                          \
                      xs + (q) * BI + (ptrdiff_t)(a) * I)
    /* step s's h of rows [a, b) into y */
#define SCATTER(s, a, b)                                                                        \
    KSFX(rows_scatter)(ring + ((s) & 1) * BH + (ptrdiff_t)(a) * H, H, y, ldy, y_step, H, perm,  \
                       lens, reverse, s, a, b)
    /* thread k of n's share of the outputs past the rows' lengths: 0 */
#define PADDING(k, n) KSFX(plan_padding)(y, ldy, y_step, T, B, H, perm, lens, k, n)
    /* step s of rows [r0, r1), panels [p0, p1), x from slot q */
#define STEP(s, r0, r1, p0, p1, q)                                                              \
    KSFX(step_panel_range)(wp, bp, xs + (q) * BI + (ptrdiff_t)(r0) * I, I,                      \
                           ((s) ? ring + (((s) - 1) & 1) * BH : h0) + (ptrdiff_t)(r0) * H, H,   \
                           c + (ptrdiff_t)(r0) * H, c + (ptrdiff_t)(r0) * H,                    \
                           ring + ((s) & 1) * BH + (ptrdiff_t)(r0) * H, H, NULL, 0, (r1) - (r0), \
                           I, H, act, ract, p0, p1, prefetch, rows6, sw)
#ifdef _OPENMP
    if (nt > 1 && rows) {
#pragma omp parallel num_threads(nt)
        {
            LC_SHARE_STEPS(B, T, nact, KSFX(split_unit)(1), t, r0, re, {
                GATHER(t, 0, r0, re);
                STEP(t, r0, re, 0, P, 0);
                SCATTER(t, r0, re);
            });
            /* the padding in pieces, each to the first thread done (cells.h's LC_PAD_PIECES) */
#pragma omp for schedule(dynamic, 1) nowait
            for (int q = 0; q < LC_PAD_PIECES; q++)
                PADDING(q, LC_PAD_PIECES);
        }
        return;
    }
    if (nt > 1) {
        lstmcore_barrier bar = {0, 0};  /* arrivals counted over all steps */
#pragma omp parallel num_threads(nt)
        {
            const int n = omp_get_num_threads(), k = omp_get_thread_num();
            const int p0 = (int)((long long)k * P / n), p1 = (int)((long long)(k + 1) * P / n);
            const int q0 = (int)((long long)k * B / n), q1 = (int)((long long)(k + 1) * B / n);
#define SHARE(s) (q1 < nact[s] ? q1 : nact[s])  /* the end of this thread's copies at step s */
            GATHER(0, 0, q0, SHARE(0));
            lstmcore_barrier_arrive(&bar);
            lstmcore_barrier_wait(&bar, n);
            for (int t = 0; t < T; t++) {
                STEP(t, 0, nact[t], p0, p1, t & 1);
                /* step t-1's h is complete (barrier t-1) and kept until step t+1; slot (t+1) & 1
                 * of x was read at step t-1 */
                if (t > 0)
                    SCATTER(t - 1, q0, SHARE(t - 1));
                if (t + 1 < T)
                    GATHER(t + 1, (t + 1) & 1, q0, SHARE(t + 1));
                lstmcore_barrier_arrive(&bar);
                lstmcore_barrier_wait(&bar, (t + 2) * n);
            }
            SCATTER(T - 1, q0, SHARE(T - 1));
            PADDING(k, n);
#undef SHARE
        }
        return;
    }
#endif
    for (int t = 0; t < T && nact[t] > 0; t++) {
        GATHER(t, 0, 0, nact[t]);
        STEP(t, 0, nact[t], 0, P, 0);
        SCATTER(t, 0, nact[t]);
    }
    PADDING(0, 1);
#undef STEP
#undef PADDING
#undef SCATTER
#undef GATHER
}
