/* Body of cells.c for one precision and one instruction set (see lstm_gates_isas.h): needs REAL,
 * SFX(name), KSFX(name) and activations.h. Not a standalone header.
 *
 * Every cell's row maths is a few straight passes over the row's units: elementwise loops, and
 * KSFX(span_act) / KSFX(span_dact), whose switch on the activation sits outside the loop, so
 * that each pass vectorizes for the instruction set this copy is compiled for.
 */

/* v (n) = act(v), in place. */
LSTMCORE_INLINE void KSFX(span_act)(lc_act a, REAL *restrict v, ptrdiff_t n) {
    const REAL al = (REAL)a.alpha, be = (REAL)a.beta;
    ptrdiff_t j;
    switch (a.code) {
    case LC_RELU:
        for (j = 0; j < n; j++) v[j] = v[j] < 0 ? (REAL)0 : v[j];  /* NaN stays NaN */
        break;
    case LC_SIGMOID:
        for (j = 0; j < n; j++) v[j] = SFX(sigmoid)(v[j]);
        break;
    case LC_LINEAR:
        break;
    case LC_HARD_SIGMOID:
        for (j = 0; j < n; j++) {
            REAL y = al * v[j] + be;
            y = y < 0 ? (REAL)0 : y;
            v[j] = y > 1 ? (REAL)1 : y;
        }
        break;
    case LC_LEAKY_RELU:
        for (j = 0; j < n; j++) v[j] = v[j] < 0 ? al * v[j] : v[j];
        break;
    case LC_THRESHOLDED_RELU:
        for (j = 0; j < n; j++) v[j] = v[j] <= al ? (REAL)0 : v[j];  /* NaN stays NaN */
        break;
    case LC_SCALED_TANH:
        for (j = 0; j < n; j++) v[j] = al * SFX(lstmcore_tanh)(be * v[j]);
        break;
    case LC_AFFINE:
        for (j = 0; j < n; j++) v[j] = al * v[j] + be;
        break;
    case LC_ELU:
        for (j = 0; j < n; j++)
            v[j] = v[j] > 0 ? v[j] : al * (SFX(lstmcore_exp)(v[j]) - (REAL)1);
        break;
    case LC_SOFTSIGN:
        for (j = 0; j < n; j++) v[j] = v[j] / ((REAL)1 + (v[j] < 0 ? -v[j] : v[j]));
        break;
    case LC_SOFTPLUS:  /* max(x, 0) + log1p(exp(-|x|)): no overflow in either sign */
        for (j = 0; j < n; j++) {
            const REAL x = v[j], ax = x < 0 ? -x : x;
            v[j] = (x > 0 ? x : (REAL)0) + (REAL)log1p((double)SFX(lstmcore_exp)(-ax));
        }
        break;
    default:  /* LC_TANH */
        for (j = 0; j < n; j++) v[j] = SFX(lstmcore_tanh)(v[j]);
    }
}

/* d (n) *= act'(x), written from y (n) = act(x). */
LSTMCORE_INLINE void KSFX(span_dact)(lc_act a, const REAL *restrict y, REAL *restrict d,
                                     ptrdiff_t n) {
    const REAL al = (REAL)a.alpha, be = (REAL)a.beta;
    ptrdiff_t j;
    switch (a.code) {
    case LC_RELU:
        for (j = 0; j < n; j++) d[j] = y[j] > 0 ? d[j] : (REAL)0;
        break;
    case LC_SIGMOID:
        for (j = 0; j < n; j++) d[j] *= y[j] * ((REAL)1 - y[j]);
        break;
    case LC_LINEAR:
        break;
    case LC_HARD_SIGMOID:
        for (j = 0; j < n; j++) d[j] = (y[j] > 0 && y[j] < 1) ? d[j] * al : (REAL)0;
        break;
    case LC_LEAKY_RELU:
        for (j = 0; j < n; j++) d[j] = y[j] > 0 ? d[j] : d[j] * al;
        break;
    case LC_THRESHOLDED_RELU:
        for (j = 0; j < n; j++) d[j] = y[j] != 0 ? d[j] : (REAL)0;
        break;
    case LC_SCALED_TANH:
        for (j = 0; j < n; j++) d[j] *= be * (al - y[j] * y[j] / al);
        break;
    case LC_AFFINE:
        for (j = 0; j < n; j++) d[j] *= al;
        break;
    case LC_ELU:
        for (j = 0; j < n; j++) d[j] = y[j] > 0 ? d[j] : d[j] * (y[j] + al);
        break;
    case LC_SOFTSIGN:
        for (j = 0; j < n; j++) {
            const REAL s = (REAL)1 - (y[j] < 0 ? -y[j] : y[j]);
            d[j] *= s * s;
        }
        break;
    case LC_SOFTPLUS:
        for (j = 0; j < n; j++) d[j] *= (REAL)1 - SFX(lstmcore_exp)(-y[j]);
        break;
    default:  /* LC_TANH */
        for (j = 0; j < n; j++) d[j] *= (REAL)1 - y[j] * y[j];
    }
}

/* v (n) clipped to [-clip, clip] */
LSTMCORE_INLINE void KSFX(span_clip)(REAL *restrict v, ptrdiff_t n, REAL clip) {
    for (ptrdiff_t j = 0; j < n; j++) {
        REAL x = v[j] < -clip ? -clip : v[j];
        v[j] = x > clip ? clip : x;
    }
}

/* d (n) = 0 where the clipped pre-activation zp sits at the bound (it was clipped) */
LSTMCORE_INLINE void KSFX(span_clip_grad)(const REAL *restrict zp, REAL *restrict d, ptrdiff_t n,
                                          REAL clip) {
    for (ptrdiff_t j = 0; j < n; j++)
        d[j] = (zp[j] < clip && zp[j] > -clip) ? d[j] : (REAL)0;
}

/* Rows split across ctx->nthreads threads where the call has at least ctx->par_min elements:
 * LC_PAR gives the condition, LC_ROWS_PARALLEL (before the row loop) reads it as lc_par. */
#define LC_PAR(ctx, B, width) \
    ((ctx)->nthreads > 1 && (B) > 1 && (ptrdiff_t)(B) * (width) >= (ctx)->par_min)
#ifdef _OPENMP
#define LC_ROWS_PARALLEL \
    _Pragma("omp parallel for schedule(static) num_threads(ctx->nthreads) if (lc_par)")
#else
#define LC_ROWS_PARALLEL
#endif

/* Simple RNN ------------------------------------------------------------------------------------ */

void KSFX(lc_rnn_forward)(const lc_ctx *ctx, int B, int H, lc_act act, const REAL *zx,
                          ptrdiff_t ldzx, const REAL *zh, const REAL *b, REAL *h, ptrdiff_t ldh) {
    /* zx (B, H) rows ldzx apart | zh (B, H) | b (H) | h (B, H) rows ldh apart, out */
    const int lc_par = LC_PAR(ctx, B, H);
    (void)lc_par;
    LC_ROWS_PARALLEL
    for (ptrdiff_t r = 0; r < B; r++) {
        const REAL *restrict zx_r = zx + r * ldzx, *restrict zh_r = zh + r * (ptrdiff_t)H;
        REAL *restrict h_r = h + r * ldh;
        const REAL *restrict b_r = b;
        for (ptrdiff_t j = 0; j < H; j++) h_r[j] = zx_r[j] + zh_r[j] + b_r[j];
        KSFX(span_act)(act, h_r, H);
    }
}

void KSFX(lc_rnn_backward)(const lc_ctx *ctx, int B, int H, lc_act act, const REAL *dh,
                           const REAL *dy, ptrdiff_t lddy, const REAL *h, ptrdiff_t ldh,
                           REAL *dz) {
    /* dh (B, H) | dy (B, H) rows lddy apart or NULL | h (B, H) rows ldh apart | dz (B, H) out */
    const int lc_par = LC_PAR(ctx, B, H);
    (void)lc_par;
    LC_ROWS_PARALLEL
    for (ptrdiff_t r = 0; r < B; r++) {
        const REAL *restrict dh_r = dh + r * (ptrdiff_t)H, *restrict h_r = h + r * ldh;
        REAL *restrict dz_r = dz + r * (ptrdiff_t)H;
        if (dy) {
            const REAL *restrict dy_r = dy + r * lddy;
            for (ptrdiff_t j = 0; j < H; j++) dz_r[j] = dh_r[j] + dy_r[j];
        } else {
            for (ptrdiff_t j = 0; j < H; j++) dz_r[j] = dh_r[j];
        }
        KSFX(span_dact)(act, h_r, dz_r, H);
    }
}

/* GRU ------------------------------------------------------------------------------------------- */

void KSFX(lc_gru_forward)(const lc_ctx *ctx, int B, int H, int phase, int reset_after,
                          lc_act act, lc_act ract, const REAL *zx, ptrdiff_t ldzx,
                          const REAL *zh, const REAL *b, const REAL *h_prev, ptrdiff_t ldhp,
                          REAL *gates, REAL *extra, REAL *h, ptrdiff_t ldh) {
    /* zx (B, 3H) rows ldzx apart | zh (B, 3H) | b (2, 3H) or (3H) | h_prev (B, H) rows ldhp
     * apart | gates (B, 3H), extra (B, H) out | h (B, H) rows ldh apart, out
     * One restrict pointer per gate block: the blocks never overlap, and the compiler then
     * vectorizes every loop (with g[2H + j] written beside g[H + j] read it could not). */
    const ptrdiff_t G = 3 * (ptrdiff_t)H, H2 = 2 * (ptrdiff_t)H;
    const int lc_par = LC_PAR(ctx, B, G);
    (void)lc_par;
    LC_ROWS_PARALLEL
    for (ptrdiff_t r = 0; r < B; r++) {
        /* declared in the loop, not captured by the OpenMP region, so that they stay restrict */
        const REAL *restrict bx = b;                        /* the input bias (or the only one) */
        const REAL *restrict bh = reset_after ? b + G : b; /* the recurrent bias (reset_after) */
        const REAL *restrict zx_r = zx + r * ldzx, *restrict zh_r = zh + r * G;
        const REAL *restrict hp_r = h_prev + r * ldhp;
        REAL *restrict gz = gates + r * G, *restrict gr = gz + H, *restrict gn = gz + H2;
        REAL *restrict e_r = extra + r * (ptrdiff_t)H, *restrict h_r = h + r * ldh;
        if (phase == 0) {  /* z, r */
            if (reset_after) {
                for (ptrdiff_t j = 0; j < H; j++) gz[j] = zx_r[j] + bx[j] + zh_r[j] + bh[j];
                for (ptrdiff_t j = 0; j < H; j++)
                    gr[j] = zx_r[H + j] + bx[H + j] + zh_r[H + j] + bh[H + j];
            } else {
                for (ptrdiff_t j = 0; j < H; j++) gz[j] = zx_r[j] + zh_r[j] + bx[j];
                for (ptrdiff_t j = 0; j < H; j++) gr[j] = zx_r[H + j] + zh_r[H + j] + bx[H + j];
            }
            KSFX(span_act)(ract, gz, H);
            KSFX(span_act)(ract, gr, H);
            if (!reset_after) {  /* rh = r * h_prev, the source of phase 1 */
                for (ptrdiff_t j = 0; j < H; j++) e_r[j] = gr[j] * hp_r[j];
                continue;
            }
            /* n = act(zx_n + b_xn + r * (zh_n + b_hn)) */
            const REAL *restrict zh_n = zh_r + H2, *restrict bh_n = bh + H2;
            const REAL *restrict zx_n = zx_r + H2, *restrict bx_n = bx + H2;
            for (ptrdiff_t j = 0; j < H; j++) e_r[j] = zh_n[j] + bh_n[j];
            for (ptrdiff_t j = 0; j < H; j++) gn[j] = zx_n[j] + bx_n[j] + gr[j] * e_r[j];
        } else {  /* n = act(zx_n + (r * h_prev) @ w_hn + b_n) */
            for (ptrdiff_t j = 0; j < H; j++) gn[j] = zx_r[H2 + j] + zh_r[H2 + j] + bx[H2 + j];
        }
        KSFX(span_act)(act, gn, H);
        for (ptrdiff_t j = 0; j < H; j++)  /* h = z * h_prev + (1 - z) * n */
            h_r[j] = gz[j] * hp_r[j] + ((REAL)1 - gz[j]) * gn[j];
    }
}

void KSFX(lc_gru_backward)(const lc_ctx *ctx, int B, int H, int phase, int reset_after,
                           lc_act act, lc_act ract, const REAL *dh, const REAL *dy,
                           ptrdiff_t lddy, const REAL *gates, const REAL *extra,
                           const REAL *h_prev, ptrdiff_t ldhp, const REAL *drh, REAL *dzx,
                           REAL *dzh, REAL *dh_prev) {
    /* dh, extra, drh, dh_prev (B, H) | dy (B, H) rows lddy apart or NULL | gates, dzx, dzh
     * (B, 3H) | h_prev (B, H) rows ldhp apart. One restrict pointer per gate block. */
    const ptrdiff_t G = 3 * (ptrdiff_t)H, H2 = 2 * (ptrdiff_t)H;
    const int lc_par = LC_PAR(ctx, B, G);
    (void)lc_par;
    LC_ROWS_PARALLEL
    for (ptrdiff_t r = 0; r < B; r++) {
        const ptrdiff_t rh = r * (ptrdiff_t)H;
        const REAL *restrict gz = gates + r * G, *restrict gr = gz + H, *restrict gn = gz + H2;
        const REAL *restrict hp_r = h_prev + r * ldhp;
        REAL *restrict dz_z = dzx + r * G, *restrict dz_r = dz_z + H, *restrict dz_n = dz_z + H2;
        REAL *restrict dhp_r = dh_prev + rh;
        if (!reset_after && phase == 0) {  /* rh = r * h_prev */
            const REAL *restrict drh_r = drh + rh;
            for (ptrdiff_t j = 0; j < H; j++) {
                dz_r[j] = drh_r[j] * hp_r[j];
                dhp_r[j] += drh_r[j] * gr[j];
            }
            KSFX(span_dact)(ract, gr, dz_r, H);
            continue;
        }
        const REAL *restrict dh_r = dh + rh, *restrict dy_r = dy ? dy + r * lddy : NULL;
        if (dy_r)
            for (ptrdiff_t j = 0; j < H; j++) dhp_r[j] = dh_r[j] + dy_r[j];  /* dh, for now */
        else
            for (ptrdiff_t j = 0; j < H; j++) dhp_r[j] = dh_r[j];
        for (ptrdiff_t j = 0; j < H; j++) {  /* h = z * h_prev + (1 - z) * n */
            const REAL d = dhp_r[j];
            dz_n[j] = d * ((REAL)1 - gz[j]);
            dz_z[j] = d * (hp_r[j] - gn[j]);
            dhp_r[j] = d * gz[j];
        }
        KSFX(span_dact)(act, gn, dz_n, H);
        KSFX(span_dact)(ract, gz, dz_z, H);
        if (reset_after) {  /* n = act(zx_n + r * extra), extra = zh_n + b_hn */
            const REAL *restrict e_r = extra + rh;
            REAL *restrict dzh_r = dzh + r * G;
            for (ptrdiff_t j = 0; j < H; j++) dz_r[j] = dz_n[j] * e_r[j];
            KSFX(span_dact)(ract, gr, dz_r, H);
            for (ptrdiff_t j = 0; j < H; j++) {
                dzh_r[j] = dz_z[j];
                dzh_r[H + j] = dz_r[j];
                dzh_r[H2 + j] = dz_n[j] * gr[j];
            }
        }
    }
}

/* LSTM with options ----------------------------------------------------------------------------- */

void KSFX(lc_lstm_forward)(const lc_ctx *ctx, int B, int H, const lc_lstm_opts *o,
                           const REAL *zx, ptrdiff_t ldzx, const REAL *zh, const REAL *b,
                           const REAL *p, const REAL *c_prev, REAL *c, REAL *gates, REAL *zpre,
                           REAL *m, ptrdiff_t ldm) {
    /* zx (B, 4H) rows ldzx apart | zh, gates, zpre (B, 4H) | b (4H) | p (3, H) or NULL
     * c_prev, c (B, H) | m (B, H) rows ldm apart */
    const ptrdiff_t G = 4 * (ptrdiff_t)H, Hp = H, H3 = 3 * (ptrdiff_t)H;
    const REAL clip = (REAL)o->clip;
    const lc_act act = o->act, ract = o->ract, out_act = o->out_act;
    const int input_forget = o->input_forget;
    const int lc_par = LC_PAR(ctx, B, G);
    (void)lc_par;
    LC_ROWS_PARALLEL
    for (ptrdiff_t r = 0; r < B; r++) {
        /* one restrict pointer per gate block (i, f, g, o), declared in the loop so that they stay
         * restrict under OpenMP: every pass then vectorizes */
        const REAL *restrict zx_r = zx + r * ldzx, *restrict zh_r = zh + r * G;
        const REAL *restrict cp_r = c_prev + r * Hp;
        REAL *restrict gi = gates + r * G, *restrict gf = gi + Hp, *restrict gg = gi + 2 * Hp;
        REAL *restrict go = gi + H3, *restrict c_r = c + r * Hp, *restrict m_r = m + r * ldm;
        REAL *const gate[4] = {gi, gf, gg, go};
        for (int q = 0; q < 3; q++) {  /* pre-activations of i, f, g (o sees the new c) */
            REAL *restrict g = gate[q];
            const REAL *restrict zxq = zx_r + q * Hp, *restrict zhq = zh_r + q * Hp;
            const REAL *restrict bq = b + q * Hp;
            for (ptrdiff_t j = 0; j < Hp; j++) g[j] = zxq[j] + zhq[j] + bq[j];
            if (p && q < 2) {
                const REAL *restrict pq = p + q * Hp;
                for (ptrdiff_t j = 0; j < Hp; j++) g[j] += pq[j] * cp_r[j];
            }
            if (clip > 0) KSFX(span_clip)(g, Hp, clip);
            if (zpre) {
                REAL *restrict zq = zpre + r * G + q * Hp;
                for (ptrdiff_t j = 0; j < Hp; j++) zq[j] = g[j];
            }
        }
        KSFX(span_act)(ract, gi, Hp);
        if (input_forget)
            for (ptrdiff_t j = 0; j < Hp; j++) gf[j] = (REAL)1 - gi[j];
        else
            KSFX(span_act)(ract, gf, Hp);
        KSFX(span_act)(act, gg, Hp);
        const REAL *restrict zxo = zx_r + H3, *restrict zho = zh_r + H3, *restrict bo = b + H3;
        for (ptrdiff_t j = 0; j < Hp; j++) {
            const REAL cn = gf[j] * cp_r[j] + gi[j] * gg[j];  /* f c_prev + i g */
            c_r[j] = cn;
            m_r[j] = cn;
            go[j] = zxo[j] + zho[j] + bo[j];
        }
        if (p) {
            const REAL *restrict po = p + 2 * Hp;
            for (ptrdiff_t j = 0; j < Hp; j++) go[j] += po[j] * c_r[j];  /* o sees the new c */
        }
        if (clip > 0) KSFX(span_clip)(go, Hp, clip);
        if (zpre) {
            REAL *restrict zo = zpre + r * G + H3;
            for (ptrdiff_t j = 0; j < Hp; j++) zo[j] = go[j];
        }
        KSFX(span_act)(ract, go, Hp);
        KSFX(span_act)(out_act, m_r, Hp);
        for (ptrdiff_t j = 0; j < Hp; j++) m_r[j] *= go[j];  /* m = o * phi(c) */
    }
}

void KSFX(lc_lstm_backward)(const lc_ctx *ctx, int B, int H, const lc_lstm_opts *o,
                            const REAL *dm, const REAL *dy, ptrdiff_t lddy, REAL *dc,
                            const REAL *gates, const REAL *zpre, const REAL *p,
                            const REAL *c_prev, const REAL *c, REAL *dz) {
    /* dm, dc, c_prev, c (B, H) | dy (B, H) rows lddy apart or NULL | gates, zpre, dz (B, 4H)
     * p (3, H) or NULL */
    const ptrdiff_t G = 4 * (ptrdiff_t)H, Hp = H;
    const REAL clip = (REAL)o->clip;
    const lc_act act = o->act, ract = o->ract, out_act = o->out_act;
    const int input_forget = o->input_forget;
    const int lc_par = LC_PAR(ctx, B, G);
    (void)lc_par;
    LC_ROWS_PARALLEL
    for (ptrdiff_t r = 0; r < B; r++) {
        const REAL *restrict g_r = gates + r * G, *restrict dm_r = dm + r * Hp;
        const REAL *restrict cp_r = c_prev + r * Hp, *restrict c_r = c + r * Hp;
        const REAL *restrict dy_r = dy ? dy + r * lddy : NULL;
        const REAL *restrict zp_r = zpre ? zpre + r * G : NULL;
        const REAL *restrict gi = g_r, *restrict gf = g_r + Hp, *restrict gg = g_r + 2 * Hp;
        const REAL *restrict go = g_r + 3 * Hp;
        REAL *restrict dc_r = dc + r * Hp;
        REAL *restrict di = dz + r * G, *restrict df = di + Hp, *restrict dg = di + 2 * Hp;
        REAL *restrict d_o = di + 3 * Hp;
        for (ptrdiff_t j = 0; j < Hp; j++) di[j] = c_r[j];
        KSFX(span_act)(out_act, di, Hp);  /* phi(c), recomputed, in di for now */
        for (ptrdiff_t j = 0; j < Hp; j++) {  /* m = o * phi(c) */
            const REAL d = dy_r ? dm_r[j] + dy_r[j] : dm_r[j];
            d_o[j] = d * di[j];
            df[j] = d * go[j];
        }
        KSFX(span_dact)(out_act, di, df, Hp);  /* df: d phi(c) / dc */
        KSFX(span_dact)(ract, go, d_o, Hp);
        if (zp_r && clip > 0) KSFX(span_clip_grad)(zp_r + 3 * Hp, d_o, Hp, clip);
        for (ptrdiff_t j = 0; j < Hp; j++) dc_r[j] += df[j] + (p ? d_o[j] * p[2 * Hp + j] : 0);
        for (ptrdiff_t j = 0; j < Hp; j++) {  /* c = f c_prev + i g */
            const REAL d = dc_r[j];
            di[j] = input_forget ? d * (gg[j] - cp_r[j]) : d * gg[j];
            df[j] = input_forget ? (REAL)0 : d * cp_r[j];
            dg[j] = d * gi[j];
        }
        KSFX(span_dact)(ract, gi, di, Hp);
        if (!input_forget) KSFX(span_dact)(ract, gf, df, Hp);
        KSFX(span_dact)(act, gg, dg, Hp);
        if (zp_r && clip > 0) {
            KSFX(span_clip_grad)(zp_r, di, Hp, clip);
            KSFX(span_clip_grad)(zp_r + Hp, df, Hp, clip);
            KSFX(span_clip_grad)(zp_r + 2 * Hp, dg, Hp, clip);
        }
        for (ptrdiff_t j = 0; j < Hp; j++)
            dc_r[j] = dc_r[j] * gf[j] + (p ? di[j] * p[j] + df[j] * p[Hp + j] : 0);
    }
}

/* Elementwise activations (tests and the reference's twins) ----------------------------------- */

void KSFX(lc_act_apply)(const lc_ctx *ctx, lc_act act, const REAL *x, REAL *y, ptrdiff_t n) {
    (void)ctx;
    for (ptrdiff_t j = 0; j < n; j++) y[j] = x[j];
    KSFX(span_act)(act, y, n);
}

void KSFX(lc_act_derivative)(const lc_ctx *ctx, lc_act act, const REAL *y, REAL *d, ptrdiff_t n) {
    (void)ctx;
    KSFX(span_dact)(act, y, d, n);
}
