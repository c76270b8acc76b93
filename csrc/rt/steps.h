/* One row of a plan's gather (lstmcore.engine._checks.take_rows: take_steps on one thread, and
 * lstmcore.engine._cells.take_steps with its rows split between threads). Plain C99, no state. */
#ifndef LSTMCORE_RT_STEPS_H
#define LSTMCORE_RT_STEPS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* dst (T steps o1 bytes apart) = src's steps: step t from src's step k (s1 bytes apart),
 * k = srow[t] (srow: this row's src, or NULL: t, or T-1-t with reverse), row bytes each; 0
 * where k < 0 or zrow[t] (zrow: this row's zero flags, or NULL), or, with skip, those steps
 * left as they are (for a reader that never reads them). Runs of zeros are one memset
 * and runs of consecutive source steps one memcpy where both sides' steps lie next to each other
 * (a forward lengths plan's row is then one memcpy and one memset: 6400 calls of 128 bytes cost
 * more than the bytes at B 64, T 100, I 32). */
static inline void lstmcore_take_row(char *dst, ptrdiff_t o1, const char *src, ptrdiff_t s1,
                                     ptrdiff_t T, ptrdiff_t row, const int64_t *srow,
                                     int reverse, const unsigned char *zrow, int skip) {
    const int out_runs = o1 == row, in_runs = s1 == row;
#define LC_SRC(t) (srow ? srow[t] : (reverse ? T - 1 - (t) : (t)))
#define LC_ZERO(t) (zrow && zrow[t])
    ptrdiff_t t = 0;
    while (t < T) {
        const ptrdiff_t k = LC_SRC(t);
        ptrdiff_t t1 = t + 1;
        if (k < 0 || LC_ZERO(t)) { /* a run of zeros */
            while (t1 < T && ((srow ? srow[t1] : 0) < 0 || LC_ZERO(t1)))
                t1++;
            if (skip)
                ; /* left as they are */
            else if (out_runs)
                memset(dst + t * o1, 0, (size_t)((t1 - t) * row));
            else
                for (ptrdiff_t u = t; u < t1; u++)
                    memset(dst + u * o1, 0, (size_t)row);
        } else if (out_runs && in_runs) { /* a run of consecutive source steps */
            while (t1 < T && !LC_ZERO(t1) && LC_SRC(t1) == k + t1 - t)
                t1++;
            memcpy(dst + t * o1, src + k * s1, (size_t)((t1 - t) * row));
        } else {
            memcpy(dst + t * o1, src + k * s1, (size_t)row);
        }
        t = t1;
    }
#undef LC_SRC
#undef LC_ZERO
}

#endif /* LSTMCORE_RT_STEPS_H */
