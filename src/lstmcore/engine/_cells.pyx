"""The sequence drivers, written once for every cell of csrc/cells/cells.h: the GRU, the simple
RNN and the LSTM with its options (peepholes, projection, clip, coupled input-forget, any
activations). The plain LSTM keeps its tuned kernels in ``lstmcore.engine._lstm``.

Order of work, the same for every cell (DESIGN.md section 1):
- forward: with the weights packed once per call (csrc/gemm; the plan below), at each step
  ``x_t @ w_x`` and, per phase of the cell, one recurrent product ``zh[:, cols] = src @ w_h[:,
  cols]``; through BLAS instead, ONE product ``x @ w_x`` over all T*B rows before the loop and the
  recurrent products per step. Then the cell's gate maths
  (one phase for most cells; two for the GRU with reset_after=False, whose second product reads
  r * h_prev); with a projection, ``h = m @ w_hr`` after the gates.
- backward: the loop runs the phases in reverse and ``dh_prev = dz @ w_h.T``, keeping dz for every
  step; after it, one product each for dx, dw_x, dw_h (and dw_hr), and row sums for db.
The GIL is released for the whole time loop; nothing is allocated inside it. Time-major inside;
inference reads x batch-first and writes h straight into y (B, T, P), with no copy.
"""

cimport numpy as cnp
from cpython.pyport cimport PY_SSIZE_T_MAX
from cython cimport floating
from cython.parallel cimport parallel, prange, threadid
from libc.stdint cimport uint32_t, uint64_t
from libc.string cimport memcpy, memset

import numpy as np

from . import _checks, _lstm, _lstm_options, _machine, _sequence, _threads, _validate
from ._lstm import _aligned_empty, _cache_array, _output_array, _scratch
from ._cache import GRUCache, LSTMCache, RNNCache

from ._blas cimport BLAS_Trans, NoTrans, RowMajor, Trans, _gemm
from ._checks cimport (CompactJob, TakeJob, compact_job, compact_range, lstmcore_all_finite,
                       sequence_ready, state_ready, step_input_ready, take_job, take_rows)

cnp.import_array()

# Row elements from which a cell kernel splits its rows between threads: never, by default.
# Between two BLAS products of a step, an OpenMP row split costs more than it saves: measured on 2
# cores (Intel AVX-512, OpenBLAS), 2 threads, S2 (B 64, T 100, I 32, H 128) inference: RNN 4.0 ->
# 43 ms and GRU 12.1 -> 45 ms with the split from 4096 elements, 3.9 and 9.1 ms without it (the
# BLAS pools take the threads). Tests set 0 to run the split.
cdef Py_ssize_t _PAR_MIN = PY_SSIZE_T_MAX


def _set_par_min(Py_ssize_t n):
    """Row elements from which the cell kernels split rows between threads; returns the previous
    value (tests set 0 to run the threaded loops on small shapes)."""
    global _PAR_MIN
    previous, _PAR_MIN = _PAR_MIN, n
    return previous


# The recurrent products' plan. PACKED: the weights packed once per call (per stepper), each step
# lstmcore's packed product (csrc/gemm/gemm.h); BLAS: a BLAS call per step, which packs the
# weights again each time (OpenBLAS's sgemm_itcopy: 23% of a GRU inference at B 64, H 512).
# AUTO: packed where lstmcore's kernels have vectors (AVX2, AVX-512), BLAS on the baseline
# instruction set, where the machine's BLAS knows the CPU better. Measured, Intel Xeon AVX-512,
# one thread, float32, the product alone: (M, K, N) = (64, 512, 1536) 131 GFLOP/s (AVX-512
# copy), 94 (AVX2), 31 (baseline SSE2). LSTMCORE_RECURRENT_PRODUCT=auto|packed|blas overrides.
cdef enum:
    PLAN_AUTO = 0
    PLAN_PACKED = 1
    PLAN_BLAS = 2

_PLANS = {"auto": PLAN_AUTO, "packed": PLAN_PACKED, "blas": PLAN_BLAS}
_PLAN_ENV = "LSTMCORE_RECURRENT_PRODUCT"


def _plan_from_env():
    import os
    value = os.environ.get(_PLAN_ENV, "").strip().lower() or "auto"
    if value not in _PLANS:
        raise ValueError(f"{_PLAN_ENV} must be one of {sorted(_PLANS)}, got {value!r}")
    return _PLANS[value]


cdef int _PLAN = _plan_from_env()
# The packed products' K blocks and blocks of rows (large M only): from the L1 data cache and the
# L2 the machine reports (_machine), read once
_caches = _machine.caches()
cdef int _L1D = _caches["l1d"][0]
cdef int _L2 = _caches["l2"][0]
# Multiply-adds from which a packed product splits between threads (one fork and join, a few
# microseconds, against the work: 2^18 multiply-adds take about 2-4 us on one AVX-512 core).
cdef Py_ssize_t _GEMM_PAR_MIN = 1 << 18
# The GRU with reset_after infers without (B, 3H) and (B, H) arrays for its gates, each row's
# in the L1 instead (lc_gru_forward with gates NULL; the same bits). Measured, Zen 4, float32,
# inference against the arrays written at every step, 1 / 2 threads: S6 1.011x / 1.014x, S3
# 1.009x / 1.018x, S2 1.029x / 1.012x, S1 1.13x / 1.15x (no scratch arrays to find per call).
cdef bint _GRU_NOCACHE = True
# The units split of a sequence whose rows cannot be split (_unit_shares): UNITS_AUTO its rule,
# UNITS_OFF never, UNITS_ON wherever it applies (tests)
cdef enum:
    UNITS_AUTO = 0
    UNITS_OFF = 1
    UNITS_ON = 2
_UNIT_PLANS = {"auto": UNITS_AUTO, "off": UNITS_OFF, "on": UNITS_ON}
cdef int _UNITS = UNITS_AUTO
cdef bint _OPENMP = _lstm._openmp_enabled()  # without OpenMP the shares would take turns
# A step's multiply-adds from which the units split pays for its barrier, and half of it the
# least a share takes. Measured on 2 cores (Zen 4, float32, B = 1, T = 100, against one thread):
# alone in the machine, 0.83-0.94x under 10K (GRU H = 32-50), 1.15-1.43x at 10-18K (simple RNN
# H = 96, 128; GRU H = 64), 1.5-1.6x from 40K (simple RNN H = 192, GRU H = 128: S5); in lstmcore
# bench's turns beside other libraries' processes the simple RNN's S5 (18K) gave 0.67-1.12x, the
# GRU's (55K) 1.34-1.6x: a step of a few microseconds is at the mercy of its partner's core.
cdef Py_ssize_t _UNIT_MIN = 1 << 15


def _set_plan(recurrent=None, l1d=None, gemm_par_min=None, gru_nocache=None, units=None):
    """Force the recurrent products' plan ('auto', 'packed', 'blas'), the L1 size the packed
    products block for (bytes), their thread threshold (multiply-adds), whether the GRU with
    reset_after infers without its gates' arrays (bool) and the units split of the sequences
    whose rows are not split ('auto': its rule, 'off', 'on': wherever it applies); None keeps a
    setting. Returns the previous settings as a dict of the same keys (tests run every plan)."""
    global _PLAN, _L1D, _GEMM_PAR_MIN, _GRU_NOCACHE, _UNITS
    names = {v: k for k, v in _PLANS.items()}
    unit_names = {v: k for k, v in _UNIT_PLANS.items()}
    previous = {"recurrent": names[_PLAN], "l1d": _L1D, "gemm_par_min": _GEMM_PAR_MIN,
                "gru_nocache": bool(_GRU_NOCACHE), "units": unit_names[_UNITS]}
    if units is not None:
        if units not in _UNIT_PLANS:
            raise ValueError(f"units must be one of {sorted(_UNIT_PLANS)}, got {units!r}")
        _UNITS = _UNIT_PLANS[units]
    if gru_nocache is not None:
        if not isinstance(gru_nocache, (bool, np.bool_)):
            raise TypeError(f"gru_nocache must be a bool, got {type(gru_nocache).__name__}")
        _GRU_NOCACHE = bool(gru_nocache)
    if recurrent is not None:
        if recurrent not in _PLANS:
            raise ValueError(f"recurrent must be one of {sorted(_PLANS)}, got {recurrent!r}")
        _PLAN = _PLANS[recurrent]
    if l1d is not None:
        if int(l1d) < 1:
            raise ValueError(f"l1d must be a positive number of bytes, got {l1d!r}")
        _L1D = int(l1d)
    if gemm_par_min is not None:
        if int(gemm_par_min) < 0:
            raise ValueError(f"gemm_par_min must be >= 0, got {gemm_par_min!r}")
        _GEMM_PAR_MIN = int(gemm_par_min)
    return previous


# Bytes from which a plan's gather or scatter (take_steps below) splits its rows between threads:
# a quarter of the L2 the machine reports (S2's x, 0.8 MB, and outputs, 3.3 MB, at 2 MiB), where
# one fork and join (a few microseconds) is a small part of the copy (about 0.1 ms per MB here).
cdef Py_ssize_t _COPY_PAR_MIN = max(_L2 // 4, 1 << 16)


def _set_copy_par_min(n):
    """Bytes from which take_steps splits rows between threads; returns the previous value
    (tests set 0 to run the threaded copy on small arrays)."""
    global _COPY_PAR_MIN
    if int(n) < 0:
        raise ValueError(f"n must be >= 0, got {n!r}")
    previous, _COPY_PAR_MIN = _COPY_PAR_MIN, int(n)
    return previous


def take_steps(cnp.ndarray a, rows, src, bint reverse, zero, out=None, bint pad=True):
    """lstmcore.engine._checks.take_steps (the same arguments, checks, copy and result), its rows
    split between lstmcore's threads when the copy is large (_COPY_PAR_MIN)."""
    cdef TakeJob job
    kept = take_job(a, rows, src, reverse, zero, out, &job, pad)
    cdef Py_ssize_t B = (<cnp.ndarray>kept[0]).shape[0], j
    cdef int nth = _context().nthreads if B > 1 and B * job.T * job.row >= _COPY_PAR_MIN else 1
    with nogil:
        if nth > 1:
            for j in prange(B, num_threads=min(nth, B), schedule="static"):
                take_rows(&job, j, j + 1)
        else:
            take_rows(&job, 0, B)
    return kept[0]


def compact_steps(cnp.ndarray a, nact, out=None):
    """lstmcore.engine._checks.compact_steps (the same arguments, checks, copy and result), its
    steps split between lstmcore's threads, each an equal share of the rows, when the copy is
    large (_COPY_PAR_MIN): the backward's copies of the rows that ran ran on one thread (GRU S2
    with lengths, 2 threads: 0.5 ms of a 7.7 ms backward)."""
    cdef CompactJob job
    kept = compact_job(a, nact, out, &job)
    cdef Py_ssize_t S = job.offs[job.T], k
    cdef int nth = _context().nthreads if job.T > 1 and S * job.row >= _COPY_PAR_MIN else 1
    nth = min(nth, job.T)
    if nth <= 1:
        with nogil:
            compact_range(&job, 0, job.T)
        return kept[0]
    # thread k copies the steps whose first row lies in its share [k S / nth, (k+1) S / nth)
    cdef const cnp.int64_t[::1] bounds = np.searchsorted(
        kept[1], np.arange(nth + 1, dtype=np.int64) * S // nth).astype(np.int64)
    with nogil:
        for k in prange(nth, num_threads=nth, schedule="static"):
            compact_range(&job, bounds[k], bounds[k + 1])
    return kept[0]


cdef Cell _named_cell(str cell, int H, bint reset_after, bint proj) except *:
    """A cell of lstmcore info's and the tests' plans: 'rnn', 'gru' or 'lstm' (the LSTM with
    options: no peepholes, clip or input_forget; proj: with a projection), tanh and sigmoid."""
    tanh, sigmoid = _NAME_SPECS["tanh"], _NAME_SPECS["sigmoid"]
    if cell == "rnn":
        return _rnn_cell(H, tanh)
    if cell == "gru":
        return _gru_cell(H, reset_after, tanh, sigmoid)
    if cell == "lstm":
        return _lstm_cell(H, _lstm_options.LSTMOptions(
            act=tanh, ract=sigmoid, out_act=tanh, peepholes=None,
            proj=np.empty((H, max(1, H // 2))) if proj else None, clip=None, input_forget=False,
            plain=False, codes=None))
    raise ValueError(f"cell must be one of ['gru', 'lstm', 'rnn'], got {cell!r}")


def _unit_split_shares(str cell, int B, int T, int I, int H, dtype=np.float32,
                       bint reset_after=True, threads=None, bint proj=False):
    """The shares of the units split an inference of this shape gets now, 1 for none (tests;
    lstmcore info reads _cell_plan): on threads (None: those set now), with the plans forced (_set_plan)."""
    cdef Cell cl = _named_cell(cell, H, reset_after, proj)
    cdef lc_ctx ctx = _context()
    if threads is not None:
        ctx.nthreads = max(1, int(threads))
    return _unit_shares(&cl, &ctx, B, T, I, False, _use_packed(ctx), True,
                        np.dtype(dtype) == np.float32)


def _cell_plan(str cell, int B, int T, int I, int H, dtype=np.float32, bint reset_after=True,
               threads=None):
    """The plan a call of the cell engine (cell 'rnn', 'gru' or 'lstm', the LSTM with options)
    on a batch of this shape follows now, without masks or lengths (lstmcore info --plan --cell,
    tests): a dict of 'products' ('packed': lstmcore's kernels, x_t @ w_x and h_prev @ w_h at each
    step; 'blas': x @ w_x over all steps, a BLAS call per step), 'forced' (whether
    LSTMCORE_RECURRENT_PRODUCT or _set_plan chose them), 'isa', 'threads' (the call's),
    'inference' and 'training' (how the threads share the sequence: 'units', 'rows', 'steps':
    a team inside each step's products, or 'one') with 'inference_threads' and
    'training_threads', 'step_madds' (the recurrent product's multiply-adds a step),
    'gemm_par_min' (from which a packed product splits), 'unit_madds' (a step's multiply-adds as
    the units split's rule counts them), 'omp_spins' (BLAS products with the call's loops kept on
    one thread, OpenMP's idle workers spinning), 'gates' (the GRU with reset_after's
    inference: 'l1', each row's gates in a buffer; else 'arrays'), and where a training step's
    dx, dw_x and dw_h products run ('packed', 'blas' or 'blocked'), under the plans forced now
    (_set_plan, _lstm._set_grad_products)."""
    if B < 1 or T < 1 or I < 0 or H < 1:
        raise ValueError(f"expected B, T, H >= 1 and I >= 0, got {(B, T, I, H)}")
    cdef Cell cl = _named_cell(cell, H, reset_after, False)
    cdef lc_ctx ctx = _context()
    if threads is not None:
        ctx.nthreads = max(1, int(threads))
    cdef int n = ctx.nthreads
    cdef bint f32 = np.dtype(dtype) == np.float32
    cdef bint packed = _use_packed(ctx)
    if not packed and _lstm._omp_spins():  # as _pack_weights: the loops on one thread
        ctx.nthreads = 1
    cdef Weights w = _weights(None, None, None, None)
    cdef int unit
    if packed:
        w.pw_h0 = <void *>&unit  # any pointer: _row_split asks only whether w_h is packed
    cdef int rows = _row_split(&ctx, &w, B, f32, &unit)
    cdef int nsh = _unit_shares(&cl, &ctx, B, T, I, False, packed, True, f32)
    cdef Py_ssize_t madds = <Py_ssize_t>B * cl.P * cl.split
    # a step's products without a split of rows or units: on the team where one is large
    # enough (lc_gemm_packed's gemm_par_min; BLAS: its own pool)
    steps = "steps" if ctx.nthreads > 1 and (not packed or madds >= _GEMM_PAR_MIN) else "one"
    cdef int team = ctx.nthreads if steps == "steps" else 1
    inference = "units" if nsh > 1 else "rows" if rows > 1 else steps
    training = "rows" if rows > 1 else steps
    itemsize = 4 if f32 else 8
    bits = _lstm._products_plan(packed, I, cl.P, cl.G, itemsize,
                                cl.kind != CELL_GRU or cl.reset_after)
    plan = {"products": "packed" if packed else "blas", "forced": _PLAN != PLAN_AUTO,
            "isa": _lstm._kernel_isa(),
            "threads": n, "inference": inference, "training": training,
            "inference_threads": nsh if nsh > 1 else rows if rows > 1 else team,
            "training_threads": rows if rows > 1 else team,
            "step_madds": int(madds), "gemm_par_min": int(_GEMM_PAR_MIN),
            "unit_madds": int(<Py_ssize_t>B * (I + cl.H) * cl.G),
            "omp_spins": not packed and n > 1 and ctx.nthreads == 1,
            "gates": "arrays" if _gates_kept(&cl, False) else "l1"}
    for name, bit in (("dx", 1), ("dw_x", 2), ("dw_h", 4)):
        plan[name] = ("blocked" if bits & 16 and bit > 1 else "packed") if bits & bit else "blas"
    if bits & 32:
        plan["dx"] = "gemm"
    return plan


def _unit_min():
    """A step's multiply-adds from which the units split shares a sequence (its rule)."""
    return _UNIT_MIN


def _packed_plan():
    """Whether a call made now packs its recurrent weights (the plan above, for the current
    instruction set)."""
    return _use_packed(_context())


cdef bint _use_packed(lc_ctx ctx):
    return _PLAN == PLAN_PACKED or (_PLAN == PLAN_AUTO and ctx.isa >= 1)


cdef enum:
    SEQ_VALID = 1  # lstmcore.engine._sequence.VALID: the step of that row runs


cdef enum:
    CELL_LSTM = 0
    CELL_GRU = 1
    CELL_RNN = 2


cdef struct Cell:
    int kind                # CELL_*
    int H                   # units (the width of c and of the gate blocks)
    int P                   # the width of h: H, or the projection's P
    int G                   # K * H gate columns
    int split               # columns of phase 0 (G, or 2H for the GRU with reset_after=False)
    int reset_after         # GRU
    lc_act act, ract        # GRU, RNN (act)
    lc_lstm_opts opts       # LSTM
    int proj                # LSTM: h = m @ w_hr


cdef struct Weights:
    # pointers into the caller's arrays (floating, cast at use); NULL: absent
    const void *w_h
    const void *b
    const void *p
    const void *w_hr
    # the same weights packed for lc_gemm_packed (csrc/gemm/gemm.h) by instruction set pack_isa;
    # NULL: that product goes through BLAS. Forward: w_h[:, :split], w_h[:, split:], w_hr;
    # backward: their transposes; the stepper also w_x.
    int pack_isa
    const void *pw_h0
    const void *pw_h1
    const void *pw_hr
    const void *pw_x


cdef struct RowMap:
    # a plan of lengths run in the caller's order (inference): each step's rows gathered from the
    # caller's x (or zx) and their h streamed into the caller's y (csrc/rt/rows_impl.h)
    const int *perm         # (B,) plan row r is the caller's row perm[r]
    const int *lens         # (B,) its steps, non-increasing
    int reverse             # step s of row r is time lens[r] - 1 - s, else s
    int W                   # values a step of the source: I (x), or G (zx from BLAS)
    void *xs                # (B, W) scratch: a step's rows of the source, gathered
    void *ring              # (2, B, P) scratch: h of the last two steps, in the plan's order


cdef lc_ctx _context() except *:
    """The instruction set and thread count lstmcore.engine._lstm chose (one choice for every kernel)."""
    cdef lc_ctx ctx
    memset(&ctx, 0, sizeof(ctx))
    isa, nthreads, prefetch = _lstm._kernel_context()
    ctx.isa = isa
    ctx.nthreads = nthreads
    ctx.panel_prefetch = prefetch
    ctx.par_min = _PAR_MIN
    ctx.gemm_par_min = _GEMM_PAR_MIN
    ctx.l1d = _L1D
    ctx.l2 = _L2
    return ctx


cdef lc_act _act(tuple spec):
    cdef lc_act a
    a.code, a.alpha, a.beta = spec
    return a


# Typed dispatch to the cell kernels (csrc/cells/cells.h) -------------------------------------


cdef inline void _rnn_fwd(const lc_ctx *ctx, int B, int H, lc_act act, const floating *zx,
                          Py_ssize_t ldzx, const floating *zh, const floating *b, floating *h,
                          Py_ssize_t ldh) noexcept nogil:
    if floating is float:
        lc_rnn_forward_f32(ctx, B, H, act, zx, ldzx, zh, b, h, ldh)
    else:
        lc_rnn_forward_f64(ctx, B, H, act, zx, ldzx, zh, b, h, ldh)


cdef inline void _rnn_bwd(const lc_ctx *ctx, int B, int H, lc_act act, const floating *dh,
                          const floating *dy, Py_ssize_t lddy, const floating *h, Py_ssize_t ldh,
                          floating *dz) noexcept nogil:
    if floating is float:
        lc_rnn_backward_f32(ctx, B, H, act, dh, dy, lddy, h, ldh, dz)
    else:
        lc_rnn_backward_f64(ctx, B, H, act, dh, dy, lddy, h, ldh, dz)


cdef inline void _gru_fwd(const lc_ctx *ctx, const Cell *cl, int B, int phase,
                          const floating *zx, Py_ssize_t ldzx, const floating *zh,
                          const floating *b, const floating *h_prev, Py_ssize_t ldhp,
                          floating *gates, floating *extra, floating *h,
                          Py_ssize_t ldh) noexcept nogil:
    if floating is float:
        lc_gru_forward_f32(ctx, B, cl.H, phase, cl.reset_after, cl.act, cl.ract, zx, ldzx, zh,
                           b, h_prev, ldhp, gates, extra, h, ldh)
    else:
        lc_gru_forward_f64(ctx, B, cl.H, phase, cl.reset_after, cl.act, cl.ract, zx, ldzx, zh,
                           b, h_prev, ldhp, gates, extra, h, ldh)


cdef inline void _gru_bwd(const lc_ctx *ctx, const Cell *cl, int B, int phase,
                          const floating *dh, const floating *dy, Py_ssize_t lddy,
                          const floating *gates, const floating *extra, const floating *h_prev,
                          Py_ssize_t ldhp, const floating *drh, floating *dzx, floating *dzh,
                          floating *dh_prev) noexcept nogil:
    if floating is float:
        lc_gru_backward_f32(ctx, B, cl.H, phase, cl.reset_after, cl.act, cl.ract, dh, dy, lddy,
                            gates, extra, h_prev, ldhp, drh, dzx, dzh, dh_prev)
    else:
        lc_gru_backward_f64(ctx, B, cl.H, phase, cl.reset_after, cl.act, cl.ract, dh, dy, lddy,
                            gates, extra, h_prev, ldhp, drh, dzx, dzh, dh_prev)


cdef inline void _lstm_fwd(const lc_ctx *ctx, const Cell *cl, int B, const floating *zx,
                           Py_ssize_t ldzx, const floating *zh, const floating *b,
                           const floating *p, const floating *c_prev, floating *c,
                           floating *gates, floating *zpre, floating *m,
                           Py_ssize_t ldm) noexcept nogil:
    if floating is float:
        lc_lstm_forward_f32(ctx, B, cl.H, &cl.opts, zx, ldzx, zh, b, p, c_prev, c, gates, zpre,
                            m, ldm)
    else:
        lc_lstm_forward_f64(ctx, B, cl.H, &cl.opts, zx, ldzx, zh, b, p, c_prev, c, gates, zpre,
                            m, ldm)


cdef inline void _lstm_bwd(const lc_ctx *ctx, const Cell *cl, int B, const floating *dm,
                           const floating *dy, Py_ssize_t lddy, floating *dc,
                           const floating *gates, const floating *zpre, const floating *p,
                           const floating *c_prev, const floating *c,
                           floating *dz) noexcept nogil:
    if floating is float:
        lc_lstm_backward_f32(ctx, B, cl.H, &cl.opts, dm, dy, lddy, dc, gates, zpre, p, c_prev, c,
                             dz)
    else:
        lc_lstm_backward_f64(ctx, B, cl.H, &cl.opts, dm, dy, lddy, dc, gates, zpre, p, c_prev, c,
                             dz)


# The products: packed, or BLAS ------------------------------------------------------------------


cdef inline void _prod(const lc_ctx *ctx, const Weights *w, const void *packed, int M, int N,
                       int K, const floating *a, Py_ssize_t lda, const floating *b, int ldb,
                       bint tb, floating *c, Py_ssize_t ldc, bint add) noexcept nogil:
    # c (M, N) rows ldc apart (+)= a (M, K) rows lda apart @ op(b): b (K, N) rows ldb apart, or
    # (N, K) when tb; packed: that op(b) packed by _pack (NULL: through BLAS)
    cdef lc_ctx pc
    if packed != NULL:
        pc = ctx[0]
        pc.isa = w.pack_isa  # the layout the weights were packed in
        if floating is float:
            lc_gemm_packed_f32(&pc, M, N, K, a, lda, <const float *>packed, c, ldc, add)
        else:
            lc_gemm_packed_f64(&pc, M, N, K, a, lda, <const double *>packed, c, ldc, add)
    else:
        _gemm(RowMajor, NoTrans, Trans if tb else NoTrans, M, N, K, <floating>1, a, <int>lda, b,
              ldb, <floating>(1 if add else 0), c, <int>ldc)


cdef object _pack(lc_ctx *ctx, str name, w, int col0, int col1, bint trans, bint scratch=True):
    """A packed copy of w[:, col0:col1] (the product's right operand), or of its transpose: a
    per-thread scratch array (scratch) or a new one (a stepper keeps it)."""
    cdef int R = w.shape[0], ncols = col1 - col0
    cdef int K = ncols if trans else R, N = R if trans else ncols
    cdef Py_ssize_t ldw = w.shape[1]
    cdef Py_ssize_t size
    if w.dtype == np.float32:
        size = lc_pack_size_f32(ctx, K, N)
    else:
        size = lc_pack_size_f64(ctx, K, N)
    out = (_scratch(name, (max(size, 1),), w.dtype) if scratch
           else _aligned_empty(max(size, 1), w.dtype))
    cdef Py_ssize_t item = w.itemsize
    cdef char *src = <char *>_ptr(w) + col0 * item
    cdef void *dst = _ptr(out)
    if w.dtype == np.float32:
        with nogil:
            lc_pack_f32(ctx, <float *>src, ldw, K, N, trans, <float *>dst)
    else:
        with nogil:
            lc_pack_f64(ctx, <double *>src, ldw, K, N, trans, <double *>dst)
    return out


cdef list _pack_weights(Cell *cl, lc_ctx *ctx, Weights *w, w_x, w_h, w_hr, bint backward,
                        bint scratch=True):
    """Packs the weights of the products into w (w.pw_*) when the plan says so; returns the
    arrays, which must outlive every use of w. Forward: w_h[:, :split], w_h[:, split:], w_hr and
    w_x; backward (w_x None): the transposes of the first three. scratch: per-thread scratch
    arrays, else new ones (a stepper keeps them). With the products on BLAS while OpenMP's idle
    workers spin (_lstm._omp_spins), the call's own loops run on one thread: a spinning worker
    would take the core OpenBLAS's next product needs."""
    if not _use_packed(ctx[0]):
        if _lstm._omp_spins():
            ctx.nthreads = 1
        return []
    w.pack_isa = ctx.isa
    prefix = "cells.pt_" if backward else "cells.pw_"
    kept = [_pack(ctx, prefix + "h0", w_h, 0, cl.split, backward, scratch)]
    w.pw_h0 = _ptr(kept[0])
    if cl.split < cl.G:
        kept.append(_pack(ctx, prefix + "h1", w_h, cl.split, cl.G, backward, scratch))
        w.pw_h1 = _ptr(kept[len(kept) - 1])
    if cl.proj:
        kept.append(_pack(ctx, prefix + "hr", w_hr, 0, cl.P, backward, scratch))
        w.pw_hr = _ptr(kept[len(kept) - 1])
    if w_x is not None:
        kept.append(_pack(ctx, prefix + "x", w_x, 0, cl.G, False, scratch))
        w.pw_x = _ptr(kept[len(kept) - 1])
    return kept


def _packed_matmul(a, w, bint trans=False, out=None, bint accumulate=True):
    """a (M, K) @ w (K, N), or a @ w.T for w (N, K) when trans, through lc_pack and
    lc_gemm_packed with the current context (instruction set, threads, L1 size): the packed
    product alone (tests, engine._products's window products, and a training step's dx where
    the inputs are narrow, _lstm._grad_bits). out (M, N): added to (accumulate) or written, in
    place, and returned. a may have rows any distance apart, overlapping ones included (a
    convolution's windows); its columns, w and out must be contiguous."""
    if not (isinstance(a, np.ndarray) and isinstance(w, np.ndarray)):
        raise TypeError(f"a and w must be NumPy arrays, got {type(a).__name__} and {type(w).__name__}")
    if a.dtype != w.dtype or a.dtype not in (np.float32, np.float64):
        raise TypeError(f"a and w must be both float32 or both float64, got {a.dtype} and {w.dtype}")
    if a.ndim != 2 or w.ndim != 2:
        raise ValueError(f"a and w must be 2-D, got shapes {a.shape} and {w.shape}")
    cdef int M = a.shape[0], K = a.shape[1], N = w.shape[0] if trans else w.shape[1]
    if (w.shape[1] if trans else w.shape[0]) != K:
        raise ValueError(f"w must be ({N if trans else K}, {K if trans else N}) for a of shape "
                         f"{a.shape}, got {w.shape}")
    if a.strides[1] != a.itemsize or (M > 1 and a.strides[0] % a.itemsize):
        raise ValueError("a must have contiguous rows")
    w = np.ascontiguousarray(w)
    cdef bint add = out is not None and accumulate
    if out is None:
        out = np.empty((M, N), dtype=a.dtype)
    elif (not isinstance(out, np.ndarray) or out.shape != (M, N) or out.dtype != a.dtype
          or not out.flags.c_contiguous):
        raise ValueError(f"out must be a contiguous {a.dtype} array of shape {(M, N)}")
    cdef lc_ctx ctx = _context()
    packed = _pack(&ctx, "cells.packed_matmul", w, 0, w.shape[1], trans, False)
    cdef Weights wt = _weights(None, None, None, None)
    wt.pack_isa = ctx.isa
    cdef Py_ssize_t lda = _lead(a)
    cdef void *pa = _ptr(a)
    cdef void *pp = _ptr(packed)
    cdef void *pc = _ptr(out)
    if a.dtype == np.float32:
        with nogil:
            _prod(&ctx, &wt, pp, M, N, K, <float *>pa, lda, NULL, 0, False, <float *>pc, N, add)
    else:
        with nogil:
            _prod(&ctx, &wt, pp, M, N, K, <double *>pa, lda, NULL, 0, False, <double *>pc, N, add)
    return out


cdef struct BatchedProducts:
    int P, Q, M, N, K
    bint btrans, atrans
    void *a
    void *b
    void *c
    void *ws
    Py_ssize_t as0, as1, lda, bs0, bs1, ldb, cs0, cs1, ldc, wsz


cdef void _batched_run(const lc_ctx *ctx, const BatchedProducts *j, floating *kind,
                       int nth) noexcept nogil:
    # product g = p*Q + q: out[p, q] (M, N) rows ldc apart = a[p, q] (M, K) rows lda apart @
    # b[p, q] (K, N) rows ldb apart (btrans: columns ldb apart), packed into this thread's ws;
    # atrans: a's columns lda apart, gathered into rows in ws after the pack
    cdef lc_ctx one = ctx[0]
    one.nthreads = 1
    cdef Py_ssize_t g
    cdef int tid
    if nth <= 1:
        for g in range(<Py_ssize_t>j.P * j.Q):
            _batched_one(&one, j, g, <floating *>j.ws)
        return
    for g in prange(<Py_ssize_t>j.P * j.Q, num_threads=nth, schedule="static"):
        tid = threadid()
        _batched_one(&one, j, g, <floating *>j.ws + tid * j.wsz)


cdef inline void _batched_one(const lc_ctx *one, const BatchedProducts *j, Py_ssize_t g,
                              floating *wp) noexcept nogil:
    cdef Py_ssize_t p = g // j.Q, q = g % j.Q
    cdef const floating *a = <const floating *>j.a + p * j.as0 + q * j.as1
    cdef const floating *b = <const floating *>j.b + p * j.bs0 + q * j.bs1
    cdef floating *c = <floating *>j.c + p * j.cs0 + q * j.cs1
    cdef Py_ssize_t lda = j.lda, r, k
    cdef floating *at = wp + j.wsz - <Py_ssize_t>j.M * j.K
    if j.atrans:  # a's columns lda apart: its rows gathered into this thread's ws first
        for k in range(j.K):
            for r in range(j.M):
                at[r * j.K + k] = a[k * lda + r]
        a, lda = at, j.K
    if floating is float:
        lc_pack_f32(one, b, j.ldb, j.K, j.N, j.btrans, wp)
        lc_gemm_packed_f32(one, j.M, j.N, j.K, a, lda, wp, c, j.ldc, 0)
    else:
        lc_pack_f64(one, b, j.ldb, j.K, j.N, j.btrans, wp)
        lc_gemm_packed_f64(one, j.M, j.N, j.K, a, lda, wp, c, j.ldc, 0)


def _batched_matmul(a, b, out):
    """out[p, q] = a[p, q] @ b[p, q] for a (P, Q, M, K), b (P, Q, K, N) and out (P, Q, M, N) of
    one float dtype, views of any strides where out's rows and a's and b's rows or columns are
    contiguous (an attention layer's heads: transposes of (B, T, heads, width), no copy; a by
    columns is gathered into rows, one product at a time, by the thread that runs it). Each
    product on one thread (lc_pack then lc_gemm_packed), the P * Q products split between
    lstmcore's threads: a product's bits do not depend on the thread count. Returns out."""
    for name, arr in (("a", a), ("b", b), ("out", out)):
        if not isinstance(arr, np.ndarray) or arr.ndim != 4:
            raise ValueError(f"{name} must be a 4-D NumPy array, got {type(arr).__name__} "
                             f"{np.shape(arr)}")
    if not (a.dtype == b.dtype == out.dtype and a.dtype in (np.float32, np.float64)):
        raise TypeError(f"a, b and out must be all float32 or all float64, got {a.dtype}, "
                        f"{b.dtype} and {out.dtype}")
    cdef int P = a.shape[0], Q = a.shape[1], M = a.shape[2], K = a.shape[3], N = b.shape[3]
    if b.shape[:3] != (P, Q, K) or out.shape != (P, Q, M, N):
        raise ValueError(f"expected a (P, Q, M, K), b (P, Q, K, N), out (P, Q, M, N), got "
                         f"{a.shape}, {b.shape}, {out.shape}")
    if P * Q == 0 or M == 0 or N == 0:
        return out
    if K == 0:
        out[...] = 0
        return out
    cdef Py_ssize_t item = a.itemsize
    if any(st % item for st in (*a.strides, *b.strides, *out.strides)):
        raise ValueError("a, b and out must have strides of whole elements")
    # a read by rows (or, atrans, by columns), b packed from its rows (b[k, n] at k*ldb + n) or
    # its columns (at n*ldb + k)
    cdef bint arows = a.strides[3] == item or K == 1, brows = b.strides[3] == item or N == 1
    cdef bint atrans = not arows and (a.strides[2] == item or M == 1)
    cdef bint btrans = not brows
    if ((not arows and not atrans) or (btrans and b.strides[2] != item and K > 1)
            or (out.strides[3] != item and N > 1)):
        raise ValueError("a's and b's rows or columns and out's rows must be contiguous")
    if not out.flags.writeable or np.may_share_memory(out, a) or np.may_share_memory(out, b):
        raise ValueError("out must be writeable and apart from a and b")
    cdef lc_ctx ctx = _context()
    cdef Py_ssize_t wsz
    if a.dtype == np.float32:
        wsz = lc_pack_size_f32(&ctx, K, N)
    else:
        wsz = lc_pack_size_f64(&ctx, K, N)
    if atrans:
        wsz += <Py_ssize_t>M * K  # and a's rows
    wsz = (wsz + 15) // 16 * 16  # each thread's pack on its own 64-byte lines
    cdef int nth = ctx.nthreads
    if <double>P * Q * M * N * K < <double>ctx.gemm_par_min:
        nth = 1
    nth = max(1, min(nth, P * Q))
    ws = _aligned_empty(nth * wsz, a.dtype)
    cdef BatchedProducts job
    job.P, job.Q, job.M, job.N, job.K = P, Q, M, N, K
    job.btrans, job.atrans = btrans, atrans
    job.a, job.b, job.c, job.ws = _ptr(a), _ptr(b), _ptr(out), _ptr(ws)
    job.as0, job.as1 = a.strides[0] // item, a.strides[1] // item
    job.lda = a.strides[3] // item if atrans else a.strides[2] // item
    job.bs0, job.bs1 = b.strides[0] // item, b.strides[1] // item
    job.ldb = b.strides[3] // item if btrans else b.strides[2] // item
    job.cs0, job.cs1, job.ldc = out.strides[0] // item, out.strides[1] // item, out.strides[2] // item
    job.wsz = wsz
    if a.dtype == np.float32:
        with nogil:
            _batched_run[float](&ctx, &job, <float *>NULL, nth)
    else:
        with nogil:
            _batched_run[double](&ctx, &job, <double *>NULL, nth)
    return out


# One step of any cell: the recurrent products and the gate maths ----------------------------


cdef void _step(const Cell *cl, const lc_ctx *ctx, int B, const floating *zx, Py_ssize_t ldzx,
                const Weights *w, const floating *h_prev, Py_ssize_t ldhp,
                const floating *c_prev, floating *c, floating *zh, floating *gates,
                floating *extra, floating *zpre, floating *m, floating *h, Py_ssize_t ldh,
                const floating *mask, floating *hm) noexcept nogil:
    # zx (B, G) rows ldzx apart: x_t @ w_x, no bias | h_prev (B, P) rows ldhp apart
    # c_prev, c (B, H): LSTM | zh (B, G) scratch | gates (B, G), extra (B, H), zpre (B, G),
    # m (B, H): the step's cache (or scratch) | h (B, P) rows ldh apart, out
    # mask (B, P) or NULL: the recurrent dropout mask on h_prev | hm (B, P) scratch
    cdef int H = cl.H, P = cl.P, G = cl.G, S = cl.split, r, j
    cdef const floating *w_h = <const floating *>w.w_h
    cdef const floating *b = <const floating *>w.b
    cdef const floating *src = h_prev
    cdef Py_ssize_t ld_src = ldhp
    if mask != NULL:  # the products read h_prev * mask
        for r in range(B):
            for j in range(P):
                hm[r * P + j] = h_prev[r * ldhp + j] * mask[r * P + j]
        src, ld_src = hm, P
    # zh[:, :S] = src @ w_h[:, :S]
    _prod(ctx, w, w.pw_h0, B, S, P, src, ld_src, w_h, G, False, zh, G, False)
    if cl.kind == CELL_RNN:
        _rnn_fwd(ctx, B, H, cl.act, zx, ldzx, zh, b, h, ldh)
    elif cl.kind == CELL_GRU:
        _gru_fwd(ctx, cl, B, 0, zx, ldzx, zh, b, h_prev, ldhp, gates, extra, h, ldh)
        if S < G:  # phase 1: zh[:, 2H:] = (r * h_prev [* mask]) @ w_h[:, 2H:]
            if mask != NULL:
                for j in range(B * H):
                    extra[j] *= mask[j]
            _prod(ctx, w, w.pw_h1, B, G - S, H, extra, H, w_h + S, G, False, zh + S, G, False)
            _gru_fwd(ctx, cl, B, 1, zx, ldzx, zh, b, h_prev, ldhp, gates, extra, h, ldh)
    else:
        if not cl.proj:
            m = h  # m is h
        _lstm_fwd(ctx, cl, B, zx, ldzx, zh, b, <const floating *>w.p, c_prev, c, gates, zpre, m,
                  ldh if not cl.proj else H)
        if cl.proj:  # h = m @ w_hr
            _prod(ctx, w, w.pw_hr, B, P, H, m, H, <const floating *>w.w_hr, P, False, h, ldh,
                  False)


cdef inline void _carry_rows(const unsigned char *code, int B, const floating *h_prev,
                             Py_ssize_t ldhp, floating *h, Py_ssize_t ldh, int P,
                             const floating *c_prev, floating *c, int H) noexcept nogil:
    # a masked step keeps the state: h[r] = h_prev[r], c[r] = c_prev[r] where code[r] != VALID
    # code (B) | h_prev, h (B, P) rows ldhp / ldh apart | c_prev, c (B, H) or NULL
    cdef int r
    for r in range(B):
        if code[r] != SEQ_VALID:
            memcpy(h + r * ldh, h_prev + r * ldhp, P * sizeof(floating))
            if c != NULL:
                memcpy(c + <Py_ssize_t>r * H, c_prev + <Py_ssize_t>r * H, H * sizeof(floating))


cdef inline void _rows_gather(const lc_ctx *ctx, const floating *src, Py_ssize_t ld,
                              Py_ssize_t step, const RowMap *rm, int s, int r0, int r1,
                              floating *dst) noexcept nogil:
    # dst (r1 - r0, rm.W) = step s's plan rows [r0, r1) of src (the caller's order; cells.h)
    if floating is float:
        lc_rows_gather_f32(ctx, src, ld, step, rm.W, rm.perm, rm.lens, rm.reverse, s, r0, r1,
                           dst)
    else:
        lc_rows_gather_f64(ctx, src, ld, step, rm.W, rm.perm, rm.lens, rm.reverse, s, r0, r1,
                           dst)


cdef inline void _rows_scatter(const lc_ctx *ctx, const floating *h, Py_ssize_t ldh,
                               floating *y, Py_ssize_t ldy, Py_ssize_t y_step, int W,
                               const RowMap *rm, int s, int r0, int r1) noexcept nogil:
    # step s's plan rows [r0, r1), h (r1 - r0, W) rows ldh apart, streamed into the caller's y
    if floating is float:
        lc_rows_scatter_f32(ctx, h, ldh, y, ldy, y_step, W, rm.perm, rm.lens, rm.reverse, s, r0,
                            r1)
    else:
        lc_rows_scatter_f64(ctx, h, ldh, y, ldy, y_step, W, rm.perm, rm.lens, rm.reverse, s, r0,
                            r1)


cdef inline void _rows_padding(const lc_ctx *ctx, floating *y, Py_ssize_t ldy,
                               Py_ssize_t y_step, int T, int B, int W, const RowMap *rm, int k,
                               int n) noexcept nogil:
    # thread k of n's share of the caller's y past the rows' lengths set to 0, then its fence
    if floating is float:
        lc_rows_padding_f32(ctx, y, ldy, y_step, T, B, W, rm.perm, rm.lens, k, n)
    else:
        lc_rows_padding_f64(ctx, y, ldy, y_step, T, B, W, rm.perm, rm.lens, k, n)


cdef void _seq_forward(const Cell *cl, const lc_ctx *ctx, int T, int B, const floating *zx,
                       Py_ssize_t zx_step, Py_ssize_t ldzx, const Weights *w, const floating *h0,
                       floating *y, Py_ssize_t y_step, Py_ssize_t ldy, floating *c, int c_mod,
                       floating *zh, floating *gates, floating *extra, floating *zpre,
                       floating *m, int cache_mod, const floating *mask,
                       floating *hm, int I, floating *zx_t, const unsigned char *codes,
                       const int *nact, const RowMap *rm=NULL, int Bs=0,
                       int r0=0) noexcept nogil:
    # step t reads zx + t*zx_step (B, G) rows ldzx apart and h_prev (h0 (B, P), then step t-1's
    # h), writes h at y + t*y_step, rows ldy apart. With w_x packed (w.pw_x), zx is the input x
    # instead (step t at zx + t*zx_step, (B, I) rows ldzx apart) and each step's x_t @ w_x goes
    # to zx_t (B, G). c (c_mod, B, H): step t reads slot t % c_mod,
    # writes slot (t+1) % c_mod (c_mod = T+1: every state kept; 2: the last two). The per-step
    # cache (gates (., B, G), extra (., B, H), zpre (., B, G), m (., B, H)) goes to slot
    # t % cache_mod (T: kept for the backward; 1: scratch). NULL arrays are not used by the cell.
    # A sequence plan (lstmcore.engine._sequence): codes (T, B) or NULL, step t's rows whose code
    # is not VALID keep h_prev and c_prev; nact (T) or NULL, step t runs its first nact[t] rows
    # only (the others are past their length and never read again).
    # Bs, r0: these B rows are rows [r0, r0 + B) of a batch of Bs (a thread's share of a row
    # split, _seq_forward_rows): every pointer starts at row r0, the slots of c, the cache and
    # codes hold Bs rows, and step t runs the rows of [r0, nact[t]) in the share (0 means Bs = B)
    # rm (with nact, no codes): zx and y are the caller's, in its order, with rows ldzx and ldy
    # apart (not offset to row r0): each step gathers its rows of zx (rm.W values a step) into
    # rm.xs, writes h into rm.ring and streams it into y (rm's rows and scratch at row r0); the
    # caller zeroes y past the rows' lengths (_rows_padding)
    if Bs == 0:
        Bs = B
    cdef int t, H = cl.H, G = cl.G, P = cl.P, Bt = B
    cdef Py_ssize_t BH = <Py_ssize_t>Bs * H, BG = <Py_ssize_t>Bs * G, BP = <Py_ssize_t>Bs * P, k
    cdef const floating *h_prev = h0
    cdef Py_ssize_t ldhp = P, ld_src, ldh = ldy
    cdef const floating *zx_src
    cdef floating *h
    cdef floating *xs = NULL
    cdef floating *ring = NULL
    cdef RowMap share
    memset(&share, 0, sizeof(share))
    if rm != NULL:  # this share's rows of the map
        share = rm[0]
        share.perm, share.lens = rm.perm + r0, rm.lens + r0
        xs = <floating *>rm.xs + <Py_ssize_t>r0 * rm.W
        ring = <floating *>rm.ring + <Py_ssize_t>r0 * P
        ldh = P
    for t in range(T):
        if nact != NULL:
            Bt = nact[t] - r0
            Bt = B if Bt > B else (0 if Bt < 0 else Bt)
            if Bt == 0:  # no row of this share runs step t, nor any later step
                break
        k = t % cache_mod
        zx_src, ld_src = zx + t * zx_step, ldzx
        h = y + t * y_step
        if rm != NULL:  # step t's rows of zx from the caller's order; h into the ring
            _rows_gather(ctx, zx, ldzx, zx_step, &share, t, 0, Bt, xs)
            zx_src, ld_src = xs, share.W
            h = ring + (t & 1) * BP
        if w.pw_x != NULL:  # zx_t = x_t @ w_x
            _prod(ctx, w, w.pw_x, Bt, G, I, zx_src, ld_src, NULL, 0, False, zx_t, G, False)
            zx_src, ld_src = zx_t, G
        _step(cl, ctx, Bt, zx_src, ld_src, w, h_prev, ldhp,
              c + (t % c_mod) * BH if c != NULL else NULL,
              c + ((t + 1) % c_mod) * BH if c != NULL else NULL, zh,
              gates + k * BG if gates != NULL else NULL,
              extra + k * BH if extra != NULL else NULL,
              zpre + k * BG if zpre != NULL else NULL,
              m + k * BH if m != NULL else NULL, h, ldh, mask, hm)
        if codes != NULL:
            _carry_rows(codes + <Py_ssize_t>t * Bs, Bt, h_prev, ldhp, h, ldh, P,
                        c + (t % c_mod) * BH if c != NULL else NULL,
                        c + ((t + 1) % c_mod) * BH if c != NULL else NULL, H)
        if rm != NULL:
            _rows_scatter(ctx, h, ldh, y, ldy, y_step, P, &share, t, 0, Bt)
        h_prev, ldhp = h, ldh


cdef void _seq_forward_rows(const Cell *cl, const lc_ctx *ctx, int T, int B, const floating *zx,
                            Py_ssize_t zx_step, Py_ssize_t ldzx, const Weights *w,
                            const floating *h0, floating *y, Py_ssize_t y_step, Py_ssize_t ldy,
                            floating *c, int c_mod, floating *zh, floating *gates,
                            floating *extra, floating *zpre, floating *m, int cache_mod,
                            const floating *mask, floating *hm, int I, floating *zx_t,
                            const unsigned char *codes, const int *nact, int unit,
                            int nth, const RowMap *rm=NULL) noexcept nogil:
    # _seq_forward with its B rows split between nth threads, each running its own rows through
    # the whole sequence on one thread (no team per step, no barrier); the shares are those of
    # the team OpenMP gives, which may be smaller than nth. Shares start at multiples of unit
    # (_row_split); with nact, shares are sized by the steps their rows run. nth <= 1:
    # _seq_forward itself, with ctx's threads inside each step's products and gate kernels.
    # rm: the caller's zx and y (_seq_forward), not offset to a share's rows; each thread zeroes
    # its share of y's padding.
    if nth <= 1:
        _seq_forward(cl, ctx, T, B, zx, zx_step, ldzx, w, h0, y, y_step, ldy, c, c_mod, zh, gates,
                     extra, zpre, m, cache_mod, mask, hm, I, zx_t, codes, nact, rm)
        if rm != NULL:
            _rows_padding(ctx, y, ldy, y_step, T, B, cl.P, rm, 0, 1)
        return
    cdef lc_ctx one = ctx[0]
    one.nthreads = 1
    cdef int tid, r0, r1, q, H = cl.H, G = cl.G, P = cl.P
    cdef Py_ssize_t zx_row = 0 if rm != NULL else ldzx, y_row = 0 if rm != NULL else ldy
    with parallel(num_threads=nth):
        tid = threadid()
        # assigned here, so that Cython makes r0 and r1 private to each thread: written only
        # through their addresses, they were shared, and one thread could run another's rows
        # (its own left unwritten: a failure seen twice in the sanitizer job's whole suite)
        r0 = r1 = 0
        lstmcore_row_range(B, T, nact, unit, tid, lstmcore_team_size(), &r0, &r1)
        if r1 > r0:
            _seq_forward(cl, &one, T, r1 - r0, zx + r0 * zx_row, zx_step, ldzx, w,
                         h0 + <Py_ssize_t>r0 * P, y + r0 * y_row, y_step, ldy,
                         c + <Py_ssize_t>r0 * H if c != NULL else NULL, c_mod,
                         zh + <Py_ssize_t>r0 * G,
                         gates + <Py_ssize_t>r0 * G if gates != NULL else NULL,
                         extra + <Py_ssize_t>r0 * H if extra != NULL else NULL,
                         zpre + <Py_ssize_t>r0 * G if zpre != NULL else NULL,
                         m + <Py_ssize_t>r0 * H if m != NULL else NULL, cache_mod,
                         mask + <Py_ssize_t>r0 * P if mask != NULL else NULL,
                         hm + <Py_ssize_t>r0 * P if hm != NULL else NULL, I,
                         zx_t + <Py_ssize_t>r0 * G if zx_t != NULL else NULL,
                         codes + r0 if codes != NULL else NULL, nact, rm, B, r0)
        if rm != NULL:  # the padding in pieces, each to the first thread done (LC_PAD_PIECES)
            for q in prange(LC_PAD_PIECES, schedule="dynamic", chunksize=1):
                _rows_padding(&one, y, ldy, y_step, T, B, P, rm, q, LC_PAD_PIECES)


cdef inline bint _rows_to_split(const lc_ctx *ctx, int B, bint f32) noexcept:
    # whether B rows fill the two register tiles a row split needs at least (_row_split); fewer
    # go to the units split (_unit_shares)
    return B >= 2 * (lc_gemm_mr_f32(ctx) if f32 else lc_gemm_mr_f64(ctx))


cdef int _row_split(const lc_ctx *ctx, const Weights *w, int B, bint f32, int *unit):
    """The threads that split the B rows of a sequence (_seq_forward_rows, _seq_backward_rows),
    1 for none, and in unit the rows their shares start on a multiple of. With several threads
    and the packed products, each thread runs its own rows through the whole sequence instead of
    a team inside each step's product and gate kernel: two forks and joins per step (GRU S2
    inference, 2 threads: 7.46 ms against 8.65 on one; simple RNN S6: 40.6 against 35.5 ms).
    Each share is at least a register tile of rows (lc_gemm_mr); a row sums alike in a tile of
    any size (csrc/gemm/gemm_impl.h), so shares may start at any row (unit 1): with lengths, the
    rows are cut where the threads' row-steps are nearest equal."""
    cdef int mr = lc_gemm_mr_f32(ctx) if f32 else lc_gemm_mr_f64(ctx)
    unit[0] = 1
    if w.pw_h0 == NULL or not _rows_to_split(ctx, B, f32):
        return 1
    return min(ctx.nthreads, (B + mr - 1) // mr)


cdef object _mm(a, b, bint ta=False, bint tb=False, out=None):
    """op(a) @ op(b) through lstmcore's BLAS (as the tuned LSTM: one BLAS, its thread settings,
    no NumPy warnings on non-finite values): a, b, out 2-D with unit column stride."""
    cdef int m = a.shape[1] if ta else a.shape[0], k = a.shape[0] if ta else a.shape[1]
    cdef int n = b.shape[0] if tb else b.shape[1]
    if out is None:
        out = np.empty((m, n), dtype=a.dtype)
    cdef int lda = _lead(a), ldb = _lead(b), ldc = _lead(out)
    cdef void *pa = _ptr(a)
    cdef void *pb = _ptr(b)
    cdef void *pc = _ptr(out)
    cdef BLAS_Trans opa = Trans if ta else NoTrans, opb = Trans if tb else NoTrans
    if a.dtype == np.float32:
        with nogil:
            _gemm(RowMajor, opa, opb, m, n, k, <float>1, <float *>pa, lda, <float *>pb, ldb,
                  <float>0, <float *>pc, ldc)
    else:
        with nogil:
            _gemm(RowMajor, opa, opb, m, n, k, <double>1, <double *>pa, lda, <double *>pb, ldb,
                  <double>0, <double *>pc, ldc)
    return out


cdef inline int _lead(a):
    """a's row stride in elements, BLAS's leading dimension. A one-row array's stride says nothing
    (NumPy calls it contiguous whatever it is: -4 for w_x (1, 4) reversed along its rows), and
    BLAS refuses a leading dimension under the row's width: the width then."""
    return max(a.shape[1], 1) if a.shape[0] == 1 else a.strides[0] // a.itemsize


cdef inline void* _ptr(a):
    return NULL if a is None else cnp.PyArray_DATA(<cnp.ndarray>a)


cdef inline bint _gates_kept(const Cell *cl, bint train) noexcept:
    # whether a forward (or a stepper: train False) has arrays for the cell's gates: all but
    # the GRU with reset_after's inference (_GRU_NOCACHE)
    return train or cl.kind != CELL_GRU or not cl.reset_after or not _GRU_NOCACHE


cdef Weights _weights(w_h, b, p, w_hr):
    cdef Weights w
    w.w_h, w.b, w.p, w.w_hr = _ptr(w_h), _ptr(b), _ptr(p), _ptr(w_hr)
    w.pack_isa = 0
    w.pw_h0 = w.pw_h1 = w.pw_hr = w.pw_x = NULL
    return w


# The units split: a sequence of few rows on several threads --------------------------------
#
# A batch too small for the row split (_row_split: fewer than two register tiles of rows, the
# streaming case of one row) runs each step's products on one thread: too little work per step
# for a fork and join at each (lc_gemm_packed's gemm_par_min). The units split gives each thread
# a share of the cell's units instead, for the whole sequence: the columns of its units in every
# gate block packed side by side (lc_pack_blocks), so that its products (x_t and h_prev, whole,
# times its columns) and its gate maths (the cell contract's, for a cell of its units) run on
# its own weights, in its own cache; the threads meet once per step at a spin barrier
# (csrc/rt/barrier.h), after which each reads all of h. The GRU with reset_after=False meets
# twice: its second product reads r * h_prev of every unit, which each share writes for its
# own into a (B, H) array between the barriers; the LSTM with options keeps each share's c in
# a ring of two steps (with a projection, h = m @ w_hr reads every unit's m: not split). The
# packed products sum each column alike wherever its panel falls, so the bits are those of one
# thread. For the simple RNN, the GRU and the LSTM with options, in inference, without a
# recurrent mask, Keras masks or lengths.

cdef enum:
    MAX_SHARES = 64


cdef struct Share:
    int u0, n               # units [u0, u0 + n)
    Py_ssize_t pw_x, pw_h   # offsets of its packed w_x and w_h (phase 0's columns) in the packs
    Py_ssize_t pw_h1        # and of phase 1's columns of w_h (the GRU with reset_after=False)


cdef struct UnitBufs:
    # the units split's arrays (floating), each share's part at its units' offset
    void *packs             # the shares' packed weights (_unit_layout)
    void *bias              # (parts, G): each share's rows of b, K blocks of n, at parts K u0
    void *peep              # (3, H) or NULL: each share's peepholes, 3 blocks of n, at 3 u0
    void *z                 # (2, B, G): zx then zh, each share's (B, K n) at B K u0
    void *g                 # (B, G + H) or NULL: gates (B, K n) and extra (B, n), at B (K+1) u0
    void *zpre              # (B, G) or NULL: the LSTM's clipped pre-activations, at B K u0
    void *rh                # (B, H) or NULL: r * h_prev (the GRU with reset_after=False)
    void *c                 # (2, B, H) or NULL: the caller's c, c0 in slot 0, out: c_n
    void *ring              # (2, B, H): each share's c, two slots of (B, n), at 2 B u0


cdef int _unit_shares(const Cell *cl, const lc_ctx *ctx, int B, int T, int I, bint train,
                      bint per_step, bint plain, bint f32):
    """The shares of a units split of this sequence, 1 for none. plain: no recurrent mask, Keras
    mask or lengths. Rule: where the rows are not split, one share per thread, each at least a
    panel of columns wide and at least _UNIT_MIN / 2 of a step's multiply-adds."""
    if (_UNITS == UNITS_OFF or train or not per_step or not plain or T < 2 or ctx.nthreads < 2
            or not _OPENMP):
        return 1
    if cl.kind == CELL_LSTM and cl.proj:  # h = m @ w_hr reads every unit's m
        return 1
    if _rows_to_split(ctx, B, f32):
        return 1
    cdef int nr = lc_gemm_nr_f32(ctx) if f32 else lc_gemm_nr_f64(ctx)
    cdef int n = min(ctx.nthreads, MAX_SHARES, max(1, cl.G // nr), cl.H)
    if _UNITS == UNITS_ON:
        return n
    cdef Py_ssize_t madds = <Py_ssize_t>B * (I + cl.H) * cl.G  # a step's multiply-adds
    return max(1, min(n, madds // (_UNIT_MIN // 2)))


cdef inline Py_ssize_t _pack_at(const lc_ctx *ctx, Py_ssize_t at, int K, int N,
                                bint f32) noexcept nogil:
    # the offset after a packed (K, N) placed at at, rounded up to a 64-byte line
    cdef Py_ssize_t line = 64 // (4 if f32 else 8)
    at += lc_pack_size_f32(ctx, K, N) if f32 else lc_pack_size_f64(ctx, K, N)
    return (at + line - 1) // line * line


cdef Py_ssize_t _unit_layout(const Cell *cl, const lc_ctx *ctx, int I, int nsh, bint f32,
                             Share *sh) noexcept nogil:
    # each share's units and where its packed w_x (I, K n) and w_h go: (H, K n), or with two
    # phases (H, 2n) then (H, n); returns the elements of all, each on a 64-byte line
    cdef int s, K = cl.G // cl.H, H = cl.H, K0 = cl.split // cl.H
    cdef Py_ssize_t at = 0
    for s in range(nsh):
        sh[s].u0 = <int>(<long long>s * H // nsh)
        sh[s].n = <int>(<long long>(s + 1) * H // nsh) - sh[s].u0
        sh[s].pw_x = at
        sh[s].pw_h = at = _pack_at(ctx, at, I, K * sh[s].n, f32)
        sh[s].pw_h1 = at = _pack_at(ctx, at, H, K0 * sh[s].n, f32)
        if K0 < K:
            at = _pack_at(ctx, at, H, (K - K0) * sh[s].n, f32)
    return at


cdef inline void _pack_units(const lc_ctx *ctx, const floating *w, int G, int K, int nb,
                             Py_ssize_t col0, int H, int n, floating *wp) noexcept nogil:
    # the columns [col0, col0 + n) of nb blocks H apart of w (K rows of G)
    if floating is float:
        lc_pack_blocks_f32(ctx, w, G, K, nb, H, col0, n, wp)
    else:
        lc_pack_blocks_f64(ctx, w, G, K, nb, H, col0, n, wp)


cdef void _unit_pack(const Cell *cl, const lc_ctx *ctx, int B, int I, const Share *sh,
                     const floating *w_x, const floating *w_h, const floating *b,
                     const floating *p, const UnitBufs *ub) noexcept nogil:
    # a share's packed weights; its bias (rows of b, each K blocks of H) as K blocks of n, its
    # peepholes likewise; its LSTM state's first slot from c0
    cdef int K = cl.G // cl.H, K0 = cl.split // cl.H, H = cl.H, n = sh.n, u0 = sh.u0, g, part, r
    cdef int parts = 2 if cl.kind == CELL_GRU and cl.reset_after else 1  # (2, 3H)
    cdef floating *packs = <floating *>ub.packs
    cdef floating *bias = <floating *>ub.bias
    cdef floating *peep = <floating *>ub.peep
    cdef floating *ring = <floating *>ub.ring + 2 * <Py_ssize_t>B * u0
    cdef const floating *c0 = <const floating *>ub.c
    _pack_units(ctx, w_x, cl.G, I, K, u0, H, n, packs + sh.pw_x)
    _pack_units(ctx, w_h, cl.G, H, K0, u0, H, n, packs + sh.pw_h)
    if K0 < K:
        _pack_units(ctx, w_h, cl.G, H, K - K0, cl.split + u0, H, n, packs + sh.pw_h1)
    for part in range(parts if b != NULL else 0):
        for g in range(K):
            memcpy(bias + <Py_ssize_t>parts * K * u0 + (part * K + g) * n,
                   b + <Py_ssize_t>part * cl.G + <Py_ssize_t>g * H + u0, n * sizeof(floating))
    for g in range(3 if p != NULL else 0):
        memcpy(peep + 3 * u0 + g * n, p + <Py_ssize_t>g * H + u0, n * sizeof(floating))
    for r in range(B if c0 != NULL else 0):
        memcpy(ring + <Py_ssize_t>r * n, c0 + <Py_ssize_t>r * H + u0, n * sizeof(floating))


cdef void _unit_step(const Cell *cl, const lc_ctx *ctx, const Weights *w, int B, int I,
                     const Share *sh, int t, int phase, const UnitBufs *ub,
                     const floating *x_t, Py_ssize_t ldx, const floating *h_prev, Py_ssize_t ldhp,
                     floating *h, Py_ssize_t ldh) noexcept nogil:
    # phase 0 of step t of a share: zx (B, K n) = x_t @ its w_x, zh (B, K0 n) = h_prev @ its
    # w_h, then the gate maths of a cell of its n units: h[:, u0 : u0 + n] out (one phase), or
    # (the GRU with reset_after=False) z, r and r * h_prev, copied into rh[:, u0 : u0 + n].
    # phase 1: zh[:, K0 n:] = rh @ its last columns of w_h, then n and h. The LSTM's c: slot
    # t % 2 of its ring in, slot (t + 1) % 2 out.
    cdef Cell cs = cl[0]
    cdef int K = cl.G // cl.H, K0 = cl.split // cl.H, n = sh.n, u0 = sh.u0, r
    cdef int parts = 2 if cl.kind == CELL_GRU and cl.reset_after else 1
    cs.H = cs.P = n
    cs.G = K * n
    cs.split = K0 * n
    cdef const floating *packs = <const floating *>ub.packs
    cdef const floating *bias = <const floating *>ub.bias
    cdef floating *zx = <floating *>ub.z + <Py_ssize_t>B * K * u0
    cdef floating *zh = <floating *>ub.z + <Py_ssize_t>B * cl.G + <Py_ssize_t>B * K * u0
    cdef floating *rh = <floating *>ub.rh
    cdef floating *ring = <floating *>ub.ring + 2 * <Py_ssize_t>B * u0
    cdef floating *gates = NULL
    cdef floating *extra = NULL
    cdef floating *zpre = NULL
    if ub.g != NULL:
        gates = <floating *>ub.g + <Py_ssize_t>B * (K + 1) * u0
        extra = gates + <Py_ssize_t>B * cs.G
    if ub.zpre != NULL:
        zpre = <floating *>ub.zpre + <Py_ssize_t>B * K * u0
    if bias != NULL:
        bias = bias + <Py_ssize_t>parts * K * u0
    if phase == 1:
        _prod(ctx, w, packs + sh.pw_h1, B, cs.G - cs.split, cl.H, rh, cl.H, NULL, 0, False,
              zh + cs.split, cs.G, False)
        _gru_fwd(ctx, &cs, B, 1, zx, cs.G, zh, bias, h_prev + u0, ldhp, gates, extra, h + u0,
                 ldh)
        return
    _prod(ctx, w, packs + sh.pw_x, B, cs.G, I, x_t, ldx, NULL, 0, False, zx, cs.G, False)
    _prod(ctx, w, packs + sh.pw_h, B, cs.split, cl.H, h_prev, ldhp, NULL, 0, False, zh, cs.G,
          False)
    if cl.kind == CELL_RNN:
        _rnn_fwd(ctx, B, n, cl.act, zx, cs.G, zh, bias, h + u0, ldh)
        return
    if cl.kind == CELL_LSTM:  # m is h
        _lstm_fwd(ctx, &cs, B, zx, cs.G, zh, bias,
                  <const floating *>ub.peep + 3 * u0 if ub.peep != NULL else NULL,
                  ring + (t % 2) * <Py_ssize_t>B * n, ring + ((t + 1) % 2) * <Py_ssize_t>B * n,
                  gates, zpre, h + u0, ldh)
        return
    _gru_fwd(ctx, &cs, B, 0, zx, cs.G, zh, bias, h_prev + u0, ldhp, gates, extra, h + u0, ldh)
    if K0 < K:  # r * h_prev of its units, for every share's phase 1
        for r in range(B):
            memcpy(rh + <Py_ssize_t>r * cl.H + u0, extra + <Py_ssize_t>r * n, n * sizeof(floating))


cdef void _seq_forward_units(const Cell *cl, const lc_ctx *ctx, int T, int B, int I,
                             const floating *x, Py_ssize_t x_step, Py_ssize_t ldx,
                             const floating *w_x, const floating *w_h, const floating *b,
                             const floating *p, const floating *h0, floating *y,
                             Py_ssize_t y_step, Py_ssize_t ldy, int nsh, const Share *sh,
                             const UnitBufs *ub) noexcept nogil:
    # T steps of the units split (see above): step t reads x_t (B, I) at x + t*x_step, rows ldx
    # apart, and h_prev (h0 (B, H), then step t-1's h), writes its h (B, H) at y + t*y_step,
    # rows ldy apart; the LSTM's c_n goes to slot T % 2 of ub.c. Share s runs on thread s % team:
    # each packs its shares' weights (in its own cache) and runs their steps; all meet at the
    # barrier after each step (and between the phases of a cell of two).
    cdef lc_ctx one = ctx[0]
    one.nthreads = 1
    cdef Weights unit_w  # the packs' instruction set, read by each share's products
    memset(&unit_w, 0, sizeof(unit_w))
    unit_w.pack_isa = ctx.isa
    cdef lstmcore_barrier bar
    bar.arrived = bar.sleepers = 0
    cdef bint two = cl.split < cl.G
    cdef int tid, nteam, s, t, r, met, H = cl.H
    cdef const floating *hp
    cdef Py_ssize_t ldhp
    cdef const floating *last
    cdef floating *cn
    with parallel(num_threads=nsh):
        tid = threadid()
        nteam = lstmcore_team_size()
        met = 0  # the barriers this thread has passed
        s = tid
        while s < nsh:
            _unit_pack(cl, &one, B, I, &sh[s], w_x, w_h, b, p, ub)
            s = s + nteam
        for t in range(T):
            if t == 0:
                hp = h0
                ldhp = H
            else:
                hp = y + (t - 1) * y_step
                ldhp = ldy
            s = tid
            while s < nsh:
                _unit_step(cl, &one, &unit_w, B, I, &sh[s], t, 0, ub, x + t * x_step, ldx, hp,
                           ldhp, y + t * y_step, ldy)
                s = s + nteam
            if two:  # every share's r * h_prev in rh
                met = met + 1
                lstmcore_barrier_arrive(&bar)
                lstmcore_barrier_wait(&bar, met * nteam)
                s = tid
                while s < nsh:
                    _unit_step(cl, &one, &unit_w, B, I, &sh[s], t, 1, ub, NULL, 0, hp, ldhp,
                               y + t * y_step, ldy)
                    s = s + nteam
            # step t's h is complete (and visible), and rh read, when all nteam have arrived
            met = met + 1
            lstmcore_barrier_arrive(&bar)
            lstmcore_barrier_wait(&bar, met * nteam)
        s = tid
        while s < nsh and ub.c != NULL:  # its units of c_n
            last = (<floating *>ub.ring + 2 * <Py_ssize_t>B * sh[s].u0
                    + (T % 2) * <Py_ssize_t>B * sh[s].n)
            cn = <floating *>ub.c + (T % 2) * <Py_ssize_t>B * H + sh[s].u0
            for r in range(B):
                memcpy(cn + <Py_ssize_t>r * H, last + <Py_ssize_t>r * sh[s].n,
                       sh[s].n * sizeof(floating))
            s = s + nteam


cdef object _forward(Cell cl, x, w_x, w_h, b, p, w_hr, h0, c0, bint train, mask=None, seq=None,
                     y_out=None):
    """x (B, T, I), checked | h0 (B, P) or None (zeros) | c0 (B, H) or None | mask (B, P) or
    None | seq: a _sequence.Plan or None -> y, h_n, c_n, cache arrays (with a plan: in its
    order). y_out: None, or the (B, T, P) array inference writes y into (_fits; not with
    lengths), from the kernels or from the plan's scatter."""
    x_tm = None
    # lengths in inference: x read and y written in the caller's order, a step at a time (RowMap)
    cdef bint rowmap = seq is not None and not train and seq.nact is not None
    if seq is not None and not rowmap:
        if train:  # the plan's gather and the transpose to time-major in one pass
            x_tm = seq.gather_tm(x, _cache_array("cells.x", (x.shape[1], x.shape[0], x.shape[2]),
                                                 x.dtype))
        else:  # the plan's order of x is scratch, kept between calls
            x = seq.gather(x, _scratch("cells.plan_x", x.shape, x.dtype))
    if seq is not None:
        h0, c0, mask = seq.rows(h0), seq.rows(c0), seq.rows(mask)
    cdef int B = x.shape[0], T = x.shape[1], I = x.shape[2], H = cl.H, G = cl.G, P = cl.P
    if h0 is None:
        h0 = np.zeros((B, P), dtype=x.dtype)
    cdef lc_ctx ctx = _context()
    cdef Weights w = _weights(w_h, b, p, w_hr)
    nact = None if seq is None else seq.nact
    # with nact (lengths, no mask) every running row's step is valid: no codes to read
    codes = None if seq is None or nact is not None else seq.codes
    # a units split packs each share's weights itself (_seq_forward_units)
    cdef int nsh = _unit_shares(&cl, &ctx, B, T, I, train, _use_packed(ctx) and w_x is not None,
                                mask is None and codes is None and nact is None,
                                x.dtype == np.float32)
    if nsh > 1:
        _packs = []
        w.pack_isa = ctx.isa
    else:
        _packs = _pack_weights(&cl, &ctx, &w, w_x, w_h, w_hr, False)  # alive while w points in
    dtype = x.dtype
    cdef bint lstm = cl.kind == CELL_LSTM, gru = cl.kind == CELL_GRU
    cdef bint clip = lstm and cl.opts.clip > 0
    cdef int mod = T if train else 1
    # what the cache keeps comes from memory no cache holds any more (_lstm._recycled); scratch
    # from the per-thread workspaces. With nact, the steps past a row's length are never
    # written, and the backward never reads them
    new = _cache_array if train else _scratch
    cdef bint keep = _gates_kept(&cl, train)
    zh = _scratch("cells.zh", (B, G), dtype) if nsh == 1 else None
    gates = new("cells.gates", (mod, B, G), dtype) if (lstm or gru) and keep and nsh == 1 else None
    extra = new("cells.extra", (mod, B, H), dtype) if gru and keep and nsh == 1 else None
    zpre = new("cells.zpre", (mod, B, G), dtype) if clip and nsh == 1 else None
    m = new("cells.m", (mod, B, H), dtype) if cl.proj else None
    c = None
    cdef int c_mod = T + 1 if train or nact is not None else 2
    if lstm:
        c = _cache_array("cells.c", (c_mod, B, H), dtype) if train else np.empty((c_mod, B, H), dtype=dtype)
        c[0] = c0
    cdef Py_ssize_t zx_step, ldzx, y_step, ldy
    # the input product: with the weights packed, x_t @ w_x at each step (its rows of x still in
    # cache, no (T, B, G) buffer written and read back); else one BLAS product over all T*B rows
    # before the loop
    cdef bint per_step = w.pw_x != NULL or nsh > 1
    zx_t = _scratch("cells.zx_t", (B, G), dtype) if w.pw_x != NULL else None
    if train:  # time-major: x_tm (T, B, I), zx (T, B, G), h (T+1, B, P) with h[0] = h0
        # a copy always: the cache keeps it (with B or T of 1 the transpose of a contiguous x
        # is contiguous, and ascontiguousarray would not copy)
        if x_tm is None:
            x_tm = _cache_array("cells.x", (T, B, I), dtype)
            x_tm[...] = x.transpose(1, 0, 2)
        if per_step:
            zx, zx_step, ldzx = x_tm, <Py_ssize_t>B * I, I
        else:
            zx = _mm(x_tm.reshape(T * B, I), w_x, False, False,
                     _scratch("cells.zx", (T * B, G), dtype))
            zx_step, ldzx = <Py_ssize_t>B * G, G
        h = _cache_array("cells.h", (T + 1, B, P), dtype)
        h[0] = h0
        out = h[1:]
        y_step, ldy = <Py_ssize_t>B * P, P
    else:  # batch-first: zx (B, T, G), y (B, T, P): step t at column t, rows T * G / T * P apart
        if per_step:
            zx, zx_step, ldzx = x, I, <Py_ssize_t>T * I
        else:
            zx = _mm(x.reshape(B * T, I), w_x, False, False,
                     _scratch("cells.zx", (B * T, G), dtype))
            zx_step, ldzx = G, <Py_ssize_t>T * G
        # with a plan, y in its order is scratch too: the caller's y is its scatter; else the
        # caller's y (with the row map, the rows stream into it in whole lines)
        if seq is None and y_out is not None:
            out = y_out
        elif rowmap or seq is None:
            out = _output_array((B, T, P), dtype)
        else:
            out = _scratch("cells.plan_y", (B, T, P), dtype)
        y_step, ldy = P, <Py_ssize_t>T * P
        if out is y_out:  # a view of the caller's (_fits: its strides are whole values)
            y_step, ldy = out.strides[1] // out.itemsize, out.strides[0] // out.itemsize
    cdef RowMap rm
    cdef RowMap *p_rm = NULL
    if rowmap:
        perm_i, lens_i = _lstm._plan_rows(seq.perm, seq.last, B)
        rm.W = I if per_step else G
        xs = _scratch("cells.rows_x", (B, rm.W), dtype)
        ring = _scratch("cells.rows_h", (2, B, P), dtype)
        rm.perm, rm.lens = <const int *>_ptr(perm_i), <const int *>_ptr(lens_i)
        rm.reverse, rm.xs, rm.ring = seq.reverse, _ptr(xs), _ptr(ring)
        p_rm = &rm
    cdef void *p_zx = _ptr(zx)
    cdef void *p_h0 = _ptr(h0)
    cdef void *p_out = _ptr(out)
    cdef void *p_c = _ptr(c)
    cdef void *p_zh = _ptr(zh)
    cdef void *p_gates = _ptr(gates)
    cdef void *p_extra = _ptr(extra)
    cdef void *p_zpre = _ptr(zpre)
    cdef void *p_m = _ptr(m)
    hm = None if mask is None else _scratch("cells.hm", (B, P), dtype)
    cdef void *p_mask = _ptr(mask)
    cdef void *p_hm = _ptr(hm)
    cdef void *p_zx_t = _ptr(zx_t)
    cdef const unsigned char *p_codes = <const unsigned char *>_ptr(codes)
    cdef const int *p_nact = <const int *>_ptr(nact)
    cdef int unit
    cdef int nth = _row_split(&ctx, &w, B, dtype == np.float32, &unit)
    cdef Share shares[MAX_SHARES]
    cdef UnitBufs ub
    cdef void *p_wx
    cdef void *p_wh
    cdef void *p_b
    cdef void *p_p
    if nsh > 1:
        packs = _scratch("cells.units_w",
                         (_unit_layout(&cl, &ctx, I, nsh, dtype == np.float32, shares),), dtype)
        bias = _scratch("cells.units_b", (2 * G,), dtype) if b is not None else None
        peep = _scratch("cells.units_p", (3 * H,), dtype) if p is not None else None
        zb = _scratch("cells.units_z", (2, B, G), dtype)
        # the gates in arrays where _gates_kept says (the GRU with reset_after=False: phase 1
        # reads z; the LSTM)
        gb = _scratch("cells.units_g", (B, G + H), dtype) if (lstm or gru) and keep else None
        zp = _scratch("cells.units_zpre", (B, G), dtype) if clip else None
        rh = _scratch("cells.units_rh", (B, H), dtype) if cl.split < G else None
        ring = _scratch("cells.units_c", (2, B, H), dtype) if lstm else None
        ub.packs, ub.bias, ub.peep, ub.z = _ptr(packs), _ptr(bias), _ptr(peep), _ptr(zb)
        ub.g, ub.zpre, ub.rh, ub.c, ub.ring = _ptr(gb), _ptr(zp), _ptr(rh), _ptr(c), _ptr(ring)
        p_wx, p_wh, p_b, p_p = _ptr(w_x), _ptr(w_h), _ptr(b), _ptr(p)
        if dtype == np.float32:
            with nogil:
                _seq_forward_units[float](&cl, &ctx, T, B, I, <float *>p_zx, zx_step, ldzx,
                                          <float *>p_wx, <float *>p_wh, <float *>p_b,
                                          <float *>p_p, <float *>p_h0, <float *>p_out, y_step,
                                          ldy, nsh, shares, &ub)
        else:
            with nogil:
                _seq_forward_units[double](&cl, &ctx, T, B, I, <double *>p_zx, zx_step, ldzx,
                                           <double *>p_wx, <double *>p_wh, <double *>p_b,
                                           <double *>p_p, <double *>p_h0, <double *>p_out,
                                           y_step, ldy, nsh, shares, &ub)
    elif dtype == np.float32:
        with nogil:
            _seq_forward_rows[float](&cl, &ctx, T, B, <float *>p_zx, zx_step, ldzx, &w,
                                     <float *>p_h0, <float *>p_out, y_step, ldy, <float *>p_c,
                                     c_mod, <float *>p_zh, <float *>p_gates, <float *>p_extra,
                                     <float *>p_zpre, <float *>p_m, mod, <float *>p_mask,
                                     <float *>p_hm, I, <float *>p_zx_t, p_codes, p_nact, unit,
                                     nth, p_rm)
    else:
        with nogil:
            _seq_forward_rows[double](&cl, &ctx, T, B, <double *>p_zx, zx_step, ldzx, &w,
                                      <double *>p_h0, <double *>p_out, y_step, ldy,
                                      <double *>p_c, c_mod, <double *>p_zh, <double *>p_gates,
                                      <double *>p_extra, <double *>p_zpre, <double *>p_m, mod,
                                      <double *>p_mask, <double *>p_hm, I, <double *>p_zx_t,
                                      p_codes, p_nact, unit, nth, p_rm)
    if seq is None:
        c_n = None if c is None else c[T % c_mod].copy()
        if not train:
            return out, out[:, T - 1].copy(), c_n, None
        y = _output_array((B, T, P), dtype)
        y[...] = out.transpose(1, 0, 2)
        return (y, h[T].copy(), c_n,
                {"x": x_tm, "h": h, "c": c, "gates": gates, "extra": extra, "z": zpre, "m": m})
    # each row's final state is that of its last step; outputs back in the caller's order
    rows = np.arange(B)
    c_n = None if c is None else seq.rows_back(np.ascontiguousarray(c[(seq.last + 1) % c_mod, rows]))
    if rowmap:  # y is the caller's already, each row's last output at its own time
        return out, _checks.last_outputs(out, seq.lengths, seq.reverse), c_n, None
    y = out if not train else out.transpose(1, 0, 2)
    h_n = seq.rows_back(np.ascontiguousarray(y[rows, seq.last]))
    y = seq.scatter(y, outputs=True, out=_output_array((B, T, P), dtype) if y_out is None else y_out)
    if not train:
        return y, h_n, c_n, None
    return y, h_n, c_n, {"x": x_tm, "h": h, "c": c, "gates": gates, "extra": extra, "z": zpre,
                         "m": m}


cdef inline void _dh_product(const lc_ctx *ctx, const Weights *w, const void *packed, int B,
                             int P, int K, const floating *dz, int G, const floating *w_h,
                             floating *out, bint accumulate, const floating *mask,
                             floating *mtmp) noexcept nogil:
    # out (B, P) (+)= (dz[:, :K] @ w_h[:, :K].T) [* mask]; dz rows G apart, w_h (P, G);
    # packed: w_h[:, :K].T packed, or NULL
    cdef Py_ssize_t j
    if mask == NULL:
        _prod(ctx, w, packed, B, P, K, dz, G, w_h, G, True, out, P, accumulate)
        return
    _prod(ctx, w, packed, B, P, K, dz, G, w_h, G, True, mtmp, P, False)
    if accumulate:
        for j in range(<Py_ssize_t>B * P):
            out[j] += mtmp[j] * mask[j]
    else:
        for j in range(<Py_ssize_t>B * P):
            out[j] = mtmp[j] * mask[j]


cdef void _seq_backward(const Cell *cl, const lc_ctx *ctx, int T, int B, const Weights *w,
                        const floating *dy, floating *dh, floating *dhp, floating *dc,
                        const floating *h, const floating *c, const floating *gates,
                        const floating *extra, const floating *zpre, floating *dz,
                        floating *dzh, floating *drh, floating *dm, floating *dht,
                        const floating *mask, floating *mtmp, const unsigned char *codes,
                        const int *nact, const floating *dh_n, const floating *dc_n,
                        floating *sh, floating *sc, int Bs=0, int r0=0,
                        const Py_ssize_t *zoff=NULL, floating *h_rows=NULL) noexcept nogil:
    # dy (B, T, P) or NULL | dh (B, P) in: dh_n | dhp (B, P) scratch; on return dh0 is in dh
    # dc (B, H) in: dc_n, out: dc0 (LSTM) | h (T+1, B, P) | c (T+1, B, H) | gates, zpre (T, B, G)
    # extra (T, B, H) | dz (T, B, G) out | dzh (T, B, G) out (GRU reset_after) | drh, dm (B, H)
    # scratch | dht (T, B, P) out: dh + dy of each step (projected LSTM)
    # mask (B, P) or NULL: the recurrent dropout mask of the forward | mtmp (B, P) scratch
    # A sequence plan (as _seq_forward's): codes (T, B) or NULL, a masked row's step passes
    # dh (+ dy_t) and dc unchanged and has dz = 0; nact (T) or NULL, step t runs its first
    # nact[t] rows, a row joins at its last step with its dh_n, dc_n (B, P), (B, H); the others'
    # dz is not written (the products after the loop read the rows that ran only) | sh (B, P),
    # sc (B, H) scratch: the masked rows' dh and dc
    # Bs, r0: these B rows are rows [r0, r0 + B) of a batch of Bs (a thread's share of a row
    # split, _seq_backward_rows), as in _seq_forward: every pointer starts at row r0, the slots
    # of h, c, the cache, dz, dzh, dht and codes hold Bs rows (0 means Bs = B)
    # zoff (T) or NULL: with nact, dz and dzh hold the rows that ran, step after step (S, G):
    # step t's at row zoff[t] (the rows before it), so that the products after the loop read
    # them where they are; h_rows (S, P) or NULL: with zoff, each step's h_prev of the rows that
    # ran, copied as dz is laid out while the step reads them (dw_h's input after the loop)
    if Bs == 0:
        Bs = B
    cdef int t, H = cl.H, G = cl.G, P = cl.P, S = cl.split, Bt = B, r
    cdef Py_ssize_t BH = <Py_ssize_t>Bs * H, BG = <Py_ssize_t>Bs * G, BP = <Py_ssize_t>Bs * P
    cdef Py_ssize_t lddy = <Py_ssize_t>T * P, j
    cdef const floating *w_h = <const floating *>w.w_h
    cdef const floating *dy_t
    cdef const floating *zp_t
    cdef const unsigned char *code
    cdef floating *dz_t
    cdef floating *dzh_t = NULL
    cdef floating *tmp
    cdef floating *out = dh
    cdef Py_ssize_t zo
    for t in range(T - 1, -1, -1):
        dy_t = dy + t * P if dy != NULL else NULL
        zo = zoff[t] * G if zoff != NULL else t * BG
        dz_t = dz + zo
        if dzh != NULL:
            dzh_t = dzh + zo
        zp_t = zpre + t * BG if zpre != NULL else NULL
        if nact != NULL:
            Bt = nact[t] - r0
            Bt = B if Bt > B else (0 if Bt < 0 else Bt)
            if Bt == 0:  # no row of this share runs step t (their last step is earlier)
                continue
            r = B if t == T - 1 else nact[t + 1] - r0
            r = B if r > B else (0 if r < 0 else r)
            if Bt > r:  # rows whose last step is t join
                memcpy(dh + <Py_ssize_t>r * P, dh_n + <Py_ssize_t>r * P,
                       <Py_ssize_t>(Bt - r) * P * sizeof(floating))
                if dc != NULL:
                    memcpy(dc + <Py_ssize_t>r * H, dc_n + <Py_ssize_t>r * H,
                           <Py_ssize_t>(Bt - r) * H * sizeof(floating))
            if h_rows != NULL and zoff != NULL:
                memcpy(h_rows + zoff[t] * P, h + t * BP, <Py_ssize_t>Bt * P * sizeof(floating))
        code = codes + <Py_ssize_t>t * Bs if codes != NULL else NULL
        if code != NULL:
            _save_masked(code, Bt, dh, dy_t, lddy, P, dc, H, sh, sc)
        if cl.kind == CELL_RNN:
            _rnn_bwd(ctx, Bt, H, cl.act, dh, dy_t, lddy, h + (t + 1) * BP, P, dz_t)
            _dh_product(ctx, w, w.pw_h0, Bt, P, G, dz_t, G, w_h, dh, False, mask, mtmp)
        elif cl.kind == CELL_GRU:
            if cl.reset_after:
                _gru_bwd(ctx, cl, Bt, 0, dh, dy_t, lddy, gates + t * BG, extra + t * BH,
                         h + t * BP, P, NULL, dz_t, dzh_t, dhp)
                _dh_product(ctx, w, w.pw_h0, Bt, P, G, dzh_t, G, w_h, dhp, True, mask,
                            mtmp)
            else:
                _gru_bwd(ctx, cl, Bt, 1, dh, dy_t, lddy, gates + t * BG, extra + t * BH,
                         h + t * BP, P, NULL, dz_t, dz_t, dhp)
                # drh = dz[:, 2H:] @ w_h[:, 2H:].T, the gradient of phase 1's source r * h_prev
                _prod(ctx, w, w.pw_h1, Bt, H, G - S, dz_t + S, G, w_h + S, G, True, drh, H,
                      False)
                if mask != NULL:  # the source was r * h_prev * mask
                    for j in range(<Py_ssize_t>Bt * H):
                        drh[j] *= mask[j]
                _gru_bwd(ctx, cl, Bt, 0, dh, dy_t, lddy, gates + t * BG, extra + t * BH,
                         h + t * BP, P, drh, dz_t, dz_t, dhp)
                _dh_product(ctx, w, w.pw_h0, Bt, P, S, dz_t, G, w_h, dhp, True, mask, mtmp)
            tmp = dh
            dh = dhp
            dhp = tmp
        else:
            if cl.proj:  # dm = (dh + dy_t) @ w_hr.T; dh + dy_t kept for dw_hr
                for j in range(<Py_ssize_t>Bt * P):
                    dht[t * BP + j] = dh[j]
                if dy_t != NULL:
                    for j in range(Bt):
                        _axpy_rows(dht + t * BP + j * P, dy_t + j * lddy, P)
                _prod(ctx, w, w.pw_hr, Bt, H, P, dht + t * BP, P, <const floating *>w.w_hr, P,
                      True, dm, H, False)
                _lstm_bwd(ctx, cl, Bt, dm, NULL, 0, dc, gates + t * BG, zp_t,
                          <const floating *>w.p, c + t * BH, c + (t + 1) * BH, dz_t)
            else:
                _lstm_bwd(ctx, cl, Bt, dh, dy_t, lddy, dc, gates + t * BG, zp_t,
                          <const floating *>w.p, c + t * BH, c + (t + 1) * BH, dz_t)
            _dh_product(ctx, w, w.pw_h0, Bt, P, G, dz_t, G, w_h, dh, False, mask, mtmp)
        if code != NULL:
            _pass_masked(code, Bt, dh, P, dc, H, sh, sc, dz_t, dzh_t,
                         dht + t * BP if dht != NULL else NULL, G)
    if dh != out:
        memcpy(out, dh, <Py_ssize_t>B * P * sizeof(floating))


cdef void _seq_backward_rows(const Cell *cl, const lc_ctx *ctx, int T, int B, const Weights *w,
                             const floating *dy, floating *dh, floating *dhp, floating *dc,
                             const floating *h, const floating *c, const floating *gates,
                             const floating *extra, const floating *zpre, floating *dz,
                             floating *dzh, floating *drh, floating *dm, floating *dht,
                             const floating *mask, floating *mtmp, const unsigned char *codes,
                             const int *nact, const floating *dh_n, const floating *dc_n,
                             floating *sh, floating *sc, int unit, int nth,
                             const Py_ssize_t *zoff=NULL, floating *h_rows=NULL) noexcept nogil:
    # _seq_backward with its B rows split between nth threads as _seq_forward_rows splits them
    # (the same shares): each thread runs its rows' steps back to the first on one thread. The
    # rows do not meet until the weight gradients, one product each after the loop. nth <= 1:
    # _seq_backward itself, with ctx's threads inside each step's products and gate kernels.
    if nth <= 1:
        _seq_backward(cl, ctx, T, B, w, dy, dh, dhp, dc, h, c, gates, extra, zpre, dz, dzh, drh,
                      dm, dht, mask, mtmp, codes, nact, dh_n, dc_n, sh, sc, 0, 0, zoff, h_rows)
        return
    cdef lc_ctx one = ctx[0]
    one.nthreads = 1
    cdef int tid, r0, r1, H = cl.H, G = cl.G, P = cl.P
    cdef Py_ssize_t oP, oH, oG
    with parallel(num_threads=nth):
        tid = threadid()
        r0 = r1 = 0  # assigned here: private to each thread (see _seq_forward_rows)
        lstmcore_row_range(B, T, nact, unit, tid, lstmcore_team_size(), &r0, &r1)
        if r1 > r0:
            oP, oH, oG = <Py_ssize_t>r0 * P, <Py_ssize_t>r0 * H, <Py_ssize_t>r0 * G
            _seq_backward(cl, &one, T, r1 - r0, w, dy + oP * T if dy != NULL else NULL,
                          dh + oP, dhp + oP, dc + oH if dc != NULL else NULL, h + oP,
                          c + oH if c != NULL else NULL, gates + oG if gates != NULL else NULL,
                          extra + oH if extra != NULL else NULL,
                          zpre + oG if zpre != NULL else NULL, dz + oG,
                          dzh + oG if dzh != NULL else NULL, drh + oH if drh != NULL else NULL,
                          dm + oH if dm != NULL else NULL, dht + oP if dht != NULL else NULL,
                          mask + oP if mask != NULL else NULL,
                          mtmp + oP if mtmp != NULL else NULL,
                          codes + r0 if codes != NULL else NULL, nact,
                          dh_n + oP if dh_n != NULL else NULL,
                          dc_n + oH if dc_n != NULL else NULL, sh + oP if sh != NULL else NULL,
                          sc + oH if sc != NULL else NULL, B, r0, zoff,
                          h_rows + oP if h_rows != NULL else NULL)


cdef inline void _save_masked(const unsigned char *code, int B, const floating *dh,
                              const floating *dy, Py_ssize_t lddy, int P, const floating *dc,
                              int H, floating *sh, floating *sc) noexcept nogil:
    # before a step's backward: sh[r] = dh[r] + dy[r], sc[r] = dc[r] on its masked rows
    # code (B) | dh (B, P) | dy (B, P) rows lddy apart, or NULL | dc (B, H) or NULL
    cdef int r, j
    for r in range(B):
        if code[r] != SEQ_VALID:
            for j in range(P):
                sh[r * P + j] = dh[r * P + j] + (dy[r * lddy + j] if dy != NULL else 0)
            if dc != NULL:
                memcpy(sc + <Py_ssize_t>r * H, dc + <Py_ssize_t>r * H, H * sizeof(floating))


cdef inline void _pass_masked(const unsigned char *code, int B, floating *dh, int P,
                              floating *dc, int H, const floating *sh, const floating *sc,
                              floating *dz, floating *dzh, floating *dht, int G) noexcept nogil:
    # after a step's backward, on its masked rows: dh_prev = sh, dc_prev = sc, dz = dzh = 0 and
    # dht = 0 | dz, dzh (B, G), dht (B, P); dzh, dht may be NULL
    cdef int r
    for r in range(B):
        if code[r] != SEQ_VALID:
            memcpy(dh + <Py_ssize_t>r * P, sh + <Py_ssize_t>r * P, P * sizeof(floating))
            if dc != NULL:
                memcpy(dc + <Py_ssize_t>r * H, sc + <Py_ssize_t>r * H, H * sizeof(floating))
            memset(dz + <Py_ssize_t>r * G, 0, G * sizeof(floating))
            if dzh != NULL:
                memset(dzh + <Py_ssize_t>r * G, 0, G * sizeof(floating))
            if dht != NULL:
                memset(dht + <Py_ssize_t>r * P, 0, P * sizeof(floating))


cdef inline void _axpy_rows(floating *a, const floating *b, int n) noexcept nogil:
    # a (n) += b (n)
    cdef int j
    for j in range(n):
        a[j] += b[j]


cdef dict _backward(Cell cl, dict cache, x_tm, w_x, w_h, p, w_hr, dy, dh, dc):
    """The gradients of every input of the forward; dh (B, P) and dc (B, H) are copies the
    loop may overwrite (dh_n, dc_n)."""
    seq = cache.get("sequence")
    dh_n = dc_n = codes = nact = sh = sc = None
    if seq is not None:  # into the plan's order; dy is 0 where the forward output 0
        if dy is not None:
            dy = seq.gather_grad(dy, _scratch("cells.plan_dy", dy.shape, dy.dtype),
                                 pad=seq.nact is None)
        dh, dc = seq.rows(dh), seq.rows(dc)
        dh, dc = dh.copy(), None if dc is None else dc.copy()
        nact = seq.nact
        codes = seq.codes if nact is None else None
        if nact is not None:
            dh_n, dc_n = dh.copy(), None if dc is None else dc.copy()
        if codes is not None:
            sh = _scratch("cells.sh", dh.shape, dh.dtype)
            sc = None if dc is None else _scratch("cells.sc", dc.shape, dc.dtype)
    gates = cache["gates"]
    h = cache["h"]
    cdef int T = h.shape[0] - 1, B = h.shape[1], P = cl.P, H = cl.H, G = cl.G, S = cl.split
    cdef int I = x_tm.shape[2]
    cdef lc_ctx ctx = _context()
    cdef Weights w = _weights(w_h, None, p, w_hr)
    _packs = _pack_weights(&cl, &ctx, &w, None, w_h, w_hr, True)  # alive while w points in
    dtype = h.dtype
    gru_ra = cl.kind == CELL_GRU and cl.reset_after
    # with nact, dz and dzh hold the rows that ran, step after step (zoff: where each step's
    # start), as the products after the loop read them: no copy between
    cdef Py_ssize_t[::1] zoff = None
    if nact is None:
        zshape = (T, B, G)
    else:
        zoff = seq.step_offsets
        zshape = (int(zoff[T]), G)
    dz = _scratch("cells.dz", zshape, dtype)
    dzh = _scratch("cells.dzh", zshape, dtype) if gru_ra else None
    cdef const Py_ssize_t *p_zoff = &zoff[0] if zoff is not None else NULL
    dhp = _scratch("cells.dhp", (B, P), dtype)
    drh = _scratch("cells.drh", (B, H), dtype) if cl.kind == CELL_GRU else None
    dm = _scratch("cells.dm", (B, H), dtype) if cl.proj else None
    dht = _scratch("cells.dht", (T, B, P), dtype) if cl.proj else None
    mask = cache.get("recurrent_mask")
    mtmp = None if mask is None else _scratch("cells.mtmp", (B, P), dtype)
    # with nact, dw_h reads h_prev's rows that ran, step after step: without a recurrent mask the
    # loop copies them as it reads them (compacted after the loop, h came back from memory: GRU,
    # B 64, T 100, I 32, H 128, every length 50, one thread, 0.32 ms of an 11.5 ms backward)
    h_rows = _scratch("cells.h_rows", zshape[:1] + (P,), dtype) if nact is not None else None
    cdef void *ptr[21]
    for k, a in enumerate((dy, dh, dhp, dc, h, cache["c"], gates, cache["extra"], cache["z"], dz,
                           dzh, drh, dm, dht, mask, mtmp, dh_n, dc_n, sh, sc,
                           h_rows if mask is None else None)):
        ptr[k] = _ptr(a)
    cdef const unsigned char *p_codes = <const unsigned char *>_ptr(codes)
    cdef const int *p_nact = <const int *>_ptr(nact)
    cdef int unit
    cdef int nth = _row_split(&ctx, &w, B, dtype == np.float32, &unit)
    if dtype == np.float32:
        with nogil:
            _seq_backward_rows[float](&cl, &ctx, T, B, &w, <float *>ptr[0], <float *>ptr[1],
                                      <float *>ptr[2], <float *>ptr[3], <float *>ptr[4], <float *>ptr[5],
                                      <float *>ptr[6], <float *>ptr[7], <float *>ptr[8], <float *>ptr[9],
                                      <float *>ptr[10], <float *>ptr[11], <float *>ptr[12], <float *>ptr[13],
                                      <float *>ptr[14], <float *>ptr[15], p_codes, p_nact,
                                      <float *>ptr[16], <float *>ptr[17], <float *>ptr[18],
                                      <float *>ptr[19], unit, nth, p_zoff, <float *>ptr[20])
    else:
        with nogil:
            _seq_backward_rows[double](&cl, &ctx, T, B, &w, <double *>ptr[0], <double *>ptr[1],
                                       <double *>ptr[2], <double *>ptr[3], <double *>ptr[4],
                                       <double *>ptr[5], <double *>ptr[6], <double *>ptr[7],
                                       <double *>ptr[8], <double *>ptr[9], <double *>ptr[10],
                                       <double *>ptr[11], <double *>ptr[12], <double *>ptr[13],
                                       <double *>ptr[14], <double *>ptr[15], p_codes, p_nact,
                                       <double *>ptr[16], <double *>ptr[17], <double *>ptr[18],
                                       <double *>ptr[19], unit, nth, p_zoff,
                                       <double *>ptr[20])
    # small products run faster on one BLAS thread (_threads.SMALL_PRODUCTS)
    with _threads.blas_for_products(ctx.nthreads, <long long>T * B * G * (I + P)):
        # after the loop: one product each for dx, dw_x, dw_h; sums for db (no NumPy warning on
        # non-finite values: the compiled engine reports none, whatever the input)
        dz2 = dz.reshape(-1, G)
        h_tm = h[:T]
        if mask is not None:  # the products read h_prev * mask
            with np.errstate(all="ignore"):
                h_tm = h[:T] * mask
        h_prev = h_tm.reshape(T * B, P)
        x2 = x_tm.reshape(T * B, I)
        extra2 = None  # r * h_prev, which the GRU's first form reads for dw_h's last columns
        if cl.kind == CELL_GRU and not gru_ra:
            extra2 = cache["extra"].reshape(T * B, H)
        dzh2 = None if dzh is None else dzh.reshape(-1, G)
        # the LSTM's kernels and rule for them (_lstm._grad_bits): lstmcore's packed kernels
        # with AVX-512 and AVX2 where the weight gradients fit half the L2, else BLAS (GRU S2,
        # one thread, AVX-512: dw_x 3.7 against 8.8 ms on BLAS, dw_h 7.7 against 13.6, db 0.7
        # against NumPy's 2.8)
        nthreads = ctx.nthreads  # the products' own split (the loop's rows split is over)
        # the blocked kernel (bit 16) where each weight gradient has a dz of its own columns
        # (not the GRU's first form, whose dw_h reads h_prev and r * h_prev by columns)
        plan = _lstm._products_plan(w.pw_h0 != NULL, I, P, G, h.itemsize,
                                    cl.kind != CELL_GRU or gru_ra)
        x_steps = e_steps = None
        if nact is not None:  # the products read only the rows that ran (the others are not
            # written): each step's first nact[t] rows, copied together (scratch; dz and dzh
            # are kept so), or where they are for lstmcore's kernels (bits 8 and 16 come with
            # 2: dw_x packed; _lstm._step_rows)
            Sr = dz2.shape[0]
            h_prev = h_rows if mask is None else compact_steps(h_tm, nact, h_rows)
            if plan & 2:
                x_steps = np.asarray(zoff)
            else:
                x2 = compact_steps(x_tm, nact, _scratch("cells.x_rows", (Sr, I), dtype))
            if extra2 is not None and plan & 4:
                e_steps = np.asarray(zoff)
            elif extra2 is not None:
                extra2 = compact_steps(cache["extra"], nact,
                                       _scratch("cells.extra_rows", (Sr, H), dtype))
        dx2 = (np.empty((dz2.shape[0], I), dtype=dtype) if nact is None
               else _scratch("cells.dx_rows", (dz2.shape[0], I), dtype))
        if plan & 32:  # dx on lstmcore's packed product (narrow inputs: _lstm._grad_bits)
            _packed_matmul(dz2, np.ascontiguousarray(w_x), True, dx2, False)
        else:
            _lstm._products_nt(dz2, np.ascontiguousarray(w_x), dx2, plan & 1, nthreads)
        if nact is not None:  # the rows that ran into the caller's order, 0 past each length
            dx = seq.put(dx2, _output_array((B, T, I), dtype, "dx"))
        else:
            dx = _output_array((B, T, I), dtype, "dx")
            dx[...] = dx2.reshape(T, B, I).transpose(1, 0, 2)
        dw_x = np.zeros((I, G), dtype=dtype)
        dw_h = np.zeros((P, G), dtype=dtype)
        db = np.zeros(G, dtype=dtype)
        contiguous = (x2.flags.c_contiguous and h_prev.flags.c_contiguous
                      and dz2.flags.c_contiguous and (dzh2 is None or dzh2.flags.c_contiguous))
        if plan & 16 and contiguous:  # (not the GRU's first form: _products_plan above)
            # each weight gradient and its bias gradient in the cache-blocked kernel: dw_x and db
            # from dz, dw_h from dzh (with db_h) or from dz
            _lstm._products_tn_blocked(x2, dz2, dw_x, db, nthreads, x_steps)
            if gru_ra:
                db_h = np.zeros(G, dtype=dtype)
                _lstm._products_tn_blocked(h_prev, dzh2, dw_h, db_h, nthreads)
                db = np.stack([db, db_h])
            else:
                _lstm._products_tn_blocked(h_prev, dz2, dw_h, None, nthreads)
        elif (cl.kind != CELL_GRU and plan & 8 and contiguous):
            # dw_x, dw_h and db in one pass over dz, as the LSTM's tuned backward (the same
            # bits as the three apart)
            _lstm._products_tn2(x2, h_prev, dz2, dw_x, dw_h, db, nthreads, steps1=x_steps)
        else:
            _lstm._products_tn(x2, dz2, dw_x, plan & 2, nthreads, x_steps)
            _lstm._products_sum_rows(dz2, db, nthreads)
            if gru_ra:  # the recurrent product's own dz: dzh
                _lstm._products_tn(h_prev, dzh2, dw_h, plan & 4, nthreads)
                db_h = np.zeros(G, dtype=dtype)
                _lstm._products_sum_rows(dzh2, db_h, nthreads)
                db = np.stack([db, db_h])
            elif cl.kind == CELL_GRU:  # phase 1's columns read r * h_prev (extra)
                _lstm._products_tn(h_prev, dz2[:, :S], dw_h[:, :S], plan & 4, nthreads)
                _lstm._products_tn(extra2, dz2[:, S:], dw_h[:, S:], plan & 4, nthreads, e_steps)
            else:
                _lstm._products_tn(h_prev, dz2, dw_h, plan & 4, nthreads)
        grads = {"dx": dx if seq is None or nact is not None else seq.scatter(dx), "dw_x": dw_x,
                 "dw_h": dw_h, "db": db}
        grads["dh0"] = dh if seq is None else seq.rows_back(dh)
        if cl.kind == CELL_LSTM:
            grads["dc0"] = dc if seq is None else seq.rows_back(dc)
            if p is not None:  # pre_i, pre_f read c_prev = c[:T]; pre_o the new c = c[1:]
                if nact is None:
                    c_prev = cache["c"][:T].reshape(T * B, H)
                    c_new = cache["c"][1:].reshape(T * B, H)
                else:
                    c_prev = compact_steps(cache["c"][:T], nact)
                    c_new = compact_steps(cache["c"][1:], nact)
                with np.errstate(all="ignore"):
                    grads["dpeepholes"] = np.stack([
                        np.einsum("rh,rh->h", dz2[:, :H], c_prev),
                        np.einsum("rh,rh->h", dz2[:, H:2 * H], c_prev),
                        np.einsum("rh,rh->h", dz2[:, 3 * H:], c_new),
                    ])
            if cl.proj:
                if nact is None:
                    m2, dht2 = cache["m"].reshape(T * B, H), dht.reshape(T * B, P)
                else:
                    m2, dht2 = compact_steps(cache["m"], nact), compact_steps(dht, nact)
                grads["dproj"] = _mm(m2, dht2, True)
        return grads


# Cells -----------------------------------------------------------------------------------------


cdef Cell _rnn_cell(int H, tuple act):
    cdef Cell cl
    memset(&cl, 0, sizeof(Cell))
    cl.kind, cl.H, cl.P, cl.G, cl.split = CELL_RNN, H, H, H, H
    cl.act = _act(act)
    return cl


cdef Cell _gru_cell(int H, bint reset_after, tuple act, tuple ract):
    cdef Cell cl
    memset(&cl, 0, sizeof(Cell))
    cl.kind, cl.H, cl.P, cl.G = CELL_GRU, H, H, 3 * H
    cl.split = 3 * H if reset_after else 2 * H
    cl.reset_after = reset_after
    cl.act, cl.ract = _act(act), _act(ract)
    return cl


cdef Cell _lstm_cell(int H, opts):
    """opts: an _lstm_options.LSTMOptions."""
    cdef Cell cl
    memset(&cl, 0, sizeof(Cell))
    cl.kind, cl.H, cl.G, cl.split = CELL_LSTM, H, 4 * H, 4 * H
    cl.proj = opts.proj is not None
    cl.P = opts.proj.shape[1] if cl.proj else H
    cl.opts.act, cl.opts.ract, cl.opts.out_act = _act(opts.act), _act(opts.ract), _act(opts.out_act)
    cl.opts.clip = 0.0 if opts.clip is None else opts.clip
    cl.opts.input_forget = opts.input_forget
    return cl


# The compiled entry of gru_forward and rnn_forward -------------------------------------------


cdef dict _NAME_SPECS = _validate._NAME_SPECS  # a plain activation name -> its spec


cdef tuple _ready_call(bint gru, bint reset_after, activation, recurrent_activation, x, w_x, w_h,
                       b, h0, bint check_finite, lengths, reverse, bint train):
    """The (act, ract, seq) of a gru_forward (gru) or rnn_forward call without a mask or a
    recurrent mask that takes its arguments as they are: the activations plain names, every array
    ready (_checks.sequence_ready: nothing to convert, finite, consistent shapes), and the
    lengths, where given, an integer array (B,) in [1, T] (then reverse a bool; without lengths,
    reverse False); seq: their _sequence.Plan or None. The checks in C and the lengths' compiled
    plan, without the general path's Python checks and plan objects (they cost 0.1-0.3 ms a call
    at S2 after another library's call, their code out of the caches). Else None: the general
    checks then run, and convert or raise."""
    if type(activation) is not str or (gru and type(recurrent_activation) is not str):
        return None
    act = _NAME_SPECS.get(activation)
    ract = _NAME_SPECS.get(recurrent_activation) if gru else None
    if act is None or (gru and ract is None):
        return None
    cdef int typenum = sequence_ready(x, w_x, w_h, b, 3 if gru else 1,
                                      2 if gru and reset_after else 0, check_finite)
    if typenum < 0:
        return None
    cdef Py_ssize_t B = x.shape[0], T = x.shape[1], H = w_h.shape[0]
    if not state_ready(h0, typenum, B, H, check_finite):
        return None
    if lengths is None:
        return (act, ract, None) if reverse is False else None
    if type(reverse) is not bool:
        return None
    # training: the plan's per-step times, and lengths of the cache's own
    plan = _checks.ready_lengths_plan(lengths, B, T, reverse, train)
    if plan is None:
        return None
    L = plan[0].copy() if train and plan[0] is lengths else plan[0]
    return act, ract, _sequence.lengths_plan(B, T, reverse, L, plan[1:])


# Public functions: the GRU ---------------------------------------------------------------------


cdef bint _fits(y, x, int P, seq, h0):
    """Whether inference may write its y straight into y (_lstm._out_fits), with no plan of
    lengths (their rows stream into a contiguous y)."""
    return (seq is None or seq.nact is None) and _lstm._out_fits(y, x, P, h0)


def _cell_forward_into(y, cell, *args, **kwargs):
    """gru_forward (cell 'gru') or rnn_forward ('rnn') of those arguments with y written into y
    (B, T, H), a view of the caller's whose last axis is contiguous (a direction's half of a
    bidirectional layer's concatenated output, lstmcore.engine._stack): -> as the function, y
    being that view. Inference without lengths writes there from the kernels (forward) or from
    the plan's scatter (reverse, a mask); any other call copies its y in."""
    if cell == "gru":
        out = _gru_into(y, *args, **kwargs)
    elif cell == "rnn":
        out = _rnn_into(y, *args, **kwargs)
    else:
        raise ValueError(f"cell must be 'gru' or 'rnn', got {cell!r}")
    if out[0] is not y:
        y[...] = out[0]
    return (y,) + tuple(out[1:])


def _gru_into(y_out, x, w_x, w_h, b, h0=None, *, reset_after=True, activation="tanh",
              recurrent_activation="sigmoid", return_cache=False, check_finite=True,
              recurrent_mask=None, reverse=False, lengths=None, mask=None,
              zero_output_for_mask=False):
    return _gru_run(x, w_x, w_h, b, h0, reset_after, activation, recurrent_activation,
                    return_cache, check_finite, recurrent_mask, reverse, lengths, mask,
                    zero_output_for_mask, y_out)


def _rnn_into(y_out, x, w_x, w_h, b, h0=None, *, activation="tanh", return_cache=False,
              check_finite=True, recurrent_mask=None, reverse=False, lengths=None, mask=None,
              zero_output_for_mask=False):
    return _rnn_run(x, w_x, w_h, b, h0, activation, return_cache, check_finite, recurrent_mask,
                    reverse, lengths, mask, zero_output_for_mask, y_out)


def gru_forward(x, w_x, w_h, b, h0=None, *, reset_after=True, activation="tanh",
                recurrent_activation="sigmoid", return_cache=False, check_finite=True,
                recurrent_mask=None, reverse=False, lengths=None, mask=None,
                zero_output_for_mask=False):
    """GRU over a whole sequence, batch-first.

    x (B, T, I) | w_x (I, 3H) | w_h (H, 3H) | b (2, 3H) when ``reset_after`` else (3H) |
    h0 (B, H) or None (zeros) -> y (B, T, H), h_n (B, H), and the cache for
    :func:`gru_backward` when ``return_cache``. Gate blocks z, r, n (Keras's and ONNX's order;
    ``lstmcore.layout`` converts PyTorch's r, z, n)::

        z = ract(x@w_xz + h_prev@w_hz + b_z)     r = ract(x@w_xr + h_prev@w_hr + b_r)
        reset_after=True (PyTorch, Keras 3's default; b = [input bias, recurrent bias]):
            n = act(x@w_xn + b_xn + r * (h_prev@w_hn + b_hn))
        reset_after=False (Keras's original, ONNX's default):
            n = act(x@w_xn + (r * h_prev)@w_hn + b_n)
        h = z * h_prev + (1 - z) * n

    ``activation``/``recurrent_activation``: a name or a (name, alpha[, beta]) tuple
    (``lstmcore.engine._validate.CELL_ACTIVATIONS``). Same dtype and input policy as ``lstm_forward``.
    ``recurrent_mask`` (B, H): recurrent dropout, h_prev * mask in the recurrent products (the
    mixing z * h_prev keeps h_prev); kept in the cache for the backward.
    ``reverse``, ``lengths`` (B,), ``mask`` (B, T) bool, ``zero_output_for_mask``: directions,
    variable lengths and masks (``lstmcore.engine._sequence`` states the rules).
    """
    return _gru_run(x, w_x, w_h, b, h0, reset_after, activation, recurrent_activation,
                    return_cache, check_finite, recurrent_mask, reverse, lengths, mask,
                    zero_output_for_mask, None)


cdef object _gru_run(x, w_x, w_h, b, h0, reset_after, activation, recurrent_activation,
                     return_cache, check_finite, recurrent_mask, reverse, lengths, mask,
                     zero_output_for_mask, y_out):
    # gru_forward's body; y_out: an array to write y into where it fits (_fits), or None
    ready = None
    if (recurrent_mask is None and mask is None and zero_output_for_mask is False
            and type(reset_after) is bool):
        ready = _ready_call(True, reset_after, activation, recurrent_activation, x, w_x, w_h, b,
                            h0, check_finite, lengths, reverse, return_cache)
    if ready is not None:
        (act, ract, seq), rmask = ready, None
    else:
        reset_after = _validate.flag("reset_after", reset_after)
        x, w_x, w_h, b, h0, act, ract, rmask = _validate.check_gru_forward(
            x, w_x, w_h, b, h0, reset_after, activation, recurrent_activation, check_finite,
            recurrent_mask)
        seq = _sequence.plan(x.shape[0], x.shape[1], reverse, lengths, mask, zero_output_for_mask)
    cdef Cell cl = _gru_cell(w_h.shape[0], reset_after, act, ract)
    if y_out is not None and (return_cache or not _fits(y_out, x, w_h.shape[0], seq, h0)):
        y_out = None
    y, h_n, _, arrays = _forward(cl, x, w_x, w_h, b, None, None, h0, None, return_cache, rmask,
                                 seq, y_out)
    if not return_cache:
        return y, h_n
    cache = GRUCache(arrays["x"], w_x, w_h, arrays["gates"], arrays["h"], arrays["extra"],
                     reset_after, activation, recurrent_activation,
                     recurrent_mask=rmask if seq is None else seq.rows(rmask), sequence=seq)
    return y, h_n, cache


def gru_backward(dy, cache, dh_n=None, *, check_finite=True):
    """Backward through time of :func:`gru_forward` (called with ``return_cache=True``).

    dy (B, T, H) or None | cache | dh_n (B, H) or None
    -> dict of new arrays: dx (B, T, I), dw_x (I, 3H), dw_h (H, 3H), db (b's shape), dh0 (B, H).
    """
    dy, dh, act, ract = _validate.check_gru_backward(dy, cache, dh_n, check_finite)
    cdef Cell cl = _gru_cell(cache.w_h.shape[0], cache.reset_after, act, ract)
    arrays = {"gates": cache.gates, "h": cache.h, "extra": cache.extra, "c": None, "z": None,
              "m": None, "recurrent_mask": cache.recurrent_mask, "sequence": cache.sequence}
    return _backward(cl, arrays, cache.x, cache.w_x, cache.w_h, None, None, dy, dh.copy(), None)


def gru_cell_forward(x_t, w_x, w_h, b, h_prev=None, *, reset_after=True, activation="tanh",
                     recurrent_activation="sigmoid", check_finite=True):
    """One GRU step: x_t (B, I), h_prev (B, H) or None -> h (B, H). As :func:`gru_forward`."""
    reset_after = _validate.flag("reset_after", reset_after)
    x_t, w_x, w_h, b, h_prev, act, ract = _validate.check_gru_cell(
        x_t, w_x, w_h, b, h_prev, reset_after, activation, recurrent_activation, check_finite)
    cdef Cell cl = _gru_cell(w_h.shape[0], reset_after, act, ract)
    y, _, _, _ = _forward(cl, x_t[:, None, :], w_x, w_h, b, None, None, h_prev, None, False)
    return y[:, 0]


# Public functions: the simple RNN --------------------------------------------------------------


def rnn_forward(x, w_x, w_h, b, h0=None, *, activation="tanh", return_cache=False,
                check_finite=True, recurrent_mask=None, reverse=False, lengths=None, mask=None,
                zero_output_for_mask=False):
    """Simple RNN over a whole sequence, batch-first: h = act(x@w_x + h_prev@w_h + b).

    x (B, T, I) | w_x (I, H) | w_h (H, H) | b (H) | h0 (B, H) or None (zeros)
    -> y (B, T, H), h_n (B, H) [, cache for :func:`rnn_backward`]. Keras ``SimpleRNN``,
    PyTorch ``nn.RNN`` (b = b_ih + b_hh), ONNX ``RNN``. ``recurrent_mask`` (B, H): recurrent
    dropout, h_prev * mask in the recurrent product. ``reverse``, ``lengths``, ``mask``,
    ``zero_output_for_mask``: as :func:`gru_forward`.
    """
    return _rnn_run(x, w_x, w_h, b, h0, activation, return_cache, check_finite, recurrent_mask,
                    reverse, lengths, mask, zero_output_for_mask, None)


cdef object _rnn_run(x, w_x, w_h, b, h0, activation, return_cache, check_finite, recurrent_mask,
                     reverse, lengths, mask, zero_output_for_mask, y_out):
    # rnn_forward's body; y_out: an array to write y into where it fits (_fits), or None
    ready = None
    if recurrent_mask is None and mask is None and zero_output_for_mask is False:
        ready = _ready_call(False, False, activation, None, x, w_x, w_h, b, h0, check_finite,
                            lengths, reverse, return_cache)
    if ready is not None:
        (act, _, seq), rmask = ready, None
    else:
        x, w_x, w_h, b, h0, act, rmask = _validate.check_rnn_forward(
            x, w_x, w_h, b, h0, activation, check_finite, recurrent_mask)
        seq = _sequence.plan(x.shape[0], x.shape[1], reverse, lengths, mask, zero_output_for_mask)
    cdef Cell cl = _rnn_cell(w_h.shape[0], act)
    if y_out is not None and (return_cache or not _fits(y_out, x, w_h.shape[0], seq, h0)):
        y_out = None
    y, h_n, _, arrays = _forward(cl, x, w_x, w_h, b, None, None, h0, None, return_cache, rmask,
                                 seq, y_out)
    if not return_cache:
        return y, h_n
    return y, h_n, RNNCache(arrays["x"], w_x, w_h, arrays["h"], activation,
                            recurrent_mask=rmask if seq is None else seq.rows(rmask),
                            sequence=seq)


def rnn_backward(dy, cache, dh_n=None, *, check_finite=True):
    """Backward through time of :func:`rnn_forward`: dy (B, T, H) or None | cache |
    dh_n (B, H) or None -> dict dx (B, T, I), dw_x (I, H), dw_h (H, H), db (H), dh0 (B, H)."""
    dy, dh, act = _validate.check_rnn_backward(dy, cache, dh_n, check_finite)
    cdef Cell cl = _rnn_cell(cache.w_h.shape[0], act)
    arrays = {"gates": None, "h": cache.h, "extra": None, "c": None, "z": None, "m": None,
              "recurrent_mask": cache.recurrent_mask, "sequence": cache.sequence}
    return _backward(cl, arrays, cache.x, cache.w_x, cache.w_h, None, None, dy, dh.copy(), None)


def rnn_cell_forward(x_t, w_x, w_h, b, h_prev=None, *, activation="tanh", check_finite=True):
    """One simple-RNN step: x_t (B, I), h_prev (B, H) or None -> h (B, H)."""
    x_t, w_x, w_h, b, h_prev, act = _validate.check_rnn_cell(x_t, w_x, w_h, b, h_prev,
                                                             activation, check_finite)
    cdef Cell cl = _rnn_cell(w_h.shape[0], act)
    y, _, _, _ = _forward(cl, x_t[:, None, :], w_x, w_h, b, None, None, h_prev, None, False)
    return y[:, 0]


# The LSTM with options (lstmcore.engine._lstm's public functions call these) --------------------------


def _lstm_forward(x, w_x, w_h, b, h0, c0, opts, return_cache, activation, recurrent_activation,
                  output_activation, seq=None):
    """lstm_forward for options the tuned kernels do not have, and for sequence plans; arguments
    checked by _lstm_options.check_forward."""
    cdef Cell cl = _lstm_cell(w_x.shape[1] // 4, opts)
    y, h_n, c_n, arrays = _forward(cl, x, w_x, w_h, b, opts.peepholes, opts.proj, h0, c0,
                                   return_cache, opts.recurrent_mask, seq)
    if not return_cache:
        return y, h_n, c_n
    cache = LSTMCache(arrays["x"], w_x, w_h, arrays["gates"], arrays["h"], arrays["c"],
                      activation, recurrent_activation, peepholes=opts.peepholes,
                      proj=opts.proj, clip=opts.clip, input_forget=opts.input_forget,
                      output_activation=output_activation, z=arrays["z"], m=arrays["m"],
                      recurrent_mask=(opts.recurrent_mask if seq is None
                                      else seq.rows(opts.recurrent_mask)),
                      sequence=seq)
    return y, h_n, c_n, cache


def _lstm_backward(dy, cache, dh, dc, opts):
    """lstm_backward of a cache made by _lstm_forward; dh, dc: checked, owned copies."""
    cdef Cell cl = _lstm_cell(cache.gates.shape[2] // 4, opts)
    arrays = {"gates": cache.gates, "h": cache.h, "extra": None, "c": cache.c, "z": cache.z,
              "m": cache.m, "recurrent_mask": cache.recurrent_mask, "sequence": cache.sequence}
    return _backward(cl, arrays, cache.x, cache.w_x, cache.w_h, opts.peepholes, opts.proj, dy,
                     dh, dc)


def _lstm_cell_forward(x_t, w_x, w_h, b, h_prev, c_prev, opts):
    """lstm_cell_forward with options -> h (B, P), c (B, H)."""
    cdef Cell cl = _lstm_cell(w_x.shape[1] // 4, opts)
    y, _, c_n, _ = _forward(cl, x_t[:, None, :], w_x, w_h, b, opts.peepholes, opts.proj,
                            h_prev, c_prev, False)
    return y[:, 0], c_n


# Elementwise activations (tests) ----------------------------------------------------------------


def _activation(spec, x, bint derivative=False):
    """activations.apply(spec, x), or, with ``derivative``, d = 1 times act' written from y = x:
    the C twins of lstmcore.reference.activations (tests)."""
    cdef lc_ctx ctx = _context()
    cdef lc_act a = _act(tuple(spec))
    x = np.ascontiguousarray(x)
    out = np.ones_like(x) if derivative else np.empty_like(x)
    cdef Py_ssize_t n = x.size
    if x.dtype == np.float32:
        if derivative:
            lc_act_derivative_f32(&ctx, a, <float *>_ptr(x), <float *>_ptr(out), n)
        else:
            lc_act_apply_f32(&ctx, a, <float *>_ptr(x), <float *>_ptr(out), n)
    else:
        if derivative:
            lc_act_derivative_f64(&ctx, a, <double *>_ptr(x), <double *>_ptr(out), n)
        else:
            lc_act_apply_f64(&ctx, a, <double *>_ptr(x), <double *>_ptr(out), n)
    return out


# Element-wise kernels (dropout masks, softmax rows) ---------------------------------------------

# elements from which the work is split between lstmcore's threads (128 KiB of float32)
cdef Py_ssize_t _ELEMENTWISE_PAR_MIN = 1 << 15


cdef lc_ctx _elementwise_context(Py_ssize_t n) except *:
    """The context of an element-wise kernel over n elements: lstmcore's threads, or one below
    _ELEMENTWISE_PAR_MIN."""
    cdef lc_ctx ctx = _context()
    if n < _ELEMENTWISE_PAR_MIN:
        ctx.nthreads = 1
    return ctx


# Dropout masks ----------------------------------------------------------------------------------


def _dropout_mask(Py_ssize_t n, seed, threshold, scale, dtype):
    """A flat dropout mask of n elements (lc_dropout_mask): scale where the hash of (seed, the
    element's index) is at least threshold (32 bits), else 0; float32 or float64; the elements
    split between lstmcore's threads for large n (the same mask on any number)."""
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    if n < 0 or not 0 <= int(seed) < 2**64 or not 0 <= int(threshold) < 2**32:
        raise ValueError(f"expected n >= 0, a 64-bit seed and a 32-bit threshold, got {n}, {seed}, "
                         f"{threshold}")
    out = np.empty(n, dtype=dtype)
    cdef uint64_t s = int(seed)
    cdef uint32_t t = int(threshold)
    cdef double sc = float(scale)
    cdef lc_ctx ctx = _elementwise_context(n)
    cdef void *po = _ptr(out)
    cdef bint single = dtype == np.float32
    with nogil:
        if single:
            lc_dropout_mask_f32(&ctx, n, s, t, <float>sc, <float *>po)
        else:
            lc_dropout_mask_f64(&ctx, n, s, t, sc, <double *>po)
    return out


# Softmax over rows (an attention layer's scores) ------------------------------------------------


def _softmax_rows(x):
    """softmax over the last axis of x (float32 or float64, any shape with a last axis of at
    least one element) -> a new C-contiguous array: e^(x - max) / their sum per row
    (lc_softmax_rows), the rows split between lstmcore's threads for large x."""
    return _softmax_call(_softmax_operand(x, "x"), None)


def _softmax_rows_backward(y, dy):
    """The gradient of the softmax's input from its output y and output gradient dy (same shape
    and dtype): y * (dy - sum(dy * y)) over the last axis (lc_softmax_rows_backward) -> a new
    array."""
    y, dy = _softmax_operand(y, "y"), _softmax_operand(dy, "dy")
    if y.shape != dy.shape or y.dtype != dy.dtype:
        raise ValueError(f"y and dy must have one shape and dtype, got {y.dtype} {y.shape} and "
                         f"{dy.dtype} {dy.shape}")
    return _softmax_call(y, dy)


cdef object _softmax_call(a, d):
    # a (R, N): x, or y with d (R, N) its gradient dy, as C-contiguous arrays -> out (R, N)
    out = np.empty_like(a)
    cdef Py_ssize_t N = a.shape[a.ndim - 1], R = a.size // N if N else 0
    if R == 0:
        return out
    cdef lc_ctx ctx = _elementwise_context(R * N)
    cdef void *pa = _ptr(a)
    cdef void *pd = _ptr(d)
    cdef void *po = _ptr(out)
    cdef bint single = a.dtype == np.float32
    with nogil:
        if pd == NULL and single:
            lc_softmax_rows_f32(&ctx, R, <int>N, <float *>pa, N, <float *>po, N)
        elif pd == NULL:
            lc_softmax_rows_f64(&ctx, R, <int>N, <double *>pa, N, <double *>po, N)
        elif single:
            lc_softmax_rows_backward_f32(&ctx, R, <int>N, <float *>pa, N, <float *>pd, N,
                                         <float *>po, N)
        else:
            lc_softmax_rows_backward_f64(&ctx, R, <int>N, <double *>pa, N, <double *>pd, N,
                                         <double *>po, N)
    return out


cdef object _softmax_operand(x, str name):
    if not isinstance(x, np.ndarray) or x.dtype not in (np.float32, np.float64) or x.ndim < 1:
        raise TypeError(f"{name} must be a float32 or float64 array of at least one axis, got "
                        f"{type(x).__name__} {getattr(x, 'dtype', '')} {np.shape(x)}")
    if x.shape[x.ndim - 1] > 2**31 - 1:
        raise ValueError(f"{name}'s last axis is too long for the kernel: {x.shape}")
    return np.ascontiguousarray(x)


# Steppers ---------------------------------------------------------------------------------------


cdef class _CellStepper:
    """Streaming inference for any cell: the weights copied once, the state carried, one step
    per call (the x product, the cell's recurrent products and gate maths, no allocation).

    ``step`` returns h in a buffer the stepper owns and overwrites two steps later; copy it to
    keep it. One stepper carries one state: a second thread stepping it at the same time gets
    RuntimeError (use one stepper per thread).
    """

    cdef Cell _cl
    cdef readonly int batch_size, input_size, units
    cdef readonly object dtype
    cdef readonly bint check_finite
    # 1 while a step or a reset runs: set and tested with the GIL held
    cdef int _busy, _cur, _ready, _f32
    cdef object _w_x, _w_h, _b, _p, _w_hr, _hbuf, _cbuf, _zx, _zh, _gates, _extra, _zpre, _m
    # pointers into the arrays above and into the weights packed once (csrc/gemm), which _packs
    # keeps alive (empty: the products go through BLAS)
    cdef Weights _w
    cdef object _packs
    cdef object _views1, _views2
    cdef str _name

    cdef void _setup(self, Cell cl, str name, w_x, w_h, b, p, w_hr, int B,
                     bint check_finite) except *:
        dtype = w_x.dtype
        cdef int H = cl.H, P = cl.P, G = cl.G
        # everything is built first, then swapped in at once (no Python call in between)
        w_x, w_h, b = w_x.copy(), w_h.copy(), b.copy()
        p = None if p is None else p.copy()
        w_hr = None if w_hr is None else w_hr.copy()
        hbuf = np.zeros((2, B, P), dtype=dtype)
        cbuf = np.zeros((2, B, H), dtype=dtype) if cl.kind == CELL_LSTM else None
        zx, zh = np.empty((B, G), dtype=dtype), np.empty((B, G), dtype=dtype)
        cdef bint keep = _gates_kept(&cl, False)
        gates = np.empty((B, G), dtype=dtype) if cl.kind != CELL_RNN and keep else None
        extra = np.empty((B, H), dtype=dtype) if cl.kind == CELL_GRU and keep else None
        zpre = np.empty((B, G), dtype=dtype) if cl.kind == CELL_LSTM and cl.opts.clip > 0 else None
        m = np.empty((B, H), dtype=dtype) if cl.proj else None
        views2, views1 = (hbuf[0], hbuf[1]), (hbuf[0, 0], hbuf[1, 0])
        cdef lc_ctx ctx = _context()
        cdef Weights w = _weights(w_h, b, p, w_hr)
        packs = _pack_weights(&cl, &ctx, &w, w_x, w_h, w_hr, False, False)
        if self._busy:
            raise RuntimeError(f"{name}.__init__ called on a stepper that another thread is "
                               "stepping: make a new stepper instead")
        self._cl, self._name = cl, name
        self.batch_size, self.input_size, self.units = B, w_x.shape[0], H
        self.dtype, self.check_finite = dtype, check_finite
        self._f32 = dtype == np.float32
        self._w_x, self._w_h, self._b, self._p, self._w_hr = w_x, w_h, b, p, w_hr
        self._hbuf, self._cbuf, self._zx, self._zh = hbuf, cbuf, zx, zh
        self._gates, self._extra, self._zpre, self._m = gates, extra, zpre, m
        self._views2, self._views1 = views2, views1
        self._w, self._packs = w, packs
        self._cur = 0
        self._ready = 1

    cdef void _enter(self, str what) except *:
        if not self._ready:
            raise RuntimeError(f"{type(self).__name__}.{what}: the stepper was not initialised "
                               "(its __init__ was not called)")
        if self._busy:
            raise RuntimeError(f"{self._name}.{what} called while another thread is stepping "
                               "the same stepper: a stepper carries one state; use one per thread")
        self._busy = 1

    def step(self, x_t):
        """One step: x_t (B, I), (B, 1, I) or, for batch_size 1, (I,) -> h (B, P), or (P,)."""
        self._enter("step")
        try:
            return self._step(x_t)
        finally:
            self._busy = 0

    cdef object _step(self, x_t):
        cdef int B = self.batch_size, I = self.input_size, nxt = 1 - self._cur
        cdef bint one_d
        # the streaming case (no Python call before the kernels); anything else converted
        if step_input_ready(x_t, cnp.NPY_FLOAT32 if self._f32 else cnp.NPY_FLOAT64, B, I):
            x = x_t
            one_d = cnp.PyArray_NDIM(<cnp.ndarray>x_t) == 1
        else:
            x = _validate.as_step_input(x_t, self.dtype, B, I)
            one_d = x.ndim == 1 and np.ndim(x_t) == 1
        if self.check_finite and not lstmcore_all_finite(
                cnp.PyArray_DATA(<cnp.ndarray>x), <Py_ssize_t>B * I,
                cnp.PyArray_ITEMSIZE(<cnp.ndarray>x)):
            raise ValueError(f"x_t must be finite, got {x[~np.isfinite(x)].flat[0]}")
        cdef lc_ctx ctx = _context()
        cdef Weights w = self._w
        cdef Cell cl = self._cl
        cdef int P = cl.P, H = cl.H, G = cl.G
        cdef Py_ssize_t BP = <Py_ssize_t>B * P, BH = <Py_ssize_t>B * H
        cdef void *xp = _ptr(x)
        cdef void *wx = _ptr(self._w_x)
        cdef void *zx = _ptr(self._zx)
        cdef void *zh = _ptr(self._zh)
        cdef void *hb = _ptr(self._hbuf)
        cdef void *cb = _ptr(self._cbuf)
        cdef void *g = _ptr(self._gates)
        cdef void *e = _ptr(self._extra)
        cdef void *zp = _ptr(self._zpre)
        cdef void *m = _ptr(self._m)
        cdef int cur = self._cur
        if self._f32:
            with nogil:
                _prod(&ctx, &w, w.pw_x, B, G, I, <float *>xp, I, <float *>wx, G, False,
                      <float *>zx, G, False)
                _step[float](&cl, &ctx, B, <float *>zx, G, &w, <float *>hb + cur * BP, P,
                             <float *>cb + cur * BH if cb != NULL else NULL,
                             <float *>cb + nxt * BH if cb != NULL else NULL, <float *>zh,
                             <float *>g, <float *>e, <float *>zp, <float *>m,
                             <float *>hb + nxt * BP, P, NULL, NULL)
        else:
            with nogil:
                _prod(&ctx, &w, w.pw_x, B, G, I, <double *>xp, I, <double *>wx, G, False,
                      <double *>zx, G, False)
                _step[double](&cl, &ctx, B, <double *>zx, G, &w, <double *>hb + cur * BP, P,
                              <double *>cb + cur * BH if cb != NULL else NULL,
                              <double *>cb + nxt * BH if cb != NULL else NULL, <double *>zh,
                              <double *>g, <double *>e, <double *>zp, <double *>m,
                              <double *>hb + nxt * BP, P, NULL, NULL)
        self._cur = nxt
        return self._views1[nxt] if one_d else self._views2[nxt]

    @property
    def h(self):
        """A copy of the hidden state (B, P)."""
        self._enter("h")
        self._busy = 0
        return self._hbuf[self._cur].copy()

    cdef void _reset(self, h, c) except *:
        cdef Cell cl = self._cl
        self._enter("reset")
        try:
            h = _validate._state("h", h, self.dtype, self.batch_size, cl.P, self.check_finite)
            if self._cbuf is not None:
                c = _validate._state("c", c, self.dtype, self.batch_size, cl.H, self.check_finite)
                self._cbuf[self._cur] = c
            self._hbuf[self._cur] = h
        finally:
            self._busy = 0


cdef class GRUStepper(_CellStepper):
    """Streaming GRU inference: ``GRUStepper(w_x, w_h, b, batch_size=1, *, reset_after=True,
    activation="tanh", recurrent_activation="sigmoid", check_finite=True)``; ``step(x_t)`` ->
    h (B, H); ``h``; ``reset(h=None)``. After t steps from zeros, ``step`` returns what
    :func:`gru_forward` gives at step t."""

    cdef readonly bint reset_after
    cdef readonly object activation, recurrent_activation

    def __init__(self, w_x, w_h, b, batch_size=1, *, reset_after=True, activation="tanh",
                 recurrent_activation="sigmoid", check_finite=True):
        reset_after = _validate.flag("reset_after", reset_after)
        act = _validate.activation_spec(activation, "activation")
        ract = _validate.activation_spec(recurrent_activation, "recurrent_activation")
        dtype = _validate.dtype_of(w_x, "w_x")
        w_x, w_h, b = _validate.check_gru_weights(w_x, w_h, b, dtype, reset_after, check_finite)
        B = _validate.check_stepper(batch_size, w_x.shape[0], w_h.shape[0])
        self._setup(_gru_cell(w_h.shape[0], reset_after, act, ract), "GRUStepper", w_x, w_h, b,
                    None, None, B, bool(check_finite))
        self.reset_after = reset_after
        self.activation, self.recurrent_activation = activation, recurrent_activation

    def reset(self, h=None):
        """Start over from zeros, or from the given state h (B, H)."""
        self._reset(h, None)

    def __repr__(self):
        if not self._ready:
            return "GRUStepper(<not initialised>)"
        return (f"GRUStepper(batch_size={self.batch_size}, input_size={self.input_size}, "
                f"units={self.units}, dtype={self.dtype.name}, reset_after={self.reset_after}, "
                f"activation={self.activation!r}, "
                f"recurrent_activation={self.recurrent_activation!r})")


cdef class RNNStepper(_CellStepper):
    """Streaming simple-RNN inference: ``RNNStepper(w_x, w_h, b, batch_size=1, *,
    activation="tanh", check_finite=True)``; ``step(x_t)`` -> h (B, H); ``h``; ``reset(h=None)``.
    """

    cdef readonly object activation

    def __init__(self, w_x, w_h, b, batch_size=1, *, activation="tanh", check_finite=True):
        act = _validate.activation_spec(activation, "activation")
        dtype = _validate.dtype_of(w_x, "w_x")
        w_x, w_h, b = _validate.check_rnn_weights(w_x, w_h, b, dtype, check_finite)
        B = _validate.check_stepper(batch_size, w_x.shape[0], w_h.shape[0])
        self._setup(_rnn_cell(w_h.shape[0], act), "RNNStepper", w_x, w_h, b, None, None, B,
                    bool(check_finite))
        self.activation = activation

    def reset(self, h=None):
        """Start over from zeros, or from the given state h (B, H)."""
        self._reset(h, None)

    def __repr__(self):
        if not self._ready:
            return "RNNStepper(<not initialised>)"
        return (f"RNNStepper(batch_size={self.batch_size}, input_size={self.input_size}, "
                f"units={self.units}, dtype={self.dtype.name}, activation={self.activation!r})")


cdef class _LSTMOptionsStepper(_CellStepper):
    """The stepper of an LSTM with options (lstmcore.engine._lstm.LSTMStepper runs it for them)."""

    def __init__(self, w_x, w_h, b, int B, opts, bint check_finite):
        self._setup(_lstm_cell(w_x.shape[1] // 4, opts), "LSTMStepper", w_x, w_h, b,
                    opts.peepholes, opts.proj, B, check_finite)

    @property
    def c(self):
        self._enter("c")
        self._busy = 0
        return self._cbuf[self._cur].copy()

    def reset(self, h=None, c=None):
        self._reset(h, c)
