/* The constants of the activations, float32 (_f32) and float64 (_f64), and LSTMCORE_INLINE.
 * The activations themselves are written once on vectors, for every instruction set, in
 * math/spans_impl.h: exp by Cody-Waite range reduction, a Taylor polynomial and 2^n built from
 * its bits, with its input clamped so that nothing overflows, in either sign. The NumPy
 * reference (src/lstmcore/reference/activations.py) uses the same formulas with NumPy's exp and
 * tanh. The plain LSTM's int codes below match lstmcore._validate.ACTIVATIONS /
 * RECURRENT_ACTIVATIONS.
 */
#ifndef LSTMCORE_ACTIVATIONS_H
#define LSTMCORE_ACTIVATIONS_H

#include <float.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define LSTMCORE_INLINE static inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define LSTMCORE_INLINE static __forceinline
#else
#define LSTMCORE_INLINE static inline
#endif

/* What the caller guarantees, told to the compiler (bounds it cannot see: no warning, no code
 * for the impossible case) */
#if defined(__GNUC__) || defined(__clang__)
#define LC_ASSUME(cond) \
    do {                \
        if (!(cond))    \
            __builtin_unreachable(); \
    } while (0)
#else
#define LC_ASSUME(cond) ((void)0)
#endif

enum { LSTMCORE_TANH = 0, LSTMCORE_RELU = 1, LSTMCORE_SIGMOID = 2, LSTMCORE_LINEAR = 3 };
enum { LSTMCORE_RSIGMOID = 0, LSTMCORE_RHARD_SIGMOID = 1 };

/* float32: exp's input range keeps 2^n a normal number; the Taylor degree reaches 1 ulp. */
#define EXP_LO_f32 (-87.0f)
#define EXP_HI_f32 88.0f
#define NORMAL_MIN_f32 FLT_MIN  /* the smallest normal number */
#define LOG2E_f32 1.44269502f
#define LN2_HI_f32 0.693359375f          /* few mantissa bits: n * LN2_HI is exact */
#define LN2_LO_f32 (-2.12194442e-4f)     /* ln 2 - LN2_HI */
#define SHIFTER_f32 12582912.0f          /* 1.5 * 2^23: adding it rounds to an integer */
#define SHIFTER_BITS_f32 0x4B400000u
#define EXP_BIAS_f32 127u
#define MANT_BITS_f32 23
#define EXP_POLY_f32(r) (1 + r * (1 + r * (1.0f / 2 + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 \
                     + r * (1.0f / 720 + r * (1.0f / 5040))))))))
/* e^r - 1 = r EXPM1_POLY(r): EXP_POLY's series without its first term */
#define EXPM1_POLY_f32(r) (1 + r * (1.0f / 2 + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 \
                       + r * (1.0f / 720 + r * (1.0f / 5040)))))))
#define TANH_SMALL_f32 0.25f
/* tanh x = x + x^3 * TANH_POLY(x^2) below TANH_SMALL (its odd Taylor series) */
#define TANH_POLY_f32(s) (-0.333333333f + s * (0.133333333f + s * (-0.0539682540f + s * (0.0218694885f \
                      + s * (-0.00886323553f)))))

#define EXP_LO_f64 (-708.0)
#define EXP_HI_f64 709.0
#define NORMAL_MIN_f64 DBL_MIN
#define LOG2E_f64 1.4426950408889634
#define LN2_HI_f64 0.69314718060195446
#define LN2_LO_f64 (-4.2009150726810846e-11)
#define SHIFTER_f64 6755399441055744.0   /* 1.5 * 2^52 */
#define SHIFTER_BITS_f64 0x4338000000000000ull
#define EXP_BIAS_f64 1023ull
#define MANT_BITS_f64 52
#define EXP_POLY_f64(r) (1 + r * (1 + r * (1.0 / 2 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 \
                     + r * (1.0 / 720 + r * (1.0 / 5040 + r * (1.0 / 40320 + r * (1.0 / 362880 \
                     + r * (1.0 / 3628800 + r * (1.0 / 39916800 + r * (1.0 / 479001600 \
                     + r * (1.0 / 6227020800.0))))))))))))))
#define EXPM1_POLY_f64(r) (1 + r * (1.0 / 2 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 \
                       + r * (1.0 / 720 + r * (1.0 / 5040 + r * (1.0 / 40320 + r * (1.0 / 362880 \
                       + r * (1.0 / 3628800 + r * (1.0 / 39916800 + r * (1.0 / 479001600 \
                       + r * (1.0 / 6227020800.0)))))))))))))
#define TANH_SMALL_f64 0.25
#define TANH_POLY_f64(s) (-0.33333333333333331 + s * (0.13333333333333333 + s * (-0.053968253968253971 \
                      + s * (0.021869488536155203 + s * (-0.0088632355299021973 \
                      + s * (0.0035921280365724811 + s * (-0.0014558343870513183 \
                      + s * (0.00059002744094558595 + s * (-0.00023912911424355248 \
                      + s * 9.6915379569294509e-05)))))))))

#endif /* LSTMCORE_ACTIVATIONS_H */
