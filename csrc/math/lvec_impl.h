/* The activations on one vector, for the vector type the including file has set up
 * (math/spans_impl.h): LVEC (LL lanes of REAL, LVB bytes), LMASK, LSEL, LBITS, LFROM_BITS, and
 * LV(name), the names of this width's copies. Not a standalone header: spans_impl.h includes it
 * once for its full width and once for half of it (the last, partial vector of a span). */

#ifndef LC_LANE_MASKS
#define LC_LANE_MASKS
/* AVX2's masked loads take their mask as a vector: lanes [0, k) of 32-bit lanes are the 8 - k
 * ints from lc_lanes32 + 8 - k on, of 64-bit lanes the 4 - k from lc_lanes64 + 4 - k on */
static const int lc_lanes32[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
static const long long lc_lanes64[8] = {-1, -1, -1, -1, 0, 0, 0, 0};
#endif

/* k <= LL values at p as one vector (lanes past k zero), and back; AVX-512 masks the lanes, AVX2
 * masks its loads */
LSTMCORE_INLINE LVEC LV(lv_load)(const REAL *p, int k) {
    /* p is aligned for REAL: the engine's checks copy or refuse any other array (a cache's
     * included). LVEC is aligned as REAL and may_alias, so this is one unaligned vector load. (A
     * memcpy into v became, in the AVX2 copies with GCC's generic tuning, two 16-byte halves
     * stored to the stack and read back whole: a store-forwarding stall on every load, the gate
     * maths 3-5x slower on an AMD EPYC.) */
    if (k == LL)
        return *(const LVEC *)p;
#if defined(__AVX512F__) && LVB == 64
    if (sizeof(REAL) == 4)
        return (LVEC)_mm512_maskz_loadu_ps((__mmask16)((1u << k) - 1), p);
    return (LVEC)_mm512_maskz_loadu_pd((__mmask8)((1u << k) - 1), p);
#elif defined(__AVX512F__) && LVB == 32
    if (sizeof(REAL) == 4)
        return (LVEC)_mm256_maskz_loadu_ps((__mmask8)((1u << k) - 1), p);
    return (LVEC)_mm256_maskz_loadu_pd((__mmask8)((1u << k) - 1), p);
#elif defined(__AVX2__) && LVB == 32
    /* a vector assembled from scalar stores, read back whole, waits on a failed store forwarding
     * (S1's last panel of 2 units cost as much as a full panel of 16) */
    if (sizeof(REAL) == 4)
        return (LVEC)_mm256_maskload_ps((const float *)p,
                                        _mm256_loadu_si256((const __m256i *)(lc_lanes32 + 8 - k)));
    return (LVEC)_mm256_maskload_pd((const double *)p,
                                    _mm256_loadu_si256((const __m256i *)(lc_lanes64 + 4 - k)));
#elif defined(__AVX2__) && LVB == 16
    if (sizeof(REAL) == 4)
        return (LVEC)_mm_maskload_ps((const float *)p,
                                     _mm_loadu_si128((const __m128i *)(lc_lanes32 + 8 - k)));
    return (LVEC)_mm_maskload_pd((const double *)p,
                                 _mm_loadu_si128((const __m128i *)(lc_lanes64 + 4 - k)));
#else
    LVEC v;
    REAL t[LL] = {0};
    for (int l = 0; l < k; l++) t[l] = p[l];
    memcpy(&v, t, sizeof v);
    return v;
#endif
}

LSTMCORE_INLINE void LV(lv_store)(REAL *p, LVEC v, int k) {
    if (k == LL) {  /* p aligned for REAL, as in lv_load */
        *(LVEC *)p = v;
        return;
    }
#if defined(__AVX512F__) && LVB == 64
    if (sizeof(REAL) == 4)
        _mm512_mask_storeu_ps(p, (__mmask16)((1u << k) - 1), (__m512)v);
    else
        _mm512_mask_storeu_pd(p, (__mmask8)((1u << k) - 1), (__m512d)v);
#elif defined(__AVX512F__) && LVB == 32
    if (sizeof(REAL) == 4)
        _mm256_mask_storeu_ps(p, (__mmask8)((1u << k) - 1), (__m256)v);
    else
        _mm256_mask_storeu_pd(p, (__mmask8)((1u << k) - 1), (__m256d)v);
#else
    REAL t[LL];
    memcpy(t, &v, sizeof t);
    for (int l = 0; l < k; l++) p[l] = t[l];
#endif
}

/* a * b + c, rounded once where the instruction set has FMA. Written out: in a * b + c * d the
 * compiler fuses one product or the other, as its context leads it, and a row must round the
 * same in every kernel that runs it (the gate maths of 2 rows after a block of 4, inlined
 * elsewhere, fused the other product of c = f c_prev + i g). */
LSTMCORE_INLINE LVEC LV(lv_fma)(LVEC a, LVEC b, LVEC c) {
#if defined(__AVX512F__) && LVB == 64
    if (sizeof(REAL) == 4)
        return (LVEC)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
    return (LVEC)_mm512_fmadd_pd((__m512d)a, (__m512d)b, (__m512d)c);
#elif defined(__FMA__) && LVB == 32
    if (sizeof(REAL) == 4)
        return (LVEC)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
    return (LVEC)_mm256_fmadd_pd((__m256d)a, (__m256d)b, (__m256d)c);
#elif defined(__FMA__) && LVB == 16
    if (sizeof(REAL) == 4)
        return (LVEC)_mm_fmadd_ps((__m128)a, (__m128)b, (__m128)c);
    return (LVEC)_mm_fmadd_pd((__m128d)a, (__m128d)b, (__m128d)c);
#else
    return a * b + c;
#endif
}

LSTMCORE_INLINE LVEC LV(lv_splat)(REAL x) {
    /* every lane x: x - 0 is x for every x (-0 included), so it folds to one broadcast; 0 + x
     * does not (0 + -0 is +0) and cost a scalar add before each broadcast */
    return x - (LVEC){0};
}

/* x < lo ? lo : x and x > hi ? hi : x, lane by lane, NaN kept: one max or min instruction
 * where the instruction set has it (x86's return their second operand, here x, where either is
 * NaN), a comparison and a select elsewhere (a compare and a blend with AVX2). Equal values
 * give x (where lo or hi is 0 and x -0, -0: as the comparison's select). */
LSTMCORE_INLINE LVEC LV(lv_at_least)(LVEC x, LVEC lo) {
#if defined(__AVX512F__) && LVB == 64
    if (sizeof(REAL) == 4)
        return (LVEC)_mm512_max_ps((__m512)lo, (__m512)x);
    return (LVEC)_mm512_max_pd((__m512d)lo, (__m512d)x);
#elif defined(__AVX__) && LVB == 32
    if (sizeof(REAL) == 4)
        return (LVEC)_mm256_max_ps((__m256)lo, (__m256)x);
    return (LVEC)_mm256_max_pd((__m256d)lo, (__m256d)x);
#elif LSTMCORE_X86_DISPATCH && defined(__SSE2__) && LVB == 16
    if (sizeof(REAL) == 4)
        return (LVEC)_mm_max_ps((__m128)lo, (__m128)x);
    return (LVEC)_mm_max_pd((__m128d)lo, (__m128d)x);
#else
    return LSEL(x < lo, lo, x);
#endif
}

LSTMCORE_INLINE LVEC LV(lv_at_most)(LVEC x, LVEC hi) {
#if defined(__AVX512F__) && LVB == 64
    if (sizeof(REAL) == 4)
        return (LVEC)_mm512_min_ps((__m512)hi, (__m512)x);
    return (LVEC)_mm512_min_pd((__m512d)hi, (__m512d)x);
#elif defined(__AVX__) && LVB == 32
    if (sizeof(REAL) == 4)
        return (LVEC)_mm256_min_ps((__m256)hi, (__m256)x);
    return (LVEC)_mm256_min_pd((__m256d)hi, (__m256d)x);
#elif LSTMCORE_X86_DISPATCH && defined(__SSE2__) && LVB == 16
    if (sizeof(REAL) == 4)
        return (LVEC)_mm_min_ps((__m128)hi, (__m128)x);
    return (LVEC)_mm_min_pd((__m128d)hi, (__m128d)x);
#else
    return LSEL(x > hi, hi, x);
#endif
}

#if defined(__GNUC__) || defined(__clang__)
/* e^x for x clamped to [EXP_LO, EXP_HI]: x = n ln2 + r, |r| <= ln2 / 2, e^x = 2^n e^r. */
LSTMCORE_INLINE LVEC LV(lv_exp)(LVEC x) {
    const LVEC lo = LV(lv_splat)(SFX(EXP_LO)), hi = LV(lv_splat)(SFX(EXP_HI));
    x = LV(lv_at_most)(LV(lv_at_least)(x, lo), hi);  /* NaN stays */
    const LVEC k = x * SFX(LOG2E) + SFX(SHIFTER);  /* n + SHIFTER, n = round(x / ln 2) */
    const LVEC n = k - SFX(SHIFTER);
    const LVEC r = (x - n * SFX(LN2_HI)) - n * SFX(LN2_LO);
    const LMASK scale = (LBITS(k) - SFX(SHIFTER_BITS) + SFX(EXP_BIAS)) << SFX(MANT_BITS);  /* 2^n */
    return SFX(EXP_POLY)(r) * LFROM_BITS(scale);
}
#else
LSTMCORE_INLINE REAL LV(lv_exp)(REAL x) {  /* the scalar fallback: libm's, clamped alike */
    x = x < SFX(EXP_LO) ? SFX(EXP_LO) : x;
    x = x > SFX(EXP_HI) ? SFX(EXP_HI) : x;
    return (REAL)exp((double)x);
}
#endif

#if defined(__GNUC__) || defined(__clang__)
/* whether every lane of v is a normal number or larger in magnitude (none 0, subnormal or NaN):
 * one comparison and one test of its lanes (a loop over the lanes was, in the AVX-512 copy, 16
 * extracts and branches a vector) */
LSTMCORE_INLINE int LV(lv_all_normal)(LVEC v) {
    const LVEC a = LFROM_BITS(LBITS(v) & ~LBITS(LV(lv_splat)(-0.0)));  /* |v| */
    const LVEC lo = LV(lv_splat)(SFX(NORMAL_MIN));
#if defined(__AVX512F__) && LVB == 64
    if (sizeof(REAL) == 4)
        return _mm512_cmp_ps_mask((__m512)a, (__m512)lo, _CMP_GE_OQ) == 0xFFFF;
    return _mm512_cmp_pd_mask((__m512d)a, (__m512d)lo, _CMP_GE_OQ) == 0xFF;
#else
    const LMASK ok = a >= lo;
#if defined(__AVX__) && LVB == 32
    if (sizeof(REAL) == 4)
        return _mm256_movemask_ps((__m256)ok) == 0xFF;
    return _mm256_movemask_pd((__m256d)ok) == 0xF;
#elif LSTMCORE_X86_DISPATCH && defined(__SSE2__) && LVB == 16
    if (sizeof(REAL) == 4)
        return _mm_movemask_ps((__m128)ok) == 0xF;
    return _mm_movemask_pd((__m128d)ok) == 0x3;
#else
    for (int l = 0; l < LL; l++)
        if (!ok[l])
            return 0;
    return 1;
#endif
#endif
}
#else
LSTMCORE_INLINE int LV(lv_all_normal)(REAL v) {
    return (v < 0 ? -v : v) >= SFX(NORMAL_MIN);
}
#endif

/* 1 / (1 + e^-x); the clamp inside exp keeps it finite for every x. */
LSTMCORE_INLINE LVEC LV(lv_sigmoid)(LVEC x) {
    return 1 / (1 + LV(lv_exp)(-x));
}

#if defined(__GNUC__) || defined(__clang__)
/* tanh x = sign(x) e / (e + 2), e = e^(2|x|) - 1 = 2^n (e^r - 1) + (2^n - 1) with e^r - 1 =
 * r EXPM1_POLY(r): no cancellation near 0, so one exp's work and one division for every x (the
 * odd series near 0 beside 1 - 2 / (e^2|x| + 1), both computed and one selected, cost a quarter
 * more). 2|x| is clamped as in lv_exp: e stays finite, and tanh 1 (to the last bit) past it. */
LSTMCORE_INLINE LVEC LV(lv_tanh)(LVEC x) {
    const LMASK sign = LBITS(x) & LBITS(LV(lv_splat)(-0.0));
    const LVEC hi = LV(lv_splat)(SFX(EXP_HI));
    LVEC y = 2 * LFROM_BITS(LBITS(x) ^ sign);  /* 2|x| */
    y = LV(lv_at_most)(y, hi);  /* NaN stays */
    const LVEC k = y * SFX(LOG2E) + SFX(SHIFTER);
    const LVEC n = k - SFX(SHIFTER);
    const LVEC r = (y - n * SFX(LN2_HI)) - n * SFX(LN2_LO);
    const LVEC scale = LFROM_BITS((LBITS(k) - SFX(SHIFTER_BITS) + SFX(EXP_BIAS)) << SFX(MANT_BITS));
    const LVEC e = scale * (r * SFX(EXPM1_POLY)(r)) + (scale - 1);
    return LFROM_BITS(LBITS(e / (e + 2)) ^ sign);
}
#else
/* tanh: the odd Taylor series near 0 (no cancellation), 1 - 2 / (e^2|x| + 1) elsewhere. */
LSTMCORE_INLINE LVEC LV(lv_tanh)(LVEC x) {
    const LVEC zero = LV(lv_splat)(0);
    const LVEC a = LSEL(x < zero, -x, x), s = x * x;
    const LVEC small = x + x * s * SFX(TANH_POLY)(s);
    const LVEC big = 1 - 2 / (LV(lv_exp)(2 * a) + 1);
    return LSEL(a < LV(lv_splat)(SFX(TANH_SMALL)), small, LSEL(x < zero, -big, big));
}
#endif

/* act(x) on one vector */
LSTMCORE_INLINE LVEC LV(lv_act)(lc_act a, LVEC x) {
    const LVEC zero = LV(lv_splat)(0), one = LV(lv_splat)(1);
    const REAL al = (REAL)a.alpha, be = (REAL)a.beta;
    switch (a.code) {
    case LC_RELU: return LV(lv_at_least)(x, zero);  /* NaN stays NaN */
    case LC_SIGMOID: return LV(lv_sigmoid)(x);
    case LC_LINEAR: return x;
    case LC_HARD_SIGMOID: return LV(lv_at_most)(LV(lv_at_least)(al * x + be, zero), one);
    case LC_LEAKY_RELU: return LSEL(x < zero, al * x, x);
    case LC_THRESHOLDED_RELU: return LSEL(x <= LV(lv_splat)(al), zero, x);  /* NaN stays */
    case LC_SCALED_TANH: return al * LV(lv_tanh)(be * x);
    case LC_AFFINE: return al * x + be;
    case LC_ELU: return LSEL(x > zero, x, al * (LV(lv_exp)(x) - 1));
    case LC_SOFTSIGN: return x / (1 + LSEL(x < zero, -x, x));
    case LC_SOFTPLUS: {  /* max(x, 0) + log1p(exp(-|x|)): no overflow in either sign */
        const LVEC e = LV(lv_exp)(-LSEL(x < zero, -x, x));
        REAL t[LL];
        memcpy(t, &e, sizeof t);
        for (int l = 0; l < LL; l++) t[l] = (REAL)log1p((double)t[l]);
        LVEC lp;
        memcpy(&lp, t, sizeof lp);
        return LSEL(x > zero, x, zero) + lp;
    }
    default: return LV(lv_tanh)(x);  /* LC_TANH */
    }
}

/* d * act'(x) on one vector, written from y = act(x): a product, as the reference's, so that
 * a NaN in d stays NaN where act' is 0 */
LSTMCORE_INLINE LVEC LV(lv_dact)(lc_act a, LVEC y, LVEC d) {
    const LVEC zero = LV(lv_splat)(0), one = LV(lv_splat)(1);
    const REAL al = (REAL)a.alpha, be = (REAL)a.beta;
    switch (a.code) {
    case LC_RELU: return d * LSEL(y > zero, one, zero);
    case LC_SIGMOID: return d * (y * (1 - y));
    case LC_LINEAR: return d;
    case LC_HARD_SIGMOID: return d * LSEL((y > zero) & (y < one), LV(lv_splat)(al), zero);
    case LC_LEAKY_RELU: return d * LSEL(y > zero, one, LV(lv_splat)(al));
    case LC_THRESHOLDED_RELU: return d * LSEL(y != zero, one, zero);
    case LC_SCALED_TANH: return d * (be * (al - y * y / al));
    case LC_AFFINE: return d * al;
    case LC_ELU: return d * LSEL(y > zero, one, y + al);
    case LC_SOFTSIGN: {
        const LVEC s = 1 - LSEL(y < zero, -y, y);
        return d * (s * s);
    }
    case LC_SOFTPLUS: return d * (1 - LV(lv_exp)(-y));
    default: return d * (1 - y * y);  /* LC_TANH */
    }
}

/* v clipped to [-clip, clip]; and d where the clipped pre-activation zp is inside (0 at the
 * bounds: it was clipped) */
LSTMCORE_INLINE LVEC LV(lv_clip)(LVEC v, REAL clip) {
    const LVEC lo = LV(lv_splat)(-clip), hi = LV(lv_splat)(clip);
    return LV(lv_at_most)(LV(lv_at_least)(v, lo), hi);
}

LSTMCORE_INLINE LVEC LV(lv_clip_grad)(LVEC zp, LVEC d, REAL clip) {
    return LSEL((zp < LV(lv_splat)(clip)) & (zp > LV(lv_splat)(-clip)), d, LV(lv_splat)(0));
}

