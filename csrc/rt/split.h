/* A row split: the rows each thread takes when several threads run a batch's rows through a
 * whole sequence each on their own (the LSTM's packed sequences, csrc/seq; the cell engine's
 * sequences, lstmcore.engine._cells). Plain C99, no state. */
#ifndef LSTMCORE_RT_SPLIT_H
#define LSTMCORE_RT_SPLIT_H

#ifdef _OPENMP
#include <omp.h>
#endif

/* The number of threads in the team running the caller: 1 outside a parallel region or without
 * OpenMP. A split sized by the team it got rather than the one it asked for leaves no share
 * unrun when OpenMP gives fewer threads (OMP_THREAD_LIMIT, OMP_DYNAMIC, nested regions). */
static inline int lstmcore_team_size(void) {
#ifdef _OPENMP
    return omp_get_num_threads();
#else
    return 1;
#endif
}

/* LC_FOR(par, nthreads, i, n, step, body): for (ptrdiff_t i = 0; i < n; i += step) body, split
 * between nthreads threads (OpenMP, static schedule) where par holds, and else with no OpenMP
 * region at all: a region whose if clause is false still enters the runtime, which makes and
 * frees a team of one each time (about 1 us a call: a streaming LSTM step of H = 128 took 6.6 us
 * with that region and 4.9 without, one of H = 8 1.31 and 0.33). The body (braces and all,
 * commas allowed) is compiled twice, once in each loop. */
#ifdef _OPENMP
#define LC_FOR(par, nthreads, i, n, step, ...)                                                  \
    do {                                                                                        \
        const int lc_for_threads = (nthreads);                                                  \
        if (par) {                                                                              \
            _Pragma("omp parallel for schedule(static) num_threads(lc_for_threads)")            \
            for (ptrdiff_t i = 0; i < (n); i += (step)) __VA_ARGS__                             \
        } else {                                                                                \
            for (ptrdiff_t i = 0; i < (n); i += (step)) __VA_ARGS__                             \
        }                                                                                       \
    } while (0)
#else
#define LC_FOR(par, nthreads, i, n, step, ...)                                                  \
    do {                                                                                        \
        (void)(par), (void)(nthreads);                                                          \
        for (ptrdiff_t i = 0; i < (n); i += (step)) __VA_ARGS__                                 \
    } while (0)
#endif

/* The rows [*r0, *r1) that thread k of n takes in a row split of B rows: whole blocks of `unit`
 * rows (the kernels' register block, or 6 where they take blocks of 6: then every row goes
 * through the same kernel as on one thread, 6 or 4 rows at a time or, the odd rows at the end,
 * alone; or 2 where a row sums alike in a block of any size, the LSTM's AVX2 kernels, see
 * split_unit in seq/lstm_packed_impl.h; or 1, the cell engine's packed products, whose rows sum
 * alike in a tile of any size, csrc/gemm), one contiguous range per thread, so that each panel
 * serves all of a thread's rows while it is in the L1 (blocks handed out one at a time each
 * streamed every panel at every step: S2, 2 threads, 140-150 us per step against 103-111), with
 * about the same work each: with nact (T, non-increasing: the rows sorted by length, longest
 * first) row r runs the steps t with nact[t] > r, and the ranges share the sum of those;
 * without it every row runs T steps. */
/* The block boundary whose work before it is nearest k / n of the total (ties: the first): with
 * nact, thread k's range runs from boundary k to boundary k + 1. Nearest, not the first at or
 * past k / n: S2's lengths spread over 1..100, blocks of 6 rows longest first (576, 520, 463, ...
 * row-steps), 2 threads took 1966 and 1266 of the 3232 row-steps; nearest: 1559 and 1673. */
static inline int lstmcore_row_boundary(int B, int T, const int *nact, int unit, int k, int n) {
    const int RB = (B + unit - 1) / unit;
    if (k <= 0)
        return 0;
    if (k >= n)
        return RB;
    long long total = 0, done = 0;  /* row-steps: of all rows, of the blocks before b */
    for (int t = 0; t < T; t++)
        total += nact[t];
    const long long target = total * k;  /* in units of 1 / n row-steps */
    int best = 0;
    long long best_gap = target;  /* |done * n - target| at b = 0 */
    for (int b = 1, r = 0, t = T; b <= RB; b++) {
        for (; r < b * unit && r < B; r++) {
            while (t > 0 && nact[t - 1] <= r)  /* row r runs steps [0, t) */
                t--;
            done += t;
        }
        const long long gap = done * n > target ? done * n - target : target - done * n;
        if (gap < best_gap) {
            best = b;
            best_gap = gap;
        }
        if (done * n >= target)
            break;  /* the work before later boundaries only grows */
    }
    return best;
}

static inline void lstmcore_row_range(int B, int T, const int *nact, int unit, int k, int n,
                                      int *r0, int *r1) {
    const int RB = (B + unit - 1) / unit;
    int b0 = (int)((long long)k * RB / n), b1 = (int)((long long)(k + 1) * RB / n);
    if (nact) {
        b0 = lstmcore_row_boundary(B, T, nact, unit, k, n);
        b1 = lstmcore_row_boundary(B, T, nact, unit, k + 1, n);
    }
    *r0 = b0 * unit < B ? b0 * unit : B;
    *r1 = b1 * unit < B ? b1 * unit : B;
}

/* Inside an OpenMP region, this thread's share of a row split of B rows (lstmcore_row_range,
 * blocks of unit rows): for each step t, the body runs with re the end of the share's rows that
 * step t runs (rows [r0, re), nact[t] rows of the batch run step t, or B without nact), until
 * none does (nact never grows). The LSTM drivers' row split (seq/lstm_packed_impl.h); with
 * OpenMP only. */
#define LC_SHARE_STEPS(B, T, nact, unit, t, r0, re, ...)                                        \
    do {                                                                                        \
        int r0, lc_share_r1;                                                                    \
        lstmcore_row_range(B, T, nact, unit, omp_get_thread_num(), omp_get_num_threads(), &r0,  \
                           &lc_share_r1);                                                       \
        for (int t = 0; t < (T); t++) {                                                         \
            const int lc_share_n = (nact) ? (nact)[t] : (B);                                    \
            const int re = lc_share_r1 < lc_share_n ? lc_share_r1 : lc_share_n;                 \
            if (re <= r0)                                                                       \
                break;                                                                          \
            __VA_ARGS__                                                                         \
        }                                                                                       \
    } while (0)

/* Orders this thread's streaming stores before what follows (x86: they bypass the cache and are
 * weakly ordered); nothing elsewhere */
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
static inline void lstmcore_stream_fence(void) { _mm_sfence(); }
#else
static inline void lstmcore_stream_fence(void) {}
#endif

#endif /* LSTMCORE_RT_SPLIT_H */
