/* The cell contract: the gate maths of every recurrent cell over a block of rows, forward and
 * backward, float32 (_f32) and float64 (_f64). Plain C99, no allocation, no BLAS, no Python.
 *
 * A cell has K gate blocks of H columns (G = K*H): the LSTM K = 4 (i, f, g, o), the GRU K = 3
 * (z, r, n), the simple RNN K = 1. Its step is
 *     zx = x_t @ w_x (B, G)            the input product, one GEMM over all steps, by the driver
 *     zh = src @ w_h[:, cols] (B, G)   the recurrent product(s), by the driver, per phase
 *     the cell's gate maths            these functions
 * Most cells have one phase (src = h_prev, every column). The GRU with reset_after=False has two:
 * phase 0 makes z and r from the first 2H columns and writes rh = r * h_prev, then the driver
 * multiplies rh by the last H columns of w_h, and phase 1 makes n and h. The backward runs the
 * phases in reverse; between them the driver computes the gradient of phase 1's source
 * (drh = dz[:, 2H:] @ w_h[:, 2H:].T). The sequence drivers (src/lstmcore/engine/_cells.pyx) are written
 * once for every cell over this contract.
 *
 * What the training cache keeps per step, by cell (time-major, (T, B, .)):
 *   RNN  h (B, H)
 *   GRU  gates (B, 3H) activated [z|r|n], extra (B, H): zh_n + b_h,n (reset_after) or r * h_prev
 *   LSTM gates (B, 4H) activated [i|f|g|o], c (B, H); zpre (B, 4H) the clipped pre-activations
 *        when clip is set; m (B, H) = o * phi(c) when the output is projected (h = m @ w_hr)
 *
 * Rows of every (B, .) argument are contiguous with the leading dimension given (ld*, in
 * elements) or, where none is given, the natural one. No output overlaps an input unless said.
 * Activations are lc_act (code, alpha, beta): codes of lstmcore._validate.CELL_ACTIVATIONS.
 * The kernels come compiled for every instruction set (cells.c); ctx->isa picks one.
 */
#ifndef LSTMCORE_CELLS_H
#define LSTMCORE_CELLS_H

#include <stddef.h>
#include <stdint.h>

#include "math/act.h"     /* lc_act: an activation and its parameters */
#include "rt/context.h" /* lc_ctx: what a call runs with (no process-wide state) */

/* LSTM options of the generic LSTM cell (the plain LSTM has tuned kernels in lstm_gates.h). */
typedef struct {
    lc_act act;           /* the candidate g */
    lc_act ract;          /* the gates i, f, o */
    lc_act out_act;       /* phi of m = o * phi(c) */
    double clip;          /* > 0: every pre-activation clipped to [-clip, clip]; 0: none */
    int input_forget;     /* 1: f = 1 - i */
} lc_lstm_opts;

/* The highest isa the CPU runs (0, 1, 2). */
int lc_best_isa(void);

#define LC_DECLARE(REAL, S)                                                                        \
    /* Simple RNN. Forward: h (B, H) rows ldh apart = act(zx + zh + b); zx rows ldzx apart.    \
     * Backward: dz (B, H) = (dh + dy) * act'(h); dy rows lddy apart or NULL. */                  \
    void lc_rnn_forward##S(const lc_ctx *ctx, int B, int H, lc_act act, const REAL *zx,           \
                           ptrdiff_t ldzx, const REAL *zh, const REAL *b, REAL *h, ptrdiff_t ldh); \
    void lc_rnn_backward##S(const lc_ctx *ctx, int B, int H, lc_act act, const REAL *dh,          \
                            const REAL *dy, ptrdiff_t lddy, const REAL *h, ptrdiff_t ldh,         \
                            REAL *dz);                                                            \
    /* GRU forward, phase 0 or 1 (reset_after=False), or the whole step (reset_after=True).     \
     * zx (B, 3H) rows ldzx apart | zh (B, 3H): the recurrent product, no bias                  \
     * b: reset_after (2, 3H) [input | recurrent], else (3H) | h_prev (B, H) rows ldhp apart     \
     * gates (B, 3H) out | extra (B, H) out; both NULL with reset_after: no cache (inference, a    \
     * row's gates in the L1, the same h) | h (B, H) rows ldh apart, out (at the last phase) */    \
    void lc_gru_forward##S(const lc_ctx *ctx, int B, int H, int phase, int reset_after,           \
                           lc_act act, lc_act ract, const REAL *zx, ptrdiff_t ldzx,               \
                           const REAL *zh, const REAL *b, const REAL *h_prev, ptrdiff_t ldhp,     \
                           REAL *gates, REAL *extra, REAL *h, ptrdiff_t ldh);                     \
    /* GRU backward, phase 1 then 0 (reset_after=False), or the whole step (reset_after=True).   \
     * dh (B, H) in: into step t from step t+1 | dy (B, H) rows lddy apart or NULL              \
     * gates, extra, h_prev: the forward's | drh (B, H) in, phase 0 only: d(r * h_prev)          \
     * dzx (B, 3H) out: gradient of the input pre-activations | dzh (B, 3H) out: of zh (the same  \
     * buffer as dzx unless reset_after) | dh_prev (B, H) out: the part not through w_h          \
     * (phase 1 writes it, phase 0 adds to it) */                                                 \
    void lc_gru_backward##S(const lc_ctx *ctx, int B, int H, int phase, int reset_after,          \
                            lc_act act, lc_act ract, const REAL *dh, const REAL *dy,              \
                            ptrdiff_t lddy, const REAL *gates, const REAL *extra,                 \
                            const REAL *h_prev, ptrdiff_t ldhp, const REAL *drh, REAL *dzx,       \
                            REAL *dzh, REAL *dh_prev);                                            \
    /* LSTM with options. Forward: zx (B, 4H) rows ldzx apart | zh (B, 4H) | b (4H)             \
     * p (3, H) peepholes i, f, o or NULL | c_prev (B, H) | c (B, H) out | gates (B, 4H) out     \
     * zpre (B, 4H) out or NULL | m (B, H) out, rows ldm apart: o * out_act(c) (the h of an     \
     * unprojected LSTM). Backward: dm (B, H) in | dy (B, H) rows lddy apart, added to dm, or    \
     * NULL | dc (B, H) in: from step t+1, out: dc_prev | dz (B, 4H) out (pre-activations). */    \
    void lc_lstm_forward##S(const lc_ctx *ctx, int B, int H, const lc_lstm_opts *o,               \
                            const REAL *zx, ptrdiff_t ldzx, const REAL *zh, const REAL *b,        \
                            const REAL *p, const REAL *c_prev, REAL *c, REAL *gates, REAL *zpre,  \
                            REAL *m, ptrdiff_t ldm);                                              \
    void lc_lstm_backward##S(const lc_ctx *ctx, int B, int H, const lc_lstm_opts *o,              \
                             const REAL *dm, const REAL *dy, ptrdiff_t lddy, REAL *dc,            \
                             const REAL *gates, const REAL *zpre, const REAL *p,                  \
                             const REAL *c_prev, const REAL *c, REAL *dz);                        \
    /* y (n) = act(x (n)), elementwise (the reference's activations.apply; tests). */            \
    void lc_act_apply##S(const lc_ctx *ctx, lc_act act, const REAL *x, REAL *y, ptrdiff_t n);     \
    /* d (n) *= act'(x) written from y = act(x). */                                              \
    void lc_act_derivative##S(const lc_ctx *ctx, lc_act act, const REAL *y, REAL *d, ptrdiff_t n); \
    /* y (R, N) rows ldy apart = softmax of each row of x (R, N) rows ldx apart (y may be x),  \
     * and its backward dx = y * (dy - sum(dy * y)) per row (dx may be dy), the rows split       \
     * between ctx->nthreads threads. N >= 1. */                                                  \
    void lc_softmax_rows##S(const lc_ctx *ctx, ptrdiff_t R, int N, const REAL *x, ptrdiff_t ldx,  \
                            REAL *y, ptrdiff_t ldy);                                              \
    void lc_softmax_rows_backward##S(const lc_ctx *ctx, ptrdiff_t R, int N, const REAL *y,       \
                                     ptrdiff_t ldy, const REAL *dy, ptrdiff_t lddy, REAL *dx,     \
                                     ptrdiff_t lddx);                                             \
    /* out (n) = a dropout mask: scale where the hash of (seed, element index) is >= threshold  \
     * (32 bits: keep with probability 1 - threshold / 2^32), else 0; the elements in blocks    \
     * split between ctx->nthreads threads, the same mask for any split. */                    \
    void lc_dropout_mask##S(const lc_ctx *ctx, ptrdiff_t n, uint64_t seed, uint32_t threshold,   \
                            REAL scale, REAL *out);                                               \
    /* A sequence plan's rows in the caller's order (lengths: plan row r is the caller's row      \
     * perm[r], of lens[r] steps, non-increasing; step s of row r is time lens[r] - 1 - s with    \
     * reverse, else s). Gather: dst (r1 - r0, W) rows W apart = step s's rows [r0, r1) of src    \
     * (the caller's rows ld apart, steps step apart). Scatter: h (r1 - r0, W) rows ldh apart     \
     * into y (the caller's rows ldy apart, steps y_step apart), with streaming stores. Padding:  \
     * piece k of n equal pieces of y's steps past the rows' lengths set to 0, then a fence for   \
     * the streaming stores (every thread that scattered calls it before y is read). */           \
    void lc_rows_gather##S(const lc_ctx *ctx, const REAL *src, ptrdiff_t ld, ptrdiff_t step,     \
                           int W, const int *perm, const int *lens, int reverse, int s, int r0,   \
                           int r1, REAL *dst);                                                    \
    void lc_rows_scatter##S(const lc_ctx *ctx, const REAL *h, ptrdiff_t ldh, REAL *y,             \
                            ptrdiff_t ldy, ptrdiff_t y_step, int W, const int *perm,              \
                            const int *lens, int reverse, int s, int r0, int r1);                 \
    void lc_rows_padding##S(const lc_ctx *ctx, REAL *y, ptrdiff_t ldy, ptrdiff_t y_step, int T,   \
                            int B, int W, const int *perm, const int *lens, int k, int n);

LC_DECLARE(float, _f32)
LC_DECLARE(double, _f64)
#undef LC_DECLARE

/* The pieces a row split's padding goes in (lc_rows_padding's n), each to the first thread done
 * with its rows: the shares' steps differ by up to a row's (S2 with lengths over 1..T, 2
 * threads: 1559 and 1673 row-steps), and the padding (1.6 MB there) evens them. The LSTM's
 * lstm_seq_packed_rows and the cell engine's _seq_forward_rows. */
#define LC_PAD_PIECES 16

#endif /* LSTMCORE_CELLS_H */
