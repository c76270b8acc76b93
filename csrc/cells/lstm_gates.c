/* Gate maths of one LSTM step: see lstm_gates.h for the contract. */
#include <math.h>

#include "cells/lstm_gates.h"
#include "cells/cells.h"
#include "math/activations.h"
#include "rt/dispatch.h"
#include "rt/split.h"

/* The tuning knobs come from the context of each call (rt/context.h), set by the caller from the
 * machine and the user's settings; tests set them to run every path:
 * - par_min: fewer row elements than this per call run the gate loops on one thread (forking costs
 *   more than it saves; lstmcore.engine._lstm's default 4096); the packed products scale it by 64.
 * - seq_par_min: a packed sequence with fewer multiply-adds per step (B * (I + H) * 4H, over 4)
 *   runs on one thread. Measured on 2 cores, with the barrier below and OpenBLAS's short worker
 *   spin (src/lstmcore/engine/_env.py): from S5 (B (I + H) H = 18K) up, 2 threads beat 1, in
 *   inference and in training (S2 training step 20.3 -> 14.4 ms); default 2^14.
 * - row_split_bytes: with several threads, a packed sequence whose packed weights take at most
 *   this many bytes splits the batch rows between the threads (each runs the whole sequence on
 *   its rows, with all the weights in its own cache and no barrier), a larger one splits the
 *   panels (each thread keeps its slice of the weights, one barrier per step). Rows are split
 *   only where they keep at least as many threads busy as the panels would (lstmcore_row_split),
 *   and only by the register-blocked kernels (AVX-512, AVX2; the generic ones go one row at a
 *   time). A negative value (the default) takes 3/4 of the
 *   context's L2 per core: a thread keeps all the weights in its own L2; and the rows are split
 *   too where even a thread's share of the panels exceeds that: the panel split would keep
 *   nothing in the L2 either, and pay its barrier at every step. Measured on 2 cores (Intel Xeon
 *   with AVX-512, 2 MiB of L2 per core), each thread's rows one contiguous range: S6 (1.25 MiB)
 *   1.20-1.44 ms per step with the rows split, 2.2-4.2 ms with the panels split (the barrier
 *   waits on a preempted core), 2.6 ms on one thread; S3 inference (6 MiB, 3 MiB a thread's
 *   share of the panels) 151-169 ms with the rows split, 254-310 ms with the panels split,
 *   283-287 ms on one thread; B, T, I, H = 64, 50, 512, 1024 (24 MiB) 358-464 against
 *   420-570 ms; bench/README.md. */
#define LSTMCORE_PAR_MIN (ctx->par_min)
#define LSTMCORE_SEQ_PAR_MIN (ctx->seq_par_min)

/* 1: split the batch rows (row_blocks register blocks of rows) between nthreads threads, 0: the
 * panels (panels of them); weight_bytes: the packed weights the sequence reads at each step. The
 * rows are split only where they keep at least as many threads busy as the panels would: with
 * more threads than blocks of rows, the rows' threads run without a barrier while the panels'
 * meet at every step (S1, B = 32, H = 50, on 16 threads: 8 blocks of rows, 4 panels) */
static inline int lstmcore_row_split(const lc_ctx *ctx, ptrdiff_t weight_bytes, int row_blocks,
                                     int panels, int nthreads) {
    const int by_rows = row_blocks < nthreads ? row_blocks : nthreads;
    const int by_panels = panels < nthreads ? panels : nthreads;
    if (by_rows < 2 || by_rows < by_panels)
        return 0;
    if (ctx->row_split_bytes >= 0)
        return weight_bytes <= ctx->row_split_bytes;
    const ptrdiff_t limit = (ptrdiff_t)ctx->l2 / 4 * 3;
    return weight_bytes <= limit || weight_bytes / nthreads > limit;
}

/* Blocks of 6 rows among rows (rows6: the kernels take them), as many as leave a multiple of
 * step_r where rows is even (32: 4 x 6 and 2 x 4, not 5 x 6 and 2 rows alone) */
static inline int lstmcore_six_blocks(int rows, int rows6, int step_r) {
    int six = rows6 && rows > 0 ? rows / 6 : 0;
    if (six > 0 && (rows - 6 * six) % step_r == 2)
        six--;
    return six;
}

#ifdef _OPENMP
#include <omp.h>
#endif
#include "rt/barrier.h" /* lstmcore_barrier: the packed sequences' panel split */

/* The plain LSTM's options for the generic gate maths (cells/lstm_cell_impl.h): act (an
 * LSTMCORE_* code, the same as LC_*) for g and for c's output, ract LSTMCORE_RSIGMOID or Keras's
 * hard sigmoid (LSTMCORE_RHARD_SIGMOID: x / 6 + 1/2, clipped to [0, 1]). */
static inline lc_lstm_opts lstm_plain_opts(int act, int ract) {
    lc_lstm_opts o;
    o.act.code = o.out_act.code = act;
    o.act.alpha = o.act.beta = o.out_act.alpha = o.out_act.beta = 0;
    o.ract.code = ract == LSTMCORE_RHARD_SIGMOID ? LC_HARD_SIGMOID : LC_SIGMOID;
    o.ract.alpha = 1.0 / 6;
    o.ract.beta = 0.5;
    o.clip = 0;
    o.input_forget = 0;
    return o;
}

/* CALL(opts) with the plain LSTM's options (lstm_plain_opts(act, ract)); its usual activations
 * (tanh or relu, with sigmoid) as constants, so that the activations' switches fold in the gate
 * maths CALL inlines (cells/lstm_cell_impl.h) */
#define LSTM_PLAIN_CALL(act, ract, CALL)                                                         \
    do {                                                                                         \
        if ((act) == LSTMCORE_TANH && (ract) == LSTMCORE_RSIGMOID) {                             \
            const lc_lstm_opts oc_ = lstm_plain_opts(LSTMCORE_TANH, LSTMCORE_RSIGMOID);          \
            CALL(&oc_);                                                                          \
        } else if ((act) == LSTMCORE_RELU && (ract) == LSTMCORE_RSIGMOID) {                      \
            const lc_lstm_opts oc_ = lstm_plain_opts(LSTMCORE_RELU, LSTMCORE_RSIGMOID);          \
            CALL(&oc_);                                                                          \
        } else {                                                                                 \
            const lc_lstm_opts oc_ = lstm_plain_opts(act, ract);                                 \
            CALL(&oc_);                                                                          \
        }                                                                                        \
    } while (0)

int lc_openmp_enabled(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

/* Each kernel is compiled for the baseline target (_base) and, where GCC or clang build for x86
 * (LSTMCORE_X86_DISPATCH, rt/cpu_features.h), for AVX2+FMA (_avx2) and AVX-512 (_avx512)
 * (rt/isa_copies.h). The public functions pick one at run time (rt/dispatch.h's PICK). */
#define LSTMCORE_IMPL "cells/lstm_gates_impl.h"

#if LSTMCORE_X86_DISPATCH
#include <immintrin.h>  /* the AVX-512 step kernel; used only in functions built for it */
#endif

#define REAL float
#define SFX(name) name##_f32
#define V512 __m512
#define V512F(name) _mm512_##name##_ps
#include "cells/lstm_gates_copies.h"  /* undefines the macros above */

#define REAL double
#define SFX(name) name##_f64
#define V512 __m512d
#define V512F(name) _mm512_##name##_pd
#include "cells/lstm_gates_copies.h"  /* undefines the macros above */

/* The public functions of lstm_gates.h, once per precision: each picks its copy from ctx->isa.
 * The packing functions lay out the same from every copy (the wider ones copy faster), so that
 * weights packed with one instruction set serve the kernels of another. */
#define LC_LSTM_DEFINE(REAL, S)                                                                    \
    void lc_lstm_gates_forward##S(const lc_ctx *ctx, REAL *z, ptrdiff_t ldz, REAL *c, REAL *h,     \
                                  ptrdiff_t ldh, const REAL *c_prev, const REAL *b, int B, int H,  \
                                  int act, int ract) {                                             \
        PICK(lstm_gates_forward##S, ctx->isa,                                                      \
             (z, ldz, c, h, ldh, c_prev, b, B, H, act, ract, ctx));                                \
    }                                                                                              \
    void lc_lstm_gates_backward##S(const lc_ctx *ctx, REAL *dz, REAL *dc, const REAL *dh,          \
                                   const REAL *dy, ptrdiff_t lddy, const REAL *gates,              \
                                   const REAL *c_prev, const REAL *c, int B, int H, int act,       \
                                   int ract) {                                                     \
        PICK(lstm_gates_backward##S, ctx->isa,                                                     \
             (dz, dc, dh, dy, lddy, gates, c_prev, c, B, H, act, ract, ctx));                      \
    }                                                                                              \
    void lc_sum_rows##S(const lc_ctx *ctx, REAL *out, const REAL *a, ptrdiff_t R, int G) {         \
        PICK(sum_rows##S, ctx->isa, (out, a, R, G, ctx));                                          \
    }                                                                                              \
    void lc_lstm_step_pack##S(const lc_ctx *ctx, const REAL *w_x, const REAL *w_h, const REAL *b,  \
                              int I, int H, REAL *wp, REAL *bp) {                                  \
        PICK(lstm_step_pack##S, ctx->isa, (ctx, w_x, w_h, b, I, H, wp, bp));                       \
    }                                                                                              \
    void lc_lstm_step_packed##S(const lc_ctx *ctx, const REAL *wp, const REAL *bp, const REAL *x,  \
                                ptrdiff_t ldx, const REAL *h_prev, ptrdiff_t ldhp, REAL *c,        \
                                REAL *h, ptrdiff_t ldh, int B, int I, int H, int act, int ract) {  \
        PICK(lstm_step_packed##S, ctx->isa,                                                        \
             (wp, bp, x, ldx, h_prev, ldhp, c, h, ldh, B, I, H, act, ract, ctx));                  \
    }                                                                                              \
    void lc_lstm_seq_packed##S(const lc_ctx *ctx, const REAL *wp, const REAL *bp, const REAL *x,   \
                               ptrdiff_t ldx, ptrdiff_t x_step, const REAL *h0, REAL *y,           \
                               ptrdiff_t ldy, ptrdiff_t y_step, REAL *c, ptrdiff_t c_step,         \
                               REAL *gates, ptrdiff_t ldg, ptrdiff_t g_step, int T, int B,         \
                               const int *nact, int I, int H, int act, int ract) {                 \
        PICK(lstm_seq_packed##S, ctx->isa, (wp, bp, x, ldx, x_step, h0, y, ldy, y_step, c, c_step, \
                                            gates, ldg, g_step, T, B, nact, I, H, act, ract, ctx));\
    }                                                                                              \
    void lc_lstm_seq_packed_rows##S(const lc_ctx *ctx, const REAL *wp, const REAL *bp,             \
                                    const REAL *x, ptrdiff_t ldx, ptrdiff_t x_step,                \
                                    const REAL *h0, REAL *y, ptrdiff_t ldy, ptrdiff_t y_step,      \
                                    REAL *c, REAL *work, int T, int B, const int *nact,            \
                                    const int *perm, const int *lens, int reverse, int I, int H,   \
                                    int act, int ract) {                                           \
        PICK(lstm_seq_packed_rows##S, ctx->isa, (wp, bp, x, ldx, x_step, h0, y, ldy, y_step, c,    \
                                                 work, T, B, nact, perm, lens, reverse, I, H, act, \
                                                 ract, ctx));                                      \
    }                                                                                              \
    lc_seq_plan lc_lstm_seq_plan##S(const lc_ctx *ctx, int B, int I, int H) {                      \
        lc_seq_plan plan;                                                                          \
        PICK(plan = lstm_seq_plan##S, ctx->isa, (ctx, B, I, H));                                   \
        return plan;                                                                               \
    }                                                                                              \
    void lc_pack_transposed##S(const lc_ctx *ctx, const REAL *w, int R, ptrdiff_t C, REAL *wpt) {  \
        PICK(lstm_pack_transposed##S, ctx->isa, (ctx, w, R, C, wpt));                              \
    }                                                                                              \
    void lc_matmul_packed##S(const lc_ctx *ctx, const REAL *wpt, const REAL *a, ptrdiff_t lda,     \
                             REAL *out, ptrdiff_t ldo, ptrdiff_t M, int K, int N) {                \
        PICK(lstm_matmul_packed##S, ctx->isa, (wpt, a, lda, out, ldo, M, K, N, ctx));              \
    }                                                                                              \
    void lc_matmul_tn##S(const lc_ctx *ctx, const REAL *a, ptrdiff_t lda,                         \
                         const lc_step_rows *ra, const REAL *b, ptrdiff_t ldb, REAL *out,          \
                         ptrdiff_t ldo, int M, int N, ptrdiff_t K) {                               \
        PICK(lstm_matmul_tn##S, ctx->isa, (a, lda, ra, b, ldb, out, ldo, M, N, K, ctx));           \
    }                                                                                              \
    void lc_matmul_tn2##S(const lc_ctx *ctx, const REAL *a1, ptrdiff_t lda1,                      \
                          const lc_step_rows *ra1, int M1, const REAL *a2, ptrdiff_t lda2,         \
                          const lc_step_rows *ra2, int M2, const REAL *b, ptrdiff_t ldb,           \
                          REAL *out1, ptrdiff_t ldo1, REAL *out2, ptrdiff_t ldo2, REAL *sums,      \
                          int N, ptrdiff_t K) {                                                    \
        PICK(lstm_matmul_tn2##S, ctx->isa, (a1, lda1, ra1, M1, a2, lda2, ra2, M2, b, ldb, out1,    \
                                            ldo1, out2, ldo2, sums, N, K, ctx));                   \
    }                                                                                              \
    ptrdiff_t lc_tn_blocked_size##S(const lc_ctx *ctx, int M1, int M2, int N, ptrdiff_t K) {      \
        ptrdiff_t size;                                                                            \
        PICK(size = lstm_tn_blocked_size##S, ctx->isa, (ctx, M1, M2, N, K));                       \
        return size;                                                                               \
    }                                                                                              \
    void lc_matmul_tn2_blocked##S(const lc_ctx *ctx, const REAL *a1, ptrdiff_t lda1,              \
                                  const lc_step_rows *ra1, int M1, const REAL *a2, ptrdiff_t lda2, \
                                  const lc_step_rows *ra2, int M2, const REAL *b, ptrdiff_t ldb,   \
                                  REAL *out1, ptrdiff_t ldo1, REAL *out2, ptrdiff_t ldo2,          \
                                  REAL *sums, int N, ptrdiff_t K, REAL *ws) {                      \
        PICK(lstm_matmul_tn2_blocked##S, ctx->isa, (a1, lda1, ra1, M1, a2, lda2, ra2, M2, b, ldb,  \
                                                    out1, ldo1, out2, ldo2, sums, N, K, ws, ctx)); \
    }                                                                                              \
    void lc_lstm_seq_backward_packed##S(const lc_ctx *ctx, const REAL *wpt, REAL *dz,              \
                                        const REAL *dy, ptrdiff_t ldy, const REAL *gates,          \
                                        const REAL *c, const REAL *h, REAL *dh, REAL *dc, int T,   \
                                        int B, int Bs,                                             \
                                        const int *nact, int H, int act, int ract,                 \
                                        const ptrdiff_t *zoff) {                                   \
        PICK(lstm_seq_backward_packed##S, ctx->isa,                                                \
             (wpt, dz, dy, ldy, gates, c, h, dh, dc, T, B, Bs, nact, H, act, ract, zoff, ctx));    \
    }

LC_LSTM_DEFINE(float, _f32)
LC_LSTM_DEFINE(double, _f64)

ptrdiff_t lc_lstm_step_pack_size(int I, int H, int elem_size) {
    const int U = 64 / elem_size;
    return (ptrdiff_t)((H + U - 1) / U) * ((ptrdiff_t)I + H) * 4 * U;
}

ptrdiff_t lc_pack_transposed_size(int R, ptrdiff_t C, int elem_size) {
    const int W = 256 / elem_size;  /* STEP_W */
    return (ptrdiff_t)((R + W - 1) / W) * C * W;
}
