/* The cell kernels of cells.h, compiled once per precision and instruction set from
 * cells_impl.h; each public function picks its copy from ctx->isa. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "cells/cells.h"
#include "math/activations.h"
#include "rt/dispatch.h"
#if LSTMCORE_X86_DISPATCH
#include <immintrin.h>  /* the AVX-512 copies' masked loads and rcp14 (math/spans_impl.h) */
#endif

#define LSTMCORE_IMPL "cells/cells_impl.h"

#include "rt/precision_copies.h"

int lc_best_isa(void) { return lstmcore_cpu_best_isa(); }

#define PICK_CTX(name, args) PICK(name, ctx->isa, args)

#define LC_DEFINE(REAL, S)                                                                         \
    void lc_rnn_forward##S(const lc_ctx *ctx, int B, int H, lc_act act, const REAL *zx,           \
                           ptrdiff_t ldzx, const REAL *zh, const REAL *b, REAL *h, ptrdiff_t ldh) \
    {                                                                                              \
        PICK_CTX(lc_rnn_forward##S, (ctx, B, H, act, zx, ldzx, zh, b, h, ldh));                       \
    }                                                                                              \
    void lc_rnn_backward##S(const lc_ctx *ctx, int B, int H, lc_act act, const REAL *dh,          \
                            const REAL *dy, ptrdiff_t lddy, const REAL *h, ptrdiff_t ldh,         \
                            REAL *dz) {                                                           \
        PICK_CTX(lc_rnn_backward##S, (ctx, B, H, act, dh, dy, lddy, h, ldh, dz));                     \
    }                                                                                              \
    void lc_gru_forward##S(const lc_ctx *ctx, int B, int H, int phase, int reset_after,           \
                           lc_act act, lc_act ract, const REAL *zx, ptrdiff_t ldzx,               \
                           const REAL *zh, const REAL *b, const REAL *h_prev, ptrdiff_t ldhp,     \
                           REAL *gates, REAL *extra, REAL *h, ptrdiff_t ldh) {                    \
        PICK_CTX(lc_gru_forward##S, (ctx, B, H, phase, reset_after, act, ract, zx, ldzx, zh, b,       \
                                 h_prev, ldhp, gates, extra, h, ldh));                            \
    }                                                                                              \
    void lc_gru_backward##S(const lc_ctx *ctx, int B, int H, int phase, int reset_after,          \
                            lc_act act, lc_act ract, const REAL *dh, const REAL *dy,              \
                            ptrdiff_t lddy, const REAL *gates, const REAL *extra,                 \
                            const REAL *h_prev, ptrdiff_t ldhp, const REAL *drh, REAL *dzx,       \
                            REAL *dzh, REAL *dh_prev) {                                           \
        PICK_CTX(lc_gru_backward##S, (ctx, B, H, phase, reset_after, act, ract, dh, dy, lddy, gates,  \
                                  extra, h_prev, ldhp, drh, dzx, dzh, dh_prev));                  \
    }                                                                                              \
    void lc_lstm_forward##S(const lc_ctx *ctx, int B, int H, const lc_lstm_opts *o,               \
                            const REAL *zx, ptrdiff_t ldzx, const REAL *zh, const REAL *b,        \
                            const REAL *p, const REAL *c_prev, REAL *c, REAL *gates, REAL *zpre,  \
                            REAL *m, ptrdiff_t ldm) {                                             \
        PICK_CTX(lc_lstm_forward##S, (ctx, B, H, o, zx, ldzx, zh, b, p, c_prev, c, gates, zpre, m,    \
                                  ldm));                                                          \
    }                                                                                              \
    void lc_lstm_backward##S(const lc_ctx *ctx, int B, int H, const lc_lstm_opts *o,              \
                             const REAL *dm, const REAL *dy, ptrdiff_t lddy, REAL *dc,            \
                             const REAL *gates, const REAL *zpre, const REAL *p,                  \
                             const REAL *c_prev, const REAL *c, REAL *dz) {                       \
        PICK_CTX(lc_lstm_backward##S, (ctx, B, H, o, dm, dy, lddy, dc, gates, zpre, p, c_prev, c,     \
                                   dz));                                                          \
    }                                                                                              \
    void lc_act_apply##S(const lc_ctx *ctx, lc_act act, const REAL *x, REAL *y, ptrdiff_t n) {    \
        PICK_CTX(lc_act_apply##S, (ctx, act, x, y, n));                                               \
    }                                                                                              \
    void lc_act_derivative##S(const lc_ctx *ctx, lc_act act, const REAL *y, REAL *d,              \
                              ptrdiff_t n) {                                                      \
        PICK_CTX(lc_act_derivative##S, (ctx, act, y, d, n));                                          \
    }                                                                                              \
    void lc_dropout_mask##S(const lc_ctx *ctx, ptrdiff_t n, uint64_t seed, uint32_t threshold,   \
                            REAL scale, REAL *out) {                                              \
        PICK_CTX(lc_dropout_mask##S, (ctx, n, seed, threshold, scale, out));                      \
    }                                                                                              \
    void lc_softmax_rows##S(const lc_ctx *ctx, ptrdiff_t R, int N, const REAL *x, ptrdiff_t ldx,  \
                            REAL *y, ptrdiff_t ldy) {                                             \
        PICK_CTX(lc_softmax_rows##S, (ctx, R, N, x, ldx, y, ldy));                                \
    }                                                                                              \
    void lc_softmax_rows_backward##S(const lc_ctx *ctx, ptrdiff_t R, int N, const REAL *y,       \
                                     ptrdiff_t ldy, const REAL *dy, ptrdiff_t lddy, REAL *dx,     \
                                     ptrdiff_t lddx) {                                            \
        PICK_CTX(lc_softmax_rows_backward##S, (ctx, R, N, y, ldy, dy, lddy, dx, lddx));           \
    }                                                                                              \
    void lc_rows_gather##S(const lc_ctx *ctx, const REAL *src, ptrdiff_t ld, ptrdiff_t step,     \
                           int W, const int *perm, const int *lens, int reverse, int s, int r0,   \
                           int r1, REAL *dst) {                                                   \
        PICK_CTX(lc_rows_gather##S, (src, ld, step, W, perm, lens, reverse, s, r0, r1, dst));      \
    }                                                                                              \
    void lc_rows_scatter##S(const lc_ctx *ctx, const REAL *h, ptrdiff_t ldh, REAL *y,             \
                            ptrdiff_t ldy, ptrdiff_t y_step, int W, const int *perm,              \
                            const int *lens, int reverse, int s, int r0, int r1) {                \
        PICK_CTX(lc_rows_scatter##S, (h, ldh, y, ldy, y_step, W, perm, lens, reverse, s, r0, r1)); \
    }                                                                                              \
    void lc_rows_padding##S(const lc_ctx *ctx, REAL *y, ptrdiff_t ldy, ptrdiff_t y_step, int T,   \
                            int B, int W, const int *perm, const int *lens, int k, int n) {       \
        PICK_CTX(lc_rows_padding##S, (y, ldy, y_step, T, B, W, perm, lens, k, n));                \
    }

LC_DEFINE(float, _f32)
LC_DEFINE(double, _f64)
