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

/* The sum of a vector's lanes, in lane order */
LSTMCORE_INLINE REAL KSFX(lv_sum)(LVEC v) {
    REAL t[LL], s = 0;
    KSFX(lv_store)(t, v, LL);
    for (int l = 0; l < LL; l++)
        s += t[l];
    return s;
}

/* e^d for d = x - max <= 0, 0 below exp's clamp (e^-87 in float32, e^-708 in float64: under
 * the smallest normal number), so that a masked score (-1e9, -inf) weighs exactly 0 */
LSTMCORE_INLINE LVEC KSFX(lv_exp_le0)(LVEC d) {
    return LSEL(d < KSFX(lv_splat)(SFX(EXP_LO)), KSFX(lv_splat)(0), KSFX(lv_exp)(d));
}

/* y (n >= 1) = softmax(x (n)) = e^(x - max x) / the sum of those (x and y may be the same
 * array): one pass for the max, one for e and its sum (stored in y), one scaling y by the sum's
 * reciprocal. NaN or +inf in x gives NaN everywhere, as NumPy's formula does. */
LSTMCORE_INLINE void KSFX(span_softmax)(const REAL *x, REAL *y, ptrdiff_t n) {
    REAL m = x[0];
    ptrdiff_t j = 0;
    if (n >= LL) {
        LVEC mv = KSFX(lv_load)(x, LL);
        for (j = LL; j + LL <= n; j += LL) {
            const LVEC v = KSFX(lv_load)(x + j, LL);
            mv = LSEL(v > mv, v, mv);
        }
        REAL t[LL];
        KSFX(lv_store)(t, mv, LL);
        for (int l = 0; l < LL; l++)
            m = t[l] > m ? t[l] : m;
    }
    for (; j < n; j++)
        m = x[j] > m ? x[j] : m;
    if (m != m || m == (REAL)INFINITY) {  /* NaN, or inf - inf below */
        for (j = 0; j < n; j++)
            y[j] = (REAL)NAN;
        return;
    }
    const LVEC mv = KSFX(lv_splat)(m);
    LVEC sv = KSFX(lv_splat)(0);
    for (j = 0; j + LL <= n; j += LL) {
        const LVEC e = KSFX(lv_exp_le0)(KSFX(lv_load)(x + j, LL) - mv);
        KSFX(lv_store)(y + j, e, LL);
        sv += e;
    }
    REAL s = KSFX(lv_sum)(sv);
    const int k = (int)(n - j);
    if (k > 0) {  /* the lanes past k hold e^(-m) and are not stored */
        KSFX(lv_store)(y + j, KSFX(lv_exp_le0)(KSFX(lv_load)(x + j, k) - mv), k);
        for (; j < n; j++)
            s += y[j];
    }
    const REAL inv = 1 / s;
    const LVEC iv = KSFX(lv_splat)(inv);
    for (j = 0; j + LL <= n; j += LL)
        KSFX(lv_store)(y + j, KSFX(lv_load)(y + j, LL) * iv, LL);
    for (; j < n; j++)
        y[j] *= inv;
}

/* dx (n) = y * (dy - sum(dy * y)): the softmax's backward from its output y (dx may be dy) */
LSTMCORE_INLINE void KSFX(span_softmax_backward)(const REAL *y, const REAL *dy, REAL *dx,
                                                 ptrdiff_t n) {
    LVEC sv = KSFX(lv_splat)(0);
    ptrdiff_t j = 0;
    for (; j + LL <= n; j += LL)
        sv += KSFX(lv_load)(dy + j, LL) * KSFX(lv_load)(y + j, LL);
    REAL s = KSFX(lv_sum)(sv);
    for (ptrdiff_t i = j; i < n; i++)
        s += dy[i] * y[i];
    const LVEC dv = KSFX(lv_splat)(s);
    for (j = 0; j + LL <= n; j += LL)
        KSFX(lv_store)(dx + j, KSFX(lv_load)(y + j, LL) * (KSFX(lv_load)(dy + j, LL) - dv), LL);
    for (; j < n; j++)
        dx[j] = y[j] * (dy[j] - s);
}
