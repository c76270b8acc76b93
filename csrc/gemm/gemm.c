/* The packed products of gemm.h, compiled once per precision and instruction set from
 * gemm_impl.h; each public function picks its copy from ctx->isa. */
#include "gemm/gemm.h"
#include "math/activations.h" /* LSTMCORE_INLINE, LSTMCORE_NOINLINE */
#include "rt/dispatch.h"
#ifdef _OPENMP
#include <omp.h>
#endif

#define LSTMCORE_IMPL "gemm/gemm_impl.h"

#include "rt/precision_copies.h"

#if LSTMCORE_X86_DISPATCH
#define NR_OF(S, isa)                                                                              \
    ((isa) >= 2 ? gemm_nr##S##_avx512() : (isa) == 1 ? gemm_nr##S##_avx2() : gemm_nr##S##_base())
#define MR_OF(S, isa)                                                                              \
    ((isa) >= 2 ? gemm_mr##S##_avx512() : (isa) == 1 ? gemm_mr##S##_avx2() : gemm_mr##S##_base())
#else
#define NR_OF(S, isa) gemm_nr##S##_base()
#define MR_OF(S, isa) gemm_mr##S##_base()
#endif

#define LC_GEMM_DEFINE(REAL, S)                                                                    \
    int lc_gemm_nr##S(const lc_ctx *ctx) { return NR_OF(S, ctx->isa); }                           \
    int lc_gemm_mr##S(const lc_ctx *ctx) { return MR_OF(S, ctx->isa); }                           \
    ptrdiff_t lc_pack_size##S(const lc_ctx *ctx, int K, int N) {                                  \
        const int nr = lc_gemm_nr##S(ctx);                                                        \
        return (ptrdiff_t)((N + nr - 1) / nr) * nr * (K > 0 ? K : 0);                             \
    }                                                                                              \
    void lc_pack##S(const lc_ctx *ctx, const REAL *w, ptrdiff_t ldw, int K, int N, int trans,     \
                    REAL *wp) {                                                                   \
        PICK(pack##S, ctx->isa, (w, ldw, K, N, trans, wp));                                       \
    }                                                                                              \
    void lc_pack_blocks##S(const lc_ctx *ctx, const REAL *w, ptrdiff_t ldw, int K, int nb,        \
                           ptrdiff_t bstride, ptrdiff_t col0, int ncols, REAL *wp) {              \
        PICK(pack_blocks##S, ctx->isa, (w, ldw, K, nb, bstride, col0, ncols, wp));                \
    }                                                                                              \
    void lc_gemm_packed##S(const lc_ctx *ctx, int M, int N, int K, const REAL *a, ptrdiff_t lda,  \
                           const REAL *wp, REAL *c, ptrdiff_t ldc, int add) {                     \
        PICK(gemm_packed##S, ctx->isa, (ctx, M, N, K, a, lda, wp, c, ldc, add));                  \
    }

LC_GEMM_DEFINE(float, _f32)
LC_GEMM_DEFINE(double, _f64)
