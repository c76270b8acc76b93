/* Body of activations.h for one precision: included once with REAL = float, once with double.
 * Not a standalone header; activations.h defines the constants it uses, suffixed by precision
 * (SFX(EXP_LO) is EXP_LO_f32 or EXP_LO_f64; the vector kernels of lstm_gates_impl.h use them too),
 * and this file undefines REAL, UINT and SFX at its end.
 */

union SFX(lstmcore_bits) { REAL f; UINT u; };

/* e^x for x clamped to [EXP_LO, EXP_HI]: x = n ln2 + r, |r| <= ln2 / 2, e^x = 2^n e^r. */
LSTMCORE_INLINE REAL SFX(lstmcore_exp)(REAL x) {
    union SFX(lstmcore_bits) k, scale;
    x = x < SFX(EXP_LO) ? SFX(EXP_LO) : x;
    x = x > SFX(EXP_HI) ? SFX(EXP_HI) : x;
    k.f = x * SFX(LOG2E) + SFX(SHIFTER);  /* n + SHIFTER, n = round(x / ln 2) */
    const REAL n = k.f - SFX(SHIFTER);
    const REAL r = (x - n * SFX(LN2_HI)) - n * SFX(LN2_LO);
    scale.u = (k.u - SFX(SHIFTER_BITS) + SFX(EXP_BIAS)) << SFX(MANT_BITS);  /* 2^n */
    return SFX(EXP_POLY)(r) * scale.f;
}

/* 1 / (1 + e^-x); the clamp inside exp keeps it finite for every x. */
LSTMCORE_INLINE REAL SFX(sigmoid)(REAL x) {
    return (REAL)1 / ((REAL)1 + SFX(lstmcore_exp)(-x));
}

/* Keras 3: 0 below -3, 1 above 3, x / 6 + 1/2 between. */
LSTMCORE_INLINE REAL SFX(hard_sigmoid)(REAL x) {
    REAL y = x / (REAL)6 + (REAL)0.5;
    y = y < 0 ? (REAL)0 : y;
    return y > 1 ? (REAL)1 : y;
}

/* tanh: the odd Taylor series near 0 (no cancellation), 1 - 2 / (e^2|x| + 1) elsewhere. */
LSTMCORE_INLINE REAL SFX(lstmcore_tanh)(REAL x) {
    const REAL a = x < 0 ? -x : x;
    const REAL s = x * x;
    const REAL small = x + x * s * SFX(TANH_POLY)(s);
    const REAL big = (REAL)1 - (REAL)2 / (SFX(lstmcore_exp)(2 * a) + (REAL)1);
    return a < SFX(TANH_SMALL) ? small : (x < 0 ? -big : big);
}

/* Cell activation phi; act is a compile-time constant where it matters (the switch folds). */
LSTMCORE_INLINE REAL SFX(act)(int act, REAL x) {
    switch (act) {
    case LSTMCORE_RELU: return x < 0 ? (REAL)0 : x;  /* NaN stays NaN, as np.maximum */
    case LSTMCORE_SIGMOID: return SFX(sigmoid)(x);
    case LSTMCORE_LINEAR: return x;
    default: return SFX(lstmcore_tanh)(x);
    }
}

/* phi'(x) from y = phi(x). */
LSTMCORE_INLINE REAL SFX(dact)(int act, REAL y) {
    switch (act) {
    case LSTMCORE_RELU: return y > 0 ? (REAL)1 : (REAL)0;
    case LSTMCORE_SIGMOID: return y * ((REAL)1 - y);
    case LSTMCORE_LINEAR: return (REAL)1;
    default: return (REAL)1 - y * y;
    }
}

/* Recurrent activation sigma. */
LSTMCORE_INLINE REAL SFX(ract)(int ract, REAL x) {
    return ract == LSTMCORE_RHARD_SIGMOID ? SFX(hard_sigmoid)(x) : SFX(sigmoid)(x);
}

/* sigma'(x) from y = sigma(x). */
LSTMCORE_INLINE REAL SFX(dract)(int ract, REAL y) {
    if (ract == LSTMCORE_RHARD_SIGMOID)
        return (y > 0 && y < 1) ? (REAL)1 / (REAL)6 : (REAL)0;
    return y * ((REAL)1 - y);
}

#undef REAL
#undef UINT
#undef SFX
