/* A sequence plan's rows read and written in the caller's order (lengths: the plan's rows are
 * the caller's sorted longest first, lstmcore.engine._sequence): the x rows of a step gathered,
 * the h rows of a step streamed into y, the outputs past each row's length set to 0. Shared by
 * the LSTM's packed sequence (seq/lstm_packed_impl.h) and the cell engine's (cells/cells_impl.h,
 * lc_rows_* in cells.h). Needs REAL, KSFX(name), <string.h>, <stdint.h> and, on x86 with
 * AVX2 or AVX-512, <immintrin.h>; rt/split.h. Not a standalone header. */

/* bytes from src (or zeros, src NULL) to dst, not overlapping, with streaming stores for the
 * whole 64-byte lines of dst (x86 with AVX2 or AVX-512; memcpy elsewhere): lines written whole
 * and not read again soon (a plan's outputs) skip the read of each line that a store would make
 * first (the rows of y lie T steps apart: every line a miss). Needs lstmcore_stream_fence before
 * another thread reads dst. */
LSTMCORE_INLINE void KSFX(stream_copy)(void *dst, const void *src, size_t bytes) {
#if defined(__AVX512F__) || defined(__AVX2__)
    char *d = (char *)dst;
    const char *s = (const char *)src;
    size_t head = (64 - ((uintptr_t)d & 63)) & 63;
    head = head < bytes ? head : bytes;
    if (src)
        memcpy(d, s, head);
    else
        memset(d, 0, head);
    d += head;
    s += src ? head : 0;
    bytes -= head;
    for (; bytes >= 64; bytes -= 64, d += 64, s += src ? 64 : 0) {
#if defined(__AVX512F__)
        _mm512_stream_si512((__m512i *)d,
                            src ? _mm512_loadu_si512((const void *)s) : _mm512_setzero_si512());
#else
        const __m256i z = _mm256_setzero_si256();
        _mm256_stream_si256((__m256i *)d, src ? _mm256_loadu_si256((const __m256i *)s) : z);
        _mm256_stream_si256((__m256i *)(d + 32),
                            src ? _mm256_loadu_si256((const __m256i *)(s + 32)) : z);
#endif
    }
    if (src)
        memcpy(d, s, bytes);
    else
        memset(d, 0, bytes);
#else
    if (src)
        memcpy(dst, src, bytes);
    else
        memset(dst, 0, bytes);
#endif
}

/* Thread k of n: its share of the outputs past the rows' lengths (the steps [lens[r], T) of
 * each row, in order), set to 0: every thread an equal share, whichever rows it ran (the short
 * rows, with most of the padding, are often one thread's); then the fence of its streaming
 * stores. y: rows ldy apart, steps y_step apart, H values a step. */
static void KSFX(plan_padding)(REAL *y, ptrdiff_t ldy, ptrdiff_t y_step, int T, int B, int H,
                               const int *perm, const int *lens, int k, int n) {
    long long total = 0, at = 0;
    for (int r = 0; r < B; r++)
        total += T - lens[r];
    const long long a = total * k / n, b = total * (k + 1) / n;
    for (int r = 0; r < B && at < b; r++) {
        const long long pad = T - lens[r];
        for (long long i = (a > at ? a - at : 0); i < pad && at + i < b; i++)
            KSFX(stream_copy)(y + perm[r] * ldy + (lens[r] + i) * y_step, NULL, sizeof(REAL) * H);
        at += pad;
    }
    lstmcore_stream_fence();
}

/* The time that step s of plan row r reads and writes: lens[r] - 1 - s in reverse, else s */
#define ROWS_AT(lens, reverse, r, s) ((reverse) ? (lens)[r] - 1 - (s) : (s))

/* dst (r1 - r0, W) rows W apart = step s's rows [r0, r1) of the plan from src (the caller's
 * rows ld apart, steps step apart, W values a step) */
static void KSFX(rows_gather)(const REAL *src, ptrdiff_t ld, ptrdiff_t step, int W,
                              const int *perm, const int *lens, int reverse, int s, int r0,
                              int r1, REAL *dst) {
    for (int r = r0; r < r1; r++)
        memcpy(dst + (ptrdiff_t)(r - r0) * W,
               src + perm[r] * ld + ROWS_AT(lens, reverse, r, s) * step, sizeof(REAL) * W);
}

/* step s's rows [r0, r1) of the plan, h (r1 - r0, W) rows ldh apart, streamed into y (the
 * caller's rows ldy apart, steps y_step apart) */
static void KSFX(rows_scatter)(const REAL *h, ptrdiff_t ldh, REAL *y, ptrdiff_t ldy,
                               ptrdiff_t y_step, int W, const int *perm, const int *lens,
                               int reverse, int s, int r0, int r1) {
    for (int r = r0; r < r1; r++)
        KSFX(stream_copy)(y + perm[r] * ldy + ROWS_AT(lens, reverse, r, s) * y_step,
                          h + (ptrdiff_t)(r - r0) * ldh, sizeof(REAL) * W);
}
