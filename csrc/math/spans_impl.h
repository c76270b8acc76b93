/* Activations on vectors and over spans of n values, for one precision and one instruction set:
 * part of the bodies of cells.c (cells/cells_impl.h) and lstm_gates.c (cells/lstm_gates_impl.h).
 * Needs REAL, SFX(name), KSFX(name), math/act.h and math/activations.h (the constants).
 * Not a standalone header.
 *
 * One source for every instruction set: LVEC is a GCC/clang vector of the width the copy is
 * compiled for (64 bytes with AVX-512, 32 with AVX2, 16 otherwise), as in gemm/gemm_impl.h; the
 * activations on one vector (math/lvec_impl.h) are compiled at that width (KSFX(lv_*)) and at half
 * of it (KSFX(lv_*_h)), for the spans' last partial vectors; a compiler without vector types gets
 * the same code on scalars (LL = 1). The formulas are those of
 * the reference (src/lstmcore/reference/activations.py): exp by Cody-Waite range reduction, a
 * near-minimax polynomial and 2^n built from its bits, with its input clamped so that nothing
 * overflows; NaN goes through every activation. Accuracy: a few ulp against libm.
 */
#include <string.h>

#undef LVB  /* the previous copy's (each instruction set's copy defines its own) */
#undef LVEC
#undef LMASK
#undef LSEL
#undef LBITS
#undef LFROM_BITS
#undef LL
#undef LLH
#undef LV
#undef LVEC_TYPES
#if defined(__GNUC__) || defined(__clang__)
/* m ? a : b, lane by lane, for a mask m from a comparison */
#define LSEL(m, a, b) ((LVEC)(((LMASK)(a) & (m)) | ((LMASK)(b) & ~(m))))
#define LBITS(x) ((LMASK)(x))
#define LFROM_BITS(i) ((LVEC)(i))
#define LVEC_TYPES(T, TM, BYTES)                                                                 \
    typedef REAL T __attribute__((vector_size(BYTES), aligned(sizeof(REAL)), may_alias));      \
    /* the integer vector a comparison of two T gives: lanes of all ones (true) or zeros */   \
    typedef __typeof__((T){0} < (T){0}) TM;

/* half the width first (the spans' last, partial vectors: GCC's own loops finish with a narrower
 * vector too), with names suffixed _h */
#if defined(__AVX512F__)
#define LVB 32
#elif defined(__AVX2__)
#define LVB 16
#else
#define LVB 8
#endif
LVEC_TYPES(KSFX(lvec_h), KSFX(lmask_h), LVB)
#define LVEC KSFX(lvec_h)
#define LMASK KSFX(lmask_h)
#define LL ((int)(LVB / sizeof(REAL)))
#define LV(name) KSFX(name##_h)
#include "math/lvec_impl.h"
#undef LVB
#undef LVEC
#undef LMASK
#undef LL
#undef LV

/* the full width of the instruction set: the one the cells' maths use */
#if defined(__AVX512F__)
#define LVB 64
#elif defined(__AVX2__)
#define LVB 32
#else
#define LVB 16
#endif
LVEC_TYPES(KSFX(lvec), KSFX(lmask), LVB)
#define LVEC KSFX(lvec)
#define LMASK KSFX(lmask)
#define LL ((int)(LVB / sizeof(REAL)))  /* lanes per vector */
#define LV(name) KSFX(name)
#include "math/lvec_impl.h"
#define LLH (LL / 2)  /* lanes of the half-width vectors */
#else
#define LVB ((int)sizeof(REAL))
#define LVEC REAL
#define LMASK int
#define LSEL(m, a, b) ((m) ? (a) : (b))
#define LL 1
#define LLH 0
#define LV(name) KSFX(name##_h)  /* not used: no partial vector of one lane */
#include "math/lvec_impl.h"
#undef LV
#define LV(name) KSFX(name)
#include "math/lvec_impl.h"
#endif

/* Runs SPAN(code) with the activation's code as a constant in each case, so that the switch of
 * lv_act / lv_dact folds and sits outside the loop SPAN runs */
#ifndef LC_BY_CODE
#define LC_BY_CODE(code_, SPAN)                          \
    switch (code_) {                                     \
    case LC_RELU: SPAN(LC_RELU); break;                  \
    case LC_SIGMOID: SPAN(LC_SIGMOID); break;            \
    case LC_LINEAR: SPAN(LC_LINEAR); break;              \
    case LC_HARD_SIGMOID: SPAN(LC_HARD_SIGMOID); break;  \
    case LC_LEAKY_RELU: SPAN(LC_LEAKY_RELU); break;      \
    case LC_THRESHOLDED_RELU: SPAN(LC_THRESHOLDED_RELU); break; \
    case LC_SCALED_TANH: SPAN(LC_SCALED_TANH); break;    \
    case LC_AFFINE: SPAN(LC_AFFINE); break;              \
    case LC_ELU: SPAN(LC_ELU); break;                    \
    case LC_SOFTSIGN: SPAN(LC_SOFTSIGN); break;          \
    case LC_SOFTPLUS: SPAN(LC_SOFTPLUS); break;          \
    default: SPAN(LC_TANH);                              \
    }
#endif

/* v (n) = act(v), in place; the cells' passes over their gate blocks. A last partial vector of
 * at most LLH lanes takes a half-width vector: half the work of a full one. */
LSTMCORE_INLINE void KSFX(span_act)(lc_act a, REAL *restrict v, ptrdiff_t n) {
#define SPAN(code)                                                                               \
    do {                                                                                         \
        const lc_act c_ = {code, a.alpha, a.beta};                                               \
        ptrdiff_t j = 0;                                                                         \
        for (; j + LL <= n; j += LL)                                                             \
            KSFX(lv_store)(v + j, KSFX(lv_act)(c_, KSFX(lv_load)(v + j, LL)), LL);               \
        const int k = (int)(n - j);                                                              \
        if (k > LLH)                                                                             \
            KSFX(lv_store)(v + j, KSFX(lv_act)(c_, KSFX(lv_load)(v + j, k)), k);                 \
        else if (k > 0)                                                                          \
            KSFX(lv_store_h)(v + j, KSFX(lv_act_h)(c_, KSFX(lv_load_h)(v + j, k)), k);           \
    } while (0)
    LC_BY_CODE(a.code, SPAN)
#undef SPAN
}

/* d (n) *= act'(x), written from y (n) = act(x). */
LSTMCORE_INLINE void KSFX(span_dact)(lc_act a, const REAL *restrict y, REAL *restrict d,
                                     ptrdiff_t n) {
#define SPAN(code)                                                                               \
    do {                                                                                         \
        const lc_act c_ = {code, a.alpha, a.beta};                                               \
        ptrdiff_t j = 0;                                                                         \
        for (; j + LL <= n; j += LL)                                                             \
            KSFX(lv_store)(d + j, KSFX(lv_dact)(c_, KSFX(lv_load)(y + j, LL),                    \
                                                KSFX(lv_load)(d + j, LL)), LL);                  \
        const int k = (int)(n - j);                                                              \
        if (k > LLH)                                                                             \
            KSFX(lv_store)(d + j, KSFX(lv_dact)(c_, KSFX(lv_load)(y + j, k),                     \
                                                KSFX(lv_load)(d + j, k)), k);                    \
        else if (k > 0)                                                                          \
            KSFX(lv_store_h)(d + j, KSFX(lv_dact_h)(c_, KSFX(lv_load_h)(y + j, k),               \
                                                    KSFX(lv_load_h)(d + j, k)), k);              \
    } while (0)
    LC_BY_CODE(a.code, SPAN)
#undef SPAN
}
