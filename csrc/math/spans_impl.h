/* Activations on vectors and over spans of n values, for one precision and one instruction set:
 * part of the bodies of cells.c (cells/cells_impl.h) and lstm_gates.c (cells/lstm_gates_impl.h).
 * Needs REAL, SFX(name), KSFX(name), math/act.h and math/activations.h (the constants).
 * Not a standalone header.
 *
 * One source for every instruction set: LVEC is a GCC/clang vector of the width the copy is
 * compiled for (64 bytes with AVX-512, 32 with AVX2, 16 otherwise), as in gemm/gemm_impl.h; a
 * compiler without vector types gets the same code on scalars (LL = 1). The formulas are those of
 * the reference (src/lstmcore/reference/activations.py): exp by Cody-Waite range reduction, a
 * Taylor polynomial and 2^n built from its bits, with its input clamped so that nothing
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
#if defined(__GNUC__) || defined(__clang__)
#if defined(__AVX512F__)
#define LVB 64
#elif defined(__AVX2__)
#define LVB 32
#else
#define LVB 16
#endif
typedef REAL KSFX(lvec) __attribute__((vector_size(LVB), aligned(sizeof(REAL)), may_alias));
/* the integer vector a comparison of two LVEC gives: lanes of all ones (true) or zeros */
typedef __typeof__((KSFX(lvec)){0} < (KSFX(lvec)){0}) KSFX(lmask);
#define LVEC KSFX(lvec)
#define LMASK KSFX(lmask)
#define LSEL(m, a, b) ((LVEC)(((LMASK)(a) & (m)) | ((LMASK)(b) & ~(m))))  /* m ? a : b */
#define LBITS(x) ((LMASK)(x))
#define LFROM_BITS(i) ((LVEC)(i))
#else
#define LVB ((int)sizeof(REAL))
#define LVEC REAL
#define LMASK int
#define LSEL(m, a, b) ((m) ? (a) : (b))
#endif
#define LL ((int)(LVB / sizeof(REAL)))  /* lanes per vector */

/* k <= LL values at p as one vector (lanes past k zero), and back; AVX-512 masks the lanes */
LSTMCORE_INLINE LVEC KSFX(lv_load)(const REAL *p, int k) {
    LVEC v;
    if (k == LL) {
        memcpy(&v, p, sizeof v);
        return v;
    }
#if defined(__AVX512F__) && (defined(__GNUC__) || defined(__clang__))
    if (sizeof(REAL) == 4)
        return (LVEC)_mm512_maskz_loadu_ps((__mmask16)((1u << k) - 1), p);
    return (LVEC)_mm512_maskz_loadu_pd((__mmask8)((1u << k) - 1), p);
#else
    REAL t[LL] = {0};
    for (int l = 0; l < k; l++) t[l] = p[l];
    memcpy(&v, t, sizeof v);
    return v;
#endif
}

LSTMCORE_INLINE void KSFX(lv_store)(REAL *p, LVEC v, int k) {
    if (k == LL) {
        memcpy(p, &v, sizeof v);
        return;
    }
#if defined(__AVX512F__) && (defined(__GNUC__) || defined(__clang__))
    if (sizeof(REAL) == 4)
        _mm512_mask_storeu_ps(p, (__mmask16)((1u << k) - 1), (__m512)v);
    else
        _mm512_mask_storeu_pd(p, (__mmask8)((1u << k) - 1), (__m512d)v);
#else
    REAL t[LL];
    memcpy(t, &v, sizeof t);
    for (int l = 0; l < k; l++) p[l] = t[l];
#endif
}

LSTMCORE_INLINE LVEC KSFX(lv_splat)(REAL x) {
    return (LVEC){0} + x;  /* every lane x */
}

#if defined(__GNUC__) || defined(__clang__)
/* e^x for x clamped to [EXP_LO, EXP_HI]: x = n ln2 + r, |r| <= ln2 / 2, e^x = 2^n e^r. */
LSTMCORE_INLINE LVEC KSFX(lv_exp)(LVEC x) {
    const LVEC lo = KSFX(lv_splat)(SFX(EXP_LO)), hi = KSFX(lv_splat)(SFX(EXP_HI));
    x = LSEL(x < lo, lo, x);  /* NaN fails both tests and stays */
    x = LSEL(x > hi, hi, x);
    const LVEC k = x * SFX(LOG2E) + SFX(SHIFTER);  /* n + SHIFTER, n = round(x / ln 2) */
    const LVEC n = k - SFX(SHIFTER);
    const LVEC r = (x - n * SFX(LN2_HI)) - n * SFX(LN2_LO);
    const LMASK scale = (LBITS(k) - SFX(SHIFTER_BITS) + SFX(EXP_BIAS)) << SFX(MANT_BITS);  /* 2^n */
    return SFX(EXP_POLY)(r) * LFROM_BITS(scale);
}
#else
LSTMCORE_INLINE REAL KSFX(lv_exp)(REAL x) {  /* the scalar fallback: libm's, clamped alike */
    x = x < SFX(EXP_LO) ? SFX(EXP_LO) : x;
    x = x > SFX(EXP_HI) ? SFX(EXP_HI) : x;
    return (REAL)exp((double)x);
}
#endif

/* 1 / (1 + e^-x); the clamp inside exp keeps it finite for every x. */
LSTMCORE_INLINE LVEC KSFX(lv_sigmoid)(LVEC x) {
    return 1 / (1 + KSFX(lv_exp)(-x));
}

/* tanh: the odd Taylor series near 0 (no cancellation), 1 - 2 / (e^2|x| + 1) elsewhere. */
LSTMCORE_INLINE LVEC KSFX(lv_tanh)(LVEC x) {
    const LVEC zero = KSFX(lv_splat)(0);
    const LVEC a = LSEL(x < zero, -x, x), s = x * x;
    const LVEC small = x + x * s * SFX(TANH_POLY)(s);
    const LVEC big = 1 - 2 / (KSFX(lv_exp)(2 * a) + 1);
    return LSEL(a < KSFX(lv_splat)(SFX(TANH_SMALL)), small, LSEL(x < zero, -big, big));
}

/* act(x) on one vector */
LSTMCORE_INLINE LVEC KSFX(lv_act)(lc_act a, LVEC x) {
    const LVEC zero = KSFX(lv_splat)(0), one = KSFX(lv_splat)(1);
    const REAL al = (REAL)a.alpha, be = (REAL)a.beta;
    switch (a.code) {
    case LC_RELU: return LSEL(x < zero, zero, x);  /* NaN stays NaN */
    case LC_SIGMOID: return KSFX(lv_sigmoid)(x);
    case LC_LINEAR: return x;
    case LC_HARD_SIGMOID: {
        LVEC y = al * x + be;
        y = LSEL(y < zero, zero, y);
        return LSEL(y > one, one, y);
    }
    case LC_LEAKY_RELU: return LSEL(x < zero, al * x, x);
    case LC_THRESHOLDED_RELU: return LSEL(x <= KSFX(lv_splat)(al), zero, x);  /* NaN stays */
    case LC_SCALED_TANH: return al * KSFX(lv_tanh)(be * x);
    case LC_AFFINE: return al * x + be;
    case LC_ELU: return LSEL(x > zero, x, al * (KSFX(lv_exp)(x) - 1));
    case LC_SOFTSIGN: return x / (1 + LSEL(x < zero, -x, x));
    case LC_SOFTPLUS: {  /* max(x, 0) + log1p(exp(-|x|)): no overflow in either sign */
        const LVEC e = KSFX(lv_exp)(-LSEL(x < zero, -x, x));
        REAL t[LL];
        memcpy(t, &e, sizeof t);
        for (int l = 0; l < LL; l++) t[l] = (REAL)log1p((double)t[l]);
        LVEC lp;
        memcpy(&lp, t, sizeof lp);
        return LSEL(x > zero, x, zero) + lp;
    }
    default: return KSFX(lv_tanh)(x);  /* LC_TANH */
    }
}

/* d * act'(x) on one vector, written from y = act(x): a product, as the reference's, so that
 * a NaN in d stays NaN where act' is 0 */
LSTMCORE_INLINE LVEC KSFX(lv_dact)(lc_act a, LVEC y, LVEC d) {
    const LVEC zero = KSFX(lv_splat)(0), one = KSFX(lv_splat)(1);
    const REAL al = (REAL)a.alpha, be = (REAL)a.beta;
    switch (a.code) {
    case LC_RELU: return d * LSEL(y > zero, one, zero);
    case LC_SIGMOID: return d * (y * (1 - y));
    case LC_LINEAR: return d;
    case LC_HARD_SIGMOID: return d * LSEL((y > zero) & (y < one), KSFX(lv_splat)(al), zero);
    case LC_LEAKY_RELU: return d * LSEL(y > zero, one, KSFX(lv_splat)(al));
    case LC_THRESHOLDED_RELU: return d * LSEL(y != zero, one, zero);
    case LC_SCALED_TANH: return d * (be * (al - y * y / al));
    case LC_AFFINE: return d * al;
    case LC_ELU: return d * LSEL(y > zero, one, y + al);
    case LC_SOFTSIGN: {
        const LVEC s = 1 - LSEL(y < zero, -y, y);
        return d * (s * s);
    }
    case LC_SOFTPLUS: return d * (1 - KSFX(lv_exp)(-y));
    default: return d * (1 - y * y);  /* LC_TANH */
    }
}

/* v clipped to [-clip, clip]; and d where the clipped pre-activation zp is inside (0 at the
 * bounds: it was clipped) */
LSTMCORE_INLINE LVEC KSFX(lv_clip)(LVEC v, REAL clip) {
    const LVEC lo = KSFX(lv_splat)(-clip), hi = KSFX(lv_splat)(clip);
    v = LSEL(v < lo, lo, v);
    return LSEL(v > hi, hi, v);
}

LSTMCORE_INLINE LVEC KSFX(lv_clip_grad)(LVEC zp, LVEC d, REAL clip) {
    return LSEL((zp < KSFX(lv_splat)(clip)) & (zp > KSFX(lv_splat)(-clip)), d, KSFX(lv_splat)(0));
}

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

/* v (n) = act(v), in place; the cells' passes over their gate blocks */
LSTMCORE_INLINE void KSFX(span_act)(lc_act a, REAL *restrict v, ptrdiff_t n) {
#define SPAN(code)                                                                               \
    do {                                                                                         \
        const lc_act c_ = {code, a.alpha, a.beta};                                               \
        for (ptrdiff_t j = 0; j < n; j += LL) {                                                  \
            const int k = n - j < LL ? (int)(n - j) : LL;                                        \
            KSFX(lv_store)(v + j, KSFX(lv_act)(c_, KSFX(lv_load)(v + j, k)), k);                 \
        }                                                                                        \
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
        for (ptrdiff_t j = 0; j < n; j += LL) {                                                  \
            const int k = n - j < LL ? (int)(n - j) : LL;                                        \
            KSFX(lv_store)(d + j, KSFX(lv_dact)(c_, KSFX(lv_load)(y + j, k),                     \
                                                KSFX(lv_load)(d + j, k)), k);                    \
        }                                                                                        \
    } while (0)
    LC_BY_CODE(a.code, SPAN)
#undef SPAN
}
