# Declarations of the plain-C kernels in csrc/ (shapes and contracts in the headers).
cdef extern from "rt/context.h" nogil:
    ctypedef struct lc_ctx:
        int isa
        int nthreads
        Py_ssize_t par_min
        Py_ssize_t gemm_par_min
        int l1d
        int l2
        Py_ssize_t seq_par_min
        Py_ssize_t row_split_bytes
        int panel_prefetch
        int row_block
        int pack_rows
    ctypedef struct lc_seq_plan:
        int row_block
        int threads
        int split_rows
        int prefetch
        Py_ssize_t weight_bytes
        int strip

cdef extern from "rt/cpu_features.h" nogil:
    int lstmcore_cpu_best_isa()

cdef extern from "cells/lstm_gates.h" nogil:
    ctypedef struct lc_step_rows:
        const Py_ssize_t *off
        int T
        Py_ssize_t step
    void lc_lstm_gates_forward_f32(const lc_ctx *ctx, float *z, Py_ssize_t ldz, float *c, float *h,
                                   Py_ssize_t ldh, const float *c_prev, const float *b, int B,
                                   int H, int act, int ract)
    void lc_lstm_gates_forward_f64(const lc_ctx *ctx, double *z, Py_ssize_t ldz, double *c,
                                   double *h, Py_ssize_t ldh, const double *c_prev,
                                   const double *b, int B, int H, int act, int ract)
    void lc_lstm_gates_backward_f32(const lc_ctx *ctx, float *dz, float *dc, const float *dh,
                                    const float *dy, Py_ssize_t lddy, const float *gates,
                                    const float *c_prev, const float *c, int B, int H, int act,
                                    int ract)
    void lc_lstm_gates_backward_f64(const lc_ctx *ctx, double *dz, double *dc, const double *dh,
                                    const double *dy, Py_ssize_t lddy, const double *gates,
                                    const double *c_prev, const double *c, int B, int H, int act,
                                    int ract)
    void lc_sum_rows_f32(const lc_ctx *ctx, float *out, const float *a, Py_ssize_t R, int G)
    void lc_sum_rows_f64(const lc_ctx *ctx, double *out, const double *a, Py_ssize_t R, int G)
    Py_ssize_t lc_lstm_step_pack_size(int I, int H, int elem_size)
    void lc_lstm_step_pack_f32(const lc_ctx *ctx, const float *w_x, const float *w_h,
                               const float *b, int I, int H, float *wp, float *bp)
    void lc_lstm_step_pack_f64(const lc_ctx *ctx, const double *w_x, const double *w_h,
                               const double *b, int I, int H, double *wp, double *bp)
    void lc_lstm_step_packed_f32(const lc_ctx *ctx, const float *wp, const float *bp,
                                 const float *x, Py_ssize_t ldx, const float *h_prev,
                                 Py_ssize_t ldhp, float *c, float *h, Py_ssize_t ldh, int B, int I,
                                 int H, int act, int ract)
    void lc_lstm_step_packed_f64(const lc_ctx *ctx, const double *wp, const double *bp,
                                 const double *x, Py_ssize_t ldx, const double *h_prev,
                                 Py_ssize_t ldhp, double *c, double *h, Py_ssize_t ldh, int B,
                                 int I, int H, int act, int ract)
    void lc_lstm_seq_packed_f32(const lc_ctx *ctx, const float *wp, const float *bp,
                                const float *x, Py_ssize_t ldx, Py_ssize_t x_step, const float *h0,
                                float *y, Py_ssize_t ldy, Py_ssize_t y_step, float *c,
                                Py_ssize_t c_step, float *gates, Py_ssize_t ldg, Py_ssize_t g_step,
                                int T, int B, const int *nact, int I, int H, int act, int ract)
    void lc_lstm_seq_packed_f64(const lc_ctx *ctx, const double *wp, const double *bp,
                                const double *x, Py_ssize_t ldx, Py_ssize_t x_step,
                                const double *h0, double *y, Py_ssize_t ldy, Py_ssize_t y_step,
                                double *c, Py_ssize_t c_step, double *gates, Py_ssize_t ldg,
                                Py_ssize_t g_step, int T, int B, const int *nact, int I, int H,
                                int act, int ract)
    void lc_lstm_seq_packed_rows_f32(const lc_ctx *ctx, const float *wp, const float *bp,
                                     const float *x, Py_ssize_t ldx, Py_ssize_t x_step,
                                     const float *h0, float *y, Py_ssize_t ldy, Py_ssize_t y_step,
                                     float *c, float *work, int T, int B, const int *nact,
                                     const int *perm, const int *lens, int reverse, int I, int H,
                                     int act, int ract)
    void lc_lstm_seq_packed_rows_f64(const lc_ctx *ctx, const double *wp, const double *bp,
                                     const double *x, Py_ssize_t ldx, Py_ssize_t x_step,
                                     const double *h0, double *y, Py_ssize_t ldy,
                                     Py_ssize_t y_step, double *c, double *work, int T, int B,
                                     const int *nact, const int *perm, const int *lens,
                                     int reverse, int I, int H, int act, int ract)
    lc_seq_plan lc_lstm_seq_plan_f32(const lc_ctx *ctx, int B, int I, int H)
    lc_seq_plan lc_lstm_seq_plan_f64(const lc_ctx *ctx, int B, int I, int H)
    Py_ssize_t lc_pack_transposed_size(int R, Py_ssize_t C, int elem_size)
    void lc_pack_transposed_f32(const lc_ctx *ctx, const float *w, int R, Py_ssize_t C, float *wpt)
    void lc_pack_transposed_f64(const lc_ctx *ctx, const double *w, int R, Py_ssize_t C,
                                double *wpt)
    void lc_matmul_packed_f32(const lc_ctx *ctx, const float *wpt, const float *a, Py_ssize_t lda,
                              float *out, Py_ssize_t ldo, Py_ssize_t M, int K, int N)
    void lc_matmul_packed_f64(const lc_ctx *ctx, const double *wpt, const double *a,
                              Py_ssize_t lda, double *out, Py_ssize_t ldo, Py_ssize_t M, int K,
                              int N)
    void lc_matmul_tn_f32(const lc_ctx *ctx, const float *a, Py_ssize_t lda,
                          const lc_step_rows *ra, const float *b, Py_ssize_t ldb, float *out,
                          Py_ssize_t ldo, int M, int N, Py_ssize_t K)
    void lc_matmul_tn_f64(const lc_ctx *ctx, const double *a, Py_ssize_t lda,
                          const lc_step_rows *ra, const double *b, Py_ssize_t ldb, double *out,
                          Py_ssize_t ldo, int M, int N, Py_ssize_t K)
    void lc_matmul_tn2_f32(const lc_ctx *ctx, const float *a1, Py_ssize_t lda1,
                           const lc_step_rows *ra1, int M1, const float *a2, Py_ssize_t lda2,
                           const lc_step_rows *ra2, int M2, const float *b, Py_ssize_t ldb,
                           float *out1, Py_ssize_t ldo1, float *out2, Py_ssize_t ldo2,
                           float *sums, int N, Py_ssize_t K)
    void lc_matmul_tn2_f64(const lc_ctx *ctx, const double *a1, Py_ssize_t lda1,
                           const lc_step_rows *ra1, int M1, const double *a2, Py_ssize_t lda2,
                           const lc_step_rows *ra2, int M2, const double *b, Py_ssize_t ldb,
                           double *out1, Py_ssize_t ldo1, double *out2, Py_ssize_t ldo2,
                           double *sums, int N, Py_ssize_t K)
    Py_ssize_t lc_tn_blocked_size_f32(const lc_ctx *ctx, int M1, int M2, int N, Py_ssize_t K)
    Py_ssize_t lc_tn_blocked_size_f64(const lc_ctx *ctx, int M1, int M2, int N, Py_ssize_t K)
    void lc_matmul_tn2_blocked_f32(const lc_ctx *ctx, const float *a1, Py_ssize_t lda1,
                                   const lc_step_rows *ra1, int M1, const float *a2,
                                   Py_ssize_t lda2, const lc_step_rows *ra2, int M2,
                                   const float *b, Py_ssize_t ldb, float *out1, Py_ssize_t ldo1,
                                   float *out2, Py_ssize_t ldo2, float *sums, int N, Py_ssize_t K,
                                   float *ws)
    void lc_matmul_tn2_blocked_f64(const lc_ctx *ctx, const double *a1, Py_ssize_t lda1,
                                   const lc_step_rows *ra1, int M1, const double *a2,
                                   Py_ssize_t lda2, const lc_step_rows *ra2, int M2,
                                   const double *b, Py_ssize_t ldb, double *out1,
                                   Py_ssize_t ldo1, double *out2, Py_ssize_t ldo2, double *sums,
                                   int N, Py_ssize_t K, double *ws)
    void lc_lstm_seq_backward_packed_f32(const lc_ctx *ctx, const float *wpt, float *dz,
                                         const float *dy, Py_ssize_t ldy, const float *gates,
                                         const float *c, const float *h, float *dh, float *dc,
                                         int T, int B, int Bs, const int *nact, int H, int act,
                                         int ract, const Py_ssize_t *zoff)
    void lc_lstm_seq_backward_packed_f64(const lc_ctx *ctx, const double *wpt, double *dz,
                                         const double *dy, Py_ssize_t ldy, const double *gates,
                                         const double *c, const double *h, double *dh, double *dc,
                                         int T, int B, int Bs, const int *nact, int H, int act,
                                         int ract, const Py_ssize_t *zoff)
    int lc_openmp_enabled()
