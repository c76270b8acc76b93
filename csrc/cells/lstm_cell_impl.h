/* The LSTM cell's gate maths over rows of n units, forward and backward: the one source of them,
 * for one precision and one instruction set. Every LSTM kernel calls these: the generic cell of
 * cells.h (cells/cells_impl.h, every option), the plain LSTM's row loops after a BLAS product and
 * its packed step and backward, whose panels hand over n <= one panel's units
 * (cells/lstm_gates_impl.h). Needs REAL, SFX(name), KSFX(name), LVEC and the lv_* functions of
 * math/spans_impl.h. Not a standalone header.
 *
 * Gate blocks [i|f|g|o] lie sg elements apart in every 4-block argument (g, zx, zh, b, zpre,
 * dz) and in p's 3 rows (i, f, o): sg = H for rows of a (B, 4H) array, the panel's width for a
 * packed panel. The maths (DESIGN.md section 5, reference/lstm.py):
 *     i, f, o = ract(z + b [+ p * c]),  g = act(z + b),  every pre-activation clipped if clip > 0
 *     f = 1 - i with input_forget
 *     c = f * c_prev + i * g,  m = o * out_act(c)   (o's peephole sees the new c)
 */

/* Forward, rows (<= LC_ROWS_MAX) rows at a time: for each vector of units, every row's gate
 * maths in registers, stage by stage across the rows, so that the rows' dependency chains (exp,
 * then c, then tanh(c)) run side by side instead of one after another.
 * g (rows, 4 blocks), rows ldg apart: in, where zx is NULL, the pre-activations' products
 * (the gates may then go back in place: gout = g) | zx, zh (4 blocks), rows ldg apart:
 * the products, added (zh may be NULL) | b (4 blocks), the same for every row, or NULL
 * p (3 blocks), the same for every row, or NULL | c_prev, c (rows, n), rows ldc apart: c may be
 * c_prev | zpre (rows, 4 blocks) rows ldg apart, or NULL: out, the clipped pre-activations
 * m (rows, n) rows ldm apart | gout (rows, 4 blocks) rows ldo apart, gate blocks so apart: out,
 * the activated gates, or NULL where no one needs them (inference's packed steps: 4 stores of
 * every vector saved). Nothing else overlaps. */
#ifndef LC_ROWS_MAX
#define LC_ROWS_MAX 4
#endif
#if defined(__GNUC__) && !defined(__clang__)
#define LC_STAGE _Pragma("GCC unroll 4") for (int r = 0; r < rows; r++)
#else
#define LC_STAGE for (int r = 0; r < rows; r++)
#endif
LSTMCORE_INLINE void KSFX(lstm_rows_forward)(const lc_lstm_opts *o, int rows, ptrdiff_t n,
                                             ptrdiff_t sg, REAL *g, ptrdiff_t ldg,
                                             const REAL *zx, const REAL *zh, const REAL *b,
                                             const REAL *p, const REAL *c_prev, REAL *c,
                                             ptrdiff_t ldc, REAL *zpre, REAL *m, ptrdiff_t ldm,
                                             REAL *gout, ptrdiff_t ldo, ptrdiff_t so) {
    const REAL clip = (REAL)o->clip;
    const lc_act act = o->act, ract = o->ract, out_act = o->out_act;
    LC_ASSUME(rows >= 1 && rows <= LC_ROWS_MAX);
#define LD(ptr) KSFX(lv_load)((ptr), k)
#define ST(ptr, v) KSFX(lv_store)((ptr), (v), k)
    for (ptrdiff_t j = 0; j < n; j += LL) {
        const int k = n - j < LL ? (int)(n - j) : LL;  /* the units of this vector */
        /* every row's vectors, stage by stage (zeroed: the compiler cannot see that each stage
         * writes those of rows [0, rows) before the next reads them) */
        LVEC zi[LC_ROWS_MAX] = {0}, zf[LC_ROWS_MAX] = {0}, zg[LC_ROWS_MAX] = {0};
        LVEC zo[LC_ROWS_MAX] = {0}, cp[LC_ROWS_MAX] = {0}, i[LC_ROWS_MAX] = {0};
        LVEC f[LC_ROWS_MAX] = {0}, gg[LC_ROWS_MAX] = {0}, cn[LC_ROWS_MAX] = {0};
        LVEC og[LC_ROWS_MAX] = {0}, phi[LC_ROWS_MAX] = {0};
        LC_STAGE {  /* the pre-activations: the products, then the bias */
            const REAL *z_r = (zx ? zx : g) + r * ldg + j;
            zi[r] = LD(z_r), zf[r] = LD(z_r + sg), zg[r] = LD(z_r + 2 * sg);
            zo[r] = LD(z_r + 3 * sg);
            if (zx && zh) {
                const REAL *h_r = zh + r * ldg + j;
                zi[r] += LD(h_r), zf[r] += LD(h_r + sg), zg[r] += LD(h_r + 2 * sg);
                zo[r] += LD(h_r + 3 * sg);
            }
            if (b) {
                zi[r] += LD(b + j), zf[r] += LD(b + sg + j), zg[r] += LD(b + 2 * sg + j);
                zo[r] += LD(b + 3 * sg + j);
            }
            cp[r] = LD(c_prev + r * ldc + j);
            if (p) {  /* i and f see c_prev */
                zi[r] += LD(p + j) * cp[r];
                zf[r] += LD(p + sg + j) * cp[r];
            }
            if (clip > 0) {
                zi[r] = KSFX(lv_clip)(zi[r], clip);
                zf[r] = KSFX(lv_clip)(zf[r], clip);
                zg[r] = KSFX(lv_clip)(zg[r], clip);
            }
        }
        LC_STAGE i[r] = KSFX(lv_act)(ract, zi[r]);
        LC_STAGE {
            f[r] = 1 - i[r];  /* input_forget: f = 1 - i */
            if (!o->input_forget)
                f[r] = KSFX(lv_act)(ract, zf[r]);
        }
        LC_STAGE gg[r] = KSFX(lv_act)(act, zg[r]);
        LC_STAGE {
            cn[r] = KSFX(lv_fma)(f[r], cp[r], i[r] * gg[r]);  /* c = f c_prev + i g */
            if (p)
                zo[r] += LD(p + 2 * sg + j) * cn[r];  /* o sees the new c */
            if (clip > 0)
                zo[r] = KSFX(lv_clip)(zo[r], clip);
            ST(c + r * ldc + j, cn[r]);
        }
        LC_STAGE og[r] = KSFX(lv_act)(ract, zo[r]), phi[r] = KSFX(lv_act)(out_act, cn[r]);
        LC_STAGE {
            ST(m + r * ldm + j, og[r] * phi[r]);  /* m = o * out_act(c) */
            if (gout) {
                REAL *o_r = gout + r * ldo + j;
                ST(o_r, i[r]), ST(o_r + so, f[r]), ST(o_r + 2 * so, gg[r]);
                ST(o_r + 3 * so, og[r]);
            }
            if (zpre) {
                REAL *z_r = zpre + r * ldg + j;
                ST(z_r, zi[r]), ST(z_r + sg, zf[r]), ST(z_r + 2 * sg, zg[r]);
                ST(z_r + 3 * sg, zo[r]);
            }
        }
    }
}

/* Backward, one row: dm (n) in: the gradient of m from step t+1 | dy (n), added to dm, or NULL
 * dc (n) in: from step t+1, out: dc_prev | g, zpre (4 blocks): the forward's (zpre NULL unless
 * clipped) | p (3 blocks) or NULL | c_prev, c (n) | m (n): the forward's m = o * out_act(c), or
 * NULL | dz (4 blocks) out: the gradient of the pre-activations. No output overlaps an input.
 * out_act(c) is recomputed from c, or, with m, taken as m / o in whole vectors whose o are all
 * normal numbers: a division for out_act's 20-odd operations (tanh: exp and a division), within
 * an ulp or two of it (m and the quotient rounded once each); a vector with a smaller o, zero
 * included (hard_sigmoid's), or partial, recomputes it. */
LSTMCORE_INLINE void KSFX(lstm_row_backward)(const lc_lstm_opts *o, ptrdiff_t n, ptrdiff_t sg,
                                             const REAL *dm, const REAL *dy, REAL *dc,
                                             const REAL *g, const REAL *zpre, const REAL *p,
                                             const REAL *c_prev, const REAL *c, const REAL *m,
                                             REAL *dz) {
    const REAL clip = (REAL)o->clip;
    const int input_forget = o->input_forget, clipped = zpre && clip > 0;
    const lc_act act = o->act, ract = o->ract, out_act = o->out_act;
    for (ptrdiff_t j = 0; j < n; j += LL) {
        const int k = n - j < LL ? (int)(n - j) : LL;
        const REAL *g_j = g + j;
        const LVEC gi = LD(g_j), gf = LD(g_j + sg), gg = LD(g_j + 2 * sg), go = LD(g_j + 3 * sg);
        const LVEC cp = LD(c_prev + j);
        LVEC d = LD(dm + j);
        if (dy)
            d += LD(dy + j);
        LVEC phi;  /* out_act(c) */
        if (m && k == LL && KSFX(lv_all_normal)(go))
            phi = LD(m + j) / go;
        else
            phi = KSFX(lv_act)(out_act, LD(c + j));
        LVEC d_o = KSFX(lv_dact)(ract, go, d * phi);  /* m = o * out_act(c) */
        if (clipped)
            d_o = KSFX(lv_clip_grad)(LD(zpre + 3 * sg + j), d_o, clip);
        LVEC dcv = LD(dc + j) + KSFX(lv_dact)(out_act, phi, d * go);
        if (p)
            dcv += d_o * LD(p + 2 * sg + j);
        /* c = f c_prev + i g */
        LVEC di, df = KSFX(lv_splat)(0);
        if (input_forget) {
            di = KSFX(lv_dact)(ract, gi, dcv * (gg - cp));
        } else {
            di = KSFX(lv_dact)(ract, gi, dcv * gg);
            df = KSFX(lv_dact)(ract, gf, dcv * cp);
        }
        LVEC dg = KSFX(lv_dact)(act, gg, dcv * gi);
        if (clipped) {
            di = KSFX(lv_clip_grad)(LD(zpre + j), di, clip);
            df = KSFX(lv_clip_grad)(LD(zpre + sg + j), df, clip);
            dg = KSFX(lv_clip_grad)(LD(zpre + 2 * sg + j), dg, clip);
        }
        dcv *= gf;
        if (p)
            dcv += di * LD(p + j) + df * LD(p + sg + j);
        ST(dc + j, dcv);
        ST(dz + j, di), ST(dz + sg + j, df), ST(dz + 2 * sg + j, dg), ST(dz + 3 * sg + j, d_o);
    }
#undef LD
#undef ST
}
#undef LC_STAGE
