/* Compiles lstm_gates_impl.h for every instruction set (rt/isa_copies.h) in the precision that
 * lstm_gates.c has defined (REAL, SFX, and the V512* names of its AVX-512 intrinsics),
 * then undefines those macros for the next precision. Not a standalone header.
 */
#include "rt/isa_copies.h"
#undef REAL
#undef SFX
#undef V512
#undef V512F
