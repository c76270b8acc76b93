/* What a call runs with, passed to every generic kernel (cells/, gemm/): no process-wide state.
 * The engine fills it per call from what the machine reports (lstmcore.engine._machine) and the
 * user's settings; tests fill it to run the plans this machine would not pick. */
#ifndef LSTMCORE_RT_CONTEXT_H
#define LSTMCORE_RT_CONTEXT_H

#include <stddef.h>

typedef struct {
    int isa;                 /* 0 baseline, 1 AVX2+FMA, 2 AVX-512; above the CPU's best: its best */
    int nthreads;            /* OpenMP threads */
    ptrdiff_t par_min;       /* row loops: fewer row elements than this per call on one thread */
    ptrdiff_t gemm_par_min;  /* packed products: fewer multiply-adds than this on one thread */
    int l1d;                 /* bytes of L1 data cache per core: the packed product's K blocks */
    int l2;                  /* bytes of L2 per core: the packed product's blocks of rows */
    /* the plain LSTM's packed sequences (cells/lstm_gates.c says what they do) */
    ptrdiff_t seq_par_min;   /* fewer multiply-adds per step than this: one thread */
    ptrdiff_t row_split_bytes; /* packed weights up to this size: threads split rows, not panels;
                              * < 0: 3/4 of l2 */
    int panel_prefetch;      /* packed sequences bring the next panel into the L2 while one runs:
                              * 0 when a thread's panels exceed half the l2 above, 1 never,
                              * 2 always (tests) */
    int row_block;           /* packed sequences' rows per register block: 0 the kernels' choice,
                              * 4 at most 4 (tests) */
    int pack_rows;           /* the LSTM's packed [w_x; w_h] in whole rows, not in the kernels'
                              * strips (a single sequence); its packing and every call that reads
                              * it must agree */
} lc_ctx;

/* How a packed sequence runs (the plain LSTM's lc_lstm_seq_plan_*): what the kernels chose from
 * the context and the shape, for lstmcore's plan report and its tests. */
typedef struct {
    int row_block;           /* batch rows that share each load of the weights */
    int threads;             /* threads that run it */
    int split_rows;          /* 1: each thread runs its own batch rows through the whole sequence;
                              * 0: each keeps its own panels, and they meet once per step */
    int prefetch;            /* 1: the next panel is prefetched into the L2 while one runs */
    ptrdiff_t weight_bytes;  /* the packed weights read at each step */
    int strip;               /* columns per strip of the packed panels; 0: whole rows */
} lc_seq_plan;

/* 1: while a packed sequence (or a packed product, gemm/) runs one panel, prefetch the next
 * into the L2. A thread that streams panel_bytes of packed weights at each step (a product counts
 * its rows too), more than the L2 holds with the rows and the rest, finds each panel in the L3 at
 * its first row block: that block waits on the L3 while the others read the panel from the L2
 * (S3 panels alone, (64 x 768) @ (768 x 64) x 32 per step, 1 thread, Intel Xeon with AVX-512 and
 * 2 MiB of L2: 99-111 GFLOP/s, 134 with every panel in the L2, 120-136 prefetching the next). */
static inline int lstmcore_panel_prefetch(const lc_ctx *ctx, ptrdiff_t panel_bytes) {
    if (ctx->panel_prefetch)
        return ctx->panel_prefetch == 2;
    return ctx->l2 > 0 && panel_bytes > ctx->l2 / 2;
}

/* The prefetch of the next panel (panel_bytes from pf), shared between the full_blocks register
 * blocks of rows that run the current one: returns its end and sets *share, the lines each block
 * takes, one per k (at most k_max); nothing (the end is pf) when off or when there is no block. */
static inline const char *lstmcore_prefetch_split(int prefetch, const char *pf,
                                                  ptrdiff_t panel_bytes, int full_blocks,
                                                  ptrdiff_t k_max, ptrdiff_t *share) {
    *share = 0;
    if (!prefetch || full_blocks <= 0)
        return pf;
    const ptrdiff_t lines = (panel_bytes + 63) / 64;
    *share = (lines + full_blocks - 1) / full_blocks;
    *share = *share < k_max ? *share : k_max;
    return pf + lines * 64;
}

/* Full block blk's lines of that prefetch: [return value, *end) */
static inline const char *lstmcore_prefetch_block(const char *pf, const char *pf_end,
                                                  ptrdiff_t share, int blk, const char **end) {
    const char *b = pf + blk * share * 64;
    *end = b + share * 64 < pf_end ? b + share * 64 : pf_end;
    return b;
}

#endif /* LSTMCORE_RT_CONTEXT_H */
