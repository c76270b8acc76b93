/* Body of cells.c for one precision and one instruction set (rt/isa_copies.h): needs REAL,
 * SFX(name), KSFX(name) and activations.h. Not a standalone header.
 *
 * Every cell's row maths is a few straight passes over the row's units: elementwise loops, and
 * KSFX(span_act) / KSFX(span_dact) (math/spans_impl.h). The LSTM's are in cells/lstm_cell_impl.h,
 * which the plain LSTM's tuned kernels share.
 */

#include "math/spans_impl.h"
#include "cells/lstm_cell_impl.h"
#include "rt/split.h"
#include "rt/rows_impl.h"

/* Rows split across ctx->nthreads threads where the call has at least ctx->par_min elements:
 * LC_PAR gives the condition; LC_ROWS(par, r, B, body) runs the body for r in [0, B), on those
 * threads where par holds, else on this one outside any OpenMP region (LC_FOR, rt/split.h). */
#define LC_PAR(ctx, B, width) \
    ((ctx)->nthreads > 1 && (B) > 1 && (ptrdiff_t)(B) * (width) >= (ctx)->par_min)
#define LC_ROWS(par, r, B, ...) LC_FOR(par, ctx->nthreads, r, B, 1, __VA_ARGS__)

/* Simple RNN ------------------------------------------------------------------------------------ */

void KSFX(lc_rnn_forward)(const lc_ctx *ctx, int B, int H, lc_act act, const REAL *zx,
                          ptrdiff_t ldzx, const REAL *zh, const REAL *b, REAL *h, ptrdiff_t ldh) {
    /* zx (B, H) rows ldzx apart | zh (B, H) | b (H) | h (B, H) rows ldh apart, out */
    LC_ROWS(LC_PAR(ctx, B, H), r, B, {
        const REAL *restrict zx_r = zx + r * ldzx, *restrict zh_r = zh + r * (ptrdiff_t)H;
        REAL *restrict h_r = h + r * ldh;
        const REAL *restrict b_r = b;
        for (ptrdiff_t j = 0; j < H; j++) h_r[j] = zx_r[j] + zh_r[j] + b_r[j];
        KSFX(span_act)(act, h_r, H);
    });
}

void KSFX(lc_rnn_backward)(const lc_ctx *ctx, int B, int H, lc_act act, const REAL *dh,
                           const REAL *dy, ptrdiff_t lddy, const REAL *h, ptrdiff_t ldh,
                           REAL *dz) {
    /* dh (B, H) | dy (B, H) rows lddy apart or NULL | h (B, H) rows ldh apart | dz (B, H) out */
    LC_ROWS(LC_PAR(ctx, B, H), r, B, {
        const REAL *restrict dh_r = dh + r * (ptrdiff_t)H, *restrict h_r = h + r * ldh;
        REAL *restrict dz_r = dz + r * (ptrdiff_t)H;
        if (dy) {
            const REAL *restrict dy_r = dy + r * lddy;
            for (ptrdiff_t j = 0; j < H; j++) dz_r[j] = dh_r[j] + dy_r[j];
        } else {
            for (ptrdiff_t j = 0; j < H; j++) dz_r[j] = dh_r[j];
        }
        KSFX(span_dact)(act, h_r, dz_r, H);
    });
}

/* GRU ------------------------------------------------------------------------------------------- */

/* lc_gru_forward with reset_after and no cache (inference): each row's gates in the L1, GRU_CHUNK
 * units at a time (a multiple of every vector width: the spans cut where the whole row's do, so
 * the same bits), rather than in (B, 3H) and (B, H) arrays written at every step */
#define GRU_CHUNK 256
static void KSFX(gru_forward_nocache)(const lc_ctx *ctx, int B, int H, lc_act act, lc_act ract,
                                      const REAL *zx, ptrdiff_t ldzx, const REAL *zh,
                                      const REAL *b, const REAL *h_prev, ptrdiff_t ldhp, REAL *h,
                                      ptrdiff_t ldh) {
    const ptrdiff_t G = 3 * (ptrdiff_t)H, H2 = 2 * (ptrdiff_t)H;
    LC_ROWS(LC_PAR(ctx, B, G), r, B, {
        REAL buf[4 * GRU_CHUNK];
        for (ptrdiff_t j0 = 0; j0 < H; j0 += GRU_CHUNK) {
            const ptrdiff_t n = H - j0 < GRU_CHUNK ? H - j0 : GRU_CHUNK;
            const REAL *restrict bx = b + j0, *restrict bh = b + G + j0;
            const REAL *restrict zx_r = zx + r * ldzx + j0, *restrict zh_r = zh + r * G + j0;
            const REAL *restrict hp_r = h_prev + r * ldhp + j0;
            REAL *restrict gz = buf, *restrict gr = buf + GRU_CHUNK;
            REAL *restrict gn = buf + 2 * GRU_CHUNK, *restrict e_r = buf + 3 * GRU_CHUNK;
            REAL *restrict h_r = h + r * ldh + j0;
            for (ptrdiff_t j = 0; j < n; j++) gz[j] = zx_r[j] + bx[j] + zh_r[j] + bh[j];
            for (ptrdiff_t j = 0; j < n; j++)
                gr[j] = zx_r[H + j] + bx[H + j] + zh_r[H + j] + bh[H + j];
            KSFX(span_act)(ract, gz, n);
            KSFX(span_act)(ract, gr, n);
            for (ptrdiff_t j = 0; j < n; j++) e_r[j] = zh_r[H2 + j] + bh[H2 + j];
            for (ptrdiff_t j = 0; j < n; j++) gn[j] = zx_r[H2 + j] + bx[H2 + j] + gr[j] * e_r[j];
            KSFX(span_act)(act, gn, n);
            for (ptrdiff_t j = 0; j < n; j++)  /* h = z * h_prev + (1 - z) * n */
                h_r[j] = gz[j] * hp_r[j] + ((REAL)1 - gz[j]) * gn[j];
        }
    });
}
#undef GRU_CHUNK

void KSFX(lc_gru_forward)(const lc_ctx *ctx, int B, int H, int phase, int reset_after,
                          lc_act act, lc_act ract, const REAL *zx, ptrdiff_t ldzx,
                          const REAL *zh, const REAL *b, const REAL *h_prev, ptrdiff_t ldhp,
                          REAL *gates, REAL *extra, REAL *h, ptrdiff_t ldh) {
    /* zx (B, 3H) rows ldzx apart | zh (B, 3H) | b (2, 3H) or (3H) | h_prev (B, H) rows ldhp
     * apart | gates (B, 3H), extra (B, H) out | h (B, H) rows ldh apart, out
     * One restrict pointer per gate block: the blocks never overlap, and the compiler then
     * vectorizes every loop (with g[2H + j] written beside g[H + j] read it could not). */
    const ptrdiff_t G = 3 * (ptrdiff_t)H, H2 = 2 * (ptrdiff_t)H;
    if (reset_after && !gates) {  /* no cache: a row's gates in buf, GRU_CHUNK units at a time */
        KSFX(gru_forward_nocache)(ctx, B, H, act, ract, zx, ldzx, zh, b, h_prev, ldhp, h, ldh);
        return;
    }
    LC_ROWS(LC_PAR(ctx, B, G), r, B, {
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
    });
}

/* The GRU backward's loops that write two or three gate blocks, as functions whose restrict
 * pointers are parameters: GCC 12 honours restrict there, not on the pointers declared in the
 * row loop, and left these loops scalar (GRU S3 training, 1 thread: the gate backward took 24 ms
 * of a 251 ms backward). Inlined; the same operations on each element. */
LSTMCORE_INLINE void KSFX(gru_dgates)(ptrdiff_t H, const REAL *restrict gz,
                                     const REAL *restrict gn, const REAL *restrict hp,
                                     REAL *restrict dhp, REAL *restrict dz_z,
                                     REAL *restrict dz_n) {
    for (ptrdiff_t j = 0; j < H; j++) {  /* h = z * h_prev + (1 - z) * n */
        const REAL d = dhp[j];
        dz_n[j] = d * ((REAL)1 - gz[j]);
        dz_z[j] = d * (hp[j] - gn[j]);
        dhp[j] = d * gz[j];
    }
}

LSTMCORE_INLINE void KSFX(gru_dzh)(ptrdiff_t H, const REAL *restrict dz_z,
                                  const REAL *restrict dz_r, const REAL *restrict dz_n,
                                  const REAL *restrict gr, REAL *restrict dzh_z,
                                  REAL *restrict dzh_r, REAL *restrict dzh_n) {
    for (ptrdiff_t j = 0; j < H; j++) {
        dzh_z[j] = dz_z[j];
        dzh_r[j] = dz_r[j];
        dzh_n[j] = dz_n[j] * gr[j];
    }
}

LSTMCORE_INLINE void KSFX(gru_drh)(ptrdiff_t H, const REAL *restrict drh, const REAL *restrict hp,
                                  const REAL *restrict gr, REAL *restrict dz_r,
                                  REAL *restrict dhp) {
    for (ptrdiff_t j = 0; j < H; j++) {
        dz_r[j] = drh[j] * hp[j];
        dhp[j] += drh[j] * gr[j];
    }
}

void KSFX(lc_gru_backward)(const lc_ctx *ctx, int B, int H, int phase, int reset_after,
                           lc_act act, lc_act ract, const REAL *dh, const REAL *dy,
                           ptrdiff_t lddy, const REAL *gates, const REAL *extra,
                           const REAL *h_prev, ptrdiff_t ldhp, const REAL *drh, REAL *dzx,
                           REAL *dzh, REAL *dh_prev) {
    /* dh, extra, drh, dh_prev (B, H) | dy (B, H) rows lddy apart or NULL | gates, dzx, dzh
     * (B, 3H) | h_prev (B, H) rows ldhp apart. One restrict pointer per gate block; the loops
     * that write several blocks are functions of restrict parameters (gru_dgates). */
    const ptrdiff_t G = 3 * (ptrdiff_t)H, H2 = 2 * (ptrdiff_t)H;
    LC_ROWS(LC_PAR(ctx, B, G), r, B, {
        const ptrdiff_t rh = r * (ptrdiff_t)H;
        const REAL *restrict gz = gates + r * G, *restrict gr = gz + H, *restrict gn = gz + H2;
        const REAL *restrict hp_r = h_prev + r * ldhp;
        REAL *restrict dz_z = dzx + r * G, *restrict dz_r = dz_z + H, *restrict dz_n = dz_z + H2;
        REAL *restrict dhp_r = dh_prev + rh;
        if (!reset_after && phase == 0) {  /* rh = r * h_prev */
            KSFX(gru_drh)(H, drh + rh, hp_r, gr, dz_r, dhp_r);
            KSFX(span_dact)(ract, gr, dz_r, H);
            continue;
        }
        const REAL *restrict dh_r = dh + rh, *restrict dy_r = dy ? dy + r * lddy : NULL;
        if (dy_r)
            for (ptrdiff_t j = 0; j < H; j++) dhp_r[j] = dh_r[j] + dy_r[j];  /* dh, for now */
        else
            for (ptrdiff_t j = 0; j < H; j++) dhp_r[j] = dh_r[j];
        KSFX(gru_dgates)(H, gz, gn, hp_r, dhp_r, dz_z, dz_n);
        KSFX(span_dact)(act, gn, dz_n, H);
        KSFX(span_dact)(ract, gz, dz_z, H);
        if (reset_after) {  /* n = act(zx_n + r * extra), extra = zh_n + b_hn */
            const REAL *restrict e_r = extra + rh;
            for (ptrdiff_t j = 0; j < H; j++) dz_r[j] = dz_n[j] * e_r[j];
            KSFX(span_dact)(ract, gr, dz_r, H);
            KSFX(gru_dzh)(H, dz_z, dz_r, dz_n, gr, dzh + r * G, dzh + r * G + H, dzh + r * G + H2);
        }
    });
}

/* LSTM with options ----------------------------------------------------------------------------- */

void KSFX(lc_lstm_forward)(const lc_ctx *ctx, int B, int H, const lc_lstm_opts *o,
                           const REAL *zx, ptrdiff_t ldzx, const REAL *zh, const REAL *b,
                           const REAL *p, const REAL *c_prev, REAL *c, REAL *gates, REAL *zpre,
                           REAL *m, ptrdiff_t ldm) {
    /* zx (B, 4H) rows ldzx apart | zh, gates, zpre (B, 4H) | b (4H) | p (3, H) or NULL
     * c_prev, c (B, H) | m (B, H) rows ldm apart */
    const ptrdiff_t G = 4 * (ptrdiff_t)H;
    LC_ROWS(LC_PAR(ctx, B, G), r, B, {
        KSFX(lstm_rows_forward)(o, 1, H, H, gates + r * G, G, zx + r * ldzx, zh + r * G, b, p,
                                c_prev + r * H, c + r * H, H, zpre ? zpre + r * G : NULL,
                                m + r * ldm, ldm, gates + r * G, G, H);
    });
}

void KSFX(lc_lstm_backward)(const lc_ctx *ctx, int B, int H, const lc_lstm_opts *o,
                            const REAL *dm, const REAL *dy, ptrdiff_t lddy, REAL *dc,
                            const REAL *gates, const REAL *zpre, const REAL *p,
                            const REAL *c_prev, const REAL *c, REAL *dz) {
    /* dm, dc, c_prev, c (B, H) | dy (B, H) rows lddy apart or NULL | gates, zpre, dz (B, 4H)
     * p (3, H) or NULL */
    const ptrdiff_t G = 4 * (ptrdiff_t)H;
    LC_ROWS(LC_PAR(ctx, B, G), r, B, {
        KSFX(lstm_row_backward)(o, H, H, dm + r * H, dy ? dy + r * lddy : NULL, dc + r * H,
                                gates + r * G, zpre ? zpre + r * G : NULL, p, c_prev + r * H,
                                c + r * H, NULL, dz + r * G);
    });
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

/* Softmax over rows (an attention layer's scores) -------------------------------------------- */

void KSFX(lc_softmax_rows)(const lc_ctx *ctx, ptrdiff_t R, int N, const REAL *x, ptrdiff_t ldx,
                           REAL *y, ptrdiff_t ldy) {
    LC_FOR(ctx->nthreads > 1 && R > 1, ctx->nthreads, r, R, 1,
           { KSFX(span_softmax)(x + r * ldx, y + r * ldy, N); });
}

void KSFX(lc_softmax_rows_backward)(const lc_ctx *ctx, ptrdiff_t R, int N, const REAL *y,
                                    ptrdiff_t ldy, const REAL *dy, ptrdiff_t lddy, REAL *dx,
                                    ptrdiff_t lddx) {
    LC_FOR(ctx->nthreads > 1 && R > 1, ctx->nthreads, r, R, 1,
           { KSFX(span_softmax_backward)(y + r * ldy, dy + r * lddy, dx + r * lddx, N); });
}

/* Dropout masks from a counter-based generator --------------------------------------------- */

/* 32 bits of a hash of a 64-bit seed and an element's index i = hi * 2^32 + lo: two rounds of a
 * 32-bit mixer (Wellons's "lowbias32": xorshifts and odd multiplies, a bijection) keyed by the
 * seed's halves, the index's high half mixed into the second key. Written on unsigned 32-bit
 * lanes only, so that the loop below vectorizes; lstmcore.engine._products.dropout_mask has the
 * same bits in NumPy (the reference backend). */
LSTMCORE_INLINE uint32_t KSFX(mix32)(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

void KSFX(lc_dropout_mask)(const lc_ctx *ctx, ptrdiff_t n, uint64_t seed, uint32_t threshold,
                           REAL scale, REAL *out) {
    const uint32_t s0 = (uint32_t)seed, s1 = (uint32_t)(seed >> 32);
    /* blocks of 4096 elements: 2^32 is a multiple, so a block's high half is one value */
    LC_FOR(ctx->nthreads > 1 && n > 4096, ctx->nthreads, b0, n, 4096, {
        const uint64_t first = (uint64_t)b0;
        const uint32_t k1 = s1 ^ KSFX(mix32)((uint32_t)(first >> 32)), lo = (uint32_t)first;
        const int m = n - b0 < 4096 ? (int)(n - b0) : 4096;
        REAL *restrict o = out + b0;
        for (int j = 0; j < m; j++) {
            const uint32_t u = KSFX(mix32)(KSFX(mix32)(lo + (uint32_t)j + s0) ^ k1);
            o[j] = u >= threshold ? scale : 0;
        }
    });
}

/* A sequence plan's rows in the caller's order (rt/rows_impl.h) ------------------------------ */

void KSFX(lc_rows_gather)(const REAL *src, ptrdiff_t ld, ptrdiff_t step, int W, const int *perm,
                          const int *lens, int reverse, int s, int r0, int r1, REAL *dst) {
    KSFX(rows_gather)(src, ld, step, W, perm, lens, reverse, s, r0, r1, dst);
}

void KSFX(lc_rows_scatter)(const REAL *h, ptrdiff_t ldh, REAL *y, ptrdiff_t ldy,
                           ptrdiff_t y_step, int W, const int *perm, const int *lens,
                           int reverse, int s, int r0, int r1) {
    KSFX(rows_scatter)(h, ldh, y, ldy, y_step, W, perm, lens, reverse, s, r0, r1);
}

void KSFX(lc_rows_padding)(REAL *y, ptrdiff_t ldy, ptrdiff_t y_step, int T, int B, int W,
                           const int *perm, const int *lens, int k, int n) {
    KSFX(plan_padding)(y, ldy, y_step, T, B, W, perm, lens, k, n);
}
