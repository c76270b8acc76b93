/* The constants of the activations, float32 (_f32) and float64 (_f64), and LSTMCORE_INLINE.
 * The activations themselves are written once on vectors, for every instruction set, in
 * math/spans_impl.h: exp by Cody-Waite range reduction, a near-minimax polynomial and 2^n built
 * from its bits, with its input clamped so that nothing overflows, in either sign. The NumPy
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
#define LSTMCORE_NOINLINE static __attribute__((noinline))
#elif defined(_MSC_VER)
#define LSTMCORE_INLINE static __forceinline
#define LSTMCORE_NOINLINE static __declspec(noinline)
#else
#define LSTMCORE_INLINE static inline
#define LSTMCORE_NOINLINE static
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

/* float32: exp's input range keeps 2^n a normal number. */
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
/* e^r = 1 + r + r^2 Q(r) and e^r - 1 = r (1 + r / 2 + r^2 R(r)) for |r| <= ln 2 / 2: Q and R
 * near-minimax on that interval (Chebyshev fits, tests/engine/make_exp_polynomials.py), one
 * degree lower each than the Taylor series they replace for the same accuracy (relative error of
 * the rounded coefficients: e^r 1.0e-8, e^r - 1 4.8e-8, against float32's eps 1.2e-7; float64:
 * 1.6e-17 and 2.5e-18 against 2.2e-16). The first terms exact, so the coefficients' rounding is
 * scaled by r^2. With these and the clamps as max / min instructions (lvec_impl.h's
 * lv_at_least, lv_at_most), a value over a span in L1 (AMD EPYC Zen 3, AVX2) took, against the
 * Taylor series and compare-and-blend clamps: float32 sigmoid 0.385 ns against 0.516, tanh 0.484
 * against 0.577; float64 1.25 against 1.66 and 1.57 against 1.73; the worst relative error,
 * against long double, unchanged (float32 tanh 1.99 eps near 1.5e-5, sigmoid 1.31 eps). */
#define EXP_POLY_f32(r) (1 + r * (1 + r * (0.5f + r * (0.16666578f + r * (0.041666556f \
                     + r * (0.008363173f + r * 0.0013926176f))))))
#define EXPM1_POLY_f32(r) (1 + r * (0.5f + r * (0.16666631f + r * (0.041666623f \
                       + r * (0.0083572f + r * 0.0013918714f)))))
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
#define EXP_POLY_f64(r) (1 + r * (1 + r * (0.5000000000000001 + r * (0.16666666666666669 \
                     + r * (0.041666666666624164 + r * (0.008333333333330065 \
                     + r * (0.0013888888917196719 + r * (0.00019841269863040545 \
                     + r * (2.4801521322368692e-05 + r * (2.7557268480310024e-06 \
                     + r * (2.7620075879983367e-07 + r * 2.5100375832561234e-08)))))))))))
#define EXPM1_POLY_f64(r) (1 + r * (0.5 + r * (0.16666666666666669 + r * (0.041666666666666664 \
                       + r * (0.008333333333330065 + r * (0.0013888888888886554 \
                       + r * (0.00019841269863040545 + r * (2.4801587317135164e-05 \
                       + r * (2.7557268480310024e-06 + r * (2.755728298405588e-07 \
                       + r * (2.5100375832561234e-08 + r * 2.091122972975856e-09)))))))))))
#define TANH_SMALL_f64 0.25
#define TANH_POLY_f64(s) (-0.33333333333333331 + s * (0.13333333333333333 + s * (-0.053968253968253971 \
                      + s * (0.021869488536155203 + s * (-0.0088632355299021973 \
                      + s * (0.0035921280365724811 + s * (-0.0014558343870513183 \
                      + s * (0.00059002744094558595 + s * (-0.00023912911424355248 \
                      + s * 9.6915379569294509e-05)))))))))

#endif /* LSTMCORE_ACTIVATIONS_H */
