/* Compiles lstm_gates_impl.h for every instruction set (rt/isa_copies.h) in the precision that
 * lstm_gates.c has defined (REAL, SFX, and the V512* / V128* names of its AVX-512 intrinsics),
 * then undefines those macros for the next precision. Not a standalone header.
 */
#include "rt/isa_copies.h"
#undef REAL
#undef SFX
#undef V512
#undef V512F
#undef V512CMP
#undef V128
#undef V128F
#undef V512SHUF
#undef V512INS
#undef V512EXT
