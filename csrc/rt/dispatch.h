/* Run-time dispatch between the copies of a kernel (isa_copies.h): KSFX(name) names the copy
 * being compiled (precision and instruction-set suffixes), PICK(name, isa, args) calls the copy
 * of an instruction set (0 baseline, 1 AVX2+FMA, 2 AVX-512). */
#ifndef LSTMCORE_RT_DISPATCH_H
#define LSTMCORE_RT_DISPATCH_H

#include "rt/cpu_features.h"

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define KSFX(name) CAT(SFX(name), ISA)

#if LSTMCORE_X86_DISPATCH
#define PICK(name, isa, args)                                             \
    switch (isa) {                                                        \
    case 2: CAT(name, _avx512) args; break;                               \
    case 1: CAT(name, _avx2) args; break;                                 \
    default: CAT(name, _base) args;                                       \
    }
#else
#define PICK(name, isa, args) CAT(name, _base) args
#endif

#endif /* LSTMCORE_RT_DISPATCH_H */
