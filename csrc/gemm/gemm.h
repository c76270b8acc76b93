/* Products with weights packed once: c (M, N) = a (M, K) @ w, w (K, N) or, packed transposed,
 * the w (N, K) of a @ w.T. The recurrent product of every cell's step (h_prev @ w_h, and the
 * backward's dz @ w_h.T) multiplies by the same weights T times: BLAS packs them again at every
 * call (OpenBLAS: sgemm_itcopy, 23% of a GRU inference at B 64, H 512); packed here once per
 * sequence, a step is only the product.
 *
 * Layout (lc_pack_*): panels of NR columns (lc_gemm_nr_*: a few vectors of the instruction set
 * ctx->isa), panel p holding K rows of NR values, zeros past N. A packed matrix is for the isa it
 * was packed with. float32 (_f32) and float64 (_f64); no allocation; ctx->nthreads threads share
 * the panels when M*N*K >= ctx->gemm_par_min; K is cut in blocks whose panel slice fits half of
 * ctx->l1d.
 */
#ifndef LSTMCORE_GEMM_H
#define LSTMCORE_GEMM_H

#include <stddef.h>

#include "rt/context.h"

#define LC_GEMM_DECLARE(REAL, S)                                                                   \
    /* panel width of ctx->isa's packing, and elements of a packed (K, N) */                      \
    int lc_gemm_nr##S(const lc_ctx *ctx);                                                         \
    /* rows of ctx->isa's register tile (a row's sums do not depend on the tile it falls in:   \
     * the rows may be cut anywhere) */                                                           \
    int lc_gemm_mr##S(const lc_ctx *ctx);                                                         \
    ptrdiff_t lc_pack_size##S(const lc_ctx *ctx, int K, int N);                                   \
    /* wp = pack(w): trans 0: w (K, N) rows ldw apart; trans 1: w (N, K) rows ldw apart */        \
    void lc_pack##S(const lc_ctx *ctx, const REAL *w, ptrdiff_t ldw, int K, int N, int trans,     \
                    REAL *wp);                                                                    \
    /* wp = pack of the (K, nb * ncols) matrix of the columns [col0, col0 + ncols) of each of nb \
     * blocks of w's columns bstride apart (w: K rows ldw apart), side by side */                 \
    void lc_pack_blocks##S(const lc_ctx *ctx, const REAL *w, ptrdiff_t ldw, int K, int nb,        \
                           ptrdiff_t bstride, ptrdiff_t col0, int ncols, REAL *wp);               \
    /* c (M, N) rows ldc apart = (add: c +) a (M, K) rows lda apart @ the packed w; c may not   \
     * overlap a */                                                                               \
    void lc_gemm_packed##S(const lc_ctx *ctx, int M, int N, int K, const REAL *a, ptrdiff_t lda,  \
                           const REAL *wp, REAL *c, ptrdiff_t ldc, int add);

LC_GEMM_DECLARE(float, _f32)
LC_GEMM_DECLARE(double, _f64)
#undef LC_GEMM_DECLARE

#endif /* LSTMCORE_GEMM_H */
