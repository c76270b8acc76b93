/* Body of lstm_gates.c for one precision and one instruction set: included with REAL = float and
 * double, each compiled for the baseline target and for AVX2+FMA. Not a standalone header.
 * Needs REAL, SFX(name) (precision suffix) and KSFX(name) (precision and instruction-set suffix);
 * activations.h already included.
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
                                       const REAL *restrict c_r, ptrdiff_t H,
                                       int act, int ract, int has_dy) {
    for (ptrdiff_t j = 0; j < H; j++) {
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

void KSFX(lstm_gates_forward)(REAL *z, ptrdiff_t ldz, REAL *c, REAL *h, ptrdiff_t ldh,
                             const REAL *c_prev, const REAL *b,
                             int B, int H, int act, int ract, int nthreads) {
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

void KSFX(lstm_gates_backward)(REAL *dz, REAL *dc, const REAL *dh, const REAL *dy, ptrdiff_t lddy,
                              const REAL *gates, const REAL *c_prev, const REAL *c,
                              int B, int H, int act, int ract, int nthreads) {
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
                                          c + rh, H, A, R, 1)                                  \
                      : KSFX(backward_row)(dz_r, dc_r, dh + rh, dy_r, gates + rg, c_prev + rh, \
                                          c + rh, H, A, R, 0))
        LSTMCORE_DISPATCH(act, ract, ROW);
#undef ROW
    }
}

void KSFX(sum_rows)(REAL *out, const REAL *a, ptrdiff_t R, int G, int nthreads) {
    /* out (G) += a (R, G) summed over rows; each thread owns a block of columns. */
    (void)nthreads;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(nthreads) \
    if (nthreads > 1 && R * G >= 16 * LSTMCORE_PAR_MIN)
#endif
    for (int j0 = 0; j0 < G; j0 += 256) {
        const int j1 = j0 + 256 < G ? j0 + 256 : G;
        for (ptrdiff_t r = 0; r < R; r++) {
            const REAL *a_r = a + r * G;  /* a[r, :] */
            for (int j = j0; j < j1; j++)
                out[j] += a_r[j];
        }
    }
}

/* The streaming step with packed weights (lstm_step_pack / lstm_step_packed in lstm_gates.h).
 * A panel holds the 4 gate columns of LSTMCORE_STEP_U(REAL) consecutive units, so that one pass
 * over a panel gives every pre-activation of those units and their gate maths follow at once,
 * while the panel's accumulators are still in registers. */
#define STEP_U (LSTMCORE_STEP_U(REAL))
#define STEP_W (4 * STEP_U)

void KSFX(lstm_step_pack)(const REAL *w_x, const REAL *w_h, const REAL *b, int I, int H,
                         REAL *wp, REAL *bp) {
    /* w_x (I, G) (unused when I = 0) | w_h (H, G) | b (G) -> wp (P, I + H, 4U) | bp (P, 4U);
     * P = ceil(H / U) panels, units past H padded with zeros */
    const ptrdiff_t G = 4 * (ptrdiff_t)H, K = (ptrdiff_t)I + H;
    const int P = (H + STEP_U - 1) / STEP_U;
    for (int p = 0; p < P; p++) {
        for (ptrdiff_t k = 0; k < K; k++) {
            const REAL *w_k = k < I ? w_x + k * G : w_h + (k - I) * G;  /* row k of [w_x; w_h] */
            REAL *dst = wp + ((ptrdiff_t)p * K + k) * STEP_W;
            for (int q = 0; q < 4; q++)
                for (int u = 0; u < STEP_U; u++) {
                    const int unit = p * STEP_U + u;
                    dst[q * STEP_U + u] = unit < H ? w_k[q * (ptrdiff_t)H + unit] : (REAL)0;
                }
        }
        for (int q = 0; q < 4; q++)
            for (int u = 0; u < STEP_U; u++) {
                const int unit = p * STEP_U + u;
                bp[p * STEP_W + q * STEP_U + u] = unit < H ? b[q * (ptrdiff_t)H + unit] : (REAL)0;
            }
    }
}

/* acc (4U) = x (I) @ panel rows [0, I) + h (H) @ panel rows [I, I + H) */
LSTMCORE_INLINE void KSFX(step_panel)(REAL *restrict acc, const REAL *restrict wp,
                                     const REAL *restrict x, const REAL *restrict h, int I, int H) {
    REAL a[STEP_W];
    for (int j = 0; j < STEP_W; j++)
        a[j] = 0;
    for (int k = 0; k < I; k++) {
        const REAL xk = x[k];
        const REAL *w = wp + (ptrdiff_t)k * STEP_W;
        for (int j = 0; j < STEP_W; j++)
            a[j] += xk * w[j];
    }
    wp += (ptrdiff_t)I * STEP_W;
    for (int k = 0; k < H; k++) {
        const REAL hk = h[k];
        const REAL *w = wp + (ptrdiff_t)k * STEP_W;
        for (int j = 0; j < STEP_W; j++)
            a[j] += hk * w[j];
    }
    for (int j = 0; j < STEP_W; j++)
        acc[j] = a[j];
}

void KSFX(lstm_step_packed)(const REAL *wp, const REAL *bp, const REAL *x, ptrdiff_t ldx,
                           const REAL *zx, ptrdiff_t ldzx, const REAL *h_prev, ptrdiff_t ldhp,
                           REAL *c, REAL *h, ptrdiff_t ldh, int B, int I, int H,
                           int act, int ract, int nthreads) {
    /* wp, bp packed | x (B, I) rows ldx apart (unused when I = 0)
     * zx (B, G) rows ldzx apart: pre-activations already computed (x @ w_x), added; or NULL
     * h_prev (B, H) rows ldhp apart | c (B, H) in: c_prev, out: c, in place
     * h (B, H) rows ldh apart, out: must not overlap h_prev */
    const int P = (H + STEP_U - 1) / STEP_U;
    const ptrdiff_t K = (ptrdiff_t)I + H;
    (void)nthreads;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(nthreads) \
    if (nthreads > 1 && P > 1 && (ptrdiff_t)B * K * H >= 64 * LSTMCORE_PAR_MIN)
#endif
    for (int p = 0; p < P; p++) {
        const int u0 = p * STEP_U, n = H - u0 < STEP_U ? H - u0 : STEP_U;  /* units of this panel */
        for (ptrdiff_t r = 0; r < B; r++) {
            REAL z[STEP_W], cp[STEP_U], cn[STEP_U], hn[STEP_U];
            KSFX(step_panel)(z, wp + p * K * STEP_W, x + r * ldx, h_prev + r * ldhp, I, H);
            if (zx)
                for (int q = 0; q < 4; q++)
                    for (int u = 0; u < n; u++)
                        z[q * STEP_U + u] += zx[r * ldzx + q * (ptrdiff_t)H + u0 + u];
            for (int u = 0; u < STEP_U; u++)
                cp[u] = u < n ? c[r * H + u0 + u] : (REAL)0;
#define ROW(A, R) KSFX(forward_row)(z, cn, hn, cp, bp + p * STEP_W, STEP_U, A, R)
            LSTMCORE_DISPATCH(act, ract, ROW);
#undef ROW
            for (int u = 0; u < n; u++) {
                c[r * H + u0 + u] = cn[u];
                h[r * ldh + u0 + u] = hn[u];
            }
        }
    }
}

#undef STEP_W
#undef STEP_U
