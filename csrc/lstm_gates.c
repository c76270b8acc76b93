/* Gate maths of one LSTM step: see lstm_gates.h for the contract. */
#include "lstm_gates.h"
#include "activations.h"

/* Fewer units than this per call run on one thread: forking costs more than it saves. */
#ifndef LSTMCORE_PAR_MIN
#define LSTMCORE_PAR_MIN 4096
#endif

int lstmcore_openmp_enabled(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

#define REAL float
#define SFX(name) name##_f32
#include "lstm_gates_impl.h"
#undef REAL
#undef SFX

#define REAL double
#define SFX(name) name##_f64
#include "lstm_gates_impl.h"
#undef REAL
#undef SFX
