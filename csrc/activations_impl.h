/* Body of activations.h for one precision: included once with REAL = float, once with double.
 * Not a standalone header. Needs REAL, SFX(name), EXP, TANH, FABS.
 */

/* exp of a non-positive number only, so it cannot overflow in either sign. */
static inline REAL SFX(sigmoid)(REAL x) {
    REAL e = EXP(-FABS(x));
    return x >= 0 ? (REAL)1 / ((REAL)1 + e) : e / ((REAL)1 + e);
}

/* Keras 3: 0 below -3, 1 above 3, x / 6 + 1/2 between. */
static inline REAL SFX(hard_sigmoid)(REAL x) {
    REAL y = x / (REAL)6 + (REAL)0.5;
    return y < 0 ? (REAL)0 : (y > 1 ? (REAL)1 : y);
}

/* Cell activation phi. */
static inline REAL SFX(act)(int act, REAL x) {
    switch (act) {
    case LSTMCORE_RELU: return x > 0 ? x : (REAL)0;
    case LSTMCORE_SIGMOID: return SFX(sigmoid)(x);
    case LSTMCORE_LINEAR: return x;
    default: return TANH(x);
    }
}

/* phi'(x) from y = phi(x). */
static inline REAL SFX(dact)(int act, REAL y) {
    switch (act) {
    case LSTMCORE_RELU: return y > 0 ? (REAL)1 : (REAL)0;
    case LSTMCORE_SIGMOID: return y * ((REAL)1 - y);
    case LSTMCORE_LINEAR: return (REAL)1;
    default: return (REAL)1 - y * y;
    }
}

/* Recurrent activation sigma. */
static inline REAL SFX(ract)(int ract, REAL x) {
    return ract == LSTMCORE_RHARD_SIGMOID ? SFX(hard_sigmoid)(x) : SFX(sigmoid)(x);
}

/* sigma'(x) from y = sigma(x). */
static inline REAL SFX(dract)(int ract, REAL y) {
    if (ract == LSTMCORE_RHARD_SIGMOID)
        return (y > 0 && y < 1) ? (REAL)1 / (REAL)6 : (REAL)0;
    return y * ((REAL)1 - y);
}
