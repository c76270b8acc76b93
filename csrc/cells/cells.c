/* The cell kernels of cells.h, compiled once per precision and instruction set from
 * cells_impl.h; each public function picks its copy from ctx->isa. */
#include <math.h>

#include "cells.h"
#include "activations.h"
#include "cpu_features.h"

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define KSFX(name) CAT(SFX(name), ISA)


#define REAL float
#define SFX(name) name##_f32
#define ISA _base
#include "cells_impl.h"
#undef ISA
#if LSTMCORE_X86_DISPATCH
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define ISA _avx2
#include "cells_impl.h"
#undef ISA
#pragma GCC pop_options
#pragma GCC push_options
#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ < 8)
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")
#else
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,prefer-vector-width=512")
#endif
#define ISA _avx512
#include "cells_impl.h"
#undef ISA
#pragma GCC pop_options
#endif
#undef REAL
#undef SFX

#define REAL double
#define SFX(name) name##_f64
#define ISA _base
#include "cells_impl.h"
#undef ISA
#if LSTMCORE_X86_DISPATCH
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define ISA _avx2
#include "cells_impl.h"
#undef ISA
#pragma GCC pop_options
#pragma GCC push_options
#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ < 8)
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")
#else
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,prefer-vector-width=512")
#endif
#define ISA _avx512
#include "cells_impl.h"
#undef ISA
#pragma GCC pop_options
#endif
#undef REAL
#undef SFX

int lc_best_isa(void) { return lstmcore_cpu_best_isa(); }

#if LSTMCORE_X86_DISPATCH
#define PICK(name, args)                                                  \
    switch (ctx->isa) {                                                   \
    case 2: CAT(name, _avx512) args; break;                               \
    case 1: CAT(name, _avx2) args; break;                                 \
    default: CAT(name, _base) args;                                       \
    }
#else
#define PICK(name, args) CAT(name, _base) args
#endif

#define LC_DEFINE(REAL, S)                                                                         \
    void lc_rnn_forward##S(const lc_ctx *ctx, int B, int H, lc_act act, const REAL *zx,           \
                           ptrdiff_t ldzx, const REAL *zh, const REAL *b, REAL *h, ptrdiff_t ldh) \
    {                                                                                              \
        PICK(lc_rnn_forward##S, (ctx, B, H, act, zx, ldzx, zh, b, h, ldh));                       \
    }                                                                                              \
    void lc_rnn_backward##S(const lc_ctx *ctx, int B, int H, lc_act act, const REAL *dh,          \
                            const REAL *dy, ptrdiff_t lddy, const REAL *h, ptrdiff_t ldh,         \
                            REAL *dz) {                                                           \
        PICK(lc_rnn_backward##S, (ctx, B, H, act, dh, dy, lddy, h, ldh, dz));                     \
    }                                                                                              \
    void lc_gru_forward##S(const lc_ctx *ctx, int B, int H, int phase, int reset_after,           \
                           lc_act act, lc_act ract, const REAL *zx, ptrdiff_t ldzx,               \
                           const REAL *zh, const REAL *b, const REAL *h_prev, ptrdiff_t ldhp,     \
                           REAL *gates, REAL *extra, REAL *h, ptrdiff_t ldh) {                    \
        PICK(lc_gru_forward##S, (ctx, B, H, phase, reset_after, act, ract, zx, ldzx, zh, b,       \
                                 h_prev, ldhp, gates, extra, h, ldh));                            \
    }                                                                                              \
    void lc_gru_backward##S(const lc_ctx *ctx, int B, int H, int phase, int reset_after,          \
                            lc_act act, lc_act ract, const REAL *dh, const REAL *dy,              \
                            ptrdiff_t lddy, const REAL *gates, const REAL *extra,                 \
                            const REAL *h_prev, ptrdiff_t ldhp, const REAL *drh, REAL *dzx,       \
                            REAL *dzh, REAL *dh_prev) {                                           \
        PICK(lc_gru_backward##S, (ctx, B, H, phase, reset_after, act, ract, dh, dy, lddy, gates,  \
                                  extra, h_prev, ldhp, drh, dzx, dzh, dh_prev));                  \
    }                                                                                              \
    void lc_lstm_forward##S(const lc_ctx *ctx, int B, int H, const lc_lstm_opts *o,               \
                            const REAL *zx, ptrdiff_t ldzx, const REAL *zh, const REAL *b,        \
                            const REAL *p, const REAL *c_prev, REAL *c, REAL *gates, REAL *zpre,  \
                            REAL *m, ptrdiff_t ldm) {                                             \
        PICK(lc_lstm_forward##S, (ctx, B, H, o, zx, ldzx, zh, b, p, c_prev, c, gates, zpre, m,    \
                                  ldm));                                                          \
    }                                                                                              \
    void lc_lstm_backward##S(const lc_ctx *ctx, int B, int H, const lc_lstm_opts *o,              \
                             const REAL *dm, const REAL *dy, ptrdiff_t lddy, REAL *dc,            \
                             const REAL *gates, const REAL *zpre, const REAL *p,                  \
                             const REAL *c_prev, const REAL *c, REAL *dz) {                       \
        PICK(lc_lstm_backward##S, (ctx, B, H, o, dm, dy, lddy, dc, gates, zpre, p, c_prev, c,     \
                                   dz));                                                          \
    }                                                                                              \
    void lc_act_apply##S(const lc_ctx *ctx, lc_act act, const REAL *x, REAL *y, ptrdiff_t n) {    \
        PICK(lc_act_apply##S, (ctx, act, x, y, n));                                               \
    }                                                                                              \
    void lc_act_derivative##S(const lc_ctx *ctx, lc_act act, const REAL *y, REAL *d,              \
                              ptrdiff_t n) {                                                      \
        PICK(lc_act_derivative##S, (ctx, act, y, d, n));                                          \
    }

LC_DEFINE(float, _f32)
LC_DEFINE(double, _f64)
