/* Includes a kernel body (LSTMCORE_IMPL) for every instruction set (isa_copies.h) in both
 * precisions: REAL float with SFX(name) name##_f32, then REAL double with name##_f64. For bodies
 * that need nothing else per precision (cells/cells_impl.h, gemm/gemm_impl.h; the plain LSTM's
 * also needs the intrinsics' names, see cells/lstm_gates.c). Not a standalone header.
 */
#define REAL float
#define SFX(name) name##_f32
#include "rt/isa_copies.h"
#undef REAL
#undef SFX

#define REAL double
#define SFX(name) name##_f64
#include "rt/isa_copies.h"
#undef REAL
#undef SFX
