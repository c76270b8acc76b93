/* The CPU features lstmcore's kernels dispatch on. Header-only, so that a module built without
 * OpenMP (lstmcore._checks) can ask before the OpenMP runtime is loaded (see _backend.py). */
#ifndef LSTMCORE_CPU_FEATURES_H
#define LSTMCORE_CPU_FEATURES_H

/* Where GCC or clang build for x86, the kernels are also compiled for AVX2+FMA and AVX-512 and
 * picked at run time. */
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#define LSTMCORE_X86_DISPATCH 1
#else
#define LSTMCORE_X86_DISPATCH 0
#endif

/* 1 when the CPU (and the OS, for the wider registers) supports AVX2 and FMA, else 0 */
static inline int lstmcore_cpu_has_avx2(void) {
#if LSTMCORE_X86_DISPATCH
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

/* 1 when it also supports AVX-512 F, VL, BW and DQ, else 0 */
static inline int lstmcore_cpu_has_avx512(void) {
#if LSTMCORE_X86_DISPATCH
    __builtin_cpu_init();
    return lstmcore_cpu_has_avx2() && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq");
#else
    return 0;
#endif
}

/* the widest instruction set the kernels have a copy for: 0 baseline, 1 AVX2+FMA, 2 AVX-512 */
static inline int lstmcore_cpu_best_isa(void) {
    return lstmcore_cpu_has_avx512() ? 2 : lstmcore_cpu_has_avx2();
}

#endif /* LSTMCORE_CPU_FEATURES_H */
