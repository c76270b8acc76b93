/* Body of lstm_gates.c for one precision: included once with REAL = float, once with double.
 * Not a standalone header. Needs REAL and SFX(name); activations.h already included.
 */

void SFX(lstm_gates_forward)(REAL *z, ptrdiff_t ldz, REAL *c, REAL *h, ptrdiff_t ldh,
                             const REAL *c_prev, const REAL *b,
                             int B, int H, int act, int ract, int nthreads) {
    /* z (B, G) rows ldz apart | c, c_prev (B, H) | h (B, H) rows ldh apart | b (G) */
    (void)nthreads;
#ifdef _OPENMP
#pragma omp parallel for collapse(2) schedule(static) num_threads(nthreads) if (nthreads > 1 && (ptrdiff_t)B * H >= LSTMCORE_PAR_MIN)
#endif
    for (ptrdiff_t r = 0; r < B; r++)
    for (ptrdiff_t j = 0; j < H; j++) {
        const ptrdiff_t u = r * H + j;          /* unit j of row r */
        REAL *z_r = z + r * ldz;                /* z[r, :] */
        const REAL i = SFX(ract)(ract, z_r[j] + b[j]);              /* 1. gates */
        const REAL f = SFX(ract)(ract, z_r[H + j] + b[H + j]);
        const REAL g = SFX(act)(act, z_r[2 * H + j] + b[2 * H + j]);
        const REAL o = SFX(ract)(ract, z_r[3 * H + j] + b[3 * H + j]);
        const REAL c_new = f * c_prev[u] + i * g;                  /* 2. cell */
        c[u] = c_new;
        h[r * ldh + j] = o * SFX(act)(act, c_new);                 /* 3. hidden */
        z_r[j] = i;
        z_r[H + j] = f;
        z_r[2 * H + j] = g;
        z_r[3 * H + j] = o;
    }
}

void SFX(lstm_gates_backward)(REAL *dz, REAL *dc, const REAL *dh, const REAL *dy, ptrdiff_t lddy,
                              const REAL *gates, const REAL *c_prev, const REAL *c,
                              int B, int H, int act, int ract, int nthreads) {
    /* dz, gates (B, G) | dc, dh, c_prev, c (B, H) | dy (B, H) rows lddy apart, or NULL */
    (void)nthreads;
#ifdef _OPENMP
#pragma omp parallel for collapse(2) schedule(static) num_threads(nthreads) if (nthreads > 1 && (ptrdiff_t)B * H >= LSTMCORE_PAR_MIN)
#endif
    for (ptrdiff_t r = 0; r < B; r++)
    for (ptrdiff_t j = 0; j < H; j++) {
        const ptrdiff_t u = r * H + j;          /* unit j of row r */
        const REAL *g_r = gates + r * 4 * (ptrdiff_t)H;  /* gates[r, :] */
        REAL *dz_r = dz + r * 4 * (ptrdiff_t)H;          /* dz[r, :] */
        const REAL i = g_r[j], f = g_r[H + j], g = g_r[2 * H + j], o = g_r[3 * H + j];
        const REAL dh_u = dy ? dh[u] + dy[r * lddy + j] : dh[u];
        const REAL phi_c = SFX(act)(act, c[u]);  /* recomputed, not cached */
        const REAL d_o = dh_u * phi_c;                              /* 3b. h = o * phi(c) */
        const REAL dc_u = dc[u] + dh_u * o * SFX(dact)(act, phi_c);
        const REAL d_i = dc_u * g;                                  /* 2b. c = f * c_prev + i * g */
        const REAL d_g = dc_u * i;
        const REAL d_f = dc_u * c_prev[u];
        dc[u] = dc_u * f;
        dz_r[j] = d_i * SFX(dract)(ract, i);                        /* 1b. gates */
        dz_r[H + j] = d_f * SFX(dract)(ract, f);
        dz_r[2 * H + j] = d_g * SFX(dact)(act, g);
        dz_r[3 * H + j] = d_o * SFX(dract)(ract, o);
    }
}

void SFX(sum_rows)(REAL *out, const REAL *a, ptrdiff_t R, int G, int nthreads) {
    /* out (G) += a (R, G) summed over rows; each thread owns a block of columns. */
    (void)nthreads;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && R * G >= 16 * LSTMCORE_PAR_MIN)
#endif
    for (int j0 = 0; j0 < G; j0 += 64) {
        const int j1 = j0 + 64 < G ? j0 + 64 : G;
        for (ptrdiff_t r = 0; r < R; r++) {
            const REAL *a_r = a + r * G;  /* a[r, :] */
            for (int j = j0; j < j1; j++)
                out[j] += a_r[j];
        }
    }
}
