"""Fast input checks for lstmcore.engine._validate and the gathers of lstmcore.engine._sequence
(both fall back to NumPy without this module), and the CPU features _backend needs before the
OpenMP runtime is loaded (this module is built without OpenMP)."""

import numpy as np

cimport numpy as cnp
from libc.string cimport memcpy, memset

cnp.import_array()


cdef extern from "rt/cpu_features.h" nogil:
    int lstmcore_cpu_has_avx512()


cdef extern from "math/finite.h" nogil:
    int lstmcore_all_finite(const void *a, Py_ssize_t n, int elem_size)


def cpu_has_avx512():
    """True when the CPU runs lstmcore's AVX-512 kernels (AVX-512 F, VL, BW and DQ)."""
    return lstmcore_cpu_has_avx512() != 0


def all_finite(cnp.ndarray a):
    """True when the C-contiguous float32/float64 array ``a`` holds no NaN or inf."""
    cdef Py_ssize_t n = cnp.PyArray_SIZE(a)
    cdef int itemsize = cnp.PyArray_ITEMSIZE(a), ok
    cdef const void *data = cnp.PyArray_DATA(a)
    if cnp.PyArray_TYPE(a) not in (cnp.NPY_FLOAT32, cnp.NPY_FLOAT64) or not cnp.PyArray_IS_C_CONTIGUOUS(a):
        return bool(np.isfinite(a).all())
    with nogil:
        ok = lstmcore_all_finite(data, n, itemsize)
    return ok != 0


def take_steps(cnp.ndarray a, rows, src, bint reverse, zero, out=None):
    """The gathers of lstmcore.engine._sequence.Plan, in one pass: a C-contiguous out (B, T, F)
    with out[j, t] = a[rows[j], src[j, t]], 0 where src[j, t] < 0 or zero[j, t].

    a (B', T, F) float32/float64, its last axis contiguous | rows (B,) int64 or None (j) |
    src (B, T) int64 or None (t, or T-1-t with ``reverse``) | zero (B, T) bool or None |
    out: a C-contiguous array of that shape and a's dtype to write (not overlapping a), or None
    (a new one)."""
    if a.ndim != 3 or cnp.PyArray_TYPE(a) not in (cnp.NPY_FLOAT32, cnp.NPY_FLOAT64) or (
            a.shape[2] > 1 and a.strides[2] != a.itemsize):
        raise ValueError("take_steps: a must be a 3-D float array with a contiguous last axis")
    cdef Py_ssize_t Bsrc = a.shape[0], T = a.shape[1], F = a.shape[2]
    cdef Py_ssize_t B = Bsrc if rows is None else len(rows)
    if out is None:
        out = np.empty((B, T, F), dtype=a.dtype)
    elif (not isinstance(out, np.ndarray) or out.shape != (B, T, F) or out.dtype != a.dtype
          or not out.flags.c_contiguous or np.shares_memory(out, a)):
        raise ValueError(f"take_steps: out must be a C-contiguous {a.dtype} array of shape "
                         f"{(B, T, F)} apart from a")
    cdef cnp.int64_t[::1] rv
    cdef cnp.int64_t[:, ::1] sv
    cdef const cnp.uint8_t[:, ::1] zv
    cdef bint has_rows = rows is not None, has_src = src is not None, has_zero = zero is not None
    if has_rows:
        rv = np.ascontiguousarray(rows, dtype=np.int64)
        if B and (np.min(rv) < 0 or np.max(rv) >= Bsrc):
            raise ValueError("take_steps: rows out of range")
    if has_src:
        sv = np.ascontiguousarray(src, dtype=np.int64)
        if sv.shape[0] != B or sv.shape[1] != T or (B * T and np.max(sv) >= T):
            raise ValueError("take_steps: src must be (B, T) with entries < T")
    if has_zero:
        zv = np.ascontiguousarray(zero, dtype=bool).view(np.uint8)
        if zv.shape[0] != B or zv.shape[1] != T:
            raise ValueError("take_steps: zero must be (B, T)")
    cdef Py_ssize_t s0 = a.strides[0], s1 = a.strides[1], row = F * a.itemsize
    cdef const char *src_p = <const char *>cnp.PyArray_DATA(a)
    cdef char *dst = <char *>cnp.PyArray_DATA(out)
    cdef Py_ssize_t j, t, r, k
    with nogil:
        for j in range(B):
            r = rv[j] if has_rows else j
            for t in range(T):
                k = sv[j, t] if has_src else (T - 1 - t if reverse else t)
                if k < 0 or (has_zero and zv[j, t]):
                    memset(dst + (j * T + t) * row, 0, row)
                else:
                    memcpy(dst + (j * T + t) * row, src_p + r * s0 + k * s1, row)
    return out
