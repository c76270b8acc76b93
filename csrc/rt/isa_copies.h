/* Includes a kernel body once per instruction set, for the precision the including file has
 * defined: LSTMCORE_IMPL names the body ("cells/cells_impl.h"), which needs REAL, SFX(name) and
 * KSFX(name) (dispatch.h). The copies: _base for the baseline target and, on x86 with GCC or
 * clang (LSTMCORE_X86_DISPATCH), _avx2 compiled for AVX2+FMA and _avx512 for AVX-512 (F, VL, BW,
 * DQ) with 512-bit vectors. dispatch.h's PICK calls the one a context asks for.
 * Not a standalone header: included once per precision.
 */
#define ISA _base
#include LSTMCORE_IMPL
#undef ISA
#if LSTMCORE_X86_DISPATCH
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define ISA _avx2
#include LSTMCORE_IMPL
#undef ISA
#pragma GCC pop_options
#pragma GCC push_options
#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ < 8)
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")
#else
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,prefer-vector-width=512")
#endif
#define ISA _avx512
#include LSTMCORE_IMPL
#undef ISA
#pragma GCC pop_options
#endif
