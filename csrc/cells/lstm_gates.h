/* Gate maths of one LSTM step over B rows, forward and backward, float32 and float64.
 *
 * Plain C99 (plus GCC's target pragma for the AVX2 copy): pointers and sizes only, no allocation, no BLAS, no Python. The products
 * (x @ w_x, h_prev @ w_h, dz @ w_h.T) are done by the caller; these functions do the rest.
 * Gate order i, f, g, o: each a block of H columns of the G = 4H columns of z and gates.
 * Row strides (ld*) are in elements. No output may overlap an input. Every function takes the
 * call's context first (rt/context.h): the instruction set of the copy it runs, ctx->nthreads
 * OpenMP threads where there are enough units to pay for the fork (ctx->par_min), and the
 * packed sequences' knobs (ctx->seq_par_min, ctx->row_split_bytes; lstm_gates.c says what they
 * do). No process-wide state. Exported names start with lc_.
 */
#ifndef LSTMCORE_LSTM_GATES_H
#define LSTMCORE_LSTM_GATES_H

#include <stddef.h>

#include "rt/context.h"

/* Forward, in place on z.
 * z      (B, G), rows ldz apart   in: x_t @ w_x + h_prev @ w_h (no bias); out: activated gates
 * c      (B, H)                   out: c = f * c_prev + i * g (not the buffer of c_prev)
 * h      (B, H), rows ldh apart   out: h = o * phi(c)
 * c_prev (B, H)                   in
 * b      (G)                      in: bias
 */
void lc_lstm_gates_forward_f32(const lc_ctx *ctx, float *z, ptrdiff_t ldz, float *c, float *h,
                               ptrdiff_t ldh, const float *c_prev, const float *b, int B, int H,
                               int act, int ract);
void lc_lstm_gates_forward_f64(const lc_ctx *ctx, double *z, ptrdiff_t ldz, double *c, double *h,
                               ptrdiff_t ldh, const double *c_prev, const double *b, int B, int H,
                               int act, int ract);

/* Backward of lc_lstm_gates_forward.
 * dz     (B, G)                   out: gradient of the pre-activations z
 * dc     (B, H)                   in: dc into step t (from step t+1); out: dc_prev
 * dh     (B, H)                   in: dh into step t from step t+1 (dz[t+1] @ w_h.T)
 * dy     (B, H), rows lddy apart  in: gradient of the output h at step t, or NULL for none
 * gates  (B, G)                   in: activated gates of step t
 * c_prev (B, H), c (B, H)         in: cell state before and after step t
 */
void lc_lstm_gates_backward_f32(const lc_ctx *ctx, float *dz, float *dc, const float *dh,
                                const float *dy, ptrdiff_t lddy, const float *gates,
                                const float *c_prev, const float *c, int B, int H, int act,
                                int ract);
void lc_lstm_gates_backward_f64(const lc_ctx *ctx, double *dz, double *dc, const double *dh,
                                const double *dy, ptrdiff_t lddy, const double *gates,
                                const double *c_prev, const double *c, int B, int H, int act,
                                int ract);

/* out (G) += a (R, G) summed over its R rows (the bias gradient). */
void lc_sum_rows_f32(const lc_ctx *ctx, float *out, const float *a, ptrdiff_t R, int G);
void lc_sum_rows_f64(const lc_ctx *ctx, double *out, const double *a, ptrdiff_t R, int G);

/* The LSTM step with weights packed once (the stepper, and lstm_forward for small batches): one
 * pass over the packed weights gives z = [x_t, h_prev] @ [w_x; w_h] panel by panel, each panel
 * followed at once by the gate maths of its units. LSTMCORE_STEP_U units per panel: 16 in
 * float32, 8 in float64; the last panel only as wide as its units need. (n_in is I: the header
 * is included after <complex.h>, whose I is a macro.)
 * lc_lstm_step_pack_size: room for wp (as if every panel were full); bp has 4 * U * ceil(H / U).
 * pack:   w_x (I, G), unused when n_in = 0 | w_h (H, G) | b (G) -> wp, bp
 * packed: x (B, I) rows ldx apart, unused when n_in = 0
 *         h_prev (B, H) rows ldhp apart | c (B, H) in: c_prev, out: c (in place)
 *         h (B, H) rows ldh apart, out: must not overlap h_prev
 */
#define LSTMCORE_STEP_U(REAL) ((int)(64 / sizeof(REAL)))
ptrdiff_t lc_lstm_step_pack_size(int n_in, int H, int elem_size);
void lc_lstm_step_pack_f32(const lc_ctx *ctx, const float *w_x, const float *w_h, const float *b,
                           int n_in, int H, float *wp, float *bp);
void lc_lstm_step_pack_f64(const lc_ctx *ctx, const double *w_x, const double *w_h,
                           const double *b, int n_in, int H, double *wp, double *bp);
void lc_lstm_step_packed_f32(const lc_ctx *ctx, const float *wp, const float *bp, const float *x,
                             ptrdiff_t ldx, const float *h_prev, ptrdiff_t ldhp, float *c,
                             float *h, ptrdiff_t ldh, int B, int n_in, int H, int act, int ract);
void lc_lstm_step_packed_f64(const lc_ctx *ctx, const double *wp, const double *bp,
                             const double *x, ptrdiff_t ldx, const double *h_prev, ptrdiff_t ldhp,
                             double *c, double *h, ptrdiff_t ldh, int B, int n_in, int H, int act,
                             int ract);

/* T packed steps: step t reads x_t (B, I) at x + t*x_step, rows ldx apart, and h_prev (h0 (B, H)
 * rows H apart, then step t-1's h), and writes its h at y + t*y_step, rows ldy apart.
 * c (B, H): c_step = 0: one buffer, in c0, out c_n; else step t reads c + t*c_step and writes
 * c + (t+1)*c_step. gates: NULL, or step t's activated gates (B, G) at gates + t*g_step, rows
 * ldg apart (the training cache). nact (T) or NULL: step t runs its first nact[t] rows only
 * (non-increasing: a batch sorted by length). With ctx->nthreads > 1, where the packed weights are small
 * (ctx->row_split_bytes), the threads take blocks of batch rows through the whole
 * sequence with no synchronisation; else each keeps its panels for the whole sequence and the
 * threads meet at a spin barrier once per step. */
void lc_lstm_seq_packed_f32(const lc_ctx *ctx, const float *wp, const float *bp, const float *x,
                            ptrdiff_t ldx, ptrdiff_t x_step, const float *h0, float *y,
                            ptrdiff_t ldy, ptrdiff_t y_step, float *c, ptrdiff_t c_step,
                            float *gates, ptrdiff_t ldg, ptrdiff_t g_step, int T, int B,
                            const int *nact, int n_in, int H, int act, int ract);
void lc_lstm_seq_packed_f64(const lc_ctx *ctx, const double *wp, const double *bp, const double *x,
                            ptrdiff_t ldx, ptrdiff_t x_step, const double *h0, double *y,
                            ptrdiff_t ldy, ptrdiff_t y_step, double *c, ptrdiff_t c_step,
                            double *gates, ptrdiff_t ldg, ptrdiff_t g_step, int T, int B,
                            const int *nact, int n_in, int H, int act, int ract);

/* lc_lstm_seq_packed over a sequence plan's rows (lengths, no mask) with the caller's x and y:
 * x and y (the caller's rows, rows ldx / ldy apart, steps x_step / y_step apart) | h0 (B, H), c
 * (B, H): in the plan's order, c in c0, out each row's c at its last step | perm (B): plan row r
 * is the caller's row perm[r] | lens (B): plan row r's steps, non-increasing, and nact (T) the
 * rows of each step | reverse: step s of row r reads and writes time lens[r] - 1 - s, else s |
 * work: 2 B H + 2 B n_in elements of scratch. y past each row's length is 0. Threads as
 * lc_lstm_seq_packed; the same results. */
void lc_lstm_seq_packed_rows_f32(const lc_ctx *ctx, const float *wp, const float *bp,
                                 const float *x, ptrdiff_t ldx, ptrdiff_t x_step, const float *h0,
                                 float *y, ptrdiff_t ldy, ptrdiff_t y_step, float *c, float *work,
                                 int T, int B, const int *nact, const int *perm, const int *lens,
                                 int reverse, int n_in, int H, int act, int ract);
void lc_lstm_seq_packed_rows_f64(const lc_ctx *ctx, const double *wp, const double *bp,
                                 const double *x, ptrdiff_t ldx, ptrdiff_t x_step,
                                 const double *h0, double *y, ptrdiff_t ldy, ptrdiff_t y_step,
                                 double *c, double *work, int T, int B, const int *nact,
                                 const int *perm, const int *lens, int reverse, int n_in, int H,
                                 int act, int ract);

/* The plan lc_lstm_seq_packed_* follows for a batch of B rows, I inputs and H units under ctx:
 * its row block, threads, row or panel split and panel prefetch (rt/context.h). */
lc_seq_plan lc_lstm_seq_plan_f32(const lc_ctx *ctx, int B, int n_in, int H);
lc_seq_plan lc_lstm_seq_plan_f64(const lc_ctx *ctx, int B, int n_in, int H);

/* The rows of a weight gradient's operand a (K, M) that a sequence plan ran, read where the
 * forward left them rather than copied together first (lengths: the cache's x and h, (T, B, M)):
 * row k of the product, off[t] <= k < off[t + 1], is row t * step + k - off[t] of a (step: B);
 * off: T + 1 offsets, non-decreasing, off[0] = 0, K <= off[T]. */
typedef struct {
    const ptrdiff_t *off;
    int T;
    ptrdiff_t step;
} lc_step_rows;

/* The step of product row k (0 <= k < off[T]): the last t with off[t] <= k */
static inline int lc_step_of(const lc_step_rows *s, ptrdiff_t k) {
    int lo = 0, hi = s->T - 1;
    while (lo < hi) {
        const int mid = (lo + hi + 1) / 2;
        if (s->off[mid] <= k)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

/* a's row for product row k (s NULL: k); *t: the step of a row at or before k (lc_step_of, or
 * the last call's), moved on to k's. Rows in increasing k each move *t at most T steps in all. */
static inline ptrdiff_t lc_step_row(const lc_step_rows *s, ptrdiff_t k, int *t) {
    if (!s)
        return k;
    while (*t + 1 < s->T && s->off[*t + 1] <= k)
        ++*t;
    return *t * s->step + k - s->off[*t];
}

/* Products with packed weights, for the backward.
 * lc_pack_transposed: w (R, C) -> wpt, lc_pack_transposed_size(R, C, elem_size) elements:
 *   panels of w.T by STEP_W (64 float32, 32 float64) of its R columns.
 * lc_matmul_packed: out (M, N) = a (M, K) @ w.T, wpt = lc_pack_transposed(w (N, K)).
 * lc_matmul_tn: out (M, N) += a.T @ b, a (K, M), b (K, N): the weight gradients.
 * lc_matmul_tn2: out1 (M1, N) += a1.T @ b, out2 (M2, N) += a2.T @ b, a1 (K, M1), a2 (K, M2), and
 *   sums (N) += b (K, N) summed over its rows (sums NULL: not), in one pass over b: dw_x, dw_h
 *   and db; each element as lc_matmul_tn and lc_sum_rows compute it (sums from 0: their bits).
 * Rows ld* elements apart; an lc_step_rows (or NULL: row k at k * ld*) says where each row of
 * a, a1 or a2 is. */
ptrdiff_t lc_pack_transposed_size(int R, ptrdiff_t C, int elem_size);
void lc_pack_transposed_f32(const lc_ctx *ctx, const float *w, int R, ptrdiff_t C, float *wpt);
void lc_pack_transposed_f64(const lc_ctx *ctx, const double *w, int R, ptrdiff_t C, double *wpt);
void lc_matmul_packed_f32(const lc_ctx *ctx, const float *wpt, const float *a, ptrdiff_t lda,
                          float *out, ptrdiff_t ldo, ptrdiff_t M, int K, int N);
void lc_matmul_packed_f64(const lc_ctx *ctx, const double *wpt, const double *a, ptrdiff_t lda,
                          double *out, ptrdiff_t ldo, ptrdiff_t M, int K, int N);
void lc_matmul_tn_f32(const lc_ctx *ctx, const float *a, ptrdiff_t lda, const lc_step_rows *ra,
                      const float *b, ptrdiff_t ldb, float *out, ptrdiff_t ldo, int M, int N,
                      ptrdiff_t K);
void lc_matmul_tn_f64(const lc_ctx *ctx, const double *a, ptrdiff_t lda,
                      const lc_step_rows *ra, const double *b, ptrdiff_t ldb, double *out,
                      ptrdiff_t ldo, int M, int N, ptrdiff_t K);
void lc_matmul_tn2_f32(const lc_ctx *ctx, const float *a1, ptrdiff_t lda1,
                       const lc_step_rows *ra1, int M1, const float *a2, ptrdiff_t lda2,
                       const lc_step_rows *ra2, int M2, const float *b, ptrdiff_t ldb,
                       float *out1, ptrdiff_t ldo1, float *out2, ptrdiff_t ldo2, float *sums,
                       int N, ptrdiff_t K);
void lc_matmul_tn2_f64(const lc_ctx *ctx, const double *a1, ptrdiff_t lda1,
                       const lc_step_rows *ra1, int M1, const double *a2, ptrdiff_t lda2,
                       const lc_step_rows *ra2, int M2, const double *b, ptrdiff_t ldb,
                       double *out1, ptrdiff_t ldo1, double *out2, ptrdiff_t ldo2, double *sums,
                       int N, ptrdiff_t K);

/* lc_matmul_tn2_blocked: lc_matmul_tn2's products in cache blocks for outputs past the L2, with
 * a's columns and b's blocks packed into ws (lc_tn_blocked_size(ctx, M1, M2, N, K) elements,
 * 64-byte aligned; a size of 0: no blocked kernel for ctx's instruction set, and
 * lc_matmul_tn2_blocked runs lc_matmul_tn2). Each element of out1 and out2 sums in blocks of
 * rows of b that ctx's caches size (the same bits on any number of threads; not lc_matmul_tn2's);
 * sums as lc_sum_rows. M2 = 0: one output (a2 and out2 unread, may be NULL). */
ptrdiff_t lc_tn_blocked_size_f32(const lc_ctx *ctx, int M1, int M2, int N, ptrdiff_t K);
ptrdiff_t lc_tn_blocked_size_f64(const lc_ctx *ctx, int M1, int M2, int N, ptrdiff_t K);
void lc_matmul_tn2_blocked_f32(const lc_ctx *ctx, const float *a1, ptrdiff_t lda1,
                               const lc_step_rows *ra1, int M1, const float *a2, ptrdiff_t lda2,
                               const lc_step_rows *ra2, int M2, const float *b, ptrdiff_t ldb,
                               float *out1, ptrdiff_t ldo1, float *out2, ptrdiff_t ldo2,
                               float *sums, int N, ptrdiff_t K, float *ws);
void lc_matmul_tn2_blocked_f64(const lc_ctx *ctx, const double *a1, ptrdiff_t lda1,
                               const lc_step_rows *ra1, int M1, const double *a2, ptrdiff_t lda2,
                               const lc_step_rows *ra2, int M2, const double *b, ptrdiff_t ldb,
                               double *out1, ptrdiff_t ldo1, double *out2, ptrdiff_t ldo2,
                               double *sums, int N, ptrdiff_t K, double *ws);

/* The backward through time with w_h.T packed once per call (wpt = lc_pack_transposed(w_h,
 * H, 4H)): each step, panel by panel of units, dh = dz[t+1] @ w_h.T, then the gate backward of
 * those units (lc_lstm_gates_backward's maths).
 * dz, gates (T, Bs, G): dz out | dy (B, T, H) rows ldy apart (T*H when batch-first), or NULL
 * c (T+1, Bs, H) | h (T+1, Bs, H): the forward's outputs (h[0] unread), or NULL (see
 * lstm_row_backward) | dh, dc (B, H): in dh_n, dc_n, out dh0, dc0. Only the first B <= Bs rows of
 * each step run, or with nact (T, non-increasing) its first nact[t]: a row joins at its last
 * step with its dh_n, dc_n; its dz is not written where it does not run. zoff (T) or NULL: with
 * nact, dz holds only the rows that ran, step after step, step t's from row zoff[t].
 * Threads as lc_lstm_seq_packed. */
void lc_lstm_seq_backward_packed_f32(const lc_ctx *ctx, const float *wpt, float *dz,
                                     const float *dy, ptrdiff_t ldy, const float *gates,
                                     const float *c, const float *h, float *dh, float *dc, int T,
                                     int B, int Bs, const int *nact, int H, int act, int ract,
                                     const ptrdiff_t *zoff);
void lc_lstm_seq_backward_packed_f64(const lc_ctx *ctx, const double *wpt, double *dz,
                                     const double *dy, ptrdiff_t ldy, const double *gates,
                                     const double *c, const double *h, double *dh, double *dc,
                                     int T, int B, int Bs, const int *nact, int H, int act,
                                     int ract, const ptrdiff_t *zoff);

/* 1 when compiled with OpenMP, else 0. */
int lc_openmp_enabled(void);

#endif /* LSTMCORE_LSTM_GATES_H */
