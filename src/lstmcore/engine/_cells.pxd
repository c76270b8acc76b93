# The cell contract of csrc/cells/cells.h (shapes and semantics there).
from libc.stdint cimport uint32_t, uint64_t

from lstmcore.engine._csrc cimport lc_ctx


cdef extern from "cells/cells.h" nogil:
    ctypedef struct lc_act:
        int code
        double alpha
        double beta

    ctypedef struct lc_lstm_opts:
        lc_act act
        lc_act ract
        lc_act out_act
        double clip
        int input_forget

    int lc_best_isa()
    void lc_rnn_forward_f32(const lc_ctx *ctx, int B, int H, lc_act act, const float *zx,
                            Py_ssize_t ldzx, const float *zh, const float *b, float *h,
                            Py_ssize_t ldh)
    void lc_rnn_forward_f64(const lc_ctx *ctx, int B, int H, lc_act act, const double *zx,
                            Py_ssize_t ldzx, const double *zh, const double *b, double *h,
                            Py_ssize_t ldh)
    void lc_rnn_backward_f32(const lc_ctx *ctx, int B, int H, lc_act act, const float *dh,
                             const float *dy, Py_ssize_t lddy, const float *h, Py_ssize_t ldh,
                             float *dz)
    void lc_rnn_backward_f64(const lc_ctx *ctx, int B, int H, lc_act act, const double *dh,
                             const double *dy, Py_ssize_t lddy, const double *h, Py_ssize_t ldh,
                             double *dz)
    void lc_gru_forward_f32(const lc_ctx *ctx, int B, int H, int phase, int reset_after,
                            lc_act act, lc_act ract, const float *zx, Py_ssize_t ldzx,
                            const float *zh, const float *b, const float *h_prev,
                            Py_ssize_t ldhp, float *gates, float *extra, float *h, Py_ssize_t ldh)
    void lc_gru_forward_f64(const lc_ctx *ctx, int B, int H, int phase, int reset_after,
                            lc_act act, lc_act ract, const double *zx, Py_ssize_t ldzx,
                            const double *zh, const double *b, const double *h_prev,
                            Py_ssize_t ldhp, double *gates, double *extra, double *h,
                            Py_ssize_t ldh)
    void lc_gru_backward_f32(const lc_ctx *ctx, int B, int H, int phase, int reset_after,
                             lc_act act, lc_act ract, const float *dh, const float *dy,
                             Py_ssize_t lddy, const float *gates, const float *extra,
                             const float *h_prev, Py_ssize_t ldhp, const float *drh, float *dzx,
                             float *dzh, float *dh_prev)
    void lc_gru_backward_f64(const lc_ctx *ctx, int B, int H, int phase, int reset_after,
                             lc_act act, lc_act ract, const double *dh, const double *dy,
                             Py_ssize_t lddy, const double *gates, const double *extra,
                             const double *h_prev, Py_ssize_t ldhp, const double *drh,
                             double *dzx, double *dzh, double *dh_prev)
    void lc_lstm_forward_f32(const lc_ctx *ctx, int B, int H, const lc_lstm_opts *o,
                             const float *zx, Py_ssize_t ldzx, const float *zh, const float *b,
                             const float *p, const float *c_prev, float *c, float *gates,
                             float *zpre, float *m, Py_ssize_t ldm)
    void lc_lstm_forward_f64(const lc_ctx *ctx, int B, int H, const lc_lstm_opts *o,
                             const double *zx, Py_ssize_t ldzx, const double *zh, const double *b,
                             const double *p, const double *c_prev, double *c, double *gates,
                             double *zpre, double *m, Py_ssize_t ldm)
    void lc_lstm_backward_f32(const lc_ctx *ctx, int B, int H, const lc_lstm_opts *o,
                              const float *dm, const float *dy, Py_ssize_t lddy, float *dc,
                              const float *gates, const float *zpre, const float *p,
                              const float *c_prev, const float *c, float *dz)
    void lc_lstm_backward_f64(const lc_ctx *ctx, int B, int H, const lc_lstm_opts *o,
                              const double *dm, const double *dy, Py_ssize_t lddy, double *dc,
                              const double *gates, const double *zpre, const double *p,
                              const double *c_prev, const double *c, double *dz)
    void lc_act_apply_f32(const lc_ctx *ctx, lc_act act, const float *x, float *y, Py_ssize_t n)
    void lc_act_apply_f64(const lc_ctx *ctx, lc_act act, const double *x, double *y,
                          Py_ssize_t n)
    void lc_act_derivative_f32(const lc_ctx *ctx, lc_act act, const float *y, float *d,
                               Py_ssize_t n)
    void lc_act_derivative_f64(const lc_ctx *ctx, lc_act act, const double *y, double *d,
                               Py_ssize_t n)
    void lc_dropout_mask_f32(const lc_ctx *ctx, Py_ssize_t n, uint64_t seed, uint32_t threshold,
                             float scale, float *out)
    void lc_dropout_mask_f64(const lc_ctx *ctx, Py_ssize_t n, uint64_t seed, uint32_t threshold,
                             double scale, double *out)
    void lc_softmax_rows_f32(const lc_ctx *ctx, Py_ssize_t R, int N, const float *x,
                             Py_ssize_t ldx, float *y, Py_ssize_t ldy)
    void lc_softmax_rows_f64(const lc_ctx *ctx, Py_ssize_t R, int N, const double *x,
                             Py_ssize_t ldx, double *y, Py_ssize_t ldy)
    void lc_softmax_rows_backward_f32(const lc_ctx *ctx, Py_ssize_t R, int N, const float *y,
                                      Py_ssize_t ldy, const float *dy, Py_ssize_t lddy,
                                      float *dx, Py_ssize_t lddx)
    void lc_softmax_rows_backward_f64(const lc_ctx *ctx, Py_ssize_t R, int N, const double *y,
                                      Py_ssize_t ldy, const double *dy, Py_ssize_t lddy,
                                      double *dx, Py_ssize_t lddx)
    void lc_rows_gather_f32(const lc_ctx *ctx, const float *src, Py_ssize_t ld, Py_ssize_t step,
                            int W, const int *perm, const int *lens, int reverse, int s, int r0,
                            int r1, float *dst)
    void lc_rows_gather_f64(const lc_ctx *ctx, const double *src, Py_ssize_t ld,
                            Py_ssize_t step, int W, const int *perm, const int *lens, int reverse,
                            int s, int r0, int r1, double *dst)
    void lc_rows_scatter_f32(const lc_ctx *ctx, const float *h, Py_ssize_t ldh, float *y,
                             Py_ssize_t ldy, Py_ssize_t y_step, int W, const int *perm,
                             const int *lens, int reverse, int s, int r0, int r1)
    void lc_rows_scatter_f64(const lc_ctx *ctx, const double *h, Py_ssize_t ldh, double *y,
                             Py_ssize_t ldy, Py_ssize_t y_step, int W, const int *perm,
                             const int *lens, int reverse, int s, int r0, int r1)
    int LC_PAD_PIECES
    void lc_rows_padding_f32(const lc_ctx *ctx, float *y, Py_ssize_t ldy, Py_ssize_t y_step,
                             int T, int B, int W, const int *perm, const int *lens, int k, int n)
    void lc_rows_padding_f64(const lc_ctx *ctx, double *y, Py_ssize_t ldy, Py_ssize_t y_step,
                             int T, int B, int W, const int *perm, const int *lens, int k, int n)


# The products with weights packed once of csrc/gemm/gemm.h.
cdef extern from "gemm/gemm.h" nogil:
    int lc_gemm_nr_f32(const lc_ctx *ctx)
    int lc_gemm_nr_f64(const lc_ctx *ctx)
    int lc_gemm_mr_f32(const lc_ctx *ctx)
    int lc_gemm_mr_f64(const lc_ctx *ctx)
    Py_ssize_t lc_pack_size_f32(const lc_ctx *ctx, int K, int N)
    Py_ssize_t lc_pack_size_f64(const lc_ctx *ctx, int K, int N)
    void lc_pack_f32(const lc_ctx *ctx, const float *w, Py_ssize_t ldw, int K, int N, int trans,
                     float *wp)
    void lc_pack_f64(const lc_ctx *ctx, const double *w, Py_ssize_t ldw, int K, int N, int trans,
                     double *wp)
    void lc_pack_blocks_f32(const lc_ctx *ctx, const float *w, Py_ssize_t ldw, int K, int nb,
                            Py_ssize_t bstride, Py_ssize_t col0, int ncols, float *wp)
    void lc_pack_blocks_f64(const lc_ctx *ctx, const double *w, Py_ssize_t ldw, int K, int nb,
                            Py_ssize_t bstride, Py_ssize_t col0, int ncols, double *wp)
    void lc_gemm_packed_f32(const lc_ctx *ctx, int M, int N, int K, const float *a,
                            Py_ssize_t lda, const float *wp, float *c, Py_ssize_t ldc, int add)
    void lc_gemm_packed_f64(const lc_ctx *ctx, int M, int N, int K, const double *a,
                            Py_ssize_t lda, const double *wp, double *c, Py_ssize_t ldc, int add)


cdef extern from "rt/split.h" nogil:
    void lstmcore_row_range(int B, int T, const int *nact, int unit, int k, int n, int *r0,
                            int *r1)
    int lstmcore_team_size()


cdef extern from "rt/barrier.h" nogil:
    ctypedef struct lstmcore_barrier:
        int arrived
        int sleepers
    void lstmcore_barrier_arrive(lstmcore_barrier *bar)
    void lstmcore_barrier_wait(lstmcore_barrier *bar, int goal)
