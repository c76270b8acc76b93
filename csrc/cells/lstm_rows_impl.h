/* The plain LSTM's gate maths row by row (lstm_gates_forward / lstm_gates_backward of
 * lstm_gates.h) and the bias gradient's row sums: part of lstm_gates.c's body (lstm_gates_impl.h).
 *
 * Each row is done by straight loops over its units, which the compiler vectorizes; act and
 * ract reach the row functions as constants (see DISPATCH), so the activation switches fold.
 */

/* One row of the forward. z_r (G): in pre-activations, out gates | c_r, cp_r, h_r (H) */
LSTMCORE_INLINE void KSFX(forward_row)(REAL *restrict z_r, REAL *restrict c_r,
                                      REAL *restrict h_r, const REAL *restrict cp_r,
                                      const REAL *restrict b, ptrdiff_t H, int act, int ract) {
    for (ptrdiff_t j = 0; j < 2 * H; j++)                       /* 1. gates i, f */
        z_r[j] = SFX(ract)(ract, z_r[j] + b[j]);
    for (ptrdiff_t j = 2 * H; j < 3 * H; j++)                   /*    gate g */
        z_r[j] = SFX(act)(act, z_r[j] + b[j]);
    for (ptrdiff_t j = 3 * H; j < 4 * H; j++)                   /*    gate o */
        z_r[j] = SFX(ract)(ract, z_r[j] + b[j]);
    for (ptrdiff_t j = 0; j < H; j++) {
        const REAL c = z_r[H + j] * cp_r[j] + z_r[j] * z_r[2 * H + j];   /* 2. c = f*c_prev + i*g */
        c_r[j] = c;
        h_r[j] = z_r[3 * H + j] * SFX(act)(act, c);                     /* 3. h = o * phi(c) */
    }
}

/* One row of the backward. dz_r, g_r (G) | dc_r in/out, dh_r, dy_r, cp_r, c_r (H) */
LSTMCORE_INLINE void KSFX(backward_row)(REAL *restrict dz_r, REAL *restrict dc_r,
                                       const REAL *restrict dh_r, const REAL *restrict dy_r,
                                       const REAL *restrict g_r, const REAL *restrict cp_r,
                                       const REAL *restrict c_r, ptrdiff_t n, ptrdiff_t H,
                                       int act, int ract, int has_dy) {
    /* n units from the row's first; gate blocks H apart in dz_r and g_r */
    for (ptrdiff_t j = 0; j < n; j++) {
        const REAL i = g_r[j], f = g_r[H + j], g = g_r[2 * H + j], o = g_r[3 * H + j];
        const REAL dh = has_dy ? dh_r[j] + dy_r[j] : dh_r[j];
        const REAL phi_c = SFX(act)(act, c_r[j]);                 /* recomputed, not cached */
        const REAL d_o = dh * phi_c;                              /* 3b. h = o * phi(c) */
        const REAL dc = dc_r[j] + dh * o * SFX(dact)(act, phi_c);
        const REAL d_i = dc * g;                                  /* 2b. c = f*c_prev + i*g */
        const REAL d_g = dc * i;
        const REAL d_f = dc * cp_r[j];
        dc_r[j] = dc * f;
        dz_r[j] = d_i * SFX(dract)(ract, i);                      /* 1b. gates */
        dz_r[H + j] = d_f * SFX(dract)(ract, f);
        dz_r[2 * H + j] = d_g * SFX(dact)(act, g);
        dz_r[3 * H + j] = d_o * SFX(dract)(ract, o);
    }
}

static void KSFX(lstm_gates_forward)(REAL *z, ptrdiff_t ldz, REAL *c, REAL *h, ptrdiff_t ldh,
                             const REAL *c_prev, const REAL *b,
                             int B, int H, int act, int ract, const lc_ctx *ctx) {
    const int nthreads = ctx->nthreads;
    /* z (B, G) rows ldz apart | c, c_prev (B, H) | h (B, H) rows ldh apart | b (G) */
    (void)nthreads;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(nthreads) \
    if (nthreads > 1 && B > 1 && (ptrdiff_t)B * H >= LSTMCORE_PAR_MIN)
#endif
    for (ptrdiff_t r = 0; r < B; r++) {
        REAL *z_r = z + r * ldz;                     /* z[r, :] */
        REAL *c_r = c + r * H;                       /* c[r, :] */
        REAL *h_r = h + r * ldh;                     /* h[r, :] */
        const REAL *cp_r = c_prev + r * H;           /* c_prev[r, :] */
#define ROW(A, R) KSFX(forward_row)(z_r, c_r, h_r, cp_r, b, H, A, R)
        LSTMCORE_DISPATCH(act, ract, ROW);
#undef ROW
    }
}

static void KSFX(lstm_gates_backward)(REAL *dz, REAL *dc, const REAL *dh, const REAL *dy,
                                      ptrdiff_t lddy,
                              const REAL *gates, const REAL *c_prev, const REAL *c,
                              int B, int H, int act, int ract, const lc_ctx *ctx) {
    const int nthreads = ctx->nthreads;
    /* dz, gates (B, G) | dc, dh, c_prev, c (B, H) | dy (B, H) rows lddy apart, or NULL */
    (void)nthreads;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(nthreads) \
    if (nthreads > 1 && B > 1 && (ptrdiff_t)B * H >= LSTMCORE_PAR_MIN)
#endif
    for (ptrdiff_t r = 0; r < B; r++) {
        const ptrdiff_t rg = r * 4 * (ptrdiff_t)H, rh = r * (ptrdiff_t)H;
        REAL *dz_r = dz + rg;                        /* dz[r, :] */
        REAL *dc_r = dc + rh;                        /* dc[r, :] */
        const REAL *dy_r = dy ? dy + r * lddy : dy;  /* dy[r, :] */
#define ROW(A, R) (dy ? KSFX(backward_row)(dz_r, dc_r, dh + rh, dy_r, gates + rg, c_prev + rh, \
                                          c + rh, H, H, A, R, 1)                               \
                      : KSFX(backward_row)(dz_r, dc_r, dh + rh, dy_r, gates + rg, c_prev + rh, \
                                          c + rh, H, H, A, R, 0))
        LSTMCORE_DISPATCH(act, ract, ROW);
#undef ROW
    }
}

static void KSFX(sum_rows)(REAL *out, const REAL *a, ptrdiff_t R, int G, const lc_ctx *ctx) {
    const int nthreads = ctx->nthreads;
    /* out (G) += a (R, G) summed over rows; each thread owns a block of columns. */
    (void)nthreads;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(nthreads) \
    if (nthreads > 1 && R * G >= 16 * LSTMCORE_PAR_MIN)
#endif
    for (int j0 = 0; j0 < G; j0 += 256) {
        const int n = G - j0 < 256 ? G - j0 : 256;
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
    }
}
