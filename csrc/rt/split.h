/* A row split: the rows each thread takes when several threads run a batch's rows through a
 * whole sequence each on their own (the LSTM's packed sequences, csrc/seq; the cell engine's
 * sequences, lstmcore.engine._cells). Plain C99, no state. */
#ifndef LSTMCORE_RT_SPLIT_H
#define LSTMCORE_RT_SPLIT_H

/* The rows [*r0, *r1) that thread k of n takes in a row split of B rows: whole blocks of `unit`
 * rows (the kernels' register block, or 6 where they take blocks of 6: then every row goes
 * through the same kernel as on one thread, 6 or 4 rows at a time or, the odd rows at the end,
 * alone), one contiguous range per thread, so that each panel serves all of a thread's rows while
 * it is in the L1 (blocks handed out one at a time each streamed every panel at every step: S2,
 * 2 threads, 140-150 us per step against 103-111), with about the same work each: with nact (T,
 * non-increasing: the rows sorted by length, longest first) row r runs the steps t with
 * nact[t] > r, and the ranges share the sum of those; without it every row runs T steps. */
static inline void lstmcore_row_range(int B, int T, const int *nact, int unit, int k, int n,
                                      int *r0, int *r1) {
    const int RB = (B + unit - 1) / unit;
    int b0 = (int)((long long)k * RB / n), b1 = (int)((long long)(k + 1) * RB / n);
    if (nact) {
        long long total = 0, done = 0;  /* row-steps: of all rows, of the blocks before b */
        for (int t = 0; t < T; t++)
            total += nact[t];
        b0 = -1, b1 = RB;
        for (int b = 0, r = 0, t = T; b < RB; b++) {
            /* thread k starts at the first block with k / n of the work before it, and ends
             * where thread k + 1 starts (the last thread at the end) */
            if (b0 < 0 && done * n >= total * k)
                b0 = b;
            if (k < n - 1 && done * n >= total * (k + 1)) {
                b1 = b;
                break;
            }
            for (; r < (b + 1) * unit && r < B; r++) {
                while (t > 0 && nact[t - 1] <= r)  /* row r runs steps [0, t) */
                    t--;
                done += t;
            }
        }
        if (b0 < 0)
            b0 = RB;
    }
    *r0 = b0 * unit < B ? b0 * unit : B;
    *r1 = b1 * unit < B ? b1 * unit : B;
}

#endif /* LSTMCORE_RT_SPLIT_H */
