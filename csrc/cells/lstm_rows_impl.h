/* The plain LSTM's row loops after a BLAS product (lstm_gates_forward / lstm_gates_backward of
 * lstm_gates.h: the gate maths of cells/lstm_cell_impl.h over rows) and the bias gradient's row
 * sums: part of lstm_gates.c's body (lstm_gates_impl.h). */

static void KSFX(lstm_gates_forward)(REAL *z, ptrdiff_t ldz, REAL *c, REAL *h, ptrdiff_t ldh,
                                     const REAL *c_prev, const REAL *b, int B, int H, int act,
                                     int ract, const lc_ctx *ctx) {
    const int nthreads = ctx->nthreads;
    /* z (B, G) rows ldz apart: in the products, out the activated gates | c, c_prev (B, H)
     * h (B, H) rows ldh apart | b (G) */
    const int par = nthreads > 1 && B > 1 && (ptrdiff_t)B * H >= LSTMCORE_PAR_MIN;
#define ROW(opts)                                                                               \
    KSFX(lstm_rows_forward)(opts, 1, H, H, z + r * ldz, ldz, NULL, NULL, b, NULL, c_prev + r * H, \
                            c + r * H, H, NULL, h + r * ldh, ldh, z + r * ldz, ldz, H)
    LC_FOR(par, nthreads, r, B, 1, { LSTM_PLAIN_CALL(act, ract, ROW); });
#undef ROW
}

static void KSFX(lstm_gates_backward)(REAL *dz, REAL *dc, const REAL *dh, const REAL *dy,
                                      ptrdiff_t lddy, const REAL *gates, const REAL *c_prev,
                                      const REAL *c, int B, int H, int act, int ract,
                                      const lc_ctx *ctx) {
    const int nthreads = ctx->nthreads;
    /* dz, gates (B, G) | dc, dh, c_prev, c (B, H) | dy (B, H) rows lddy apart, or NULL */
    const int par = nthreads > 1 && B > 1 && (ptrdiff_t)B * H >= LSTMCORE_PAR_MIN;
#define ROW(opts)                                                                               \
    KSFX(lstm_row_backward)(opts, H, H, dh + rh, dy ? dy + r * lddy : NULL, dc + rh, gates + rg, \
                            NULL, NULL, c_prev + rh, c + rh, NULL, dz + rg)
    LC_FOR(par, nthreads, r, B, 1, {
        const ptrdiff_t rg = r * 4 * (ptrdiff_t)H, rh = r * (ptrdiff_t)H;
        LSTM_PLAIN_CALL(act, ract, ROW);
    });
#undef ROW
}

static void KSFX(sum_rows)(REAL *out, const REAL *a, ptrdiff_t R, int G, const lc_ctx *ctx) {
    const int nthreads = ctx->nthreads;
    /* out (G) += a (R, G) summed over rows; each thread owns a block of columns. */
    LC_FOR(nthreads > 1 && R * G >= 16 * LSTMCORE_PAR_MIN, nthreads, j0, G, 256, {
        const int n = G - j0 < 256 ? (int)(G - j0) : 256;
        REAL acc[256];  /* a local block: no aliasing with a to check, row after row */
        for (int j = 0; j < n; j++)
            acc[j] = 0;
        for (ptrdiff_t r = 0; r < R; r++) {
            const REAL *restrict a_r = a + r * G + j0;  /* a[r, j0:j0+n] */
            for (int j = 0; j < n; j++)
                acc[j] += a_r[j];
        }
        for (int j = 0; j < n; j++)
            out[j0 + j] += acc[j];
    });
}
