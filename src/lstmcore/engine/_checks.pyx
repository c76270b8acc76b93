"""Fast input checks for lstmcore.engine._validate and the gathers of lstmcore.engine._sequence
(both fall back to NumPy without this module), and the CPU features _backend needs before the
OpenMP runtime is loaded (this module is built without OpenMP)."""

import numpy as np

cimport numpy as cnp
from libc.string cimport memcpy, memset

cnp.import_array()


cdef extern from "rt/cpu_features.h" nogil:
    int lstmcore_cpu_has_avx512()
    int lstmcore_cpu_best_isa()


def cpu_has_avx512():
    """True when the CPU runs lstmcore's AVX-512 kernels (AVX-512 F, VL, BW and DQ)."""
    return lstmcore_cpu_has_avx512() != 0


def cpu_best_isa():
    """The best kernels this CPU runs: 0 generic, 1 AVX2 (with FMA), 2 AVX-512."""
    return lstmcore_cpu_best_isa()


def all_finite(cnp.ndarray a):
    """True when the C-contiguous float32/float64 array ``a`` holds no NaN or inf."""
    if cnp.PyArray_TYPE(a) not in (cnp.NPY_FLOAT32, cnp.NPY_FLOAT64) or not cnp.PyArray_IS_C_CONTIGUOUS(a):
        return bool(np.isfinite(a).all())
    return contiguous_finite(a)


cdef extern from "rt/steps.h" nogil:
    void lstmcore_take_row(char *dst, Py_ssize_t o1, const char *src, Py_ssize_t s1, Py_ssize_t T,
                           Py_ssize_t row, const cnp.int64_t *srow, int reverse,
                           const unsigned char *zrow, int skip)


cdef tuple take_job(cnp.ndarray a, rows, src, bint reverse, zero, out, TakeJob *job,
                    bint pad=True):
    """take_steps' arguments checked, and job filled to copy them (not pad: the steps that would
    be 0 left unwritten): -> (out, rows, src, zero), the
    last three C-contiguous (int64, int64, uint8) or None, out a new array when None; the tuple
    keeps the arrays job points into alive."""
    if a.ndim != 3 or cnp.PyArray_TYPE(a) not in (cnp.NPY_FLOAT32, cnp.NPY_FLOAT64) or (
            a.shape[2] > 1 and a.strides[2] != a.itemsize):
        raise ValueError("take_steps: a must be a 3-D float array with a contiguous last axis")
    cdef Py_ssize_t Bsrc = a.shape[0], T = a.shape[1], F = a.shape[2]
    cdef Py_ssize_t B = Bsrc if rows is None else len(rows)
    if out is None:
        out = np.empty((B, T, F), dtype=a.dtype)
    elif (not isinstance(out, np.ndarray) or out.shape != (B, T, F) or out.dtype != a.dtype
          or (F > 1 and out.strides[2] != out.itemsize) or not out.flags.writeable
          or np.shares_memory(out, a)):
        raise ValueError(f"take_steps: out must be a writeable {a.dtype} array of shape "
                         f"{(B, T, F)} with a contiguous last axis, apart from a")
    if rows is not None:
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        if B and (np.min(rows) < 0 or np.max(rows) >= Bsrc):
            raise ValueError("take_steps: rows out of range")
    if src is not None:
        src = np.ascontiguousarray(src, dtype=np.int64)
        if src.ndim != 2 or src.shape[0] != B or src.shape[1] != T or (B * T and np.max(src) >= T):
            raise ValueError("take_steps: src must be (B, T) with entries < T")
    if zero is not None:
        zero = np.ascontiguousarray(zero, dtype=bool).view(np.uint8)
        if zero.ndim != 2 or zero.shape[0] != B or zero.shape[1] != T:
            raise ValueError("take_steps: zero must be (B, T)")
    cdef cnp.ndarray o = out
    job.dst, job.src = <char *>cnp.PyArray_DATA(o), <const char *>cnp.PyArray_DATA(a)
    job.o0, job.o1, job.s0, job.s1 = o.strides[0], o.strides[1], a.strides[0], a.strides[1]
    job.T, job.row, job.reverse, job.skip = T, F * a.itemsize, reverse, not pad
    job.rows = job.srcs = NULL
    job.zero = NULL
    if rows is not None:
        job.rows = <const cnp.int64_t *>cnp.PyArray_DATA(<cnp.ndarray>rows)
    if src is not None:
        job.srcs = <const cnp.int64_t *>cnp.PyArray_DATA(<cnp.ndarray>src)
    if zero is not None:
        job.zero = <const unsigned char *>cnp.PyArray_DATA(<cnp.ndarray>zero)
    return out, rows, src, zero


cdef void take_rows(const TakeJob *job, Py_ssize_t j0, Py_ssize_t j1) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(j0, j1):
        lstmcore_take_row(job.dst + j * job.o0, job.o1,
                          job.src + (job.rows[j] if job.rows != NULL else j) * job.s0, job.s1,
                          job.T, job.row, job.srcs + j * job.T if job.srcs != NULL else NULL,
                          job.reverse, job.zero + j * job.T if job.zero != NULL else NULL,
                          job.skip)


def take_steps(cnp.ndarray a, rows, src, bint reverse, zero, out=None, bint pad=True):
    """The gathers of lstmcore.engine._sequence.Plan, in one pass: a C-contiguous out (B, T, F)
    with out[j, t] = a[rows[j], src[j, t]], 0 where src[j, t] < 0 or zero[j, t] (not pad: those
    steps of out left as they were).

    a (B', T, F) float32/float64, its last axis contiguous | rows (B,) int64 or None (j) |
    src (B, T) int64 or None (t, or T-1-t with ``reverse``) | zero (B, T) bool or None |
    out: an array of that shape and a's dtype to write, its last axis contiguous, apart from a
    (a transposed view of a time-major (T, B, F) array: the gather and the transpose in one
    pass), or None (a new C-contiguous one). lstmcore.engine._cells.take_steps: the same copy
    with its rows split between threads."""
    cdef TakeJob job
    kept = take_job(a, rows, src, reverse, zero, out, &job, pad)
    cdef Py_ssize_t B = (<cnp.ndarray>kept[0]).shape[0]
    with nogil:
        take_rows(&job, 0, B)
    return kept[0]


def put_steps(cnp.ndarray a, nact, rows, src, bint reverse, cnp.ndarray out):
    """The outputs of a lengths plan's steps, kept row after row for the rows that ran, into the
    caller's order in one pass: the inverse of a gather, then of compacting each step's rows.

    a (S, F) float32/float64, C-contiguous: step s's nact[s] rows one after another, step after
    step (S = sum(nact)) | nact (T,) int32, non-increasing, in [0, B]: the rows of step s that ran
    (a plan with lengths and no mask: a plan row i runs step s when its length exceeds s) |
    rows (B,) int64 or None: plan row i is the caller's row rows[i] (the plan's perm) |
    src (B, T) int64 or None: the caller's time of plan row i's step s (t, or T-1-t with
    ``reverse``) | out (B, T, F) of a's dtype, its last axis contiguous, apart from a:
    out[rows[i], src[i, s]] = a's row of (i, s) where i < nact[s]; out[rows[i], s] = 0 where
    i >= nact[s] (a row's padding: the times at or past its length)."""
    if (a.ndim != 2 or cnp.PyArray_TYPE(a) not in (cnp.NPY_FLOAT32, cnp.NPY_FLOAT64)
            or not a.flags.c_contiguous):
        raise ValueError("put_steps: a must be a C-contiguous 2-D float array")
    if out.ndim != 3 or out.dtype != a.dtype or out.shape[2] != a.shape[1] or not out.flags.writeable:
        raise ValueError(f"put_steps: out must be a writeable (B, T, {a.shape[1]}) {a.dtype} array")
    cdef Py_ssize_t B = out.shape[0], T = out.shape[1], F = a.shape[1], S = a.shape[0]
    if (F > 1 and out.strides[2] != out.itemsize) or np.shares_memory(out, a):
        raise ValueError("put_steps: out must have a contiguous last axis and not overlap a")
    cdef const int[::1] nv = np.ascontiguousarray(nact, dtype=np.intc)
    if nv.shape[0] != T or (T and (np.min(nv) < 0 or np.max(nv) > B or np.any(np.diff(nv) > 0))
                            ) or np.sum(nv, dtype=np.int64) != S:
        raise ValueError(f"put_steps: nact must be ({T},) non-increasing in [0, {B}] summing to {S}")
    cdef cnp.int64_t[::1] rv
    cdef cnp.int64_t[:, ::1] sv
    cdef bint has_rows = rows is not None, has_src = src is not None
    if has_rows:
        rv = np.ascontiguousarray(rows, dtype=np.int64)
        if rv.shape[0] != B or not np.array_equal(np.sort(rv), np.arange(B)):
            raise ValueError(f"put_steps: rows must be a permutation of range({B})")
    if has_src:
        sv = np.ascontiguousarray(src, dtype=np.int64)
        if sv.shape[0] != B or sv.shape[1] != T or (B * T and (np.max(sv) >= T or np.min(sv) < -1)):
            raise ValueError("put_steps: src must be (B, T) with entries in [-1, T)")
    cdef Py_ssize_t o0 = out.strides[0], o1 = out.strides[1], row = F * a.itemsize
    cdef const char *src_p = <const char *>cnp.PyArray_DATA(a)
    cdef char *dst = <char *>cnp.PyArray_DATA(out)
    cdef Py_ssize_t i, s, r, k, off = 0
    cdef int bad = 0
    with nogil:
        for s in range(T):
            for i in range(B):
                r = rv[i] if has_rows else i
                if i >= nv[s]:
                    memset(dst + r * o0 + s * o1, 0, row)
                    continue
                k = sv[i, s] if has_src else (T - 1 - s if reverse else s)
                if k < 0:  # a plan whose src disagrees with its nact
                    bad = 1
                    break
                memcpy(dst + r * o0 + k * o1, src_p + (off + i) * row, row)
            if bad:
                break
            off += nv[s]
    if bad:
        raise ValueError("put_steps: src marks a step as padding that nact runs")
    return out


cdef tuple compact_job(cnp.ndarray a, nact, out, CompactJob *job):
    """compact_steps' arguments checked, and job filled to copy them: -> (out, offs), out a new
    array when None; the tuple keeps what job points into alive."""
    if (a.ndim != 3 or cnp.PyArray_TYPE(a) not in (cnp.NPY_FLOAT32, cnp.NPY_FLOAT64)
            or not a.flags.c_contiguous):
        raise ValueError("compact_steps: a must be a C-contiguous 3-D float array")
    cdef Py_ssize_t T = a.shape[0], B = a.shape[1], F = a.shape[2]
    nv = np.ascontiguousarray(nact, dtype=np.intc)
    if nv.shape != (T,) or (T and (np.min(nv) < 0 or np.max(nv) > B)):
        raise ValueError(f"compact_steps: nact must be ({T},) in [0, {B}]")
    cdef cnp.ndarray offs = np.zeros(T + 1, dtype=np.int64)
    np.cumsum(nv, out=offs[1:])
    cdef Py_ssize_t S = int(offs[T])
    if out is None:
        out = np.empty((S, F), dtype=a.dtype)
    elif (not isinstance(out, np.ndarray) or out.shape != (S, F) or out.dtype != a.dtype
          or not out.flags.c_contiguous or not out.flags.writeable or np.shares_memory(out, a)):
        raise ValueError(f"compact_steps: out must be a C-contiguous {a.dtype} array of shape "
                         f"{(S, F)} apart from a")
    job.dst = <char *>cnp.PyArray_DATA(<cnp.ndarray>out)
    job.src = <const char *>cnp.PyArray_DATA(a)
    job.T, job.B, job.row = T, B, F * a.itemsize
    job.offs = <const cnp.int64_t *>cnp.PyArray_DATA(offs)
    return out, offs


cdef void compact_range(const CompactJob *job, Py_ssize_t s0, Py_ssize_t s1) noexcept nogil:
    cdef Py_ssize_t s
    for s in range(s0, s1):
        memcpy(job.dst + job.offs[s] * job.row, job.src + s * job.B * job.row,
               (job.offs[s + 1] - job.offs[s]) * job.row)


def compact_steps(cnp.ndarray a, nact, out=None):
    """The rows that ran, step after step: a (T, B, F) float32/float64 C-contiguous, nact (T,)
    int32 in [0, B] -> out (S, F), S = sum(nact), rows a[s, :nact[s]] for s = 0, 1, ... (a new
    array, or ``out``: C-contiguous, of that shape and a's dtype, apart from a).
    lstmcore.engine._cells.compact_steps: the same copy with its steps split between threads."""
    cdef CompactJob job
    kept = compact_job(a, nact, out, &job)
    with nogil:
        compact_range(&job, 0, job.T)
    return kept[0]


def last_outputs(cnp.ndarray out, lengths, bint reverse):
    """out (B, T, P) C-contiguous | lengths (B,) in [1, T] -> h_n (B, P): each row's output at
    its own last step (its length - 1, or 0 in reverse), for the lengths' inference that writes
    the caller's outputs in place."""
    cdef Py_ssize_t B = out.shape[0], T = out.shape[1], r, t
    cdef const cnp.int64_t[::1] lens = np.ascontiguousarray(lengths, dtype=np.int64)
    cdef size_t line = <size_t>out.shape[2] * out.itemsize  # one step's P values, in bytes
    h_n = np.empty((B, out.shape[2]), dtype=out.dtype)
    cdef const char *src = <const char *>cnp.PyArray_DATA(out)
    cdef char *dst = <char *>cnp.PyArray_DATA(<cnp.ndarray>h_n)
    for r in range(B):
        t = 0 if reverse else lens[r] - 1
        memcpy(dst + r * line, src + (r * T + t) * line, line)
    return h_n


def ready_lengths_plan(lengths, Py_ssize_t B, Py_ssize_t T, bint reverse, bint sources=False):
    """lengths_plan for the compiled entries that take lengths as they are: (L, perm, inv, src,
    src_back, nact, last), L the lengths as int64 (the caller's array where it is one already),
    src and src_back None unless ``sources``, where lengths is an integer ndarray of B values in
    [1, T]; else None (the general checks then convert, or say what is wrong)."""
    if (type(lengths) is not cnp.ndarray or lengths.ndim != 1 or lengths.shape[0] != B
            or lengths.dtype.kind not in "iu" or lengths.dtype.itemsize > 8):
        return None
    L = np.ascontiguousarray(lengths, dtype=np.int64)
    try:
        return (L, *lengths_plan(L, T, reverse, sources))
    except ValueError:  # a length out of [1, T] (or a uint64 past int64's range)
        return None


def lengths_plan(cnp.ndarray lengths, Py_ssize_t T, bint reverse, bint sources=True):
    """The arrays of lstmcore.engine._sequence.plan for lengths without a mask, in one pass:
    lengths (B,) int64, checked in [1, T] -> (perm, inv, src, src_back, nact, last): perm, inv
    (B,) int64 or both None (already longest first), the rows sorted by length, longest first,
    stable | src (B, T) int64 per plan row: the caller's time its step t reads (t, or len-1-t with
    ``reverse``), -1 past its length | src_back (B, T): src per caller's row | nact (T,) int32:
    the rows with length > t | last (B,) int64: each plan row's length - 1. ``sources`` False:
    src and src_back are not made (None; the packed inference of lstm_forward reads the rows'
    times from their lengths)."""
    cdef const cnp.int64_t[::1] L = np.ascontiguousarray(lengths, dtype=np.int64)
    cdef Py_ssize_t B = L.shape[0], j, i, t, n
    cdef bint in_range = True
    for j in range(B):
        in_range = in_range and 1 <= L[j] <= T
    if not in_range:
        raise ValueError(f"lengths_plan: lengths must lie in [1, {T}]")
    perm_a = np.empty(B, dtype=np.int64)
    inv_a = np.empty(B, dtype=np.int64)
    cdef Py_ssize_t rows = B if sources else 0  # src and src_back: rows made
    src_a = np.empty((rows, T), dtype=np.int64)
    back_a = np.empty((rows, T), dtype=np.int64)
    nact_a = np.zeros(T, dtype=np.int32)
    last_a = np.empty(B, dtype=np.int64)
    start_a = np.zeros(T + 2, dtype=np.int64)
    cdef cnp.int64_t[::1] perm = perm_a, inv = inv_a, last = last_a, start = start_a
    cdef cnp.int64_t[:, ::1] src = src_a, back = back_a
    cdef int[::1] nact = nact_a
    cdef bint identity = True
    with nogil:
        # counting sort, longest first, stable: start[T - len] is where length len begins
        for j in range(B):
            start[T - L[j] + 1] += 1
        for n in range(1, T + 1):
            start[n] += start[n - 1]
        for j in range(B):
            i = start[T - L[j]]
            start[T - L[j]] += 1
            perm[i] = j
            inv[j] = i
            identity = identity and i == j
        for i in range(B):
            n = L[perm[i]]
            last[i] = n - 1
            for t in range(T if rows else 0):
                src[i, t] = (n - 1 - t if reverse else t) if t < n else -1
            for t in range(n):
                nact[t] += 1
        for j in range(rows):
            memcpy(&back[j, 0], &src[inv[j], 0], T * sizeof(cnp.int64_t))
    if not sources:
        src_a = back_a = None
    if identity:
        return None, None, src_a, src_a, nact_a, last_a
    return perm_a, inv_a, src_a, back_a, nact_a, last_a
