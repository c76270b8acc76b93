/* Includes the kernel body (lstm_gates_impl.h) once per instruction set, for the precision that
 * lstm_gates.c has defined (REAL, SFX, and the V512* / V128* names of its AVX-512 intrinsics):
 * _base for the baseline target and, on x86 with GCC or clang, _avx2 compiled for AVX2+FMA and
 * _avx512 for AVX-512 (F, VL, BW, DQ) with 512-bit vectors. Undefines those macros at its end.
 * Not a standalone header.
 */
#define ISA _base
#include "lstm_gates_impl.h"
#undef ISA
#if LSTMCORE_X86_DISPATCH
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define ISA _avx2
#include "lstm_gates_impl.h"
#undef ISA
#pragma GCC pop_options
#pragma GCC push_options
#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ < 8)
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")
#else
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,prefer-vector-width=512")
#endif
#define ISA _avx512
#include "lstm_gates_impl.h"
#undef ISA
#pragma GCC pop_options
#endif

/* The precision's macros, undefined for the next one */
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
