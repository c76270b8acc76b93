"""Compiled LSTM forward and backward (BPTT): typed loops, BLAS products, C gate maths.

The twin of ``lstmcore.reference``: same names, arguments, checks and cache.

Order of work (DESIGN.md section 1):
- forward: ONE gemm ``x @ w_x`` over all T*B rows before the loop; in the loop one recurrent
  product ``z[t] += h_prev @ w_h`` and the fused gate maths (csrc/cells/lstm_gates.c).
- backward: the loop does the gate backward and ``dh = dz[t] @ w_h.T``, keeping dz for every step;
  after it one gemm each for dw_x, dw_h and dx, and one row sum for db.
The GIL is released for the whole time loop; nothing is allocated inside it.

Inference (no cache) stays batch-first and copies nothing: z = x @ w_x is computed as (B, T, G),
step t reads rows G*T apart, h is written straight into y (B, T, H), and c is updated in place.
Training keeps the time-major cache of DESIGN.md: x (T, B, I), gates (T, B, G), h, c (T+1, B, H).
"""

cimport numpy as cnp
from cython cimport floating
from cpython.ref cimport Py_REFCNT
from libc.string cimport memcpy, memset

import contextlib
import os
import threading
import weakref

import numpy as np

from . import _checks, _env, _lstm_options, _machine, _sequence, _threads, _validate
from ._cache import LSTMCache

from ._blas cimport NoTrans, RowMajor, Trans, _gemm
from ._checks cimport (array_ready, contiguous_finite, lstmcore_all_finite, sequence_ready,
                       state_ready, step_input_ready)
from ._csrc cimport (
    lc_ctx,
    lc_seq_plan,
    lc_step_rows,
    lc_lstm_gates_backward_f32,
    lc_lstm_gates_backward_f64,
    lc_lstm_gates_forward_f32,
    lc_lstm_gates_forward_f64,
    lc_lstm_seq_backward_packed_f32,
    lc_lstm_seq_backward_packed_f64,
    lc_lstm_seq_packed_f32,
    lc_lstm_seq_packed_f64,
    lc_lstm_seq_packed_rows_f32,
    lc_lstm_seq_packed_rows_f64,
    lc_lstm_seq_plan_f32,
    lc_lstm_seq_plan_f64,
    lc_lstm_step_pack_f32,
    lc_lstm_step_pack_f64,
    lc_lstm_step_pack_size,
    lc_lstm_step_packed_f32,
    lc_lstm_step_packed_f64,
    lc_matmul_packed_f32,
    lc_matmul_packed_f64,
    lc_matmul_tn_f32,
    lc_matmul_tn_f64,
    lc_matmul_tn2_blocked_f32,
    lc_matmul_tn2_blocked_f64,
    lc_matmul_tn2_f32,
    lc_matmul_tn2_f64,
    lc_openmp_enabled,
    lc_pack_transposed_f32,
    lc_pack_transposed_f64,
    lc_pack_transposed_size,
    lc_sum_rows_f32,
    lc_sum_rows_f64,
    lc_tn_blocked_size_f32,
    lc_tn_blocked_size_f64,
    lstmcore_cpu_best_isa,
)

cnp.import_array()

cdef int _num_threads = 1  # what lstmcore.set_num_threads asked for
# After fork, a child's OpenMP runtime may still count the parent's worker threads, which do not
# exist in the child: libgomp hands them their share of the next parallel loop and the loop never
# ends (measured: the child hangs in its first 2-thread call). So a child forked after a kernel
# ran with several threads runs lstmcore's loops on one thread (BLAS keeps its own count: OpenBLAS
# rebuilds its pool after fork). _team_used is set at every call that may start a team.
cdef int _thread_cap = 0  # 0: none
cdef bint _team_used = False

# What every kernel call runs with, passed to the C kernels in an lc_ctx (csrc/rt/context.h; the C
# side keeps no state): the instruction set (the CPU's best unless tests force another) and the
# tuning knobs of csrc/cells/lstm_gates.c, whose comments give the measurements behind them.
cdef int _BEST_ISA = lstmcore_cpu_best_isa()
_ISAS = ("generic", "avx2", "avx512")


cdef int _isa_code(str name, str what) except -1:
    """The code of the kernels called name; ValueError, naming what, if this CPU has none such."""
    if name not in _ISAS or _ISAS.index(name) > _BEST_ISA:
        raise ValueError(f"{what}{_ISAS[:_BEST_ISA + 1]} on this CPU, got {name!r}")
    return _ISAS.index(name)


cdef int _isa_from_env() except -1:
    """LSTMCORE_ISA (generic, avx2 or avx512): the kernels a process starts with, to run the plans
    of a machine with fewer instruction sets (at most the CPU's best; unset: the best)."""
    name = os.environ.get("LSTMCORE_ISA", "").strip().lower()
    return _isa_code(name, "LSTMCORE_ISA: expected one of ") if name else _BEST_ISA


cdef int _ISA = _isa_from_env()
cdef Py_ssize_t _ROWS_PAR_MIN = 4096       # row elements from which the gate loops split rows
cdef Py_ssize_t _SEQ_PAR_MIN = 1 << 14     # work per step from which packed sequences use threads
cdef Py_ssize_t _ROW_SPLIT_BYTES = -1  # packed weights up to which threads split rows (-1: 3/4 of the L2)
# the training's weight-gradient and dx products: 0 the default rule (_backward), 1 the packed
# kernels, 2 BLAS, 3 the weight gradients in cache blocks (AVX-512) (_set_grad_products)
cdef int _GRAD_PRODUCTS = 0
# lc_ctx.row_block: 0 the kernels' choice (6 rows with AVX-512 or AVX2), 4 at most 4 (_set_row_block)
cdef int _ROW_BLOCK = 0
# lc_ctx.panel_prefetch: 0 prefetch the next packed panel when the L2 calls for it, 1 never, 2 always
cdef int _PANEL_PREFETCH = 0


cdef bint _omp_spins_from_env():
    """Whether libgomp's idle workers spin a while before they sleep, from the variables it read as
    it loaded with this module (lstmcore.engine._backend sets GOMP_SPINCOUNT with the AVX2 and
    AVX-512 kernels; the user may set either): a count above 0, or no count and a policy other
    than PASSIVE."""
    count = os.environ.get("GOMP_SPINCOUNT")
    if count is None:
        return os.environ.get("OMP_WAIT_POLICY", "").strip().lower() != "passive"
    count = count.strip().lower()
    return count == "infinite" or count == "infinity" or (count[:1].isdigit() and count[0] != "0")


# A BLAS product per step (the loops below) with the gate maths between them on OpenMP's threads
# while its workers spin: a spinning worker takes the core OpenBLAS's next product needs (S2
# inference on 2 threads, AVX2: 15 -> 70-86 ms). Those loops then keep their gate maths on the
# calling thread (a few percent of a step past the packed kernels' limits, where they run).
cdef bint _OMP_SPINS = _omp_spins_from_env()


# SciPy's OpenBLAS loaded before lstmcore with its idle workers spinning about 75 ms after each
# product of several threads (_env.BLAS_SPINS): a training step's products after the backward
# loop then stay on lstmcore's kernels, whose threads sleep at once, instead of leaving a worker
# spinning on the cores the next step needs (2 cores, 2 threads, a Keras-style fit of
# LSTM(512) on (64, 50, 256) batches with SciPy imported first: 4.8-5.5 s an epoch against
# 3.6-4.0 with lstmcore imported first). _set_blas_spins forces either (tests).
cdef bint _BLAS_SPINS = _env.BLAS_SPINS


def _blas_spins():
    """Whether the engine counts SciPy's OpenBLAS as spinning after its products (_BLAS_SPINS)."""
    return bool(_BLAS_SPINS)


def _set_blas_spins(bint spins):
    """Count SciPy's OpenBLAS as spinning after its products or not; returns the previous flag."""
    global _BLAS_SPINS
    previous, _BLAS_SPINS = _BLAS_SPINS, spins
    return bool(previous)


cdef inline int _blas_step_threads(int nthreads) noexcept nogil:
    """The threads of the gate maths between two BLAS products of a sequence's steps."""
    return 1 if _OMP_SPINS else nthreads


def _omp_spins():
    """Whether OpenMP's idle workers spin (_OMP_SPINS): the BLAS step loops' gate maths and the
    cell engine's calls with their products on BLAS then run on the calling thread."""
    return bool(_OMP_SPINS)


cdef inline lc_ctx _ctx(int nthreads) noexcept nogil:
    """The context of a kernel call on nthreads threads."""
    cdef lc_ctx ctx
    memset(&ctx, 0, sizeof(ctx))
    ctx.isa = _ISA
    ctx.nthreads = nthreads
    ctx.par_min = _ROWS_PAR_MIN
    ctx.seq_par_min = _SEQ_PAR_MIN
    ctx.row_split_bytes = _ROW_SPLIT_BYTES
    ctx.l1d = <int>_L1D
    ctx.l2 = <int>_L2
    ctx.panel_prefetch = _PANEL_PREFETCH
    ctx.row_block = _ROW_BLOCK
    return ctx


# Measured plans (lstmcore tune; lstmcore.engine._tuned reads them from their file and installs
# them here): for a call with the same kernels, dtype, threads, I and H as an entry, and a batch
# within a factor 2 of its B, the entry's choices replace the rules' (the nearest B wins). Each
# field but the key is a code: packed 1 packed kernels / 0 BLAS; one_thread 1: the packed kernels
# on one thread; split 0 the rule, 1 rows, 2 panels; row_block 0 the kernels' choice or 4;
# prefetch as _PREFETCH_MODES; grads as _GRAD_MODES. The table holds plain numbers only: a call
# in another thread while it is replaced reads an old or a new plan, either valid.
cdef struct _TunedPlan:
    int isa, itemsize, nthreads, batch, inputs, units  # the key: B, I, H
    int packed, one_thread, split, row_block, prefetch, grads

DEF _TUNED_MAX = 1024
cdef _TunedPlan _TUNED[_TUNED_MAX]
cdef int _N_TUNED = 0


cdef int _tuned_find(int B, int I, int H, int itemsize, int nthreads) noexcept nogil:
    """The index of the measured plan that a call of that shape follows now, or -1 (the rules)."""
    cdef int k, best = -1
    cdef double d, best_d = 0
    cdef _TunedPlan *e
    for k in range(_N_TUNED):
        e = &_TUNED[k]
        if (e.isa != _ISA or e.itemsize != itemsize or e.nthreads != nthreads or e.inputs != I
                or e.units != H or e.batch > 2 * B or B > 2 * e.batch):
            continue
        d = <double>B / e.batch if B >= e.batch else <double>e.batch / B
        if best < 0 or d < best_d:
            best, best_d = k, d
    return best


cdef inline int _pack_rows(int B) noexcept nogil:
    """lc_ctx.pack_rows for a batch of B rows: a single sequence's packed [w_x; w_h] in whole
    rows (its packing and every call that reads it take this)."""
    return B == 1


cdef inline lc_ctx _ctx_for(int nthreads, int B, int I, int H, int itemsize) noexcept nogil:
    """The context of a packed sequence of that shape: _ctx's, with a measured plan's choices."""
    cdef lc_ctx ctx = _ctx(nthreads)
    cdef int k = _tuned_find(B, I, H, itemsize, nthreads) if _N_TUNED else -1
    cdef _TunedPlan *e
    ctx.pack_rows = _pack_rows(B)  # as _pack packed the weights for B
    if k >= 0:
        e = &_TUNED[k]
        if e.one_thread:
            ctx.nthreads = 1
        if e.split:
            ctx.row_split_bytes = (<Py_ssize_t>1 << 62) if e.split == 1 else 0
        if e.row_block:
            ctx.row_block = e.row_block
        if e.prefetch:
            ctx.panel_prefetch = e.prefetch
    return ctx


def _set_tuned(rows):
    """Install measured plans (lstmcore.engine._tuned): rows of 12 ints, (isa, itemsize, nthreads,
    B, I, H, packed, one_thread, split, row_block, prefetch, grads), codes as _TunedPlan's; an
    empty sequence removes them. Returns the number installed."""
    global _N_TUNED
    rows = [tuple(int(v) for v in row) for row in rows]
    if len(rows) > _TUNED_MAX:
        raise ValueError(f"expected at most {_TUNED_MAX} measured plans, got {len(rows)}")
    limits = ((0, 2), (4, 8), (1, 1 << 20), (1, 1 << 30), (0, 1 << 30), (1, 1 << 30),
              (0, 1), (0, 1), (0, 2), (0, 4), (0, 2), (0, len(_GRAD_MODES) - 1))
    for row in rows:
        if len(row) != 12:
            raise ValueError(f"expected rows of 12 ints, got {row!r}")
        if any(not lo <= value <= hi for value, (lo, hi) in zip(row, limits)):
            raise ValueError(f"expected the values of a measured plan within {limits}, got {row!r}")
        if row[1] not in (4, 8) or row[9] not in (0, 4):
            raise ValueError(f"expected itemsize 4 or 8 and row_block 0 or 4, got {row!r}")
    cdef _TunedPlan e
    _N_TUNED = 0  # no call reads an entry while it is written
    for k, row in enumerate(rows):
        (e.isa, e.itemsize, e.nthreads, e.batch, e.inputs, e.units, e.packed, e.one_thread, e.split,
         e.row_block, e.prefetch, e.grads) = row
        _TUNED[k] = e
    _N_TUNED = len(rows)
    return _N_TUNED


def _tuned_rows():
    """The measured plans installed now, as _set_tuned takes them."""
    cdef int k
    cdef _TunedPlan e
    rows = []
    for k in range(_N_TUNED):
        e = _TUNED[k]
        rows.append((e.isa, e.itemsize, e.nthreads, e.batch, e.inputs, e.units, e.packed,
                     e.one_thread, e.split, e.row_block, e.prefetch, e.grads))
    return rows


def _tuned_index(int B, int I, int H, int itemsize, nthreads=None):
    """The index in _tuned_rows() of the plan a call of that shape follows now, or None."""
    cdef int k = _tuned_find(B, I, H, itemsize, _nthreads() if nthreads is None else int(nthreads))
    return None if k < 0 else k


# A Python thread's own count (_local_threads), where two calls run at once in two threads (the
# directions of a bidirectional layer); _local_users counts the threads that have one, so that
# the usual call reads no thread-local state.
_local = threading.local()
cdef int _local_users = 0


@contextlib.contextmanager
def _local_threads(int n):
    """Kernel calls made by this Python thread inside the block use ``n`` OpenMP threads."""
    global _local_users
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    previous = getattr(_local, "n", 0)
    _local.n = n
    _local_users += 1
    try:
        yield
    finally:
        _local_users -= 1
        _local.n = previous


cdef inline int _nthreads() noexcept:
    """The OpenMP thread count of a kernel call starting now."""
    global _team_used
    cdef int n = _num_threads
    if _local_users and getattr(_local, "n", 0):
        n = _local.n
    if _thread_cap and n > _thread_cap:
        n = _thread_cap
    if n > 1:
        _team_used = True
    return n


def _set_num_threads(int n):
    """Threads for the OpenMP gate loops (lstmcore.set_num_threads also sets BLAS)."""
    global _num_threads
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    _num_threads = n


def _openmp_thread_cap():
    """1 in a process forked after lstmcore ran a multi-threaded loop (see _nthreads), else None."""
    return _thread_cap or None


def _after_fork_in_child():
    global _thread_cap
    if _team_used:
        _thread_cap = 1


os.register_at_fork(after_in_child=_after_fork_in_child)


def _openmp_enabled():
    return bool(lc_openmp_enabled())


def _kernel_isa():
    """The instruction set the C kernels run with: 'avx512', 'avx2' (AVX2+FMA) or 'generic'."""
    return _ISAS[_ISA]


def _kernel_context():
    """(isa, nthreads, panel_prefetch): what every kernel of this call runs with
    (lstmcore.engine._cells reads it)."""
    return _ISA, _nthreads(), _PANEL_PREFETCH


def _available_isas():
    return _ISAS[:_BEST_ISA + 1]


def _set_kernel_isa(str isa):
    """Force the gate kernels' instruction set (tests run both); ValueError if unavailable."""
    global _ISA
    _ISA = _isa_code(isa, "isa must be one of ")


# Typed dispatch to the C kernels ----------------------------------------------------------------

cdef inline void _gates_forward(floating *z, Py_ssize_t ldz, floating *c, floating *h,
                                Py_ssize_t ldh, const floating *c_prev, const floating *b,
                                int B, int H, int act, int ract, int nthreads) noexcept nogil:
    cdef lc_ctx ctx = _ctx(nthreads)
    if floating is float:
        lc_lstm_gates_forward_f32(&ctx, z, ldz, c, h, ldh, c_prev, b, B, H, act, ract)
    else:
        lc_lstm_gates_forward_f64(&ctx, z, ldz, c, h, ldh, c_prev, b, B, H, act, ract)


cdef inline void _gates_backward(floating *dz, floating *dc, const floating *dh,
                                 const floating *dy, Py_ssize_t lddy, const floating *gates,
                                 const floating *c_prev, const floating *c,
                                 int B, int H, int act, int ract, int nthreads) noexcept nogil:
    cdef lc_ctx ctx = _ctx(nthreads)
    if floating is float:
        lc_lstm_gates_backward_f32(&ctx, dz, dc, dh, dy, lddy, gates, c_prev, c, B, H, act,
                                   ract)
    else:
        lc_lstm_gates_backward_f64(&ctx, dz, dc, dh, dy, lddy, gates, c_prev, c, B, H, act,
                                   ract)


cdef inline void _sum_rows(floating *out, const floating *a, Py_ssize_t R, int G,
                           int nthreads) noexcept nogil:
    cdef lc_ctx ctx = _ctx(nthreads)
    if floating is float:
        lc_sum_rows_f32(&ctx, out, a, R, G)
    else:
        lc_sum_rows_f64(&ctx, out, a, R, G)


# The loops ----------------------------------------------------------------------------------------

cdef void _forward_loop(floating *z, Py_ssize_t z_step, int ldz,
                        floating *h, Py_ssize_t h_step, int ldh, const floating *h0,
                        floating *c, Py_ssize_t c_step, int c_wrap, const floating *c0,
                        const floating *w_h, const floating *b,
                        int T, int B, int H, int act, int ract, int nthreads,
                        const int *nact=NULL, bint flip=False) noexcept nogil:
    # z (B, G) of time t at z + t*z_step, rows ldz apart: in x_t @ w_x, out activated gates
    # h (B, H) of time t at h + t*h_step, rows ldh apart | h0, c0 (B, H)
    # c (B, H) of the s-th step at c + (s % c_wrap)*c_step: c_wrap = T keeps every step, 2
    # ping-pongs | w_h (H, G) | b (G)
    # nact (T) or NULL: step s runs its first nact[s] rows (a sequence plan sorted by length; the
    # others' z, h and c are not written) | flip: the s-th step is time T-1-s (reverse alone)
    cdef int G = 4 * H, s, t, t_prev = 0, n, ld_prev
    cdef const floating *h_prev
    cdef const floating *c_prev
    cdef floating *z_t
    for s in range(T):
        t = T - 1 - s if flip else s
        n = B if nact == NULL else nact[s]
        h_prev = h0 if s == 0 else h + t_prev * h_step
        ld_prev = H if s == 0 else ldh
        c_prev = c0 if s == 0 else c + ((s - 1) % c_wrap) * c_step
        z_t = z + t * z_step
        # z[t] += h_prev @ w_h
        _gemm(RowMajor, NoTrans, NoTrans, n, G, H, <floating>1, h_prev, ld_prev, w_h, G,
              <floating>1, z_t, ldz)
        # gates[t], c[s], h[t] = gate maths of z[t] + b and c_prev
        _gates_forward(z_t, ldz, c + (s % c_wrap) * c_step, h + t * h_step, ldh, c_prev, b,
                       n, H, act, ract, _blas_step_threads(nthreads))
        t_prev = t


cdef void _backward_loop(floating *dz, floating *dh, floating *dc, const floating *dy,
                         const floating *gates, const floating *c, const floating *w_h,
                         int T, int B, int H, int act, int ract, int nthreads,
                         const int *nact=NULL) noexcept nogil:
    # dz, gates (T, B, G) | dh, dc (B, H): in dh_n, dc_n, out dh0, dc0
    # dy (B, T, H) batch-first, or NULL | c (T+1, B, H) | w_h (H, G)
    # nact (T) or NULL: step t runs its first nact[t] rows (a sequence plan sorted by length): a
    # row joins at its last step with its dh_n, dc_n; the others' dz is not written
    cdef int G = 4 * H, t, n
    cdef Py_ssize_t step_g = <Py_ssize_t>B * G, step_h = <Py_ssize_t>B * H
    for t in range(T - 1, -1, -1):
        n = B if nact == NULL else nact[t]
        # dz[t], dc = gate backward of dh (+ dy[:, t]) and dc
        _gates_backward(dz + t * step_g, dc, dh, NULL if dy == NULL else dy + t * H,
                        <Py_ssize_t>T * H, gates + t * step_g, c + t * step_h,
                        c + (t + 1) * step_h, n, H, act, ract, _blas_step_threads(nthreads))
        # dh = dz[t] @ w_h.T
        _gemm(RowMajor, NoTrans, Trans, n, H, G, <floating>1, dz + t * step_g, G, w_h, G,
              <floating>0, dh, H)


# Typed bodies -------------------------------------------------------------------------------

# Inference runs the packed step kernel: [w_x; w_h] packed once per call by panels of units, and
# per step one pass over them gives [x_t, h_prev] @ [w_x; w_h] panel by panel, each followed at
# once by its units' gate maths (csrc/seq/lstm_packed_impl.h). Its AVX-512 copy beats a BLAS
# product per step at every benchmark shape (bench/README.md). The AVX2 copy (6 rows' accumulators
# in registers, its panels in strips) beats it in inference and training wherever the packed
# weights stay in the L3 between steps, and past it on one thread (an AMD EPYC with AVX2, 512 KiB
# of L2 and 32 MiB of L3, the two plans interleaved in one process, BLAS / packed, 1 thread and
# 2: inference S3 (6 MiB of weights) 1.20 and 1.34, B, T, I, H = 16, 50, 512, 1024 (24 MiB) 1.34
# and 1.06, 16, 20, 1024, 2048 (96 MiB, past the L3) 1.27 and 0.91; training steps S3 1.06 and
# 1.08, 64, 100, 128, 256 1.13 and 1.14, 128, 50, 128, 512 1.04 and 1.06, 8, 100, 256, 512 2.07
# and 1.74, 16, 50, 512, 1024 1.24 and 1.07, 16, 20, 1024, 2048 1.02 on 1 thread; float64 S3
# 1.08). A single sequence (B = 1) takes it in inference (a whole panel's 8 FMA chains for one
# row: S5 BLAS / packed 1.06 on 1 thread, 1.6 on 2) but not in training (B, T, I, H = 1, 100,
# 256, 512: 0.92 on 1 thread). The caches are the machine's (_machine), and the generic copy, one
# row at a time, wins only for a few sequences (2 <= B <= 8), where OpenBLAS's sgemm is slow.
cdef int _PACKED_MIN_B = -1  # -1: the default rule of _use_packed; else the limits set by tests
cdef int _PACKED_MAX_B = 0
cdef int _PACKED_MIN_T = 0
cdef Py_ssize_t _L1D = _machine.caches()["l1d"][0]
cdef Py_ssize_t _L2 = _machine.caches()["l2"][0]
cdef Py_ssize_t _L3 = _machine.caches()["l3"][0]


cdef bint _use_packed(int B, int T, int I, int H, int itemsize, int nthreads,
                      bint training=False) noexcept:
    # training: the forward of a training step and its backward (which must agree)
    cdef int k
    if _PACKED_MIN_B < 0:  # the default rule, or a measured plan
        k = _tuned_find(B, I, H, itemsize, nthreads) if _N_TUNED else -1
        if k >= 0:
            return _TUNED[k].packed
        if _ISA == 2:
            return True
        if _ISA == 1 and T >= 2 and (B >= 2 or not training):
            return nthreads == 1 or <Py_ssize_t>(I + H) * 4 * H * itemsize <= _L3
        return 2 <= B <= 8 and T >= 2
    return _PACKED_MIN_B <= B <= _PACKED_MAX_B and T >= _PACKED_MIN_T


def _aligned_empty(Py_ssize_t n, object dtype):
    """An uninitialised 1-D array of ``n`` elements whose data starts on a 64-byte boundary.

    Every buffer of packed weights is one: the packed kernels read each row of a panel as whole
    vectors, which then each fill one cache line instead of straddling two. NumPy's own arrays
    start 16 bytes apart; packed weights there cost 1.6x per step at B=1, I=16, H=128 (S5) and
    1.2x at B=64, I=32, H=128 (S2), one thread, Intel Xeon with AVX-512 (both streamed from the
    L2; measured side by side, the same kernel on the same weights 16 bytes off)."""
    dt = np.dtype(dtype)
    buf = np.empty(n + 64 // dt.itemsize, dtype=dt)
    cdef Py_ssize_t off = ((-<Py_ssize_t>cnp.PyArray_DATA(buf)) & 63) // dt.itemsize
    return buf[off:off + n]


cdef inline void *_data(object a) noexcept:
    # the data of a C-contiguous ndarray this module made
    return cnp.PyArray_DATA(<cnp.ndarray>a)


cdef tuple _pack_sizes(int I, int H, object dtype):
    """The elements of [w_x; w_h] and of b packed by lstm_step_pack."""
    cdef Py_ssize_t itemsize = np.dtype(dtype).itemsize, U = 64 // itemsize  # units per panel
    return lc_lstm_step_pack_size(I, H, itemsize), 4 * U * ((H + U - 1) // U)


cdef tuple _pack_buffers(int I, int H, object dtype):
    """Room for [w_x; w_h] and b packed by lstm_step_pack: (wp, bp), uninitialised, aligned."""
    nw, nb = _pack_sizes(I, H, dtype)
    return _aligned_empty(nw, dtype), _aligned_empty(nb, dtype)


cdef tuple _pack_scratch(int I, int H, object dtype):
    """_pack_buffers in memory kept between calls (_workspace): a sequence call's packed weights,
    which it does not return."""
    nw, nb = _pack_sizes(I, H, dtype)
    return _workspace("pack.wp", (nw,), dtype), _workspace("pack.bp", (nb,), dtype)


cdef void _forward_packed(const floating *x, const floating *w_x, const floating *w_h,
                          const floating *b, const floating *h0, const floating *c0,
                          floating *y, Py_ssize_t ldy, Py_ssize_t y_step, floating *c,
                          floating *wp, floating *bp, int T, int B, int I, int H, int act,
                          int ract, int nthreads, bint flip=False,
                          const int *nact=NULL) noexcept nogil:
    # x (B, T, I) | w_x (I, G) | w_h (H, G) | b (G) | h0, c0 (B, H)
    # y (B, T, H) out, rows ldy apart, steps y_step apart | c (B, H) out: c_n
    # wp, bp: room for [w_x; w_h] and b packed
    # flip: from the last step to the first (reverse, with no copy of x or y)
    # nact (T) or NULL: step t runs its first nact[t] rows (a sequence plan sorted by length;
    # the others' y is not written, their c is that of their last step)
    cdef Py_ssize_t first = T - 1 if flip else 0, xs = -I if flip else I
    cdef Py_ssize_t ys = -y_step if flip else y_step
    _pack(w_x, w_h, b, B, I, H, wp, bp)
    if c != c0:
        memcpy(c, c0, <size_t>B * H * sizeof(floating))
    # for each t: c, y[:, t] = gate maths of [x[:, t], h_prev] @ [w_x; w_h] + b and c
    _seq_packed(wp, bp, x + first * I, <Py_ssize_t>T * I, xs, h0, y + first * y_step, ldy, ys, c,
                0, NULL, 0, 0, T, B, I, H, act, ract, nthreads, nact)


cdef inline void _seq_packed(const floating *wp, const floating *bp, const floating *x,
                             Py_ssize_t ldx, Py_ssize_t x_step, const floating *h0, floating *y,
                             Py_ssize_t ldy, Py_ssize_t y_step, floating *c, Py_ssize_t c_step,
                             floating *gates, Py_ssize_t ldg, Py_ssize_t g_step, int T, int B,
                             int I, int H, int act, int ract, int nthreads,
                             const int *nact=NULL) noexcept nogil:
    cdef lc_ctx ctx = _ctx_for(nthreads, B, I, H, sizeof(floating))
    if floating is float:
        lc_lstm_seq_packed_f32(&ctx, wp, bp, x, ldx, x_step, h0, y, ldy, y_step, c, c_step,
                               gates, ldg, g_step, T, B, nact, I, H, act, ract)
    else:
        lc_lstm_seq_packed_f64(&ctx, wp, bp, x, ldx, x_step, h0, y, ldy, y_step, c, c_step,
                               gates, ldg, g_step, T, B, nact, I, H, act, ract)


cdef object _forward_infer_rows(const floating[:, :, ::1] x, const floating[:, ::1] w_x,
                               const floating[:, ::1] w_h, const floating[::1] b,
                               const floating[:, ::1] h0, floating[:, ::1] c, int[::1] nact,
                               const int[::1] perm, const int[::1] lens, bint reverse,
                               floating[:, :, ::1] y, int act, int ract, object dtype):
    # packed inference of a sequence plan of lengths (lc_lstm_seq_packed_rows): x (B, T, I) and
    # y (B, T, H) out in the caller's order | h0 (B, H), c (B, H): in c0, out c_n, in the plan's
    # order | perm, lens (B), nact (T): the plan's rows (_infer_lengths)
    cdef int B = x.shape[0], T = x.shape[1], I = x.shape[2], H = w_h.shape[0]
    cdef int nthreads = _nthreads()
    cdef floating[::1] wp_v, bp_v
    wp_v, bp_v = _pack_scratch(I, H, dtype)
    cdef floating[::1] work = _workspace("plan.rows", (2 * B * (H + I),), dtype)
    cdef lc_ctx ctx = _ctx_for(nthreads, B, I, H, sizeof(floating))
    with nogil:
        _pack(&w_x[0, 0], &w_h[0, 0], &b[0], B, I, H, &wp_v[0], &bp_v[0])
        if floating is float:
            lc_lstm_seq_packed_rows_f32(&ctx, &wp_v[0], &bp_v[0], &x[0, 0, 0], <Py_ssize_t>T * I, I,
                                        &h0[0, 0], &y[0, 0, 0], <Py_ssize_t>T * H, H, &c[0, 0],
                                        &work[0], T, B, &nact[0], &perm[0], &lens[0], reverse, I,
                                        H, act, ract)
        else:
            lc_lstm_seq_packed_rows_f64(&ctx, &wp_v[0], &bp_v[0], &x[0, 0, 0], <Py_ssize_t>T * I, I,
                                        &h0[0, 0], &y[0, 0, 0], <Py_ssize_t>T * H, H, &c[0, 0],
                                        &work[0], T, B, &nact[0], &perm[0], &lens[0], reverse, I,
                                        H, act, ract)


def _plan_rows(perm, last, Py_ssize_t B):
    """A plan of lengths' rows for the kernels that read and write the caller's order (cells.h's
    lc_rows_*, lc_lstm_seq_packed_rows): perm (B,) or None (identity), last (B,) each plan row's
    last step -> (perm, lens) as C int arrays."""
    perm_i = (np.arange(B, dtype=np.intc) if perm is None
              else np.ascontiguousarray(perm, dtype=np.intc))
    return perm_i, np.ascontiguousarray(last + 1, dtype=np.intc)


cdef tuple _infer_lengths(x, w_x, w_h, b, h0, c0, lengths, bint reverse, perm, last, nact,
                          int act, int ract):
    """Packed inference of a batch of lengths (lc_lstm_seq_packed_rows), for both entries of
    lstm_forward (_plain_lengths, _plan_forward): x (B, T, I), h0, c0 (B, H) or None (zeros) in
    the caller's order | lengths (B,) the caller's | perm (B,) or None (identity), last (B,),
    nact (T,): the plan's rows (lengths_plan) -> y, h_n, c_n in the caller's order."""
    cdef int B = x.shape[0], T = x.shape[1], H = w_h.shape[0]
    dtype = x.dtype
    perm_i, lens = _plan_rows(perm, last, B)
    nact_i = np.ascontiguousarray(nact, dtype=np.intc)
    h0 = np.zeros((B, H), dtype=dtype) if h0 is None else np.ascontiguousarray(h0[perm_i])
    c = np.zeros((B, H), dtype=dtype) if c0 is None else np.ascontiguousarray(c0[perm_i])
    y = _outputs((B, T, H), dtype)  # whole lines to stream
    if dtype == np.float32:
        _forward_infer_rows[float](x, w_x, w_h, b, h0, c, nact_i, perm_i, lens, reverse, y, act,
                                   ract, dtype)
    else:
        _forward_infer_rows[double](x, w_x, w_h, b, h0, c, nact_i, perm_i, lens, reverse, y, act,
                                    ract, dtype)
    c_n = np.empty_like(c)
    c_n[perm_i] = c
    h_n = _checks.last_outputs(y, lengths, reverse)
    return y, h_n, c_n


cdef inline void _pack(const floating *w_x, const floating *w_h, const floating *b, int B, int I,
                       int H, floating *wp, floating *bp) noexcept nogil:
    cdef lc_ctx ctx1 = _ctx(1)  # packing: one thread
    ctx1.pack_rows = _pack_rows(B)
    if floating is float:
        lc_lstm_step_pack_f32(&ctx1, w_x, w_h, b, I, H, wp, bp)
    else:
        lc_lstm_step_pack_f64(&ctx1, w_x, w_h, b, I, H, wp, bp)


cdef int[::1] _steps_rows(object nact):
    """A sequence plan's rows per step (its nact, non-increasing) for the kernels, or None."""
    return None if nact is None else np.ascontiguousarray(nact, dtype=np.intc)


cdef object _forward_infer_plan(const floating[:, :, ::1] x, const floating[:, ::1] w_x,
                               const floating[:, ::1] w_h, const floating[::1] b,
                               const floating[:, ::1] h0, floating[:, ::1] c, int[::1] nact,
                               bint flip, floating[:, :, :] y, int act, int ract,
                               object dtype):
    # inference, packed or on BLAS (_use_packed), of the whole batch or of a sequence plan:
    # x (B, T, I), y (B, T, H) out (its last axis contiguous, the others of any stride: a half
    # of a bidirectional layer's output), in the plan's order (flip, reverse alone: the
    # caller's, read and written from the last step back) | h0 (B, H)
    # c (B, H): in c0, out each row's c at its last step | nact (T) or None (_steps_rows)
    cdef int B = x.shape[0], T = x.shape[1], I = x.shape[2], H = w_h.shape[0], G = 4 * H
    cdef int nthreads = _nthreads(), s, r, lo, hi
    if (y.strides[2] != sizeof(floating) or y.strides[0] % sizeof(floating)
            or y.strides[1] % sizeof(floating)):
        raise ValueError(f"y's last axis must be contiguous, got strides {tuple(y.strides)[:3]}")
    cdef Py_ssize_t ldy = y.strides[0] // sizeof(floating), y_step = y.strides[1] // sizeof(floating)
    cdef const int *p_nact = &nact[0] if nact is not None else NULL
    cdef floating[::1] wp_v, bp_v
    cdef floating[:, :, ::1] z_v, cc_v
    if _use_packed(B, T, I, H, sizeof(floating), nthreads):
        wp_v, bp_v = _pack_scratch(I, H, dtype)
        with nogil:
            _forward_packed(&x[0, 0, 0], &w_x[0, 0], &w_h[0, 0], &b[0], &h0[0, 0], &c[0, 0],
                            &y[0, 0, 0], ldy, y_step, &c[0, 0], &wp_v[0], &bp_v[0], T, B, I, H,
                            act, ract, nthreads, flip, p_nact)
        return
    z_v = np.empty((B, T, G), dtype=dtype)  # x @ w_x, then the gates
    cc_v = np.empty((2, B, H), dtype=dtype)  # c of steps s and s - 1, in turn
    with nogil:
        # z = x @ w_x over all B*T rows, batch-first (with nact, rows past their length too:
        # their z is never read)
        _gemm(RowMajor, NoTrans, NoTrans, B * T, G, I, <floating>1, &x[0, 0, 0], I,
              &w_x[0, 0], G, <floating>0, &z_v[0, 0, 0], G)
        _forward_loop(&z_v[0, 0, 0], G, T * G, &y[0, 0, 0], y_step, <int>ldy, &h0[0, 0],
                      &cc_v[0, 0, 0], <Py_ssize_t>B * H, 2, &c[0, 0], &w_h[0, 0], &b[0],
                      T, B, H, act, ract, nthreads, p_nact, flip)
        # c_n: row r's c is that of its last step s (the rows in [nact[s+1], nact[s]))
        for s in range(T):
            hi = B if p_nact == NULL else p_nact[s]
            lo = 0 if s + 1 == T else (B if p_nact == NULL else p_nact[s + 1])
            for r in range(lo, hi):
                memcpy(&c[r, 0], &cc_v[s % 2, r, 0], H * sizeof(floating))


cdef tuple _forward_infer(const floating[:, :, ::1] x, const floating[:, ::1] w_x,
                          const floating[:, ::1] w_h, const floating[::1] b,
                          const floating[:, ::1] h0, const floating[:, ::1] c0,
                          int act, int ract, object dtype, object y=None, bint flip=False):
    # x (B, T, I) | w_x (I, G) | w_h (H, G) | b (G) | h0, c0 (B, H) -> y, h_n, c_n
    # y: None, or the (B, T, H) array to write (_forward_infer_plan's strides) | flip: reverse
    cdef int B = x.shape[0], T = x.shape[1], H = w_h.shape[0]
    if y is None:
        y = _outputs((B, T, H), dtype)
    c = np.zeros((B, H), dtype=dtype) if c0 is None else np.array(c0, dtype=dtype)  # out c_n
    if h0 is None:
        h0 = np.zeros((B, H), dtype=dtype)
    cdef floating[:, :, :] y_v = y
    cdef floating[:, ::1] c_v = c
    cdef int[::1] every_row = None  # no plan: every row at every step
    _forward_infer_plan(x, w_x, w_h, b, h0, c_v, every_row, flip, y_v, act, ract, dtype)
    return y, y[:, 0 if flip else T - 1].copy(), c


def _set_packed_limits(int min_b, int max_b, int min_t):
    """Change when inference takes the packed path (tests and measurements); min_b = -1 restores
    the default rule."""
    global _PACKED_MIN_B, _PACKED_MAX_B, _PACKED_MIN_T
    _PACKED_MIN_B, _PACKED_MAX_B, _PACKED_MIN_T = min_b, max_b, min_t


def _seq_par_min():
    """Work per step (B * (I + H) * H) from which the packed sequences use several threads."""
    return _SEQ_PAR_MIN


def _set_seq_par_min(Py_ssize_t n):
    """Change it (tests: 0 runs every packed sequence on all threads)."""
    global _SEQ_PAR_MIN
    _SEQ_PAR_MIN = n


def _row_split_bytes():
    """Packed-weight size up to which the packed sequences split batch rows between threads (-1,
    the default: 3/4 of the L2 per core, lstmcore.engine._machine's)."""
    return _ROW_SPLIT_BYTES


def _set_row_split_bytes(Py_ssize_t n):
    """Change it (tests: 0 always splits panels, a large value splits rows where it can)."""
    global _ROW_SPLIT_BYTES
    _ROW_SPLIT_BYTES = n


def _packed_limits():
    """(min_b, max_b, min_t): inference with min_b <= B <= max_b and T >= min_t is packed;
    (-1, 0, 0) is the default rule (_packs)."""
    return _PACKED_MIN_B, _PACKED_MAX_B, _PACKED_MIN_T


def _packs(int B, int T, int I, int H, int itemsize, bint training=False):
    """Whether a call of that shape (inference, or a training step) runs the packed kernels now: a
    measured plan's choice where one applies (_set_tuned); else with the default rule, every call
    with the AVX-512 kernels; with AVX2, T >= 2 (and B >= 2 in training), on one thread or with
    the packed [w_x; w_h] ((I + H) x 4H values) within the L3 (_set_l3); with the generic
    kernels, 2 <= B <= 8 and T >= 2."""
    return bool(_use_packed(B, T, I, H, itemsize, _nthreads(), training))


def _set_l3(Py_ssize_t nbytes):
    """The L3 size (bytes) the AVX2 rule compares the packed weights with (with two threads or
    more); returns the previous one (the machine's, or LSTMCORE_L3's, at import)."""
    global _L3
    if nbytes < 1:
        raise ValueError(f"expected a positive number of bytes, got {nbytes}")
    previous, _L3 = _L3, nbytes
    return previous


def _set_l1d(Py_ssize_t nbytes):
    """The L1 data cache size (bytes) the blocked weight gradients size their blocks of rows by
    (lc_matmul_tn2_blocked); returns the previous one (the machine's, or LSTMCORE_L1D's, at
    import)."""
    global _L1D
    if nbytes < 1:
        raise ValueError(f"expected a positive number of bytes, got {nbytes}")
    previous, _L1D = _L1D, nbytes
    return previous


def _set_l2(Py_ssize_t nbytes):
    """The L2 size (bytes) the packed sequences' thread split and prefetch compare the weights
    with (lstmcore_row_split, lstmcore_panel_prefetch), and the training's weight-gradient
    products their outputs (_grad_bits); returns the previous one (the machine's, or
    LSTMCORE_L2's, at import)."""
    global _L2
    previous, _L2 = _L2, nbytes
    return previous


def _seq_plan(int B, int T, int I, int H, int itemsize, nthreads=None):
    """The plan the plain LSTM's inference follows for that shape now: a dict with 'path'
    ('packed' or 'blas'); with the packed kernels also 'isa', 'row_block', 'threads', 'split'
    ('rows', 'panels' or None on one thread), 'prefetch' (the next panel into the L2),
    'weight_bytes' (the packed [w_x; w_h]), 'strip' (columns per strip of its panels; 0: whole
    rows) and 'l2' and 'l3' (the caches the rules compare them with); and 'training': where a
    training step's dx, dw_x and dw_h products run ('packed', 'blas', 'blocked': the weight
    gradients in the cache-blocked kernel, or 'gemm': dx on the cell engine's packed product);
    and 'tuned': the index in _tuned_rows() of the measured plan it follows, or None (the
    rules)."""
    if itemsize not in (4, 8):
        raise ValueError(f"expected an itemsize of 4 (float32) or 8 (float64), got {itemsize}")
    if min(B, T, H) < 1 or I < 0:
        raise ValueError(f"expected B, T, H >= 1 and I >= 0, got {(B, T, I, H)}")
    cdef int n = _nthreads() if nthreads is None else int(nthreads)
    if n < 1:
        raise ValueError(f"expected nthreads >= 1, got {n}")
    cdef bint packed = _use_packed(B, T, I, H, itemsize, n)
    cdef int grads = _grad_plan(_use_packed(B, T, I, H, itemsize, n, True), B, I, H, itemsize, n)
    cdef dict training = {name: ("blocked" if grads & 16 and bit > 1 else "packed") if grads & bit
                          else "blas" for name, bit in (("dx", 1), ("dw_x", 2), ("dw_h", 4))}
    if grads & 32:
        training["dx"] = "gemm"
    cdef int k = _tuned_find(B, I, H, itemsize, n)
    tuned = None if k < 0 else k
    if not packed:
        return {"path": "blas", "isa": _kernel_isa(), "l2": int(_L2), "l3": int(_L3),
                "training": training, "tuned": tuned}
    cdef lc_ctx ctx = _ctx_for(n, B, I, H, itemsize)
    cdef lc_seq_plan plan = (lc_lstm_seq_plan_f32(&ctx, B, I, H) if itemsize == 4
                             else lc_lstm_seq_plan_f64(&ctx, B, I, H))
    return {
        "path": "packed",
        "isa": _kernel_isa(),
        "row_block": plan.row_block,
        "threads": plan.threads,
        "split": None if plan.threads == 1 else ("rows" if plan.split_rows else "panels"),
        "prefetch": bool(plan.prefetch),
        "weight_bytes": int(plan.weight_bytes),
        "strip": int(plan.strip),
        "l2": int(_L2),
        "l3": int(_L3),
        "training": training,
        "tuned": tuned,
    }


def _set_row_block(int rows):
    """The packed sequences' rows per register block: 0 the kernels' choice (6 with AVX-512 and
    AVX2 where the threads split panels), 4 at most 4; returns the previous setting."""
    global _ROW_BLOCK
    if rows not in (0, 4):
        raise ValueError(f"expected 0 (the kernels' choice) or 4, got {rows}")
    previous, _ROW_BLOCK = _ROW_BLOCK, rows
    return previous


def _mode_code(str mode, tuple names):
    """The index of mode in names; ValueError naming them otherwise (this module compiles with
    wraparound off: no negative indices)."""
    cdef Py_ssize_t last = len(names) - 1
    if mode not in names:
        expected = ", ".join([repr(n) for n in names[:last]]) + " or " + repr(names[last])
        raise ValueError("expected " + expected + ", got " + repr(mode))
    return names.index(mode)


_GRAD_MODES = ("auto", "packed", "blas", "blocked")
_PREFETCH_MODES = ("auto", "never", "always")


def _set_grad_products(str mode):
    """Where a packed training step's weight-gradient and dx products run: 'auto' (the default
    rule), 'packed' (lstmcore's kernels), 'blas', or 'blocked' (the weight gradients and db in
    lstmcore's cache-blocked kernel where the AVX-512 kernels run, else as 'packed'; dx packed);
    returns the previous mode."""
    global _GRAD_PRODUCTS
    cdef int code = _mode_code(mode, _GRAD_MODES)
    previous = _GRAD_MODES[_GRAD_PRODUCTS]
    _GRAD_PRODUCTS = code
    return previous


def _set_panel_prefetch(str mode):
    """Whether the packed sequences (and the cell engine's packed products) prefetch the next
    panel into the L2: 'auto' (when a thread's packed weights exceed half the L2 of _set_l2),
    'never' or 'always'; returns the previous mode (tests run both plans, whatever this machine's
    L2)."""
    global _PANEL_PREFETCH
    cdef int code = _mode_code(mode, _PREFETCH_MODES)
    previous = _PREFETCH_MODES[_PANEL_PREFETCH]
    _PANEL_PREFETCH = code
    return previous


cdef object _forward_train(const floating[:, :, ::1] x, const floating[:, ::1] w_x,
                          const floating[:, ::1] w_h, const floating[::1] b,
                          floating[:, :, ::1] x_tm, floating[:, :, ::1] gates,
                          floating[:, :, ::1] h, floating[:, :, ::1] c,
                          int act, int ract, object dtype, int[::1] nact=None, y_out=None):
    # x (B, T, I), or None: x_tm already holds it (a sequence plan's gather) | x_tm (T, B, I) out
    # gates (T, B, G) out | h, c (T+1, B, H): in row 0
    # nact (T): a sequence plan's rows per step (_steps_rows): step t runs its first nact[t] rows
    # (the others' h, c and gates are not written)
    # y_out (B, T, H) with a contiguous last axis, or None: where y goes (_lstm_forward_into)
    # -> y (B, T, H), y_out or a new array; None with x None (the plan's scatter reads h)
    cdef int T = x_tm.shape[0], B = x_tm.shape[1], I = x_tm.shape[2], H = w_h.shape[0], G = 4 * H
    cdef int nthreads = _nthreads(), t, r
    cdef bint packed = _use_packed(B, T, I, H, sizeof(floating), nthreads, True)
    cdef const int *p_nact = &nact[0] if nact is not None else NULL
    cdef bint outputs = x is not None
    y = (_outputs((B, T, H), dtype) if y_out is None else y_out) if outputs else None
    cdef floating *p_y = <floating *>_data(y) if outputs else NULL
    # y's rows and steps apart, in elements
    cdef Py_ssize_t y_row = y.strides[0] // sizeof(floating) if outputs else 0
    cdef Py_ssize_t y_step = y.strides[1] // sizeof(floating) if outputs else 0
    cdef floating *p_wp = NULL
    cdef floating *p_bp = NULL
    if packed:
        wp, bp = _pack_scratch(I, H, dtype)  # held here while the call runs
        p_wp, p_bp = <floating *>_data(wp), <floating *>_data(bp)
    with nogil:
        # x_tm = x.transpose(1, 0, 2)
        for r in range(B if outputs else 0):
            for t in range(T):
                memcpy(&x_tm[t, r, 0], &x[r, t, 0], I * sizeof(floating))
        if packed:
            # gates[t], c[t+1], h[t+1] of [x_tm[t], h[t]] @ [w_x; w_h] + b and c[t], fused
            _pack(&w_x[0, 0], &w_h[0, 0], &b[0], B, I, H, p_wp, p_bp)
            _seq_packed(p_wp, p_bp, &x_tm[0, 0, 0], I, <Py_ssize_t>B * I, &h[0, 0, 0],
                        &h[1, 0, 0], H, <Py_ssize_t>B * H, &c[0, 0, 0], <Py_ssize_t>B * H,
                        &gates[0, 0, 0], G, <Py_ssize_t>B * G, T, B, I, H, act, ract, nthreads,
                        p_nact)
        else:
            # gates = x_tm @ w_x over all T*B rows
            _gemm(RowMajor, NoTrans, NoTrans, T * B, G, I, <floating>1, &x_tm[0, 0, 0], I,
                  &w_x[0, 0], G, <floating>0, &gates[0, 0, 0], G)
            _forward_loop(&gates[0, 0, 0], <Py_ssize_t>B * G, G, &h[1, 0, 0], <Py_ssize_t>B * H,
                          H, &h[0, 0, 0], &c[1, 0, 0], <Py_ssize_t>B * H, T, &c[0, 0, 0],
                          &w_h[0, 0], &b[0], T, B, H, act, ract, nthreads, p_nact)
        # y = h[1:].transpose(1, 0, 2)
        for r in range(B if outputs else 0):
            for t in range(T):
                memcpy(p_y + r * y_row + t * y_step, &h[t + 1, r, 0], H * sizeof(floating))
    return y


# Workspaces: the backward's dz (T, B, G) and dx (T, B, I) are not returned, so their memory is
# kept from call to call (one set per Python thread) instead of new pages each time: at S3, fresh
# pages for the 52 MB of dz cost their zeroing by the kernel, 14% of a training step (perf).
# A thread keeps at most _workspace_limit bytes (larger ones are allocated per call and freed
# after it); release_workspaces() frees what every thread keeps.
_workspaces = threading.local()
_workspace_stores = weakref.WeakSet()  # every thread's store, for release_workspaces


def _default_workspace_limit():
    """The limit a thread starts with (_machine.workspace_limit: a share of the machine's memory,
    or LSTMCORE_WORKSPACE_LIMIT); a bad LSTMCORE_WORKSPACE_LIMIT warns and leaves the share."""
    try:
        return _machine.workspace_limit()[0]
    except ValueError as exc:
        import warnings

        warnings.warn(f"{exc}; the default applies", RuntimeWarning, stacklevel=2)
        return _machine.workspace_limit(environment=False)[0]


_workspace_limit = _default_workspace_limit()


class _Store:  # one thread's arrays, held weakly by _workspace_stores
    __slots__ = ("arrays", "cached", "__weakref__")

    def __init__(self):
        self.arrays = {}  # (name, dtype): scratch array
        self.cached = {}  # (name, dtype): [arrays given to caches] (_recycled)

    def nbytes(self):
        return (sum(a.nbytes for a in self.arrays.values())
                + sum(a.nbytes for bufs in self.cached.values() for a in bufs))

    def clear(self):
        freed = self.nbytes()
        self.arrays, self.cached = {}, {}
        return freed


cdef object _thread_store():
    kept = getattr(_workspaces, "store", None)
    if kept is None:
        kept = _workspaces.store = _Store()
        _workspace_stores.add(kept)
    return kept


cdef object _workspace(str name, tuple shape, object dtype):
    """An uninitialised array of ``shape``, in memory kept for ``name`` on this thread."""
    cdef Py_ssize_t n = 1
    for d in shape:
        n *= d
    kept = _thread_store()
    store = kept.arrays
    buf = store.get((name, dtype))
    if buf is None or buf.size < n:
        buf = _aligned_empty(n, dtype)  # packed weights among them
        store.pop((name, dtype), None)
        if _make_room(kept, buf.nbytes):
            store[(name, dtype)] = buf
    return buf[:n].reshape(shape)


cdef bint _make_room(object kept, Py_ssize_t nbytes):
    """True when nbytes more fit in the workspace limit of a thread's store, after dropping the
    arrays it kept for _recycled that nothing holds (any name; the newest first) as needed: what
    one kind of call kept gives way to the next kind's (S3's bidirectional training after its
    inference: the outputs kept for the inference, then the training's caches)."""
    cdef Py_ssize_t have = kept.nbytes(), i
    if have + nbytes <= _workspace_limit:
        return True
    for bufs in kept.cached.values():
        for i in range(len(bufs) - 1, -1, -1):
            buf = bufs[i]
            if Py_REFCNT(buf) == 2:  # the list's and buf's (_recycled)
                have -= buf.nbytes
                del bufs[i]
                if have + nbytes <= _workspace_limit:
                    return True
    return have + nbytes <= _workspace_limit


# The training forward's cache (x, gates, h and c, time-major) and the outputs go to the caller,
# but their memory can come back: a thread keeps what it gave out, and gives it again once nothing
# holds it (the cache and every view of it gone, as when a training loop's step ends or a loop of
# predictions drops each call's outputs; a stack's layers each take their own). Fresh pages past
# glibc's mmap threshold (32 MiB at most: S3's 52 MB of gates), or after another library's frees
# trimmed the heap, are zeroed by the kernel at every call: S2's 3.3 MB of GRU outputs after a
# call of the NumPy reference, 768 page faults and 1.9 ms more on a 3.6 ms call (1 thread).
cdef object _recycled(str name, tuple shape, object dtype, Py_ssize_t keep=-1):
    """An uninitialised array of ``shape`` that a call may return or cache, its data on a 64-byte
    boundary (the streaming stores write whole lines): memory this thread kept for ``name`` that
    no array holds any more, else new memory, kept within the workspace limit (_make_room) and,
    with ``keep`` >= 0, while fewer than ``keep`` arrays are kept for ``name`` (or in place of
    one too small that nothing holds)."""
    cdef Py_ssize_t n = 1, i, small = -1
    for d in shape:
        n *= d
    cdef Py_ssize_t pad = 64 // dtype.itemsize
    kept = _thread_store()
    bufs = kept.cached.setdefault((name, dtype), [])
    for i in range(len(bufs)):
        buf = bufs[i]
        # references: the list's and buf's; each array that views it adds one (NumPy sets a
        # view's base to the array that owns the memory, as buf does)
        if Py_REFCNT(buf) == 2:
            if buf.size >= n + pad:
                return _line_view(buf, n, shape)
            small = i
    buf = np.empty(n + pad, dtype=dtype)
    if 0 <= keep <= len(bufs) and small >= 0:
        del bufs[small]  # nothing holds it, too small: the new one in its place
    if (keep < 0 or len(bufs) < keep) and _make_room(kept, buf.nbytes):
        bufs.append(buf)
    return _line_view(buf, n, shape)


cdef object _line_view(object buf, Py_ssize_t n, tuple shape):
    """buf's n elements from its first 64-byte boundary, as an array of ``shape``."""
    cdef Py_ssize_t off = (((-<Py_ssize_t>cnp.PyArray_DATA(<cnp.ndarray>buf)) & 63)
                           // cnp.PyArray_ITEMSIZE(<cnp.ndarray>buf))
    return buf[off:off + n].reshape(shape)


cdef inline object _outputs(tuple shape, object dtype, str name="outputs"):
    """Memory for the outputs a forward (or a backward's dx, name "dx") returns (_recycled): two
    arrays kept per thread, name and dtype, enough for a loop of calls that drops each call's
    outputs, or keeps the previous ones."""
    return _recycled(name, shape, dtype, 2)


cdef tuple _train_arrays(int T, int B, int I, int H, object dtype, h0, c0):
    """The training forward's cache arrays, time-major, uninitialised but for h[0] = h0 and
    c[0] = c0 (None: zeros): x (T, B, I), gates (T, B, 4H), h and c (T+1, B, H)."""
    h = _recycled("h", (T + 1, B, H), dtype)
    c = _recycled("c", (T + 1, B, H), dtype)
    cdef size_t state_bytes = <size_t>B * H * np.dtype(dtype).itemsize
    for a, a0 in ((h, h0), (c, c0)):
        if a0 is None:
            memset(cnp.PyArray_DATA(<cnp.ndarray>a), 0, state_bytes)
        else:
            a[0] = a0
    return (_recycled("x", (T, B, I), dtype), _recycled("gates", (T, B, 4 * H), dtype), h, c)


def _cache_array(str name, tuple shape, object dtype):
    """_recycled for lstmcore.engine._cells: memory for an array its caches keep."""
    return _recycled(name, shape, np.dtype(dtype))


def _output_array(tuple shape, object dtype, str name="outputs"):
    """_outputs for lstmcore.engine._cells: memory for the outputs a forward (or a backward's dx,
    name "dx") returns."""
    return _outputs(shape, np.dtype(dtype), name)


def _scratch(str name, tuple shape, object dtype):
    """_workspace for lstmcore.engine._cells: scratch memory kept per thread between calls (never an
    array a call returns or caches)."""
    return _workspace(name, shape, np.dtype(dtype))


def release_workspaces():
    """Free the memory kept between calls in every thread: the backward's scratch arrays, and the
    training forward's for its next caches (a cache alive keeps its own arrays); returns the bytes
    released. Calls running now keep theirs until they return."""
    return sum([kept.clear() for kept in list(_workspace_stores)])


def set_workspace_limit(nbytes):
    """Keep at most ``nbytes`` of memory per thread between calls, the backward's scratch and the
    forward's for its caches and outputs (0 keeps none; None: the default, 1/32 of the machine's
    memory within [256 MiB, 2 GiB], or LSTMCORE_WORKSPACE_LIMIT). Returns the previous limit."""
    global _workspace_limit
    nbytes = _default_workspace_limit() if nbytes is None else _validate.nonnegative_int("nbytes", nbytes)
    previous, _workspace_limit = _workspace_limit, nbytes
    if _workspace_limit < previous:
        release_workspaces()
    return previous


cdef inline void _seq_backward_packed(const lc_ctx *ctx, const floating *wpt, floating *dz,
                                      const floating *dy, Py_ssize_t ldy, const floating *gates,
                                      const floating *c, const floating *h, floating *dh,
                                      floating *dc, int T, int B, int Bs, int H, int act, int ract,
                                      const int *nact=NULL,
                                      const Py_ssize_t *zoff=NULL) noexcept nogil:
    if floating is float:
        lc_lstm_seq_backward_packed_f32(ctx, wpt, dz, dy, ldy, gates, c, h, dh, dc, T, B, Bs, nact,
                                        H, act, ract, zoff)
    else:
        lc_lstm_seq_backward_packed_f64(ctx, wpt, dz, dy, ldy, gates, c, h, dh, dc, T, B, Bs, nact,
                                        H, act, ract, zoff)


cdef inline void _pack_t(const floating *w, int R, Py_ssize_t C, floating *wpt) noexcept nogil:
    cdef lc_ctx ctx1 = _ctx(1)  # packing: one thread
    # w (R, C) -> panels of w.T (lstm_pack_transposed)
    if floating is float:
        lc_pack_transposed_f32(&ctx1, w, R, C, wpt)
    else:
        lc_pack_transposed_f64(&ctx1, w, R, C, wpt)


cdef inline void _matmul_packed(const floating *wpt, const floating *a, Py_ssize_t lda,
                                floating *out, Py_ssize_t ldo, Py_ssize_t M, int K, int N,
                                int nthreads) noexcept nogil:
    cdef lc_ctx ctx = _ctx(nthreads)
    # out (M, N) = a (M, K) @ w.T, wpt = _pack_t(w (N, K))
    if floating is float:
        lc_matmul_packed_f32(&ctx, wpt, a, lda, out, ldo, M, K, N)
    else:
        lc_matmul_packed_f64(&ctx, wpt, a, lda, out, ldo, M, K, N)


cdef inline void _tn2(const lc_ctx *ctx, const floating *a1, Py_ssize_t lda1, int M1,
                      const floating *a2, Py_ssize_t lda2, int M2, const floating *b,
                      Py_ssize_t ldb, floating *out1, Py_ssize_t ldo1, floating *out2,
                      Py_ssize_t ldo2, floating *sums, int N, Py_ssize_t K,
                      const lc_step_rows *ra1=NULL, const lc_step_rows *ra2=NULL) noexcept nogil:
    # out1 (M1, N) += a1.T @ b, out2 (M2, N) += a2.T @ b, sums (N) += b summed over its K rows;
    # ra1, ra2: where a1's and a2's rows are (lc_step_rows), or NULL: row k at k * lda
    if floating is float:
        lc_matmul_tn2_f32(ctx, a1, lda1, ra1, M1, a2, lda2, ra2, M2, b, ldb, out1, ldo1, out2,
                          ldo2, sums, N, K)
    else:
        lc_matmul_tn2_f64(ctx, a1, lda1, ra1, M1, a2, lda2, ra2, M2, b, ldb, out1, ldo1, out2,
                          ldo2, sums, N, K)


cdef inline Py_ssize_t _tn_blocked_size(const lc_ctx *ctx, int M1, int M2, int N, Py_ssize_t K,
                                        int itemsize) noexcept nogil:
    # elements of _tn2_blocked's workspace; 0: no blocked kernel for ctx's instruction set
    if itemsize == 4:
        return lc_tn_blocked_size_f32(ctx, M1, M2, N, K)
    return lc_tn_blocked_size_f64(ctx, M1, M2, N, K)


cdef object _tn_workspace(const lc_ctx *ctx, int M1, int M2, int N, Py_ssize_t K, object dtype):
    """_tn2_blocked's workspace for these sizes, in memory this thread keeps between calls."""
    dtype = np.dtype(dtype)
    return _workspace("tn.ws", (_tn_blocked_size(ctx, M1, M2, N, K, dtype.itemsize),), dtype)


cdef inline void _tn2_blocked(const lc_ctx *ctx, const floating *a1, Py_ssize_t lda1, int M1,
                              const floating *a2, Py_ssize_t lda2, int M2, const floating *b,
                              Py_ssize_t ldb, floating *out1, Py_ssize_t ldo1, floating *out2,
                              Py_ssize_t ldo2, floating *sums, int N, Py_ssize_t K,
                              floating *ws, const lc_step_rows *ra1=NULL,
                              const lc_step_rows *ra2=NULL) noexcept nogil:
    # _tn2 in cache blocks, ws: _tn_blocked_size elements, 64-byte aligned
    if floating is float:
        lc_matmul_tn2_blocked_f32(ctx, a1, lda1, ra1, M1, a2, lda2, ra2, M2, b, ldb, out1, ldo1,
                                  out2, ldo2, sums, N, K, ws)
    else:
        lc_matmul_tn2_blocked_f64(ctx, a1, lda1, ra1, M1, a2, lda2, ra2, M2, b, ldb, out1, ldo1,
                                  out2, ldo2, sums, N, K, ws)


cdef inline void _matmul_tn(const floating *a, Py_ssize_t lda, const floating *b, Py_ssize_t ldb,
                            floating *out, Py_ssize_t ldo, int M, int N, Py_ssize_t K,
                            int nthreads, const lc_step_rows *ra=NULL) noexcept nogil:
    cdef lc_ctx ctx = _ctx(nthreads)
    # out (M, N) += a.T @ b, a (K, M) (its rows where ra says, or NULL: k * lda), b (K, N)
    if floating is float:
        lc_matmul_tn_f32(&ctx, a, lda, ra, b, ldb, out, ldo, M, N, K)
    else:
        lc_matmul_tn_f64(&ctx, a, lda, ra, b, ldb, out, ldo, M, N, K)


cdef inline bint _spills_l2(Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t itemsize) noexcept:
    """Whether a (rows, cols) output exceeds half the L2 (_set_l2). The whole output, not a
    thread's share of it: the packed products and BLAS sum in different orders, and a plan that
    moved with the thread count would change the results with it (every thread count gives the
    same bits, tests/engine/test_threads.py)."""
    return rows * cols * itemsize > _L2 // 2


cdef int _grad_plan(bint packed, int B, int I, int H, int itemsize, int nthreads) noexcept:
    """Where a training step's products after the backward loop run: bit 0 dx = dz @ w_x.T,
    bit 1 dw_x = x.T @ dz, bit 2 dw_h = h_prev.T @ dz on lstmcore's packed kernels; BLAS for the
    bits not set; bit 4 (16): dw_x, dw_h and db in lstmcore's cache-blocked kernel
    (lc_matmul_tn2_blocked). A measured plan's grads acts as _set_grad_products's mode."""
    cdef int mode = _GRAD_PRODUCTS
    cdef int k = _tuned_find(B, I, H, itemsize, nthreads) if _N_TUNED else -1
    if k >= 0 and _TUNED[k].grads:
        mode = _TUNED[k].grads
    return _grad_bits(packed, mode, I, H, 4 * <Py_ssize_t>H, itemsize, True)


cdef int _grad_bits(bint packed, int mode, int I, int P, Py_ssize_t G, int itemsize,
                    bint blocked=False) noexcept:
    """_grad_plan's bits for products after a loop over dz (rows, G): dx (rows, I), dw_x (I, G)
    and dw_h (P, G), under mode (_GRAD_MODES' code) and the loop's plan (packed or not); bit 3
    (8): dw_x, dw_h and db in one pass over dz (lc_matmul_tn2); bit 4 (16), where the caller
    takes it (blocked) and the AVX-512 kernels run: the same in cache blocks
    (lc_matmul_tn2_blocked)."""
    # The products in the packed kernels too: with AVX-512 (1.3-1.9x OpenBLAS's Haswell kernels
    # at S2 and S3; at S1, H = 50, the whole training step 1.17x faster since the last panel of
    # columns is masked), with AVX2 (AMD EPYC, Zen 3, the training step against OpenBLAS,
    # interleaved: S1 1.02-1.04x on 1 thread, 1.00-1.06x on 2; S2 1.01x and 1.02-1.10x; B, T, I,
    # H = 64, 50, 64, 128 1.04x with dx too), or wherever the tests force the packed path.
    if mode == 0 and _BLAS_SPINS and packed:  # lstmcore's kernels for all three (_BLAS_SPINS)
        mode = 3 if blocked and _ISA >= 2 else 1
    cdef bint products = packed and (mode == 1 or mode == 3 or (
        mode == 0 and (_ISA >= 1 or _PACKED_MIN_B >= 0)))
    if not products:
        return 0
    blocked = blocked and _ISA >= 2  # lc_tn_blocked_size: AVX-512 only
    # dx's panels are 256 bytes wide (64 columns in float32): inputs narrower than a panel go to
    # BLAS, unless the mode forces the packed kernels (float32, one thread, the two timed in
    # turn: I = 32, G = 512 (S2) 7.65 ms packed against 6.42 on BLAS; G = 384, 5.41 against
    # 3.27; at I = 128 and 256 within 5% of each other)
    cdef int plan = 1 if mode == 1 or mode == 3 or I * itemsize >= 256 else 0
    # Narrower inputs of a vector or more: dx on the cell engine's packed product (csrc/gemm,
    # bit 5: 32), whose last panel takes only the vectors its columns need; against OpenBLAS,
    # float32, 6400 x 512 rows of dz (S2's), AMD EPYC Zen 4, 1 / 2 threads: I = 16 1.59 /
    # 1.83x, I = 32 1.32 / 1.61x; the AVX2 kernels there, I = 8 1.69 / 2.03x, I = 32 1.35 /
    # 1.28x; float64 I = 8 2.09 / 2.57x; 960 x 200 rows (S1's dz) 0.90-1.40x, I = 24 on
    # AVX-512 the two below 1 of sixteen; below a vector (I = 4 float32) BLAS won, 0.64-0.84x
    if plan == 0 and mode == 0 and _ISA >= 1 and I * itemsize >= (64 if _ISA >= 2 else 32):
        plan = 32
    if mode == 3 and blocked:
        return plan | 2 | 4 | 16
    # Each weight gradient (I, G) or (H, G) is read and written once per block of 64 rows of dz:
    # where it exceeds half the L2 it comes from the L3 each time, and BLAS
    # (blocked for its caches) is faster (S3, 1 thread, Intel Xeon with 2 MiB of L2: the
    # backward 0.93-0.96x the time with the weight gradients on BLAS; dw_h is 4 MiB there).
    if mode == 1 or mode == 3 or not _spills_l2(I, G, itemsize):
        plan |= 2
    if mode == 1 or mode == 3 or not _spills_l2(P, G, itemsize):
        plan |= 4
    # Where a weight gradient would go to BLAS (past half the L2) and both together are within
    # 4 L2s, both go to the blocked kernel with AVX-512: dz packed once for both (BLAS copies it
    # once per product) and db on the way. Training steps, Intel Xeon (AVX-512, 2 MiB of L2),
    # blocked against BLAS, 1 / 2 threads: S3 (6 MiB of weight gradients) 1.06 / 1.07x, B, T, I,
    # H = 128, 50, 128, 512 (5 MiB) 1.09 / 1.07x, float64 64, 100, 128, 256 (3 MiB) 1.04x; past
    # that BLAS tied or won: 32, 100, 256, 1024 (20 MiB) 1.00x, 16, 50, 512, 1024 (24 MiB) 0.94x,
    # float64 S3 (12 MiB) 0.99x. Outputs within half the L2 stay on lstm_matmul_tn (S2 and S6:
    # 1.05 and 1.04x the blocked kernel's speed).
    if blocked and plan & 6 != 6 and (I + P) * G * itemsize <= 4 * _L2:
        return plan | 2 | 4 | 16
    # Both weight gradients packed and dz wider than they are tall (their threads split
    # columns): one pass over dz for both and db (S1, I = 1: dw_x's pass alone cost a sixth of
    # dw_h's for a fiftieth of its work)
    if plan & 6 == 6 and G > I + P:
        plan |= 8
    return plan


# The products after the loop for the cell engine (lstmcore.engine._cells): the LSTM's kernels
# and rule (_grad_bits), called with arrays. Every array has contiguous rows (unit column stride);
# rows may be any distance apart.

def _products_plan(bint packed, int I, int P, Py_ssize_t G, int itemsize, bint blocked=False):
    """_grad_bits under the mode _set_grad_products set (no measured plan: those are the LSTM's);
    blocked: the caller can take the blocked kernel (bit 16)."""
    return _grad_bits(packed, _GRAD_PRODUCTS, I, P, G, itemsize, blocked)


cdef object _step_rows(steps, Py_ssize_t rows, Py_ssize_t K, lc_step_rows *s):
    """s = where the K rows of a product's operand a (rows, M) are when a holds a sequence
    plan's T steps of rows // T rows each and the product reads only the rows that ran
    (lc_step_rows): steps (T + 1,), step t's first row among the K, non-decreasing from 0 to K,
    no step with more than rows // T. Returns the offsets' array, held while s is used."""
    off = np.ascontiguousarray(steps, dtype=np.intp)
    cdef Py_ssize_t T = off.shape[0] - 1 if off.ndim == 1 else -1
    if T < 1 or rows % T:
        raise ValueError(f"steps must be (T + 1,) offsets with T dividing a's {rows} rows, got "
                         f"shape {np.shape(steps)}")
    d = np.diff(off)
    if off[0] != 0 or off[T] != K or (d < 0).any() or (d > rows // T).any():
        raise ValueError(f"steps must rise from 0 to {K} by at most {rows // T} a step, got "
                         f"{off[0]} to {off[T]}, steps of {d.min()} to {d.max()}")
    s.off = <const Py_ssize_t *>cnp.PyArray_DATA(off)
    s.T = <int>T
    s.step = rows // T
    return off


def _products_tn_blocked(const floating[:, ::1] a, const floating[:, ::1] b, floating[:, ::1] out,
                         floating[::1] sums, int nthreads, steps=None):
    """out (M, N) += a.T @ b and sums (N, or None: not) += b summed over its rows, a (K, M), b
    (K, N), in the cache-blocked kernel (lc_matmul_tn2_blocked with one output; lc_matmul_tn2's
    order where it has none), its workspace kept between calls. steps: a holds T steps of rows
    and the product reads step t's first steps[t + 1] - steps[t] (_step_rows)."""
    cdef Py_ssize_t K = b.shape[0]
    cdef int M = a.shape[1], N = b.shape[1]
    cdef lc_step_rows srows
    cdef const lc_step_rows *pra = NULL
    if steps is not None:
        _held = _step_rows(steps, a.shape[0], K, &srows)
        pra = &srows
    if ((a.shape[0] != K and pra == NULL) or out.shape[0] != M or out.shape[1] != N
            or (sums is not None and sums.shape[0] != N)):
        got = (np.shape(a), np.shape(b), np.shape(out), np.shape(sums))
        raise ValueError("expected a (K, M), b (K, N), out (M, N), sums (N,) or None, got "
                         + ", ".join(map(str, got)))
    if K == 0 or N == 0:
        return
    if M == 0:
        if sums is not None:
            _products_sum_rows(b, sums, nthreads)
        return
    cdef floating *psums = &sums[0] if sums is not None else NULL
    cdef lc_ctx ctx = _ctx(nthreads)
    ws = _tn_workspace(&ctx, M, 0, N, K, np.float32 if floating is float else np.float64)
    cdef floating *pws = <floating *>_data(ws)
    with nogil:
        _tn2_blocked(&ctx, &a[0, 0], M, M, NULL, 0, 0, &b[0, 0], N, &out[0, 0], N, NULL, 0,
                     psums, N, K, pws, pra)


cdef inline int _ld(Py_ssize_t stride, Py_ssize_t itemsize, Py_ssize_t rows, int cols):
    # a 2-D operand's leading dimension for BLAS and the kernels: one row's stride says nothing
    return cols if rows <= 1 else <int>(stride // itemsize)


def _products_tn(const floating[:, :] a, const floating[:, :] b, floating[:, :] out,
                 bint packed, int nthreads, steps=None):
    """out (M, N) += a.T @ b: a (K, M), b (K, N); lstmcore's packed kernel (packed) or BLAS.
    steps (the packed kernel only): a holds T steps of rows and the product reads step t's first
    steps[t + 1] - steps[t] (_step_rows)."""
    cdef Py_ssize_t K = a.shape[0] if steps is None else b.shape[0]
    cdef int M = a.shape[1], N = b.shape[1]
    cdef lc_step_rows srows
    cdef const lc_step_rows *pra = NULL
    if steps is not None:
        if not packed:
            raise ValueError("steps: the packed kernel reads rows where they are, BLAS does not")
        _held = _step_rows(steps, a.shape[0], K, &srows)
        pra = &srows
    if K == 0 or M == 0 or N == 0:
        return
    cdef int lda = _ld(a.strides[0], sizeof(floating), a.shape[0], M)
    cdef int ldb = _ld(b.strides[0], sizeof(floating), K, N)
    cdef int ldo = _ld(out.strides[0], sizeof(floating), M, N)
    with nogil:
        if pra != NULL:
            _matmul_tn(&a[0, 0], lda, &b[0, 0], ldb, &out[0, 0], ldo, M, N, K, nthreads, pra)
        else:
            _add_tn(packed, &a[0, 0], lda, M, &b[0, 0], ldb, N, &out[0, 0], ldo, K, nthreads)


def _products_tn2(const floating[:, ::1] a1, const floating[:, ::1] a2,
                  const floating[:, ::1] b, floating[:, ::1] out1, floating[:, ::1] out2,
                  floating[::1] sums, int nthreads, bint blocked=False, steps1=None,
                  steps2=None):
    """out1 (M1, N) += a1.T @ b, out2 (M2, N) += a2.T @ b, sums (N) += b summed over its rows:
    a1 (K, M1), a2 (K, M2), b (K, N), in one pass over b (lc_matmul_tn2), or with blocked in
    the cache-blocked kernel (lc_matmul_tn2_blocked; lc_matmul_tn2 where it has none). steps1,
    steps2: a1, a2 hold T steps of rows and the product reads step t's first steps[t + 1] -
    steps[t] (_step_rows)."""
    cdef Py_ssize_t K = b.shape[0]
    cdef int M1 = a1.shape[1], M2 = a2.shape[1], N = b.shape[1]
    cdef lc_step_rows srows1, srows2
    cdef const lc_step_rows *pra1 = NULL
    cdef const lc_step_rows *pra2 = NULL
    if steps1 is not None:
        _held1 = _step_rows(steps1, a1.shape[0], K, &srows1)
        pra1 = &srows1
    if steps2 is not None:
        _held2 = _step_rows(steps2, a2.shape[0], K, &srows2)
        pra2 = &srows2
    if ((a1.shape[0] != K and pra1 == NULL) or (a2.shape[0] != K and pra2 == NULL)
            or out1.shape[0] != M1 or out2.shape[0] != M2
            or out1.shape[1] != N or out2.shape[1] != N or sums.shape[0] != N):
        got = (np.shape(a1), np.shape(a2), np.shape(b), np.shape(out1), np.shape(out2),
               np.shape(sums))
        raise ValueError("expected a1 (K, M1), a2 (K, M2), b (K, N), out1 (M1, N), out2 (M2, N), "
                         f"sums (N,), got {', '.join(map(str, got))}")
    if K == 0 or M1 == 0 or M2 == 0 or N == 0:
        return
    cdef lc_ctx ctx = _ctx(nthreads)
    cdef floating *pws = NULL
    if blocked:
        ws = _tn_workspace(&ctx, M1, M2, N, K, np.float32 if floating is float else np.float64)
        pws = <floating *>_data(ws)
    with nogil:
        if blocked:
            _tn2_blocked(&ctx, &a1[0, 0], M1, M1, &a2[0, 0], M2, M2, &b[0, 0], N, &out1[0, 0], N,
                         &out2[0, 0], N, &sums[0], N, K, pws, pra1, pra2)
        else:
            _tn2(&ctx, &a1[0, 0], M1, M1, &a2[0, 0], M2, M2, &b[0, 0], N, &out1[0, 0], N,
                 &out2[0, 0], N, &sums[0], N, K, pra1, pra2)


def _products_nt(const floating[:, :] a, const floating[:, ::1] w, floating[:, :] out,
                 bint packed, int nthreads):
    """out (M, N) = a (M, K) @ w.T, w (N, K): w.T packed then lstmcore's kernel (packed), or BLAS."""
    cdef Py_ssize_t M = a.shape[0]
    cdef int K = a.shape[1], N = w.shape[0]
    if M == 0 or N == 0:
        return
    if K == 0:
        out[:, :] = 0
        return
    cdef int lda = _ld(a.strides[0], sizeof(floating), M, K)
    cdef int ldo = _ld(out.strides[0], sizeof(floating), M, N)
    cdef floating[::1] wpt
    cdef floating *pw = NULL  # packed w.T, or NULL: BLAS
    if packed:
        wpt = _aligned_empty(lc_pack_transposed_size(N, K, sizeof(floating)),
                             np.float32 if floating is float else np.float64)
        pw = &wpt[0]
    with nogil:
        _mul_nt(pw, &a[0, 0], lda, &w[0, 0], N, K, &out[0, 0], ldo, M, nthreads)


def _products_sum_rows(const floating[:, ::1] a, floating[::1] out, int nthreads):
    """out (N) += a (R, N) summed over its rows."""
    if a.shape[0] == 0 or a.shape[1] == 0:
        return
    with nogil:
        _sum_rows(&out[0], &a[0, 0], a.shape[0], <int>a.shape[1], nthreads)


cdef inline void _add_tn(bint packed, const floating *a, int lda, int M, const floating *b,
                         int ldb, int G, floating *out, int ldo, Py_ssize_t S,
                         int nthreads) noexcept nogil:
    # out (M, G) rows ldo apart += a.T @ b, a (S, M) rows lda apart, b (S, G) rows ldb apart:
    # lstmcore's packed kernel, or BLAS
    if packed:
        _matmul_tn(a, lda, b, ldb, out, ldo, M, G, S, nthreads)
    else:
        _gemm(RowMajor, Trans, NoTrans, M, G, <int>S, <floating>1, a, lda, b, ldb, <floating>1, out,
              ldo)


cdef inline void _mul_nt(floating *wpt, const floating *a, int lda, const floating *w, int N,
                         int K, floating *out, int ldo, Py_ssize_t M, int nthreads) noexcept nogil:
    # out (M, N) rows ldo apart = a (M, K) rows lda apart @ w.T, w (N, K) contiguous: w.T packed
    # into wpt (lc_pack_transposed_size(N, K) elements) then lstmcore's kernel, or, wpt NULL, BLAS
    if wpt != NULL:
        _pack_t(w, N, K, wpt)
        _matmul_packed(wpt, a, lda, out, ldo, M, K, N, nthreads)
    else:
        _gemm(RowMajor, NoTrans, Trans, <int>M, N, K, <floating>1, a, lda, w, K, <floating>0, out,
              ldo)


cdef dict _backward(const floating[:, :, ::1] dy, bint has_dy, floating[:, ::1] dh,
                    floating[:, ::1] dc, const floating[:, :, ::1] x_tm,
                    const floating[:, ::1] w_x, const floating[:, ::1] w_h,
                    const floating[:, :, ::1] gates, const floating[:, :, ::1] h,
                    const floating[:, :, ::1] c, int act, int ract, object dtype,
                    int[::1] nact=None, object seq=None, bint h_out=False):
    # dy (B, T, H) | dh, dc (B, H): in dh_n, dc_n, out dh0, dc0 | x_tm (T, B, I)
    # gates (T, B, G) | h, c (T+1, B, H) | w_x (I, G) | w_h (H, G)
    # nact (T): a sequence plan's rows per step: step t runs its first nact[t] rows, a row joins
    # at its last step with its dh_n, dc_n, and its dz is not written elsewhere; seq, that plan:
    # dx comes back in the caller's order (else in the plan's)
    cdef int T = gates.shape[0], B = gates.shape[1], G = gates.shape[2], H = G // 4
    cdef int I = x_tm.shape[2], nthreads = _nthreads(), t, r
    cdef const int *p_nact = &nact[0] if nact is not None else NULL
    cdef int TB = T * B
    cdef bint packed = _use_packed(B, T, I, H, sizeof(floating), nthreads, True)
    # the arrays made here are C-contiguous: their data pointers are taken directly
    # (each held by a name of its own while the call runs: a workspace over the limit is kept
    # by nothing else)
    cdef floating *p_dz = NULL
    if nact is None or not packed:  # else the packed loop writes the rows that ran (dz_rows)
        dz = _workspace("dz", (T, B, G), dtype)
        p_dz = <floating *>_data(dz)
    dx_tm = _workspace("dx_tm", (T, B, I), dtype)
    dx = _outputs((B, T, I), dtype, "dx")  # with nact: written by the plan's put below
    dw_x = np.zeros((I, G), dtype=dtype)
    dw_h = np.zeros((H, G), dtype=dtype)
    db = np.zeros(G, dtype=dtype)
    cdef floating *p_dx_tm = <floating *>_data(dx_tm)
    cdef floating *p_dx = <floating *>_data(dx)
    cdef floating *p_dw_x = <floating *>_data(dw_x)
    cdef floating *p_dw_h = <floating *>_data(dw_h)
    cdef floating *p_db = <floating *>_data(db)
    cdef int grads = _grad_plan(packed, B, I, H, sizeof(floating), nthreads)
    cdef bint dx_packed = grads & 1, dwx_packed = grads & 2, dwh_packed = grads & 4
    cdef bint dx_gemm = grads & 32
    cdef lc_ctx ctx = _ctx_for(nthreads, B, I, H, sizeof(floating))
    cdef floating *pws = NULL  # the blocked weight gradients' workspace
    cdef floating *pwpt = NULL  # packed w_h.T for the loop
    if packed:
        wpt = _workspace("pack.w_h_t", (lc_pack_transposed_size(H, G, sizeof(floating)),), dtype)
        pwpt = <floating *>_data(wpt)
    cdef floating *pwxt = NULL  # packed w_x.T for dx, or NULL: BLAS
    if dx_packed:
        wxt = _workspace("pack.w_x_t", (lc_pack_transposed_size(I, G, sizeof(floating)),), dtype)
        pwxt = <floating *>_data(wxt)
    # With a plan's nact, the products after the loop read only the rows that ran: dz, x and
    # h_prev of those rows, step after step (sum(nact) rows; at S2 with lengths over 1..T, half
    # the rows, the products being about 60% of the backward's multiply-adds). The packed loop
    # writes dz so itself (zoff: each step's first row); lstmcore's kernels for the weight
    # gradients read x's and h_prev's where they are (steps: lc_step_rows over zoff), BLAS reads
    # them copied together here
    cdef Py_ssize_t S = TB, off = 0, n
    cdef floating *pdz = NULL
    cdef const floating *px = &x_tm[0, 0, 0]
    cdef const floating *ph = &h[0, 0, 0]
    cdef floating[:, ::1] dzc_v, xc_v, hc_v
    cdef Py_ssize_t[::1] zoff = None
    cdef const Py_ssize_t *p_zoff = NULL
    cdef lc_step_rows steps
    cdef const lc_step_rows *px_steps = NULL
    cdef const lc_step_rows *ph_steps = NULL
    if nact is None or not packed:
        pdz = p_dz
    if nact is not None:
        zoff = seq.step_offsets
        S = zoff[T]
        steps.off, steps.T, steps.step = &zoff[0], T, B
        dzc_v = _workspace("dz_rows", (S, G), dtype)
        pdz = &dzc_v[0, 0]
        from . import _cells  # its copy splits the steps between threads
        # (bits 8 and 16 of _grad_bits come with 2 and 4: the packed kernels read in place)
        if dwx_packed:
            px_steps = &steps
        else:
            xc_v = _cells.compact_steps(np.asarray(x_tm), nact,
                                        _workspace("x_rows", (S, I), dtype))
            px = &xc_v[0, 0]
        if dwh_packed:
            ph_steps = &steps
        else:
            hc_v = _cells.compact_steps(np.asarray(h)[:T], nact,
                                        _workspace("h_rows", (S, H), dtype))
            ph = &hc_v[0, 0]
        if packed:
            p_zoff = &zoff[0]
    if grads & 16:
        ws = _tn_workspace(&ctx, I, H, G, S, dtype)
        pws = <floating *>_data(ws)
    # Small products run faster on one BLAS thread: the pools are held to one for this call
    with _threads.blas_for_products(nthreads, <long long>TB * G * (I + H)):
        with nogil:
            if packed:
                # per step, by panels of units: dh = dz[t+1] @ w_h.T, then the gate backward
                _pack_t(&w_h[0, 0], H, G, pwpt)
                _seq_backward_packed(&ctx, pwpt, pdz,
                                     &dy[0, 0, 0] if has_dy else NULL, <Py_ssize_t>T * H,
                                     &gates[0, 0, 0], &c[0, 0, 0], &h[0, 0, 0] if h_out else NULL,
                                     &dh[0, 0],
                                     &dc[0, 0], T, B, B, H, act, ract, p_nact, p_zoff)
            else:
                _backward_loop(p_dz, &dh[0, 0], &dc[0, 0],
                               &dy[0, 0, 0] if has_dy else NULL, &gates[0, 0, 0], &c[0, 0, 0],
                               &w_h[0, 0], T, B, H, act, ract, nthreads, p_nact)
            if p_nact != NULL and p_zoff == NULL:  # dz's rows that ran, step after step
                for t in range(T):
                    n = p_nact[t]
                    memcpy(pdz + off * G, p_dz + <Py_ssize_t>t * B * G, n * G * sizeof(floating))
                    off += n
            # dw_x += x.T @ dz, dw_h += h_prev.T @ dz and db += dz.sum(rows) over all S rows
            # (h_prev = h[:T]), in one pass over dz where the plan says so
            if grads & 16:
                _tn2_blocked(&ctx, px, I, I, ph, H, H, pdz, G, p_dw_x, G, p_dw_h, G, p_db, G, S,
                             pws, px_steps, ph_steps)
            elif grads & 8:
                _tn2(&ctx, px, I, I, ph, H, H, pdz, G, p_dw_x, G, p_dw_h, G, p_db, G, S,
                     px_steps, ph_steps)
            else:
                if px_steps != NULL:
                    _matmul_tn(px, I, pdz, G, p_dw_x, G, I, G, S, nthreads, px_steps)
                else:
                    _add_tn(dwx_packed, px, I, I, pdz, G, G, p_dw_x, G, S, nthreads)
                if ph_steps != NULL:
                    _matmul_tn(ph, H, pdz, G, p_dw_h, G, H, G, S, nthreads, ph_steps)
                else:
                    _add_tn(dwh_packed, ph, H, H, pdz, G, G, p_dw_h, G, S, nthreads)
                _sum_rows(p_db, pdz, S, G, nthreads)
            # dx = dz @ w_x.T
            if not dx_gemm:
                _mul_nt(pwxt, pdz, G, &w_x[0, 0], I, G, p_dx_tm, I, S, nthreads)
        if dx_gemm:  # the cell engine's packed product (bit 32 of _grad_bits)
            from . import _cells
            dz_rows = np.asarray(dzc_v) if nact is not None else dz.reshape(TB, G)
            _cells._packed_matmul(dz_rows, np.asarray(w_x), True,
                                  dx_tm.reshape(TB, I)[:S], accumulate=False)
        with nogil:
            # dx to batch-first
            if p_nact == NULL:
                for r in range(B):
                    for t in range(T):
                        memcpy(p_dx + (<Py_ssize_t>r * T + t) * I,
                               p_dx_tm + (<Py_ssize_t>t * B + r) * I, I * sizeof(floating))
    if p_nact != NULL:
        # dx_tm holds the S rows that ran, step after step: into the caller's order in one pass
        # (0 past each row's length)
        seq.put(dx_tm.reshape(TB, I)[:S], dx)
    return {"dx": dx, "dw_x": dw_x, "dw_h": dw_h, "db": db,
            "dh0": np.asarray(dh), "dc0": np.asarray(dc)}


cdef object _cell(const floating[:, ::1] x_t, const floating[:, ::1] w_x,
                 const floating[:, ::1] w_h, const floating[::1] b,
                 const floating[:, ::1] h_prev, const floating[:, ::1] c_prev,
                 floating[:, ::1] c, int act, int ract, object dtype):
    # x_t (B, I) | w_x (I, G) | w_h (H, G) | b (G) | h_prev, c_prev (B, H) | c (B, H) out
    cdef int B = x_t.shape[0], I = x_t.shape[1], H = w_h.shape[0], G = 4 * H
    cdef int nthreads = _nthreads()
    h = np.empty((B, H), dtype=dtype)
    z = np.empty((B, G), dtype=dtype)
    cdef floating[:, ::1] h_v = h, z_v = z
    with nogil:
        # z = x_t @ w_x
        _gemm(RowMajor, NoTrans, NoTrans, B, G, I, <floating>1, &x_t[0, 0], I, &w_x[0, 0], G,
              <floating>0, &z_v[0, 0], G)
        # z += h_prev @ w_h
        _gemm(RowMajor, NoTrans, NoTrans, B, G, H, <floating>1, &h_prev[0, 0], H, &w_h[0, 0],
              G, <floating>1, &z_v[0, 0], G)
        _gates_forward(&z_v[0, 0], G, &c[0, 0], &h_v[0, 0], H, &c_prev[0, 0], &b[0],
                       B, H, act, ract, nthreads)
    return h


# The plain LSTM's calls checked in compiled code -------------------------------------------------
# A call without options, its activations named by strings, on arrays that need no conversion
# (ndarrays, not subclasses, of float32 or float64 in native byte order, C-contiguous, aligned,
# every size from 1 to 2**31 - 1) and finite, runs from these checks; any other call takes
# _lstm_options' checks, which accept the same calls and convert, or refuse with a message, the
# rest. The Python checks cost 6 µs (forward) and 16 µs (backward) on a warm machine, 31 and
# 59 µs after another library's training step (the interpreter's code and objects cold).

cdef dict _PLAIN_CODES = {}  # (activation, recurrent_activation) -> the kernels' (act, ract)


cdef tuple _plain_codes(activation, recurrent_activation):
    """The kernels' (act, ract) when both activations are names the plain LSTM runs, else None."""
    if type(activation) is not str or type(recurrent_activation) is not str:
        return None
    key = (activation, recurrent_activation)
    codes = _PLAIN_CODES.get(key)
    if codes is None:
        opts = _lstm_options._plain_call({"activation": activation,
                                          "recurrent_activation": recurrent_activation})
        if opts is None:
            return None
        codes = _PLAIN_CODES[key] = opts.codes
    return codes


cdef object _plain_forward(x, w_x, w_h, b, h0, c0, bint check_finite, tuple codes,
                           bint return_cache, activation, recurrent_activation, lengths=None,
                           bint reverse=False):
    """lstm_forward of the plain LSTM (codes: _plain_codes) when every array is ready
    (_checks.sequence_ready, state_ready), else None. With lengths (inference alone):
    _plain_lengths."""
    if codes is None:
        return None
    cdef int typenum = sequence_ready(x, w_x, w_h, b, 4, 0, check_finite)
    if typenum < 0:
        return None
    cdef Py_ssize_t B = x.shape[0], H = w_h.shape[0]
    if not (state_ready(h0, typenum, B, H, check_finite)
            and state_ready(c0, typenum, B, H, check_finite)):
        return None
    act, ract = codes
    if lengths is not None:
        return _plain_lengths(x, w_x, w_h, b, h0, c0, lengths, reverse, act, ract)
    return _run_forward(x, w_x, w_h, b, h0, c0, act, ract, return_cache, activation,
                        recurrent_activation, None)


cdef object _plain_lengths(x, w_x, w_h, b, h0, c0, lengths, bint reverse, int act, int ract):
    """Inference of a batch of lengths (and reverse) on the packed kernels, its rows from the
    compiled plan alone (_checks.lengths_plan without the per-step times), without the general
    path's checks and plan objects (about 0.3 ms a call at S2 after another library's call);
    None where lengths are not an integer array of B values in [1, T] or the packed kernels do
    not take the batch: the general path then runs, or raises its errors."""
    cdef int B = x.shape[0], T = x.shape[1], I = x.shape[2], H = w_h.shape[0]
    if not _use_packed(B, T, I, H, x.itemsize, _nthreads()):
        return None
    plan = _checks.ready_lengths_plan(lengths, B, T, reverse)
    if plan is None:
        return None
    L, perm, _, _, _, nact, last = plan
    return _infer_lengths(x, w_x, w_h, b, h0, c0, L, reverse, perm, last, nact, act, ract)


cdef tuple _plain_cache(dy, cache, bint check_finite):
    """(act, ract) when cache is a plain LSTMCache of the whole batch (no option, no sequence
    plan) whose arrays are ready (above) with the shapes of its forward, and dy None or ready of
    shape (B, T, H), else None."""
    if type(cache) is not LSTMCache:
        return None
    if (cache.sequence is not None or cache.recurrent_mask is not None or cache.z is not None
            or cache.m is not None or cache.peepholes is not None or cache.proj is not None
            or cache.clip is not None or cache.input_forget is not False
            or cache.output_activation is not None):
        return None
    codes = _plain_codes(cache.activation, cache.recurrent_activation)
    gates = cache.gates
    if codes is None or type(gates) is not cnp.ndarray:
        return None
    cdef int typenum = cnp.PyArray_TYPE(<cnp.ndarray>gates)
    if ((typenum != cnp.NPY_FLOAT32 and typenum != cnp.NPY_FLOAT64)
            or not array_ready(gates, typenum, 3) or not array_ready(cache.x, typenum, 3)):
        return None
    cdef cnp.npy_intp *dims = cnp.PyArray_DIMS(<cnp.ndarray>gates)
    cdef cnp.npy_intp *dims_x = cnp.PyArray_DIMS(<cnp.ndarray>cache.x)
    cdef Py_ssize_t T = dims[0], B = dims[1], G = dims[2], H = G // 4, I = dims_x[2]
    if (G % 4 or min(T, B, H, I) < 1 or dims_x[0] != T or dims_x[1] != B
            or not array_ready(cache.w_x, typenum, 2, I, G)
            or not array_ready(cache.w_h, typenum, 2, H, G)
            or not array_ready(cache.h, typenum, 3, T + 1, B, H)
            or not array_ready(cache.c, typenum, 3, T + 1, B, H)):
        return None
    if dy is not None and not (array_ready(dy, typenum, 3, B, T, H)
                               and (not check_finite or contiguous_finite(dy))):
        return None
    return codes


# Public functions ---------------------------------------------------------------------------


def lstm_forward(x, w_x, w_h, b, h0=None, c0=None, *, activation="tanh",
                 recurrent_activation="sigmoid", return_cache=False, check_finite=True,
                 output_activation=None, peepholes=None, proj=None, clip=None,
                 input_forget=False, recurrent_mask=None, reverse=False, lengths=None,
                 mask=None, zero_output_for_mask=False):
    """LSTM over a whole sequence, batch-first.

    x (B, T, I) | w_x (I, G) | w_h (H, G) | b (G) | h0, c0 (B, H) or None (zeros)
    -> y (B, T, H), h_n (B, H), c_n (B, H), and the cache for :func:`lstm_backward` when
    ``return_cache``. G = 4H, gate blocks i, f, g, o (Keras's kernel / recurrent_kernel / bias).

    ``activation`` is the cell activation ('tanh', 'relu', 'sigmoid', 'linear', ...);
    ``recurrent_activation`` the gate activation ('sigmoid', 'hard_sigmoid', ...), as in Keras;
    either may be a (name, alpha[, beta]) tuple (``lstmcore.engine._validate.CELL_ACTIVATIONS``).
    The dtype of ``x`` (float32 or float64) is the dtype of the call; other float arrays must
    match it. Integer and other non-float inputs are refused with TypeError; non-contiguous
    arrays are copied. NaN or inf in any input raises ValueError unless ``check_finite=False``.

    Options (PyTorch's and ONNX's; ``lstmcore.engine._lstm_options`` states the maths):
    ``output_activation`` the phi of h = o * phi(c) (None: ``activation``); ``peepholes``
    p (3, H) rows i, f, o; ``proj`` w_hr (H, P), P < H: h = (o * phi(c)) @ w_hr, then w_h is
    (P, G) and h0, y, h_n have P columns; ``clip``: every gate pre-activation clipped to
    [-clip, clip]; ``input_forget``: f = 1 - i; ``recurrent_mask`` (B, P): recurrent dropout,
    h_prev * mask in the recurrent product (kept in the cache for the backward). Without options
    the tuned kernels run.

    Sequences (``lstmcore.engine._sequence`` states the rules): ``reverse`` runs from the last
    step to the first, outputs in the input's time order; ``lengths`` (B,) integers in [1, T]:
    each row's own length (PyTorch's packed sequences, ONNX's sequence_lens), outputs 0 past it,
    h_n and c_n at each row's last step, work in proportion to the sum of the lengths;
    ``mask`` (B, T) bool: masked steps keep h and c and output the state, or 0 before a row's
    first valid step and everywhere with ``zero_output_for_mask`` (Keras 3's semantics).
    """
    if (output_activation is None and peepholes is None and proj is None and clip is None
            and input_forget is False and recurrent_mask is None and mask is None
            and zero_output_for_mask is False
            and (reverse is False and lengths is None
                 or lengths is not None and not return_cache and type(reverse) is bool)):
        plain = _plain_forward(x, w_x, w_h, b, h0, c0, check_finite,
                               _plain_codes(activation, recurrent_activation), return_cache,
                               activation, recurrent_activation, lengths, reverse)
        if plain is not None:
            return plain
    x, w_x, w_h, b, h0, c0, opts = _lstm_options.check_forward(
        x, w_x, w_h, b, h0, c0, check_finite, recurrent_mask=recurrent_mask,
        activation=activation, recurrent_activation=recurrent_activation,
        output_activation=output_activation, peepholes=peepholes, proj=proj, clip=clip,
        input_forget=input_forget)
    seq = _sequence.plan(x.shape[0], x.shape[1], reverse, lengths, mask, zero_output_for_mask)
    if not opts.plain or (seq is not None and not _tuned_plan(seq)):
        from . import _cells
        return _cells._lstm_forward(x, w_x, w_h, b, h0, c0, opts, return_cache, activation,
                                    recurrent_activation, output_activation, seq)
    act, ract = opts.codes
    if seq is not None:
        return _plan_forward(seq, x, w_x, w_h, b, h0, c0, act, ract, return_cache, activation,
                             recurrent_activation, output_activation)
    return _run_forward(x, w_x, w_h, b, h0, c0, act, ract, return_cache, activation,
                        recurrent_activation, output_activation)


cdef tuple _run_forward(x, w_x, w_h, b, h0, c0, int act, int ract, bint return_cache,
                        activation, recurrent_activation, output_activation, y_out=None):
    """lstm_forward of the plain LSTM over the whole batch on checked arrays (h0, c0 None:
    zeros); y_out: where the training path writes y (_lstm_forward_into), or None."""
    cdef int B = x.shape[0], T = x.shape[1], I = x.shape[2], H = w_h.shape[0]
    dtype = x.dtype
    if not return_cache:
        if dtype == np.float32:
            return _forward_infer[float](x, w_x, w_h, b, h0, c0, act, ract, dtype)
        return _forward_infer[double](x, w_x, w_h, b, h0, c0, act, ract, dtype)
    x_tm, gates, h, c = _train_arrays(T, B, I, H, dtype, h0, c0)
    if dtype == np.float32:
        y = _forward_train[float](x, w_x, w_h, b, x_tm, gates, h, c, act, ract, dtype, None,
                                  y_out)
    else:
        y = _forward_train[double](x, w_x, w_h, b, x_tm, gates, h, c, act, ract, dtype, None,
                                   y_out)
    cache = LSTMCache(x_tm, w_x, w_h, gates, h, c, activation, recurrent_activation,
                      output_activation=output_activation, h_activation=activation)
    return y, h[T].copy(), c[T].copy(), cache


def _out_fits(y, x, Py_ssize_t P, *states):
    """Whether inference over x (B, T, I), checked, may write its y (B, T, P) straight into y (a
    view of the caller's): an aligned, writeable array of x's dtype and that shape, its last axis
    contiguous, its other strides whole values and not negative, sharing no memory with x or any
    of states (arrays or None). The LSTM's and the cell engine's (lstmcore.engine._cells)."""
    if type(y) is not np.ndarray:
        return False
    cdef Py_ssize_t item = x.itemsize
    return (y.dtype == x.dtype and y.shape == (x.shape[0], x.shape[1], P) and y.flags.writeable
            and y.flags.aligned and y.strides[2] == item and y.strides[0] >= 0
            and y.strides[1] >= 0 and y.strides[0] % item == 0 and y.strides[1] % item == 0
            and not np.may_share_memory(y, x)
            and not any(a is not None and np.may_share_memory(y, a) for a in states))


def _lstm_forward_into(y, x, w_x, w_h, b, h0=None, c0=None, *, reverse=False, lengths=None,
                       mask=None, zero_output_for_mask=False, check_finite=True,
                       return_cache=False, **options):
    """lstm_forward with y written into y (B, T, P), a view of the caller's whose last axis is
    contiguous (a direction's half of a bidirectional layer's concatenated output,
    lstmcore.engine._stack): -> (y, h_n, c_n), and the cache with return_cache. The plain LSTM,
    forward or reverse alone, writes there from its kernels (inference) or from its copy of the
    time-major states (training); any other call runs lstm_forward and copies its y in."""
    if lengths is None and mask is None and set(options) <= {"activation", "recurrent_activation"}:
        activation = options.get("activation", "tanh")
        recurrent_activation = options.get("recurrent_activation", "sigmoid")
        xc, wx, wh, bc, hc, cc, opts = _lstm_options.check_forward(
            x, w_x, w_h, b, h0, c0, check_finite, activation=activation,
            recurrent_activation=recurrent_activation)
        dtype = xc.dtype
        B, T = xc.shape[0], xc.shape[1]
        if opts.plain and _out_fits(y, xc, wh.shape[0], hc, cc):
            act, ract = opts.codes
            if return_cache:
                seq = _sequence.plan(B, T, reverse, None, None, False)
                if seq is None:
                    return _run_forward(xc, wx, wh, bc, hc, cc, act, ract, True, activation,
                                        recurrent_activation, None, y_out=y)
                if _tuned_plan(seq):
                    return _plan_forward(seq, xc, wx, wh, bc, hc, cc, act, ract, True, activation,
                                         recurrent_activation, None, y_out=y)
            elif dtype == np.float32:
                return _forward_infer[float](xc, wx, wh, bc, hc, cc, act, ract, dtype, y, reverse)
            else:
                return _forward_infer[double](xc, wx, wh, bc, hc, cc, act, ract, dtype, y, reverse)
    out = lstm_forward(x, w_x, w_h, b, h0, c0, reverse=reverse, lengths=lengths, mask=mask,
                       zero_output_for_mask=zero_output_for_mask, check_finite=check_finite,
                       return_cache=return_cache, **options)
    y[...] = out[0]
    return (y,) + tuple(out[1:])


def lstm_backward(dy, cache, dh_n=None, dc_n=None, *, check_finite=True):
    """Backward through time of :func:`lstm_forward` (called with ``return_cache=True``).

    dy (B, T, H) or None (no gradient from the outputs) | cache | dh_n, dc_n (B, H) or None
    -> dict of new arrays: dx (B, T, I), dw_x (I, G), dw_h (H, G), db (G), dh0, dc0 (B, H).
    """
    cdef tuple codes = None
    if dh_n is None and dc_n is None:
        codes = _plain_cache(dy, cache, check_finite)
    if codes is not None:
        act, ract = codes
        return _run_backward(dy, cache, None, None, act, ract, None)
    dy, dh, dc, opts = _lstm_options.check_backward(dy, cache, dh_n, dc_n, check_finite)
    dh, dc = dh.copy(), dc.copy()
    seq = cache.sequence
    if not opts.plain or (seq is not None and not _tuned_plan(seq)):
        from . import _cells
        return _cells._lstm_backward(dy, cache, dh, dc, opts)
    act, ract = opts.codes
    return _run_backward(dy, cache, dh, dc, act, ract, seq)


cdef dict _run_backward(dy, cache, dh, dc, int act, int ract, seq):
    """lstm_backward of the plain LSTM, checked: dh, dc (B, H) the caller's dh_n, dc_n copied
    (None: zeros), in the caller's order; seq the cache's sequence plan or None."""
    dtype = cache.gates.dtype
    if dh is None:
        B, H = cache.gates.shape[1], cache.w_h.shape[0]
        dh, dc = np.zeros((B, H), dtype=dtype), np.zeros((B, H), dtype=dtype)
    nact = None
    if seq is not None:  # into the plan's order; with nact (lengths) the loops read no step past
        # a row's length: those are not zeroed (as the cell engine's _backward)
        dy = None if dy is None else seq.gather_grad(dy, _workspace("plan.dy", dy.shape, dtype),
                                                     pad=seq.nact is None)
        dh, dc = seq.rows(dh).copy(), seq.rows(dc).copy()
        nact = _steps_rows(seq.nact)
    has_dy = dy is not None
    if not has_dy:
        dy = np.zeros((1, 1, 1), dtype=dtype)  # never read
    # h / o is the forward's activation of c: taken for it only while the cache's activation is
    # still the one its forward ran (else recomputed from c, as the reference does)
    h_act = cache.h_activation
    cdef bint h_out = h_act is not None and h_act == cache.activation
    if dtype == np.float32:
        grads = _backward[float](
            dy, has_dy, dh, dc, cache.x, cache.w_x, cache.w_h, cache.gates, cache.h, cache.c,
            act, ract, dtype, nact, seq, h_out)
    else:
        grads = _backward[double](
            dy, has_dy, dh, dc, cache.x, cache.w_x, cache.w_h, cache.gates, cache.h, cache.c,
            act, ract, dtype, nact, seq, h_out)
    if seq is not None:  # back to the caller's order (dx already, with nact)
        if nact is None:
            grads["dx"] = seq.scatter(grads["dx"])
        grads["dh0"], grads["dc0"] = seq.rows_back(grads["dh0"]), seq.rows_back(grads["dc0"])
    return grads


cdef bint _tuned_plan(seq) except -1:
    """Whether the tuned kernels run a sequence plan: reverse and lengths, each step on its running
    rows (packed, or BLAS products of those rows); a mask (rows that skip steps anywhere) runs on
    the generic cell."""
    return seq.mask is None


def _plan_is_tuned(seq):
    """Whether a sequence plan runs on the tuned kernels now (tests)."""
    return bool(_tuned_plan(seq))


cdef tuple _plan_forward(seq, x, w_x, w_h, b, h0, c0, int act, int ract, bint return_cache,
                         activation, recurrent_activation, output_activation, y_out=None):
    """lstm_forward of a plan (_tuned_plan): inputs into its order, the kernels with its rows
    per step, outputs back; y_out: where the training path writes y (_lstm_forward_into), or
    None."""
    cdef int B = x.shape[0], T = x.shape[1], I = x.shape[2], H = w_h.shape[0]
    dtype = x.dtype
    nact = _steps_rows(seq.nact)
    rows = np.arange(B)
    # reverse alone: the kernel reads x and writes y from the last step back, with no copy
    cdef bint flip = seq.src is None and seq.perm is None and seq.codes is None
    if not return_cache and nact is not None and _use_packed(B, T, I, H, x.itemsize, _nthreads()):
        # lengths on the packed kernels: the caller's x read and y written at each step, with no
        # copy of either in the plan's order
        return _infer_lengths(x, w_x, w_h, b, h0, c0, seq.lengths, seq.reverse, seq.perm,
                              seq.last, seq.nact, act, ract)
    h0, c0 = seq.rows(h0), seq.rows(c0)
    if not return_cache:
        # the plan's order is scratch, kept between calls (no fresh pages each call)
        xp = x if flip else seq.gather(x, _workspace("plan.x", (B, T, I), dtype))
        y = (np.empty((B, T, H), dtype=dtype) if flip
             else _workspace("plan.y", (B, T, H), dtype))
        c = np.array(c0, dtype=dtype, order="C")
        if dtype == np.float32:
            _forward_infer_plan[float](xp, w_x, w_h, b, h0, c, nact, flip, y, act, ract, dtype)
        else:
            _forward_infer_plan[double](xp, w_x, w_h, b, h0, c, nact, flip, y, act, ract, dtype)
        if flip:
            return y, y[:, 0].copy(), c
        h_n = np.ascontiguousarray(y[rows, seq.last])
        return seq.scatter(y, outputs=True), seq.rows_back(h_n), seq.rows_back(c)
    # the plan's gather and the transpose to time-major in one pass; the outputs' scatter reads
    # h[1:] time-major (no batch-first copy in the plan's order between)
    x_tm, gates, h, c = _train_arrays(T, B, I, H, dtype, h0, c0)
    seq.gather_tm(x, x_tm)
    if dtype == np.float32:
        _forward_train[float](None, w_x, w_h, b, x_tm, gates, h, c, act, ract, dtype, nact)
    else:
        _forward_train[double](None, w_x, w_h, b, x_tm, gates, h, c, act, ract, dtype, nact)
    h_n = np.ascontiguousarray(h[seq.last + 1, rows])
    c_n = np.ascontiguousarray(c[seq.last + 1, rows])
    cache = LSTMCache(x_tm, w_x, w_h, gates, h, c, activation, recurrent_activation,
                      output_activation=output_activation, sequence=seq, h_activation=activation)
    y = seq.scatter(h[1:].transpose(1, 0, 2), outputs=True,
                    out=_outputs((B, T, H), dtype) if y_out is None else y_out)
    return y, seq.rows_back(h_n), seq.rows_back(c_n), cache


def lstm_cell_forward(x_t, w_x, w_h, b, h_prev=None, c_prev=None, *, activation="tanh",
                      recurrent_activation="sigmoid", check_finite=True, output_activation=None,
                      peepholes=None, proj=None, clip=None, input_forget=False):
    """One LSTM step, for streaming inference.

    x_t (B, I) | w_x (I, G) | w_h (H, G) | b (G) | h_prev, c_prev (B, H) or None (zeros)
    -> h, c (B, H) (h (B, P) with ``proj``). Same options and checks as :func:`lstm_forward`.
    """
    x_t, w_x, w_h, b, h_prev, c_prev, opts = _lstm_options.check_cell(
        x_t, w_x, w_h, b, h_prev, c_prev, check_finite, activation=activation,
        recurrent_activation=recurrent_activation, output_activation=output_activation,
        peepholes=peepholes, proj=proj, clip=clip, input_forget=input_forget)
    if not opts.plain:
        from . import _cells
        return _cells._lstm_cell_forward(x_t, w_x, w_h, b, h_prev, c_prev, opts)
    act, ract = opts.codes
    c = np.empty_like(c_prev)
    if x_t.dtype == np.float32:
        h = _cell[float](x_t, w_x, w_h, b, h_prev, c_prev, c, act, ract, x_t.dtype)
    else:
        h = _cell[double](x_t, w_x, w_h, b, h_prev, c_prev, c, act, ract, x_t.dtype)
    return h, c


# The stepper ----------------------------------------------------------------------------------

cdef class LSTMStepper:
    """Streaming inference: the weights packed once, the state carried, one step per call.

    >>> stepper = LSTMStepper(w_x, w_h, b, batch_size=1)
    >>> h = stepper.step(x_t)        # x_t (B, I), (B, 1, I) or, for batch_size=1, (I,)

    w_x (I, G) | w_h (H, G) | b (G), as :func:`lstm_forward`; the dtype of ``w_x`` is the
    stepper's. The weights are copied (packed) at construction: later changes to the arrays
    passed in do not reach the stepper. ``step`` returns h (B, H) ((H,) for a 1-D x_t) in a
    buffer the stepper owns and overwrites two steps later; copy it to keep it. After t steps from
    zeros the result equals ``lstm_forward`` on those t steps. ``reset`` starts over.

    One pass over the packed weights per step gives z = [x_t, h_prev] @ [w_x; w_h], panel by
    panel, each followed at once by the gate maths of its units (csrc/seq/lstm_packed_impl.h).
    """

    cdef readonly int batch_size, input_size, units
    cdef readonly object dtype
    cdef readonly object activation, recurrent_activation
    cdef readonly bint check_finite
    cdef object _generic  # the stepper of an LSTM with options, or None
    cdef int _act, _ract, _cur, _f32
    # the kernels' instruction set and layout the weights were packed for (a panel's is theirs)
    cdef int _isa, _pack_rows
    # 1 while a step or a reset runs: set and tested with the GIL held, so two threads can never
    # both see 0; __init__ refuses to replace the buffers a running step reads without the GIL
    cdef int _busy
    cdef object _wp, _bp, _hbuf, _c, _views1, _views2
    cdef void *_wp_p
    cdef void *_bp_p
    cdef void *_h_p[2]
    cdef void *_c_p

    def __init__(self, w_x, w_h, b, batch_size=1, *, activation="tanh",
                 recurrent_activation="sigmoid", check_finite=True, output_activation=None,
                 peepholes=None, proj=None, clip=None, input_forget=False):
        dtype = _validate.dtype_of(w_x, "w_x")
        w_x, w_h, b, opts = _lstm_options.check_weights(
            w_x, w_h, b, dtype, check_finite, activation=activation,
            recurrent_activation=recurrent_activation, output_activation=output_activation,
            peepholes=peepholes, proj=proj, clip=clip, input_forget=input_forget)
        cdef int I = w_x.shape[0], H = w_x.shape[1] // 4
        cdef int B = _validate.check_stepper(batch_size, I, H)
        if not opts.plain:  # the options run on the generic cell (lstmcore.engine._cells)
            from . import _cells
            generic = _cells._LSTMOptionsStepper(w_x, w_h, b, B, opts, bool(check_finite))
            if self._busy:
                raise RuntimeError("LSTMStepper.__init__ called on a stepper that another "
                                   "thread is stepping: make a new stepper instead")
            self._generic = generic
            self.batch_size, self.input_size, self.units = B, I, H
            self.dtype = dtype
            self.activation, self.recurrent_activation = activation, recurrent_activation
            self.check_finite = bool(check_finite)
            return
        act, ract = opts.codes
        cdef Py_ssize_t itemsize = dtype.itemsize
        cdef lc_ctx ctx1 = _ctx(1)  # packing: one thread
        ctx1.pack_rows = _pack_rows(B)
        # everything is built first, then swapped in at once (no Python call in between)
        wp, bp = _pack_buffers(I, H, dtype)
        hbuf = np.zeros((2, B, H), dtype=dtype)
        c = np.zeros((B, H), dtype=dtype)
        if dtype == np.float32:
            lc_lstm_step_pack_f32(&ctx1, <float *>cnp.PyArray_DATA(w_x),
                                  <float *>cnp.PyArray_DATA(w_h), <float *>cnp.PyArray_DATA(b),
                                  I, H, <float *>cnp.PyArray_DATA(wp),
                                  <float *>cnp.PyArray_DATA(bp))
        else:
            lc_lstm_step_pack_f64(&ctx1, <double *>cnp.PyArray_DATA(w_x),
                                  <double *>cnp.PyArray_DATA(w_h), <double *>cnp.PyArray_DATA(b),
                                  I, H, <double *>cnp.PyArray_DATA(wp),
                                  <double *>cnp.PyArray_DATA(bp))
        views2, views1 = (hbuf[0], hbuf[1]), (hbuf[0, 0], hbuf[1, 0])
        if self._busy:
            raise RuntimeError("LSTMStepper.__init__ called on a stepper that another thread is "
                               "stepping: make a new stepper instead")
        self.batch_size, self.input_size, self.units = B, I, H
        self.dtype = dtype
        self.activation, self.recurrent_activation = activation, recurrent_activation
        self.check_finite = bool(check_finite)
        self._act, self._ract = act, ract
        self._isa, self._pack_rows = ctx1.isa, ctx1.pack_rows
        self._generic = None
        self._f32 = dtype == np.float32
        self._wp, self._bp, self._hbuf, self._c = wp, bp, hbuf, c
        self._views2, self._views1 = views2, views1
        self._wp_p, self._bp_p = cnp.PyArray_DATA(wp), cnp.PyArray_DATA(bp)
        self._h_p[0] = cnp.PyArray_DATA(hbuf)
        self._h_p[1] = <char *>self._h_p[0] + <Py_ssize_t>B * H * itemsize
        self._c_p = cnp.PyArray_DATA(c)
        self._cur = 0

    cdef void _initialised(self, str what) except *:
        if self._wp_p == NULL and self._generic is None:
            raise RuntimeError(f"LSTMStepper.{what}: the stepper was not initialised "
                               "(its __init__ was not called)")

    cdef void _enter(self, str what) except *:
        self._initialised(what)
        if self._busy:
            raise RuntimeError(f"LSTMStepper.{what} called while another thread is stepping the "
                               "same stepper: a stepper carries one state; use one per thread")
        self._busy = 1

    def step(self, x_t):
        """One step: x_t (B, I), (B, 1, I) or (I,) -> h (B, H), or (H,) for a 1-D x_t."""
        if self._generic is not None:
            return self._generic.step(x_t)
        self._enter("step")
        try:
            return self._step(x_t)
        finally:
            self._busy = 0

    cdef object _step(self, x_t):
        cdef int B = self.batch_size, I = self.input_size, H = self.units, nd, nxt
        cdef int nthreads
        cdef lc_ctx ctx
        if not step_input_ready(x_t, cnp.NPY_FLOAT32 if self._f32 else cnp.NPY_FLOAT64, B, I):
            x_t = self._convert(x_t)  # checks the shape
        cdef cnp.ndarray x = <cnp.ndarray>x_t
        nd = cnp.PyArray_NDIM(x)
        cdef void *xp = cnp.PyArray_DATA(x)
        if self.check_finite and not lstmcore_all_finite(xp, <Py_ssize_t>B * I,
                                                         cnp.PyArray_ITEMSIZE(x)):
            raise ValueError(f"x_t must be finite, got {x[~np.isfinite(x)].flat[0]}")
        nxt = 1 - self._cur
        nthreads = _nthreads()
        ctx = _ctx(nthreads)
        ctx.isa, ctx.pack_rows = self._isa, self._pack_rows
        with nogil:
            if self._f32:
                lc_lstm_step_packed_f32(&ctx, <float *>self._wp_p, <float *>self._bp_p,
                                        <float *>xp, I, <float *>self._h_p[self._cur], H,
                                        <float *>self._c_p, <float *>self._h_p[nxt], H, B, I, H,
                                        self._act, self._ract)
            else:
                lc_lstm_step_packed_f64(&ctx, <double *>self._wp_p, <double *>self._bp_p,
                                        <double *>xp, I, <double *>self._h_p[self._cur], H,
                                        <double *>self._c_p, <double *>self._h_p[nxt], H, B, I, H,
                                        self._act, self._ract)
        self._cur = nxt
        return self._views1[nxt] if nd == 1 else self._views2[nxt]

    def _convert(self, x_t):
        return _validate.as_step_input(x_t, self.dtype, self.batch_size, self.input_size)

    @property
    def h(self):
        """A copy of the hidden state (B, H)."""
        self._initialised("h")
        if self._generic is not None:
            return self._generic.h
        return self._hbuf[self._cur].copy()

    @property
    def c(self):
        """A copy of the cell state (B, H)."""
        self._initialised("c")
        if self._generic is not None:
            return self._generic.c
        return self._c.copy()

    def reset(self, h=None, c=None):
        """Start over from zeros, or from the given states h, c (B, H)."""
        H, B = self.units, self.batch_size
        if self._generic is not None:
            self._initialised("reset")
            return self._generic.reset(h, c)
        self._enter("reset")
        try:
            h = _validate._state("h", h, self.dtype, B, H, self.check_finite)
            c = _validate._state("c", c, self.dtype, B, H, self.check_finite)
            self._hbuf[self._cur] = h
            self._c[...] = c
        finally:
            self._busy = 0

    def __repr__(self):
        if self._wp_p == NULL and self._generic is None:
            return "LSTMStepper(<not initialised>)"
        return (f"LSTMStepper(batch_size={self.batch_size}, input_size={self.input_size}, "
                f"units={self.units}, dtype={self.dtype.name}, activation={self.activation!r}, "
                f"recurrent_activation={self.recurrent_activation!r})")
