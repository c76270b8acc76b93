/* The barrier that threads splitting a sequence's panels or units meet at once per step (the
 * plain LSTM's packed sequences, csrc/seq; the cell engine's units split, lstmcore.engine._cells).
 * Plain C99 with GCC atomics; Linux futexes where there are. */
#ifndef LSTMCORE_RT_BARRIER_H
#define LSTMCORE_RT_BARRIER_H

#ifdef _OPENMP
#include <sched.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>  /* __rdtsc */
#endif
#if defined(__linux__)
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

/* The barrier: each thread adds 1 to arrived after a step and waits until
 * it reaches goal (steps x threads). A waiter spins a short while (a step's partner is usually a
 * few microseconds behind), then sleeps (Linux: futex) so that its core can run whatever holds
 * the partner back: another pool's spinning worker must not take turns with two spinners. */
typedef struct {
    int arrived;
    int sleepers;
} lstmcore_barrier;

static inline void lstmcore_barrier_arrive(lstmcore_barrier *bar) {
    __atomic_add_fetch(&bar->arrived, 1, __ATOMIC_SEQ_CST);
#if defined(__linux__)
    if (__atomic_load_n(&bar->sleepers, __ATOMIC_SEQ_CST) > 0)
        syscall(SYS_futex, &bar->arrived, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
#endif
}

static inline void lstmcore_barrier_wait(lstmcore_barrier *bar, int goal) {
    /* spin about 50 microseconds (a step's partner is usually well within it; the first step of
     * a call also waits for the OpenMP worker to wake up), then sleep */
#if defined(__x86_64__) || defined(__i386__)
    const unsigned long long until = __rdtsc() + 200000;
    while (__rdtsc() < until) {
        if (__atomic_load_n(&bar->arrived, __ATOMIC_ACQUIRE) >= goal)
            return;
        __builtin_ia32_pause();
    }
#else
    for (int spins = 0; spins < 50000; spins++)
        if (__atomic_load_n(&bar->arrived, __ATOMIC_ACQUIRE) >= goal)
            return;
#endif
    for (;;) {
        const int seen = __atomic_load_n(&bar->arrived, __ATOMIC_SEQ_CST);
        if (seen >= goal)
            return;
#if defined(__linux__)
        __atomic_add_fetch(&bar->sleepers, 1, __ATOMIC_SEQ_CST);
        /* returns at once if arrived is no longer seen (an arrival in between) */
        if (__atomic_load_n(&bar->arrived, __ATOMIC_SEQ_CST) == seen)
            syscall(SYS_futex, &bar->arrived, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
        __atomic_sub_fetch(&bar->sleepers, 1, __ATOMIC_SEQ_CST);
#elif defined(_OPENMP)
        sched_yield();
#endif
    }
}

#endif /* LSTMCORE_RT_BARRIER_H */
