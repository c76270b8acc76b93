/* Activations and their derivatives written from outputs, float32 (_f32) and float64 (_f64).
 *
 * The NumPy reference (src/lstmcore/reference.py) uses the same formulas, so the two agree to
 * rounding. Codes match lstmcore._validate.ACTIVATIONS / RECURRENT_ACTIVATIONS.
 */
#ifndef LSTMCORE_ACTIVATIONS_H
#define LSTMCORE_ACTIVATIONS_H

#include <math.h>

enum { LSTMCORE_TANH = 0, LSTMCORE_RELU = 1, LSTMCORE_SIGMOID = 2, LSTMCORE_LINEAR = 3 };
enum { LSTMCORE_RSIGMOID = 0, LSTMCORE_RHARD_SIGMOID = 1 };

#define REAL float
#define SFX(name) name##_f32
#define EXP expf
#define TANH tanhf
#define FABS fabsf
#include "activations_impl.h"
#undef REAL
#undef SFX
#undef EXP
#undef TANH
#undef FABS

#define REAL double
#define SFX(name) name##_f64
#define EXP exp
#define TANH tanh
#define FABS fabs
#include "activations_impl.h"
#undef REAL
#undef SFX
#undef EXP
#undef TANH
#undef FABS

#endif /* LSTMCORE_ACTIVATIONS_H */
