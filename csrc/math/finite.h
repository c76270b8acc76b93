/* The finite check of the input arrays (lstmcore._checks.all_finite), vectorized for the widest
 * instruction set the CPU has. Header-only: lstmcore._checks is built from it alone. */
#ifndef LSTMCORE_FINITE_H
#define LSTMCORE_FINITE_H

#include <stddef.h>
#include <stdint.h>

#include "math/activations.h" /* LSTMCORE_INLINE */
#include "rt/cpu_features.h"

/* 1 when none of the n floats whose bits are u is NaN or inf: an IEEE float is NaN or inf exactly
 * when its exponent bits are all ones. The OR-reduction over all n (no early exit) vectorizes. */
LSTMCORE_INLINE int lstmcore_finite_bits32(const uint32_t *restrict u, ptrdiff_t n) {
    uint32_t bad = 0;
    for (ptrdiff_t i = 0; i < n; i++)
        bad |= (u[i] & 0x7F800000u) == 0x7F800000u;
    return bad == 0;
}

LSTMCORE_INLINE int lstmcore_finite_bits64(const uint64_t *restrict u, ptrdiff_t n) {
    uint64_t bad = 0;
    for (ptrdiff_t i = 0; i < n; i++)
        bad |= (u[i] & 0x7FF0000000000000u) == 0x7FF0000000000000u;
    return bad == 0;
}

#if LSTMCORE_X86_DISPATCH
__attribute__((target("avx2"))) static int lstmcore_finite32_avx2(const uint32_t *u, ptrdiff_t n) {
    return lstmcore_finite_bits32(u, n);
}
__attribute__((target("avx2"))) static int lstmcore_finite64_avx2(const uint64_t *u, ptrdiff_t n) {
    return lstmcore_finite_bits64(u, n);
}
#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ < 8)
#define LSTMCORE_FINITE_AVX512 "avx512f,avx512bw"
#else
#define LSTMCORE_FINITE_AVX512 "avx512f,avx512bw,prefer-vector-width=512"
#endif
__attribute__((target(LSTMCORE_FINITE_AVX512))) static int
lstmcore_finite32_avx512(const uint32_t *u, ptrdiff_t n) {
    return lstmcore_finite_bits32(u, n);
}
__attribute__((target(LSTMCORE_FINITE_AVX512))) static int
lstmcore_finite64_avx512(const uint64_t *u, ptrdiff_t n) {
    return lstmcore_finite_bits64(u, n);
}
#undef LSTMCORE_FINITE_AVX512
#endif

/* a: n floats (elem_size 4) or doubles (8), by their bits */
static inline int lstmcore_all_finite(const void *a, ptrdiff_t n, int elem_size) {
#if LSTMCORE_X86_DISPATCH
    static int isa = -1; /* 0 baseline, 1 AVX2, 2 AVX-512; a race writes the same value */
    if (isa < 0)
        isa = lstmcore_cpu_best_isa();
    if (isa == 2)
        return elem_size == 4 ? lstmcore_finite32_avx512((const uint32_t *)a, n)
                              : lstmcore_finite64_avx512((const uint64_t *)a, n);
    if (isa == 1)
        return elem_size == 4 ? lstmcore_finite32_avx2((const uint32_t *)a, n)
                              : lstmcore_finite64_avx2((const uint64_t *)a, n);
#endif
    return elem_size == 4 ? lstmcore_finite_bits32((const uint32_t *)a, n)
                          : lstmcore_finite_bits64((const uint64_t *)a, n);
}

#endif /* LSTMCORE_FINITE_H */
