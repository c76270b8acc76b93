"""Fast input checks for lstmcore._validate (which falls back to NumPy without this module), and
the CPU features _backend needs before the OpenMP runtime is loaded (this module is built without
OpenMP)."""

from libc.stdint cimport uint32_t, uint64_t

import numpy as np


cdef extern from "cpu_features.h" nogil:
    int lstmcore_cpu_has_avx512()


def cpu_has_avx512():
    """True when the CPU runs lstmcore's AVX-512 kernels (AVX-512 F, VL, BW and DQ)."""
    return lstmcore_cpu_has_avx512() != 0


cdef bint _finite32(const uint32_t[::1] u) noexcept nogil:
    # An IEEE float is NaN or inf exactly when its exponent bits are all ones; OR-reducing that
    # test over the bits vectorizes, and allocates nothing.
    cdef uint32_t bad = 0
    cdef Py_ssize_t i
    for i in range(u.shape[0]):
        bad |= (u[i] & 0x7F800000u) == 0x7F800000u
    return bad == 0


cdef bint _finite64(const uint64_t[::1] u) noexcept nogil:
    cdef uint64_t bad = 0
    cdef Py_ssize_t i
    for i in range(u.shape[0]):
        bad |= (u[i] & 0x7FF0000000000000u) == 0x7FF0000000000000u
    return bad == 0


def all_finite(a):
    """True when the C-contiguous float32/float64 array ``a`` holds no NaN or inf."""
    flat = a.reshape(-1)
    if a.dtype == np.float32:
        return _finite32(flat.view(np.uint32))
    return _finite64(flat.view(np.uint64))
